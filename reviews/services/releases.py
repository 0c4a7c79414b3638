"""Writes for releases: define one (validated filters, the next version of its name), build it (stream
the rows into JSON Lines and Parquet files, hash them, write the manifest) and record how it ended.

A ready release never changes. Building the same definition again gives the next version with
byte-identical data files while the data has not changed: rows come in a fixed order, duplicates are
dropped by content hash, the train/validation split is a seeded hash of each query.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Max, QuerySet
from django.utils import timezone

from reviews import enqueue
from reviews.errors import Conflict, ReleaseInvalid
from reviews.exports import records
from reviews.models import Dataset, FailureMode, Query, Release, Round, Run, Sample
from reviews.selectors import exports as export_selectors
from reviews.services.decisions import decisions_backfill

logger = logging.getLogger(__name__)

FILTER_KEYS = ("dataset", "subset", "run", "round", "reviewer_accepted", "failure_mode", "since", "until")
SAMPLE_ONLY = ("reviewer_accepted", "failure_mode")
PROGRESS_EVERY = 10_000
MANIFEST = "manifest.json"
FORMAT_VERSION = 2  # 2: rft_sft and rejected rows hold prompt and completion (1: messages, input, output)


def _as_list(value: Any) -> list[Any]:
    if value in (None, "", []):
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _date(name: str, value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ReleaseInvalid(f"{name} must be a date as YYYY-MM-DD, got {value!r}", field=name) from None


def clean_filters(kind: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Check a definition's filters against the database and return them in canonical form (sorted
    lists, ISO dates, only what was given), as the manifest records them."""
    if kind not in records.KINDS:
        raise ReleaseInvalid(f"kind must be one of {', '.join(records.KINDS)}, got {kind!r}", field="kind")
    unknown = sorted(set(raw) - set(FILTER_KEYS))
    if unknown:
        raise ReleaseInvalid(f"unknown filter {', '.join(unknown)}: use {', '.join(FILTER_KEYS)}", field=unknown[0])
    clean: dict[str, Any] = {}
    datasets = sorted({str(name) for name in _as_list(raw.get("dataset"))})
    if datasets:
        missing = sorted(set(datasets) - set(Dataset.objects.filter(name__in=datasets).values_list("name", flat=True)))
        if missing:
            raise ReleaseInvalid(f"no dataset named {', '.join(missing)}", field="dataset")
        clean["dataset"] = datasets
    subsets = sorted({str(name) for name in _as_list(raw.get("subset"))})
    if subsets:
        clean["subset"] = subsets
    try:
        runs = sorted({int(run) for run in _as_list(raw.get("run"))})
    except (TypeError, ValueError):
        raise ReleaseInvalid(f"run must be run ids, got {raw.get('run')!r}", field="run") from None
    if any(not 0 < run < 2**63 for run in runs):
        raise ReleaseInvalid(f"run ids are from 1 to 2**63-1, got {raw.get('run')!r}", field="run")
    if runs:
        missing_runs = sorted(set(runs) - set(Run.objects.filter(id__in=runs).values_list("id", flat=True)))
        if missing_runs:
            raise ReleaseInvalid(f"no run {', '.join(map(str, missing_runs))}", field="run")
        clean["run"] = runs
    if raw.get("round") not in (None, ""):
        try:
            number = int(raw["round"])
        except (TypeError, ValueError):
            raise ReleaseInvalid(f"round must be a round number, got {raw['round']!r}", field="round") from None
        if not 0 <= number < 2**31 or not Round.objects.filter(number=number).exists():
            raise ReleaseInvalid(f"no round {number}", field="round")
        clean["round"] = number
    accepted = raw.get("reviewer_accepted")
    if accepted not in (None, "", False, "false", "0"):
        if accepted not in (True, "true", "1", 1):
            raise ReleaseInvalid(
                f"reviewer_accepted must be true or false, got {accepted!r}", field="reviewer_accepted"
            )
        clean["reviewer_accepted"] = True
    mode = str(raw.get("failure_mode") or "")
    if mode:
        if not FailureMode.objects.filter(code=mode).exists():
            raise ReleaseInvalid(f"no failure mode {mode!r}", field="failure_mode")
        clean["failure_mode"] = mode
    for name in ("since", "until"):
        day = _date(name, raw.get(name))
        if day is not None:
            clean[name] = day.isoformat()
    if "since" in clean and "until" in clean and clean["since"] > clean["until"]:
        raise ReleaseInvalid("since must not be after until", field="since")
    if kind == "rl_prompts":
        given = [name for name in SAMPLE_ONLY if name in clean]
        if given:
            raise ReleaseInvalid(f"rl_prompts holds queries, not judgments: {given[0]} does not apply", field=given[0])
    return clean


def _filters(clean: Mapping[str, Any]) -> export_selectors.ExportFilters:
    return export_selectors.ExportFilters(
        datasets=list(clean.get("dataset", [])),
        subsets=list(clean.get("subset", [])),
        runs=list(clean.get("run", [])),
        round=clean.get("round"),
        reviewer_accepted=bool(clean.get("reviewer_accepted")),
        failure_mode=clean.get("failure_mode", ""),
        since=date.fromisoformat(clean["since"]) if "since" in clean else None,
        until=date.fromisoformat(clean["until"]) if "until" in clean else None,
    )


def default_name(kind: str, clean: Mapping[str, Any]) -> str:
    """A release's name when none is given: its kind and what it selects."""
    parts = [kind.replace("_", "-")]
    if "round" in clean:
        parts.append(f"round-{clean['round']}")
    if clean.get("run"):
        parts.append("run-" + "-".join(map(str, clean["run"][:3])))
    if clean.get("dataset"):
        parts.append("-".join(clean["dataset"][:2]))
    return re.sub(r"[^A-Za-z0-9_-]+", "-", "-".join(parts))[:100].strip("-")


def release_create(
    *,
    kind: str,
    filters: Mapping[str, Any] | None = None,
    name: str = "",
    seed: int = 0,
    validation_fraction: float = 0.1,
    created_by: User | None = None,
    build: bool = True,
) -> Release:
    """Define a release and queue its build (on the cpu workers, once the transaction commits); `build`
    False leaves it queued for the caller to build in-process (`manage.py export_release`)."""
    clean = clean_filters(kind, dict(filters or {}))
    if not 0 <= validation_fraction < 1:
        raise ReleaseInvalid(
            f"validation_fraction must be from 0 to below 1, got {validation_fraction}", field="validation_fraction"
        )
    if not 0 <= seed < 2**63:
        raise ReleaseInvalid(f"seed must be from 0 to 2**63-1, got {seed}", field="seed")
    name = name or default_name(kind, clean)
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,100}", name):
        raise ReleaseInvalid("name must be 1-100 letters, digits, - or _", field="name")
    round_ = Round.objects.filter(number=clean["round"]).first() if "round" in clean else None
    for _ in range(5):  # two definitions of the same name at once: the loser takes the next version
        try:
            with transaction.atomic():
                version = (Release.objects.filter(name=name).aggregate(top=Max("version"))["top"] or 0) + 1
                release = Release.objects.create(
                    name=name,
                    version=version,
                    kind=kind,
                    rft_round=round_,
                    filters=clean,
                    seed=seed,
                    validation_fraction=validation_fraction,
                    folder=f"{name}-v{version}",
                    created_by=created_by,
                )
        except IntegrityError:
            continue
        if build:
            enqueue.on_commit(enqueue.RELEASE_BUILD, release.id)
        return release
    raise Conflict(f"could not number a new version of {name}: try again")


def release_folder(release: Release) -> Path:
    return Path(settings.GRM_RELEASE_DIR) / release.folder


def release_claim(*, release_id: int) -> tuple[Release, str] | None:
    """Take a queued release to build, with this attempt's token: None when another attempt has it, or
    it has ended. Only one attempt holds a release at a time; the watchdog puts a build whose heartbeat
    stopped back in the queue (`releases_resume_stalled`)."""
    token = uuid.uuid4().hex
    claimed = Release.objects.filter(id=release_id, status=Release.Status.QUEUED).update(
        status=Release.Status.BUILDING, build_token=token, rows_done=0, updated_at=timezone.now()
    )
    return (Release.objects.get(id=release_id), token) if claimed else None


def _progress(release_id: int, done: int, total: int | None = None) -> None:
    values: dict[str, Any] = {"rows_done": done, "updated_at": timezone.now()}
    if total is not None:
        values["rows_total"] = total
    Release.objects.filter(id=release_id, status=Release.Status.BUILDING).update(**values)


def release_build(*, release_id: int, on_progress: Callable[[int, int], None] | None = None) -> Release | None:
    """Build a queued release: its files are written into a folder of this attempt's own and moved into
    place only when complete; the outcome (ready, or failed with its message) is recorded only while
    this attempt still holds the release. Returns the release, or None when it was not this attempt's."""
    claim = release_claim(release_id=release_id)
    if claim is None:
        return None
    release, token = claim
    folder = release_folder(release)
    work = folder.with_name(f".{folder.name}.{token}")
    mine = Release.objects.filter(id=release.id, status=Release.Status.BUILDING, build_token=token)
    try:
        manifest = _build(release, work, on_progress)
        with transaction.atomic():
            if not mine.select_for_update().exists():
                raise Conflict(f"release {release} was taken over by another build")
            shutil.rmtree(folder, ignore_errors=True)  # what an attempt that died moved in, if any
            os.replace(work, folder)
            mine.update(
                status=Release.Status.READY,
                manifest=manifest,
                counts=manifest["counts"],
                sha256=manifest["sha256"],
                rows_done=manifest["counts"]["source_rows"],
                finished_at=timezone.now(),
            )
    except Exception as error:
        shutil.rmtree(work, ignore_errors=True)
        if isinstance(error, Conflict):
            logger.warning("%s", error)
            return None
        message = str(error) or type(error).__name__
        mine.update(status=Release.Status.FAILED, error_message=message[:10_000], finished_at=timezone.now())
        logger.exception("release %s failed", release)
        if not isinstance(error, ReleaseInvalid | OSError):
            raise
    release.refresh_from_db()
    return release


def _build(release: Release, folder: Path, on_progress: Callable[[int, int], None] | None) -> dict[str, Any]:
    clean = release.filters
    filters = _filters(clean)
    kind = release.kind
    queries: QuerySet[Query] | None = None
    samples: QuerySet[Sample] | None = None
    if kind == "rl_prompts":
        queries = export_selectors.export_queries(filters=filters)
        total = queries.count()
    else:
        named = export_selectors.export_runs(filters=filters)
        if named is not None:
            decisions_backfill(run_ids=named)  # runs stored before decisions existed
        samples = export_selectors.export_samples(kind=kind, filters=filters)
        total = samples.count()
    _progress(release.id, 0, total)
    if total == 0:
        raise ReleaseInvalid(f"nothing to export: no {kind} rows match {clean or 'the whole database'}")
    writer = records_writer(folder, kind)
    try:
        return _write(release, folder, writer, queries, samples, total, on_progress)
    finally:
        writer.abort()  # closes what an error left open; nothing once closed


def _write(
    release: Release,
    folder: Path,
    writer: Any,
    queries: QuerySet[Query] | None,
    samples: QuerySet[Sample] | None,
    total: int,
    on_progress: Callable[[int, int], None] | None,
) -> dict[str, Any]:
    kind, clean = release.kind, release.filters
    filters = _filters(clean)
    tally = _Tally(kind)
    read = 0

    def progress(done: int) -> None:
        _progress(release.id, done)
        if on_progress is not None:
            on_progress(done, total)

    if queries is not None:
        runs = export_selectors.export_runs(filters=filters)
        infos = list(export_selectors.run_infos(runs).values()) if runs else [export_selectors.default_run_info()]
        templates = sorted({info.template for info in infos})
        by_template = {info.template: info for info in infos}
        for chunk in export_selectors.export_query_chunks(queries):
            for query in chunk.values():
                for template in templates:
                    row = records.rl_prompt(query, by_template[template], seed=release.seed)
                    if row is not None:
                        tally.add(row, query, writer, release)
                read += 1
                if read % PROGRESS_EVERY == 0:
                    progress(read)
        tally.templates.update(templates)
        if runs:
            tally.runs.update(runs)
            tally.models.update(info.model for info in infos)
    elif samples is not None:
        infos_by_run: dict[int, records.RunInfo] = {}
        group: list[records.SampleRow] = []  # pairs: one query's samples in one run
        queries_seen: dict[int, records.QueryText] = {}  # pairs: the open group's query across chunks
        prompts = records.Prompts()
        chunks = export_selectors.export_sample_chunks(
            samples, with_annotations=kind in ("rejected", "metarm"), with_reasoning=kind == "metarm"
        )
        for rows, texts in chunks:
            missing = {sample.run_id for sample in rows} - set(infos_by_run)
            if missing:
                infos_by_run |= export_selectors.run_infos(sorted(missing))
            for sample in rows:
                if kind == "pairs":
                    if group and (group[0].query_id, group[0].run_id) != (sample.query_id, sample.run_id):
                        _pairs(group, queries_seen, infos_by_run, tally, writer, release)
                        group = []
                    group.append(sample)
                    queries_seen[sample.query_id] = texts[sample.query_id]
                else:
                    run = infos_by_run[sample.run_id]
                    query = texts[sample.query_id]
                    line = None
                    if kind == "metarm":
                        row = records.metarm(query, run, sample)
                    else:
                        row, line = records.trajectory(kind, query, run, sample, prompts)
                    if row is not None:
                        tally.add(row, query, writer, release, line)
                        tally.note_run(sample.run_id, run)
                read += 1
                if read % PROGRESS_EVERY == 0:
                    progress(read)
            if kind == "pairs":  # keep only the open group's query
                keep = {group[0].query_id} if group else set()
                queries_seen = {key: value for key, value in queries_seen.items() if key in keep}
        if group:
            _pairs(group, queries_seen, infos_by_run, tally, writer, release)
    files = writer.close()
    progress(read)
    if not files:
        raise ReleaseInvalid(
            f"nothing to export: {read} {kind} source rows matched but none made a row (see docs/exports.md)"
        )
    manifest = {
        "format_version": FORMAT_VERSION,
        "name": release.name,
        "version": release.version,
        "kind": kind,
        "filters": clean,
        "seed": release.seed,
        "validation_fraction": release.validation_fraction,
        "columns": records.COLUMNS[kind],
        "counts": tally.counts(read),
        "source_runs": sorted(tally.runs),
        "templates": sorted(tally.templates),
        "models": sorted(tally.models),
        "files": files,
        "sha256": release_digest(files),
        "created_by": release.created_by.username if release.created_by else None,
        "created_at": release.created_at.isoformat(),
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


def records_writer(folder: Path, kind: str) -> Any:
    from reviews.exports.writer import ReleaseWriter  # pyarrow: loaded by the builder only

    return ReleaseWriter(folder, kind)


def release_digest(files: list[dict[str, Any]]) -> str:
    from reviews.exports.writer import release_digest as digest

    return digest(files)


def _pairs(
    group: list[records.SampleRow],
    queries: Mapping[int, records.QueryText],
    infos: Mapping[int, records.RunInfo],
    tally: _Tally,
    writer: Any,
    release: Release,
) -> None:
    query = queries[group[0].query_id]
    run = infos[group[0].run_id]
    for row in records.pairs(query, run, group):
        tally.add(row, query, writer, release)
        tally.note_run(group[0].run_id, run)


class _Tally:
    """Counts as rows are written, and the duplicate check: rows are ordered by query content, so a
    row's duplicates come within the same run of equal content hashes; only those ids are kept."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.splits: Counter[str] = Counter()
        self.subsets: Counter[str] = Counter()
        self.labels: Counter[str] = Counter()
        self.duplicates = 0
        self.runs: set[int] = set()
        self.templates: set[str] = set()
        self.models: set[str] = set()
        self._group = ""
        self._seen: set[str] = set()
        self._validation = False

    def note_run(self, run_id: int, run: records.RunInfo) -> None:
        if run_id not in self.runs:
            self.runs.add(run_id)
            self.templates.add(run.template)
            self.models.add(run.model)

    def add(
        self, row: dict[str, Any], query: records.QueryText, writer: Any, release: Release, line: bytes | None = None
    ) -> None:
        if query.content_hash != self._group:  # a new query: its side of the split, once
            self._group, self._seen = query.content_hash, set()
            self._validation = records.validation_side(query, seed=release.seed, fraction=release.validation_fraction)
        if row["id"] in self._seen:
            self.duplicates += 1
            return
        self._seen.add(row["id"])
        validation = self._validation
        writer.add(row, validation=validation, line=line)
        self.splits["validation" if validation else "train"] += 1
        self.subsets[query.subset or "(none)"] += 1
        label_column = records.LABEL_COLUMN[self.kind]
        if label_column is not None:
            self.labels[str(row[label_column]).lower()] += 1

    def counts(self, read: int) -> dict[str, Any]:
        return {
            "rows": sum(self.splits.values()),
            "train": self.splits["train"],
            "validation": self.splits["validation"],
            "by_subset": dict(sorted(self.subsets.items())),
            "by_label": dict(sorted(self.labels.items())),
            "duplicates_dropped": self.duplicates,
            "source_rows": read,
        }


def release_heartbeat(*, release_id: int) -> None:
    """A build is alive (the task beats while it streams): the watchdog leaves it alone."""
    Release.objects.filter(id=release_id, status=Release.Status.BUILDING).update(updated_at=timezone.now())


def releases_resume_stalled(*, stalled_for: timedelta) -> list[int]:
    """Send again the builds whose task was lost: queued, or building with no heartbeat, for longer than
    `stalled_for`. A stalled build goes back to the queue first, so the attempt that stopped beating
    can no longer record an outcome (its token no longer holds the release); each change is a
    compare-and-set, so two watchdogs send a build once."""
    before = timezone.now() - stalled_for
    stalled = Release.objects.filter(
        status__in=[Release.Status.QUEUED, Release.Status.BUILDING], updated_at__lt=before
    ).values_list("id", "updated_at")
    sent = []
    for release_id, seen in stalled:
        taken = Release.objects.filter(id=release_id, updated_at=seen).update(
            status=Release.Status.QUEUED, build_token="", updated_at=timezone.now()
        )
        if taken:
            enqueue.send(enqueue.RELEASE_BUILD, release_id)
            sent.append(release_id)
    return sent


def release_export(*, release: Release, out: Path) -> list[Path]:
    """Copy a ready release's files and manifest into `out` (manage.py export_release --out)."""
    if release.status != Release.Status.READY:
        raise Conflict(f"release {release} is {release.status}, not ready")
    out.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in [*(str(file["name"]) for file in release.files), MANIFEST]:
        target = out / name
        shutil.copyfile(release_folder(release) / name, target)
        copied.append(target)
    return copied
