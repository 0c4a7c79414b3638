"""Release endpoints, for admins only: list and show releases, build one (202, a cpu worker builds it),
and download a ready release's files by name, with their sha256 as checksum and ETag."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, permissions, serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from reviews.api.serializers import ReleaseDetailOut, ReleaseOut
from reviews.api.views import FilteredList
from reviews.models import Release
from reviews.release_files import JSON, NDJSON, PARQUET, release_file, release_file_response
from reviews.roles import is_admin
from reviews.selectors.releases import releases_list
from reviews.services import releases as release_services

FILE_DESCRIPTION = (
    "The file, as an attachment: application/x-ndjson for .jsonl, application/vnd.apache.parquet for .parquet, "
    "application/json for manifest.json."
)

ErrorOut = inline_serializer("ReleaseFileError", fields={"detail": serializers.CharField()})


class JsonOnly(DefaultContentNegotiation):
    """Always JSON: `?format=` is never a renderer's name here (DRF's URL_FORMAT_OVERRIDE; uploads take a
    `format` parameter), and a download's errors are JSON whatever its Accept header says."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, str(renderer.media_type)


class AdminsOnly(permissions.BasePermission):
    """Releases are curated training data: reviewers neither build nor download them."""

    message = "Releases need the admin role."

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_admin(request.user)


class ReleaseFilters(serializers.Serializer[Any]):
    name = serializers.CharField(required=False, max_length=100, help_text="Exact release name.")
    kind = serializers.ChoiceField(required=False, choices=Release.Kind.choices)
    status = serializers.ChoiceField(required=False, choices=Release.Status.choices)


class ReleaseSelection(serializers.Serializer[Any]):
    """What a release holds; every filter is optional and they combine with AND (docs/exports.md)."""

    dataset = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, max_length=1000, help_text="Dataset names."
    )
    subset = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, max_length=1000, help_text="Subset names."
    )
    run = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        max_length=1000,
        help_text="Run ids.",
    )
    round = serializers.IntegerField(
        required=False, min_value=0, max_value=2**31 - 1, help_text="An RFT round's number: its runs."
    )
    reviewer_accepted = serializers.BooleanField(
        required=False, help_text="Only judgments a reviewer accepted (not for rl_prompts)."
    )
    failure_mode = serializers.CharField(
        required=False, max_length=100, help_text="Only judgments annotated with this failure mode's code."
    )
    since = serializers.DateField(required=False, help_text="Runs created on or after this day.")
    until = serializers.DateField(required=False, help_text="Runs created on or before this day.")

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, dict) else []
        if unknown:
            raise serializers.ValidationError({unknown[0]: [f"Unknown filter: use {', '.join(self.fields)}."]})
        return super().to_internal_value(data)


class ReleaseIn(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=Release.Kind.choices)
    name = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=100,
        help_text="Letters, digits, - and _; default: from the kind and filters. Again: the name's next version.",
    )
    filters = ReleaseSelection(required=False)
    seed = serializers.IntegerField(
        required=False, default=0, min_value=0, max_value=2**63 - 1, help_text="Seeds the train/validation split."
    )
    validation_fraction = serializers.FloatField(
        required=False,
        default=0.1,
        min_value=0,
        max_value=1,
        help_text="The share of queries in the validation split, from 0 to below 1.",
    )


class ReleaseList(FilteredList):
    serializer_class = ReleaseOut
    filters = ReleaseFilters
    permission_classes = [AdminsOnly]
    content_negotiation_class = JsonOnly
    parser_classes = [JSONParser]  # the definition nests its filters: JSON only (a form cannot say it)

    @extend_schema(parameters=[ReleaseFilters])
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Release]:
        return releases_list(filters=self.validated_filters())

    @extend_schema(
        request=ReleaseIn,
        responses={
            202: ReleaseDetailOut,
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="A bad field or filter, named in the body."),
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Build a release: answers 202 with it queued; a cpu worker builds it. Poll its `url` until its
        status is ready (then download its `files`) or failed (`error_message` says why)."""
        data = ReleaseIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        release = release_services.release_create(
            kind=values["kind"],
            filters=values.get("filters") or {},
            name=values["name"],
            seed=values["seed"],
            validation_fraction=values["validation_fraction"],
            created_by=request.user if isinstance(request.user, User) else None,
        )
        release = releases_list().get(pk=release.pk)
        out = ReleaseDetailOut(release, context={"request": request}).data
        return Response(out, status=status.HTTP_202_ACCEPTED, headers={"Location": out["url"]})


class ReleaseDetail(generics.RetrieveAPIView[Release]):
    serializer_class = ReleaseDetailOut
    queryset = releases_list()
    permission_classes = [AdminsOnly]
    content_negotiation_class = JsonOnly


class ReleaseFile(generics.GenericAPIView[Release]):
    serializer_class = ReleaseOut
    queryset = Release.objects.all()
    permission_classes = [AdminsOnly]
    content_negotiation_class = JsonOnly

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "name", str, OpenApiParameter.PATH, description="A file the manifest lists, or manifest.json."
            ),
            OpenApiParameter(
                "X-Checksum-SHA256", str, OpenApiParameter.HEADER, response=[200], description="The file's sha256."
            ),
            OpenApiParameter("ETag", str, OpenApiParameter.HEADER, response=[200, 304], description='"<sha256>"'),
        ],
        responses={
            (200, NDJSON): OpenApiResponse(OpenApiTypes.BINARY, description=FILE_DESCRIPTION),
            (200, PARQUET): OpenApiResponse(OpenApiTypes.BINARY, description=FILE_DESCRIPTION),
            (200, JSON): OpenApiResponse(OpenApiTypes.BINARY, description=FILE_DESCRIPTION),
            304: OpenApiResponse(description="If-None-Match named this file's ETag (its sha256)."),
            412: OpenApiResponse(description="If-Match did not name this file's ETag."),
            404: OpenApiResponse(
                ErrorOut, description="No such release or file, or the file is missing on the server."
            ),
            409: OpenApiResponse(ErrorOut, description="The release is not ready (queued, building or failed)."),
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """One file of a ready release as an attachment, its sha256 in `X-Checksum-SHA256` and the ETag."""
        release = self.get_object()
        name = kwargs["name"]
        file = release_file(release=release, name=name)  # Conflict (409) while not ready
        if file is None:
            return Response({"detail": f"Release {release} has no file named {name!r}."}, status=404)
        response = release_file_response(request._request, file)
        if response is None:
            return Response({"detail": f"The file {name} of release {release} is missing on the server."}, status=404)
        return response
