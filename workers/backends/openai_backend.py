"""Any OpenAI-compatible server (`vllm serve`, SGLang, a hosted API): POST /v1/chat/completions with n.

Standard library HTTP only. Rate limits (429), server errors (5xx), timeouts and dropped connections
are retried with exponential backoff (honouring Retry-After); other 4xx answers are permanent errors
carrying the server's message.
"""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from workers.backends.base import Generation, Message, PermanentBackendError, TransientBackendError

MAX_RETRY_AFTER = 60.0


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
        base_url = base_url or os.environ.get("GRM_OPENAI_BASE_URL", "")
        if not base_url.startswith(("http://", "https://")):
            raise PermanentBackendError("the openai backend needs a base URL such as http://127.0.0.1:8000/v1")
        self.model = model
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.api_key = api_key if api_key is not None else os.environ.get("GRM_OPENAI_API_KEY", "")
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.concurrency = max(1, concurrency)

    def generate(
        self,
        prompts: Sequence[Sequence[Message]],
        *,
        n: int | Sequence[int],
        temperature: float,
        max_tokens: int,
        seed: int,
        min_tokens: int = 0,
    ) -> list[list[Generation]]:
        counts = [n] * len(prompts) if isinstance(n, int) else list(n)

        def one(prompt: Sequence[Message], count: int) -> list[Generation]:
            body: dict[str, Any] = {
                "model": self.model,
                "messages": list(prompt),
                "n": count,
                "temperature": temperature,
                "max_tokens": max_tokens,
                "seed": seed,
            }
            if min_tokens:
                body["min_tokens"] = min_tokens  # a vLLM server extension, sent only when asked for
            return self._parse(self._post(body), count)

        with ThreadPoolExecutor(max_workers=min(self.concurrency, max(1, len(prompts)))) as pool:
            return list(pool.map(one, prompts, counts))

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        delay = self.backoff
        for attempt in range(self.max_retries + 1):
            request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")  # noqa: S310
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                    return dict(json.loads(response.read()))
            except urllib.error.HTTPError as exc:
                message = _error_message(exc)
                if exc.code != 429 and exc.code < 500:
                    raise PermanentBackendError(f"{self.url} answered {exc.code}: {message}") from None
                error: Exception = TransientBackendError(f"{self.url} answered {exc.code}: {message}")
                retry_after = exc.headers.get("Retry-After") if exc.headers else None
                # Seconds only (an HTTP date falls back to the backoff), and never parked for long.
                wait = min(float(retry_after), MAX_RETRY_AFTER) if retry_after and retry_after.isdigit() else delay
            except (
                urllib.error.URLError,
                http.client.HTTPException,
                TimeoutError,
                ConnectionError,
                json.JSONDecodeError,
            ) as exc:
                error = TransientBackendError(f"{self.url}: {exc}")
                wait = delay
            if attempt == self.max_retries:
                raise error
            time.sleep(wait)
            delay *= 2
        raise AssertionError("unreachable")

    @staticmethod
    def _parse(payload: dict[str, Any], n: int) -> list[Generation]:
        try:
            choices = sorted(payload["choices"], key=lambda choice: choice.get("index", 0))
            usage = payload.get("usage") or {}
            prompt_tokens = int(usage.get("prompt_tokens", 0))
            generations = [
                Generation(
                    text=choice["message"].get("content") or "",
                    prompt_tokens=prompt_tokens,
                    # Usage totals all n completions; split it evenly when the server gives no per-choice count.
                    completion_tokens=int(usage.get("completion_tokens", 0)) // max(1, len(choices)),
                    finish_reason="length" if choice.get("finish_reason") == "length" else "stop",
                )
                for choice in choices
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise TransientBackendError(f"malformed chat-completions answer: {exc}") from exc
        if len(generations) != n:
            raise PermanentBackendError(f"asked for n={n} completions, the server returned {len(generations)}")
        return generations

    def force_scores(self, prompt: Sequence[Message], text: str, *, n_responses: int) -> str | None:
        return None  # the chat API cannot continue an assistant turn under a constraint portably


def _error_message(exc: urllib.error.HTTPError) -> str:
    try:
        payload = json.loads(exc.read() or b"{}")
        return str(payload.get("error", {}).get("message") or payload)
    except (ValueError, AttributeError):
        return exc.reason if isinstance(exc.reason, str) else str(exc)
