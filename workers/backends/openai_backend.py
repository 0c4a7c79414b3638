"""Any OpenAI-compatible server (`vllm serve`, SGLang, a hosted API) through the official `openai` SDK:
one chat-completions request with n samples per prompt, the prompts' requests sent concurrently.

The SDK retries rate limits (429), server errors (5xx), timeouts and dropped connections itself, with
its own exponential backoff (about 0.5 s, doubling, at most 8 s; Retry-After honoured up to two
minutes). What still fails after its retries is a TransientBackendError; other 4xx answers are
PermanentBackendErrors carrying the server's message.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
from openai.types.chat import ChatCompletion

from workers.backends.base import (
    Generation,
    Message,
    PermanentBackendError,
    TransientBackendError,
    limited_window,
    per_prompt,
)

# The SDK refuses to start without an API key; a server started without one (`vllm serve` with no
# --api-key) ignores whatever is sent.
NO_API_KEY = "not-needed"


class OpenAIBackend:
    name = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str = "",
        api_key: str | None = None,
        timeout: float = 300.0,
        max_retries: int = 4,
        backoff: float = 1.0,
        concurrency: int = 8,
    ) -> None:
        """`backoff` (the first retry delay, in seconds) is accepted but not applied: the SDK owns the
        delay between its retries and offers no public setting for it."""
        base_url = base_url or os.environ.get("GRM_OPENAI_BASE_URL", "")
        if not base_url.startswith(("http://", "https://")):
            raise PermanentBackendError("the openai backend needs a base URL such as http://127.0.0.1:8000/v1")
        self.model = model
        self.url = base_url.rstrip("/") + "/chat/completions"  # for error messages
        api_key = api_key if api_key is not None else os.environ.get("GRM_OPENAI_API_KEY", "")
        self.backoff = backoff
        self.concurrency = max(1, concurrency)
        self.client = openai.OpenAI(
            base_url=base_url.rstrip("/"), api_key=api_key or NO_API_KEY, timeout=timeout, max_retries=max_retries
        )

    def context_window(self) -> int | None:
        return limited_window(self, None)  # the server's own is not in the OpenAI API

    def prompt_tokens(self, prompt: Sequence[Message]) -> int | None:
        return None  # counted by the server; it refuses what does not fit (a failed batch, with its message)

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
        counts = per_prompt(n, len(prompts), name="n")
        # Sample j of a request is drawn with seed + j by vLLM; other servers document no rule for n > 1.
        seeds = per_prompt(seed, len(prompts), name="seed")

        def one(prompt: Sequence[Message], count: int, prompt_seed: int) -> list[Generation]:
            # min_tokens is a vLLM server extension, sent only when asked for.
            extra_body = {"min_tokens": min_tokens} if min_tokens else None
            completion = self._create(
                messages=list(prompt),
                n=count,
                temperature=temperature,
                max_tokens=max_tokens,
                seed=prompt_seed,
                extra_body=extra_body,
            )
            return self._generations(completion, count)

        with ThreadPoolExecutor(max_workers=min(self.concurrency, max(1, len(prompts)))) as pool:
            return list(pool.map(one, prompts, counts, seeds))

    def _create(self, **request: Any) -> ChatCompletion:
        """One chat-completions request (the SDK retries it); SDK errors mapped to backend errors."""
        try:
            return self.client.chat.completions.create(model=self.model, **request)
        except openai.APIStatusError as exc:
            message = f"{self.url} answered {exc.status_code}: {_server_message(exc)}"
            if exc.status_code == 429 or exc.status_code >= 500:
                raise TransientBackendError(message) from None
            raise PermanentBackendError(message) from None
        except openai.APIConnectionError as exc:  # APITimeoutError included
            cause = f" ({exc.__cause__})" if exc.__cause__ else ""
            raise TransientBackendError(f"{self.url}: {exc}{cause}") from exc
        except (openai.APIResponseValidationError, json.JSONDecodeError) as exc:  # an answer that is not JSON
            raise TransientBackendError(f"{self.url}: malformed chat-completions answer: {exc}") from exc

    @staticmethod
    def _generations(completion: ChatCompletion, n: int) -> list[Generation]:
        try:
            choices = sorted(completion.choices, key=lambda choice: choice.index or 0)
            usage = completion.usage
            prompt_tokens = int(usage.prompt_tokens or 0) if usage else 0
            # Usage totals all n completions; split it evenly when the server gives no per-choice count.
            completion_tokens = int(usage.completion_tokens or 0) // max(1, len(choices)) if usage else 0
            generations = [
                Generation(
                    text=choice.message.content or "",
                    prompt_tokens=prompt_tokens,
                    completion_tokens=completion_tokens,
                    finish_reason="length" if choice.finish_reason == "length" else "stop",
                )
                for choice in choices
            ]
        except (AttributeError, TypeError, ValueError) as exc:
            raise TransientBackendError(f"malformed chat-completions answer: {exc}") from exc
        if len(generations) != n:
            raise PermanentBackendError(f"asked for n={n} completions, the server returned {len(generations)}")
        return generations

    def force_scores(
        self, prompt: Sequence[Message], text: str, *, n_responses: int, low: int = 1, high: int = 10
    ) -> str | None:
        return None  # the chat API cannot continue an assistant turn under a constraint portably, in any range


def _server_message(exc: openai.APIStatusError) -> str:
    """The server's own error message (`{"error": {"message": ...}}` or vLLM's flat `{"message": ...}`)."""
    body = exc.body  # the SDK has already unwrapped {"error": ...}
    if isinstance(body, Mapping):
        return str(body.get("message") or body)
    return exc.response.reason_phrase or exc.message
