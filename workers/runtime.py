"""What a worker process keeps between tasks: the loaded model (one per process: a GRM backend or a
meta RM scorer) and the heartbeat that marks a run alive while one of its batches generates."""

from __future__ import annotations

import gc
import json
import logging
import sys
import threading
from collections.abc import Callable
from typing import Any

from workers.backends.base import Backend, BackendError, PermanentBackendError, load_backend

logger = logging.getLogger(__name__)
_BACKENDS: dict[str, Backend] = {}
_SCORERS: dict[str, Any] = {}


def backend_for(backend: str, model: str, *, base_url: str = "", options: dict[str, object] | None = None) -> Backend:
    """The backend for a model configuration, loaded on first use and kept while runs use it.

    One model per worker process: loading another configuration frees the previous one first (two
    vLLM engines would not fit on one GPU).
    """
    options = dict(options or {})
    key = json.dumps([backend, model, base_url, options], sort_keys=True)
    if key not in _BACKENDS:
        release_backends()
        logger.info("loading %s backend for %s", backend, model)
        try:
            _BACKENDS[key] = load_backend(backend, model, base_url=base_url, options=options)
        except BackendError:
            raise
        except Exception as exc:  # a model that cannot load will not load on a retry either
            raise PermanentBackendError(f"cannot load {backend} model {model!r}: {exc}") from exc
    return _BACKENDS[key]


def metarm_scorer_for(location: str) -> Any:
    """The meta RM scorer for a checkpoint (a folder or a hub name), loaded on first use; like a GRM
    backend it is the one model this process holds, so loading it frees the GRM and the reverse."""
    if location not in _SCORERS:
        release_backends()
        logger.info("loading meta RM %s", location)
        from workers.metarm import MetaScorer

        try:
            _SCORERS[location] = MetaScorer(location)
        except Exception as exc:  # a checkpoint that cannot load will not load on a retry either
            raise PermanentBackendError(f"cannot load meta RM {location!r}: {exc}") from exc
    return _SCORERS[location]


def release_backends() -> None:
    """Free the loaded model, GRM or meta RM (and, on a GPU, its memory)."""
    if not _BACKENDS and not _SCORERS:
        return
    _BACKENDS.clear()
    _SCORERS.clear()
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


class Heartbeat:
    """While a batch generates, call `beat` every `interval` seconds from a thread of its own; `done`
    runs in that thread when it stops (to close the thread's own database connection)."""

    def __init__(self, beat: Callable[[], None], *, interval: float, done: Callable[[], None], name: str) -> None:
        self.beat = beat
        self.done = done
        self.interval = interval
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        try:
            while not self.stopped.wait(self.interval):
                self.beat()
        finally:
            self.done()

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopped.set()
        self.thread.join()
