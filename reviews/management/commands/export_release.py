"""Build a release in this process (no worker needed) and copy its files and manifest into a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviews.errors import ApplicationError
from reviews.models import Release
from reviews.services.releases import release_build, release_create, release_export


class Command(BaseCommand):
    help = (
        "Build a release of curated training data (docs/exports.md) here, in this process, and copy its "
        "files and manifest.json into --out. Repeat --dataset, --subset and --run for several."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--kind", required=True, choices=Release.Kind.values)
        parser.add_argument("--dataset", action="append", default=[], metavar="NAME", help="A dataset by name.")
        parser.add_argument("--subset", action="append", default=[], metavar="S", help="A subset.")
        parser.add_argument("--run", action="append", default=[], type=int, metavar="ID", help="A run by id.")
        parser.add_argument("--round", type=int, metavar="N", help="The runs of this RFT round.")
        parser.add_argument(
            "--reviewer-accepted", action="store_true", help="Only judgments a reviewer accepted (not rl_prompts)."
        )
        parser.add_argument("--failure-mode", default="", metavar="CODE", help="Only judgments tagged with it.")
        parser.add_argument("--since", default="", metavar="YYYY-MM-DD", help="Stored on or after this day.")
        parser.add_argument("--until", default="", metavar="YYYY-MM-DD", help="Stored on or before this day.")
        parser.add_argument("--seed", type=int, default=0, help="Seeds the train/validation split (default 0).")
        parser.add_argument(
            "--validation-fraction", type=float, default=0.1, help="Share of queries in validation (default 0.1)."
        )
        parser.add_argument("--name", default="", help="The release's name (default: from the kind and filters).")
        parser.add_argument("--out", required=True, type=Path, help="The folder to copy the files into.")

    def handle(self, *args: Any, **options: Any) -> None:
        filters = {
            "dataset": options["dataset"],
            "subset": options["subset"],
            "run": options["run"],
            "round": options["round"],
            "reviewer_accepted": options["reviewer_accepted"],
            "failure_mode": options["failure_mode"],
            "since": options["since"],
            "until": options["until"],
        }
        try:
            release = release_create(
                kind=options["kind"],
                filters=filters,
                name=options["name"],
                seed=options["seed"],
                validation_fraction=options["validation_fraction"],
                build=False,
            )
        except ApplicationError as exc:
            option = f"--{exc.field.replace('_', '-')}: " if exc.field else ""
            raise CommandError(f"{option}{exc.message}") from None
        self.stdout.write(f"release {release} ({release.kind}, filters {release.filters or 'none'}): building")
        built = release_build(release_id=release.id, on_progress=self._progress)
        if self.stdout.isatty():
            self.stdout.write("")
        if built is None:
            raise CommandError(f"release {release} was taken by another builder")
        if built.status != Release.Status.READY:
            raise CommandError(f"building release {built} failed: {built.error_message}")
        copied = release_export(release=built, out=options["out"])
        counts = built.counts
        self.stdout.write(
            f"{counts['rows']} rows ({counts['train']} train, {counts['validation']} validation), "
            f"{counts['duplicates_dropped']} duplicates dropped, from {counts['source_rows']} source rows"
        )
        for label, by in (("subset", counts["by_subset"]), ("label", counts["by_label"])):
            if by:
                self.stdout.write(f"by {label}: " + ", ".join(f"{key} {value}" for key, value in by.items()))
        for file in built.files:
            self.stdout.write(f"{file['sha256']}  {file['name']}  ({file['rows']} rows, {file['bytes']} bytes)")
        self.stdout.write(f"release sha256 {built.sha256}; {len(copied)} files in {options['out']}")

    def _progress(self, done: int, total: int) -> None:
        percent = int(100 * done / total) if total else 100
        line = f"{done}/{total} source rows ({percent}%)"
        if self.stdout.isatty():
            self.stdout.write(f"\r{line}".ljust(60), ending="")
            self.stdout.flush()
        else:
            self.stdout.write(line)
