"""Frozen-backbone features for the head-only path: the pooled final hidden state of each token
sequence, computed once and kept on disk per backbone, so retraining on relabelled judgments (reviewer
verdicts, a shuffled-label control) skips the forward passes."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workers.metarm.model import length_batches, model_device, pad_batch, pooled_features


def backbone_identity(backbone: str, *, dtype: torch.dtype, device: str) -> str | None:
    """What decides a backbone's features: a local folder's files, precision, device and library versions.
    None for a hub name, whose files may change under the same name."""
    folder = Path(backbone)
    if not folder.is_dir():
        return None
    import transformers

    files = sorted(
        (path.name, path.stat().st_size, path.stat().st_mtime_ns) for path in folder.iterdir() if path.is_file()
    )
    description = {
        "folder": str(folder.resolve()),
        "files": files,
        "dtype": str(dtype),
        "device": torch.device(device).type,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()


class FeatureCache:
    """Features keyed by a hash of the token ids, one file per backbone identity under cache_dir/features."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, torch.Tensor] = {}
        self.dirty = False
        if path is not None and path.is_file():
            # A torn or stale file is only a cache miss.
            try:
                self.entries = torch.load(path, weights_only=True)
            except (OSError, RuntimeError, EOFError, pickle.UnpicklingError):
                self.entries = {}

    @classmethod
    def for_backbone(cls, cache_dir: Path | None, identity: str | None) -> FeatureCache:
        if cache_dir is None or identity is None:
            return cls(None)
        return cls(Path(cache_dir) / "features" / f"{identity[:24]}.pt")

    @staticmethod
    def key(ids: Sequence[int]) -> str:
        return hashlib.sha256(np.asarray(ids, dtype=np.int64).tobytes()).hexdigest()

    def get(self, ids: Sequence[int]) -> torch.Tensor | None:
        return self.entries.get(self.key(ids))

    def put(self, ids: Sequence[int], feature: torch.Tensor) -> None:
        self.entries[self.key(ids)] = feature
        self.dirty = True

    def save(self) -> None:
        if self.path is None or not self.dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staging = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        torch.save(self.entries, staging)
        staging.replace(self.path)
        self.dirty = False


def sequence_features(
    model: Any,
    sequences: Sequence[Sequence[int]],
    *,
    batch_size: int,
    cache: FeatureCache,
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """An (n, hidden) fp32 CPU tensor: each sequence's pooled final hidden state, from the cache or computed."""
    found: dict[int, torch.Tensor] = {}
    missing: list[int] = []
    for index, ids in enumerate(sequences):
        cached = cache.get(ids)
        if cached is None:
            missing.append(index)
        else:
            found[index] = cached
    device = model_device(model)
    pad_id = model.config.get_text_config().pad_token_id
    done = 0
    with torch.inference_mode():
        for batch in length_batches([sequences[index] for index in missing], batch_size):
            indices = [missing[position] for position in batch]
            input_ids, attention_mask = pad_batch([sequences[index] for index in indices], pad_id=pad_id, device=device)
            features = pooled_features(model, input_ids, attention_mask).float().cpu()
            for index, feature in zip(indices, features, strict=True):
                found[index] = feature.clone()
                cache.put(sequences[index], found[index])
            done += len(indices)
            if progress is not None:
                progress(done, len(missing))
    cache.save()
    return torch.stack([found[index] for index in range(len(sequences))])
