"""The default model as a trainable plain copy, made once per session under the test data folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings


@pytest.fixture(scope="session")
def default_model_dir() -> Path:
    """SmolLM2-135M-Instruct dequantized to a plain fp32 folder (TRL refuses the GGUF's quantized model),
    cached where the meta RM's tasks cache it, so it is made once per data folder, not once per run."""
    from workers.backends.default_model import DEFAULT_MODEL
    from workers.metarm.model import trainable_backbone

    return Path(trainable_backbone(DEFAULT_MODEL, cache_dir=Path(settings.GRM_METARM_DIR) / "cache"))
