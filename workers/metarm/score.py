"""Scoring judgments with a loaded meta RM: one raw logit per judgment, in input order.

A worker loads one `MetaScorer` per process and reuses it. Beyond the model's forward pass the only
work is rendering and tokenizing each input and padding length-sorted batches; `encode` and
`forward_batch` expose those steps so a benchmark can time the bare forward on the same inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from workers.metarm.checkpoint import read_manifest
from workers.metarm.data import Message, encode
from workers.metarm.model import DEFAULT_MAX_LENGTH, batched_logits, load_metarm, model_device, pad_batch


class MetaScorer:
    """A meta RM ready to score: a checkpoint trained here (its metarm.json gives the input length it was
    trained at) or any one-output sequence-classification checkpoint, by path or hub name."""

    def __init__(
        self,
        model: str | Path,
        *,
        device: str | None = None,
        dtype: str | None = None,
        max_length: int | None = None,
        batch_size: int = 16,
    ) -> None:
        self.name = str(model)
        self.model, self.tokenizer = load_metarm(model, device=device, dtype=dtype)
        self.manifest = read_manifest(model) if Path(model).is_dir() else None
        self.max_length = max_length or int((self.manifest or {}).get("max_length") or DEFAULT_MAX_LENGTH)
        self.batch_size = batch_size
        self.pad_id: int = self.tokenizer.pad_token_id
        self.device = model_device(self.model)

    def encode(self, messages_batch: Sequence[Sequence[Message]]) -> list[list[int]]:
        """Token ids as the model reads them (chat template, cut on the left of the user turn to max_length)."""
        return [encode(self.tokenizer, messages, max_length=self.max_length) for messages in messages_batch]

    def score(self, messages_batch: Sequence[Sequence[Message]], *, batch_size: int | None = None) -> list[float]:
        """The meta RM's logit for each judgment's input messages (`workers.grm.prompts.meta_rm_input`)."""
        return self.score_encoded(self.encode(messages_batch), batch_size=batch_size)

    def score_encoded(self, sequences: Sequence[Sequence[int]], *, batch_size: int | None = None) -> list[float]:
        if not sequences:
            return []
        return batched_logits(self.model, sequences, pad_id=self.pad_id, batch_size=batch_size or self.batch_size)

    def forward_batch(self, sequences: Sequence[Sequence[int]]) -> Any:
        """One bare batched forward (right-padded, no sorting, no bookkeeping): a (batch,) logit tensor."""
        input_ids, attention_mask = pad_batch(sequences, pad_id=self.pad_id, device=self.device)
        with torch.inference_mode():
            return self.model(input_ids=input_ids, attention_mask=attention_mask).logits[:, 0]
