"""The transformers backend with the real default model (SmolLM2-135M-Instruct, GGUF from PyPI)."""

import pytest

from workers.backends.default_model import DEFAULT_MODEL
from workers.backends.transformers_backend import TransformersBackend
from workers.grm.parsing import parse_judgment
from workers.grm.prompts import build_prompt
from workers.grm.templates import DEFAULT_TEMPLATE

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def backend():
    return TransformersBackend(DEFAULT_MODEL, prefill_batch=2)


def grm_prompt(question, responses, order):
    return build_prompt(
        DEFAULT_TEMPLATE, context=[{"role": "user", "content": question}], responses=responses, permutation=order
    ).messages


PROMPTS = [
    grm_prompt("What is 2+2?", ["4", "5"], [0, 1]),
    grm_prompt("Name a prime above 10.", ["11", "12 is prime", "9"], [2, 0, 1]),
    grm_prompt("Say hi.", ["Hi!", "Goodbye."], [1, 0]),
]


def test_shared_prefill_gives_what_separate_generation_gives(backend):
    # Greedy decoding makes the comparison exact: one batched call with the prefill computed once per
    # prompt (and prompts of different lengths left-padded together) against one call per prompt.
    batched = backend.generate(PROMPTS, n=[2, 1, 3], temperature=0.0, max_tokens=12, seed=0)
    for prompt, generations in zip(PROMPTS, batched, strict=True):
        [alone] = backend.generate([prompt], n=1, temperature=0.0, max_tokens=12, seed=0)
        assert {g.text for g in generations} == {alone[0].text}
    assert [len(g) for g in batched] == [2, 1, 3]


def test_token_counts_and_min_tokens(backend):
    [generations] = backend.generate(PROMPTS[:1], n=2, temperature=0.5, max_tokens=10, seed=3, min_tokens=10)
    for generation in generations:
        assert generation.completion_tokens == 10
        assert generation.finish_reason == "length"
        assert generation.prompt_tokens > 800  # the default template is long


def test_sampling_is_seeded(backend):
    first = backend.generate(PROMPTS[:2], n=2, temperature=0.7, max_tokens=8, seed=11)
    again = backend.generate(PROMPTS[:2], n=2, temperature=0.7, max_tokens=8, seed=11)
    assert [[g.text for g in gs] for gs in first] == [[g.text for g in gs] for gs in again]


def texts(generations):
    return [generation.text for generation in generations]


def test_each_sample_draws_from_its_own_seed(backend):
    [first] = backend.generate(PROMPTS[:1], n=2, temperature=1.0, max_tokens=12, seed=[21])
    [again] = backend.generate(PROMPTS[:1], n=2, temperature=1.0, max_tokens=12, seed=[21])
    assert first[0].text != first[1].text  # two samples of one prompt: seeds 21 and 22
    assert texts(again) == texts(first)
    # Sample j of a prompt is drawn with its seed + j, so the second sample is the first one of seed 22.
    [shifted] = backend.generate(PROMPTS[:1], n=1, temperature=1.0, max_tokens=12, seed=[22])
    assert texts(shifted) == texts(first)[1:]


def test_a_samples_draws_do_not_depend_on_the_other_prompts_in_its_batch(backend):
    [alone] = backend.generate(PROMPTS[:1], n=2, temperature=1.0, max_tokens=12, seed=[21])
    # One prefill batch (prefill_batch=2): a shared prefix, the other prompt's padding, four rows.
    batched = backend.generate([PROMPTS[2], PROMPTS[0]], n=[2, 2], temperature=1.0, max_tokens=12, seed=[5, 21])
    assert texts(batched[1]) == texts(alone)
    assert texts(batched[0]) != texts(alone)


def test_score_forcing_always_yields_valid_scores(backend):
    forced = backend.force_scores(PROMPTS[1], "Specific Criteria: primes.\nAnalysis: hmm", n_responses=3)
    assert forced is not None
    judgment = parse_judgment(forced, 3)
    assert judgment.valid
    assert judgment.scores is not None
    assert all(1 <= score <= 10 for score in judgment.scores)
