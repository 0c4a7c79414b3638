"""What runs are configured with: the built-in templates as versioned rows, the default among them,
the DeepSeek-GRM presets, and the check that a run's template fits its data."""

from __future__ import annotations

import pytest

from reviews.errors import RunInvalid
from reviews.models import Dataset, ModelConfig, PromptTemplate
from reviews.services.configs import defaults_ensure, presets_ensure, templates_ensure
from reviews.services.runs import run_create
from tests.factories import DatasetFactory, ModelConfigFactory, QueryFactory, ResponseFactory
from workers.grm.templates import ADAPTED_TEMPLATE, DEFAULT_TEMPLATE, SINGLE_RESPONSE_TEMPLATE

pytestmark = pytest.mark.django_db


def current(name: str) -> PromptTemplate:
    return PromptTemplate.objects.filter(name=name).order_by("-version").first()  # type: ignore[return-value]


def test_the_built_in_templates_exist_once_with_their_ranges_and_the_papers_is_the_default():
    template, _ = defaults_ensure()
    defaults_ensure()
    assert (template.name, template.text, template.score_low, template.score_high) == (
        "deepseek-grm-default",
        DEFAULT_TEMPLATE,
        1,
        10,
    )
    assert current("deepseek-grm-adapted").text == ADAPTED_TEMPLATE
    single = current("deepseek-grm-single")
    assert (single.text, single.score_low, single.score_high, single.single_response) == (
        SINGLE_RESPONSE_TEMPLATE,
        0,
        1,
        True,
    )
    assert PromptTemplate.objects.count() == 3


def test_an_outdated_built_in_gets_a_new_version_and_keeps_the_default():
    # A database from before: the default held the adapted wording under the default's name.
    old = PromptTemplate.objects.create(name="deepseek-grm-default", version=1, text=ADAPTED_TEMPLATE, is_default=True)
    templates_ensure()
    old.refresh_from_db()
    new = current("deepseek-grm-default")
    assert (old.text, old.is_default) == (ADAPTED_TEMPLATE, False)  # never edited in place: runs keep it
    assert (new.version, new.text, new.is_default) == (2, DEFAULT_TEMPLATE, True)


def test_a_template_an_admin_made_default_stays_the_default():
    mine = PromptTemplate.objects.create(name="mine", text="{context}\n{responses}", is_default=True)
    templates_ensure()
    assert PromptTemplate.objects.get(is_default=True) == mine


def test_the_presets_name_the_released_checkpoints():
    configs = {config.name: config for config in presets_ensure()}
    assert configs["deepseek-grm-27b"].model == "BBQGOD/DeepSeek-GRM-27B"
    assert configs["deepseek-grm-16b"].generation_params["trust_remote_code"] is True
    assert {config.backend for config in configs.values()} == {ModelConfig.Backend.VLLM}
    presets_ensure()
    assert ModelConfig.objects.filter(name__startswith="deepseek-grm").count() == 2


def dataset_of(*items: tuple[int, int | None, int | None]) -> Dataset:
    """A dataset of queries given as (responses, best index, rating)."""
    dataset = DatasetFactory.create()
    for responses, best, rating in items:
        query = QueryFactory.create(dataset=dataset, best_index=best, rating=rating)
        for position in range(responses):
            ResponseFactory.create(query=query, position=position)
    return dataset


def test_a_single_response_template_judges_one_response_per_query():
    templates_ensure()
    single = current("deepseek-grm-single")
    model = ModelConfigFactory.create()
    with pytest.raises(RunInvalid, match="1 of the queries have several") as error:
        run_create(dataset=dataset_of((1, None, 1), (2, 0, None)), model_config=model, template=single, k=1)
    assert error.value.field == "template"
    run = run_create(dataset=dataset_of((1, None, 1), (1, None, 0)), model_config=model, template=single, k=2)
    assert run.queries_total == 2


def test_a_zero_one_label_needs_a_template_that_can_give_it():
    template, model = defaults_ensure()
    with pytest.raises(RunInvalid, match=r"e\.g\. 0; deepseek-grm-default scores 1-10") as error:
        run_create(dataset=dataset_of((1, None, 0), (1, None, 7)), model_config=model, template=template, k=1)
    assert error.value.field == "template"
    single = current("deepseek-grm-single")
    with pytest.raises(RunInvalid, match=r"e\.g\. 7"):
        run_create(dataset=dataset_of((1, None, 7)), model_config=model, template=single, k=1)
