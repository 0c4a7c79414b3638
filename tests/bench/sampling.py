"""Sampling throughput: the whole pipeline (Celery worker, engine, database) against a naive loop.

8 demo queries as real GRM prompts (default template), k = 4, exactly 128 new tokens per sample
(min_new_tokens), T = 0.5. Figures:
- sampling_vs_naive: pipeline tokens/s over a loop calling model.generate(num_return_sequences=k)
  one query at a time (which recomputes each prompt's prefill k times).
- sampling_orchestration_overhead: pipeline wall time over the time spent inside backend.generate.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings

from reviews.models import Dataset, Query, Run
from reviews.services.configs import defaults_ensure
from reviews.services.datasets import demo_load
from reviews.services.runs import run_create
from tests.processes import celery_worker, process_env

QUERIES = 8
K = 4
NEW_TOKENS = 128
TEMPERATURE = 0.5
ROOT = Path(settings.BASE_DIR)


def naive_loop(backend, prompts) -> float:
    """Seconds for model.generate(num_return_sequences=K) on each prompt in turn."""
    torch = backend.torch
    started = time.perf_counter()
    for prompt in prompts:
        input_ids = torch.tensor([backend.encode(prompt)], device=backend.device)
        with torch.inference_mode():
            backend.model.generate(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                do_sample=True,
                temperature=TEMPERATURE,
                top_k=0,
                top_p=1.0,
                num_return_sequences=K,
                max_new_tokens=NEW_TOKENS,
                min_new_tokens=NEW_TOKENS,
                pad_token_id=backend.pad_id,
            )
    return time.perf_counter() - started


def wait_done(run: Run, timeout: float) -> Run:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if not run.is_active:
            return run
        time.sleep(0.05)
    raise TimeoutError(f"run {run.id} did not finish in {timeout} s")


def bench_sampling() -> Iterator[tuple[str, float | int | str]]:
    from grmweb.celery import app
    from workers.backends.transformers_backend import TransformersBackend
    from workers.grm.prompts import build_prompt

    demo_load()
    template, model = defaults_ensure()
    dataset = Dataset.objects.get(name="demo")
    queries = list(Query.objects.filter(dataset=dataset).order_by("id").prefetch_related("responses")[:QUERIES])
    prompts = [
        build_prompt(
            template.text,
            context=query.context,
            responses=[response.text for response in query.responses.all()],
            permutation=list(range(query.responses.count())),
        ).messages
        for query in queries
    ]

    backend = TransformersBackend(model.model)
    prompt_tokens = [len(backend.encode(prompt)) for prompt in prompts]
    yield "sampling_device", backend.device
    yield "sampling_prompt_tokens_mean", round(sum(prompt_tokens) / len(prompt_tokens))
    naive_seconds = naive_loop(backend, prompts)
    total_tokens = QUERIES * K * NEW_TOKENS
    naive_rate = total_tokens / naive_seconds
    yield "sampling_naive_tokens_per_s", round(naive_rate, 1)
    del backend

    app.control.purge()
    log = Path(settings.DATA_DIR) / "bench-worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            celery_worker("-Q", "cpu,gpu", "--pool=solo", "-n", "bench@%h", "--loglevel=WARNING"),
            cwd=ROOT,
            env=process_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        # Warm-up: the worker loads the model once, as it would before a long run.
        warm = run_create(
            dataset=dataset,
            model_config=model,
            template=template,
            k=1,
            max_tokens=1,
            query_filter={"ids": [queries[0].id]},
        )
        wait_done(warm, 600)
        started = time.perf_counter()
        run = run_create(
            dataset=dataset,
            model_config=model,
            template=template,
            k=K,
            temperature=TEMPERATURE,
            max_tokens=NEW_TOKENS,
            min_tokens=NEW_TOKENS,
            batch_size=QUERIES,
            seed=1,
            query_filter={"ids": [query.id for query in queries]},
        )
        run = wait_done(run, 3600)
        wall = time.perf_counter() - started
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    if run.status != Run.Status.DONE or run.tokens_generated != total_tokens:
        raise RuntimeError(f"bench run ended {run.status} with {run.tokens_generated} tokens: {run.error_message}")
    pipeline_rate = run.tokens_generated / wall
    yield "sampling_pipeline_tokens_per_s", round(pipeline_rate, 1)
    yield "sampling_vs_naive", round(pipeline_rate / naive_rate, 2)
    yield "sampling_orchestration_overhead", round(wall / run.generation_seconds, 3)
