"""Writes for the meta RM: training checkpoints from runs, registering existing ones, choosing the
active one, asking a run for meta scoring, and storing what the workers computed (training progress
and outcome, each sample's meta score, MetaRM@k verdicts).

Like the run services, every write a task makes is safe to repeat: status moves are conditional
updates, scores are set per sample, verdicts are recomputed from the stored scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from reviews import enqueue
from reviews.errors import Conflict, MetaRmInvalid
from reviews.locks import lock_for_transaction
from reviews.models import MetaRmCheckpoint, Release, Run, RunEvent, Sample, Verdict
from reviews.selectors.metarm import training_label_counts
from reviews.services.run_events import run_event_record

# Fewer labelled judgments than this cannot be split into a training and a validation side.
MIN_TRAINING_EXAMPLES = 8
# The released meta RM (paper section 4), for GPU hosts that reach the model hub (docs/models.md).
METARM_PRESET = ("deepseek-grm-27b-metarm", "BBQGOD/DeepSeek-GRM-27B-MetaRM")


def _unique_name(base: str) -> str:
    base = slugify(base)[:90] or "metarm"
    name, suffix = base, 1
    while MetaRmCheckpoint.objects.filter(name=name).exists():
        suffix += 1
        name = f"{base}-{suffix}"
    return name


@transaction.atomic
def checkpoint_train_start(
    *,
    runs: Sequence[Run] = (),
    release: Release | None = None,
    profile: str = MetaRmCheckpoint.Profile.CPU,
    base_model: str = "",
    name: str = "",
    seed: int = 0,
    created_by: User | None = None,
) -> MetaRmCheckpoint:
    """A checkpoint to train on the runs' judgments (labels: Eq. 10, overridden by reviewer verdicts),
    or on a ready `metarm` release's rows, queued for a gpu-queue worker once the transaction commits."""
    if bool(runs) == (release is not None):
        raise MetaRmInvalid("name at least one run to train on, or one metarm release (not both)", field="runs")
    if profile not in MetaRmCheckpoint.Profile.values:
        raise MetaRmInvalid(f"profile must be one of {', '.join(MetaRmCheckpoint.Profile.values)}", field="profile")
    if release is not None:
        counts = _release_label_counts(release)
        source, label = "the release", f"release-{release.name}-v{release.version}"
    else:
        active = [run.id for run in runs if run.is_active]
        if active:
            raise MetaRmInvalid(f"run {active[0]} is still sampling; train once it has ended", field="runs")
        counts = training_label_counts(run_ids=[run.id for run in runs])
        source, label = "the runs", f"runs-{'-'.join(str(run.id) for run in runs[:4])}"
    if counts["total"] < MIN_TRAINING_EXAMPLES or not counts["positive"] or not counts["negative"]:
        raise MetaRmInvalid(
            f"{source} hold {counts['total']} labelled judgments ({counts['positive']} correct, "
            f"{counts['negative']} incorrect); training needs at least {MIN_TRAINING_EXAMPLES} and both kinds "
            "(label the dataset, or review some judgments)",
            field="release" if release is not None else "runs",
        )
    if name and MetaRmCheckpoint.objects.filter(name=name).exists():
        raise MetaRmInvalid(f"a checkpoint named {name!r} exists already", field="name")
    checkpoint = MetaRmCheckpoint.objects.create(
        name=name or _unique_name(f"metarm-{profile}-{label}"),
        profile=profile,
        base_model=base_model,
        seed=seed,
        trained_on_release=release,
        created_by=created_by,
    )
    if release is not None:  # the runs its rows came from, for the checkpoints page and the overlap check
        checkpoint.trained_on_runs.set(Run.objects.filter(id__in=release.manifest.get("source_runs", [])))
    else:
        checkpoint.trained_on_runs.set(runs)
    enqueue.on_commit(enqueue.METARM_TRAIN, checkpoint.id)
    return checkpoint


def _release_label_counts(release: Release) -> dict[str, int]:
    """A metarm release's labels, from its manifest's counts."""
    if release.kind != Release.Kind.METARM:
        raise MetaRmInvalid(
            f"release {release} holds {release.kind} rows; the meta RM trains on a metarm release", field="release"
        )
    if release.status != Release.Status.READY:
        raise MetaRmInvalid(f"release {release} is {release.status}, not ready", field="release")
    labels = release.counts.get("by_label", {})
    positive, negative = int(labels.get("true", 0)), int(labels.get("false", 0))
    return {"total": positive + negative, "positive": positive, "negative": negative}


def checkpoint_register(*, name: str, location: str, created_by: User | None = None) -> MetaRmCheckpoint:
    """An existing sequence-classification checkpoint (a folder, or a hub name on a host that reaches
    the hub), used as it is; workers load it the way they load checkpoints trained here."""
    if not location.strip():
        raise MetaRmInvalid("give the checkpoint's folder or hub name", field="location")
    if MetaRmCheckpoint.objects.filter(name=name).exists():
        raise MetaRmInvalid(f"a checkpoint named {name!r} exists already", field="name")
    return MetaRmCheckpoint.objects.create(
        name=name,
        source=MetaRmCheckpoint.Source.EXTERNAL,
        location=location.strip(),
        status=MetaRmCheckpoint.Status.READY,
        progress=1.0,
        created_by=created_by,
    )


def metarm_presets_ensure() -> MetaRmCheckpoint:
    """The released 27B meta RM as an external checkpoint (not active: no machine here reaches the hub)."""
    name, location = METARM_PRESET
    existing = MetaRmCheckpoint.objects.filter(name=name).first()
    return existing or checkpoint_register(name=name, location=location)


@transaction.atomic
def checkpoint_activate(*, checkpoint: MetaRmCheckpoint) -> None:
    """Make this the checkpoint runs use when they name none."""
    lock_for_transaction("metarm-activate")  # two activations at once take turns (one active at most)
    checkpoint.refresh_from_db()
    if not checkpoint.is_ready:
        raise MetaRmInvalid(f"{checkpoint.name} is {checkpoint.status}, not ready", field="checkpoint")
    MetaRmCheckpoint.objects.filter(is_active=True).exclude(pk=checkpoint.pk).update(is_active=False)
    MetaRmCheckpoint.objects.filter(pk=checkpoint.pk).update(is_active=True)


def checkpoint_claim(*, checkpoint_id: int) -> MetaRmCheckpoint | None:
    """Move a queued checkpoint to training; the checkpoint if it is training now, else None."""
    MetaRmCheckpoint.objects.filter(id=checkpoint_id, status=MetaRmCheckpoint.Status.QUEUED).update(
        status=MetaRmCheckpoint.Status.TRAINING, phase="starting"
    )
    checkpoint = MetaRmCheckpoint.objects.filter(id=checkpoint_id).first()
    return checkpoint if checkpoint and checkpoint.status == MetaRmCheckpoint.Status.TRAINING else None


def checkpoint_progress(*, checkpoint_id: int, fraction: float, phase: str) -> None:
    MetaRmCheckpoint.objects.filter(id=checkpoint_id, status=MetaRmCheckpoint.Status.TRAINING).update(
        progress=min(1.0, max(0.0, fraction)), phase=phase[:200], updated_at=timezone.now()
    )


@transaction.atomic
def checkpoint_finish(
    *,
    checkpoint_id: int,
    location: str,
    base_model: str,
    metrics: Mapping[str, Any],
    content_hash: str,
    training_examples: int,
) -> MetaRmCheckpoint:
    """Record a trained checkpoint (once: another delivery that finished first wins); the first one ready
    becomes the active one."""
    MetaRmCheckpoint.objects.filter(id=checkpoint_id, status=MetaRmCheckpoint.Status.TRAINING).update(
        status=MetaRmCheckpoint.Status.READY,
        location=location,
        base_model=base_model,
        metrics=dict(metrics),
        content_hash=content_hash,
        training_examples=training_examples,
        progress=1.0,
        phase="done",
        finished_at=timezone.now(),
    )
    checkpoint = MetaRmCheckpoint.objects.get(id=checkpoint_id)
    lock_for_transaction("metarm-activate")
    if checkpoint.is_ready and not MetaRmCheckpoint.objects.filter(is_active=True).exists():
        checkpoint_activate(checkpoint=checkpoint)
        checkpoint.refresh_from_db()
    return checkpoint


def checkpoints_resume_stalled(*, stalled_for: timedelta) -> list[int]:
    """Send training again for checkpoints queued or training with no progress for `stalled_for` (their
    worker died; the filesystem broker never redelivers). Each attempt writes its own folder."""
    cutoff = timezone.now() - stalled_for
    resumed = []
    for checkpoint_id, updated_at in MetaRmCheckpoint.objects.filter(
        status__in=[MetaRmCheckpoint.Status.QUEUED, MetaRmCheckpoint.Status.TRAINING], updated_at__lte=cutoff
    ).values_list("id", "updated_at"):
        claimed = MetaRmCheckpoint.objects.filter(id=checkpoint_id, updated_at=updated_at)
        if claimed.update(updated_at=timezone.now()):
            with transaction.atomic():
                enqueue.on_commit(enqueue.METARM_TRAIN, checkpoint_id)
            resumed.append(checkpoint_id)
    return resumed


def checkpoint_heartbeat(*, checkpoint_id: int) -> None:
    """Mark a training as alive (its backbone loads, a long step runs), so it does not look stalled."""
    MetaRmCheckpoint.objects.filter(id=checkpoint_id, status=MetaRmCheckpoint.Status.TRAINING).update(
        updated_at=timezone.now()
    )


def checkpoint_fail(*, checkpoint_id: int, message: str) -> None:
    """Record that training failed (only while training: a late failure cannot undo a success)."""
    MetaRmCheckpoint.objects.filter(
        id=checkpoint_id, status__in=[MetaRmCheckpoint.Status.QUEUED, MetaRmCheckpoint.Status.TRAINING]
    ).update(status=MetaRmCheckpoint.Status.FAILED, error_message=message[-10_000:], finished_at=timezone.now())


@transaction.atomic
def run_meta_request(*, run: Run, checkpoint: MetaRmCheckpoint | None = None, k_meta: int | None = None) -> Run:
    """Ask for MetaRM@k on a run: its samples scored by the checkpoint (the active one when none is
    named), then the top k_meta of each query's samples voted. Waits for sampling when the run is still
    going; starts now when it has ended."""
    run = Run.objects.select_for_update().get(pk=run.pk)
    checkpoint = checkpoint or MetaRmCheckpoint.objects.filter(is_active=True).first()
    if checkpoint is None:
        raise MetaRmInvalid("no meta RM checkpoint is active: train one (metarm_train) or name one", field="checkpoint")
    if not checkpoint.is_ready:
        raise MetaRmInvalid(f"checkpoint {checkpoint.name} is {checkpoint.status}, not ready", field="checkpoint")
    k_meta = k_meta if k_meta is not None else run.k_meta
    if k_meta is not None and not 1 <= k_meta <= run.k:
        raise MetaRmInvalid(f"k_meta must be from 1 to k ({run.k}), got {k_meta}", field="k_meta")
    if run.meta_status in (Run.MetaStatus.QUEUED, Run.MetaStatus.SCORING):
        raise Conflict(f"run {run.id} is being meta scored already")
    if run.status in (Run.Status.FAILED, Run.Status.CANCELLED) and not run.samples_done:
        raise MetaRmInvalid(f"run {run.id} ended {run.status} with no samples to score", field="run")
    rescoring = run.meta_checkpoint_id is not None and run.meta_checkpoint_id != checkpoint.id
    run.meta_checkpoint = checkpoint
    run.k_meta = k_meta
    run.meta_error = ""
    run.meta_status = Run.MetaStatus.WAITING if run.is_active else Run.MetaStatus.QUEUED
    # Until the new verdicts and report are in, no MetaRM@k is shown from the old ones.
    scaling = (run.report or {}).get("scaling")
    if scaling:
        scaling.pop("metarm", None)
        for section in (scaling.get("subsets") or {}).values():
            section.pop("metarm", None)
    run.save(update_fields=["meta_checkpoint", "k_meta", "meta_error", "meta_status", "report", "updated_at"])
    Verdict.objects.filter(run=run).update(meta_vote_totals=None, meta_best_index=None, meta_correct=None)
    if rescoring:  # another checkpoint's scores do not mix with this one's
        Sample.objects.filter(run=run).update(meta_score=None)
        Run.objects.filter(pk=run.pk).update(meta_scored=0)
    if run.meta_status == Run.MetaStatus.QUEUED:
        enqueue.on_commit(enqueue.METARM_SCORE, run.id)
    return run


def run_meta_after_sampling(*, run_id: int, status: str) -> None:
    """A run that waited for sampling is queued for meta scoring when it ends done; when it ends failed or
    cancelled, its meta scoring fails with the reason (nothing waits for ever)."""
    waiting = Run.objects.filter(id=run_id, meta_status=Run.MetaStatus.WAITING)
    if status == Run.Status.DONE:
        if waiting.update(meta_status=Run.MetaStatus.QUEUED):
            enqueue.on_commit(enqueue.METARM_SCORE, run_id)
    else:
        waiting.update(meta_status=Run.MetaStatus.FAILED, meta_error=f"not scored: the run ended {status}")


def run_meta_heartbeat(*, run_id: int) -> None:
    """Mark a run's meta scoring as alive (the model loads or a batch scores), so it does not look stalled."""
    Run.objects.filter(id=run_id, meta_status=Run.MetaStatus.SCORING).update(updated_at=timezone.now())


def run_meta_claim(*, run_id: int) -> Run | None:
    """Move a run's meta scoring from queued to scoring; the run if it is scoring now, else None."""
    Run.objects.filter(id=run_id, meta_status=Run.MetaStatus.QUEUED).update(meta_status=Run.MetaStatus.SCORING)
    run = Run.objects.select_related("meta_checkpoint").filter(id=run_id).first()
    return run if run is not None and run.meta_status == Run.MetaStatus.SCORING else None


def run_meta_scores_store(*, run_id: int, checkpoint_id: int, scores: Mapping[int, float]) -> int:
    """Keep one batch's meta scores (sample id -> logit) and the run's count of scored samples; nothing
    when the run is no longer being scored with this checkpoint (an admin chose another meanwhile)."""
    scoring = Run.objects.filter(id=run_id, meta_status=Run.MetaStatus.SCORING, meta_checkpoint_id=checkpoint_id)
    if not scoring.exists():
        return 0
    samples = list(Sample.objects.filter(run_id=run_id, id__in=list(scores)).only("id"))
    for sample in samples:
        sample.meta_score = float(scores[sample.id])
    with transaction.atomic():
        Sample.objects.bulk_update(samples, ["meta_score"], batch_size=500)
        scored = Sample.objects.filter(run_id=run_id, meta_score__isnull=False).count()
        Run.objects.filter(id=run_id).update(meta_scored=scored, updated_at=timezone.now())
    return len(samples)


def run_meta_verdicts_store(*, run_id: int, verdicts: Sequence[tuple[int, list[int], int | None, bool | None]]) -> None:
    """Keep MetaRM@k verdicts: (query id, vote totals, chosen best, correct) per query."""
    stored = Verdict.objects.filter(run_id=run_id, query_id__in=[v[0] for v in verdicts]).only("id", "query_id")
    rows = {verdict.query_id: verdict for verdict in stored}
    for query_id, totals, best, correct in verdicts:
        row = rows.get(query_id)
        if row is not None:
            row.meta_vote_totals, row.meta_best_index, row.meta_correct = totals, best, correct
    Verdict.objects.bulk_update(list(rows.values()), ["meta_vote_totals", "meta_best_index", "meta_correct"], 500)


def run_meta_finish(*, run_id: int) -> None:
    """Meta scoring is done: the run's report is computed again with the MetaRM@k curve."""
    with transaction.atomic():
        if Run.objects.filter(id=run_id, meta_status=Run.MetaStatus.SCORING).update(
            meta_status=Run.MetaStatus.DONE, updated_at=timezone.now()
        ):
            enqueue.on_commit(enqueue.RUN_REPORT, run_id)


def run_meta_fail(*, run_id: int, message: str) -> None:
    """Record that scoring failed (only while scoring: a delivery that failed late cannot undo a success)."""
    if Run.objects.filter(id=run_id, meta_status=Run.MetaStatus.SCORING).update(
        meta_status=Run.MetaStatus.FAILED, meta_error=message[-10_000:]
    ):
        run_event_record(run_id=run_id, kind=RunEvent.Kind.META_FAILED, message=message)
