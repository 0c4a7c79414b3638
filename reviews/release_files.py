"""One file of a ready release over HTTP, for the release pages and the API: a file is asked for by its
name in the manifest (or manifest.json), never by a path, and answered with its sha256 as the ETag and in
X-Checksum-SHA256, with conditional GET (If-None-Match: 304, If-Match: 412)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from django.http import FileResponse, HttpRequest, HttpResponseBase
from django.utils.cache import get_conditional_response

from reviews.errors import Conflict
from reviews.models import Release
from reviews.services.releases import MANIFEST, release_folder

NDJSON = "application/x-ndjson"
PARQUET = "application/vnd.apache.parquet"
JSON = "application/json"
CONTENT_TYPES = {".jsonl": NDJSON, ".parquet": PARQUET, ".json": JSON}


@dataclass(frozen=True)
class ReleaseFile:
    name: str
    path: Path
    sha256: str
    download_name: str  # "<release name>-v<version>-<name>": files of several releases side by side

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES.get(self.path.suffix, "application/octet-stream")


def release_file(*, release: Release, name: str) -> ReleaseFile | None:
    """The release's file called `name`, or None when the manifest lists no such file. Conflict while
    the release is not ready (its files are being written, or it failed and has none)."""
    if release.status != Release.Status.READY:
        raise Conflict(f"release {release} is {release.status}, not ready: its files can be downloaded once it is")
    path = release_folder(release) / name
    download_name = f"{release.name}-v{release.version}-{name}"
    if name == MANIFEST:
        try:
            return ReleaseFile(name, path, hashlib.sha256(path.read_bytes()).hexdigest(), download_name)
        except FileNotFoundError:
            return ReleaseFile(name, path, "", download_name)  # missing on disk: release_file_response says so
    for file in release.files:
        if file["name"] == name:
            return ReleaseFile(name, path, str(file["sha256"]), download_name)
    return None


def release_file_response(request: HttpRequest, file: ReleaseFile) -> HttpResponseBase | None:
    """The file as an attachment with its checksum headers, a 304 or 412 for a conditional request, or
    None when the file is missing on disk."""
    if not file.sha256:
        return None
    etag = f'"{file.sha256}"'
    conditional = get_conditional_response(request, etag=etag)  # If-None-Match, If-Match
    if conditional is not None:
        conditional["ETag"] = etag
        return conditional
    try:
        handle = file.path.open("rb")
    except FileNotFoundError:
        return None
    response = FileResponse(handle, as_attachment=True, filename=file.download_name, content_type=file.content_type)
    response["X-Checksum-SHA256"] = file.sha256
    response["ETag"] = etag
    return response
