"""OpenAI-compatible HTTP backend: vLLM, Ollama, llama.cpp server, TGI, OpenAI, proxies.

A model spec ``openai:MODEL@URL`` selects it, e.g. ``openai:llama3.2:1b@http://127.0.0.1:11434/v1``
(the model name may contain ``:`` and ``/``; the URL starts at the last ``@`` followed by
``http://`` or ``https://``). Without a URL, ``$OPENAI_BASE_URL`` or ``http://127.0.0.1:8000/v1``
is used.

Every request is retried with exponential backoff and full jitter on 429, 408 and 5xx gateway
errors, timeouts, dropped connections and malformed bodies; ``Retry-After`` is honoured. Other
4xx answers, and requests that cannot be sent at all (a header httpx refuses, an unsupported
URL), are recorded as errors at once. A call never raises: a failure becomes
``Generation(error=...)``.

The API key is read from the environment variable named by ``api_key_env`` when each request is
sent, and checked first: a key with a line break, a space, a control or a non-ASCII character
cannot travel in an HTTP header, so building the backend fails with a ``UsageError`` that names
the variable, never the value. The key is never put in requests, cache keys or runs; the
backend's redactor (``deltaeval.redaction``) holds each key sent, the URL's password and secret
extra headers only to remove them from every error and answer it reports.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import os
import random
import re
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from deltaeval.backends.base import (
    AsyncBackend,
    Generation,
    GenerationParams,
    chat_messages,
    render_user_message,
)
from deltaeval.errors import UsageError
from deltaeval.types import Example

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
BASE_URL_ENV = "OPENAI_BASE_URL"
ENDPOINTS = {"chat": "/chat/completions", "completion": "/completions"}
#: answers worth asking again: the server was busy, overloaded or behind a failing gateway
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: statuses whose ``Retry-After`` header says how long to wait
RETRY_AFTER_STATUSES = frozenset({429, 503})
MAX_ERROR_CHARS = 300
_CANNOT_CONNECT = "cannot connect"

_URL_AT = re.compile(r"@(?=https?://)")
#: extra headers whose values are treated as secrets (matched in the lower-cased name)
_SECRET_HEADER_WORDS = ("auth", "key", "token", "secret", "password", "cookie")
#: errors raised before a request leaves this machine: asking again cannot help
_LOCAL_ERRORS: tuple[type[Exception], ...] = (
    httpx.LocalProtocolError,
    httpx.UnsupportedProtocol,
    httpx.InvalidURL,
    httpx.CookieConflict,
    UnicodeError,
)

Sleep = Callable[[float], Awaitable[None]]


def split_spec(rest: str) -> tuple[str, str | None]:
    """Split ``MODEL@URL`` into (model, url); the url is None when absent.

    The split is at the last ``@`` followed by ``http://`` or ``https://``, so model names may
    hold ``:``, ``/`` and ``@``.

    Examples
    --------
    >>> split_spec("llama3.2:1b@http://127.0.0.1:11434/v1")
    ('llama3.2:1b', 'http://127.0.0.1:11434/v1')
    >>> split_spec("org/model")
    ('org/model', None)
    """
    matches = list(_URL_AT.finditer(rest))
    if not matches:
        return rest, None
    at = matches[-1].start()
    return rest[:at], rest[at + 1 :]


def _redact_url(url: str) -> str:
    """The URL without a password in its user-info part (``user:***@host``)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def header_value_problem(value: str, *, spaces: bool = False) -> str | None:
    """What keeps ``value`` out of an HTTP header, or None; it never quotes the value.

    Header values travel as printable ASCII; ``spaces`` allows inner spaces (e.g. ``Bearer x``),
    never leading or trailing ones.

    Examples
    --------
    >>> header_value_problem("sk-abc\\n")
    'ends with a line break'
    >>> header_value_problem("sk-\\u00e9t\\u00e9")
    'has a non-ASCII character at character 4 of 6'
    >>> header_value_problem("sk-abc") is None
    True
    """
    for position, char in enumerate(value):
        inner = 0 < position < len(value) - 1
        if "\x21" <= char <= "\x7e" or (spaces and inner and char == " "):
            continue
        if char in "\r\n":
            what = "a line break"
        elif char.isspace():
            what = "whitespace"
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            what = "a control character"
        else:
            what = "a non-ASCII character"
        if position == len(value) - 1:
            return f"ends with {what}"
        if position == 0:
            return f"starts with {what}"
        return f"has {what} at character {position + 1} of {len(value)}"
    return None


def _check_api_key(env: str, key: str) -> str | None:
    """The message saying why the key in ``$env`` cannot be sent, or None when it can."""
    problem = header_value_problem(key)
    return None if problem is None else f"the API key in the environment variable {env} {problem}"


def _key_hint(env: str) -> str:
    return (
        f"set {env} to the key alone, printable ASCII without spaces or line breaks; a key read "
        f"from a file often ends with a newline: export {env}=\"$(tr -d '[:space:]' < KEYFILE)\""
    )


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), or None.

    Examples
    --------
    >>> parse_retry_after("2")
    2.0
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=datetime(2015, 10, 21, 7, 27, 30, tzinfo=UTC))
    30.0
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def _server_message(response: httpx.Response) -> str:
    """The error message a server put in its answer (OpenAI, vLLM, TGI shapes), or its body."""
    text = response.text
    try:
        body = json.loads(text)
    except ValueError:
        return " ".join(text.split())
    message: Any = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            message = error.get("message")
        elif isinstance(error, str):
            message = error
        message = message or body.get("message") or body.get("detail")
    if message is None:
        message = text
    return " ".join(str(message).split())


class _Failure(Exception):
    """One failed attempt: a short headline (e.g. ``HTTP 500``) and details."""

    def __init__(self, headline: str, detail: str = "", *, retry: bool = True, wait: float | None = None):
        super().__init__(headline)
        self.headline = headline
        self.detail = detail
        self.retry = retry
        self.wait = wait


class _ClientPool:
    """At most ``size`` single-connection HTTP clients, each lent to one request at a time.

    Why not one shared ``httpx.AsyncClient`` with ``max_connections=size``: httpcore's pool
    rescans every connection and every waiting request on each request event (quadratic); at
    32 connections that costs about 5 ms of CPU per request and caps a run near 150 requests/s
    on a small machine. Lending one client per in-flight request keeps the same bound on
    connections and the same keep-alive reuse, at about a third of the CPU.
    """

    def __init__(self, make: Callable[[], httpx.AsyncClient], size: int) -> None:
        self._make = make
        self._size = size
        self._clients: list[httpx.AsyncClient] = []
        self._idle: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()

    async def acquire(self) -> httpx.AsyncClient:
        if self._idle.empty() and len(self._clients) < self._size:
            client = self._make()
            self._clients.append(client)
            return client
        return await self._idle.get()

    def release(self, client: httpx.AsyncClient) -> None:
        self._idle.put_nowait(client)

    async def aclose(self) -> None:
        clients, self._clients = self._clients, []
        for client in clients:
            await client.aclose()


class OpenAIBackend(AsyncBackend):
    """A model behind an OpenAI-compatible HTTP API.

    Parameters
    ----------
    model:
        The model name the server knows (sent as ``"model"``).
    base_url:
        The API root, e.g. ``http://127.0.0.1:8000/v1`` (default: ``$OPENAI_BASE_URL``, else
        that address).
    endpoint:
        ``"chat"`` (``POST {base}/chat/completions`` with messages) or ``"completion"``
        (``POST {base}/completions`` with a plain prompt: the system prompt, if any, a blank
        line, then the user message; no chat template).
    concurrency:
        Requests in flight at once, and connections kept open (each in-flight request uses one
        kept-alive connection of its own; see ``_ClientPool``).
    timeout:
        Seconds one attempt may take, from sending to the whole answer.
    max_retries:
        Further attempts after the first for a retryable failure.
    backoff_base, backoff_max:
        Attempt ``k`` (from 0) waits ``uniform(0, min(backoff_max, backoff_base * 2**k))``
        seconds before the next, or what ``Retry-After`` says (at most ``backoff_max``).
    api_key_env:
        Name of the environment variable that holds the API key (sent as a Bearer token). It
        must be set when the backend is built; the key itself is read at request time.
    headers:
        Extra HTTP headers sent with every request.
    rng, sleep, transport:
        Injectable randomness (``random.Random``), async sleep and httpx transport, for tests.

    Examples
    --------
    >>> backend = OpenAIBackend("llama3.2:1b", base_url="http://127.0.0.1:11434/v1")
    >>> backend.spec
    'openai:llama3.2:1b@http://127.0.0.1:11434/v1'
    """

    kind: ClassVar[str] = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        endpoint: str = "chat",
        concurrency: int = 8,
        timeout: float = 60.0,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        api_key_env: str | None = None,
        headers: Mapping[str, str] | None = None,
        rng: random.Random | None = None,
        sleep: Sleep | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(model, concurrency=concurrency)
        if not model:
            raise UsageError(
                "the model name is empty", hint="use a spec like openai:MODEL@http://HOST:PORT/v1"
            )
        base_url = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(
                f"invalid server URL {_redact_url(base_url)!r}",
                hint="give an http:// or https:// address such as http://127.0.0.1:8000/v1",
            )
        if endpoint not in ENDPOINTS:
            raise UsageError(f"unknown endpoint {endpoint!r}", hint="use 'chat' or 'completion'")
        if timeout <= 0:
            raise UsageError("timeout must be > 0 seconds")
        if max_retries < 0:
            raise UsageError("max_retries must be >= 0")
        if backoff_base < 0 or backoff_max < 0:
            raise UsageError("backoff times must be >= 0")
        if api_key_env is not None and not os.environ.get(api_key_env):
            raise UsageError(
                f"the environment variable {api_key_env} holding the API key is not set",
                hint=f"export {api_key_env}=... before running, or leave out the API key option",
            )
        if api_key_env is not None:
            problem = _check_api_key(api_key_env, os.environ[api_key_env])
            if problem is not None:
                raise UsageError(problem, hint=_key_hint(api_key_env))
        for name, value in dict(headers or {}).items():
            problem = header_value_problem(str(value), spaces=True)
            if problem is not None:
                raise UsageError(
                    f"the value of the HTTP header {name!r} {problem}",
                    hint="give header values as printable ASCII without line breaks",
                )
        self.base_url = base_url.rstrip("/")
        self.endpoint = endpoint
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self.api_key_env = api_key_env
        self._headers = dict(headers or {})
        self.redactor.add(os.environ[api_key_env] if api_key_env is not None else None)
        if parts.password is not None:  # httpx sends it as Basic auth: base64 of user:password
            credentials = f"{unquote(parts.username or '')}:{unquote(parts.password)}"
            for secret in (parts.password, unquote(parts.password), credentials):
                self.redactor.add(secret)
            self.redactor.add(base64.b64encode(credentials.encode("utf-8")).decode("ascii"))
        for name, value in self._headers.items():
            if any(word in name.lower() for word in _SECRET_HEADER_WORDS):
                self.redactor.add(value)
                self.redactor.add(value.partition(" ")[2])  # the credential after "Bearer "
        self._rng = rng or random.Random()
        self._sleep: Sleep = sleep or asyncio.sleep
        self._transport = transport
        self._pool: _ClientPool | None = None
        # set when a request found nothing listening after all retries: later requests then
        # try once instead of backing off again and again (cleared by any answer)
        self._unreachable = False

    # ------------------------------------------------------------------------------------

    @property
    def spec(self) -> str:
        return f"{self.kind}:{self.model}@{_redact_url(self.base_url)}"

    @property
    def url(self) -> str:
        """The full address requests are posted to."""
        return self.base_url + ENDPOINTS[self.endpoint]

    @property
    def shown_url(self) -> str:
        """``url`` as error messages show it: without a password."""
        return _redact_url(self.url)

    def request(self, example: Example, params: GenerationParams) -> dict[str, Any]:
        """The JSON body for one example (transport details and the API key are not in it)."""
        body: dict[str, Any] = {"model": self.model}
        if self.endpoint == "chat":
            body["messages"] = chat_messages(example, params)
        else:
            prompt = render_user_message(example, params)
            body["prompt"] = f"{params.system}\n\n{prompt}" if params.system else prompt
        body["temperature"] = params.temperature
        body["max_tokens"] = params.max_tokens
        if params.top_p is not None:
            body["top_p"] = params.top_p
        if params.seed is not None:
            body["seed"] = params.seed
        if params.stop:
            body["stop"] = list(params.stop)
        for key, value in dict(params.extra).items():
            if value is not None:
                body[key] = value
        return body

    def cache_identity(self) -> dict[str, Any]:
        """Backend and model: the same model behind another address reuses its cache."""
        return {"backend": self.kind, "model": self.model}

    # ------------------------------------------------------------------------------------

    def _make_client_factory(self) -> Callable[[], httpx.AsyncClient]:
        """A maker of single-connection clients sharing one TLS context (built once: ~40 ms)."""
        if self.base_url.startswith("https://"):
            tls = httpx.create_ssl_context()
        else:  # never used for plain http; cheap to make
            tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        timeout = httpx.Timeout(self.timeout, pool=None)

        def make() -> httpx.AsyncClient:
            return httpx.AsyncClient(
                limits=limits,
                timeout=timeout,
                headers=self._headers,
                transport=self._transport,
                verify=tls,
                trust_env=False,
            )

        return make

    async def _astart(self) -> None:
        self._pool = _ClientPool(self._make_client_factory(), self.concurrency)
        self._unreachable = False

    async def _astop(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.aclose()

    def _api_key(self) -> str | None:
        """The key to send now (registered with the redactor first), checked like at the start."""
        if self.api_key_env is None:
            return None
        key = os.environ.get(self.api_key_env)
        if not key:
            raise _Failure(
                f"environment variable {self.api_key_env} is no longer set",
                retry=False,
            )
        self.redactor.add(key)
        problem = _check_api_key(self.api_key_env, key)
        if problem is not None:
            raise _Failure("invalid API key", problem, retry=False)
        return key

    async def acall(self, request: Mapping[str, Any]) -> Generation:
        """Post one request, retrying transient failures; never raises. The result holds no secret."""
        pool = self._pool
        if pool is None:  # called outside call_many: a client for this call alone
            async with self._make_client_factory()() as client:
                return (await self._call(client, request)).redacted(self.redactor)
        client = await pool.acquire()
        try:
            return (await self._call(client, request)).redacted(self.redactor)
        finally:
            pool.release(client)

    async def _call(self, client: httpx.AsyncClient, request: Mapping[str, Any]) -> Generation:
        started = time.perf_counter()
        attempts = 0
        failure = _Failure("no attempt made")
        while True:
            attempts += 1
            attempt_started = time.perf_counter()
            try:
                generation = await self._attempt(client, request)
            except _Failure as exc:
                failure = exc
            else:
                self._unreachable = False
                return dataclasses.replace(generation, latency_s=time.perf_counter() - attempt_started)
            connect_failed = failure.headline == _CANNOT_CONNECT
            if connect_failed and attempts == 1 and self._unreachable:
                # the server was already found unreachable: do not back off again
                failure.headline += " (not retried: the server was unreachable before)"
                break
            if not failure.retry or attempts > self.max_retries:
                if connect_failed:
                    self._unreachable = True
                break
            await self._sleep(self._delay(attempts - 1, failure.wait))
        # redacted before it is cut short, so that no part of a secret is left behind
        detail = self.redactor(failure.detail)[:MAX_ERROR_CHARS]
        headline = self.redactor(failure.headline)
        if attempts > 1:
            headline += f" after {attempts} attempts"
        return Generation(
            error=f"{headline}: {detail}" if detail else headline,
            latency_s=time.perf_counter() - started,
        )

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(self.backoff_max, retry_after)
        return self._rng.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))

    async def _attempt(self, client: httpx.AsyncClient, request: Mapping[str, Any]) -> Generation:
        """One try; raises ``_Failure`` saying whether another try may help."""
        headers = {}
        key = self._api_key()
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        try:
            async with asyncio.timeout(self.timeout):
                response = await client.post(self.url, json=request, headers=headers)
        except (TimeoutError, httpx.TimeoutException):
            raise _Failure("timeout", f"no answer within {self.timeout:g} s from {self.shown_url}") from None
        except httpx.ConnectError as exc:
            raise _Failure(_CANNOT_CONNECT, f"{self.shown_url}: {exc}") from None
        except _LOCAL_ERRORS as exc:  # the request could not be sent: asking again cannot help
            raise _Failure("request not sent", f"{type(exc).__name__}: {exc}", retry=False) from None
        except httpx.TransportError as exc:  # dropped connection, protocol error …
            raise _Failure("connection error", f"{type(exc).__name__}: {exc}") from None
        except httpx.RequestError as exc:  # an undecodable body, too many redirects …
            raise _Failure("bad response", f"{type(exc).__name__}: {exc}") from None
        status = response.status_code
        if not 200 <= status < 300:
            message = _server_message(response)
            wait = None
            if status in RETRY_AFTER_STATUSES:
                wait = parse_retry_after(response.headers.get("retry-after"))
            raise _Failure(f"HTTP {status}", message, retry=status in RETRY_STATUSES, wait=wait)
        return self._parse(response)

    def _parse(self, response: httpx.Response) -> Generation:
        try:
            body = response.json()
        except ValueError:
            snippet = " ".join(response.text.split())
            raise _Failure("malformed response", f"invalid JSON: {snippet}") from None
        choices = body.get("choices") if isinstance(body, dict) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise _Failure("malformed response", f"no choices in {json.dumps(body)}")
        choice = choices[0]
        if self.endpoint == "chat":
            message = choice.get("message")
            text = message.get("content") if isinstance(message, dict) else None
        else:
            text = choice.get("text")
        if text is not None and not isinstance(text, str):
            raise _Failure("malformed response", f"choice text is {type(text).__name__}")
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        return Generation(
            text=text or "",
            tokens=_int_or_none(usage.get("completion_tokens")),
            prompt_tokens=_int_or_none(usage.get("prompt_tokens")),
            finish_reason=None if choice.get("finish_reason") is None else str(choice["finish_reason"]),
        )


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


_OPTIONS = frozenset(
    {
        "base_url",
        "endpoint",
        "concurrency",
        "timeout",
        "max_retries",
        "backoff_base",
        "backoff_max",
        "api_key_env",
        "headers",
        "rng",
        "sleep",
        "transport",
    }
)


def from_spec(rest: str, **options: Any) -> OpenAIBackend:
    """Build the backend of a spec ``openai:MODEL@URL`` (``rest`` is ``MODEL@URL``).

    ``options`` are constructor arguments (``concurrency``, ``timeout``, ``api_key_env`` …);
    ``None`` values are ignored, and so is ``trust`` (an HTTP server runs no local code).
    """
    model, url = split_spec(rest)
    if not model:
        raise UsageError(
            f"no model name in spec 'openai:{rest}'",
            hint="use openai:MODEL or openai:MODEL@http://HOST:PORT/v1",
        )
    options = {k: v for k, v in options.items() if v is not None and k != "trust"}
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        raise UsageError(
            f"the openai backend takes no option {', '.join(unknown)}",
            hint="options: " + ", ".join(sorted(_OPTIONS - {"rng", "sleep", "transport"})),
        )
    if url is not None:
        options["base_url"] = url
    return OpenAIBackend(model, **options)
