"""Training a meta RM (GRM_SPEC 7): binary cross-entropy on whether each sampled judgment was correct,
the rarer class weighted, early-stopped on validation loss, saved as a checkpoint folder.

Two ways to fit, chosen by the profile or forced with `tuning`:
- "head": the scalar head alone, on the frozen backbone's pooled features computed once (the cpu
  profile when the training split is larger than `full_finetune_max`);
- "full": every weight, small learning rate, gradient accumulation to an effective batch.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workers.grm.metrics import accuracy, expected_calibration_error, roc_auc, sigmoid
from workers.metarm.checkpoint import content_hash, write_manifest
from workers.metarm.data import MetaExample, encode, labelled, positive_weight, split_by_group
from workers.metarm.features import FeatureCache, backbone_identity, sequence_features
from workers.metarm.model import (
    PROFILES,
    Profile,
    batched_logits,
    default_device,
    default_profile,
    length_batches,
    new_metarm,
    pad_batch,
    trainable_backbone,
)

Progress = Callable[[float, str], None]
TUNINGS = ("auto", "head", "full")
MANIFEST_FORMAT = 1


@dataclass(frozen=True)
class TrainResult:
    """What a training produced. `metrics` are on the validation split: roc_auc, accuracy (probability
    >= 0.5), ece, loss (plain log loss) and weighted_loss (the class-weighted training objective, which
    early stopping minimises); roc_auc is None only if validation held a single class."""

    path: Path
    profile: str
    base_model: str
    tuning: str
    max_length: int
    metrics: dict[str, float | None]
    counts: dict[str, int]
    seed: int
    epochs_run: int
    best_epoch: int
    pos_weight: float
    content_hash: str
    seconds: float
    validation_logits: list[float] = field(repr=False)
    validation_labels: list[int] = field(repr=False)


@dataclass
class _Fit:
    validation_logits: list[float]
    epochs_run: int
    best_epoch: int


def train_metarm(
    examples: Sequence[MetaExample],
    *,
    out_dir: Path,
    cache_dir: Path,
    profile: str | None = None,
    base_model: str | None = None,
    seed: int = 0,
    validation_fraction: float = 0.2,
    tuning: str = "auto",
    max_length: int | None = None,
    max_epochs: int | None = None,
    patience: int | None = None,
    device: str | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Train a meta RM on labelled judgments and save it to out_dir (replaced if it exists).

    profile: "cpu" or "gpu" (default: gpu when CUDA is available). base_model overrides the profile's
    backbone (a path, hub name, GGUF file or the default model's name). cache_dir keeps the plain copy
    of a GGUF backbone and the head-only path's features. max_epochs and patience apply to the path
    taken (head-only: epochs over cached features; full: passes over the training split).
    Raises ValueError when the labels cannot be split into two sides that each hold both classes.
    """
    started = time.monotonic()
    report = _reporter(progress)
    if tuning not in TUNINGS:
        raise ValueError(f"tuning must be one of {', '.join(TUNINGS)}, got {tuning!r}")
    name = profile or default_profile()
    if name not in PROFILES:
        raise ValueError(f"unknown meta-RM profile {name!r}; choose one of {', '.join(PROFILES)}")
    spec = PROFILES[name]
    spec = replace(spec, max_length=max_length or spec.max_length)
    if max_epochs is not None:
        spec = replace(spec, max_epochs=max_epochs, probe_max_epochs=max_epochs)
    if patience is not None:
        spec = replace(spec, patience=patience, probe_patience=patience)

    report(0.0, "splitting judgments by query")
    split = split_by_group(examples, validation_fraction=validation_fraction, seed=seed)
    train_labels = [int(example.label or 0) for example in split.train]
    validation_labels = [int(example.label or 0) for example in split.validation]
    pos_weight = positive_weight(train_labels)
    counts = {
        "train": len(train_labels),
        "train_positive": sum(train_labels),
        "validation": len(validation_labels),
        "validation_positive": sum(validation_labels),
        "unlabelled": len(examples) - len(labelled(examples)),
    }
    mode = tuning
    if mode == "auto":
        mode = "full" if spec.full_finetune_max is None or len(train_labels) <= spec.full_finetune_max else "head"

    report(0.02, "preparing the backbone")
    base = base_model or spec.base_model
    backbone = trainable_backbone(base, cache_dir=Path(cache_dir))
    device = device or default_device()
    torch.manual_seed(seed)
    model, tokenizer = new_metarm(backbone, dtype=torch.float32, device=device)

    report(0.05, "tokenizing judgments")
    train_ids = [encode(tokenizer, example.messages, max_length=spec.max_length) for example in split.train]
    validation_ids = [encode(tokenizer, example.messages, max_length=spec.max_length) for example in split.validation]

    if mode == "head":
        fit = _train_head(
            model,
            train_ids,
            train_labels,
            validation_ids,
            validation_labels,
            pos_weight=pos_weight,
            spec=spec,
            seed=seed,
            cache=FeatureCache.for_backbone(
                Path(cache_dir), backbone_identity(backbone, dtype=torch.float32, device=device)
            ),
            report=report,
        )
    else:
        fit = _train_full(
            model,
            train_ids,
            train_labels,
            validation_ids,
            validation_labels,
            pos_weight=pos_weight,
            spec=spec,
            seed=seed,
            report=report,
        )
    metrics = validation_metrics(fit.validation_logits, validation_labels, pos_weight=pos_weight)

    report(0.92, "saving the checkpoint")
    if spec.dtype == "bfloat16":
        model.to(torch.bfloat16)
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "profile": spec.name,
        "base_model": base,
        "backbone": backbone,
        "tuning": mode,
        "max_length": spec.max_length,
        "dtype": spec.dtype,
        "seed": seed,
        "validation_fraction": validation_fraction,
        "epochs_run": fit.epochs_run,
        "best_epoch": fit.best_epoch,
        "pos_weight": pos_weight,
        "metrics": metrics,
        "counts": counts,
        "hyperparameters": _hyperparameters(spec, mode),
        "versions": _versions(),
    }
    path, digest = _save(model, tokenizer, Path(out_dir), manifest, started=started)
    report(1.0, "done")
    return TrainResult(
        path=path,
        profile=spec.name,
        base_model=base,
        tuning=mode,
        max_length=spec.max_length,
        metrics=metrics,
        counts=counts,
        seed=seed,
        epochs_run=fit.epochs_run,
        best_epoch=fit.best_epoch,
        pos_weight=pos_weight,
        content_hash=digest,
        seconds=time.monotonic() - started,
        validation_logits=fit.validation_logits,
        validation_labels=validation_labels,
    )


def validation_metrics(logits: Sequence[float], labels: Sequence[int], *, pos_weight: float) -> dict[str, float | None]:
    values = np.asarray(logits, dtype=float)
    truth = np.asarray(labels, dtype=float)
    probabilities = sigmoid(values.tolist())
    # -log p = softplus(-x), -log(1 - p) = softplus(x), stable for large |x|.
    positive_loss = np.logaddexp(0.0, -values)
    negative_loss = np.logaddexp(0.0, values)
    return {
        "roc_auc": roc_auc(values.tolist(), labels),
        "accuracy": accuracy(probabilities.tolist(), labels),
        "ece": expected_calibration_error(probabilities.tolist(), labels),
        "loss": float(np.mean(truth * positive_loss + (1 - truth) * negative_loss)),
        "weighted_loss": float(np.mean(pos_weight * truth * positive_loss + (1 - truth) * negative_loss)),
    }


def fit_head(
    train_features: torch.Tensor,
    train_labels: Sequence[int],
    validation_features: torch.Tensor,
    validation_labels: Sequence[int],
    *,
    pos_weight: float,
    seed: int,
    lr: float,
    weight_decay: float,
    batch_size: int,
    max_epochs: int,
    patience: int,
) -> tuple[torch.Tensor, int, int]:
    """(head weight over raw features, epochs run, best epoch): weighted logistic regression without a
    bias (the head has none), on features scaled to unit RMS per dimension; the scale is folded back
    into the returned weight. Early-stopped on the weighted validation loss, keeping the best weight."""
    scale = train_features.pow(2).mean(0).sqrt().clamp_min(1e-6)
    train_x = train_features / scale
    validation_x = validation_features / scale
    train_y = torch.tensor(train_labels, dtype=torch.float32)
    validation_y = torch.tensor(validation_labels, dtype=torch.float32)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_weight))
    weight = torch.zeros(train_x.shape[1], requires_grad=True)
    optimizer = torch.optim.AdamW([weight], lr=lr, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    best_loss, best_weight, best_epoch, stale = math.inf, weight.detach().clone(), 0, 0
    epoch = 0
    for epoch in range(1, max_epochs + 1):
        for batch in torch.randperm(len(train_y), generator=generator).split(batch_size):
            optimizer.zero_grad()
            loss_fn(train_x[batch] @ weight, train_y[batch]).backward()
            optimizer.step()
        with torch.no_grad():
            validation_loss = float(loss_fn(validation_x @ weight, validation_y))
        if validation_loss < best_loss - 1e-6:
            best_loss, best_weight, best_epoch, stale = validation_loss, weight.detach().clone(), epoch, 0
        else:
            stale += 1
            if stale >= patience:
                break
    return best_weight / scale, epoch, best_epoch


def _train_head(
    model: Any,
    train_ids: list[list[int]],
    train_labels: list[int],
    validation_ids: list[list[int]],
    validation_labels: list[int],
    *,
    pos_weight: float,
    spec: Profile,
    seed: int,
    cache: FeatureCache,
    report: Progress,
) -> _Fit:
    head = getattr(model, "score", None)
    if not isinstance(head, torch.nn.Linear) or head.bias is not None:
        raise ValueError("head-only training needs a model whose head is one bias-free linear `score` layer")
    model.eval()
    features = sequence_features(
        model,
        train_ids + validation_ids,
        batch_size=spec.micro_batch * 2,
        cache=cache,
        progress=lambda done, total: report(0.05 + 0.8 * done / total, f"backbone features {done}/{total}"),
    )
    report(0.86, "fitting the head")
    weight, epochs_run, best_epoch = fit_head(
        features[: len(train_ids)],
        train_labels,
        features[len(train_ids) :],
        validation_labels,
        pos_weight=pos_weight,
        seed=seed,
        lr=spec.probe_lr,
        weight_decay=spec.probe_weight_decay,
        batch_size=spec.probe_batch,
        max_epochs=spec.probe_max_epochs,
        patience=spec.probe_patience,
    )
    with torch.no_grad():
        head.weight.copy_(weight.view(1, -1).to(head.weight))
    validation_logits = (features[len(train_ids) :] @ weight).tolist()
    return _Fit(validation_logits=validation_logits, epochs_run=epochs_run, best_epoch=best_epoch)


def _train_full(
    model: Any,
    train_ids: list[list[int]],
    train_labels: list[int],
    validation_ids: list[list[int]],
    validation_labels: list[int],
    *,
    pos_weight: float,
    spec: Profile,
    seed: int,
    report: Progress,
) -> _Fit:
    device = next(model.parameters()).device
    pad_id = model.config.get_text_config().pad_token_id
    head_names = {name for name, _ in model.named_parameters() if name.startswith(("score.", "classifier."))}
    optimizer = torch.optim.AdamW(
        [
            {"params": [p for n, p in model.named_parameters() if n not in head_names], "lr": spec.lr},
            {"params": [p for n, p in model.named_parameters() if n in head_names], "lr": spec.head_lr},
        ],
        weight_decay=0.0,
    )
    if spec.gradient_checkpointing:
        _checkpointing(model, enable=True)
    autocast = spec.dtype == "bfloat16"
    labels = torch.tensor(train_labels, dtype=torch.float32)
    weight = torch.tensor(pos_weight, device=device)
    generator = torch.Generator().manual_seed(seed)
    step_size = min(spec.effective_batch, len(train_ids))
    steps_per_epoch = math.ceil(len(train_ids) / step_size)
    total_steps = steps_per_epoch * spec.max_epochs
    best_loss, best_state, best_epoch, stale, steps = math.inf, None, 0, 0, 0
    validation_logits: list[float] = []
    best_logits: list[float] = []
    epoch = 0
    for epoch in range(1, spec.max_epochs + 1):
        model.train()
        for step in torch.randperm(len(train_ids), generator=generator).split(step_size):
            optimizer.zero_grad()
            chosen = step.tolist()
            for micro in length_batches([train_ids[index] for index in chosen], spec.micro_batch):
                indices = [chosen[position] for position in micro]
                input_ids, attention_mask = pad_batch([train_ids[i] for i in indices], pad_id=pad_id, device=device)
                with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=autocast):
                    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, 0].float()
                loss = torch.nn.functional.binary_cross_entropy_with_logits(
                    logits, labels[indices].to(device), pos_weight=weight, reduction="sum"
                )
                (loss / len(chosen)).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            steps += 1
            report(0.05 + 0.8 * steps / total_steps, f"epoch {epoch}/{spec.max_epochs}, step {steps}/{total_steps}")
        model.eval()
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=autocast):
            validation_logits = batched_logits(model, validation_ids, pad_id=pad_id, batch_size=spec.micro_batch * 2)
        validation_loss = validation_metrics(validation_logits, validation_labels, pos_weight=pos_weight)
        weighted_loss = float(validation_loss["weighted_loss"] or 0.0)
        if weighted_loss < best_loss - 1e-6:
            best_loss, best_epoch, stale, best_logits = weighted_loss, epoch, 0, validation_logits
            best_state = {name: tensor.detach().to("cpu", copy=True) for name, tensor in model.state_dict().items()}
        else:
            stale += 1
            if stale >= spec.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    if spec.gradient_checkpointing:
        _checkpointing(model, enable=False)
    model.eval()
    return _Fit(validation_logits=best_logits or validation_logits, epochs_run=epoch, best_epoch=best_epoch)


def _checkpointing(model: Any, *, enable: bool) -> None:
    """Recompute activations in the backward pass (long GRM inputs); transformers 5 renamed the switch."""
    prefix = "activation" if hasattr(model, "activation_checkpointing_enable") else "gradient"
    getattr(model, f"{prefix}_checkpointing_{'enable' if enable else 'disable'}")()
    model.config.use_cache = not enable


def _save(model: Any, tokenizer: Any, out_dir: Path, manifest: dict[str, Any], *, started: float) -> tuple[Path, str]:
    """Write into a staging folder beside out_dir, then swap it in: a killed worker leaves no half checkpoint."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.with_name(f".{out_dir.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    digest = content_hash(staging)
    write_manifest(staging, {**manifest, "content_hash": digest, "seconds": round(time.monotonic() - started, 3)})
    if out_dir.exists():
        shutil.rmtree(out_dir)
    staging.replace(out_dir)
    return out_dir, digest


def _hyperparameters(spec: Profile, mode: str) -> dict[str, Any]:
    if mode == "head":
        return {
            "lr": spec.probe_lr,
            "weight_decay": spec.probe_weight_decay,
            "batch": spec.probe_batch,
            "max_epochs": spec.probe_max_epochs,
            "patience": spec.probe_patience,
        }
    return {
        "lr": spec.lr,
        "head_lr": spec.head_lr,
        "micro_batch": spec.micro_batch,
        "effective_batch": spec.effective_batch,
        "max_epochs": spec.max_epochs,
        "patience": spec.patience,
        "gradient_checkpointing": spec.gradient_checkpointing,
    }


def _versions() -> dict[str, str]:
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__}


def _reporter(progress: Progress | None) -> Progress:
    def report(fraction: float, message: str) -> None:
        if progress is not None:
            progress(min(1.0, max(0.0, fraction)), message)

    return report
