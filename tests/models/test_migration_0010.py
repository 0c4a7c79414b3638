"""Migration 0010 on a database with data: samples judged before it get the rule's outcome and their
reviewers' overlay; a single-file release moves into its own folder with a manifest; one whose file is
gone is kept as failed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

BEFORE = [("reviews", "0009_metarm_checkpoints_and_template_ranges")]
AFTER = [("reviews", "0010_rft_decisions_rounds_releases")]


def latest() -> list[tuple[str, str]]:
    """Every app's newest migration: where the test leaves the database for the tests after it."""
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_old_samples_and_releases_are_carried_over(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.GRM_RELEASE_DIR = tmp_path / "releases"
    apps = migrate(BEFORE)
    try:
        user = apps.get_model("auth", "User").objects.create(username="old-reviewer")
        dataset = apps.get_model("reviews", "Dataset").objects.create(name="old")
        template = apps.get_model("reviews", "PromptTemplate").objects.create(name="t", text="{context}")
        model = apps.get_model("reviews", "ModelConfig").objects.create(name="m", model="x")
        run = apps.get_model("reviews", "Run").objects.create(
            dataset=dataset, model_config=model, template=template, k=2
        )
        Query = apps.get_model("reviews", "Query")
        Sample = apps.get_model("reviews", "Sample")
        easy = Query.objects.create(dataset=dataset, external_id="easy", context=[], best_index=0, content_hash="e")
        mixed = Query.objects.create(dataset=dataset, external_id="mixed", context=[], best_index=0, content_hash="m")
        for query, correct in ((easy, [True, True]), (mixed, [True, False])):
            for index, value in enumerate(correct):
                Sample.objects.create(
                    run=run,
                    query=query,
                    sample_index=index,
                    permutation=[0, 1],
                    raw_text="x",
                    scores=[8, 3] if value else [3, 8],
                    parse_status="ok",
                    correct=value,
                )
        wrong = Sample.objects.get(query=mixed, sample_index=1)
        apps.get_model("reviews", "Annotation").objects.create(
            sample=wrong, reviewer=user, decision="accept", note="the label is wrong"
        )
        old = settings.MEDIA_ROOT / "releases" / "old-v1.jsonl"
        old.parent.mkdir(parents=True)
        old.write_bytes(b'{"a": 1}\n{"a": 2}\n')
        Release = apps.get_model("reviews", "Release")
        Release.objects.create(name="old", version=1, kind="rft_accepted", sha256="x", file="releases/old-v1.jsonl")
        Release.objects.create(name="gone", version=1, kind="preference_pairs", sha256="y", file="releases/gone.jsonl")

        apps = migrate(AFTER)
        Sample = apps.get_model("reviews", "Sample")
        got = {
            (s.query.external_id, s.sample_index): (s.rule_reason, s.decision, s.decision_reason, s.decision_source)
            for s in Sample.objects.select_related("query")
        }
        assert got == {
            ("easy", 0): ("too_easy", "reject", "too_easy", "rule"),
            ("easy", 1): ("too_easy", "reject", "too_easy", "rule"),
            ("mixed", 0): ("correct", "accept", "correct", "rule"),
            ("mixed", 1): ("incorrect", "accept", "reviewer_accept", "reviewer"),  # rescued with a note
        }
        Release = apps.get_model("reviews", "Release")
        moved = Release.objects.get(name="old")
        assert (moved.kind, moved.status, moved.folder) == ("rft_sft", "ready", "old-v1")
        folder = Path(settings.GRM_RELEASE_DIR) / "old-v1"
        data = (folder / "old-v1.jsonl").read_bytes()
        (file,) = moved.manifest["files"]
        assert file == {
            "name": "old-v1.jsonl",
            "split": "train",
            "format": "jsonl",
            "rows": 2,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        assert json.loads((folder / "manifest.json").read_text()) == moved.manifest
        gone = Release.objects.get(name="gone")
        assert (gone.kind, gone.status) == ("pairs", "failed")
        assert "missing" in gone.error_message
    finally:
        migrate(latest())
