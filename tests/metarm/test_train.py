"""Training on a tiny backbone: both fitting paths, the saved checkpoint and its manifest."""

import json

import pytest
import torch

from tests.metarm.conftest import tiny_judgments
from workers.metarm import MANIFEST, MetaScorer, content_hash, load_metarm, train_metarm
from workers.metarm.data import encode, split_by_group
from workers.metarm.model import pad_batch


def train(tiny_backbone, tmp_path, **options):
    return train_metarm(
        tiny_judgments(),
        out_dir=tmp_path / "checkpoint",
        cache_dir=tmp_path / "cache",
        base_model=str(tiny_backbone),
        max_length=160,
        device="cpu",
        **{"profile": "cpu", **options},
    )


def test_head_only_checkpoint_reproduces_the_trained_logits(tiny_backbone, tmp_path):
    result = train(tiny_backbone, tmp_path, tuning="head", max_epochs=20)
    assert result.tuning == "head"
    model, tokenizer = load_metarm(result.path, device="cpu")
    validation = split_by_group(tiny_judgments(), seed=0).validation
    sequences = [encode(tokenizer, example.messages, max_length=160) for example in validation]
    # A plain forward of the saved model over one padded batch, pooling as the model does.
    input_ids, attention_mask = pad_batch(sequences, pad_id=tokenizer.pad_token_id, device="cpu")
    with torch.inference_mode():
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, 0].tolist()
    assert logits == pytest.approx(result.validation_logits, abs=1e-4)
    assert any(abs(value) > 1e-3 for value in logits)  # the head was trained, not left at zero
    assert [example.label for example in validation] == result.validation_labels


def test_the_backbone_is_frozen_on_the_head_only_path(tiny_backbone, tmp_path):
    result = train(tiny_backbone, tmp_path, tuning="head", max_epochs=5)
    trained, _ = load_metarm(result.path, device="cpu")
    from transformers import AutoModelForCausalLM

    original = AutoModelForCausalLM.from_pretrained(tiny_backbone)
    assert torch.equal(trained.model.layers[0].mlp.up_proj.weight, original.model.layers[0].mlp.up_proj.weight)


def test_manifest_records_the_training(tiny_backbone, tmp_path):
    result = train(tiny_backbone, tmp_path, tuning="head", max_epochs=5, seed=4)
    manifest = json.loads((result.path / MANIFEST).read_text())
    assert manifest["content_hash"] == content_hash(result.path) == result.content_hash
    assert manifest["profile"] == "cpu"
    assert manifest["base_model"] == str(tiny_backbone)
    assert manifest["seed"] == 4
    assert manifest["max_length"] == 160
    assert manifest["epochs_run"] == result.epochs_run >= manifest["best_epoch"] >= 1
    assert set(manifest["metrics"]) == {"roc_auc", "accuracy", "ece", "loss", "weighted_loss"}
    counts = manifest["counts"]
    assert counts["train"] + counts["validation"] == len(tiny_judgments())
    assert result.pos_weight == pytest.approx((counts["train"] - counts["train_positive"]) / counts["train_positive"])
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {path.name for path in result.path.iterdir()}


def test_training_is_seeded(tiny_backbone, tmp_path):
    first = train(tiny_backbone, tmp_path / "a", tuning="head", max_epochs=10)
    second = train(tiny_backbone, tmp_path / "b", tuning="head", max_epochs=10)
    assert first.validation_logits == second.validation_logits
    assert first.content_hash == second.content_hash


def test_full_fine_tuning_updates_the_backbone_and_reloads(tiny_backbone, tmp_path):
    result = train(tiny_backbone, tmp_path, tuning="full", max_epochs=2, patience=5)
    assert result.tuning == "full"
    assert result.epochs_run == 2
    scorer = MetaScorer(result.path, device="cpu")
    validation = split_by_group(tiny_judgments(), seed=0).validation
    assert scorer.score([example.messages for example in validation]) == pytest.approx(
        result.validation_logits, abs=1e-4
    )
    from transformers import AutoModelForCausalLM

    original = AutoModelForCausalLM.from_pretrained(tiny_backbone)
    trained = scorer.model.model.layers[0].mlp.up_proj.weight
    assert not torch.equal(trained, original.model.layers[0].mlp.up_proj.weight)


def test_small_sets_fine_tune_fully_on_the_cpu_profile(tiny_backbone, tmp_path):
    assert train(tiny_backbone, tmp_path, max_epochs=1).tuning == "full"  # 40 judgments <= 64


def test_gpu_profile_path_runs_in_bf16(tiny_backbone, tmp_path):
    # The gpu recipe (bf16 autocast, accumulation, gradient checkpointing) on the CPU, as far as it can go here.
    result = train(tiny_backbone, tmp_path, profile="gpu", max_epochs=1)
    assert (result.profile, result.tuning) == ("gpu", "full")
    config = json.loads((result.path / "config.json").read_text())
    assert config["dtype"] == "bfloat16"
    assert config["pad_token_id"] == config["eos_token_id"]


def test_progress_runs_from_zero_to_one(tiny_backbone, tmp_path):
    seen = []
    train(tiny_backbone, tmp_path, tuning="head", max_epochs=3, progress=lambda fraction, phase: seen.append(fraction))
    assert seen[0] == 0.0
    assert seen[-1] == 1.0
    assert seen == sorted(seen)


def test_an_existing_checkpoint_is_replaced_whole(tiny_backbone, tmp_path):
    (tmp_path / "checkpoint").mkdir()
    (tmp_path / "checkpoint" / "stale.bin").write_bytes(b"old")
    result = train(tiny_backbone, tmp_path, tuning="head", max_epochs=2)
    assert not (result.path / "stale.bin").exists()
    assert not [path for path in tmp_path.iterdir() if "partial" in path.name]


def test_unknown_profile_and_tuning_are_refused(tiny_backbone, tmp_path):
    with pytest.raises(ValueError, match="unknown meta-RM profile"):
        train(tiny_backbone, tmp_path, profile="tpu")
    with pytest.raises(ValueError, match="tuning must be one of"):
        train(tiny_backbone, tmp_path, tuning="lora")
