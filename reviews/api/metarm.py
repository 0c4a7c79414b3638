"""Meta RM endpoints: list, train, register and activate checkpoints, and ask a run for MetaRM@k.

Reading is for reviewers and admins; every write is for admins (the default permission)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from reviews.api.serializers import CheckpointOut, RunOut
from reviews.api.views import ByIdCursor, SlugLookup
from reviews.models import MetaRmCheckpoint, Release, Run
from reviews.selectors import metarm as metarm_selectors
from reviews.selectors import runs as run_selectors
from reviews.services import metarm as metarm_services
from reviews.services.runs import RUN_PARAMETERS

ErrorOut = OpenApiResponse(OpenApiTypes.OBJECT, description="The request cannot be done now (`detail` says why).")


class CheckpointIn(serializers.Serializer[Any]):
    """Train a checkpoint on finished runs (`runs`), or register an existing one (`name` and `location`)."""

    runs = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        min_length=1,
        max_length=200,
        help_text="Train: ids of finished runs whose labelled judgments it learns from. Answers 202.",
    )
    release = serializers.IntegerField(
        min_value=1,
        max_value=2**63 - 1,
        required=False,
        help_text="Train: the id of a ready metarm release to learn from, instead of runs. Answers 202.",
    )
    profile = serializers.ChoiceField(
        choices=MetaRmCheckpoint.Profile.choices, default=MetaRmCheckpoint.Profile.CPU, help_text="Train: cpu or gpu."
    )
    name = serializers.SlugField(
        max_length=100, required=False, default="", allow_blank=True, help_text="Train: optional; register: required."
    )
    base_model = serializers.CharField(
        max_length=500, required=False, default="", allow_blank=True, help_text="Train: the backbone (optional)."
    )
    location = serializers.CharField(
        max_length=500,
        required=False,
        help_text="Register: the checkpoint's folder or hub name (e.g. BBQGOD/DeepSeek-GRM-27B-MetaRM). Answers 201.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = [name for name in ("runs", "release", "location") if name in attrs]
        if len(given) != 1:
            message = "Give runs or release (to train a checkpoint) or location (to register one), one of the three."
            raise serializers.ValidationError({given[0] if given else "runs": [message]})
        if "release" in attrs:
            release = Release.objects.filter(id=attrs["release"]).first()
            if release is None:
                raise serializers.ValidationError({"release": [f"No release {attrs['release']}."]})
            attrs["release"] = release
        if "location" in attrs and not attrs["name"]:
            raise serializers.ValidationError({"name": ["Name the checkpoint you register."]})
        if "runs" in attrs:
            ids = list(dict.fromkeys(attrs["runs"]))
            found = Run.objects.in_bulk(ids)
            missing = [str(run_id) for run_id in ids if run_id not in found]
            if missing:
                raise serializers.ValidationError({"runs": [f"No run {', '.join(missing)}."]})
            attrs["runs"] = [found[run_id] for run_id in ids]
        return attrs


class CheckpointList(generics.ListAPIView[MetaRmCheckpoint]):
    serializer_class = CheckpointOut
    pagination_class = ByIdCursor

    def get_queryset(self) -> QuerySet[MetaRmCheckpoint]:
        return metarm_selectors.checkpoints_list()

    @extend_schema(request=CheckpointIn, responses={201: CheckpointOut, 202: CheckpointOut})
    def post(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        """Train a meta RM on runs (202: queued for a worker) or register an existing checkpoint (201)."""
        data = CheckpointIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if "location" in values:
            checkpoint = metarm_services.checkpoint_register(
                name=values["name"], location=values["location"], created_by=request.user
            )
            return Response(CheckpointOut(checkpoint).data, status=status.HTTP_201_CREATED)
        checkpoint = metarm_services.checkpoint_train_start(
            runs=values.get("runs", ()),
            release=values.get("release"),
            profile=values["profile"],
            base_model=values["base_model"].strip(),
            name=values["name"],
            created_by=request.user,
        )
        return Response(CheckpointOut(checkpoint).data, status=status.HTTP_202_ACCEPTED)


class CheckpointActivate(generics.GenericAPIView[MetaRmCheckpoint]):
    serializer_class = CheckpointOut
    queryset = metarm_selectors.checkpoints_list()
    lookup_field = "name"

    @extend_schema(
        request=None,
        responses={200: CheckpointOut, 400: OpenApiResponse(OpenApiTypes.OBJECT, description="It is not ready.")},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Make this ready checkpoint the one runs use when they name none."""
        checkpoint = self.get_object()
        metarm_services.checkpoint_activate(checkpoint=checkpoint)
        checkpoint.refresh_from_db()
        return Response(CheckpointOut(checkpoint).data)


class MetaScoreIn(serializers.Serializer[Any]):
    checkpoint = SlugLookup(
        slug_field="name",
        queryset=MetaRmCheckpoint.objects.all(),
        required=False,
        allow_null=True,
        help_text="A ready checkpoint's name; default: the active one.",
    )
    k_meta = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=int(RUN_PARAMETERS["k"].high),
        help_text="Samples MetaRM@k votes over, 1 to the run's k; default: the run's, else k/2.",
    )


class RunMetaScore(generics.GenericAPIView[Run]):
    serializer_class = RunOut
    queryset = run_selectors.runs_list()

    @extend_schema(request=MetaScoreIn, responses={202: RunOut, 409: ErrorOut})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Meta-score the run's samples, then vote MetaRM@k (202); waits for sampling if the run is still
        going. 409 while it is being meta-scored already."""
        run = self.get_object()
        data = MetaScoreIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        run = metarm_services.run_meta_request(
            run=run, checkpoint=values.get("checkpoint"), k_meta=values.get("k_meta")
        )
        run = run_selectors.runs_list().select_related("meta_checkpoint").get(pk=run.pk)
        return Response(RunOut(run).data, status=status.HTTP_202_ACCEPTED)
