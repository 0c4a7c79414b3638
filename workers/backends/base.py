"""The backend protocol, its result type and errors, and the factory that builds a backend."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Message = dict[str, str]


@dataclass(frozen=True)
class Generation:
    """One sampled completion."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (end of sequence) or "length" (hit max_tokens)


class BackendError(Exception):
    """A generation failed."""


class TransientBackendError(BackendError):
    """Worth retrying: rate limits, server errors, timeouts, a dropped connection."""


class PermanentBackendError(BackendError):
    """Retrying cannot help: a bad request, a missing model, a missing library."""


class Backend(Protocol):
    """What the engine needs of a backend. Two methods are optional (the engine asks with getattr):
    `context_window() -> int | None`, the most tokens a sequence may hold, and
    `prompt_tokens(prompt) -> int | None`, a prompt's length with its chat template; with both, prompts
    that cannot fit with max tokens are not judged (engine.fit_window)."""

    name: str

    def generate(
        self,
        prompts: Sequence[Sequence[Message]],
        *,
        n: int | Sequence[int],
        temperature: float,
        max_tokens: int,
        seed: int | Sequence[int],
        min_tokens: int = 0,
    ) -> list[list[Generation]]:
        """n completions for each chat prompt (or n[i] for prompt i), in the order of `prompts`.

        `seed` is one int for every prompt or one per prompt: sample j of prompt i is drawn with
        seed[i] + j, which is what vLLM V1 gives the j-th child of an n > 1 request. A backend computes
        each prompt's prefill once and shares it across that prompt's samples.
        """
        ...

    def force_scores(
        self, prompt: Sequence[Message], text: str, *, n_responses: int, low: int = 1, high: int = 10
    ) -> str | None:
        """Continue `text` under a constraint admitting only `\\boxed{s1, ..., sn}` with every score an
        integer from `low` to `high` (the template's range); None if unsupported."""
        ...


def score_regex(n_responses: int, *, low: int = 1, high: int = 10) -> str:
    """What a forced continuation after `\\boxed{` may produce: n integers from low to high, each but the
    last followed by a comma and at most one space, then the closing brace (for guided decoding)."""
    number = "(?:" + "|".join(re.escape(str(value)) for value in range(low, high + 1)) + ")"
    return number + "(?:, ?" + number + "){" + str(n_responses - 1) + "}\\}"


def per_prompt(value: int | Sequence[int], prompts: int, *, name: str) -> list[int]:
    """One value for each of `prompts` prompts, from a single int or a sequence of that length."""
    if isinstance(value, int):
        return [value] * prompts
    values = list(value)
    if len(values) != prompts:
        raise ValueError(f"{name} has {len(values)} values for {prompts} prompts")
    return values


BACKENDS = ("transformers", "vllm", "openai")


def load_backend(backend: str, model: str, *, base_url: str = "", options: Mapping[str, Any] | None = None) -> Backend:
    """Build a backend by name. Imports its libraries now, so call this only in a worker."""
    options = dict(options or {})
    # `context_window` (any backend): a shorter window than the model's, e.g. to leave memory to the KV
    # cache or to tell a remote server's. Prompts that cannot fit it with max tokens are not judged.
    window = options.pop("context_window", None)
    built: Any
    if backend == "transformers":
        from workers.backends.transformers_backend import TransformersBackend

        built = TransformersBackend(model, **options)
    elif backend == "vllm":
        from workers.backends.vllm_backend import VllmBackend

        built = VllmBackend(model, **options)
    elif backend == "openai":
        from workers.backends.openai_backend import OpenAIBackend

        built = OpenAIBackend(model, base_url=base_url, **options)
    else:
        raise PermanentBackendError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    if window is not None:
        setattr(built, "window_limit", int(window))  # noqa: B010 - not part of the Backend protocol
    return built


def limited_window(backend: object, native: int | None) -> int | None:
    """The smaller of a backend's own window and the `context_window` its configuration sets."""
    limit = getattr(backend, "window_limit", None)
    if native is None:
        return limit
    return native if limit is None else min(native, limit)
