"""API views: validate the input with a small serializer, call one selector (reads) or service
(writes), serialize out. Domain errors propagate to `reviews.api.errors`, which picks the status."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import CursorPagination
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from reviews.api.permissions import HasRole
from reviews.api.serializers import (
    AnnotationOut,
    DatasetOut,
    QueryOut,
    RunCompareOut,
    RunEventOut,
    RunOut,
    SampleOut,
    VerdictOut,
)
from reviews.models import (
    Annotation,
    Dataset,
    FailureMode,
    MetaRmCheckpoint,
    ModelConfig,
    PromptTemplate,
    Query,
    Round,
    Run,
    RunEvent,
    Sample,
    Verdict,
)
from reviews.selectors import annotations as annotation_selectors
from reviews.selectors import datasets as dataset_selectors
from reviews.selectors import reports as report_selectors
from reviews.selectors import runs as run_selectors
from reviews.selectors.search import SearchFilters, search_queries
from reviews.services import annotations as annotation_services
from reviews.services import runs as run_services
from reviews.services.runs import RUN_PARAMETERS


class ByIdCursor(CursorPagination):
    ordering = "id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class SlugLookup(serializers.SlugRelatedField[Any]):
    """A slug lookup that answers a NUL character with a 400: PostgreSQL refuses it in a query (a 500)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and "\x00" in data:
            self.fail("invalid")
        return super().to_internal_value(data)


class RoundLookup(serializers.SlugRelatedField[Round]):
    """An RFT round by its number; anything but a number below 2**31 is no round (SQLite overflows on
    larger integers, PostgreSQL's column stops there: a 500 otherwise)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="number", queryset=Round.objects.all(), **kwargs)

    def to_internal_value(self, data: Any) -> Round:
        text = str(data)
        if isinstance(data, bool) or not text.isdecimal() or int(text) >= 2**31:
            self.fail("does_not_exist", slug_name=self.slug_field, value=text)
        return super().to_internal_value(int(text))


class FilteredList(generics.ListAPIView[Any]):
    """A list whose query parameters are validated by `filters` (400 naming the bad parameter)."""

    filters: type[serializers.Serializer[Any]]
    pagination_class = ByIdCursor

    def validated_filters(self) -> dict[str, Any]:
        data = self.filters(data=self.request.query_params)
        data.is_valid(raise_exception=True)
        return {key: value for key, value in data.validated_data.items() if value not in (None, "")}


class DatasetFilters(serializers.Serializer[Any]):
    name = serializers.CharField(required=False, max_length=100, help_text="Exact dataset name.")


class DatasetList(FilteredList):
    serializer_class = DatasetOut
    filters = DatasetFilters

    @extend_schema(parameters=[DatasetFilters])
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Dataset]:
        return dataset_selectors.datasets_list(name=self.validated_filters().get("name", ""))


class DatasetDetail(generics.RetrieveAPIView[Dataset]):
    serializer_class = DatasetOut
    lookup_field = "name"
    queryset = dataset_selectors.datasets_list()


class QueryFilters(serializers.Serializer[Any]):
    dataset = serializers.CharField(required=False, max_length=100)
    subset = serializers.CharField(required=False, max_length=100)
    labelled = serializers.BooleanField(required=False, allow_null=True, default=None)
    best = serializers.IntegerField(
        required=False, min_value=0, max_value=32767, help_text="Labelled best response, 0-based position."
    )
    rating = serializers.IntegerField(required=False, min_value=1, max_value=10, help_text="Labelled rating, 1-10.")
    reviewed = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Has (true) or lacks (false) an annotation on the query or on one of its samples.",
    )
    run = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="Queries with a verdict in this run."
    )
    correct = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Needs run: the run's verdict on the query was right (true) or wrong (false).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("correct") is not None and attrs.get("run") is None:
            raise serializers.ValidationError({"correct": ["Give run too: correctness is per run (?run=ID&correct=)."]})
        return attrs


class QueryList(FilteredList):
    serializer_class = QueryOut
    filters = QueryFilters

    @extend_schema(parameters=[QueryFilters])
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Query]:
        return search_queries(SearchFilters(**self.validated_filters()), with_responses=True)


class RunFilters(serializers.Serializer[Any]):
    dataset = serializers.CharField(required=False, max_length=100)
    status = serializers.ChoiceField(required=False, choices=Run.Status.choices)


def _number_field(name: str) -> serializers.Field[Any, Any, Any, Any]:
    """A run parameter's field, with the range, default and help that `run_create` enforces."""
    limit = RUN_PARAMETERS[name]
    if isinstance(limit.default, float):
        return serializers.FloatField(
            min_value=limit.low, max_value=limit.high, default=limit.default, help_text=limit.help
        )
    if name == "k":
        return serializers.IntegerField(min_value=int(limit.low), max_value=int(limit.high), help_text=limit.help)
    return serializers.IntegerField(
        min_value=int(limit.low), max_value=int(limit.high), default=int(limit.default), help_text=limit.help
    )


class RunIn(serializers.Serializer[Any]):
    dataset = SlugLookup(slug_field="name", queryset=Dataset.objects.all())
    k = _number_field("k")
    temperature = _number_field("temperature")
    max_tokens = _number_field("max_tokens")
    seed = _number_field("seed")
    batch_size = _number_field("batch_size")
    hinted = serializers.BooleanField(default=False)
    force_scores = serializers.BooleanField(default=False)
    subset = serializers.CharField(required=False, max_length=100, help_text="Only this subset.")
    query_ids = serializers.ListField(
        child=serializers.CharField(max_length=200),
        required=False,
        max_length=10_000,
        help_text="Only these queries: their ids in the dataset.",
    )
    sample_size = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, help_text="A random sample of this many of the chosen queries."
    )
    sample_seed = serializers.IntegerField(
        required=False,
        default=0,
        min_value=0,
        max_value=2**63 - 1,
        help_text="Draws the sample (same seed, same queries).",
    )
    model_config = SlugLookup(
        slug_field="name", queryset=ModelConfig.objects.all(), required=False, help_text="Default: the default."
    )
    template = serializers.PrimaryKeyRelatedField(
        queryset=PromptTemplate.objects.all(), required=False, help_text="Default: the default template."
    )
    k_meta = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=int(RUN_PARAMETERS["k"].high),
        help_text="MetaRM@k: vote over the k_meta samples the meta RM trusts most (1 to k); with no "
        "meta_checkpoint, the active checkpoint scores them.",
    )
    meta_checkpoint = SlugLookup(
        slug_field="name",
        queryset=MetaRmCheckpoint.objects.all(),
        required=False,
        allow_null=True,
        help_text="A ready meta RM checkpoint (name) that scores the samples once sampling ends (k_meta: k/2).",
    )
    rft_round = RoundLookup(required=False, allow_null=True, help_text="The number of the RFT round it belongs to.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        k_meta = attrs.get("k_meta")
        if k_meta is not None and k_meta > attrs["k"]:
            raise serializers.ValidationError({"k_meta": [f"k_meta must be from 1 to k ({attrs['k']})."]})
        return attrs


class RunList(FilteredList):
    serializer_class = RunOut
    filters = RunFilters

    @extend_schema(parameters=[RunFilters])
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=RunIn, responses={201: RunOut})
    def post(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        """Start a run (admins): k samples per query over a dataset or one of its subsets."""
        data = RunIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        run = run_services.run_create_from(dataset=values["dataset"], params=values, created_by=request.user)
        return Response(RunOut(run).data, status=status.HTTP_201_CREATED)

    def get_queryset(self) -> QuerySet[Run]:
        return run_selectors.runs_list(**self.validated_filters()).select_related("meta_checkpoint")


class RunDetail(generics.RetrieveAPIView[Run]):
    serializer_class = RunOut
    queryset = run_selectors.runs_list().select_related("meta_checkpoint")


class RunEventList(FilteredList):
    """The run's error log, oldest first: each batch tried again or failed (the message, the queries in
    it, the attempt, the worker and task), each resume after a stall, a failed meta scoring."""

    serializer_class = RunEventOut
    filters = serializers.Serializer

    def get_queryset(self) -> QuerySet[RunEvent]:
        events = run_selectors.run_events(run_id=self.kwargs["pk"])
        if events is None:
            raise NotFound(f"no run {self.kwargs['pk']}")
        return events


class RunCancel(generics.GenericAPIView[Run]):
    serializer_class = RunOut
    queryset = run_selectors.runs_list()

    @extend_schema(request=None, responses={200: RunOut, 409: None})
    def post(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        """Cancel a queued or running run (admins); 409 if it had already ended."""
        run = self.get_object()
        if not run_services.run_cancel(run=run):
            return Response({"detail": f"run {run.id} had already ended ({run.status})"}, status=409)
        run.refresh_from_db()
        return Response(RunOut(run).data)


CSV = "text/csv"


class JsonAnswers(DefaultContentNegotiation):
    """Answers (errors included) are JSON: `?format=` picks the report's form here, not a renderer."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, str(renderer.media_type)


def _report_csv_response(run: Run) -> HttpResponse:
    response = HttpResponse(report_selectors.report_csv(run.report), content_type=f"{CSV}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="run-{run.pk}-report.csv"'
    return response


REPORT_DESCRIPTION = (
    "The run's stored report: version 2 has `scaling` (mode, metric, ks, the voting and metarm curves with "
    "value, 95% bootstrap low/high, stderr and exact at each k, and per-subset curves) and `bias`; older "
    "reports have `voting_curve` / `meta_curve`. Empty until the report task has run."
)
CSV_DESCRIPTION = (
    "One row per curve x subset x k: subset (empty for all queries), curve, k, value, low, high, stderr, exact."
)


class ReportFormat(serializers.Serializer[Any]):
    format = serializers.ChoiceField(
        choices=["json", "csv"], required=False, default="json", help_text="csv: the curves as CSV rows."
    )


class RunReport(generics.GenericAPIView[Run]):
    serializer_class = RunOut
    queryset = Run.objects.all()
    content_negotiation_class = JsonAnswers

    @extend_schema(
        parameters=[ReportFormat],
        responses={
            (200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, description=REPORT_DESCRIPTION),
            (200, CSV): OpenApiResponse(OpenApiTypes.STR, description=CSV_DESCRIPTION),
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        """The run's report (scaling curves and bias diagnostics), as stored, or its curves as CSV."""
        query = ReportFormat(data=request.query_params)
        query.is_valid(raise_exception=True)
        run = self.get_object()
        if query.validated_data["format"] == "csv":
            return _report_csv_response(run)
        return Response(run.report)


class RunReportCsv(generics.GenericAPIView[Run]):
    serializer_class = RunOut
    queryset = Run.objects.all()
    content_negotiation_class = JsonAnswers

    @extend_schema(
        operation_id="v1_runs_report_csv_retrieve",
        responses={(200, CSV): OpenApiResponse(OpenApiTypes.STR, description=CSV_DESCRIPTION)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        """The run's report curves as CSV (the same as `report/?format=csv`)."""
        return _report_csv_response(self.get_object())


class CompareFilters(serializers.Serializer[Any]):
    a = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="Run A's id.")
    b = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="Run B's id (the same dataset).")


class RunCompare(generics.GenericAPIView[Run]):
    serializer_class = RunCompareOut
    FLIPPED_SHOWN = 100

    @extend_schema(parameters=[CompareFilters], responses={200: RunCompareOut})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """How two runs of one dataset agree: counts over the labelled queries both judged, and the first
        100 queries whose Voting verdict is right in one run and wrong in the other."""
        query = CompareFilters(data=request.query_params)
        query.is_valid(raise_exception=True)
        ids = query.validated_data
        runs = Run.objects.select_related("dataset").in_bulk([ids["a"], ids["b"]])
        missing = {name: [f"No run {ids[name]}."] for name in ("a", "b") if ids[name] not in runs}
        if missing:
            raise serializers.ValidationError(missing)
        comparison = report_selectors.runs_compare(
            run_a=runs[ids["a"]], run_b=runs[ids["b"]], page=1, per_page=self.FLIPPED_SHOWN
        )
        body = {
            "a": comparison.run_a.pk,
            "b": comparison.run_b.pk,
            "dataset": comparison.run_a.dataset.name,
            "counts": {
                name: getattr(comparison, name)
                for name in ("judged_both", "labelled_both", "both_right", "only_a", "only_b", "both_wrong")
            },
            "flipped_total": comparison.flips.paginator.count,
            "flipped": [query.pk for query in comparison.flips.object_list],
        }
        return Response(RunCompareOut(body).data)


class SampleFilters(serializers.Serializer[Any]):
    run = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    query = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    parse_status = serializers.ChoiceField(required=False, choices=Sample.ParseStatus.choices)


class SampleList(FilteredList):
    serializer_class = SampleOut
    filters = SampleFilters

    @extend_schema(parameters=[SampleFilters])
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Sample]:
        return run_selectors.samples_list(filters=self.validated_filters())


class VerdictFilters(serializers.Serializer[Any]):
    run = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    query = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    correct = serializers.BooleanField(required=False, allow_null=True, default=None)


class VerdictList(FilteredList):
    serializer_class = VerdictOut
    filters = VerdictFilters

    @extend_schema(parameters=[VerdictFilters])
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Verdict]:
        return run_selectors.verdicts_list(filters=self.validated_filters())


class AnnotationIn(serializers.Serializer[Any]):
    sample = serializers.PrimaryKeyRelatedField(queryset=Sample.objects.select_related("query"), required=False)
    query = serializers.PrimaryKeyRelatedField(queryset=Query.objects.all(), required=False)
    decision = serializers.ChoiceField(choices=Annotation.Decision.choices)
    failure_modes = SlugLookup(
        slug_field="code", queryset=FailureMode.objects.filter(active=True), many=True, required=False
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=10_000, default="")
    corrected_scores = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=10), required=False, allow_null=True, max_length=64
    )
    time_spent_ms = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1, default=0)


class AnnotationFilters(serializers.Serializer[Any]):
    sample = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    query = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    reviewer = serializers.CharField(required=False, max_length=150, help_text="Username.")
    decision = serializers.ChoiceField(required=False, choices=Annotation.Decision.choices)


class AnnotationList(FilteredList):
    """Reviewers and admins list annotations and submit their own (again: the same one is updated)."""

    serializer_class = AnnotationOut
    filters = AnnotationFilters
    permission_classes = [HasRole]

    @extend_schema(parameters=[AnnotationFilters])
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Annotation]:
        filters = self.validated_filters()
        return annotation_selectors.annotations_list(reviewer=filters.pop("reviewer", ""), filters=filters)

    @extend_schema(request=AnnotationIn, responses={201: AnnotationOut})
    def post(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        data = AnnotationIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        annotation = annotation_services.annotation_submit(
            reviewer=request.user,
            sample=values.get("sample"),
            query=values.get("query"),
            decision=values["decision"],
            failure_modes=values.get("failure_modes", []),
            note=values["note"],
            corrected_scores=values.get("corrected_scores"),
            time_spent_ms=values["time_spent_ms"],
        )
        return Response(AnnotationOut(annotation).data, status=status.HTTP_201_CREATED)
