"""The openai backend against a local server speaking the chat-completions protocol."""

import pytest

from tests.openai_server import Script, openai_server
from workers.backends.base import PermanentBackendError, TransientBackendError
from workers.backends.openai_backend import OpenAIBackend

PROMPT = [{"role": "user", "content": "Judge these."}]


def backend(url, **options):
    return OpenAIBackend("judge-model", base_url=url, backoff=0.01, **options)


def test_n_samples_per_prompt_share_one_request():
    script = Script()
    with openai_server(script) as url:
        out = backend(url).generate([PROMPT, PROMPT], n=3, temperature=0.5, max_tokens=64, seed=7)
    assert [len(generations) for generations in out] == [3, 3]
    assert len(script.requests) == 2
    request = script.requests[0]
    assert request["n"] == 3
    assert (request["model"], request["temperature"], request["max_tokens"], request["seed"]) == (
        "judge-model",
        0.5,
        64,
        7,
    )
    assert request["messages"] == PROMPT
    assert "min_tokens" not in request
    assert out[0][0].text.endswith("\\boxed{9, 2}")
    assert (out[0][0].prompt_tokens, out[0][0].completion_tokens, out[0][0].finish_reason) == (100, 10, "stop")


def test_per_prompt_sample_counts():
    script = Script()
    with openai_server(script) as url:
        out = backend(url).generate([PROMPT, PROMPT], n=[1, 3], temperature=0.0, max_tokens=8, seed=0, min_tokens=4)
    assert [len(generations) for generations in out] == [1, 3]
    assert sorted(request["n"] for request in script.requests) == [1, 3]
    assert all(request["min_tokens"] == 4 for request in script.requests)


def test_a_429_is_retried_then_succeeds():
    script = Script(replies=[(429, {"Retry-After": "0"}, {"error": {"message": "slow down"}})])
    with openai_server(script) as url:
        out = backend(url).generate([PROMPT], n=2, temperature=0.5, max_tokens=8, seed=0)
    assert len(out[0]) == 2
    assert len(script.requests) == 2


def test_server_errors_are_retried_and_then_transient():
    script = Script(replies=[(503, {}, {"error": {"message": "overloaded"}})] * 3)
    with openai_server(script) as url, pytest.raises(TransientBackendError, match="503: overloaded"):
        backend(url, max_retries=2).generate([PROMPT], n=1, temperature=0.5, max_tokens=8, seed=0)
    assert len(script.requests) == 3


def test_a_400_is_permanent_with_the_servers_message_and_not_retried():
    script = Script(replies=[(400, {}, {"error": {"message": "max_tokens is too large for this model"}})])
    with openai_server(script) as url, pytest.raises(PermanentBackendError, match="400: max_tokens is too large"):
        backend(url).generate([PROMPT], n=1, temperature=0.5, max_tokens=10**6, seed=0)
    assert len(script.requests) == 1


def test_an_unreachable_server_is_transient():
    with pytest.raises(TransientBackendError):
        OpenAIBackend("m", base_url="http://127.0.0.1:9/v1", max_retries=1, backoff=0.01, timeout=2).generate(
            [PROMPT], n=1, temperature=0.0, max_tokens=8, seed=0
        )


def test_a_base_url_is_required():
    with pytest.raises(PermanentBackendError, match="base URL"):
        OpenAIBackend("m", base_url="")


def test_score_forcing_is_unsupported_in_any_range_and_sends_nothing():
    script = Script()
    with openai_server(script) as url:
        client = backend(url)
        assert client.force_scores(PROMPT, "Analysis: hmm", n_responses=2) is None
        assert client.force_scores(PROMPT, "Analysis: hmm", n_responses=1, low=0, high=1) is None
    assert script.requests == []
