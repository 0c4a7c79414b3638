"""Generation backends behind one small protocol; they know nothing about runs or rows.

Heavy libraries (torch, transformers, vllm) are imported inside the backends, never at import time
of this package, so the web process can import the names here without loading a model.
"""

from workers.backends.base import (
    Backend,
    BackendError,
    Generation,
    Message,
    PermanentBackendError,
    TransientBackendError,
    load_backend,
)

__all__ = [
    "Backend",
    "BackendError",
    "Generation",
    "Message",
    "PermanentBackendError",
    "TransientBackendError",
    "load_backend",
]
