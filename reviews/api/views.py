"""API views: validate the filters with a small serializer, read through a selector, serialize out."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Exists, OuterRef, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from reviews import run_services, services
from reviews.api.permissions import HasRole
from reviews.api.serializers import AnnotationOut, DatasetOut, QueryOut, RunOut, SampleOut, VerdictOut
from reviews.models import Annotation, Dataset, FailureMode, ModelConfig, PromptTemplate, Query, Run, Sample, Verdict


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
        datasets = Dataset.objects.annotate(query_count=Count("queries"))
        name = self.validated_filters().get("name")
        return datasets.filter(name=name) if name else datasets


class DatasetDetail(generics.RetrieveAPIView[Dataset]):
    serializer_class = DatasetOut
    lookup_field = "name"
    queryset = Dataset.objects.annotate(query_count=Count("queries"))


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
        filters = self.validated_filters()
        queries = Query.objects.select_related("dataset").prefetch_related("responses")
        if "dataset" in filters:
            queries = queries.filter(dataset__name=filters["dataset"])
        if "subset" in filters:
            queries = queries.filter(subset=filters["subset"])
        if "labelled" in filters:
            labelled = queries.filter(best_index__isnull=False) | queries.filter(rating__isnull=False)
            queries = labelled if filters["labelled"] else queries.filter(best_index__isnull=True, rating__isnull=True)
        if "best" in filters:
            queries = queries.filter(best_index=filters["best"])
        if "rating" in filters:
            queries = queries.filter(rating=filters["rating"])
        if "reviewed" in filters:
            # Subqueries, not joins: one SQL statement and no duplicate rows however many annotations.
            reviewed = Exists(Annotation.objects.filter(query=OuterRef("pk"))) | Exists(
                Annotation.objects.filter(sample__query=OuterRef("pk"))
            )
            queries = queries.filter(reviewed if filters["reviewed"] else ~reviewed)
        if "run" in filters:
            verdicts = Verdict.objects.filter(run_id=filters["run"], query=OuterRef("pk"))
            if "correct" in filters:
                verdicts = verdicts.filter(correct=filters["correct"])
            queries = queries.filter(Exists(verdicts))
        return queries


class RunFilters(serializers.Serializer[Any]):
    dataset = serializers.CharField(required=False, max_length=100)
    status = serializers.ChoiceField(required=False, choices=Run.Status.choices)


class RunIn(serializers.Serializer[Any]):
    dataset = SlugLookup(slug_field="name", queryset=Dataset.objects.all())
    k = serializers.IntegerField(min_value=1, max_value=64)
    temperature = serializers.FloatField(min_value=0.0, max_value=2.0, default=0.5)
    max_tokens = serializers.IntegerField(min_value=1, max_value=32768, default=1024)
    seed = serializers.IntegerField(min_value=0, max_value=2**63 - 1, default=0)
    batch_size = serializers.IntegerField(min_value=1, max_value=256, default=8)
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
        template, model = services.defaults_ensure()
        try:
            run = run_services.run_create(
                dataset=values["dataset"],
                model_config=values.get("model_config") or model,
                template=values.get("template") or template,
                k=values["k"],
                temperature=values["temperature"],
                max_tokens=values["max_tokens"],
                seed=values["seed"],
                batch_size=values["batch_size"],
                hinted=values["hinted"],
                force_scores=values["force_scores"],
                query_filter={"subset": values["subset"]} if values.get("subset") else {},
                created_by=request.user,
            )
        except run_services.RunInvalid as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return Response(RunOut(run).data, status=status.HTTP_201_CREATED)

    def get_queryset(self) -> QuerySet[Run]:
        filters = self.validated_filters()
        runs = Run.objects.select_related("dataset", "model_config", "template")
        if "dataset" in filters:
            runs = runs.filter(dataset__name=filters["dataset"])
        if "status" in filters:
            runs = runs.filter(status=filters["status"])
        return runs


class RunDetail(generics.RetrieveAPIView[Run]):
    serializer_class = RunOut
    queryset = Run.objects.select_related("dataset", "model_config", "template")


class RunCancel(generics.GenericAPIView[Run]):
    serializer_class = RunOut
    queryset = Run.objects.select_related("dataset", "model_config", "template")

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
        return Sample.objects.filter(**self.validated_filters())


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
        return Verdict.objects.filter(**self.validated_filters())


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
        annotations = Annotation.objects.select_related("reviewer").prefetch_related("failure_modes")
        if "reviewer" in filters:
            annotations = annotations.filter(reviewer__username=filters.pop("reviewer"))
        return annotations.filter(**filters)

    @extend_schema(request=AnnotationIn, responses={201: AnnotationOut})
    def post(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        data = AnnotationIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            annotation = services.annotation_submit(
                reviewer=request.user,
                sample=values.get("sample"),
                query=values.get("query"),
                decision=values["decision"],
                failure_modes=values.get("failure_modes", []),
                note=values["note"],
                corrected_scores=values.get("corrected_scores"),
                time_spent_ms=values["time_spent_ms"],
            )
        except services.AnnotationInvalid as exc:
            raise ValidationError({exc.field: [exc.message]}) from None
        return Response(AnnotationOut(annotation).data, status=status.HTTP_201_CREATED)
