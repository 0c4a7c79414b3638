"""factory_boy factories for the domain models and users with roles."""

from __future__ import annotations

from typing import Any, cast

import factory
from django.contrib.auth.models import Group, User

from reviews.models import Dataset, ModelConfig, PromptTemplate, Query, Response, Run, Sample

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
            user.groups.set(Group.objects.filter(name__in=extracted))
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
    model = "smollm2-135m-instruct"


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
