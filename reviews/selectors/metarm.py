"""Reads for the meta RM: the labelled judgments it trains on (Eq. 10, overridden by reviewers), the
samples a run still needs scored and their meta-RM inputs, what MetaRM@k votes over, and checkpoints."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When

from reviews.models import Annotation, MetaRmCheckpoint, Query, Release, Run, Sample, Verdict
from reviews.selectors.releases import release_rows
from workers.grm.prompts import Message, meta_rm_input


@dataclass(frozen=True)
class LabelledJudgment:
    """One judgment to train the meta RM on: its input, its 0/1 label and where the label came from."""

    sample_id: int | None  # None for a release's row
    query_id: int | str  # a release's row: "dataset/external id"
    messages: list[Message]
    label: int
    source: str  # "rule" (Eq. 10), "reviewer" or "adjudication"
    row: str = ""  # a release's row id (its content hash)


def _labelled(run_ids: Sequence[int]) -> QuerySet[Any]:  # Samples annotated with label, accepts, rejects
    """Parsed samples of the runs with their meta-RM label, the rule `reviews.exports.records.metarm_label`
    states for a metarm release (a test holds the two together): an admin's adjudication decides; else a
    reviewer's reject is 0 and a reviewer's accept 1 (the meta RM learns whether a judgment is right, so an
    accept needs no note here, unlike a rescue into RFT data); otherwise Eq. 10. Samples with none of these
    are left out, and so are parse failures: they never vote, so the meta RM never has to rank them."""
    rejects = Count("annotations", filter=Q(annotations__decision=Annotation.Decision.REJECT))
    accepts = Count("annotations", filter=Q(annotations__decision=Annotation.Decision.ACCEPT))
    adjudicated = Q(decision_source="adjudication")
    return (
        Sample.objects.filter(run_id__in=list(run_ids), parse_status=Sample.ParseStatus.OK)
        .annotate(rejects=rejects, accepts=accepts)
        .annotate(
            label=Case(
                When(adjudicated & Q(decision="accept"), then=Value(1)),
                When(adjudicated & Q(decision="reject"), then=Value(0)),
                When(rejects__gt=0, then=Value(0)),
                When(accepts__gt=0, then=Value(1)),
                When(correct=True, then=Value(1)),
                When(correct=False, then=Value(0)),
                default=Value(None),
                output_field=IntegerField(null=True),
            )
        )
        .filter(label__isnull=False)
    )


def training_label_counts(*, run_ids: Sequence[int]) -> dict[str, int]:
    """How many labelled judgments the runs hold, correct and not, and how many labels people set."""
    # One aggregate over the annotated samples (Django wraps them in a subquery).
    counts = (
        _labelled(run_ids)
        .order_by()
        .aggregate(
            total=Count("id"),
            positive=Count("id", filter=Q(label=1)),
            negative=Count("id", filter=Q(label=0)),
            reviewer=Count("id", filter=Q(accepts__gt=0) | Q(rejects__gt=0)),
        )
    )
    return {name: int(value or 0) for name, value in counts.items()}


def training_judgments(*, run_ids: Sequence[int]) -> list[LabelledJudgment]:
    """The labelled judgments of the runs, with their meta-RM inputs (GRM_SPEC section 2), by sample."""
    samples = list(
        _labelled(run_ids)
        .order_by("id")
        .values_list(
            "id", "query_id", "permutation", "principles", "critique", "label", "accepts", "rejects", "decision_source"
        )
    )
    queries = _queries_with_responses({row[1] for row in samples})
    judgments = []
    for sample_id, query_id, permutation, principles, critique, label, accepts, rejects, decided_by in samples:
        context, responses = queries[query_id]
        messages = meta_rm_input(
            context=context, responses=responses, permutation=permutation, principles=principles, critique=critique
        )
        source = "adjudication" if decided_by == "adjudication" else "reviewer" if accepts or rejects else "rule"
        judgments.append(LabelledJudgment(sample_id, query_id, messages, int(label), source))
    return judgments


def release_judgments(*, release: Release) -> list[LabelledJudgment]:
    """A metarm release's rows (train and validation) as labelled judgments: the meta RM's input is the
    row's prompt and completion, as exported (TRL's unpaired preference format)."""
    return [
        LabelledJudgment(
            sample_id=None,
            query_id=f"{row['dataset']}/{row['query_id']}",
            messages=[*row["prompt"], *row["completion"]],
            label=int(bool(row["label"])),
            source=row["source"],
            row=row["id"],
        )
        for row in release_rows(release)
    ]


def _queries_with_responses(query_ids: set[int]) -> dict[int, tuple[list[Message], list[str]]]:
    found: dict[int, tuple[list[Message], list[str]]] = {}
    ids = sorted(query_ids)
    for start in range(0, len(ids), 2000):
        for query in Query.objects.filter(id__in=ids[start : start + 2000]).prefetch_related("responses"):
            found[query.id] = (query.context, [response.text for response in query.responses.all()])
    return found


def meta_scoring_batches(*, run_id: int, batch_size: int) -> list[list[int]]:
    """Ids of the run's parsed samples with no meta score yet, in batches (scored ones are skipped, so a
    task delivered again goes on where the last one stopped)."""
    pending = list(
        Sample.objects.filter(run_id=run_id, parse_status=Sample.ParseStatus.OK, meta_score__isnull=True)
        .order_by("id")
        .values_list("id", flat=True)
    )
    return [pending[i : i + batch_size] for i in range(0, len(pending), batch_size)]


def meta_scoring_inputs(*, sample_ids: Sequence[int]) -> list[tuple[int, list[Message]]]:
    """Each sample's meta-RM input: the context, the responses in the order the sample saw them, and the
    sample's principles and critique."""
    samples = list(
        Sample.objects.filter(id__in=list(sample_ids))
        .order_by("id")
        .values_list("id", "query_id", "permutation", "principles", "critique")
    )
    queries = _queries_with_responses({row[1] for row in samples})
    return [
        (
            sample_id,
            meta_rm_input(
                context=queries[query_id][0],
                responses=queries[query_id][1],
                permutation=permutation,
                principles=principles,
                critique=critique,
            ),
        )
        for sample_id, query_id, permutation, principles, critique in samples
    ]


@dataclass(frozen=True)
class MetaVoteInput:
    """One query of a run as MetaRM@k sees it: its label and its valid samples' scores and meta scores."""

    query_id: int
    responses: int
    best_index: int | None
    rating: int | None
    scores: list[list[int]]
    meta_scores: list[float]


def meta_vote_inputs(*, run_id: int) -> Iterator[MetaVoteInput]:
    """The run's judged queries with their parsed, meta-scored samples, in sample order (chunks of 2,000)."""
    query_ids = list(Verdict.objects.filter(run_id=run_id).order_by("query_id").values_list("query_id", flat=True))
    for start in range(0, len(query_ids), 2000):
        chunk = query_ids[start : start + 2000]
        labels = {
            row[0]: row[1:]
            for row in Query.objects.filter(id__in=chunk)
            .annotate(responses_count=Count("responses"))
            .values_list("id", "responses_count", "best_index", "rating")
        }
        scored: dict[int, list[tuple[list[int], float]]] = defaultdict(list)
        for query_id, scores, meta_score in (
            Sample.objects.filter(
                run_id=run_id, query_id__in=chunk, parse_status=Sample.ParseStatus.OK, meta_score__isnull=False
            )
            .order_by("query_id", "sample_index")
            .values_list("query_id", "scores", "meta_score")
        ):
            scored[query_id].append((scores or [], float(meta_score or 0.0)))  # the filter guarantees both
        for query_id in chunk:
            responses, best_index, rating = labels[query_id]
            pairs = scored[query_id]
            yield MetaVoteInput(
                query_id, responses, best_index, rating, [p[0] for p in pairs], [float(p[1]) for p in pairs]
            )


def checkpoints_list() -> QuerySet[MetaRmCheckpoint]:
    return MetaRmCheckpoint.objects.select_related("created_by").prefetch_related("trained_on_runs")


def checkpoint_active() -> MetaRmCheckpoint | None:
    return MetaRmCheckpoint.objects.filter(is_active=True).first()


def checkpoints_ready() -> QuerySet[MetaRmCheckpoint]:
    return MetaRmCheckpoint.objects.filter(status=MetaRmCheckpoint.Status.READY).order_by("-is_active", "-created_at")


def run_queries_seen_in_training(*, run: Run) -> int:
    """How many of the run's judged queries its meta RM was trained on (judgments of the same queries in
    the checkpoint's training runs): MetaRM@k measured on them is optimistic."""
    if run.meta_checkpoint is None:
        return 0
    trained = Sample.objects.filter(run__in=run.meta_checkpoint.trained_on_runs.all()).values("query_id")
    return Verdict.objects.filter(run=run, query_id__in=trained).count()


def run_meta_progress(*, run: Run) -> dict[str, int]:
    """Scored and scorable samples of a run (parsed ones: only they vote)."""
    return Sample.objects.filter(run=run, parse_status=Sample.ParseStatus.OK).aggregate(
        scorable=Count("id"), scored=Count("id", filter=Q(meta_score__isnull=False))
    )
