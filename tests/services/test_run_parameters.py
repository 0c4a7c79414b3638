"""One definition of the run parameters: the page form, the API's serializer, the `grm_run` command
and `run_create` accept and refuse the same values, and map them to a run the same way."""

import io

import pytest
from django.core.management import CommandError, call_command

from reviews.api.views import RunIn
from reviews.errors import RunInvalid
from reviews.forms import RunForm
from reviews.models import Run
from reviews.selectors.datasets import NO_SUBSET
from reviews.services.runs import RUN_PARAMETERS, run_create_from
from tests.factories import DatasetFactory, QueryFactory, ResponseFactory

pytestmark = pytest.mark.django_db

OUTSIDE = [(name, value) for name, limit in RUN_PARAMETERS.items() for value in (limit.low - 1, limit.high + 1)]


def form_data(dataset, template, model, **values):
    data = {"model_config": model.pk, "template": template.pk, "subset": ""}
    data.update({name: limit.default for name, limit in RUN_PARAMETERS.items()})
    data.update(values)
    return RunForm(data, dataset=dataset)


@pytest.mark.parametrize(("name", "value"), OUTSIDE)
def test_the_form_the_serializer_and_the_service_refuse_the_same_values(demo, name, value):
    dataset, template, model = demo
    form = form_data(dataset, template, model, **{name: value})
    assert not form.is_valid()
    assert name in form.errors
    serializer = RunIn(data={"dataset": dataset.name, "k": 2, name: value})
    assert not serializer.is_valid()
    assert name in serializer.errors
    with pytest.raises(RunInvalid, match=f"{name} must be from") as refused:
        run_create_from(dataset=dataset, params={"k": 2, name: value})
    assert refused.value.field == name
    assert Run.objects.count() == 0


def test_defaults_are_the_same_through_the_form_the_api_and_the_command_line(demo, sent_tasks):
    dataset, template, model = demo
    form = form_data(dataset, template, model, subset="code")
    assert form.is_valid(), form.errors
    from_form = run_create_from(dataset=dataset, params=form.cleaned_data)
    serializer = RunIn(data={"dataset": dataset.name, "k": RUN_PARAMETERS["k"].default, "subset": "code"})
    assert serializer.is_valid(), serializer.errors
    from_api = run_create_from(dataset=dataset, params=serializer.validated_data)
    out = io.StringIO()
    call_command(
        "grm_run", "--dataset", dataset.name, "--k", str(RUN_PARAMETERS["k"].default), "--subset", "code", stdout=out
    )
    from_cli = Run.objects.latest("id")
    fields = ("k", "temperature", "max_tokens", "seed", "batch_size", "query_filter", "model_config_id", "template_id")
    assert [getattr(from_form, f) for f in fields] == [getattr(from_api, f) for f in fields]
    assert [getattr(from_api, f) for f in fields] == [getattr(from_cli, f) for f in fields]
    assert from_cli.max_tokens == RUN_PARAMETERS["max_tokens"].default
    assert f"run {from_cli.id}: " in out.getvalue()


def test_the_command_line_refuses_out_of_range_values_by_name(demo):
    with pytest.raises(CommandError, match="batch_size must be from 1 to 256"):
        call_command("grm_run", "--dataset", "demo", "--k", "2", "--batch-size", "999", stdout=io.StringIO())


def test_queries_without_a_subset_are_one_choice_of_the_run_form_and_of_the_api(demo):
    _, template, model = demo
    dataset = DatasetFactory.create(name="mixed")
    for subset in ("", "", "chat"):
        ResponseFactory.create(query=QueryFactory.create(dataset=dataset, subset=subset), position=0)
    form = form_data(dataset, template, model, subset=NO_SUBSET)
    assert (NO_SUBSET, "(none)") in form.fields["subset"].choices
    assert form.is_valid(), form.errors
    assert run_create_from(dataset=dataset, params=form.cleaned_data).queries_total == 2
    serializer = RunIn(data={"dataset": "mixed", "k": 1, "subset": "chat"})
    assert serializer.is_valid(), serializer.errors
    assert run_create_from(dataset=dataset, params=serializer.validated_data).queries_total == 1
