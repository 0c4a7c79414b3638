"""Start a GRM run from the command line and, with --wait, follow it to the end."""

from __future__ import annotations

import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviews.errors import ApplicationError
from reviews.models import Dataset, MetaRmCheckpoint, ModelConfig, Round, Run
from reviews.selectors.runs import run_accuracy
from reviews.services.configs import defaults_ensure, model_config_for
from reviews.services.runs import RUN_PARAMETERS, run_create_from


class Command(BaseCommand):
    help = "Run the GRM k times per query over a dataset (needs running workers: make run, or celery)."

    META_PENDING = (Run.MetaStatus.WAITING, Run.MetaStatus.QUEUED, Run.MetaStatus.SCORING)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", required=True)
        for name, limit in RUN_PARAMETERS.items():
            kind = float if isinstance(limit.default, float) else int
            bounds = f"{kind(limit.low)}-{kind(limit.high)}"
            if name == "k":
                parser.add_argument("--k", type=int, required=True, help=f"{limit.help} ({bounds})")
            else:
                default = f"default {kind(limit.default)}"
                option = "--" + name.replace("_", "-")
                parser.add_argument(
                    option, type=kind, default=limit.default, help=f"{limit.help} ({bounds}, {default})"
                )
        parser.add_argument("--backend", choices=ModelConfig.Backend.values, help="Default: the default model's.")
        parser.add_argument("--model", help=f"Model path or name (default: GRM_MODEL, {settings.GRM_MODEL}).")
        parser.add_argument("--base-url", default="", help="For --backend openai: the server's /v1 URL.")
        parser.add_argument("--model-config", help="An existing model configuration by name.")
        parser.add_argument("--subset", help="Only this subset of the dataset.")
        parser.add_argument("--ids", help="Only these queries: their ids in the dataset, separated by commas.")
        parser.add_argument("--sample", type=int, metavar="N", help="A random sample of N of the chosen queries.")
        parser.add_argument("--sample-seed", type=int, default=0, help="Draws the sample (same seed, same queries).")
        parser.add_argument("--hinted", action="store_true", help="Name the labelled best in the prompt.")
        parser.add_argument("--force-scores", action="store_true", help="Constrain samples without scores.")
        parser.add_argument("--k-meta", type=int, help="MetaRM@k: vote over this many samples per query (1-k).")
        parser.add_argument(
            "--meta-checkpoint", help="Meta RM checkpoint by name (default with --k-meta: the active one)."
        )
        parser.add_argument("--round", type=int, metavar="N", help="The RFT round (by number) the run belongs to.")
        parser.add_argument("--wait", action="store_true", help="Show progress until the run ends.")

    def handle(self, *args: Any, **options: Any) -> None:
        dataset = Dataset.objects.filter(name=options["dataset"]).first()
        if dataset is None:
            raise CommandError(f"no dataset named {options['dataset']!r}")
        _, default_model = defaults_ensure()
        params = {
            **options,
            "model_config": self._model_config(options, default_model),
            "meta_checkpoint": self._meta_checkpoint(options["meta_checkpoint"]),
            "rft_round": self._round(options["round"]),
            "query_ids": [part.strip() for part in (options["ids"] or "").split(",") if part.strip()],
            "sample_size": options["sample"],
            "sample_seed": options["sample_seed"],
        }
        try:
            run = run_create_from(dataset=dataset, params=params)
        except ApplicationError as exc:
            raise CommandError(str(exc)) from None
        model_config = run.model_config
        in_round = f" in round {run.rft_round.number}" if run.rft_round is not None else ""
        self.stdout.write(
            f"run {run.id}: {run.queries_total} queries x k={run.k} with {model_config.name} "
            f"({model_config.backend}){in_round}"
        )
        if options["wait"]:
            self._follow(run)

    def _meta_checkpoint(self, name: str | None) -> MetaRmCheckpoint | None:
        if not name:
            return None
        found = MetaRmCheckpoint.objects.filter(name=name).first()
        if found is None:
            raise CommandError(f"no meta RM checkpoint named {name!r}")
        return found

    def _round(self, number: int | None) -> Round | None:
        if number is None:
            return None
        found = Round.objects.filter(number=number).first() if 0 < number < 2**31 else None
        if found is None:
            raise CommandError(f"no RFT round {number} (create it on the rounds page or with the API)")
        return found

    def _model_config(self, options: dict[str, Any], default: ModelConfig) -> ModelConfig:
        if options["model_config"]:
            found = ModelConfig.objects.filter(name=options["model_config"]).first()
            if found is None:
                raise CommandError(f"no model configuration named {options['model_config']!r}")
            return found
        if not options["backend"] and not options["model"]:
            return default
        return model_config_for(
            backend=options["backend"] or default.backend,
            model=options["model"] or settings.GRM_MODEL,
            base_url=options["base_url"],
        )

    def _follow(self, run: Run) -> None:
        started = time.monotonic()
        interactive = sys.stdout.isatty()
        last = None
        while True:
            run.refresh_from_db()
            finished = run.samples_finished
            width = 30
            filled = int(width * finished / run.samples_total) if run.samples_total else width
            left = f", about {run.seconds_left} s left" if run.seconds_left is not None else ""
            line = (
                f"\r[{'#' * filled}{'.' * (width - filled)}] {finished}/{run.samples_total} samples "
                f"({run.queries_done}/{run.queries_total} queries), {run.activity}, {run.parse_failures} parse "
                f"failures, {run.tokens_per_second or 0:.1f} tok/s, {time.monotonic() - started:.0f} s{left}"
            )
            if run.meta_status in self.META_PENDING and not run.is_active:
                line += f", meta RM {run.get_meta_status_display()} {run.meta_scored}/{run.samples_done}"
            if interactive:
                self.stdout.write(line, ending="")
                sys.stdout.flush()
            elif (finished, run.activity, run.meta_status) != last:  # in a log: one line per change
                self.stdout.write(line.lstrip("\r"))
            last = (finished, run.activity, run.meta_status)
            if not run.is_active and run.meta_status not in self.META_PENDING:
                break
            time.sleep(1)
        if interactive:
            self.stdout.write("")
        self.stdout.write(f"run {run.id} {run.status}")
        if run.error_message:
            self.stderr.write(run.error_message)
        accuracy = run_accuracy(run=run)
        if accuracy["total"]:
            self.stdout.write(
                f"Voting@{run.k} accuracy: {accuracy['accuracy']:.3f} ({accuracy['right']}/{accuracy['total']})"
            )
            for row in accuracy["subsets"]:  # type: ignore[attr-defined]
                self.stdout.write(f"  {row['subset']}: {row['accuracy']:.3f} ({row['right']}/{row['total']})")
        if accuracy["meta_total"]:
            meta = f"{accuracy['meta_accuracy']:.3f} ({accuracy['meta_total']} queries)"
            self.stdout.write(f"MetaRM@{run.k} accuracy (k_meta {run.k_meta or 'k/2'}): {meta}")
        elif run.meta_status != Run.MetaStatus.NONE:
            self.stdout.write(f"meta scoring: {run.get_meta_status_display()} (the run page shows MetaRM@k when done)")
        if run.status != Run.Status.DONE:
            raise CommandError(f"run {run.id} ended {run.status}")
