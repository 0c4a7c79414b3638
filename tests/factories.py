"""factory_boy factories for the domain models and users with roles, and builders of runs and queues."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, cast

import factory
from django.contrib.auth.models import Group, User

from reviews.models import (
    Annotation,
    Dataset,
    ModelConfig,
    PromptTemplate,
    Query,
    Release,
    Response,
    ReviewQueue,
    Run,
    Sample,
    Upload,
    UploadError,
    Verdict,
)
from reviews.services.annotations import annotation_submit
from reviews.services.queues import QueueFilters, queue_create
from reviews.services.rounds import round_create
from reviews.services.runs import run_create
from workers.backends.default_model import DEFAULT_MODEL

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def roles(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        user = cast(User, self)  # factory_boy passes the built instance as the first argument
        if create and extracted:
            # get_or_create: a transactional test before this one flushed the groups migration 0002 made.
            user.groups.set([Group.objects.get_or_create(name=name)[0] for name in extracted])
        if create:
            user.save()


class DatasetFactory(factory.django.DjangoModelFactory[Dataset]):
    class Meta:
        model = Dataset

    name = factory.Sequence(lambda n: f"dataset-{n}")


class QueryFactory(factory.django.DjangoModelFactory[Query]):
    class Meta:
        model = Query

    dataset = factory.SubFactory(DatasetFactory)
    external_id = factory.Sequence(lambda n: f"q{n}")
    subset = "chat"
    prompt = factory.LazyAttribute(lambda q: f"Question {q.external_id}?")
    context = factory.LazyAttribute(lambda q: [{"role": "user", "content": q.prompt}])
    best_index = 0
    content_hash = factory.Sequence(lambda n: f"{n:064x}")


class ResponseFactory(factory.django.DjangoModelFactory[Response]):
    class Meta:
        model = Response

    query = factory.SubFactory(QueryFactory)
    position = factory.Sequence(lambda n: n)
    text = factory.Sequence(lambda n: f"Answer {n}.")


class TemplateFactory(factory.django.DjangoModelFactory[PromptTemplate]):
    class Meta:
        model = PromptTemplate

    name = factory.Sequence(lambda n: f"template-{n}")
    text = "{context}\n{responses}"


class ModelConfigFactory(factory.django.DjangoModelFactory[ModelConfig]):
    class Meta:
        model = ModelConfig

    name = factory.Sequence(lambda n: f"model-{n}")
    model = DEFAULT_MODEL


class RunFactory(factory.django.DjangoModelFactory[Run]):
    class Meta:
        model = Run

    dataset = factory.SubFactory(DatasetFactory)
    model_config = factory.SubFactory(ModelConfigFactory)
    template = factory.SubFactory(TemplateFactory)
    k = 4


class SampleFactory(factory.django.DjangoModelFactory[Sample]):
    class Meta:
        model = Sample

    run = factory.SubFactory(RunFactory)
    query = factory.SubFactory(QueryFactory)
    sample_index = factory.Sequence(lambda n: n)
    permutation = [0, 1]
    raw_text = "Specific Criteria: x\nAnalysis: y\nScores: \\boxed{7, 3}"
    scores = [7, 3]
    parse_status = Sample.ParseStatus.OK


class ReleaseFactory(factory.django.DjangoModelFactory[Release]):
    """A ready release whose one file (under GRM_RELEASE_DIR/<folder>/) holds `content`, listed in its
    manifest with its sha256."""

    class Meta:
        model = Release

    class Params:
        content = b'{"prompt": "Question?", "completion": "Answer."}\n'

    name = factory.Sequence(lambda n: f"release-{n}")
    version = 1
    kind = Release.Kind.RFT_SFT
    status = Release.Status.READY
    folder = factory.LazyAttribute(lambda r: f"{r.name}-v{r.version}")
    counts = factory.LazyAttribute(lambda r: {"rows": r.content.count(b"\n")})
    sha256 = factory.LazyAttribute(lambda r: hashlib.sha256(r.content).hexdigest())

    @factory.lazy_attribute
    def manifest(self: Any) -> dict[str, object]:  # self: factory_boy's resolver of the declarations
        from django.conf import settings

        folder = Path(settings.GRM_RELEASE_DIR) / self.folder
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "train.jsonl").write_bytes(self.content)
        digest = hashlib.sha256(self.content).hexdigest()
        file = {
            "name": "train.jsonl",
            "split": "train",
            "format": "jsonl",
            "rows": self.content.count(b"\n"),
            "bytes": len(self.content),
            "sha256": digest,
        }
        return {"files": [file]}  # as the builder lists a file (reviews/exports/writer.py)


class VerdictFactory(factory.django.DjangoModelFactory[Verdict]):
    class Meta:
        model = Verdict

    run = factory.SubFactory(RunFactory)
    query = factory.SubFactory(QueryFactory)
    valid_samples = 1
    vote_totals = [7, 3]
    best_index = 0
    correct = True


class UploadFactory(factory.django.DjangoModelFactory[Upload]):
    """An upload as the worker leaves it: ingested, with one bad line reported."""

    class Meta:
        model = Upload
        skip_postgeneration_save = True

    dataset_name = factory.Sequence(lambda n: f"uploaded-{n}")
    format = "native"
    status = Upload.Status.PARTIAL
    items = 2
    created = 1
    error_count = 1

    @factory.post_generation
    def bad_line(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        upload = cast(Upload, self)
        if create:
            UploadError.objects.create(upload=upload, line=2, field="responses", message="needs at least 2 responses")


def one_of_each(*, dataset_name: str, reviewer: User) -> None:
    """A row of every kind the API serves (dataset, query, RFT round, run, sample, verdict, annotation, upload,
    release)."""
    dataset = DatasetFactory.create(name=dataset_name)
    query = QueryFactory.create(dataset=dataset)
    ResponseFactory.create(query=query, position=0)
    ResponseFactory.create(query=query, position=1)
    run = RunFactory.create(dataset=dataset, rft_round=round_create(name=dataset_name))
    sample = SampleFactory.create(run=run, query=query, sample_index=0)
    VerdictFactory.create(run=run, query=query)
    annotation_submit(reviewer=reviewer, sample=sample, decision=Annotation.Decision.ACCEPT)
    UploadFactory.create(dataset_name=dataset_name)
    ReleaseFactory.create()


def make_run(queries: int = 3, k: int = 2, responses: int = 2) -> tuple[Dataset, Run]:
    """A dataset of labelled queries and a judged run of it: k samples and a verdict per query.

    Every sample ranks Response 1 first, except sample 0 of the last query, which is wrong; sample meta
    scores and vote entropies differ, so that each queue priority gives its own order.
    """
    dataset = DatasetFactory.create()
    run = RunFactory.create(dataset=dataset, k=k)
    for n in range(queries):
        query = QueryFactory.create(dataset=dataset, best_index=0)
        for position in range(responses):
            ResponseFactory.create(query=query, position=position, text=f"**Answer** {position} of {n}")
        for index in range(k):
            wrong = n == queries - 1 and index == 0
            scores = [3] + [7] * (responses - 1) if wrong else [9] + [2] * (responses - 1)
            SampleFactory.create(
                run=run,
                query=query,
                sample_index=index,
                permutation=list(range(responses)),
                scores=scores,
                correct=not wrong,
                meta_score=float(index - n),
                principles="1. Accuracy (weight 60%)",
                critique="Response 1 is *right*.",
            )
        VerdictFactory.create(run=run, query=query, vote_totals=[9 * k] + [2 * k] * (responses - 1), vote_entropy=n)
    return dataset, run


def make_queue(run: Run, dataset: Dataset | None = None, **options: Any) -> ReviewQueue:
    """A review queue of the run's judgments, through the service (unreviewed first unless told otherwise)."""
    return queue_create(
        name=options.pop("name", "q"),
        dataset=dataset or run.dataset,
        run=run,
        filters=options.pop("filters", QueueFilters()),
        priority=options.pop("priority", ReviewQueue.Priority.UNREVIEWED),
        **options,
    )


def start_run(demo: tuple[Dataset, PromptTemplate, ModelConfig], **options: Any) -> Run:
    """A queued run of the `demo` fixture's dataset, created through the service (k=3 unless told)."""
    dataset, template, model = demo
    options.setdefault("k", 3)
    return run_create(dataset=dataset, model_config=model, template=template, **options)
