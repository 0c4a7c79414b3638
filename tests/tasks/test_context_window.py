"""A prompt longer than the model's context window is never judged silently (issue 13): the worker skips the
query with its reason (prompt tokens, max tokens, the window), the run page and the API list it, the run's
progress counts it as finished, and the other queries are judged. The run may come from the form, the CLI
or the API: all of them create it through run_create, and the worker decides."""

from __future__ import annotations

from collections.abc import Sequence
from html import unescape
from typing import Any

import pytest
from django.urls import reverse

from reviews.models import Query, Run, Sample
from reviews.selectors.runs import run_pending_batches, run_queries
from reviews.services.runs import run_claim
from tests.factories import ResponseFactory, start_run
from tests.openai_server import Script, openai_server
from workers.backends.base import load_backend
from workers.backends.openai_backend import OpenAIBackend
from workers.engine import fit_window
from workers.grm.results import QueryInput, Settings
from workers.grm.templates import DEFAULT_TEMPLATE
from workers.tasks import judge_batch

pytestmark = pytest.mark.django_db

WINDOW = 3000  # the GRM template alone is about 500 of these tokens


class Counting(OpenAIBackend):
    """The real OpenAI backend, with a window and a token count (one token per four characters), as a
    backend that holds its tokenizer would have."""

    def context_window(self) -> int | None:
        return WINDOW

    def prompt_tokens(self, prompt: Sequence[Any]) -> int | None:
        return sum(len(str(message["content"])) for message in prompt) // 4


def test_fit_window_sets_aside_the_queries_that_cannot_fit_with_max_tokens():
    settings = Settings(template=DEFAULT_TEMPLATE, k=2, temperature=0.5, max_tokens=100, seed=0)
    short = QueryInput("1", [{"role": "user", "content": "Hi?"}], ["Hello.", "Bye."], 0, None)
    long = QueryInput("2", [{"role": "user", "content": "word " * 3000}], ["Hello.", "Bye."], 0, None)
    fitting, oversize = fit_window(Counting("judge", base_url="http://127.0.0.1:1/v1"), [short, long], settings)
    assert fitting == [short]
    assert [(item.key, item.window) for item in oversize] == [("2", WINDOW)]
    assert oversize[0].prompt_tokens > WINDOW - 100
    # A backend that cannot count (a remote server without a configured window) lets everything through.
    assert fit_window(OpenAIBackend("judge", base_url="http://127.0.0.1:1/v1"), [short, long], settings) == (
        [short, long],
        [],
    )


def test_the_worker_skips_a_too_long_query_with_its_reason_and_judges_the_others(demo, admin_client):
    run = start_run(demo, query_filter={"subset": "chat"}, k=2, max_tokens=64)
    long = Query.objects.filter(dataset=run.dataset, subset="chat").order_by("id").first()
    assert long is not None
    long.context = [{"role": "user", "content": "Please summarise this. " + "word " * 3000}]
    long.save()
    assert run_claim(run_id=run.id) is not None
    ids = list(run_queries(dataset=run.dataset, query_filter=run.query_filter).values_list("id", flat=True))
    with openai_server(Script()) as url:
        assert (
            judge_batch(run_id=run.id, query_ids=ids, load_backend=lambda: Counting("judge", base_url=url))
            == len(ids) - 1
        )
    run.refresh_from_db()
    assert list(run.skipped_queries) == [str(long.pk)]
    assert run.skipped_queries[str(long.pk)]["window"] == WINDOW
    assert not Sample.objects.filter(run=run, query=long).exists()  # never judged, never stored
    assert run.status == Run.Status.DONE  # the others judged, the long one counted as finished
    assert run.samples_percent == 100
    assert run_pending_batches(run=run) == []
    page = admin_client.get(reverse("run-detail", args=[run.pk])).content.decode()
    assert "Not judged: too long for the model (1)" in page
    assert long.external_id in page
    assert admin_client.get(reverse("api-run", args=[run.pk])).json()["skipped_queries"] == run.skipped_queries


def test_a_model_configuration_s_context_window_shortens_the_backend_s():
    backend = load_backend("openai", "judge", base_url="http://127.0.0.1:1/v1", options={"context_window": 256})
    assert backend.context_window() == 256  # type: ignore[attr-defined]


@pytest.mark.integration
@pytest.mark.slow
def test_the_built_in_model_with_a_short_window_skips_the_long_prompt(demo):
    """The transformers backend with the real default model, told its window is 2,048 tokens."""
    from workers.backends.default_model import DEFAULT_MODEL

    run = start_run(demo, query_filter={"subset": "chat"}, k=1, max_tokens=8, force_scores=True)
    short, long = Query.objects.filter(dataset=run.dataset, subset="chat").order_by("id")[:2]
    short.context = [{"role": "user", "content": "Say hi."}]
    short.save()
    short.responses.all().delete()
    for position, text in enumerate(["Hi!", "Go away."]):
        ResponseFactory.create(query=short, position=position, text=text)
    long.context = [{"role": "user", "content": "Summarise: " + "the cat sat on the mat " * 400}]
    long.save()
    run_claim(run_id=run.id)
    backend = load_backend("transformers", DEFAULT_MODEL, options={"context_window": 2048})
    judge_batch(run_id=run.id, query_ids=[short.pk, long.pk], load_backend=lambda: backend)
    run.refresh_from_db()
    assert list(run.skipped_queries) == [str(long.pk)]
    assert run.skipped_queries[str(long.pk)]["prompt_tokens"] + 8 > 2048
    assert Sample.objects.filter(run=run, query=short).count() == 1


def test_the_worker_records_the_window_and_the_form_estimates_the_queries_that_will_not_fit(demo, admin_client):
    run = start_run(demo, query_filter={"subset": "chat"}, k=1, max_tokens=64)
    long = Query.objects.filter(dataset=run.dataset, subset="chat").order_by("id").first()
    assert long is not None
    Query.objects.filter(pk=long.pk).update(prompt="word " * 3000)  # what the estimate reads
    run_claim(run_id=run.id)
    with openai_server(Script()) as url:
        judge_batch(run_id=run.id, query_ids=[long.pk], load_backend=lambda: Counting("judge", base_url=url))
    model = run.model_config
    model.refresh_from_db()
    assert model.context_window == WINDOW
    _, template, _ = demo
    form = {"model_config": model.pk, "template": template.pk, "k": 1, "temperature": 0.5, "max_tokens": 64,
            "seed": 0, "batch_size": 8, "sample_seed": 0, "subset": "chat"}  # fmt: skip
    html = unescape(admin_client.get(reverse("run-estimate", args=["demo"]), form).content.decode())
    assert f"The model's context window: {WINDOW:,} tokens" in html
    assert f"about 1 of these queries may not fit the model's {WINDOW:,}-token window with max tokens 64" in html
    model.generation_params = {"context_window": 100}  # configured shorter: every query is too long then
    model.save()
    html = unescape(admin_client.get(reverse("run-estimate", args=["demo"]), form).content.decode())
    assert "The model's context window: 100 tokens" in html
