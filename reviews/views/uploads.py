"""Uploads in the browser: the upload form with its preview, each upload's page with the worker's
progress and the bad lines, and the list of uploads. The form calls the API's upload service."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect, retarget

from reviews.errors import ApplicationError, StorageFull, StorageUnavailable
from reviews.forms import RENAME_PREFIX, UploadForm, UploadPreviewForm
from reviews.ingest.preview import PREVIEW_HEAD_CHARS, preview
from reviews.models import Upload
from reviews.roles import admin_required, reviewer_required
from reviews.selectors import uploads as upload_selectors
from reviews.services import uploads as upload_services
from reviews.views import HtmxHttpRequest

ERRORS_PER_PAGE = 50
UPLOADS_PER_PAGE = 50


def _too_large(request: HttpRequest) -> str | None:
    raw = request.META.get("CONTENT_LENGTH") or ""
    if raw.isdecimal() and int(raw) > settings.GRM_UPLOAD_MAX_BYTES:
        return upload_services.too_large_message(int(raw))
    return None


@admin_required
def upload_new(request: HtmxHttpRequest) -> HttpResponse:
    """The upload form. Sent with htmx (the page's script: a bar while the file goes up), it answers
    with a redirect to the upload's page, or its errors in the form's error box; without script, the
    whole page."""
    if request.method == "POST" and (too_large := _too_large(request)):
        # Refused before the body is parsed: the multipart parser would first write it all to disk.
        return _form_answer(request, UploadForm(initial=_initial(request)), status=413, refused=too_large)
    try:
        files = request.FILES if request.method == "POST" else None
    except OSError as exc:  # the multipart parser could not write the file to disk
        error = upload_services.storage_error(exc)
        status = 507 if isinstance(error, StorageFull) else 503
        return _form_answer(request, UploadForm(initial=_initial(request)), status=status, refused=error.message)
    form = UploadForm(request.POST or None, files or None, initial=_initial(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        file = data["file"]
        try:
            received = upload_services.receive_file(file, file.size or 0)
            upload = upload_services.upload_create(
                received=received,
                dataset_name=data["dataset_name"],
                fmt=data["format"],
                field_map=data["map"],
                subset=data["subset"],
                partial=data["partial"],
                filename=file.name or "",
                created_by=request.user,  # type: ignore[arg-type]  # behind admin_required
            )
        except StorageUnavailable as exc:  # the server's fault, not the form's: said above the form
            status = 507 if isinstance(exc, StorageFull) else 503
            return _form_answer(request, form, status=status, refused=exc.message)
        except ApplicationError as exc:
            form.add_error("file", exc.message)
        else:
            url = reverse("upload-detail", args=[upload.pk])
            if request.htmx:
                return HttpResponseClientRedirect(url)
            return redirect(url)
    return _form_answer(request, form, status=400 if form.errors else 200)


def _initial(request: HttpRequest) -> dict[str, Any]:
    name = request.GET.get("dataset", "")
    return {"target": "existing", "dataset": name} if name else {}


def _form_answer(request: HtmxHttpRequest, form: UploadForm, *, status: int, refused: str = "") -> HttpResponse:
    if request.htmx and request.method == "POST":
        # The form stays as it is (the chosen file too); only its error box changes.
        response = render(request, "reviews/_upload_errors.html", {"form": form, "refused": refused}, status=status)
        return retarget(response, "#upload-errors")
    context = {
        "form": form,
        "refused": refused,
        "head_bytes": PREVIEW_HEAD_CHARS,
        "max_bytes": settings.GRM_UPLOAD_MAX_BYTES,
    }
    return render(request, "reviews/upload_new.html", context, status=status)


@require_POST
@admin_required
def upload_preview(request: HttpRequest) -> HttpResponse:
    """The first items of the chosen file as the importer will read them (the page sends the file's
    first bytes, not the file)."""
    form = UploadPreviewForm(request.POST)
    context: dict[str, Any] = {"form": form, "rename_prefix": RENAME_PREFIX}
    if form.is_valid():
        data = form.cleaned_data
        if data["head"]:
            context["preview"] = preview(
                data["head"].encode("utf-8"),
                complete=data["head_complete"],
                fmt=data["format"],
                field_map=data["map"],
                subset=data["subset"],
            )
            context["fmt"] = data["format"]
    return render(request, "reviews/_upload_preview.html", context)


def _upload_or_404(upload_id: int) -> Upload:
    try:
        return upload_selectors.upload_for_page(upload_id=upload_id)
    except Upload.DoesNotExist:
        raise Http404(f"No upload {upload_id}.") from None


def _status_context(request: HttpRequest, upload: Upload) -> dict[str, Any]:
    context: dict[str, Any] = {"upload": upload, "progress": upload_selectors.upload_progress(upload)}
    if upload.status in Upload.ENDED and upload.error_count:
        errors = upload_selectors.upload_bad_lines(upload=upload)
        context["errors"] = Paginator(errors, ERRORS_PER_PAGE).get_page(request.GET.get("page"))
    return context


@reviewer_required
def upload_detail(request: HttpRequest, upload_id: int) -> HttpResponse:
    upload = _upload_or_404(upload_id)
    return render(request, "reviews/upload_detail.html", _status_context(request, upload))


@reviewer_required
def upload_status(request: HttpRequest, upload_id: int) -> HttpResponse:
    """The upload's progress, polled while a worker ingests it; once ended, the outcome and bad lines."""
    upload = _upload_or_404(upload_id)
    return render(request, "reviews/_upload_status.html", _status_context(request, upload))


@reviewer_required
def uploads(request: HttpRequest) -> HttpResponse:
    """Every upload, newest first, by dataset and status."""
    dataset = request.GET.get("dataset", "")[:100]
    status = request.GET.get("status", "")
    if status not in Upload.Status.values:
        status = ""
    listed = upload_selectors.uploads_list(dataset=dataset, status=status)
    page = Paginator(listed, UPLOADS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"page": page, "dataset": dataset, "status": status, "statuses": Upload.Status.choices}
    return render(request, "reviews/uploads.html", context)
