"""Reads for rejective fine-tuning rounds: the list with its counts, and a round's page (its runs with
Voting@k and MetaRM@k accuracy and their RFT decisions, its parent and children, its releases), each in
a fixed number of SQL statements however many runs, verdicts or samples a round holds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from reviews.models import Release, Round, Run, Sample, Verdict
from workers.grm.rft import Decision

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class RoundCounts(TypedDict):
    run_count: int
    release_count: int


def _count_per_round(rows: QuerySet[Run] | QuerySet[Release]) -> Coalesce:
    """How many of `rows` belong to the outer round, as a subquery (two joined counts would multiply)."""
    counted = rows.filter(rft_round=OuterRef("pk")).order_by().values("rft_round").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def rounds_list() -> QuerySet[WithAnnotations[Round, RoundCounts]]:
    """Rounds, latest first, with their parent, evaluated model, and how many runs and releases each has."""
    return Round.objects.select_related("parent", "model_config", "created_by").annotate(
        run_count=_count_per_round(Run.objects.all()), release_count=_count_per_round(Release.objects.all())
    )


def round_for_page(*, number: int) -> WithAnnotations[Round, RoundCounts]:
    """The round numbered `number` (Round.DoesNotExist if none), with its parent and evaluated model."""
    return rounds_list().get(number=number)


def _share(right: int, total: int) -> float | None:
    return right / total if total else None


@dataclass(frozen=True)
class RoundRun:
    """One run of a round: Voting@k and MetaRM@k over its labelled verdicts, and its samples' RFT decisions."""

    run: Run
    voting_total: int = 0
    voting_right: int = 0
    meta_total: int = 0
    meta_right: int = 0
    accepted: int = 0
    rejected: int = 0
    held: int = 0

    @property
    def voting_accuracy(self) -> float | None:
        return _share(self.voting_right, self.voting_total)

    @property
    def meta_accuracy(self) -> float | None:
        return _share(self.meta_right, self.meta_total)


@dataclass(frozen=True)
class RoundPage:
    round: Round
    children: list[Round]
    runs: list[RoundRun]
    releases: list[Release]

    @property
    def parent(self) -> Round | None:
        return self.round.parent


def _counts(row: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in row.items() if name != "run_id"}


def round_page(*, round: Round) -> RoundPage:
    """What the round page and the API's round show: five statements, whatever the round holds."""
    children = list(Round.objects.filter(parent=round).order_by("number"))
    runs = list(
        Run.objects.filter(rft_round=round).select_related("dataset", "model_config", "template").order_by("id")
    )
    verdicts: dict[int, dict[str, Any]] = {
        row["run_id"]: _counts(row)
        for row in Verdict.objects.filter(run__rft_round=round)
        .order_by()
        .values("run_id")
        .annotate(
            voting_total=Count("id", filter=Q(correct__isnull=False)),
            voting_right=Count("id", filter=Q(correct=True)),
            meta_total=Count("id", filter=Q(meta_correct__isnull=False)),
            meta_right=Count("id", filter=Q(meta_correct=True)),
        )
    }
    decisions: dict[int, dict[str, Any]] = {
        row["run_id"]: _counts(row)
        for row in Sample.objects.filter(run__rft_round=round)
        .order_by()  # Sample's default ordering would otherwise join the GROUP BY
        .values("run_id")
        .annotate(
            accepted=Count("id", filter=Q(decision=Decision.ACCEPT)),
            rejected=Count("id", filter=Q(decision=Decision.REJECT)),
            held=Count("id", filter=Q(decision=Decision.HELD)),
        )
    }
    releases = list(Release.objects.filter(rft_round=round).select_related("created_by"))
    return RoundPage(
        round=round,
        children=children,
        runs=[RoundRun(run=run, **verdicts.get(run.pk, {}), **decisions.get(run.pk, {})) for run in runs],
        releases=releases,
    )
