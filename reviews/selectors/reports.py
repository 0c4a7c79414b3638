"""Reads for run reports: the stored report's scaling curves as rows (page, chart, JSON and CSV
downloads), the chance level and the greedy baseline drawn beside them, and the comparison of two runs
of one dataset (agreement counts and the queries whose verdict flipped).

A report is written by the worker (`workers.tasks.run_report`): version 2 holds `scaling` (Voting@k and
MetaRM@k with bootstrap bands, overall and per subset); older ones hold `voting_curve` / `meta_curve`
(value by k, no bands) and are shown as they are until an admin recomputes them.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Avg, Count, F, FilteredRelation, FloatField, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Cast

from reviews.errors import InvalidInput
from reviews.models import Query, Response, Run
from reviews.selectors.runs import run_accuracy

# (key in the stored report, label on the page)
CURVES = (("voting", "Voting@k"), ("metarm", "MetaRM@k"))
OLD_CURVES = (("voting", "voting_curve"), ("metarm", "meta_curve"))
CSV_HEADER = ("subset", "curve", "k", "value", "low", "high", "stderr", "exact")
FLIPS_PER_PAGE = 50


@dataclass(frozen=True)
class CurvePoint:
    """One k of a curve: the value, its 95% bootstrap band over queries, and the Monte Carlo error when
    the size-k subsets of samples were sampled rather than enumerated (None when exact)."""

    k: int
    value: float
    low: float | None = None
    high: float | None = None
    stderr: float | None = None
    exact: bool | None = None

    @property
    def sampled(self) -> bool:
        return self.exact is False and self.stderr is not None


@dataclass(frozen=True)
class Curve:
    key: str  # "voting" or "metarm", as in the report
    label: str  # "Voting@k" or "MetaRM@k"
    points: list[CurvePoint]

    def at(self, k: int) -> CurvePoint | None:
        return next((point for point in self.points if point.k == k), None)


@dataclass(frozen=True)
class SubsetCurves:
    """The curves over all the run's labelled queries (name "") or over one subset's."""

    name: str
    queries: int | None
    curves: list[Curve]


@dataclass(frozen=True)
class ParsedReport:
    """A stored report read defensively: a value of the wrong type is left out, never a 500."""

    kind: str  # "scaling" (version 2), "old" (voting_curve / meta_curve) or "none"
    metric: str = "accuracy"  # or "roc_auc"
    mode: str = "best"  # or "single"
    ks: list[int] = field(default_factory=list)
    overall: SubsetCurves = field(default_factory=lambda: SubsetCurves("", None, []))
    subsets: list[SubsetCurves] = field(default_factory=list)
    labelled_queries: int | None = None
    bias: dict[str, Any] | None = None

    @property
    def metric_label(self) -> str:
        return "ROC-AUC" if self.metric == "roc_auc" else "accuracy"

    @property
    def has_curves(self) -> bool:
        return any(curve.points for curve in self.overall.curves)

    @property
    def all_subsets(self) -> list[SubsetCurves]:
        return [self.overall, *self.subsets]

    @property
    def table(self) -> list[TableRow]:
        """The per-subset table: a row per subset and curve, a cell (or None) per k of `ks`."""
        return [
            TableRow(subset, curve, [curve.at(k) for k in self.ks], first=index == 0)
            for subset in self.all_subsets
            for index, curve in enumerate(subset.curves)
        ]


@dataclass(frozen=True)
class TableRow:
    subset: SubsetCurves
    curve: Curve
    cells: list[CurvePoint | None]
    first: bool  # the subset's first row


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _k(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        k = int(value)
    except (TypeError, ValueError):
        return None
    return k if k >= 1 else None


def _mapping(value: Any) -> Mapping[Any, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _points(raw: Any) -> list[CurvePoint]:
    points = []
    for row in _list(raw):
        if not isinstance(row, Mapping):
            continue
        k, value = _k(row.get("k")), _number(row.get("value"))
        if k is None or value is None:
            continue
        exact = row.get("exact")
        points.append(
            CurvePoint(
                k=k,
                value=value,
                low=_number(row.get("low")),
                high=_number(row.get("high")),
                stderr=_number(row.get("stderr")),
                exact=exact if isinstance(exact, bool) else None,
            )
        )
    return sorted(points, key=lambda point: point.k)


def _curves(raw: Mapping[str, Any]) -> list[Curve]:
    return [Curve(key, label, points) for key, label in CURVES if (points := _points(raw.get(key)))]


def parse_report(report: Any) -> ParsedReport:
    """The stored report as curves: version 2's `scaling`, or an old report's value-by-k dicts."""
    if not isinstance(report, Mapping):
        return ParsedReport(kind="none")
    bias = report.get("bias") if isinstance(report.get("bias"), Mapping) else None
    labelled = _count(report.get("labelled_queries"))
    scaling = report.get("scaling")
    if isinstance(scaling, Mapping):
        raw_subsets = _mapping(scaling.get("subsets"))
        subsets = [
            SubsetCurves(str(name), _count(raw.get("queries")), _curves(raw))
            for name, raw in sorted(raw_subsets.items(), key=lambda item: str(item[0]))
            if isinstance(raw, Mapping)
        ]
        overall = SubsetCurves("", _count(scaling.get("queries")), _curves(scaling))
        ks = sorted({k for k in (_k(value) for value in _list(scaling.get("ks"))) if k is not None})
        if not ks:
            ks = sorted({point.k for curve in overall.curves for point in curve.points})
        return ParsedReport(
            kind="scaling",
            metric="roc_auc" if scaling.get("metric") == "roc_auc" else "accuracy",
            mode="single" if scaling.get("mode") == "single" else "best",
            ks=ks,
            overall=overall,
            subsets=subsets,
            labelled_queries=labelled,
            bias=dict(bias) if bias else None,
        )
    if any(isinstance(report.get(name), Mapping) for _, name in OLD_CURVES):
        curves = []
        for (key, label), (_, name) in zip(CURVES, OLD_CURVES, strict=True):
            raw = _mapping(report.get(name))
            points = [
                CurvePoint(k=k, value=value)
                for k, value in ((_k(k), _number(v)) for k, v in raw.items())
                if k is not None and value is not None
            ]
            if points:
                curves.append(Curve(key, label, sorted(points, key=lambda point: point.k)))
        overall = SubsetCurves("", labelled, curves)
        ks = sorted({point.k for curve in curves for point in curve.points})
        return ParsedReport(
            kind="old", ks=ks, overall=overall, labelled_queries=labelled, bias=dict(bias) if bias else None
        )
    return ParsedReport(kind="none", labelled_queries=labelled, bias=dict(bias) if bias else None)


ReportRow = tuple[str, str, int, float, float | None, float | None, float | None, bool | None]


def report_rows(report: Any) -> Iterator[ReportRow]:
    """One row per curve x subset x k: (subset, curve, k, value, low, high, stderr, exact); the subset
    is "" for all the run's labelled queries."""
    parsed = parse_report(report)
    for subset in parsed.all_subsets:
        for curve in subset.curves:
            for point in curve.points:
                yield (subset.name, curve.key, point.k, point.value, point.low, point.high, point.stderr, point.exact)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _csv_text(value: str) -> str:
    """Uploader text that a spreadsheet would run as a formula is kept as text (OWASP's advice)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def report_csv(report: Any) -> str:
    """The report's curves as CSV with a header row (CSV_HEADER); empty cells for missing values."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for subset, curve, *values in report_rows(report):
        writer.writerow([_csv_text(subset), curve, *(_csv_cell(value) for value in values)])
    return out.getvalue()


def chance_level(*, run: Run, metric: str, subset: str | None = None) -> float | None:
    """Where a judge that guesses lands: 0.5 for ROC-AUC; for accuracy, the mean of 1 / responses over
    the run's labelled queries with two responses or more, as the curves count them (one SQL statement),
    or over one subset's. None when there is no such query."""
    if metric == "roc_auc":
        return 0.5
    responses = (
        Response.objects.filter(query=OuterRef("pk")).order_by().values("query").annotate(n=Count("id")).values("n")
    )
    queries = Query.objects.filter(verdicts__run=run, best_index__isnull=False)
    if subset is not None:
        queries = queries.filter(subset=subset)
    chance = (
        queries.annotate(response_count=Subquery(responses, output_field=IntegerField()))
        .filter(response_count__gte=2)
        .aggregate(chance=Avg(1.0 / Cast(F("response_count"), FloatField())))["chance"]
    )
    return float(chance) if chance is not None else None


@dataclass(frozen=True)
class GreedyBaseline:
    """A finished temperature-0 run over the same queries, and its Voting accuracy (overall or on a subset)."""

    run: Run
    accuracy: float


def greedy_baseline(*, run: Run, subset: str | None = None) -> GreedyBaseline | None:
    """The latest finished greedy run (temperature 0) of the same model and template on the run's dataset
    and query filter, if any, with its accuracy over all its labelled queries or over one subset's (None
    when it has none there)."""
    if run.temperature == 0:
        return None
    greedy = (
        Run.objects.filter(
            dataset_id=run.dataset_id,
            query_filter=run.query_filter,
            model_config_id=run.model_config_id,
            template_id=run.template_id,
            temperature=0,
            status=Run.Status.DONE,
        )
        .exclude(pk=run.pk)
        .order_by("-created_at")
        .first()
    )
    if greedy is None:
        return None
    accuracy = run_accuracy(run=greedy)
    if subset is None:
        value = accuracy["accuracy"]
    else:
        rows = accuracy["subsets"]
        assert isinstance(rows, list)
        value = next((row["accuracy"] for row in rows if row["subset"] == (subset or "(none)")), None)
    return GreedyBaseline(greedy, float(value)) if isinstance(value, float) else None


@dataclass(frozen=True)
class RunReportPage:
    """The report, the curves the chart draws (all queries, or the subset asked for) and their
    reference lines."""

    report: ParsedReport
    shown: SubsetCurves
    chance: float | None
    greedy: GreedyBaseline | None

    @property
    def subset(self) -> str | None:
        """The subset the chart shows; None for all the run's labelled queries."""
        return None if self.shown is self.report.overall else self.shown.name


def run_report_page(*, run: Run, subset: str = "") -> RunReportPage:
    """What the run page draws: the parsed report, and for the chart the curves of all queries (or of
    `subset` when the report has it), the chance line and a greedy run's line beside them."""
    report = parse_report(run.report)
    shown = next((curves for curves in report.subsets if subset and curves.name == subset), report.overall)
    if not any(curve.points for curve in shown.curves):
        return RunReportPage(report, shown, None, None)
    name = None if shown is report.overall else shown.name
    greedy = greedy_baseline(run=run, subset=name) if report.metric == "accuracy" else None
    chance = chance_level(run=run, metric=report.metric, subset=name)
    if chance is None and name is not None:
        chance = chance_level(run=run, metric=report.metric)
    return RunReportPage(report, shown, chance, greedy)


# --- Comparing two runs


@dataclass(frozen=True)
class RunComparison:
    """Two runs of one dataset: how their verdicts agree on the labelled queries both judged, and
    those queries whose verdict is right in one run and wrong in the other (a page of them)."""

    run_a: Run
    run_b: Run
    judged_both: int
    labelled_both: int
    both_right: int
    only_a: int
    only_b: int
    both_wrong: int
    flips: Page[Any]  # of queries, each with a_correct, b_correct, a_best and b_best

    @property
    def flipped(self) -> int:
        return self.only_a + self.only_b


def _verdicts_joined(run_a: Run, run_b: Run) -> QuerySet[Query]:
    """Queries with each run's verdict joined once, as `a` and `b` (filter on both in one .filter() call:
    a second call on a multi-valued relation would join the verdicts again)."""
    return Query.objects.annotate(
        a=FilteredRelation("verdicts", condition=Q(verdicts__run=run_a)),
        b=FilteredRelation("verdicts", condition=Q(verdicts__run=run_b)),
    )


JUDGED_BY_BOTH = Q(a__id__isnull=False, b__id__isnull=False)
FLIPPED = Q(a__correct=True, b__correct=False) | Q(a__correct=False, b__correct=True)


def runs_compare(
    *, run_a: Run, run_b: Run, page: int | str | None = 1, per_page: int = FLIPS_PER_PAGE
) -> RunComparison:
    """The two runs' agreement counts (one aggregate) and a page of the queries whose verdict flipped
    (ordered by id, each with both verdicts' choice); a fixed number of SQL statements whatever the size."""
    if run_a.dataset_id != run_b.dataset_id:
        raise InvalidInput(
            f"run {run_a.pk} judged dataset {run_a.dataset.name} and run {run_b.pk} judged {run_b.dataset.name}: "
            "only runs of one dataset can be compared",
            field="b",
        )
    labelled = Q(a__correct__isnull=False, b__correct__isnull=False)
    counts = (
        _verdicts_joined(run_a, run_b)
        .filter(JUDGED_BY_BOTH)
        .aggregate(
            judged_both=Count("id"),
            labelled_both=Count("id", filter=labelled),
            both_right=Count("id", filter=Q(a__correct=True, b__correct=True)),
            only_a=Count("id", filter=Q(a__correct=True, b__correct=False)),
            only_b=Count("id", filter=Q(a__correct=False, b__correct=True)),
            both_wrong=Count("id", filter=Q(a__correct=False, b__correct=False)),
        )
    )
    flips = (
        _verdicts_joined(run_a, run_b)
        .filter(JUDGED_BY_BOTH & FLIPPED)
        .select_related("dataset")
        .annotate(
            a_correct=F("a__correct"),
            b_correct=F("b__correct"),
            a_best=F("a__best_index"),
            b_best=F("b__best_index"),
        )
        .order_by("id")
    )
    return RunComparison(
        run_a=run_a,
        run_b=run_b,
        flips=Paginator(flips, per_page).get_page(page),
        **{name: int(value or 0) for name, value in counts.items()},
    )


def compare_candidates(*, run: Run) -> QuerySet[Run]:
    """The runs another run can be compared with: the other runs of its dataset, newest first."""
    return (
        Run.objects.filter(dataset_id=run.dataset_id)
        .exclude(pk=run.pk)
        .select_related("dataset", "model_config")
        .order_by("-created_at")
    )
