"""A real local HTTP server speaking the OpenAI API, with fault injection (standard library only).

Used by the backend tests, the resume test and ``bench/throughput.py``. Answers are a pure
function of the request (:func:`reply_text`), so runs can be compared. Faults are chosen per
request, deterministically from (seed, prompt, attempt number):

- ``"429"`` / ``"503"`` (optionally ``"429:1"``: with ``Retry-After: 1``), any ``"NNN"`` status
  (``"500"``, ``"400"``, ``"404"`` …) with an OpenAI-style error body;
- ``"slow"``: answer only after ``slow_s`` seconds (beyond the client's timeout);
- ``"malformed"``: ``200`` with the body ``{"choices": [``;
- ``"nochoices"``: ``200`` with a JSON body without choices;
- ``"echo"``: ``200`` with an answer that quotes the request's ``Authorization`` header;
- ``"drop"``: close the connection without answering.

With ``echo_auth``, every error message also quotes the request's ``Authorization`` header, as
careless proxies do (tests of secret redaction).

In a test::

    with OpenAIServer(fault_rate=0.2, seed=1) as server:
        backend = OpenAIBackend("test", base_url=server.url)
        ...
        server.ok_counts()  # prompt -> successful answers

As a process (prints the port on stdout when ready; runs until SIGTERM/SIGINT)::

    python tests/openai_server.py --port 0 --log requests.jsonl --delay 0.02
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FAULT_KINDS: tuple[str, ...] = ("429", "500", "slow", "malformed", "drop")
HOST = "127.0.0.1"


def reply_text(prompt: str) -> str:
    """The server's answer to a prompt when no answer table says otherwise."""
    return "echo: " + prompt[::-1]


@dataclass(frozen=True)
class ServerConfig:
    """How the server answers.

    ``fault_rate`` of requests (deterministic by hash of seed, prompt and attempt) get a fault
    drawn from ``fault_kinds``, for a prompt's first ``max_faults_per_prompt`` attempts (all,
    when None). ``script`` maps a prompt to the outcomes of its first attempts (``"ok"`` or a
    fault). Prompts in ``always_fail`` always get HTTP 500; in ``reject``, HTTP 400. ``delay``
    is added to every request. With ``api_key`` set, requests must carry ``Bearer <api_key>``.
    With ``echo_auth``, error messages quote the request's ``Authorization`` header.
    """

    answers: Mapping[str, str] = field(default_factory=dict)
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    seed: int = 0
    max_faults_per_prompt: int | None = None
    script: Mapping[str, Sequence[str]] = field(default_factory=dict)
    always_fail: frozenset[str] = frozenset()
    reject: frozenset[str] = frozenset()
    delay: float = 0.0
    slow_s: float = 2.0
    retry_after: str = "0"
    api_key: str | None = None
    echo_auth: bool = False


class ComputedAnswers(Mapping[str, str]):
    """Answers computed from each prompt: subclass and define ``get(prompt, default)``.

    The server looks answers up with ``answers.get(prompt, ...)``; the mapping lists no keys.
    """

    def get(self, prompt: str, default: str | None = None) -> str:  # type: ignore[override]
        raise NotImplementedError

    def __getitem__(self, prompt: str) -> str:
        return self.get(prompt)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _unit(*parts: object) -> tuple[float, int]:
    digest = hashlib.sha256("\0".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64, int.from_bytes(digest[8:16], "big")


class OpenAIServer:
    """An OpenAI-compatible server on 127.0.0.1 in a background thread.

    ``port=0`` picks a free port. ``log_path`` also writes the request log as JSONL (one line
    per request, written when it is answered). Use as a context manager, or ``start``/``stop``.
    """

    def __init__(
        self,
        config: ServerConfig | None = None,
        *,
        port: int = 0,
        log_path: str | Path | None = None,
        **config_fields: Any,
    ) -> None:
        if config is not None and config_fields:
            raise TypeError("give a ServerConfig or its fields, not both")
        if "always_fail" in config_fields:
            config_fields["always_fail"] = frozenset(config_fields["always_fail"])
        if "reject" in config_fields:
            config_fields["reject"] = frozenset(config_fields["reject"])
        self.config = config or ServerConfig(**config_fields)
        self._lock = threading.Lock()
        self._log: list[dict[str, Any]] = []
        self._attempts: Counter[str] = Counter()
        self._in_flight = 0
        self._stopping = threading.Event()
        self._log_file = open(log_path, "a", encoding="utf-8") if log_path else None  # noqa: SIM115
        self._httpd = _HTTPServer((HOST, port), _Handler)
        self._httpd.app = self
        self._thread: threading.Thread | None = None

    # lifecycle -----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The API root to give a client, e.g. ``http://127.0.0.1:PORT/v1``."""
        return f"http://{HOST}:{self.port}/v1"

    def start(self) -> OpenAIServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()
        with self._lock:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # the request log -------------------------------------------------------------------------

    @property
    def log(self) -> list[dict[str, Any]]:
        """A copy of the request log: one dict per request (prompt, attempt, outcome, status)."""
        with self._lock:
            return list(self._log)

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until no request is being handled (slow answers included), at most ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while self.in_flight and time.monotonic() < deadline:
            time.sleep(0.005)

    def ok_counts(self) -> Counter[str]:
        """Prompt -> how many times it was answered successfully."""
        return Counter(r["prompt"] for r in self.log if r["outcome"] == "ok")

    def outcomes(self) -> Counter[str]:
        return Counter(r["outcome"] for r in self.log)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()
            self._attempts.clear()

    def _record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            entry["seq"] = len(self._log)
            self._log.append(entry)
            if self._log_file is not None:
                self._log_file.write(json.dumps(entry, ensure_ascii=False) + "\n")
                self._log_file.flush()

    # deciding --------------------------------------------------------------------------------

    def _next_attempt(self, prompt: str) -> int:
        with self._lock:
            attempt = self._attempts[prompt]
            self._attempts[prompt] += 1
            return attempt

    def choose(self, prompt: str, attempt: int) -> str:
        """The outcome of a prompt's attempt number ``attempt`` (from 0): ``"ok"`` or a fault."""
        c = self.config
        scripted = c.script.get(prompt)
        if scripted is not None and attempt < len(scripted):
            return scripted[attempt]
        if prompt in c.always_fail:
            return "500"
        if prompt in c.reject:
            return "400"
        if c.fault_rate > 0 and (c.max_faults_per_prompt is None or attempt < c.max_faults_per_prompt):
            u, pick = _unit(c.seed, prompt, attempt)
            if u < c.fault_rate:
                return c.fault_kinds[pick % len(c.fault_kinds)]
        return "ok"

    def answer(self, prompt: str, max_tokens: int) -> tuple[str, int, str]:
        """(text, completion tokens, finish reason): words beyond ``max_tokens`` are cut."""
        words = self.config.answers.get(prompt, reply_text(prompt)).split(" ")
        if len(words) > max_tokens:
            return " ".join(words[:max_tokens]), max_tokens, "length"
        return " ".join(words), len(words), "stop"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256
    app: OpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client going away is no news
            super().handle_error(request, client_address)


def _prompt_of(endpoint: str, body: dict[str, Any]) -> str | None:
    if endpoint == "completion":
        prompt = body.get("prompt")
        return prompt if isinstance(prompt, str) else None
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return None
    users = [m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    return users[-1] if users and isinstance(users[-1], str) else None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr
        pass

    # responses -------------------------------------------------------------------------------

    def _send(self, status: int, body: bytes | dict[str, Any], headers: Mapping[str, str] = {}) -> bool:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        head = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}"]
        head += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        try:
            self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data)
            return True
        except OSError:
            self.close_connection = True
            return False

    def _error(self, status: int, message: str, headers: Mapping[str, str] = {}) -> bool:
        if self.server.app.config.echo_auth:
            message += f" (Authorization: {self.headers.get('Authorization')})"
        body = {"error": {"message": message, "type": "test_error", "code": status}}
        return self._send(status, body, headers)

    # routes ----------------------------------------------------------------------------------

    def do_GET(self) -> None:
        app = self.server.app
        if self.path.rstrip("/") == "/v1/models":
            self._send(200, {"object": "list", "data": [{"id": "test", "object": "model"}]})
        elif self.path == "/_state":
            self._send(200, {"in_flight": app.in_flight, "requests": len(app.log)})
        else:
            self._error(404, f"no route {self.path}")

    def do_POST(self) -> None:
        app = self.server.app
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        endpoint = {"/v1/chat/completions": "chat", "/v1/completions": "completion"}.get(self.path)
        if endpoint is None:
            self._error(404, f"no route {self.path}")
            return
        with app._lock:
            app._in_flight += 1
        try:
            self._complete(app, endpoint, raw)
        finally:
            with app._lock:
                app._in_flight -= 1

    def _complete(self, app: OpenAIServer, endpoint: str, raw: bytes) -> None:
        config = app.config
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        prompt = _prompt_of(endpoint, body) if isinstance(body, dict) else None
        if prompt is None or not isinstance(body, dict) or not body.get("model"):
            self._error(400, "the request needs a model and a prompt or messages")
            app._record({"endpoint": endpoint, "prompt": prompt, "attempt": None, "outcome": "invalid"})
            return
        entry: dict[str, Any] = {"endpoint": endpoint, "prompt": prompt, "t": time.time()}
        if config.api_key is not None and self.headers.get("Authorization") != f"Bearer {config.api_key}":
            self._error(401, "invalid or missing API key")
            app._record({**entry, "attempt": None, "outcome": "unauthorized", "status": 401})
            return
        attempt = app._next_attempt(prompt)
        outcome = app.choose(prompt, attempt)
        entry.update(attempt=attempt, outcome=outcome, request=body)
        if config.delay:
            time.sleep(config.delay)
        status = 200
        if outcome == "ok":
            max_tokens = body.get("max_tokens")
            text, tokens, finish = app.answer(prompt, max_tokens if isinstance(max_tokens, int) else 10**9)
            choice: dict[str, Any] = {"index": 0, "finish_reason": finish}
            if endpoint == "chat":
                choice["message"] = {"role": "assistant", "content": text}
            else:
                choice["text"] = text
            usage = {
                "prompt_tokens": len(prompt.split()),
                "completion_tokens": tokens,
                "total_tokens": len(prompt.split()) + tokens,
            }
            kind = "chat.completion" if endpoint == "chat" else "text_completion"
            response = {"object": kind, "model": body["model"], "choices": [choice], "usage": usage}
            entry["delivered"] = self._send(200, response)
        elif outcome == "slow":
            app._stopping.wait(config.slow_s)
            entry["delivered"] = self._send(200, {"choices": [{"message": {"content": "too late"}}]})
        elif outcome == "malformed":
            entry["delivered"] = self._send(200, b'{"choices": [')
        elif outcome == "echo":
            text = f"you sent Authorization: {self.headers.get('Authorization')}"
            entry["delivered"] = self._send(200, {"choices": [{"message": {"content": text}, "text": text}]})
        elif outcome == "nochoices":
            entry["delivered"] = self._send(200, {"object": "chat.completion", "model": body["model"]})
        elif outcome == "drop":
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            status = 0
        else:  # "NNN" or "NNN:RETRY_AFTER"
            code, _, retry_after = outcome.partition(":")
            status = int(code)
            headers = {}
            if status in (429, 503):
                headers["Retry-After"] = retry_after or config.retry_after
            entry["delivered"] = self._error(status, f"injected fault {outcome} for this request", headers)
        entry["status"] = status
        app._record(entry)


# running in another process ----------------------------------------------------------------


@contextlib.contextmanager
def server_process(*args: str, timeout: float = 20.0) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Run this module as a server process with CLI ``args``; yields (process, API root URL)."""
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the port, once the server listens
        if not line.strip().isdigit():
            raise RuntimeError(f"the server process did not start (said {line!r})")
        yield proc, f"http://{HOST}:{int(line)}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="OpenAI-compatible test server with fault injection")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", help="append the request log to this JSONL file")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds added to every request")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--fault-kinds", default=",".join(FAULT_KINDS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-faults-per-prompt", type=int)
    parser.add_argument("--always-fail", action="append", default=[], metavar="PROMPT")
    parser.add_argument("--slow-s", type=float, default=2.0)
    parser.add_argument("--api-key-env", help="require the key held by this environment variable")
    parser.add_argument("--echo-auth", action="store_true", help="quote the Authorization header in errors")
    ns = parser.parse_args(argv)
    config = ServerConfig(
        fault_rate=ns.fault_rate,
        fault_kinds=tuple(k for k in ns.fault_kinds.split(",") if k),
        seed=ns.seed,
        max_faults_per_prompt=ns.max_faults_per_prompt,
        always_fail=frozenset(ns.always_fail),
        delay=ns.delay,
        slow_s=ns.slow_s,
        api_key=os.environ[ns.api_key_env] if ns.api_key_env else None,
        echo_auth=ns.echo_auth,
    )
    server = OpenAIServer(config, port=ns.port, log_path=ns.log)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with server:
        print(server.port, flush=True)
        while not stop.wait(0.2):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
