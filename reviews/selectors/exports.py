"""Reads for building releases: the rows an export definition selects, streamed in chunks with what
their prompts need, in an order that puts duplicates side by side (by the query's content hash)."""

from __future__ import annotations

import functools
import json
import queue
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, TextField, Value
from django.db.models.functions import Cast

from reviews.exports.records import QueryText, RunInfo, SampleRow
from reviews.models import Annotation, PromptTemplate, Query, Response, Run, Sample
from reviews.selectors.datasets import subset_condition

CHUNK = 2000
READ_AHEAD = 2  # chunks read before the caller asks: a few MB


@dataclass(frozen=True)
class ExportFilters:
    """What a release selects (docs/exports.md); empty means everything."""

    datasets: list[str] = field(default_factory=list)
    subsets: list[str] = field(default_factory=list)
    runs: list[int] = field(default_factory=list)
    round: int | None = None
    reviewer_accepted: bool = False
    failure_mode: str = ""
    since: date | None = None
    until: date | None = None


def _sample_condition(kind: str) -> Q:
    if kind == "rft_sft":
        return Q(decision="accept")
    if kind == "rejected":
        return Q(decision="reject")
    if kind == "pairs":
        return Q(decision__in=["accept", "reject"])
    # metarm: parsed, with a label from people or from Eq. 10 (records.metarm_label decides)
    reviewed = Exists(Annotation.objects.filter(sample=OuterRef("pk")))
    return Q(parse_status=Sample.ParseStatus.OK) & (reviewed | Q(correct__isnull=False))


def export_samples(*, kind: str, filters: ExportFilters) -> QuerySet[Sample]:
    """The samples a sample-level kind (every kind but rl_prompts) reads."""
    samples = Sample.objects.filter(_sample_condition(kind))
    if filters.datasets:
        samples = samples.filter(query__dataset__name__in=filters.datasets)
    if filters.subsets:
        samples = samples.filter(subset_condition(filters.subsets, via="query__"))
    if filters.runs:
        samples = samples.filter(run_id__in=filters.runs)
    if filters.round is not None:
        samples = samples.filter(run__rft_round__number=filters.round)
    if filters.since is not None:
        samples = samples.filter(created_at__date__gte=filters.since)
    if filters.until is not None:
        samples = samples.filter(created_at__date__lte=filters.until)
    if filters.reviewer_accepted:
        accepted = Annotation.objects.filter(sample=OuterRef("pk"), decision=Annotation.Decision.ACCEPT)
        samples = samples.filter(Exists(accepted), decision="accept")
    if filters.failure_mode:
        tagged = Annotation.objects.filter(sample=OuterRef("pk"), failure_modes__code=filters.failure_mode)
        samples = samples.filter(Exists(tagged))
    return samples


def export_queries(*, filters: ExportFilters) -> QuerySet[Query]:
    """The labelled queries rl_prompts reads: of the datasets, or of the runs and round named."""
    queries = Query.objects.filter(Q(best_index__isnull=False) | Q(rating__isnull=False))
    if filters.datasets:
        queries = queries.filter(dataset__name__in=filters.datasets)
    if filters.subsets:
        queries = queries.filter(subset_condition(filters.subsets))
    runs = export_runs(filters=filters)
    if runs is not None:
        queries = queries.filter(Exists(Sample.objects.filter(query=OuterRef("pk"), run_id__in=runs)))
    if filters.since is not None:
        queries = queries.filter(created_at__date__gte=filters.since)
    if filters.until is not None:
        queries = queries.filter(created_at__date__lte=filters.until)
    return queries


def export_runs(*, filters: ExportFilters) -> list[int] | None:
    """The runs the filters name (runs, round), or None when they name none."""
    if not filters.runs and filters.round is None:
        return None
    runs = Run.objects.all()
    if filters.runs:
        runs = runs.filter(id__in=filters.runs)
    if filters.round is not None:
        runs = runs.filter(rft_round__number=filters.round)
    return list(runs.order_by("id").values_list("id", flat=True))


def run_infos(run_ids: Sequence[int]) -> dict[int, RunInfo]:
    runs = Run.objects.filter(id__in=list(run_ids)).select_related("template", "model_config")
    return {run.id: _run_info(run.template, run.model_config.name) for run in runs}


def _run_info(template: PromptTemplate, model: str) -> RunInfo:
    return RunInfo(template_text=template.text, template=f"{template.name} v{template.version}", model=model)


def default_run_info() -> RunInfo:
    """The default template, for rl_prompts of datasets no run is named for."""
    template = PromptTemplate.objects.filter(is_default=True).first() or PromptTemplate.objects.order_by("id").first()
    if template is None:
        raise LookupError("no prompt template: run grm_setup first")
    return _run_info(template, "")


def _query_texts(query_ids: set[int]) -> dict[int, QueryText]:
    """Two statements for a chunk's queries: their fields, then their responses in order (plain rows,
    no model instances: this runs once per chunk of a release of any size)."""
    ids = sorted(query_ids)
    responses: dict[int, list[str]] = defaultdict(list)
    for query_id, text in (
        Response.objects.filter(query_id__in=ids).order_by("query_id", "position").values_list("query_id", "text")
    ):
        responses[query_id].append(text)
    fields = ("id", "external_id", "dataset__name", "subset", "context", "best_index", "rating", "content_hash")
    return {
        query_id: QueryText(
            external_id=external_id,
            dataset=dataset,
            subset=subset,
            context=context,
            responses=responses[query_id],
            best_index=best_index,
            rating=rating,
            content_hash=content_hash,
        )
        for query_id, external_id, dataset, subset, context, best_index, rating, content_hash in (
            Query.objects.filter(id__in=ids).values_list(*fields)
        )
    }


_SAMPLE_FIELDS = (
    "id",
    "run_id",
    "query_id",
    "sample_index",
    "permutation",
    "raw_text",
    "principles",
    "critique",
    "hinted",
    "correct",
    "parse_status",
    "decision",
    "decision_reason",
    "decision_source",
)


Chunk = tuple[list[SampleRow], dict[int, QueryText]]


def export_sample_chunks(
    samples: QuerySet[Sample],
    *,
    with_annotations: bool = False,
    with_reasoning: bool = True,
    read_ahead: bool | None = None,
) -> Iterator[Chunk]:
    """The samples in chunks, ordered by (query content hash, query, run, id): a query's samples, and
    the samples of identical queries, come together. Each chunk comes with its queries' texts and, for
    `with_annotations`, the reviewers' verdicts, failure modes and notes on each sample.

    `read_ahead` (by default: on PostgreSQL, outside a transaction, as a worker builds) reads in a
    thread of its own, on a connection of its own, while the caller works on the chunk before: the
    caller never waits for the database. That connection reads in one REPEATABLE READ transaction, so
    the chunks are one snapshot of the database, streamed as PostgreSQL sorts them. Inside a
    transaction (a test's, or a caller's atomic block) the chunks are read inline, since another
    connection would not see its uncommitted rows; SQLite reads inline too (a reading transaction
    there would hold up the caller's progress writes).
    """
    if read_ahead is None:
        read_ahead = connection.vendor == "postgresql" and not connection.in_atomic_block
    chunks = functools.partial(_sample_chunks, samples, with_annotations, with_reasoning)
    return _read_ahead(chunks) if read_ahead else chunks()


def _read_ahead(chunks: Callable[[], Iterator[Chunk]]) -> Iterator[Chunk]:
    """`chunks()` run in a reading thread, at most READ_AHEAD chunks ahead of the caller. Its error is
    raised in the caller; the caller stopping early stops it (and its transaction rolls back)."""
    ready: queue.Queue[tuple[Chunk | None, BaseException | None]] = queue.Queue(maxsize=READ_AHEAD)
    stop = threading.Event()

    def hand(item: tuple[Chunk | None, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    with connection.cursor() as cursor:  # the transaction's first statement
                        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                for chunk in chunks():
                    if not hand((chunk, None)):
                        return
            hand((None, None))
        except BaseException as error:  # raised again in the caller's thread
            hand((None, error))
        finally:
            connection.close()  # this thread's own connection

    reader = threading.Thread(target=read, name="release-reader", daemon=True)
    reader.start()
    try:
        while True:
            chunk, error = ready.get()
            if error is not None:
                raise error
            if chunk is None:
                return
            yield chunk
    finally:
        stop.set()
        reader.join()


def _sample_chunks(samples: QuerySet[Sample], with_annotations: bool, with_reasoning: bool) -> Iterator[Chunk]:
    fields: list[Any] = [F(name) for name in _SAMPLE_FIELDS]
    # The shown order as its JSON text: a run shows a query's responses in a few orders, parsed once
    # each below, where Django's JSONField would decode every row's.
    fields[_SAMPLE_FIELDS.index("permutation")] = Cast("permutation", TextField())
    if not with_reasoning:  # principles and critique: only the metarm rows read them; "" for the others
        for name in ("principles", "critique"):
            fields[_SAMPLE_FIELDS.index(name)] = Value("")
    rows = samples.order_by("query__content_hash", "query_id", "run_id", "id").values_list(*fields)
    chunk: list[tuple[Any, ...]] = []
    permutations: dict[str, list[int]] = {}
    for row in rows.iterator(chunk_size=CHUNK):
        chunk.append(row)
        if len(chunk) >= CHUNK:
            yield _materialize(chunk, with_annotations, permutations)
            chunk = []
    if chunk:
        yield _materialize(chunk, with_annotations, permutations)


def _materialize(
    chunk: list[tuple[Any, ...]], with_annotations: bool, permutations: dict[str, list[int]]
) -> tuple[list[SampleRow], dict[int, QueryText]]:
    modes: dict[int, set[str]] = defaultdict(set)
    notes: dict[int, list[str]] = defaultdict(list)
    verdicts: dict[int, list[str]] = defaultdict(list)
    if with_annotations:
        ids = [row[0] for row in chunk]
        annotations = Annotation.objects.filter(sample_id__in=ids).order_by("id")
        for sample_id, decision, note in annotations.values_list("sample_id", "decision", "note"):
            verdicts[sample_id].append(decision)
            if note.strip():
                notes[sample_id].append(note.strip())
        tagged = Annotation.objects.filter(sample_id__in=ids, failure_modes__isnull=False)
        for sample_id, code in tagged.values_list("sample_id", "failure_modes__code"):
            modes[sample_id].add(code)
    samples = []
    accept, reject, ok = Annotation.Decision.ACCEPT, Annotation.Decision.REJECT, Sample.ParseStatus.OK
    for (
        sample_id,
        run_id,
        query_id,
        index,
        permutation_json,
        raw_text,
        principles,
        critique,
        hinted,
        correct,
        parse_status,
        decision,
        reason,
        source,
    ) in chunk:
        permutation = permutations.get(permutation_json)
        if permutation is None:
            permutation = permutations[permutation_json] = json.loads(permutation_json)
        row = SampleRow(
            id=sample_id,
            run_id=run_id,
            query_id=query_id,
            sample_index=index,
            permutation=permutation,
            raw_text=raw_text,
            principles=principles,
            critique=critique,
            hinted=hinted,
            correct=correct,
            parsed=parse_status == ok,
            decision=decision,
            reason=reason,
            source=source,
        )
        if sample_id in verdicts or sample_id in modes:
            row.failure_modes = sorted(modes.get(sample_id, ()))
            row.notes = notes.get(sample_id, [])
            row.accepts = verdicts[sample_id].count(accept)
            row.rejects = verdicts[sample_id].count(reject)
        samples.append(row)
    return samples, _query_texts({sample.query_id for sample in samples})


def export_query_chunks(queries: QuerySet[Query]) -> Iterator[dict[int, QueryText]]:
    """The queries in chunks, ordered by content hash then id."""
    ids: list[int] = []
    for query_id in queries.order_by("content_hash", "id").values_list("id", flat=True).iterator(chunk_size=CHUNK):
        ids.append(query_id)
        if len(ids) >= CHUNK:
            texts = _query_texts(set(ids))
            yield {query_id: texts[query_id] for query_id in ids}
            ids = []
    if ids:
        texts = _query_texts(set(ids))
        yield {query_id: texts[query_id] for query_id in ids}
