"""A local HTTP server that speaks the OpenAI chat-completions protocol, for the openai backend's tests.

It stands in for `vllm serve` or a hosted API, which cannot run here. Each request is answered by the
next scripted reply (status code, headers, JSON body) or, when the script is empty, by a judgment with
scores; every request body is recorded.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Script:
    replies: list[tuple[int, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    judgment: str = "Specific Criteria: correctness.\nAnalysis: the first is right.\nScores: \\boxed{9, 2}"
    delay: float = 0.0  # seconds before each answer, as a model generating would take


def completion(body: dict[str, Any], text: str) -> dict[str, Any]:
    n = int(body.get("n", 1))
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": body.get("model"),
        "choices": [
            {"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"} for i in range(n)
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 10 * n, "total_tokens": 100 + 10 * n},
    }


@contextmanager
def openai_server(script: Script) -> Iterator[str]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path != "/v1/chat/completions":
                self._send(404, {}, {"error": {"message": f"no route {self.path}"}})
                return
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if script.delay:
                time.sleep(script.delay)
            with lock:
                script.requests.append(body)
                reply = script.replies.pop(0) if script.replies else None
            if reply is None:
                self._send(200, {}, completion(body, script.judgment))
            else:
                status, headers, payload = reply
                self._send(status, headers, payload if status != 200 else completion(body, payload["text"]))

        def _send(self, status: int, headers: dict[str, str], payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
