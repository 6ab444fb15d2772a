"""A real HTTP server that speaks OpenAI's /v1/chat/completions (plain JSON and SSE streaming).

It answers from a script of steps (a reply, an HTTP error, a hang, a raw body) and records every request
it receives, so tests can assert both on the Answer and on what the project actually sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = str | Callable[[dict[str, Any]], str]


@dataclass
class Step:
    kind: str  # reply, error, hang, raw
    text: Reply = ""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    usage: bool = True
    chunk_chars: int = 12
    gate: threading.Event | None = None  # streaming: pause after the first content chunk until set
    seconds: float = 30.0


def reply(text: Reply, *, usage: bool = True, chunk_chars: int = 12, gate: threading.Event | None = None) -> Step:
    """A chat completion whose content is ``text`` (or ``text(request_body)``)."""
    return Step("reply", text=text, usage=usage, chunk_chars=chunk_chars, gate=gate)


def error(
    status: int,
    message: str = "scripted error",
    headers: dict[str, str] | None = None,
    code: str | None = None,
) -> Step:
    body = json.dumps({"error": {"message": message, "type": "scripted", "code": code}}).encode()
    return Step("error", status=status, headers=headers or {}, body=body)


def hang(seconds: float = 30.0) -> Step:
    """Accept the request and say nothing (until the server stops)."""
    return Step("hang", seconds=seconds)


def raw(body: str | bytes, status: int = 200, content_type: str = "application/json") -> Step:
    data = body.encode() if isinstance(body, str) else body
    return Step("raw", status=status, headers={"Content-Type": content_type}, body=data)


def usage_for(body: dict[str, Any], text: str) -> dict[str, int]:
    prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    completion = len(text.split())
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


class ScriptedOpenAI:
    """``server.push(step, ...)`` queues answers; ``server.always(step)`` answers every later request."""

    def __init__(self) -> None:
        self.script: deque[Step] = deque()
        self.repeat: Step | None = None
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> ScriptedOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def push(self, *steps: Step) -> None:
        self.script.extend(steps)

    def always(self, step: Step) -> None:
        self.repeat = step

    def next_step(self) -> Step:
        with self._lock:
            if self.script:
                return self.script.popleft()
        return self.repeat or error(500, "the test script is empty")

    @property
    def chats(self) -> list[dict[str, Any]]:
        """The JSON bodies of the chat-completion requests received, in order."""
        return [r["body"] for r in self.requests if r["path"].endswith("/chat/completions")]

    # ------------------------------------------------------------ HTTP

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
                pass

            def do_GET(self) -> None:  # noqa: N802
                if self.path.rstrip("/").endswith("/models"):
                    self._json(200, {"object": "list", "data": [{"id": "scripted-model", "object": "model"}]})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw_body = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw_body or b"{}")
                except json.JSONDecodeError:
                    body = {"_unparsed": raw_body.decode(errors="replace")}
                with server._lock:
                    server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._json(404, {"error": {"message": f"unknown path {self.path}"}})
                    return
                step = server.next_step()
                try:
                    self._answer(step, body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout): nothing more to say

            def _answer(self, step: Step, body: dict[str, Any]) -> None:
                if step.kind == "hang":
                    server._stopping.wait(step.seconds)
                    return
                if step.kind in ("error", "raw"):
                    self.send_response(step.status)
                    headers = {"Content-Type": "application/json", **step.headers}
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(step.body)))
                    self.end_headers()
                    self.wfile.write(step.body)
                    return
                text = step.text(body) if callable(step.text) else step.text
                model = body.get("model", "scripted-model")
                if body.get("stream"):
                    self._stream(step, body, text, model)
                    return
                payload: dict[str, Any] = {
                    "id": "chatcmpl-scripted",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                }
                if step.usage:
                    payload["usage"] = usage_for(body, text)
                self._json(200, payload)

            def _stream(self, step: Step, body: dict[str, Any], text: str, model: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()

                def event(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> None:
                    chunk = {
                        "id": "chatcmpl-scripted",
                        "object": "chat.completion.chunk",
                        "created": int(time.time()),
                        "model": model,
                        "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}],
                        **extra,
                    }
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()

                event({"role": "assistant", "content": ""})
                pieces = [text[i : i + step.chunk_chars] for i in range(0, len(text), step.chunk_chars)]
                for index, piece in enumerate(pieces):
                    event({"content": piece})
                    if index == 0 and step.gate is not None:
                        step.gate.wait(10)
                event({}, "stop")
                if step.usage and (body.get("stream_options") or {}).get("include_usage"):
                    event(None, usage=usage_for(body, text))
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
