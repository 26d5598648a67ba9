"""The one backend interface: turn examples into requests, run them, report each result.

A backend says how an example becomes a request (``request``), and runs a list of requests,
reporting every result as soon as it is known (``call_many``). The runner (``deltaeval.runner``)
adds caching, resumption and progress on top; ``generate`` is the plain, uncached entry point.

Two helpers for implementers:
- ``AsyncBackend``: implement ``acall(request) -> Generation``; requests run with bounded
  concurrency on an asyncio loop.
- ``BatchBackend``: implement ``call_batch(requests) -> list[Generation]``; requests run in
  batches of ``batch_size``.

A backend that sends a secret (an API key) registers it with ``self.redactor``; both helpers
report every result through ``reporting``, which removes the secret from its error and text, so
no secret reaches the cache, a run, a judgment or a report (``deltaeval.redaction``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, ClassVar

from deltaeval.errors import UsageError
from deltaeval.redaction import Redactor
from deltaeval.types import Example, Output, input_text

#: called with (index into the request list, result) as each request finishes, in any order
ResultCallback = Callable[[int, "Generation"], None]


@dataclass(frozen=True)
class GenerationParams:
    """How to prompt and decode; recorded in the Run and part of every cache key.

    ``template`` is a Jinja2 template of the user message with the variables ``input``,
    ``reference``, ``id`` and ``tags``; ``system`` an optional system prompt; ``extra`` holds
    backend-specific request fields.
    """

    system: str | None = None
    template: str | None = None
    temperature: float = 0.0
    max_tokens: int = 256
    top_p: float | None = None
    seed: int | None = 0
    stop: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise UsageError("temperature must be >= 0")
        if self.max_tokens < 1:
            raise UsageError("max tokens must be >= 1")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise UsageError("top_p must lie in (0, 1]")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stop"] = list(self.stop)
        data["extra"] = dict(self.extra)
        return data


@dataclass(frozen=True)
class Generation:
    """The result of one call: text, token counts, latency, finish reason, or an error."""

    text: str | None = None
    tokens: int | None = None
    prompt_tokens: int | None = None
    latency_s: float | None = None
    finish_reason: str | None = None
    error: str | None = None
    score: float | None = None
    confidence: float | None = None
    logprob: float | None = None

    def to_cache(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_cache(cls, data: Mapping[str, Any]) -> Generation:
        known = {k: data.get(k) for k in cls.__dataclass_fields__}
        return cls(**known)

    def redacted(self, redactor: Redactor) -> Generation:
        """This result without the redactor's secrets (in its error, finish reason and text)."""
        if not redactor:
            return self
        return replace(
            self,
            text=None if self.text is None else redactor.output(self.text),
            error=None if self.error is None else redactor(self.error),
            finish_reason=None if self.finish_reason is None else redactor(self.finish_reason),
        )

    def to_output(self, example_id: str) -> Output:
        return Output(
            example_id=example_id,
            text=self.text,
            tokens=self.tokens,
            prompt_tokens=self.prompt_tokens,
            latency_s=self.latency_s,
            finish_reason=self.finish_reason,
            error=self.error,
            score=self.score,
            confidence=self.confidence,
            logprob=self.logprob,
        )


def render_user_message(example: Example, params: GenerationParams) -> str:
    """The user message: the example's input, through ``params.template`` when one is given."""
    text = input_text(example.input)
    if params.template is None:
        return text
    from deltaeval.sandbox import compile_template, render

    hint = "use the variables input, reference, id and tags, e.g. 'Q: {{ input }}'"
    return render(
        compile_template(params.template, what="the prompt template", hint=hint),
        {"input": text, "reference": example.reference, "id": example.id, "tags": dict(example.tags)},
        what="the prompt template",
        example_id=example.id,
        hint=hint,
    )


def chat_messages(example: Example, params: GenerationParams) -> list[dict[str, str]]:
    """Chat messages for an example: the system prompt, then the input.

    An input that already is a list of chat messages is used as is (after the system prompt).
    """
    messages: list[dict[str, str]] = []
    if params.system:
        messages.append({"role": "system", "content": params.system})
    value = example.input
    if (
        params.template is None
        and isinstance(value, list)
        and all(isinstance(m, dict) and "role" in m and "content" in m for m in value)
    ):
        messages.extend({"role": str(m["role"]), "content": str(m["content"])} for m in value)
    else:
        messages.append({"role": "user", "content": render_user_message(example, params)})
    return messages


class Backend(ABC):
    """A model that answers examples. Subclasses set ``kind`` and implement ``call_many``.

    Parameters
    ----------
    model:
        The model identifier the backend serves (a name, a path).
    concurrency:
        How many requests may be in flight at once (or the batch size for batching backends).
    """

    kind: ClassVar[str] = "backend"

    def __init__(self, model: str, *, concurrency: int = 1) -> None:
        if concurrency < 1:
            raise UsageError("concurrency must be >= 1")
        self.model = model
        self.concurrency = concurrency
        #: secrets this backend sends; removed from every result it reports
        self.redactor = Redactor()

    @property
    def spec(self) -> str:
        """The model spec string that selects this backend (e.g. ``openai:gpt-x@URL``)."""
        return f"{self.kind}:{self.model}"

    def request(self, example: Example, params: GenerationParams) -> dict[str, Any]:
        """The JSON-able request for one example (default: chat messages plus decoding)."""
        return {
            "messages": chat_messages(example, params),
            "temperature": params.temperature,
            "max_tokens": params.max_tokens,
            "top_p": params.top_p,
            "seed": params.seed,
            "stop": list(params.stop),
            **dict(params.extra),
        }

    def cache_identity(self) -> dict[str, Any]:
        """What, besides the request, decides the answer (part of the cache key)."""
        return {"backend": self.kind, "model": self.model}

    def call_key(self, request: Mapping[str, Any]) -> str:
        """The cache key of a request: SHA-256 of (backend, model, request)."""
        payload = json.dumps(
            {**self.cache_identity(), "request": request}, sort_keys=True, ensure_ascii=False, default=str
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    @abstractmethod
    def call_many(self, requests: Sequence[Mapping[str, Any]], on_result: ResultCallback) -> None:
        """Run ``requests``, calling ``on_result(i, generation)`` as each one finishes.

        Results are reported on the calling thread (the runner writes them to SQLite there).
        A request that fails is reported as ``Generation(error=...)``; it must not abort the
        others. ``KeyboardInterrupt`` may propagate (results reported so far stay reported).
        Report through ``self.reporting(on_result)`` so that no registered secret leaves.
        """

    def reporting(self, on_result: ResultCallback) -> ResultCallback:
        """``on_result`` behind the redactor: each result loses this backend's secrets first."""
        redactor = self.redactor

        def report(i: int, generation: Generation) -> None:
            on_result(i, generation.redacted(redactor))

        return report

    def generate(
        self,
        examples: Sequence[Example],
        params: GenerationParams | None = None,
        *,
        on_output: Callable[[int, Output], None] | None = None,
    ) -> list[Output]:
        """Answer ``examples`` (uncached). Returns one Output per example, in order."""
        params = params or GenerationParams()
        requests = [self.request(e, params) for e in examples]
        outputs: list[Output | None] = [None] * len(examples)

        def collect(i: int, generation: Generation) -> None:
            outputs[i] = generation.to_output(examples[i].id)
            if on_output is not None:
                on_output(i, outputs[i])

        self.call_many(requests, collect)
        return [
            o if o is not None else Output(example_id=e.id, error="no result")
            for e, o in zip(examples, outputs, strict=True)
        ]

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release resources (connections, loaded weights)."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r}, concurrency={self.concurrency})"


class AsyncBackend(Backend):
    """A backend whose calls are coroutines, run with at most ``concurrency`` in flight."""

    @abstractmethod
    async def acall(self, request: Mapping[str, Any]) -> Generation:
        """One request. Raise nothing for a failed call: return ``Generation(error=...)``."""

    async def _astart(self) -> None:
        """Open per-run resources (e.g. an HTTP client) inside the event loop."""

    async def _astop(self) -> None:
        """Close what ``_astart`` opened."""

    async def acall_many(self, requests: Sequence[Mapping[str, Any]], on_result: ResultCallback) -> None:
        on_result = self.reporting(on_result)
        await self._astart()
        try:
            queue: asyncio.Queue[int] = asyncio.Queue()
            for i in range(len(requests)):
                queue.put_nowait(i)

            async def worker() -> None:
                while True:
                    try:
                        i = queue.get_nowait()
                    except asyncio.QueueEmpty:
                        return
                    started = time.perf_counter()
                    try:
                        generation = await self.acall(requests[i])
                    except Exception as exc:  # a backend bug must not lose the other results
                        generation = Generation(
                            error=f"{type(exc).__name__}: {exc}",
                            latency_s=time.perf_counter() - started,
                        )
                    on_result(i, generation)

            workers = [asyncio.create_task(worker()) for _ in range(min(self.concurrency, len(requests)))]
            try:
                await asyncio.gather(*workers)
            finally:
                for w in workers:
                    w.cancel()
        finally:
            await self._astop()

    def call_many(self, requests: Sequence[Mapping[str, Any]], on_result: ResultCallback) -> None:
        if requests:
            asyncio.run(self.acall_many(requests, on_result))


class BatchBackend(Backend):
    """A backend that answers ``concurrency`` requests at a time in one batch (e.g. on a GPU)."""

    @abstractmethod
    def call_batch(self, requests: Sequence[Mapping[str, Any]]) -> list[Generation]:
        """Answer one batch; one Generation per request, in order."""

    def call_many(self, requests: Sequence[Mapping[str, Any]], on_result: ResultCallback) -> None:
        on_result = self.reporting(on_result)
        for start in range(0, len(requests), self.concurrency):
            batch = requests[start : start + self.concurrency]
            started = time.perf_counter()
            try:
                results = self.call_batch(batch)
            except KeyboardInterrupt:
                raise
            except Exception as exc:
                elapsed = time.perf_counter() - started
                results = [Generation(error=f"{type(exc).__name__}: {exc}", latency_s=elapsed)] * len(batch)
            if len(results) != len(batch):
                problem = f"{type(self).__name__}.call_batch returned {len(results)} results for {len(batch)}"
                results = [Generation(error=problem)] * len(batch)
            for offset, generation in enumerate(results):
                on_result(start + offset, generation)
