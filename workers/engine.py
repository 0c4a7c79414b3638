"""Judging queries with a GRM: prompts, one batched generate call, parsing, voting. No Django here.

Each sample shows the responses in its own seeded order; samples that drew the same order share one
prompt, whose prefill the backend computes once for all of them. Each sample also draws from its own
seed: a prompt gets a seed derived from (run seed, query, its first sample) and its j-th sample is
drawn with that seed + j (the backend protocol's rule), so no two samples share a random stream.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass

from workers.backends.base import Backend, Generation, Message
from workers.grm.parsing import Judgment, ParseStatus, parse_judgment
from workers.grm.prompts import build_prompt, sample_permutation, to_original_order
from workers.grm.results import QueryInput, QueryResult, SampleResult, Settings
from workers.grm.rft import is_correct
from workers.grm.voting import Vote, vote, vote_entropy, voted_rating

# Prompt seeds stay below this, so a prompt's sample seeds (seed + j, j < 1024; k is at most 64)
# fit the signed 64-bit seed that vLLM and torch take.
SEED_LIMIT = 2**63 - 1024


@dataclass(frozen=True)
class _PromptGroup:
    """One prompt to generate: the samples of one query that drew the same response order."""

    query_number: int
    order: tuple[int, ...]
    sample_indexes: list[int]
    messages: list[Message]
    hinted: bool
    seed: int  # sample j of the group is drawn with seed + j


@dataclass(frozen=True)
class Oversize:
    """A query that cannot be judged whole: its longest prompt and max tokens exceed the model's window."""

    key: str
    prompt_tokens: int
    window: int


def fit_window(
    backend: Backend, queries: Sequence[QueryInput], settings: Settings
) -> tuple[list[QueryInput], list[Oversize]]:
    """The queries whose every prompt, with max tokens to generate, fits the backend's context window,
    and the others. Judged anyway, a longer prompt is cut by the backend or leaves no room for the score
    line, and its judgment (forced scores, often) would be stored as if it were one. A backend that
    cannot count tokens or knows no window (a remote server) lets every query through."""
    window_of = getattr(backend, "context_window", None)
    count = getattr(backend, "prompt_tokens", None)
    window = window_of() if window_of is not None else None
    if window is None or count is None:
        return list(queries), []
    fitting: list[QueryInput] = []
    oversize: list[Oversize] = []
    for number, query in enumerate(queries):
        lengths = [count(group.messages) for group in _prompt_groups(number, query, settings)]
        longest = max((length for length in lengths if length is not None), default=0)
        if longest + settings.max_tokens > window:
            oversize.append(Oversize(query.key, longest, window))
        else:
            fitting.append(query)
    return fitting, oversize


def derived_seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:8], "big")


def judge(backend: Backend, queries: Sequence[QueryInput], settings: Settings) -> tuple[list[QueryResult], float]:
    """k judgments per query; returns the results and the seconds spent inside backend.generate."""
    groups = [group for number, query in enumerate(queries) for group in _prompt_groups(number, query, settings)]
    outputs, generate_seconds = _generate(backend, groups, settings)
    latency_ms = int(1000 * generate_seconds / max(1, sum(len(group.sample_indexes) for group in groups)))
    per_query: list[list[SampleResult]] = [[] for _ in queries]
    for group, generations in zip(groups, outputs, strict=True):
        query = queries[group.query_number]
        per_query[group.query_number].extend(
            _sample_results(backend, query, group, generations, settings=settings, latency_ms=latency_ms)
        )
    results = [_query_result(query, samples, settings) for query, samples in zip(queries, per_query, strict=True)]
    return results, generate_seconds


def _prompt_groups(query_number: int, query: QueryInput, settings: Settings) -> list[_PromptGroup]:
    """One prompt per distinct response order among the query's k samples, with its samples and seed."""
    orders: dict[tuple[int, ...], list[int]] = {}
    for sample_index in range(settings.k):
        permutation = sample_permutation(
            len(query.responses), seed=settings.seed, query_key=query.key, sample_index=sample_index
        )
        orders.setdefault(tuple(permutation), []).append(sample_index)
    groups = []
    for order, sample_indexes in orders.items():
        prompt = build_prompt(
            settings.template,
            context=query.context,
            responses=query.responses,
            permutation=order,
            hint_best=query.best_index if settings.hinted else None,
        )
        groups.append(
            _PromptGroup(
                query_number=query_number,
                order=order,
                sample_indexes=sample_indexes,
                messages=prompt.messages,
                hinted=prompt.hinted,
                seed=derived_seed(settings.seed, query.key, "sample", sample_indexes[0]) % SEED_LIMIT,
            )
        )
    return groups


def _generate(
    backend: Backend, groups: Sequence[_PromptGroup], settings: Settings
) -> tuple[list[list[Generation]], float]:
    """One backend call for every prompt: each group's samples, and the seconds it took."""
    counts = [len(group.sample_indexes) for group in groups]
    greedy = settings.temperature == 0
    started = time.perf_counter()
    outputs = backend.generate(
        [group.messages for group in groups],
        # Greedy samples of one prompt are identical: generate one and copy it (vLLM refuses n > 1).
        n=[1] * len(groups) if greedy else counts,
        temperature=settings.temperature,
        max_tokens=settings.max_tokens,
        seed=[group.seed for group in groups],
        min_tokens=settings.min_tokens,
    )
    seconds = time.perf_counter() - started
    if greedy:
        outputs = [generations[:1] * count for generations, count in zip(outputs, counts, strict=True)]
    return outputs, seconds


def _sample_results(
    backend: Backend,
    query: QueryInput,
    group: _PromptGroup,
    generations: Sequence[Generation],
    *,
    settings: Settings,
    latency_ms: int,
) -> list[SampleResult]:
    """Parse each generation of one prompt (forcing scores if asked) and map its scores back."""
    results = []
    for sample_index, generation in zip(group.sample_indexes, generations, strict=True):
        text, judgment, forced = _scored_judgment(
            backend, group.messages, generation.text, n_responses=len(query.responses), settings=settings
        )
        scores = to_original_order(judgment.scores, group.order) if judgment.scores is not None else None
        results.append(
            SampleResult(
                sample_index=sample_index,
                permutation=list(group.order),
                raw_text=text,
                judgment=judgment,
                scores=scores,
                forced=forced,
                hinted=group.hinted,
                prompt_tokens=generation.prompt_tokens,
                completion_tokens=generation.completion_tokens,
                latency_ms=latency_ms,
                correct=is_correct(scores, best_index=query.best_index, rating=query.rating),
            )
        )
    return results


def _scored_judgment(
    backend: Backend, messages: Sequence[Message], text: str, *, n_responses: int, settings: Settings
) -> tuple[str, Judgment, bool]:
    """(text, judgment, forced): the parsed sample, or its forced continuation when asked and it parses."""
    low, high = settings.score_low, settings.score_high
    judgment = parse_judgment(text, n_responses, low=low, high=high)
    if judgment.valid or not settings.force_scores:
        return text, judgment, False
    forced_text = backend.force_scores(messages, text, n_responses=n_responses, low=low, high=high)
    if forced_text is not None:
        forced_judgment = parse_judgment(forced_text, n_responses, low=low, high=high)
        if forced_judgment.valid:
            return forced_text, forced_judgment, True
    return text, judgment, False


def _query_result(query: QueryInput, samples: list[SampleResult], settings: Settings) -> QueryResult:
    """Voting@k over the query's valid samples (in sample order), its entropy and correctness."""
    samples = sorted(samples, key=lambda sample: sample.sample_index)
    valid = [sample.scores for sample in samples if sample.scores is not None]
    seed = derived_seed(settings.seed, query.key, "vote")
    result = vote(valid, len(query.responses), seed=seed)
    correct = verdict_correct(result, query, seed=seed)
    return QueryResult(query=query, samples=samples, vote=result, entropy=vote_entropy(valid), correct=correct)


def verdict_correct(result: Vote, query: QueryInput, *, seed: int) -> bool | None:
    """Whether a vote got the query right; None when it is unlabelled.

    n >= 2: the chosen best is the labelled best (no valid sample chooses nothing: wrong). n = 1: the
    voted rating (the valid samples' mean score, a half broken at random with `seed`) equals the
    labelled rating, a 0/1 correctness label included.
    """
    if len(query.responses) == 1:
        return None if query.rating is None else voted_rating(result, seed=seed) == query.rating
    if query.best_index is None:
        return None
    return result.best_index == query.best_index


__all__ = [
    "ParseStatus",
    "QueryInput",
    "QueryResult",
    "SampleResult",
    "Settings",
    "derived_seed",
    "judge",
    "verdict_correct",
]
