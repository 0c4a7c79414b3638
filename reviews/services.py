"""Writes: every change to the domain goes through a function here."""

from __future__ import annotations

import hashlib
import itertools
import logging
import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.db import connection, transaction
from django.utils import timezone

from reviews.ingest import store
from reviews.ingest.formats import FieldErrors, Limits, normalize
from reviews.ingest.readers import RecordError, read_records
from reviews.models import (
    Annotation,
    ApiToken,
    Dataset,
    FailureMode,
    ModelConfig,
    PromptTemplate,
    Query,
    Sample,
)
from reviews.roles import ADMIN
from workers.grm.templates import DEFAULT_TEMPLATE

logger = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "smollm2-135m-instruct"


MAX_REPORTED_ERRORS = 10_000


@dataclass
class ImportReport:
    """What an import did: counts, and the bad lines with their fields (the first MAX_REPORTED_ERRORS)."""

    dataset: str
    created: int = 0
    unchanged: int = 0
    items: int = 0  # records read, good and bad
    lines: int = 0  # the line of the last record
    errors: list[RecordError] = field(default_factory=list)
    error_count: int = 0
    stored: bool = True

    @property
    def ok(self) -> bool:
        return not self.error_count

    def add_error(self, error: RecordError) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(error)


class ImportRefused(Exception):
    """The whole import was refused (all-or-nothing policy, a bad dataset name, a cap); nothing was written."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__(f"{report.error_count} bad line(s); nothing was stored")
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


def _validated_rows(
    stream: IO[bytes],
    *,
    fmt: str,
    field_map: dict[str, str] | None,
    subset: str,
    max_items: int | None,
    report: ImportReport,
) -> Iterator[store.Row]:
    """Each good item as a row to store; every bad line goes to the report instead."""
    limits = Limits(max_responses=settings.GRM_MAX_RESPONSES, max_text_chars=settings.GRM_MAX_TEXT_CHARS)
    for items, (line, record) in enumerate(read_records(stream), start=1):
        report.lines, report.items = line, items
        if max_items is not None and items > max_items:
            report.errors, report.error_count = [], 0
            message = f"the upload holds more than {max_items:,} items, the cap (GRM_UPLOAD_MAX_ITEMS)"
            report.add_error(RecordError(line, "", message))
            raise ImportRefused(report)
        if isinstance(record, RecordError):
            report.add_error(record)
            continue
        try:
            item = normalize(record, fmt, field_map=field_map, subset=subset, limits=limits)
        except FieldErrors as exc:
            for name, message in exc.errors:
                report.add_error(RecordError(line, name, message))
            continue
        yield store.Row.of(line, item)


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
    max_items: int | None = None,
) -> ImportReport:
    """Stream records from `stream` into the dataset, creating it if needed. The importer command and
    the upload task both come here.

    One pass, one transaction: each record is validated, and every store.CHUNK good ones are checked
    against the ids stored (before, or earlier in this file) and written with bulk inserts (COPY on
    PostgreSQL, where a writer thread stores a chunk while the next is validated). Memory does not
    grow with the file.

    Idempotent: an item whose id exists with the same content is counted unchanged; the same id with
    other content is a conflict, the same id twice in the file a duplicate. With partial=False any
    bad line rolls the whole import back (nothing stored, every bad line reported, ImportRefused);
    with partial=True the good lines are stored and the bad ones reported. Concurrent imports into
    one dataset take turns (a PostgreSQL advisory lock; SQLite has a single writer anyway).
    """
    report = ImportReport(dataset=dataset_name)
    name_errors = dataset_name_errors(dataset_name)
    if name_errors:
        for message in name_errors:
            report.add_error(RecordError(0, "dataset", message))
        report.stored = False
        raise ImportRefused(report)
    try:
        with transaction.atomic():
            _import_in_transaction(
                report,
                stream,
                fmt=fmt,
                field_map=field_map,
                subset=subset,
                partial=partial,
                created_by=created_by,
                source=source,
                max_items=max_items,
            )
    except ImportRefused:
        report.stored = False
        report.created = report.unchanged = 0
        raise
    logger.info(
        "import into %s: %d created, %d unchanged, %d errors",
        dataset_name,
        report.created,
        report.unchanged,
        report.error_count,
    )
    return report


def _import_in_transaction(
    report: ImportReport,
    stream: IO[bytes],
    *,
    fmt: str,
    field_map: dict[str, str] | None,
    subset: str,
    partial: bool,
    created_by: User | None,
    source: str,
    max_items: int | None,
) -> None:
    store.lock_dataset(connection, report.dataset)
    dataset, new_dataset = Dataset.objects.get_or_create(
        name=report.dataset, defaults={"created_by": created_by, "source": source}
    )
    writer = store.Writer(connection, dataset.id, dataset.name, timezone.now())
    rows = _validated_rows(stream, fmt=fmt, field_map=field_map, subset=subset, max_items=max_items, report=report)
    with store.writing(writer) as submit:
        while chunk := list(itertools.islice(rows, store.CHUNK)):
            submit(chunk)
    outcome = writer.outcome
    report.created, report.unchanged = outcome.created, outcome.unchanged
    for error in outcome.errors:
        report.add_error(error)
    report.errors.sort(key=lambda error: error.line)
    if report.lines == 0 and not report.error_count:
        report.add_error(RecordError(1, "", "the file holds no items"))
    if not report.ok and not partial:
        raise ImportRefused(report)
    if new_dataset and not report.created:
        dataset.delete()  # nothing stored: leave no empty dataset behind


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
