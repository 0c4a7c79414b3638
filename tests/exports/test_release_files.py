"""Releases as trainers read them: every kind, built by the real builder, loads with
`datasets.load_dataset("json")` and `("parquet")` with the columns its trainer expects; one step of TRL's
SFTTrainer runs on an rft_sft release and one of RewardTrainer on a pairs release, with the default model."""

from __future__ import annotations

import hashlib

import pytest

from reviews.models import FailureMode, Release, Sample
from reviews.services.annotations import annotation_submit
from reviews.services.releases import release_build, release_create, release_folder
from tests.exports.trainers import COLUMNS, assert_columns, load_both, reward_one_step, sft_one_step
from tests.factories import QueryFactory, ResponseFactory, UserFactory
from tests.release_data import judged_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def release_dir(settings, tmp_path):
    settings.GRM_RELEASE_DIR = tmp_path / "releases"


@pytest.fixture
def run():
    """A judged run with a reviewer's rejection tagged and noted (rejected rows then hold both empty and
    filled failure modes and notes), and a rated single-response query beside the labelled ones (rl_prompts
    then holds both a best index and a rating)."""
    dataset, run = judged_dataset()
    rated = QueryFactory.create(
        dataset=dataset,
        external_id="rated",
        best_index=None,
        rating=7,
        prompt="Rate this?",
        context=[{"role": "user", "content": "Rate this?"}],
        content_hash=hashlib.sha256(b"rated").hexdigest(),
    )
    ResponseFactory.create(query=rated, position=0, text="An answer to rate.")
    reviewer = UserFactory.create(roles=["reviewer"])
    mode = FailureMode.objects.filter(active=True).first()
    assert mode is not None
    sample = Sample.objects.filter(run=run, decision="reject").order_by("-id").first()
    annotation_submit(reviewer=reviewer, sample=sample, decision="reject", failure_modes=[mode], note="wrong winner")
    return run


def build(kind: str, run, **options) -> Release:
    filters = {"dataset": [run.dataset.name]} if kind == "rl_prompts" else {"run": [run.id]}
    release = release_build(release_id=release_create(kind=kind, filters=filters, build=False, **options).id)
    assert release is not None
    assert release.status == Release.Status.READY, release.error_message
    return release


@pytest.mark.parametrize("kind", list(COLUMNS))
def test_every_kind_loads_from_json_and_parquet_with_its_trainers_columns(run, kind):
    release = build(kind, run, validation_fraction=0.3, seed=2)
    loaded = load_both(release_folder(release))
    splits = {file["split"] for file in release.files}
    assert set(loaded["json"]) == set(loaded["parquet"]) == splits
    assert_columns(kind, loaded)
    assert sum(len(part) for part in loaded["json"].values()) == release.counts["rows"]


def test_optional_values_are_never_null_so_json_types_hold(run):
    rejected = load_both(release_folder(build("rejected", run, validation_fraction=0)))["json"]["train"]
    mode = FailureMode.objects.filter(active=True).first()
    assert mode is not None
    assert set(rejected["failure_modes"]) >= {"", mode.code}
    assert "wrong winner" in rejected["notes"]
    prompts = load_both(release_folder(build("rl_prompts", run, validation_fraction=0)))["json"]["train"]
    assert {(row["best_index"] >= 0, row["rating"]) for row in prompts} >= {(True, -1), (False, 7)}


@pytest.mark.slow
def test_one_sft_step_on_an_rft_sft_release(run, default_model_dir, tmp_path):
    release = build("rft_sft", run, validation_fraction=0)
    assert sft_one_step(release_folder(release), default_model_dir, tmp_path / "sft") > 0


@pytest.mark.slow
def test_one_reward_model_step_on_a_pairs_release(run, default_model_dir, tmp_path):
    release = build("pairs", run, validation_fraction=0)
    loss = reward_one_step(release_folder(release), default_model_dir, tmp_path / "rm", builder="parquet")
    assert loss >= 0
