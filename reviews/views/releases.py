"""Release pages, for admins only: define and build a release, follow its build, read its manifest and
download its files (through the page's session, so the browser can fetch them)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_safe

from reviews.errors import ApplicationError, Conflict
from reviews.forms import ReleaseForm
from reviews.models import Release
from reviews.release_files import release_file, release_file_response
from reviews.roles import admin_required, is_admin
from reviews.selectors.releases import releases_list
from reviews.services import releases as release_services
from reviews.views import UserHtmxHttpRequest, _form_error

PAGE_SIZE = 50


def _release_or_404(release_id: int) -> Release:
    return get_object_or_404(releases_list(), pk=release_id)


@require_http_methods(["GET", "POST"])
@admin_required
def releases(request: UserHtmxHttpRequest) -> HttpResponse:
    """The release form and every release with its status; a build in progress polls its own row."""
    form = ReleaseForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            release = release_services.release_create(
                kind=data["kind"],
                filters=form.release_filters(),
                name=data["name"],
                seed=data["seed"],
                validation_fraction=data["validation_fraction"],
                created_by=request.user,
            )
        except ApplicationError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"Release {release} queued: a worker builds it; its row shows the progress.")
            return redirect("releases")
    page = Paginator(releases_list(), PAGE_SIZE).get_page(request.GET.get("page"))
    status = 400 if form.is_bound else 200
    return render(request, "reviews/releases.html", {"form": form, "page": page}, status=status)


@require_safe
@admin_required
def release_row(request: HttpRequest, release_id: int) -> HttpResponse:
    """One release's row on the releases page; it polls itself while the release is queued or building."""
    return render(request, "reviews/_release_row.html", {"release": _release_or_404(release_id)})


@require_safe
@admin_required
def release_detail(request: HttpRequest, release_id: int) -> HttpResponse:
    """The release's manifest, readably: kind, filters, counts, source runs, templates, models, seed, who
    and when, and each file with its size, rows, sha256, download link and `load_dataset` snippet. While it
    builds the page polls itself (htmx picks its body out of the answer)."""
    release = _release_or_404(release_id)
    files = [
        {**file, "url": reverse("release-file", args=[release.pk, file["name"]])}
        for file in (release.files if release.status == Release.Status.READY else [])
    ]
    by_format: dict[str, dict[str, str]] = {}
    for file in files:
        by_format.setdefault(str(file["format"]), {})[str(file["split"])] = str(file["name"])
    context = {
        "release": release,
        "manifest": release.manifest,
        "filters": _filter_rows(release.filters),
        "files": files,
        "manifest_url": reverse("release-file", args=[release.pk, release_services.MANIFEST]),
        "snippet": _load_dataset_snippet(release, by_format),
        "building": release.status in (Release.Status.QUEUED, Release.Status.BUILDING),
    }
    return render(request, "reviews/release_detail.html", context)


def _filter_rows(filters: dict[str, Any]) -> list[tuple[str, str]]:
    """The filters as the page shows them: a list joined by commas, true as "yes"."""
    rows = []
    for key, value in filters.items():
        if isinstance(value, list):
            rows.append((key, ", ".join(map(str, value))))
        else:
            rows.append((key, "yes" if value is True else str(value)))
    return rows


def _load_dataset_snippet(release: Release, by_format: dict[str, dict[str, str]]) -> str:
    """Python that reads the downloaded files with `datasets` (named as the downloads name them), from JSON
    Lines, or the same rows from Parquet."""
    prefix = f"{release.name}-v{release.version}-"
    lines = ["from datasets import load_dataset", ""]
    for format_name, builder, comment in (("jsonl", "json", ""), ("parquet", "parquet", "# or, the same rows:")):
        splits = by_format.get(format_name)
        if splits:
            files = ", ".join(f'"{split}": "{prefix}{name}"' for split, name in splits.items())
            lines += [comment] if comment else []
            lines.append(f'data = load_dataset("{builder}", data_files={{{files}}})')
    return "\n".join(lines) + "\n" if by_format else ""


@require_safe
@login_required  # admin_required's type takes only HttpResponse views; this one streams a file
def release_file_download(request: HttpRequest, release_id: int, name: str) -> HttpResponseBase:
    """One file of a ready release (a manifest file or manifest.json), with its sha256 as ETag."""
    if not is_admin(request.user):
        raise PermissionDenied("This page is for admins.")
    release = _release_or_404(release_id)
    try:
        file = release_file(release=release, name=name)
    except Conflict as exc:
        return HttpResponse(exc.message, status=409, content_type="text/plain; charset=utf-8")
    if file is None:
        raise Http404("No such file in this release")
    response = release_file_response(request, file)
    if response is None:
        raise Http404("This file is missing on the server")
    return response
