"""Constraints make duplicates and contradictory rows impossible at the database level."""

import pytest
from django.db import IntegrityError, transaction

from reviews.models import Annotation, PromptTemplate, Query, QueueItem, Response, Sample
from reviews.services.queues import QueueFilters, queue_create
from tests.factories import (
    DatasetFactory,
    QueryFactory,
    ResponseFactory,
    SampleFactory,
    TemplateFactory,
    UserFactory,
    make_queue,
    make_run,
)

pytestmark = pytest.mark.django_db


def raises_integrity(create):
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


def test_one_sample_per_run_query_and_index():
    sample = SampleFactory.create(sample_index=0)
    raises_integrity(lambda: SampleFactory.create(run=sample.run, query=sample.query, sample_index=0))
    SampleFactory.create(run=sample.run, query=sample.query, sample_index=1)
    assert Sample.objects.count() == 2


def test_bulk_create_ignoring_conflicts_never_duplicates_a_sample():
    sample = SampleFactory.create(sample_index=0)
    again = [
        Sample(
            run=sample.run,
            query=sample.query,
            sample_index=i,
            permutation=[0, 1],
            raw_text="",
            parse_status=Sample.ParseStatus.NO_SCORES,
        )
        for i in (0, 1)
    ]
    Sample.objects.bulk_create(again, ignore_conflicts=True)
    Sample.objects.bulk_create(again, ignore_conflicts=True)
    assert Sample.objects.count() == 2


def test_one_annotation_per_target_and_reviewer():
    sample = SampleFactory.create()
    reviewer, other = UserFactory.create(), UserFactory.create()
    Annotation.objects.create(sample=sample, reviewer=reviewer, decision="accept")
    raises_integrity(lambda: Annotation.objects.create(sample=sample, reviewer=reviewer, decision="reject"))
    Annotation.objects.create(sample=sample, reviewer=other, decision="reject")
    Annotation.objects.create(query=sample.query, reviewer=reviewer, decision="accept")
    raises_integrity(lambda: Annotation.objects.create(query=sample.query, reviewer=reviewer, decision="accept"))
    assert Annotation.objects.count() == 3


def test_an_annotation_targets_exactly_one_thing():
    sample = SampleFactory.create()
    reviewer = UserFactory.create()
    raises_integrity(lambda: Annotation.objects.create(reviewer=reviewer, decision="accept"))
    raises_integrity(
        lambda: Annotation.objects.create(sample=sample, query=sample.query, reviewer=reviewer, decision="accept")
    )


def test_query_ids_are_unique_per_dataset_and_labels_are_consistent():
    query = QueryFactory.create(external_id="x")
    raises_integrity(lambda: QueryFactory.create(dataset=query.dataset, external_id="x"))
    QueryFactory.create(dataset=DatasetFactory.create(), external_id="x")
    raises_integrity(lambda: QueryFactory.create(best_index=0, rating=5))
    raises_integrity(lambda: QueryFactory.create(best_index=None, rating=11))
    assert Query.objects.count() == 2


def test_response_positions_are_unique_per_query():
    response = ResponseFactory.create(position=0)
    raises_integrity(lambda: ResponseFactory.create(query=response.query, position=0))
    assert Response.objects.count() == 1


def test_only_one_default_template():
    TemplateFactory.create(is_default=True)
    raises_integrity(lambda: TemplateFactory.create(is_default=True))
    PromptTemplate.objects.create(name="judge", version=1, text="x")
    raises_integrity(lambda: PromptTemplate.objects.create(name="judge", version=1, text="y"))
    PromptTemplate.objects.create(name="judge", version=2, text="y")


def test_deleting_a_query_removes_its_responses_samples_and_annotations():
    sample = SampleFactory.create()
    ResponseFactory.create(query=sample.query, position=0)
    Annotation.objects.create(sample=sample, reviewer=UserFactory.create(), decision="accept")
    sample.query.delete()
    assert (Response.objects.count(), Sample.objects.count(), Annotation.objects.count()) == (0, 0, 0)


def test_a_dataset_queue_cannot_hold_one_query_twice():
    """Its items have no sample, and NULLs never collide in (queue, query, sample): a partial unique
    index on (queue, query) holds them, on PostgreSQL and SQLite alike."""
    dataset, run = make_run(queries=2)
    queue = queue_create(name="labels", dataset=dataset, run=None, filters=QueueFilters(), priority="unreviewed")
    query = dataset.queries.first()
    assert query is not None
    with pytest.raises(IntegrityError), transaction.atomic():
        QueueItem.objects.create(queue=queue, query=query, sample=None, rank=99)
    judged = make_queue(run)  # a run queue holds one item per sample of a query
    assert judged.items.filter(query=query).count() == run.k
