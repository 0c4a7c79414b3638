"""Judged batches as the engine hands them to `run_store_results`, built from chosen scores."""

from __future__ import annotations

from collections.abc import Sequence

from reviews.models import Query, Run
from reviews.services.runs import run_store_results
from workers.grm.parsing import Judgment, ParseStatus
from workers.grm.results import QueryInput, QueryResult, SampleResult
from workers.grm.rft import is_correct
from workers.grm.voting import vote


def judged(query: Query, samples: Sequence[list[int] | None], *, hinted: bool = False) -> QueryResult:
    """One query's samples with these scores (original order; None: no valid scores), and their vote."""
    n = len(next((scores for scores in samples if scores is not None), [0, 0]))
    results = []
    for index, scores in enumerate(samples):
        status = ParseStatus.OK if scores is not None else ParseStatus.NO_SCORES
        results.append(
            SampleResult(
                sample_index=index,
                permutation=list(range(n)),
                raw_text=f"Scores: \\boxed{{{', '.join(map(str, scores or []))}}}",
                judgment=Judgment("principles", "critique", scores, status, sections_missing=False),
                scores=scores,
                forced=False,
                hinted=hinted,
                prompt_tokens=10,
                completion_tokens=5,
                latency_ms=1,
                correct=is_correct(scores, best_index=query.best_index, rating=query.rating),
            )
        )
    result = vote([scores for scores in samples if scores is not None], n, seed=0)
    correct = None if query.best_index is None else result.best_index == query.best_index
    query_input = QueryInput(str(query.pk), query.context, ["a"] * n, query.best_index, query.rating)
    return QueryResult(query=query_input, samples=results, vote=result, entropy=0.0, correct=correct)


def store(run: Run, results: Sequence[QueryResult]) -> None:
    """Store a batch as the task does (the run is running while it judges)."""
    Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING, queries_total=len(results))
    run_store_results(run_id=run.pk, results=results, generation_seconds=1.0)
