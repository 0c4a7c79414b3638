"""The team-written demo dataset: enough variety to try every part of the product, loaded idempotently."""

from collections import Counter

import pytest
from django.core.management import call_command

from reviews import services
from reviews.models import Dataset, ModelConfig, PromptTemplate, Query
from workers.grm.templates import DEFAULT_TEMPLATE

pytestmark = pytest.mark.django_db


def test_demo_dataset_covers_four_kinds_of_query_with_labels():
    report = services.demo_load()
    assert report.created >= 30
    queries = Query.objects.filter(dataset__name="demo").prefetch_related("responses")
    subsets = Counter(query.subset for query in queries)
    assert set(subsets) == {"chat", "reasoning", "safety", "code"}
    assert min(subsets.values()) >= 5
    for query in queries:
        assert 2 <= len(query.responses.all()) <= 4, query.external_id
        assert query.best_index is not None
        assert query.best_index < len(query.responses.all())
    positions = Counter(query.best_index for query in queries)
    assert len(positions) >= 3, "the best response must not sit in one position"


def test_loading_the_demo_twice_creates_nothing():
    services.demo_load()
    count = Query.objects.count()
    again = services.demo_load()
    assert (again.created, again.unchanged) == (0, count)
    assert Dataset.objects.filter(name="demo").count() == 1


def test_grm_setup_is_idempotent_and_creates_defaults(capsys):
    call_command("grm_setup")
    first = capsys.readouterr().out
    assert "with password:" in first
    call_command("grm_setup")
    second = capsys.readouterr().out
    assert "password" not in second
    assert "0 new queries" in second
    template = PromptTemplate.objects.get(is_default=True)
    assert template.text == DEFAULT_TEMPLATE
    assert ModelConfig.objects.get(is_default=True).backend == "transformers"
