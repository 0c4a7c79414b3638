"""Writes: every change to the domain goes through a function here."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, cast

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

from reviews.ingest.formats import FieldErrors, Limits, QueryItem, normalize
from reviews.ingest.readers import RecordError, read_records
from reviews.models import (
    Annotation,
    ApiToken,
    Dataset,
    FailureMode,
    ModelConfig,
    PromptTemplate,
    Query,
    Response,
    Sample,
)
from reviews.roles import ADMIN
from workers.grm.templates import DEFAULT_TEMPLATE

logger = logging.getLogger(__name__)

IMPORT_CHUNK = 1000
DEFAULT_MODEL_NAME = "smollm2-135m-instruct"


@dataclass
class ImportReport:
    """What an import did: counts, and every bad line with its field."""

    dataset: str
    created: int = 0
    unchanged: int = 0
    lines: int = 0
    errors: list[RecordError] = field(default_factory=list)
    stored: bool = True

    @property
    def ok(self) -> bool:
        return not self.errors


class ImportRefused(Exception):
    """The whole import was refused (all-or-nothing policy, or a bad dataset name); nothing was written."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__(f"{len(report.errors)} bad line(s); nothing was stored")
        self.report = report


def dataset_name_errors(name: str) -> list[str]:
    """Why `name` cannot name a dataset (it appears in URLs), or nothing."""
    if not name:
        return ["a dataset name is required"]
    if len(name) > 100:
        return [f"dataset name is {len(name)} characters; at most 100"]
    if not re.fullmatch(r"[-a-zA-Z0-9_]+", name):
        return [f"dataset name {name!r} may hold only letters, digits, - and _"]
    return []


def _rewindable(stream: IO[bytes]) -> IO[bytes]:
    """The stream itself if it can seek, else a spooled copy (standard input, a network body)."""
    if stream.seekable():
        return stream
    spool = tempfile.SpooledTemporaryFile(max_size=16 << 20)  # noqa: SIM115 (the caller reads it)
    shutil.copyfileobj(stream, spool, 1 << 20)
    spool.seek(0)
    return cast(IO[bytes], spool)


def _validated_items(
    stream: IO[bytes], fmt: str, field_map: dict[str, str] | None, subset: str, report: ImportReport
) -> Iterator[tuple[int, QueryItem]]:
    """Good items with their lines; every bad line is added to the report instead."""
    limits = Limits(max_responses=settings.GRM_MAX_RESPONSES, max_text_chars=settings.GRM_MAX_TEXT_CHARS)
    first_line_of: dict[str, int] = {}
    for line, record in read_records(stream):
        report.lines = line
        if isinstance(record, RecordError):
            report.errors.append(record)
            continue
        try:
            item = normalize(record, fmt, field_map=field_map, subset=subset, limits=limits)
        except FieldErrors as exc:
            report.errors.extend(RecordError(line, name, message) for name, message in exc.errors)
            continue
        seen_at = first_line_of.setdefault(item.external_id, line)
        if seen_at != line:
            report.errors.append(RecordError(line, "id", f"duplicate id {item.external_id!r}, first on line {seen_at}"))
            continue
        yield line, item


def _chunks(items: Iterable[tuple[int, QueryItem]]) -> Iterator[list[tuple[int, QueryItem]]]:
    chunk: list[tuple[int, QueryItem]] = []
    for entry in items:
        chunk.append(entry)
        if len(chunk) >= IMPORT_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def dataset_import(
    *,
    dataset_name: str,
    stream: IO[bytes],
    fmt: str,
    field_map: dict[str, str] | None = None,
    subset: str = "",
    partial: bool = False,
    created_by: User | None = None,
    source: str = "",
) -> ImportReport:
    """Stream records from `stream` into the dataset, creating it if needed.

    Two passes: the first validates every line and checks ids against what is stored, writing
    nothing; the second writes in chunks of IMPORT_CHUNK items, one short transaction each, so the
    web process and workers are never locked out for the length of a large import (SQLite).

    Idempotent: an item whose id exists with the same content is counted unchanged; the same id with
    other content is a conflict. With partial=False any bad line stores nothing and raises
    ImportRefused; with partial=True the good lines are stored and the bad ones reported.
    """
    report = ImportReport(dataset=dataset_name)
    name_errors = dataset_name_errors(dataset_name)
    if name_errors:
        report.errors = [RecordError(0, "dataset", message) for message in name_errors]
        report.stored = False
        raise ImportRefused(report)
    stream = _rewindable(stream)
    dataset = Dataset.objects.filter(name=dataset_name).first()
    checked = 0
    for chunk in _chunks(_validated_items(stream, fmt, field_map, subset, report)):
        checked += len(chunk)
        if dataset is not None:
            _new_items(dataset, chunk, report)
    if checked == 0 and not report.errors:
        report.errors.append(RecordError(1, "", "the file holds no items"))
    if not report.ok and not partial:
        report.stored = False
        raise ImportRefused(report)
    if checked == 0:
        return report

    # Second pass: the same items again (validation is deterministic); conflicts found in the first
    # pass are re-detected per chunk and skipped, so they are not reported twice.
    stream.seek(0)
    write_report = ImportReport(dataset=dataset_name)
    with transaction.atomic():
        dataset, _ = Dataset.objects.get_or_create(
            name=dataset_name, defaults={"created_by": created_by, "source": source}
        )
    for chunk in _chunks(_validated_items(stream, fmt, field_map, subset, write_report)):
        with transaction.atomic():
            new_items = _new_items(dataset, chunk, write_report)
            _store(dataset, new_items)
        report.created += len(new_items)
    report.unchanged = write_report.unchanged
    known = {(error.line, error.field, error.message) for error in report.errors}
    report.errors.extend(e for e in write_report.errors if (e.line, e.field, e.message) not in known)
    logger.info(
        "import into %s: %d created, %d unchanged, %d errors",
        dataset_name,
        report.created,
        report.unchanged,
        len(report.errors),
    )
    return report


def _new_items(dataset: Dataset, chunk: list[tuple[int, QueryItem]], report: ImportReport) -> list[QueryItem]:
    """The chunk's items not yet stored (one query); unchanged ones are counted, conflicts reported."""
    stored = dict(
        Query.objects.filter(dataset=dataset, external_id__in=[item.external_id for _, item in chunk]).values_list(
            "external_id", "content_hash"
        )
    )
    new_items: list[QueryItem] = []
    for line, item in chunk:
        stored_hash = stored.get(item.external_id)
        if stored_hash is None:
            new_items.append(item)
        elif stored_hash == item.content_hash:
            report.unchanged += 1
        else:
            report.errors.append(
                RecordError(line, "id", f"id {item.external_id!r} already exists in {dataset.name} with other content")
            )
    return new_items


def _store(dataset: Dataset, items: list[QueryItem]) -> None:
    if not items:
        return
    queries = Query.objects.bulk_create(
        [
            Query(
                dataset=dataset,
                external_id=item.external_id,
                subset=item.subset,
                context=item.context,
                prompt=item.prompt,
                best_index=item.best_index,
                rating=item.rating,
                content_hash=item.content_hash,
                metadata=item.metadata,
            )
            for item in items
        ]
    )
    Response.objects.bulk_create(
        [
            Response(query=query, position=position, text=text, metadata=metadata)
            for query, item in zip(queries, items, strict=True)
            for position, (text, metadata) in enumerate(item.responses)
        ]
    )


@dataclass
class AdminAccount:
    username: str
    created: bool
    password: str | None  # set only when generated now: it is shown once and never stored in clear


def admin_ensure(*, username: str, password: str | None) -> AdminAccount:
    """Create the admin account if missing; a given password is (re)applied, else one is generated once."""
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    created = user is None
    shown: str | None = None
    if user is None:
        shown = password or secrets.token_urlsafe(12)
        user = User.objects.create_superuser(username=username, email="", password=shown)
        if password:
            shown = None
    elif password and not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    user.groups.add(Group.objects.get(name=ADMIN))
    return AdminAccount(username=username, created=created, password=shown)


def user_create(*, username: str, password: str, roles: Iterable[str], is_staff: bool = False) -> Any:
    """A user holding the given roles (group names)."""
    user = get_user_model().objects.create_user(username=username, password=password, is_staff=is_staff)
    user.groups.set(Group.objects.filter(name__in=list(roles)))
    return user


def defaults_ensure() -> tuple[PromptTemplate, ModelConfig]:
    """The default prompt template (GRM_SPEC section 2) and the default model configuration."""
    template = PromptTemplate.objects.filter(is_default=True).first()
    if template is None:
        template, _ = PromptTemplate.objects.get_or_create(
            name="deepseek-grm-default",
            version=1,
            defaults={
                "text": DEFAULT_TEMPLATE,
                "description": "DeepSeek-GRM default prompt (paper App. G), byte for byte.",
                "is_default": True,
            },
        )
    model = ModelConfig.objects.filter(is_default=True).first()
    if model is None:
        model, _ = ModelConfig.objects.get_or_create(
            name=DEFAULT_MODEL_NAME,
            defaults={"backend": ModelConfig.Backend.TRANSFORMERS, "model": settings.GRM_MODEL, "is_default": True},
        )
    return template, model


DEMO_FILE = settings.BASE_DIR / "reviews" / "demo" / "demo.jsonl"
DEMO_DATASET = "demo"


def demo_load() -> ImportReport:
    """The team-written demo dataset (chat, reasoning, safety, code); loading it twice changes nothing."""
    with DEMO_FILE.open("rb") as stream:
        report = dataset_import(
            dataset_name=DEMO_DATASET, stream=stream, fmt="native", source="reviews/demo/demo.jsonl"
        )
    Dataset.objects.filter(name=DEMO_DATASET, description="").update(
        description="Written by the team: chat, reasoning with verifiable answers, safety and coding."
    )
    return report


API_TOKEN_PREFIX = "grm_"  # noqa: S105 (a label, not a secret)


def api_token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """A new token for `user`; the raw token is returned once and never stored."""
    raw = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name[:100], key_hash=api_token_hash(raw), prefix=raw[:12])
    return token, raw


def api_token_revoke(*, token: ApiToken) -> None:
    ApiToken.objects.filter(id=token.id, revoked_at__isnull=True).update(revoked_at=timezone.now())


class AnnotationInvalid(ValueError):
    """An annotation that cannot be stored; the message names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@transaction.atomic
def annotation_submit(
    *,
    reviewer: User,
    decision: str,
    sample: Sample | None = None,
    query: Query | None = None,
    failure_modes: Iterable[FailureMode] = (),
    note: str = "",
    corrected_scores: list[int] | None = None,
    time_spent_ms: int = 0,
) -> Annotation:
    """Store a reviewer's decision on a sample or a query; submitting again updates the same annotation."""
    if (sample is None) == (query is None):
        raise AnnotationInvalid("target", "give exactly one of sample and query")
    if decision not in Annotation.Decision.values:
        raise AnnotationInvalid("decision", f"must be one of {', '.join(Annotation.Decision.values)}")
    if corrected_scores is not None:
        responses = (sample.query if sample is not None else query).responses.count()  # type: ignore[union-attr]
        if len(corrected_scores) != responses or not all(1 <= score <= 10 for score in corrected_scores):
            raise AnnotationInvalid(
                "corrected_scores", f"give {responses} integers from 1 to 10, one per response in original order"
            )
    annotation, _ = Annotation.objects.update_or_create(
        reviewer=reviewer,
        sample=sample,
        query=query,
        defaults={
            "decision": decision,
            "note": note,
            "corrected_scores": corrected_scores,
            "time_spent_ms": max(0, time_spent_ms),
        },
    )
    annotation.failure_modes.set(list(failure_modes))
    return annotation
