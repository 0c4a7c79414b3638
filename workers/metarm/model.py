"""The meta RM's model: training profiles, the trainable backbone, loading any sequence-classification
checkpoint the same way, and the batched forward that pools each sequence's last non-padding token.

A meta RM is `AutoModelForSequenceClassification` with one output: a raw logit per judgment.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from workers.backends.default_model import DEFAULT_MODEL
from workers.backends.transformers_backend import resolve_model

GPU_BASE_MODEL = "Qwen/Qwen2.5-1.5B-Instruct"
# A checkpoint not trained here says nothing of its input length; GRM prompts plus a judgment fit in this.
DEFAULT_MAX_LENGTH = 4096
_PLAIN_MARKER = "metarm-backbone.json"


@dataclass(frozen=True)
class Profile:
    """How to train: the backbone, precision and the optimiser's settings.

    `full_finetune_max`: full fine-tuning when the training split has at most this many judgments,
    otherwise only the scalar head on frozen backbone features; None always fine-tunes fully.
    `dtype` "bfloat16" means bf16 autocast over fp32 master weights (lr 1e-5 updates vanish in pure bf16).
    """

    name: str
    base_model: str
    dtype: str
    max_length: int
    lr: float
    head_lr: float
    micro_batch: int
    effective_batch: int
    max_epochs: int
    patience: int
    full_finetune_max: int | None
    gradient_checkpointing: bool
    # The head-only path: Adam over precomputed features, early-stopped on validation loss.
    probe_lr: float = 3e-3
    probe_weight_decay: float = 1e-2
    probe_batch: int = 32
    probe_max_epochs: int = 500
    probe_patience: int = 30


PROFILES: dict[str, Profile] = {
    # On 2 CPU cores SmolLM2-135M forwards ~1,100 tokens/s and trains ~300 tokens/s (idle machine):
    # full fine-tuning only fits small sets (<= 64 judgments); larger ones fit the head on features computed once.
    "cpu": Profile(
        name="cpu",
        base_model=DEFAULT_MODEL,
        dtype="float32",
        max_length=1024,
        lr=2e-5,
        head_lr=1e-3,  # the head starts at zero and gets few steps on a small set
        micro_batch=4,
        effective_batch=16,
        max_epochs=4,
        patience=1,
        full_finetune_max=64,
        gradient_checkpointing=False,
    ),
    # The paper's recipe at workstation scale: full fine-tuning, lr 1e-5, an effective batch by accumulation.
    "gpu": Profile(
        name="gpu",
        base_model=GPU_BASE_MODEL,
        dtype="bfloat16",
        max_length=DEFAULT_MAX_LENGTH,
        lr=1e-5,
        head_lr=1e-5,
        micro_batch=4,
        effective_batch=64,
        max_epochs=3,
        patience=1,
        full_finetune_max=None,
        gradient_checkpointing=True,
    ),
}


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def default_profile() -> str:
    return "gpu" if torch.cuda.is_available() else "cpu"


def trainable_backbone(base_model: str, *, cache_dir: Path) -> str:
    """A path or hub name that `from_pretrained` can train from. A GGUF model (the default) loads as a
    quantized model that cannot be fine-tuned, so a plain copy is made once under cache_dir."""
    path, kwargs = resolve_model(base_model)
    gguf_file = kwargs.get("gguf_file")
    if gguf_file is None:
        return path
    return str(_plain_copy(Path(path), gguf_file, cache_dir=Path(cache_dir)))


def _plain_copy(folder: Path, gguf_file: str, *, cache_dir: Path) -> Path:
    source = folder / gguf_file
    stat = source.stat()
    identity = {"gguf": str(source.resolve()), "size": stat.st_size}
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]
    target = cache_dir / "backbones" / f"{Path(gguf_file).stem}-{key}"
    if (target / _PLAIN_MARKER).is_file():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    staging = target.with_name(f".{target.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
    model: Any = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file, dtype=torch.float32)
    # Dequantized to fp32 on load, but still flagged as quantized: Trainer and save_pretrained would refuse it.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    (staging / _PLAIN_MARKER).write_text(json.dumps(identity, indent=2) + "\n")
    try:
        staging.replace(target)
    except OSError:  # another worker finished the same copy first
        shutil.rmtree(staging, ignore_errors=True)
        if not (target / _PLAIN_MARKER).is_file():
            raise
    return target


def new_metarm(backbone: str, *, dtype: torch.dtype, device: str) -> tuple[Any, Any]:
    """A sequence-classification model with one output on `backbone`, and its tokenizer. A head the
    checkpoint lacks starts at zero (every logit 0), not at random."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model, info = AutoModelForSequenceClassification.from_pretrained(
        backbone, num_labels=1, dtype=dtype, output_loading_info=True
    )
    head = getattr(model, "score", None)
    if isinstance(head, torch.nn.Linear) and any(key.startswith("score.") for key in info.get("missing_keys", ())):
        torch.nn.init.zeros_(head.weight)
        if head.bias is not None:
            torch.nn.init.zeros_(head.bias)
    tokenizer = AutoTokenizer.from_pretrained(backbone)
    _check_one_output(model, backbone)
    ensure_padding(model, tokenizer)
    return model.to(device), tokenizer


def load_metarm(model: str | Path, *, device: str | None = None, dtype: str | None = None) -> tuple[Any, Any]:
    """(model, tokenizer) of a meta-RM checkpoint, trained here or not, by path or hub name: bf16 on
    CUDA, fp32 on CPU, in eval mode. Refuses a head without exactly one output, or a model whose head
    would be newly initialised (a plain language model is not a meta RM)."""
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    name = str(model)
    device = device or default_device()
    torch_dtype = getattr(torch, dtype) if dtype else (torch.bfloat16 if device.startswith("cuda") else torch.float32)
    config = AutoConfig.from_pretrained(name)
    architectures = list(getattr(config, "architectures", None) or [])
    if architectures and not any(arch.endswith("ForSequenceClassification") for arch in architectures):
        raise ValueError(
            f"{name} is not a sequence-classification checkpoint (it is {', '.join(architectures)}); "
            "a meta RM has a one-output head"
        )
    if config.num_labels != 1:
        raise ValueError(
            f"{name} has a classification head with {config.num_labels} outputs; a meta RM has exactly one (a logit)"
        )
    loaded, info = AutoModelForSequenceClassification.from_pretrained(name, dtype=torch_dtype, output_loading_info=True)
    missing = sorted(info.get("missing_keys", ()))
    if missing:
        raise ValueError(
            f"{name} is not a trained sequence-classification checkpoint: loading it would newly initialise "
            f"{', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}"
        )
    _check_one_output(loaded, name)
    tokenizer = AutoTokenizer.from_pretrained(name)
    ensure_padding(loaded, tokenizer)
    return loaded.to(device).eval(), tokenizer


def _check_one_output(model: Any, name: str) -> None:
    head = getattr(model, "score", None)
    if head is None:
        head = getattr(model, "classifier", None)
    outputs = getattr(head, "out_features", None)
    if model.config.num_labels != 1 or (outputs is not None and outputs != 1):
        raise ValueError(f"{name} has a head with {outputs or model.config.num_labels} outputs; a meta RM has one")


def ensure_padding(model: Any, tokenizer: Any) -> None:
    """A pad token (eos when there is none), right padding, and the model's config told its id: the
    sequence-classification head pools the rightmost token that is not the configured pad id."""
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token is None:
            raise ValueError("the tokenizer has neither a pad nor an eos token to pad batches with")
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    model.config.pad_token_id = tokenizer.pad_token_id
    text_config = model.config.get_text_config()
    if text_config is not model.config:
        text_config.pad_token_id = tokenizer.pad_token_id


def last_token_index(input_ids: torch.Tensor, pad_token_id: int) -> torch.Tensor:
    """Each row's rightmost token that is not padding: exactly the position `*ForSequenceClassification` pools."""
    non_pad = (input_ids != pad_token_id).to(torch.int32)
    positions = torch.arange(input_ids.shape[-1], device=input_ids.device, dtype=torch.int32)
    return (positions * non_pad).argmax(-1)


def pad_batch(sequences: Sequence[Sequence[int]], *, pad_id: int, device: str | torch.device) -> tuple[Any, Any]:
    """(input_ids, attention_mask) of token sequences padded on the right to the longest."""
    width = max(len(ids) for ids in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, ids in enumerate(sequences):
        input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        attention_mask[row, : len(ids)] = 1
    return input_ids.to(device), attention_mask.to(device)


def length_batches(sequences: Sequence[Sequence[int]], batch_size: int) -> list[list[int]]:
    """Indices in batches of similar length (longest first, so running out of memory shows at once)."""
    order = sorted(range(len(sequences)), key=lambda index: -len(sequences[index]))
    return [order[start : start + batch_size] for start in range(0, len(order), max(1, batch_size))]


def model_device(model: Any) -> torch.device:
    return next(model.parameters()).device


def batched_logits(model: Any, sequences: Sequence[Sequence[int]], *, pad_id: int, batch_size: int) -> list[float]:
    """The model's logit for each token sequence, in input order, batched by similar length."""
    logits = [0.0] * len(sequences)
    device = model_device(model)
    with torch.inference_mode():
        for batch in length_batches(sequences, batch_size):
            input_ids, attention_mask = pad_batch([sequences[index] for index in batch], pad_id=pad_id, device=device)
            values = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, 0].float().tolist()
            for index, value in zip(batch, values, strict=True):
                logits[index] = value
    return logits


def pooled_features(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """What the head sees: the backbone's final hidden state at each row's pooled token."""
    backbone = getattr(model, model.base_model_prefix)
    hidden = backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    rows = torch.arange(hidden.shape[0], device=hidden.device)
    return hidden[rows, last_token_index(input_ids, model.config.get_text_config().pad_token_id)]
