"""A release folder read the way trainers read it: every data file loaded with `datasets.load_dataset`
("json" and "parquet"), each kind's columns and feature types checked, and one optimizer step of TRL's
`SFTTrainer` (rft_sft) and `RewardTrainer` (pairs). docs/exports.md shows the same calls to users.

Heavy imports (datasets, torch, transformers, trl) stay inside the functions: collecting tests never loads them.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

SPLITS = ("train", "validation")
# load_dataset builder name -> the release's file extension
FORMATS = {"json": "jsonl", "parquet": "parquet"}

# Column types: "str", "int", "bool", or a conversation given as its roles. None is ever null (docs/exports.md).
METADATA = {
    "id": "str",
    "query_id": "str",
    "dataset": "str",
    "subset": "str",
    "run_id": "int",
    "sample_index": "int",
    "hinted": "bool",
    "template": "str",
    "model": "str",
    "source": "str",
}
RFT_SFT = {"prompt": ("user",), "completion": ("assistant",), **METADATA}
COLUMNS: dict[str, dict[str, Any]] = {
    "rft_sft": RFT_SFT,
    "rejected": {**RFT_SFT, "reason": "str", "failure_modes": "str", "notes": "str"},
    "metarm": {"prompt": ("user",), "completion": ("assistant",), "label": "bool", **METADATA},
    "pairs": {
        "prompt": ("user",),
        "chosen": ("assistant",),
        "rejected": ("assistant",),
        "id": "str",
        "query_id": "str",
        "dataset": "str",
        "subset": "str",
        "run_id": "int",
        "template": "str",
        "model": "str",
        "chosen_sample_index": "int",
        "rejected_sample_index": "int",
        "chosen_hinted": "bool",
        "rejected_hinted": "bool",
    },
    "rl_prompts": {
        "prompt": ("user",),
        "label": "str",
        "best_index": "int",
        "rating": "int",
        "n_responses": "int",
        "id": "str",
        "query_id": "str",
        "dataset": "str",
        "subset": "str",
        "template": "str",
    },
}


def data_files(folder: Path | str, extension: str) -> dict[str, str]:
    """{split: path} of the release's files with this extension; validation only where it was written."""
    files = {split: Path(folder) / f"{split}.{extension}" for split in SPLITS}
    assert files["train"].is_file(), f"{files['train']} is missing: every release has a train split"
    return {split: str(path) for split, path in files.items() if path.is_file()}


def load_both(folder: Path | str) -> dict[str, Any]:
    """{"json": DatasetDict, "parquet": DatasetDict} of the release, loaded as a trainer loads local files.
    Held in memory, with datasets' cache in a temporary folder, so nothing outside it is written."""
    from datasets import load_dataset

    with tempfile.TemporaryDirectory(prefix="hf-datasets-") as cache:
        return {
            builder: load_dataset(builder, data_files=data_files(folder, ext), cache_dir=cache, keep_in_memory=True)
            for builder, ext in FORMATS.items()
        }


def assert_columns(kind: str, dataset: Any) -> None:
    """Each split of a DatasetDict (or one Dataset) has exactly this kind's columns, with their feature
    types; conversational columns hold {role, content} messages with the expected roles; json and
    parquet, when given as load_both's dict, hold the same rows."""
    if isinstance(dataset, dict) and set(dataset) == set(FORMATS):
        for loaded in dataset.values():
            assert_columns(kind, loaded)
        json_rows, parquet_rows = ({split: ds.to_list() for split, ds in dataset[b].items()} for b in FORMATS)
        assert json_rows == parquet_rows, f"{kind}: the JSONL and Parquet files hold different rows"
        return
    splits = dataset.items() if hasattr(dataset, "keys") else [("train", dataset)]
    expected = COLUMNS[kind]
    for split, part in splits:
        assert len(part) > 0, f"{kind}/{split}: an empty split (an empty file should not be written)"
        assert sorted(part.column_names) == sorted(expected), (
            f"{kind}/{split}: columns {sorted(part.column_names)}, expected {sorted(expected)}"
        )
        for column, spec in expected.items():
            problem = _feature_problem(part.features[column], spec)
            assert problem is None, f"{kind}/{split}: column {column!r} {problem}"
        for row in part:
            for column, spec in expected.items():
                if isinstance(spec, tuple):
                    roles = tuple(message["role"] for message in row[column])
                    assert roles == spec, f"{kind}/{split}: {column!r} has roles {roles}, expected {spec}"
                    assert all(isinstance(message["content"], str) for message in row[column])
        if kind in ("rft_sft", "rejected"):
            for row in part:
                prompt = row["prompt"][0]["content"]
                assert "[The Begin of Response 1]" in prompt, f"{kind}/{split}: the prompt is not a GRM prompt"


def _feature_problem(feature: Any, spec: Any) -> str | None:
    """Why `feature` is not the type `spec` names, or None. JSON has no schema: datasets takes every split's
    types from the first 10 MB of train, so a column that were null there would load as Value("null") and
    fail the load at its first value ("Couldn't cast"); the exporter never writes one, and this checks it."""
    from datasets import List, Value

    strings = ("string", "large_string")
    if isinstance(spec, tuple):
        if not isinstance(feature, List) or not isinstance(feature.feature, dict):
            return f"is {feature}, expected a list of {{role, content}}"
        fields = feature.feature
        if set(fields) != {"role", "content"} or any(
            not isinstance(fields[name], Value) or fields[name].dtype not in strings for name in fields
        ):
            return f"is {feature}, expected a list of {{role: string, content: string}}"
        return None
    allowed = {"str": strings, "int": ("int64",), "bool": ("bool",)}[spec]
    ok = isinstance(feature, Value) and feature.dtype in allowed
    return None if ok else f"is {feature}, expected {' or '.join(allowed)}"


def _train_split(folder: Path | str, builder: str) -> Any:
    from datasets import load_dataset

    files = {"train": data_files(folder, FORMATS[builder])["train"]}
    with tempfile.TemporaryDirectory(prefix="hf-datasets-") as cache:
        return load_dataset(builder, data_files=files, split="train", cache_dir=cache, keep_in_memory=True)


def _common_args(out_dir: Path | str) -> dict[str, Any]:
    """One optimizer step on the CPU in fp32, nothing saved or reported."""
    return {
        "output_dir": str(out_dir),
        "max_steps": 1,
        "per_device_train_batch_size": 1,
        "gradient_accumulation_steps": 1,
        "use_cpu": True,
        "bf16": False,  # TRL's default is bf16 autocast; fp32 is faster and exact on CPU
        "activation_checkpointing": False,  # TRL defaults to checkpointing; a 135M model does not need it
        "save_strategy": "no",
        "report_to": [],
        "logging_steps": 1,
        "disable_tqdm": True,
        "seed": 0,
    }


def sft_one_step(
    folder: Path | str, model_dir: Path | str, out_dir: Path | str, *, max_length: int = 2048, builder: str = "json"
) -> float:
    """The loss of one `SFTTrainer` step on an rft_sft release's train split. TRL reads `prompt` and
    `completion` (conversational prompt-completion: the loss is on the completion, the judgment, only)
    and drops the other columns itself. Sequences longer than max_length are truncated from the end, so
    max_length must exceed the GRM prompt (about 1,500 tokens) or no completion token is left to learn."""
    from trl import SFTConfig, SFTTrainer

    trainer = SFTTrainer(
        model=str(model_dir),
        args=SFTConfig(**_common_args(out_dir), max_length=max_length),
        train_dataset=_train_split(folder, builder),
    )
    loss = trainer.train().training_loss
    assert math.isfinite(loss), f"SFTTrainer's loss is {loss}"
    return float(loss)


def reward_one_step(
    folder: Path | str,
    model_dir: Path | str,
    out_dir: Path | str,
    *,
    max_length: int | None = None,
    builder: str = "json",
) -> float:
    """The loss of one `RewardTrainer` step on a pairs release's train split, a one-output sequence
    classifier on the causal LM's weights. RewardTrainer drops (does not truncate) a pair longer than
    max_length: None keeps every pair, since a GRM prompt alone is ~1,500 tokens."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    model = AutoModelForSequenceClassification.from_pretrained(str(model_dir), num_labels=1, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.config.pad_token_id = tokenizer.pad_token_id
    trainer = RewardTrainer(
        model=model,
        args=RewardConfig(**_common_args(out_dir), max_length=max_length),
        train_dataset=_train_split(folder, builder),
        processing_class=tokenizer,
    )
    assert isinstance(trainer.train_dataset, Dataset)
    assert len(trainer.train_dataset) > 0, f"every pair is longer than max_length={max_length}"
    loss = trainer.train().training_loss
    assert math.isfinite(loss), f"RewardTrainer's loss is {loss}"
    return float(loss)
