"""The engine's bookkeeping: shuffles, shared prompts, seeds, mapping back, voting, hints, greedy copies,
and single-response verdicts in the template's score range.

The judge here is a deterministic function of the prompt it is shown (each response block scored by
its own text), so any change in the vote can only come from the engine's handling of orders.
"""

import re
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.backends.base import Generation
from workers.engine import SEED_LIMIT, QueryInput, Settings, judge
from workers.grm.parsing import ParseStatus
from workers.grm.templates import DEFAULT_TEMPLATE, SINGLE_RESPONSE_TEMPLATE

BLOCK = re.compile(r"\[The Begin of Response (\d+)\]\n(.*?)\n\[The End of Response \1\]", re.S)


def quality(text: str) -> int:
    return zlib.crc32(text.encode()) % 10 + 1


class ContentJudge:
    """Scores every shown response by its text alone; records the calls it receives."""

    name = "content-judge"

    def __init__(self):
        self.calls = []

    def generate(self, prompts, *, n, temperature, max_tokens, seed, min_tokens=0):
        counts = [n] * len(prompts) if isinstance(n, int) else list(n)
        self.calls.append(counts)
        out = []
        for prompt, count in zip(prompts, counts, strict=True):
            shown = [text for _, text in BLOCK.findall(prompt[-1]["content"])]
            box = ", ".join(str(quality(text)) for text in shown)
            text = f"Specific Criteria: c\nAnalysis: a\nScores: \\boxed{{{box}}}"
            out.append([Generation(text, 10, 5, "stop")] * count)
        return out

    def force_scores(self, prompt, text, *, n_responses, low=1, high=10):
        return None


def totals_by_text(result):
    return {text: total for text, total in zip(result.query.responses, result.vote.totals, strict=True)}


responses_strategy = st.lists(
    st.text(min_size=1, max_size=12).map(str.strip).filter(bool), min_size=2, max_size=5, unique=True
)


@settings(max_examples=60, deadline=None)
@given(responses_strategy, st.integers(1, 6), st.integers(0, 2**32), st.randoms())
def test_permuting_the_stored_responses_never_changes_the_vote_per_response(responses, k, seed, rnd):
    shuffled = list(responses)
    rnd.shuffle(shuffled)
    config = Settings(template=DEFAULT_TEMPLATE, k=k, temperature=0.5, max_tokens=8, seed=seed)
    context = [{"role": "user", "content": "Q?"}]
    [first], _ = judge(ContentJudge(), [QueryInput("q", context, responses)], config)
    [second], _ = judge(ContentJudge(), [QueryInput("q", context, shuffled)], config)
    assert totals_by_text(first) == totals_by_text(second) == {text: k * quality(text) for text in responses}
    for sample in first.samples:
        assert sample.scores == [quality(text) for text in responses]


def test_samples_that_drew_the_same_order_share_one_prompt():
    judge_backend = ContentJudge()
    query = QueryInput("q", [{"role": "user", "content": "Q?"}], ["a", "b"], best_index=0)
    [result], _ = judge(
        judge_backend, [query], Settings(template=DEFAULT_TEMPLATE, k=8, temperature=0.5, max_tokens=8, seed=1)
    )
    [counts] = judge_backend.calls
    assert sum(counts) == 8
    assert len(counts) == len({tuple(sample.permutation) for sample in result.samples}) <= 2
    assert [sample.sample_index for sample in result.samples] == list(range(8))


def test_greedy_runs_generate_once_per_prompt_and_copy():
    judge_backend = ContentJudge()
    query = QueryInput("q", [{"role": "user", "content": "Q?"}], ["a", "b", "c"])
    [result], _ = judge(
        judge_backend, [query], Settings(template=DEFAULT_TEMPLATE, k=5, temperature=0.0, max_tokens=8, seed=1)
    )
    assert set(judge_backend.calls[0]) == {1}
    assert len(result.samples) == 5


def test_hinted_marks_only_samples_that_got_a_hint():
    labelled = QueryInput("a", [{"role": "user", "content": "Q?"}], ["x", "y"], best_index=1)
    unlabelled = QueryInput("b", [{"role": "user", "content": "Q?"}], ["x", "y"])
    results, _ = judge(
        ContentJudge(),
        [labelled, unlabelled],
        Settings(template=DEFAULT_TEMPLATE, k=2, temperature=0.5, max_tokens=8, seed=0, hinted=True),
    )
    assert all(sample.hinted for sample in results[0].samples)
    assert not any(sample.hinted for sample in results[1].samples)


class SeedJudge(ContentJudge):
    """Writes into each sample's analysis the seed it was drawn with: sample j of prompt i gets seed[i] + j."""

    def generate(self, prompts, *, n, temperature, max_tokens, seed, min_tokens=0):
        out = super().generate(prompts, n=n, temperature=temperature, max_tokens=max_tokens, seed=seed)
        seeds = [seed] * len(prompts) if isinstance(seed, int) else list(seed)
        return [
            [
                Generation(g.text.replace("Analysis: a", f"Analysis: seed {prompt_seed + j}"), 10, 5, "stop")
                for j, g in enumerate(generations)
            ]
            for prompt_seed, generations in zip(seeds, out, strict=True)
        ]


def sample_seeds(result):
    found = [re.search(r"Analysis: seed (\d+)", sample.raw_text) for sample in result.samples]
    assert all(found)
    return [int(match.group(1)) for match in found if match]


def judged_seeds(*keys, run_seed=1, k=8):
    queries = [QueryInput(key, [{"role": "user", "content": "Q?"}], ["a", "b", "c"]) for key in keys]
    config = Settings(template=DEFAULT_TEMPLATE, k=k, temperature=0.5, max_tokens=8, seed=run_seed)
    results, _ = judge(SeedJudge(), queries, config)
    return [sample_seeds(result) for result in results]


def test_every_sample_draws_from_its_own_reproducible_seed():
    # 8 samples over 3 responses (6 orders): some prompts carry several samples, drawn with seed + j.
    [seeds] = judged_seeds("q")
    assert len(seeds) == len(set(seeds)) == 8
    assert all(0 <= seed < SEED_LIMIT for seed in seeds)
    assert judged_seeds("q") == [seeds]  # a re-run draws the same streams
    first, other = judged_seeds("q", "other")  # two queries in one call
    assert first == seeds
    assert set(other).isdisjoint(seeds)
    [new_run] = judged_seeds("q", run_seed=2)
    assert set(new_run).isdisjoint(seeds)


class RatingJudge:
    """Judges one response (the single-response template) 0/1: "right" -> 1, "wrong" -> 0, "mixed" ->
    1, 0, 1, 0, ... over a prompt's samples, "seven" -> 7 (outside 0..1). Forcing gives 1, recording its range."""

    name = "rating-judge"

    def __init__(self):
        self.forced_ranges = []

    def generate(self, prompts, *, n, temperature, max_tokens, seed, min_tokens=0):
        counts = [n] * len(prompts) if isinstance(n, int) else list(n)
        out = []
        for prompt, count in zip(prompts, counts, strict=True):
            text = prompt[-1]["content"]
            response = text.split("[The Begin of Response]\n")[1].split("\n[The End of Response]")[0]
            scores = {"right": [1], "wrong": [0], "mixed": [1, 0], "seven": [7]}[response]
            out.append(
                [
                    Generation(
                        f"Specific Criteria: c\nAnalysis: a\nScores: \\boxed{{{scores[j % len(scores)]}}}",
                        10,
                        5,
                        "stop",
                    )
                    for j in range(count)
                ]
            )
        return out

    def force_scores(self, prompt, text, *, n_responses, low=1, high=10):
        self.forced_ranges.append((n_responses, low, high))
        return text + "\nScores: \\boxed{1}"


def rated(response, rating, key=None):
    return QueryInput(
        key or f"{response}-{rating}", [{"role": "user", "content": "Is it right?"}], [response], rating=rating
    )


def single_settings(k, **extra):
    return Settings(
        template=SINGLE_RESPONSE_TEMPLATE,
        k=k,
        temperature=0.5,
        max_tokens=8,
        seed=3,
        score_low=0,
        score_high=1,
        **extra,
    )


@pytest.mark.parametrize(
    ("response", "rating", "k", "verdict"),
    [
        ("right", 1, 3, True),
        ("right", 0, 3, False),
        ("wrong", 0, 3, True),
        ("wrong", 1, 3, False),
        ("mixed", 1, 3, True),  # 1, 0, 1: mean 2/3 -> 1
        ("right", None, 2, None),  # unlabelled
        ("seven", 1, 2, False),  # every sample out of the 0..1 range: no voted rating
    ],
)
def test_single_response_verdicts_in_a_zero_to_one_range(response, rating, k, verdict):
    """Scores 1, 0, 1, ... for "mixed"; a mean halfway between 0 and 1 is the next test's case."""
    [result], _ = judge(RatingJudge(), [rated(response, rating)], single_settings(k))
    assert result.correct is verdict
    if response == "seven":
        assert {sample.judgment.status for sample in result.samples} == {ParseStatus.OUT_OF_RANGE}
        assert all(sample.correct is False for sample in result.samples)
    elif rating is not None:
        # Eq. 10 for one response: the sample's score equals the 0/1 label
        assert [sample.correct for sample in result.samples] == [sample.scores == [rating] for sample in result.samples]


def test_forcing_asks_the_backend_for_the_templates_range():
    backend = RatingJudge()
    [result], _ = judge(backend, [rated("seven", 1)], single_settings(2, force_scores=True))
    assert backend.forced_ranges == [(1, 0, 1), (1, 0, 1)]
    assert all(sample.forced and sample.scores == [1] for sample in result.samples)
    assert result.correct is True


def test_a_single_response_split_evenly_is_decided_by_the_seeded_tie_break():
    # Scores 1 and 0: the voted rating is 0 or 1 at random, seeded by run and query, so for one query
    # exactly one label is right, and across queries both ratings come out.
    def voted(key, rating):
        return judge(RatingJudge(), [rated("mixed", rating, key=key)], single_settings(2))[0][0].correct

    for key in ("q1", "q2"):
        assert sorted([voted(key, 0), voted(key, 1)]) == [False, True]
        assert voted(key, 1) == voted(key, 1)
    assert len({voted(f"q{number}", 1) for number in range(20)}) == 2
