"""Meta RM scoring throughput: the whole task (selector reads, the scorer, score writes, MetaRM@k
verdicts) against a raw batched forward pass of the same model on the same token sequences.

A run of the 40 demo queries x GRM_BENCH_METARM_K stored judgments (default 4) is scored by a meta RM
on the default backbone (an untrained head: throughput does not depend on the weights). The model is
loaded before timing in both cases (a worker loads it once). Figures:
- metarm_scoring_samples_per_second: through `workers.tasks.gpu_metarm_score`.
- metarm_forward_samples_per_second: `batched_logits` over the same sequences (length-sorted batches of
  the scorer's size), tokenization done beforehand.
- metarm_scoring_vs_forward: the first over the second (target >= 0.9).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import torch
from django.conf import settings

from reviews.models import MetaRmCheckpoint, Query, Run, Sample, Verdict
from reviews.selectors.metarm import meta_scoring_inputs
from reviews.services.configs import defaults_ensure
from reviews.services.datasets import demo_load
from workers import runtime, tasks
from workers.backends.default_model import DEFAULT_MODEL
from workers.metarm.model import batched_logits, new_metarm, trainable_backbone


def _run_with_judgments(k: int) -> Run:
    demo_load()
    template, model = defaults_ensure()
    queries = list(Query.objects.filter(dataset__name="demo").prefetch_related("responses").order_by("id"))
    run = Run.objects.create(
        dataset=queries[0].dataset, model_config=model, template=template, k=k, status=Run.Status.DONE
    )
    samples, verdicts = [], []
    for query in queries:
        n = len(query.responses.all())
        for index in range(k):
            scores = [((index + position) % 10) + 1 for position in range(n)]
            samples.append(
                Sample(
                    run=run,
                    query=query,
                    sample_index=index,
                    permutation=list(range(n)),
                    raw_text="",
                    principles="1. Correctness (weight 50%): the answer must be right. 2. Clarity (weight 50%).",
                    critique=" ".join(f"Response {p + 1} is judged on its merits, point {index}." for p in range(n)),
                    scores=scores,
                    parse_status=Sample.ParseStatus.OK,
                    correct=index % 2 == 0,
                )
            )
        verdicts.append(Verdict(run=run, query=query, vote_totals=[0] * n))
    Sample.objects.bulk_create(samples)
    Verdict.objects.bulk_create(verdicts)
    return run


def bench_metarm() -> Iterator[tuple[str, float | int | str]]:
    run = _run_with_judgments(int(os.environ.get("GRM_BENCH_METARM_K", "4")))
    with tempfile.TemporaryDirectory(prefix="metarm-bench-") as folder:
        backbone = trainable_backbone(DEFAULT_MODEL, cache_dir=Path(settings.GRM_METARM_DIR) / "cache")
        model, tokenizer = new_metarm(backbone, dtype=torch.float32, device="cpu")
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        del model
        checkpoint = MetaRmCheckpoint.objects.create(name="bench", status="ready", location=folder)
        Run.objects.filter(pk=run.pk).update(meta_checkpoint=checkpoint, meta_status=Run.MetaStatus.QUEUED)
        scorer = runtime.metarm_scorer_for(folder)  # loaded once, as in a worker
        sample_ids = list(Sample.objects.filter(run=run).order_by("id").values_list("id", flat=True))
        sequences = scorer.encode([messages for _, messages in meta_scoring_inputs(sample_ids=sample_ids)])
        yield "metarm_bench_samples", len(sequences)
        yield "metarm_bench_mean_tokens", round(sum(map(len, sequences)) / len(sequences))

        started = time.perf_counter()
        batched_logits(scorer.model, sequences, pad_id=scorer.pad_id, batch_size=scorer.batch_size)
        forward = time.perf_counter() - started

        started = time.perf_counter()
        scored = tasks.gpu_metarm_score(run.id)
        through_task = time.perf_counter() - started
        runtime.release_backends()
    run.refresh_from_db()
    if scored != len(sequences) or run.meta_status != Run.MetaStatus.DONE:
        raise RuntimeError(f"the task scored {scored} of {len(sequences)} samples: {run.meta_error}")
    yield "metarm_forward_samples_per_second", round(len(sequences) / forward, 2)
    yield "metarm_scoring_samples_per_second", round(scored / through_task, 2)
    yield "metarm_scoring_vs_forward", round(forward / through_task, 3)
