"""Loading checkpoints the same way whoever trained them, and scoring in input order."""

import pytest
import torch

from tests.metarm.conftest import save_tiny_model, tiny_judgments
from workers.metarm import MetaScorer, load_metarm


@pytest.fixture(scope="module")
def tiny_metarm(tmp_path_factory):
    """A one-output sequence-classification checkpoint trained elsewhere (random weights, no pad token)."""
    return save_tiny_model(tmp_path_factory.mktemp("tiny-metarm"), head_outputs=1, seed=1)


def test_load_refuses_a_head_with_two_outputs(tmp_path):
    folder = save_tiny_model(tmp_path / "two", head_outputs=2)
    with pytest.raises(ValueError, match="2 outputs"):
        load_metarm(folder, device="cpu")


def test_load_refuses_a_model_without_a_trained_head(tiny_backbone):
    with pytest.raises(ValueError, match="not a sequence-classification checkpoint"):
        load_metarm(tiny_backbone, device="cpu")


def test_load_pads_with_eos_and_tells_the_model(tiny_metarm):
    model, tokenizer = load_metarm(tiny_metarm, device="cpu")
    assert tokenizer.pad_token == tokenizer.eos_token == "<|im_end|>"
    assert model.config.pad_token_id == tokenizer.pad_token_id
    assert tokenizer.padding_side == "right"
    assert model.dtype == torch.float32
    assert not model.training


def test_scores_come_back_in_input_order(tiny_metarm):
    scorer = MetaScorer(tiny_metarm, device="cpu", max_length=200)
    batch = [example.messages for example in tiny_judgments(queries=3, per_query=4)]
    batch.sort(key=lambda messages: len(messages[0]["content"]) % 7)  # lengths out of order
    one_at_a_time = [scorer.score([messages])[0] for messages in batch]
    assert len(set(one_at_a_time)) > 1
    assert scorer.score(batch, batch_size=5) == pytest.approx(one_at_a_time, abs=1e-5)
    assert scorer.score([]) == []


def test_a_bare_forward_matches_the_scorer(tiny_metarm):
    scorer = MetaScorer(tiny_metarm, device="cpu", max_length=200)
    batch = [example.messages for example in tiny_judgments(queries=2, per_query=3)]
    sequences = scorer.encode(batch)
    assert scorer.forward_batch(sequences).tolist() == pytest.approx(scorer.score_encoded(sequences), abs=1e-5)


def test_scorer_reads_the_trained_input_length(tmp_path, tiny_metarm):
    import shutil

    from workers.metarm.checkpoint import write_manifest

    folder = tmp_path / "copy"
    shutil.copytree(tiny_metarm, folder)
    write_manifest(folder, {"max_length": 77})
    assert MetaScorer(folder, device="cpu").max_length == 77
    assert MetaScorer(tiny_metarm, device="cpu").max_length == 4096
