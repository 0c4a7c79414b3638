"""`manage.py export_release`: builds a release in-process, copies its files and manifest into --out,
prints the counts and hashes; bad options name the option, a failed build says why."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from django.core.management import CommandError, call_command

from reviews.models import Release, Round
from reviews.services.releases import MANIFEST
from tests.release_data import judged_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def release_dir(settings, tmp_path):
    settings.GRM_RELEASE_DIR = tmp_path / "releases"
    return settings.GRM_RELEASE_DIR


def export(*args: str) -> str:
    out = io.StringIO()
    call_command("export_release", *args, stdout=out)
    return out.getvalue()


def test_export_builds_copies_and_prints_the_manifest(tmp_path, sent_tasks):
    _, run = judged_dataset("main")
    judged_dataset("other")
    out = tmp_path / "out"
    printed = export(
        "--kind", "rft_sft", "--dataset", "main", "--run", str(run.id), "--seed", "5",
        "--validation-fraction", "0.5", "--name", "cli", "--out", str(out),
    )  # fmt: skip
    release = Release.objects.get()
    assert (release.name, release.status, release.seed, release.created_by) == ("cli", "ready", 5, None)
    assert release.filters == {"dataset": ["main"], "run": [run.id]}
    assert sent_tasks == []  # built here, not by a worker
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest == release.manifest
    for file in manifest["files"]:
        data = (out / file["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == file["sha256"]
        assert f"{file['sha256']}  {file['name']}" in printed
    counts = manifest["counts"]
    assert f"{counts['rows']} rows ({counts['train']} train, {counts['validation']} validation)" in printed
    assert "by subset: chat" in printed
    assert f"release sha256 {release.sha256}" in printed
    assert f"{counts['source_rows']}/{counts['source_rows']} source rows (100%)" in printed  # progress


def test_exporting_the_same_definition_again_gives_byte_identical_files(tmp_path):
    judged_dataset("main")
    export("--kind", "pairs", "--name", "again", "--out", str(tmp_path / "one"))
    export("--kind", "pairs", "--name", "again", "--out", str(tmp_path / "two"))
    assert list(Release.objects.order_by("version").values_list("version", flat=True)) == [1, 2]
    for path in (tmp_path / "one").iterdir():
        if path.name != MANIFEST:  # the manifest names its version and time
            assert (tmp_path / "two" / path.name).read_bytes() == path.read_bytes(), path.name


def test_every_filter_option_reaches_the_release(tmp_path):
    _, run = judged_dataset("main", subset="math")
    round_ = Round.objects.create(number=1)
    run.rft_round = round_
    run.save()
    export(
        "--kind", "metarm", "--dataset", "main", "--subset", "math", "--subset", "chat", "--round", "1",
        "--since", "2000-01-01", "--until", "2999-12-31", "--out", str(tmp_path / "out"),
    )  # fmt: skip
    release = Release.objects.get()
    assert release.filters == {
        "dataset": ["main"],
        "subset": ["chat", "math"],
        "round": 1,
        "since": "2000-01-01",
        "until": "2999-12-31",
    }
    assert release.rft_round == round_
    assert release.status == "ready"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind", "rft_sft", "--dataset", "nope"], "--dataset: no dataset named nope"),
        (["--kind", "rft_sft", "--run", "999999"], "--run: no run 999999"),
        (["--kind", "rft_sft", "--round", "4"], "--round: no round 4"),
        (["--kind", "rft_sft", "--failure-mode", "nope"], "--failure-mode: no failure mode 'nope'"),
        (["--kind", "rft_sft", "--since", "yesterday"], "--since: since must be a date"),
        (["--kind", "rft_sft", "--validation-fraction", "1"], "--validation-fraction: validation_fraction must be"),
        (["--kind", "rft_sft", "--name", "not a slug"], "--name: name must be"),
        (["--kind", "rl_prompts", "--reviewer-accepted"], "--reviewer-accepted: rl_prompts holds queries"),
    ],
)
def test_a_bad_option_is_named(tmp_path, args, message):
    judged_dataset("main")
    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        export(*args, "--out", str(tmp_path / "out"))
    assert not Release.objects.exists()
    assert not (tmp_path / "out").exists()


def test_an_unknown_kind_is_refused_by_the_parser(tmp_path):
    with pytest.raises(CommandError, match="invalid choice: 'everything'"):
        export("--kind", "everything", "--out", str(tmp_path / "out"))


def test_a_failed_build_is_an_error_with_its_message(tmp_path):
    judged_dataset("main")
    with pytest.raises(CommandError, match="building release rft-sft v1 failed: nothing to export"):
        export("--kind", "rft_sft", "--subset", "nowhere", "--out", str(tmp_path / "out"))
    assert Release.objects.get().status == "failed"
    assert not (tmp_path / "out").exists()
