"""Train a meta RM on runs' judgments (labels: Eq. 10, overridden by reviewer verdicts) on a gpu-queue
worker and, with --wait, follow it to the end; --activate makes it the checkpoint runs use."""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviews.errors import ApplicationError
from reviews.models import MetaRmCheckpoint, Release, Run
from reviews.services.metarm import checkpoint_activate, checkpoint_train_start


class Command(BaseCommand):
    help = "Train a meta RM on the judgments of finished runs (needs a running gpu-queue worker: make run, or celery)."

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--run", type=int, action="append", help="A run id; repeat for several.")
        source.add_argument("--release", type=int, help="The id of a ready metarm release to train on instead.")
        parser.add_argument("--profile", choices=MetaRmCheckpoint.Profile.values, default="cpu")
        parser.add_argument("--base-model", default="", help="Backbone path or hub name (default: the profile's).")
        parser.add_argument("--name", default="", help="The checkpoint's name (default: from the runs).")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--wait", action="store_true", help="Show progress until training ends.")
        parser.add_argument("--activate", action="store_true", help="With --wait: make it the active meta RM.")

    def handle(self, *args: Any, **options: Any) -> None:
        wanted = options["run"] or []
        runs = list(Run.objects.filter(id__in=wanted).order_by("id"))
        missing = sorted(set(wanted) - {run.id for run in runs})
        if missing:
            raise CommandError(f"no run with id {', '.join(map(str, missing))}")
        release = None
        if options["release"] is not None:
            release = Release.objects.filter(id=options["release"]).first()
            if release is None:
                raise CommandError(f"no release with id {options['release']}")
        try:
            checkpoint = checkpoint_train_start(
                runs=runs,
                release=release,
                profile=options["profile"],
                base_model=options["base_model"],
                name=options["name"],
                seed=options["seed"],
            )
        except ApplicationError as exc:
            raise CommandError(str(exc)) from None
        source = f"release {release}" if release is not None else f"runs {wanted}"
        self.stdout.write(f"meta RM {checkpoint.name} queued ({checkpoint.profile} profile, {source})")
        if options["wait"]:
            self._follow(checkpoint)
            if options["activate"]:
                checkpoint_activate(checkpoint=checkpoint)
                self.stdout.write(f"{checkpoint.name} is the active meta RM")

    def _follow(self, checkpoint: MetaRmCheckpoint) -> None:
        interactive = sys.stdout.isatty()
        last = None
        while True:
            checkpoint.refresh_from_db()
            width = 30
            filled = int(width * checkpoint.progress)
            line = f"\r[{'#' * filled}{'.' * (width - filled)}] {checkpoint.progress_percent}% {checkpoint.phase}"
            if interactive:
                self.stdout.write(line.ljust(90), ending="")
                sys.stdout.flush()
            elif (checkpoint.phase, checkpoint.status) != last:
                self.stdout.write(line.lstrip("\r"))
            last = (checkpoint.phase, checkpoint.status)
            if checkpoint.status in (MetaRmCheckpoint.Status.READY, MetaRmCheckpoint.Status.FAILED):
                break
            time.sleep(1)
        if interactive:
            self.stdout.write("")
        if checkpoint.status == MetaRmCheckpoint.Status.FAILED:
            raise CommandError(f"training {checkpoint.name} failed: {checkpoint.error_message}")
        metrics = checkpoint.metrics
        self.stdout.write(
            f"{checkpoint.name} ready at {checkpoint.location}: validation ROC-AUC {_fmt(metrics.get('roc_auc'))}, "
            f"accuracy {_fmt(metrics.get('accuracy'))}, ECE {_fmt(metrics.get('ece'))} "
            f"({checkpoint.training_examples} judgments; sha256 {checkpoint.content_hash[:12]})"
        )


def _fmt(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else "n/a"
