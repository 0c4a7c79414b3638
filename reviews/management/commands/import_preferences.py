"""Import a preference file (JSON array or JSON Lines) into a dataset."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviews.ingest.formats import FORMATS, parse_field_map
from reviews.services.datasets import ImportRefused, dataset_import, dataset_name_errors


class Command(BaseCommand):
    help = (
        "Import queries with responses and labels from a JSON or JSONL file. Re-importing the same file "
        "creates nothing; any bad line refuses the whole file (unless --partial)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="The file to read; - reads standard input.")
        parser.add_argument("--dataset", required=True, help="Dataset name (created if missing).")
        parser.add_argument("--format", dest="fmt", choices=FORMATS, default="native")
        parser.add_argument(
            "--map",
            dest="field_map",
            default="",
            help="Rename the file's fields, e.g. instruction=input,response1=output_1",
        )
        parser.add_argument("--subset", default="", help="Subset for records that name none.")
        parser.add_argument("--partial", action="store_true", help="Store the good lines and report the bad ones.")

    def handle(
        self, *args: Any, path: str, dataset: str, fmt: str, field_map: str, subset: str, partial: bool, **options: Any
    ) -> None:
        name_errors = dataset_name_errors(dataset)
        if name_errors:
            raise CommandError(f"--dataset: {name_errors[0]}")
        try:
            mapping = parse_field_map(field_map)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if path == "-":
            stream = sys.stdin.buffer
            name = "<stdin>"
        else:
            file = Path(path)
            if not file.is_file():
                raise CommandError(f"{path}: no such file")
            stream = file.open("rb")
            name = file.name
        try:
            report = dataset_import(
                dataset_name=dataset,
                stream=stream,
                fmt=fmt,
                field_map=mapping,
                subset=subset,
                partial=partial,
                source=name,
            )
        except ImportRefused as refused:
            for error in refused.report.errors:
                self.stderr.write(f"{name}: {error}")
            raise CommandError(f"{len(refused.report.errors)} bad line(s) in {name}; nothing was stored") from None
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()
        for error in report.errors:
            self.stderr.write(f"{name}: {error}")
        self.stdout.write(
            f"{dataset}: {report.created} new queries, {report.unchanged} unchanged"
            + (f", {len(report.errors)} bad line(s) skipped" if report.errors else "")
        )
