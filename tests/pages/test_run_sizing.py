"""A run sized before it starts (issue 13): queries chosen by subset, by ids or as a random sample with a
seed, through the form, the API and the command line alike; the form's estimate (queries x k, the token
budget, the time at the model's measured rate) and its warning when max tokens cannot reach the score line;
score forcing on by default for the built-in model."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from reviews.errors import RunInvalid
from reviews.models import Run
from reviews.selectors.runs import JUDGMENT_MIN_TOKENS, run_query_filter

pytestmark = pytest.mark.django_db


def form_data(demo, **changes: object) -> dict[str, object]:
    _, template, model = demo
    data: dict[str, object] = {"model_config": model.id, "template": template.id, "k": 2, "temperature": 0.5,
                               "max_tokens": 256, "seed": 1, "batch_size": 4, "sample_seed": 0}  # fmt: skip
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def test_a_random_sample_is_drawn_by_its_seed_and_stored_as_ids(demo):
    dataset = demo[0]
    first = run_query_filter(dataset=dataset, subset="chat", sample_size=3, sample_seed=7)
    again = run_query_filter(dataset=dataset, subset="chat", sample_size=3, sample_seed=7)
    other = run_query_filter(dataset=dataset, subset="chat", sample_size=3, sample_seed=8)
    assert first == again
    assert first["ids"] != other["ids"]
    assert len(first["ids"]) == 3
    assert first["sample"] == {"size": 3, "seed": 7}
    chat = set(dataset.queries.filter(subset="chat").values_list("id", flat=True))
    assert set(first["ids"]) <= chat
    everything = run_query_filter(dataset=dataset, subset="chat", sample_size=1000)
    assert sorted(everything["ids"]) == sorted(chat)  # a sample larger than the pool is the pool


def test_queries_named_by_id_and_unknown_ids_named_back(demo):
    dataset = demo[0]
    names = list(dataset.queries.order_by("id").values_list("external_id", flat=True)[:2])
    chosen = run_query_filter(dataset=dataset, query_ids=[names[1], names[0], names[1]])
    assert chosen["ids"] == sorted(dataset.queries.filter(external_id__in=names).values_list("id", flat=True))
    with pytest.raises(RunInvalid, match="has no queries with the ids nope, nada") as refused:
        run_query_filter(dataset=dataset, query_ids=[names[0], "nope", "nada"])
    assert refused.value.field == "query_ids"


def test_the_form_starts_a_run_on_a_random_sample_and_shows_it(demo, admin_client):
    answer = admin_client.post(reverse("run-new", args=["demo"]), form_data(demo, subset="chat", sample_size=3))
    run = Run.objects.get()
    assert answer.status_code == 302
    assert (run.queries_total, run.samples_total, run.query_filter["sample"]) == (3, 6, {"size": 3, "seed": 0})
    page = admin_client.get(reverse("run-detail", args=[run.pk])).content.decode()
    assert "a random sample of 3 (seed 0)" in page


def test_unknown_ids_are_refused_beside_their_field(demo, admin_client):
    answer = admin_client.post(reverse("run-new", args=["demo"]), form_data(demo, query_ids="no-such-query"))
    assert answer.status_code == 400
    assert answer.context["form"].errors["query_ids"] == ["demo has no queries with the ids no-such-query"]
    assert not Run.objects.exists()


def test_the_api_and_the_command_line_choose_queries_the_same_way(demo, admin_user, client):
    client.force_login(admin_user)
    names = list(demo[0].queries.order_by("id").values_list("external_id", flat=True)[:2])
    made = client.post(
        reverse("api-runs"), {"dataset": "demo", "k": 1, "query_ids": names}, content_type="application/json"
    )
    assert made.status_code == 201, made.content
    assert made.json()["queries_total"] == 2
    sampled = client.post(
        reverse("api-runs"),
        {"dataset": "demo", "k": 1, "sample_size": 4, "sample_seed": 3},
        content_type="application/json",
    )
    assert sampled.json()["queries_total"] == 4
    out = StringIO()
    call_command("grm_run", "--dataset", "demo", "--k", "1", "--sample", "4", "--sample-seed", "3", stdout=out)
    cli = Run.objects.order_by("-id").first()
    assert cli is not None
    assert cli.query_filter == Run.objects.get(pk=sampled.json()["id"]).query_filter  # the same draw
    out = StringIO()
    call_command("grm_run", "--dataset", "demo", "--k", "1", "--ids", ",".join(names), stdout=out)
    assert "2 queries x k=1" in out.getvalue()


def test_the_estimate_counts_the_run_and_warns_about_max_tokens(demo, admin_client):
    url = reverse("run-estimate", args=["demo"])
    estimate = admin_client.get(url, form_data(demo, subset="chat", sample_size=3, max_tokens=48)).content.decode()
    assert "3 queries x k = 6 samples" in estimate
    assert "at most 288 new tokens" in estimate
    assert f"below the ~{JUDGMENT_MIN_TOKENS} a judgment needs" in estimate
    assert "No finished run of this model" in estimate
    forced = admin_client.get(url, form_data(demo, max_tokens=48, force_scores="on")).content.decode()
    assert "below the" not in forced
    refused = admin_client.get(url, form_data(demo, query_ids="nope")).content.decode()
    assert "demo has no queries with the ids nope" in refused


def test_the_estimate_uses_the_model_s_measured_rate(demo, admin_client):
    _, template, model = demo
    Run.objects.create(
        dataset=demo[0], model_config=model, template=template, k=1, status=Run.Status.DONE, samples_done=10,
        tokens_generated=1000, generation_seconds=100.0,
    )  # fmt: skip  # 10 tokens/s, 100 tokens a sample
    estimate = admin_client.get(reverse("run-estimate", args=["demo"]), form_data(demo, subset="chat", sample_size=3))
    html = estimate.content.decode()
    assert "10.0 tokens/s" in html
    assert "about 100 per sample: about <strong>1 min</strong>" in html  # 6 samples x 100 tokens / 10 per s


def test_score_forcing_is_on_by_default_for_the_built_in_model(demo, admin_client, settings):
    def forcing_checked() -> bool:
        page = admin_client.get(reverse("run-new", args=["demo"])).content.decode()
        box = re.search(r'<input type="checkbox" name="force_scores"[^>]*>', page)
        assert box is not None
        return " checked" in box.group()

    assert forcing_checked()
    settings.GRM_BUILTIN_MODEL = "another-model"
    assert not forcing_checked()
