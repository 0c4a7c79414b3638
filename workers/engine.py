"""Judging queries with a GRM: prompts, one batched generate call, parsing, voting. No Django here.

Each sample shows the responses in its own seeded order; samples that drew the same order share one
prompt, whose prefill the backend computes once for all of them.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass

from workers.backends.base import Backend, Message
from workers.grm.parsing import Judgment, ParseStatus, parse_judgment
from workers.grm.prompts import build_prompt, sample_permutation, to_original_order
from workers.grm.rft import is_correct
from workers.grm.voting import Vote, vote, vote_entropy


@dataclass(frozen=True)
class QueryInput:
    key: str  # stable identity for seeding (the query's database id)
    context: list[Message]
    responses: list[str]
    best_index: int | None = None
    rating: int | None = None


@dataclass(frozen=True)
class SampleResult:
    sample_index: int
    permutation: list[int]
    raw_text: str
    judgment: Judgment
    scores: list[int] | None  # original order
    forced: bool
    hinted: bool
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int
    correct: bool | None


@dataclass(frozen=True)
class QueryResult:
    query: QueryInput
    samples: list[SampleResult]
    vote: Vote
    entropy: float
    correct: bool | None


@dataclass(frozen=True)
class Settings:
    template: str
    k: int
    temperature: float
    max_tokens: int
    seed: int
    hinted: bool = False
    force_scores: bool = False
    min_tokens: int = 0


def derived_seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:8], "big")


def judge(backend: Backend, queries: Sequence[QueryInput], settings: Settings) -> tuple[list[QueryResult], float]:
    """k judgments per query; returns the results and the seconds spent inside backend.generate."""
    prompts: list[list[Message]] = []
    counts: list[int] = []
    owners: list[tuple[int, tuple[int, ...], list[int], bool]] = []
    for query_number, query in enumerate(queries):
        groups: dict[tuple[int, ...], list[int]] = {}
        for sample_index in range(settings.k):
            permutation = sample_permutation(
                len(query.responses), seed=settings.seed, query_key=query.key, sample_index=sample_index
            )
            groups.setdefault(tuple(permutation), []).append(sample_index)
        for shown_order, sample_indexes in groups.items():
            prompt = build_prompt(
                settings.template,
                context=query.context,
                responses=query.responses,
                permutation=shown_order,
                hint_best=query.best_index if settings.hinted else None,
            )
            prompts.append(prompt.messages)
            counts.append(len(sample_indexes))
            owners.append((query_number, shown_order, sample_indexes, prompt.hinted))

    greedy = settings.temperature == 0
    started = time.perf_counter()
    outputs = backend.generate(
        prompts,
        # Greedy samples of one prompt are identical: generate one and copy it (vLLM refuses n > 1).
        n=[1] * len(prompts) if greedy else counts,
        temperature=settings.temperature,
        max_tokens=settings.max_tokens,
        seed=settings.seed,
        min_tokens=settings.min_tokens,
    )
    generate_seconds = time.perf_counter() - started
    if greedy:
        outputs = [generations[:1] * count for generations, count in zip(outputs, counts, strict=True)]
    latency_ms = int(1000 * generate_seconds / max(1, sum(counts)))

    per_query: list[list[SampleResult]] = [[] for _ in queries]
    for messages, (query_number, order, sample_indexes, hinted), generations in zip(
        prompts, owners, outputs, strict=True
    ):
        query = queries[query_number]
        for sample_index, generation in zip(sample_indexes, generations, strict=True):
            text = generation.text
            judgment = parse_judgment(text, len(query.responses))
            forced = False
            if not judgment.valid and settings.force_scores:
                forced_text = backend.force_scores(messages, text, n_responses=len(query.responses))
                if forced_text is not None:
                    forced_judgment = parse_judgment(forced_text, len(query.responses))
                    if forced_judgment.valid:
                        text, judgment, forced = forced_text, forced_judgment, True
            scores = to_original_order(judgment.scores, order) if judgment.scores is not None else None
            per_query[query_number].append(
                SampleResult(
                    sample_index=sample_index,
                    permutation=list(order),
                    raw_text=text,
                    judgment=judgment,
                    scores=scores,
                    forced=forced,
                    hinted=hinted,
                    prompt_tokens=generation.prompt_tokens,
                    completion_tokens=generation.completion_tokens,
                    latency_ms=latency_ms,
                    correct=is_correct(scores, best_index=query.best_index, rating=query.rating),
                )
            )
    results = []
    for query, samples in zip(queries, per_query, strict=True):
        samples.sort(key=lambda sample: sample.sample_index)
        valid = [sample.scores for sample in samples if sample.scores is not None]
        result = vote(valid, len(query.responses), seed=derived_seed(settings.seed, query.key, "vote"))
        results.append(
            QueryResult(
                query=query,
                samples=samples,
                vote=result,
                entropy=vote_entropy(valid),
                correct=verdict_correct(result, query),
            )
        )
    return results, generate_seconds


def verdict_correct(result: Vote, query: QueryInput) -> bool | None:
    """Voting@k is right when the chosen best is the labelled best; rating-only queries have no best."""
    if query.best_index is None or len(query.responses) < 2:
        return None
    return result.best_index == query.best_index


__all__ = ["ParseStatus", "QueryInput", "QueryResult", "SampleResult", "Settings", "judge"]
