"""API views: validate the input with a small serializer, call one selector (reads) or service
(writes), serialize out. Domain errors propagate to `reviews.api.errors`, which picks the status."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from reviews.api.permissions import HasRole
from reviews.api.serializers import AnnotationOut, DatasetOut, QueryOut, RunOut, SampleOut, VerdictOut
from reviews.models import Annotation, Dataset, FailureMode, ModelConfig, PromptTemplate, Query, Run, Sample, Verdict
from reviews.selectors import annotations as annotation_selectors
from reviews.selectors import datasets as dataset_selectors
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
    model_config = SlugLookup(
        slug_field="name", queryset=ModelConfig.objects.all(), required=False, help_text="Default: the default."
    )
    template = serializers.PrimaryKeyRelatedField(
        queryset=PromptTemplate.objects.all(), required=False, help_text="Default: the default template."
    )


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
        return run_selectors.runs_list(**self.validated_filters())


class RunDetail(generics.RetrieveAPIView[Run]):
    serializer_class = RunOut
    queryset = run_selectors.runs_list()


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
