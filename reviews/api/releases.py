"""Release endpoints (read-only): list and show releases, and download a release's file."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse, HttpResponseBase
from django.utils.cache import get_conditional_response
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from reviews.api.serializers import ReleaseOut
from reviews.api.views import FilteredList
from reviews.models import Release
from reviews.selectors.releases import releases_list

NDJSON = "application/x-ndjson"
BINARY = "application/octet-stream"
FILE_DESCRIPTION = "The file, as an attachment: application/x-ndjson for .jsonl files, else application/octet-stream."

ErrorOut = inline_serializer("ReleaseFileError", fields={"detail": serializers.CharField()})


class JsonOnly(DefaultContentNegotiation):
    """Always JSON: `?format=` filters releases here rather than picking a renderer (DRF's
    URL_FORMAT_OVERRIDE), and a download's errors are JSON whatever its Accept header says."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, str(renderer.media_type)


class ReleaseFilters(serializers.Serializer[Any]):
    name = serializers.CharField(required=False, max_length=100, help_text="Exact release name.")
    kind = serializers.ChoiceField(required=False, choices=Release.Kind.choices)
    format = serializers.ChoiceField(required=False, choices=Release.Format.choices)


class ReleaseList(FilteredList):
    serializer_class = ReleaseOut
    filters = ReleaseFilters
    content_negotiation_class = JsonOnly

    @extend_schema(parameters=[ReleaseFilters])
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Release]:
        return releases_list(filters=self.validated_filters())


class ReleaseDetail(generics.RetrieveAPIView[Release]):
    serializer_class = ReleaseOut
    queryset = releases_list()
    content_negotiation_class = JsonOnly


def download_filename(release: Release) -> str:
    suffix = PurePosixPath(release.file.name or "").suffix or ".jsonl"
    return f"{release.name}-v{release.version}{suffix}"


class ReleaseDownload(generics.GenericAPIView[Release]):
    serializer_class = ReleaseOut
    queryset = Release.objects.all()
    content_negotiation_class = JsonOnly

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "X-Checksum-SHA256", str, OpenApiParameter.HEADER, response=[200], description="The file's sha256."
            ),
            OpenApiParameter("ETag", str, OpenApiParameter.HEADER, response=[200, 304], description='"<sha256>"'),
        ],
        responses={
            (200, NDJSON): OpenApiResponse(OpenApiTypes.BINARY, description=FILE_DESCRIPTION),
            (200, BINARY): OpenApiResponse(OpenApiTypes.BINARY, description=FILE_DESCRIPTION),
            304: OpenApiResponse(description="If-None-Match named this release's ETag (its sha256)."),
            412: OpenApiResponse(description="If-Match did not name this release's ETag."),
            404: OpenApiResponse(ErrorOut, description="No such release, or its file is missing on the server."),
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """The release's file as an attachment, with its sha256 in `X-Checksum-SHA256` and the ETag."""
        release = self.get_object()
        etag = f'"{release.sha256}"'
        conditional = get_conditional_response(request._request, etag=etag)  # If-None-Match, If-Match
        if conditional is not None:
            conditional["ETag"] = etag
            return conditional
        missing = Response({"detail": f"The file of release {release} is missing on the server."}, status=404)
        if not release.file.name:
            return missing
        try:
            handle = release.file.storage.open(release.file.name, "rb")
        except FileNotFoundError:
            return missing
        filename = download_filename(release)
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=filename,
            content_type=NDJSON if filename.endswith(".jsonl") else BINARY,
        )
        response["X-Checksum-SHA256"] = release.sha256
        response["ETag"] = etag
        return response
