"""Building releases: every kind from one fixture, the manifest and its hashes, byte-identical rebuilds,
duplicates, the split by query, filters and their errors, and failures that leave nothing half-built."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from django.db import connection, transaction

from reviews.errors import ReleaseInvalid
from reviews.models import FailureMode, Release, Round, Sample
from reviews.services.annotations import annotation_submit
from reviews.services.decisions import decisions_backfill
from reviews.services.releases import MANIFEST, release_build, release_create, release_export, release_folder
from tests.factories import DatasetFactory, QueryFactory, ResponseFactory, RunFactory, SampleFactory, UserFactory

pytestmark = pytest.mark.django_db

RIGHT = "Specific Criteria: be right\nAnalysis: the first is right\nScores: \\boxed{8, 3}"
WRONG = "Specific Criteria: be short\nAnalysis: the second is shorter\nScores: \\boxed{3, 8}"
BROKEN = "I cannot decide."


@pytest.fixture(autouse=True)
def release_dir(settings, tmp_path):
    settings.GRM_RELEASE_DIR = tmp_path / "releases"
    return settings.GRM_RELEASE_DIR


def _query(dataset, external_id, *, content_hash, subset="chat", best_index=0):
    query = QueryFactory.create(
        dataset=dataset,
        external_id=external_id,
        subset=subset,
        prompt=f"Question {content_hash}?",
        context=[{"role": "user", "content": f"Question {content_hash}?"}],
        best_index=best_index,
        content_hash=content_hash * 64,
    )
    for position, text in enumerate([f"Right answer to {content_hash}.", f"Wrong answer to {content_hash}."]):
        ResponseFactory.create(query=query, position=position, text=text)
    return query


def _samples(run, query, texts):
    for index, text in enumerate(texts):
        parsed = text != BROKEN
        scores = ([8, 3] if text == RIGHT else [3, 8]) if parsed else None
        correct = None if query.best_index is None else (scores == [8, 3] if parsed else False)
        SampleFactory.create(
            run=run,
            query=query,
            sample_index=index,
            permutation=[0, 1],
            raw_text=text,
            principles="be right" if text == RIGHT else "be short",
            critique="the first is right" if text == RIGHT else "the second is shorter",
            scores=scores,
            parse_status=Sample.ParseStatus.OK if parsed else Sample.ParseStatus.NO_SCORES,
            correct=correct,
        )


@pytest.fixture
def world():
    """Two datasets; run 1 on the first (k=3), with one query of each rule outcome; run 2 judges the
    same content uploaded again in the second dataset, so its rows duplicate run 1's."""
    main = DatasetFactory.create(name="main")
    again = DatasetFactory.create(name="again")
    run = RunFactory.create(dataset=main, k=3, status="done")
    mixed = _query(main, "mixed", content_hash="a")
    easy = _query(main, "easy", content_hash="b", subset="math")
    hard = _query(main, "hard", content_hash="c")
    broken = _query(main, "broken", content_hash="d")
    unlabelled = _query(main, "unlabelled", content_hash="e", best_index=None)
    _samples(run, mixed, [RIGHT, WRONG, WRONG])
    _samples(run, easy, [RIGHT, RIGHT, RIGHT])
    _samples(run, hard, [WRONG, WRONG, WRONG])
    _samples(run, broken, [BROKEN, RIGHT, WRONG])
    _samples(run, unlabelled, [RIGHT, WRONG, RIGHT])
    copy = RunFactory.create(dataset=again, k=3, status="done", template=run.template, model_config=run.model_config)
    _samples(copy, _query(again, "mixed-again", content_hash="a"), [RIGHT, WRONG, WRONG])
    decisions_backfill(run_ids=[run.id, copy.id])
    return {"run": run, "copy": copy, "mixed": mixed, "hard": hard, "broken": broken}


def build(kind, **kwargs):
    release = release_create(kind=kind, build=False, **kwargs)
    built = release_build(release_id=release.id)
    assert built is not None
    return built


def rows(release, split="train"):
    path = release_folder(release) / f"{split}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def all_rows(release):
    return rows(release) + rows(release, "validation")


def test_rule_outcomes_are_stored_for_every_sample(world):
    reasons = dict(
        Sample.objects.filter(run=world["run"]).values_list("query__external_id", "rule_reason").order_by("id")
    )
    assert reasons == {
        "mixed": "incorrect",  # the last sample's reason: two wrong, one right
        "easy": "too_easy",
        "hard": "incorrect",
        "broken": "incorrect",
        "unlabelled": "unlabelled",
    }
    broken = Sample.objects.get(query=world["broken"], sample_index=0)
    assert (broken.rule_reason, broken.decision) == ("parse_failure", "reject")


def test_rft_sft_holds_accepted_trajectories_as_prompt_and_completion(world):
    release = build("rft_sft", filters={"run": [world["run"].id]}, validation_fraction=0)
    assert release.status == Release.Status.READY, release.error_message
    got = rows(release)
    assert sorted(row["query_id"] for row in got) == ["broken", "mixed"]
    row = got[0]
    [prompt] = row["prompt"]
    assert prompt["role"] == "user"
    assert row["completion"] == [{"role": "assistant", "content": RIGHT}]
    assert "[The Begin of Response 1]" in prompt["content"]
    assert "Right answer to" in prompt["content"]
    assert (row["run_id"], row["source"], row["hinted"]) == (world["run"].id, "rule", False)
    assert list(row) == list(json.loads(json.dumps(row)))  # key order is the schema's


def test_rejected_rows_carry_reasons_failure_modes_and_notes(world):
    reviewer = UserFactory.create(roles=["reviewer"])
    mode = FailureMode.objects.get_or_create(code="incorrect-critique", defaults={"label": "Incorrect critique"})[0]
    sample = Sample.objects.get(query=world["hard"], sample_index=0)
    annotation_submit(reviewer=reviewer, sample=sample, decision="reject", failure_modes=[mode], note="backwards")
    release = build("rejected", filters={"run": [world["run"].id]}, validation_fraction=0)
    got = {(row["query_id"], row["sample_index"]): row for row in rows(release)}
    assert got[("hard", 0)]["reason"] == "reviewer_reject"
    assert got[("hard", 0)]["failure_modes"] == "incorrect-critique"
    assert got[("hard", 0)]["notes"] == "backwards"
    assert got[("broken", 0)]["reason"] == "parse_failure"
    assert got[("easy", 0)]["reason"] == "too_easy"
    assert got[("unlabelled", 0)]["reason"] == "unlabelled"
    # easy's three judgments are the same text on the same prompt: one row, two duplicates dropped
    assert release.counts["by_label"]["too_easy"] == 1
    assert release.counts["duplicates_dropped"] >= 2


def test_metarm_labels_follow_eq10_and_reviewers_and_skip_parse_failures(world):
    reviewer = UserFactory.create(roles=["reviewer"])
    wrong = Sample.objects.get(query=world["hard"], sample_index=1)
    annotation_submit(reviewer=reviewer, sample=wrong, decision="accept", note="the label is wrong here")
    release = build("metarm", filters={"run": [world["run"].id]}, validation_fraction=0)
    got = {(row["query_id"], row["sample_index"]): row for row in rows(release)}
    assert ("broken", 0) not in got  # a parse failure never votes
    assert not any(key[0] == "unlabelled" for key in got)  # no label, nobody reviewed it
    assert got[("mixed", 0)]["label"] is True
    assert got[("mixed", 1)]["label"] is False
    assert got[("easy", 0)]["label"] is True  # too easy for RFT, still a correct judgment
    assert (got[("hard", 1)]["label"], got[("hard", 1)]["source"]) == (True, "reviewer")
    prompt, completion = got[("mixed", 0)]["prompt"], got[("mixed", 0)]["completion"]
    assert prompt[0]["role"] == "user"
    assert prompt[0]["content"].startswith("Please score the responses.")
    assert completion == [{"role": "assistant", "content": "Specific Criteria: be right\nAnalysis: the first is right"}]


def test_pairs_match_accepted_and_rejected_judgments_of_the_same_prompt(world):
    release = build("pairs", filters={"run": [world["run"].id]}, validation_fraction=0)
    got = sorted((row["query_id"], row["chosen_sample_index"], row["rejected_sample_index"]) for row in rows(release))
    assert got == [("broken", 1, 0), ("mixed", 0, 1)]  # each judgment used once; easy and hard have no pair
    row = rows(release)[0]
    assert row["chosen"][0]["role"] == "assistant"
    assert row["prompt"][0]["role"] == "user"


def test_rl_prompts_hold_each_labelled_query_with_its_label_in_the_shown_order(world):
    release = build("rl_prompts", filters={"dataset": ["main"]}, seed=7, validation_fraction=0)
    got = {row["query_id"]: row for row in rows(release)}
    assert sorted(got) == ["broken", "easy", "hard", "mixed"]
    row = got["mixed"]
    shown = row["prompt"][0]["content"]
    best_text = "Right answer to a."
    block = shown.index(best_text)
    first = shown.index("[The Begin of Response 1]")
    second = shown.index("[The Begin of Response 2]")
    assert row["best_index"] == (0 if first < block < second else 1)
    assert row["label"] == str(row["best_index"] + 1)
    assert row["n_responses"] == 2
    assert row["rating"] == -1


def test_duplicates_are_dropped_by_content_and_counted(world):
    release = build("rft_sft", filters={}, validation_fraction=0)
    assert [row["query_id"] for row in rows(release)].count("mixed-again") + [
        row["query_id"] for row in rows(release)
    ].count("mixed") == 1
    assert release.counts["duplicates_dropped"] == 1
    assert len({row["id"] for row in rows(release)}) == len(rows(release))


def test_the_split_is_by_query_and_seeded(world):
    release = build("metarm", filters={"run": [world["run"].id]}, seed=3, validation_fraction=0.5)
    train = {row["query_id"] for row in rows(release)}
    validation = {row["query_id"] for row in rows(release, "validation")}
    assert train
    assert validation
    assert not train & validation
    assert release.counts["train"] + release.counts["validation"] == release.counts["rows"]


def test_manifest_hashes_verify_and_a_rebuild_is_byte_identical(world):
    first = build("rft_sft", name="same", filters={"run": [world["run"].id]}, seed=1, validation_fraction=0.5)
    second = build("rft_sft", name="same", filters={"run": [world["run"].id]}, seed=1, validation_fraction=0.5)
    assert (first.version, second.version) == (1, 2)
    manifest = json.loads((release_folder(first) / MANIFEST).read_text())
    assert manifest == first.manifest
    assert {file["name"] for file in manifest["files"]} >= {"train.jsonl", "train.parquet"}
    for file in manifest["files"]:
        data = (release_folder(first) / file["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == file["sha256"]
        assert len(data) == file["bytes"]
        assert (release_folder(second) / file["name"]).read_bytes() == data
    assert first.sha256 == second.sha256
    assert first.sha256
    assert manifest["source_runs"] == [world["run"].id]
    assert manifest["seed"] == 1
    assert manifest["counts"]["by_subset"]
    assert manifest["templates"]
    assert manifest["models"]


def test_parquet_and_jsonl_hold_the_same_rows(world):
    release = build("pairs", filters={}, validation_fraction=0)
    table = pq.read_table(release_folder(release) / "train.parquet")
    assert table.to_pylist() == rows(release)


def test_filters_are_checked_and_named(world):
    with pytest.raises(ReleaseInvalid) as error:
        release_create(kind="rft_sft", filters={"colour": "red"})
    assert error.value.field == "colour"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"dataset": ["nope"]}, "dataset"),
        ({"run": [999999]}, "run"),
        ({"run": ["x"]}, "run"),
        ({"run": [10**20]}, "run"),
        ({"round": 10**20}, "round"),
        ({"round": 5}, "round"),
        ({"since": "yesterday"}, "since"),
        ({"failure_mode": "nope"}, "failure_mode"),
    ]
    for filters, field in cases:
        with pytest.raises(ReleaseInvalid) as error:
            release_create(kind="rft_sft", filters=filters)
        assert error.value.field == field, filters
    with pytest.raises(ReleaseInvalid) as error:
        release_create(kind="rl_prompts", filters={"reviewer_accepted": True})
    assert error.value.field == "reviewer_accepted"
    with pytest.raises(ReleaseInvalid):
        release_create(kind="everything")
    assert not Release.objects.exists()


def test_filters_select_by_subset_round_and_reviewer_acceptance(world):
    Round.objects.create(number=1)
    world["copy"].rft_round = Round.objects.get(number=1)
    world["copy"].save()
    by_round = build("rft_sft", filters={"round": 1}, validation_fraction=0)
    assert {row["query_id"] for row in rows(by_round)} == {"mixed-again"}
    assert by_round.rft_round.number == 1
    reviewer = UserFactory.create(roles=["reviewer"])
    annotation_submit(
        reviewer=reviewer, sample=Sample.objects.get(query=world["mixed"], sample_index=0), decision="accept"
    )
    accepted = build("rft_sft", filters={"reviewer_accepted": True}, validation_fraction=0)
    assert [(row["query_id"], row["source"]) for row in rows(accepted)] == [("mixed", "reviewer")]
    by_subset = build("metarm", filters={"subset": ["math"]}, validation_fraction=0)
    assert {row["subset"] for row in rows(by_subset)} == {"math"}


def test_nothing_to_export_fails_with_a_message_and_leaves_no_files(world):
    release = build("rft_sft", filters={"dataset": ["again"], "subset": ["math"]})
    assert release.status == Release.Status.FAILED
    assert "nothing to export" in release.error_message
    assert not release_folder(release).exists()


def test_export_copies_the_files_and_manifest(world, tmp_path):
    release = build("rft_sft", filters={}, validation_fraction=0)
    copied = release_export(release=release, out=tmp_path / "out")
    assert sorted(path.name for path in copied) == ["manifest.json", "train.jsonl", "train.parquet"]
    assert Path(tmp_path / "out" / "train.jsonl").read_bytes() == (release_folder(release) / "train.jsonl").read_bytes()


def test_a_metarm_release_is_what_a_meta_rm_trains_on(world, monkeypatch):
    from reviews.errors import MetaRmInvalid
    from reviews.selectors.metarm import release_judgments
    from reviews.services import metarm as metarm_services

    release = build("metarm", filters={"run": [world["run"].id]}, validation_fraction=0.5, seed=3)
    judgments = release_judgments(release=release)
    assert len(judgments) == release.counts["rows"]
    first = judgments[0]
    assert [message["role"] for message in first.messages] == ["user", "assistant"]
    assert first.sample_id is None
    assert first.row
    assert str(first.query_id).startswith("main/")
    assert {j.label for j in judgments} == {0, 1}
    monkeypatch.setattr(metarm_services, "MIN_TRAINING_EXAMPLES", 2)
    checkpoint = metarm_services.checkpoint_train_start(release=release)
    assert checkpoint.trained_on_release == release
    assert list(checkpoint.trained_on_runs.values_list("id", flat=True)) == [world["run"].id]
    wrong_kind = build("rft_sft", filters={}, validation_fraction=0)
    with pytest.raises(MetaRmInvalid) as error:
        metarm_services.checkpoint_train_start(release=wrong_kind)
    assert error.value.field == "release"
    assert "metarm release" in str(error.value)
    with pytest.raises(MetaRmInvalid):
        metarm_services.checkpoint_train_start(release=release, runs=[world["run"]])


def test_a_metarm_release_labels_as_training_on_its_runs_does(world, admin_user):
    """records.metarm_label and selectors.metarm._labelled state one rule: after reviews of every kind
    (a plain accept, a reject, a disagreement, an adjudicated one) the two give the same labels."""
    from reviews.selectors.metarm import training_judgments
    from reviews.services.decisions import adjudicate

    first, second = UserFactory.create(roles=["reviewer"]), UserFactory.create(roles=["reviewer"])
    samples = {(s.query.external_id, s.sample_index): s for s in Sample.objects.filter(run=world["run"])}
    annotation_submit(reviewer=first, sample=samples[("hard", 1)], decision="accept")  # no note
    annotation_submit(reviewer=first, sample=samples[("mixed", 0)], decision="reject")
    for sample in (samples[("mixed", 1)], samples[("unlabelled", 1)]):
        annotation_submit(reviewer=first, sample=sample, decision="accept")
        annotation_submit(reviewer=second, sample=sample, decision="reject")
    adjudicate(sample=samples[("unlabelled", 1)], decision="accept", note="It is right.", admin=admin_user)
    by_sample = {j.sample_id: (j.label, j.source) for j in training_judgments(run_ids=[world["run"].id])}
    release = build("metarm", filters={"run": [world["run"].id]}, validation_fraction=0)
    for row in all_rows(release):
        sample = samples[(row["query_id"], row["sample_index"])]
        assert (int(row["label"]), row["source"]) == by_sample[sample.id], row["query_id"]
    assert by_sample[samples[("hard", 1)].id] == (1, "reviewer")
    assert by_sample[samples[("mixed", 1)].id] == (0, "reviewer")  # held for RFT; a reject is a 0 here
    assert by_sample[samples[("unlabelled", 1)].id] == (1, "adjudication")


def test_one_build_at_a_time_and_a_superseded_build_records_nothing(world, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from reviews.services import releases as release_services

    release = release_create(kind="rft_sft", filters={}, build=False, validation_fraction=0)
    claim = release_services.release_claim(release_id=release.id)
    assert claim is not None
    assert release_services.release_claim(release_id=release.id) is None  # held: a second delivery waits
    assert release_build(release_id=release.id) is None
    # The first attempt stops beating: the watchdog puts the release back in the queue and sends it again.
    Release.objects.filter(pk=release.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    sent = []
    monkeypatch.setattr(release_services.enqueue, "send", lambda name, *args: sent.append(args))
    assert release_services.releases_resume_stalled(stalled_for=timedelta(minutes=5)) == [release.id]
    assert release_services.releases_resume_stalled(stalled_for=timedelta(minutes=5)) == []  # sent once
    assert sent == [(release.id,)]
    built = release_build(release_id=release.id)
    assert built is not None
    assert built.status == Release.Status.READY
    # The first attempt's token no longer holds it: whatever it would record now changes nothing.
    _, old_token = claim
    assert not Release.objects.filter(pk=release.pk, build_token=old_token).exists()
    folder = release_folder(built)
    assert sorted(path.name for path in folder.iterdir()) == ["manifest.json", "train.jsonl", "train.parquet"]
    assert not [path for path in folder.parent.iterdir() if path.name.startswith(".")]  # no work folder left


needs_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="reading ahead is PostgreSQL's path; SQLite always reads inline"
)


def _readers() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "release-reader"]


@needs_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_build_reading_ahead_writes_what_an_inline_build_writes(world, monkeypatch):
    from reviews.selectors import exports

    monkeypatch.setattr(exports, "CHUNK", 2)  # many chunks, so the reader runs ahead of the builder
    calls = []
    real = exports._read_ahead

    def counted(chunks):
        calls.append(chunks)
        return real(chunks)

    monkeypatch.setattr(exports, "_read_ahead", counted)
    for kind in ("rft_sft", "rejected", "metarm", "pairs"):
        ahead = build(kind, filters={"run": [world["run"].id]}, name=f"ahead-{kind}")
        with transaction.atomic():  # inside a transaction the rows are read inline
            inline = build(kind, filters={"run": [world["run"].id]}, name=f"inline-{kind}")
        assert ahead.status == inline.status == Release.Status.READY, (ahead.error_message, inline.error_message)
        assert ahead.sha256 == inline.sha256
        assert ahead.counts == inline.counts
    assert len(calls) == 4  # the builds outside a transaction read ahead; the others did not
    assert _readers() == []  # every reader has ended and closed its connection


@needs_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_reading_error_fails_the_build_with_its_message_and_stops_the_reader(world, monkeypatch):
    from reviews.selectors import exports

    monkeypatch.setattr(exports, "CHUNK", 1)  # a chunk per sample: the error comes after the first
    real = exports._query_texts
    seen = []

    def failing(ids):
        seen.append(ids)
        if len(seen) == 2:
            raise OSError("the database went away mid-read")
        return real(ids)

    monkeypatch.setattr(exports, "_query_texts", failing)
    release = build("pairs", filters={"run": [world["run"].id]})
    assert len(seen) == 2
    assert release.status == Release.Status.FAILED
    assert "went away mid-read" in release.error_message
    assert not release_folder(release).exists()
    assert _readers() == []


@needs_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_caller_that_stops_early_stops_the_reader(world, monkeypatch):
    from reviews.selectors import exports

    monkeypatch.setattr(exports, "CHUNK", 1)
    samples = exports.export_samples(kind="pairs", filters=exports.ExportFilters())
    chunks = exports.export_sample_chunks(samples)
    assert isinstance(chunks, Generator)
    first, _texts = next(chunks)
    assert len(first) == 1
    assert len(_readers()) == 1
    chunks.close()
    assert _readers() == []
