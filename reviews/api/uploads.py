"""Upload endpoints: POST streams the body to disk and answers 202; a cpu task ingests it."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import BaseParser
from rest_framework.response import Response

from reviews.api.releases import JsonOnly
from reviews.api.serializers import UploadDetailOut, UploadErrorOut, UploadOut
from reviews.api.views import FilteredList
from reviews.errors import UploadRefused, UploadTooLarge
from reviews.ingest.formats import FORMATS, parse_field_map
from reviews.models import Upload, UploadError
from reviews.selectors import uploads as upload_selectors
from reviews.services import uploads as upload_services
from reviews.services.datasets import dataset_name_errors


class UploadParams(serializers.Serializer[Any]):
    dataset = serializers.CharField(max_length=100, help_text="Dataset to fill; created if missing.")
    format = serializers.ChoiceField(choices=FORMATS, default="native", help_text="The records' format.")
    subset = serializers.CharField(
        required=False, allow_blank=True, max_length=100, default="", help_text="Subset for records naming none."
    )
    map = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        default="",
        help_text="Rename the file's fields, e.g. instruction=input,response1=output_1",
    )

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        # Added here: a class attribute named `partial` would shadow Serializer.partial.
        fields["partial"] = serializers.BooleanField(
            default=False, help_text="Store the good lines and report the bad ones (default: all or nothing)."
        )
        return fields

    def validate_dataset(self, value: str) -> str:
        errors = dataset_name_errors(value)
        if errors:
            raise serializers.ValidationError(errors[0])
        return value

    def validate_map(self, value: str) -> dict[str, str]:
        try:
            return parse_field_map(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None


class UploadFilters(serializers.Serializer[Any]):
    dataset = serializers.CharField(required=False, max_length=100)
    status = serializers.ChoiceField(required=False, choices=Upload.Status.choices)


class _BodyParser(BaseParser):
    """Declares the raw media types the upload accepts; the view reads the body itself, streamed."""

    media_type = "*/*"


_BODY_SCHEMA = {
    "application/x-ndjson": {"type": "string", "format": "binary"},
    "application/json": {"type": "string", "format": "binary"},
    "multipart/form-data": {
        "type": "object",
        "properties": {"file": {"type": "string", "format": "binary"}},
        "required": ["file"],
    },
}


class UploadList(FilteredList):
    """Admins upload; reviewers and admins follow uploads."""

    serializer_class = UploadOut
    filters = UploadFilters
    parser_classes = [_BodyParser]
    content_negotiation_class = JsonOnly  # `?format=` is the records' format here

    @extend_schema(parameters=[UploadFilters])
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Upload]:
        return upload_selectors.uploads_list(**self.validated_filters())

    @extend_schema(
        parameters=[UploadParams],
        request=_BODY_SCHEMA,
        responses={
            202: UploadDetailOut,
            400: OpenApiResponse(description="A bad parameter, an empty body, or a body cut short."),
            413: OpenApiResponse(description="Over GRM_UPLOAD_MAX_BYTES."),
            503: OpenApiResponse(description="The upload folder cannot be written; nothing was stored."),
            507: OpenApiResponse(description="The upload folder is full; nothing was stored."),
        },
    )
    def post(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        """Upload JSON Lines or a JSON array (the body, or a multipart field `file`) into a dataset.

        The body is streamed to disk and ingested by a worker: poll the upload's `url` until its
        status is done, partial, rejected or failed.
        """
        params = UploadParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        values = params.validated_data
        django_request = request._request  # the Django request: its body is read here, streamed, not by DRF
        received, filename = self._receive(django_request)  # UploadRefused: 400, UploadTooLarge: 413, StorageFull: 507
        upload = upload_services.upload_create(
            received=received,
            dataset_name=values["dataset"],
            fmt=values["format"],
            field_map=values["map"],
            subset=values["subset"],
            partial=values["partial"],
            filename=filename,
            created_by=request.user,
        )
        out = UploadDetailOut(upload, context={"request": request}).data
        return Response(out, status=status.HTTP_202_ACCEPTED, headers={"Location": out["url"]})

    @staticmethod
    def _receive(django_request: Any) -> tuple[Any, str]:
        raw_length = django_request.META.get("CONTENT_LENGTH") or ""
        content_length = int(raw_length) if raw_length.isdecimal() else None
        if django_request.content_type == "multipart/form-data":
            if content_length is not None and content_length > settings.GRM_UPLOAD_MAX_BYTES:
                raise UploadTooLarge(upload_services.too_large_message(content_length))
            try:
                file = django_request.FILES.get("file")
            except OSError as exc:  # the parser could not write the file to disk: the server's fault
                raise upload_services.storage_error(exc) from exc
            except Exception as exc:  # a malformed or cut-short multipart body
                raise UploadRefused(f"the multipart body could not be read: {exc}") from None
            if file is None:
                raise UploadRefused("a multipart upload needs the file in the field `file`")
            return upload_services.receive_file(file, file.size or 0), file.name or ""
        return upload_services.receive_stream(django_request.read, content_length), ""


class UploadDetail(generics.RetrieveAPIView[Upload]):
    serializer_class = UploadDetailOut
    content_negotiation_class = JsonOnly
    queryset = upload_selectors.uploads_list()


class UploadErrorList(FilteredList):
    """Every bad line of an upload (the first MAX_REPORTED_ERRORS are kept), by line."""

    serializer_class = UploadErrorOut
    filters = serializers.Serializer

    def get_queryset(self) -> QuerySet[UploadError]:
        errors = upload_selectors.upload_errors(upload_id=self.kwargs["pk"])
        if errors is None:
            raise NotFound(f"no upload {self.kwargs['pk']}")
        return errors
