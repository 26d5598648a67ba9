"""Run a backend over a dataset with a call cache: resumable, interruptible, with progress.

Every completed call is committed to the store's cache the moment it finishes, keyed by
(backend, model, request); a rerun — after Ctrl-C, a crash or SIGKILL — asks the model only for
what is not cached. Failed calls are not cached: they are recorded as errors on their examples,
and a rerun tries them again.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console

from deltaeval.backends.base import Backend, Generation, GenerationParams
from deltaeval.errors import DeltaEvalError, UsageError
from deltaeval.plural import plural
from deltaeval.progress import make_progress
from deltaeval.store import Store
from deltaeval.types import Example, Run


class RunInterrupted(DeltaEvalError):
    """The run was stopped (Ctrl-C); finished calls are cached and a rerun resumes."""


@dataclass(frozen=True)
class RunStats:
    """What a run cost: calls made now, answers taken from the cache, errors, wall time."""

    total: int
    cached: int
    called: int
    errors: int
    seconds: float


def run_model(
    backend: Backend,
    examples: Sequence[Example],
    params: GenerationParams | None = None,
    *,
    name: str,
    store: Store,
    source: str = "",
    console: Console | None = None,
    quiet: bool = False,
    overwrite: bool = False,
    save: bool = True,
) -> tuple[Run, RunStats]:
    """Answer ``examples`` with ``backend``, reusing cached calls, and store the Run.

    Returns the run and what it cost. Raises ``RunInterrupted`` on Ctrl-C (everything finished
    before it is cached) and ``StoreError`` if a run of that name exists and not ``overwrite``.
    """
    params = params or GenerationParams()
    if not examples:
        raise UsageError("the dataset has no examples")
    if save and store.has_run(name) and not overwrite:
        from deltaeval.errors import StoreError

        raise StoreError(
            f"a run named {name!r} is already stored",
            path=store.path,
            hint="choose another --name, or pass --overwrite (cached calls are reused either way)",
        )
    console = console or Console(stderr=True)
    started = time.perf_counter()
    requests = [backend.request(e, params) for e in examples]
    keys = [backend.call_key(r) for r in requests]
    cached = store.cache_get_many(keys)
    results: list[Generation | None] = [
        Generation.from_cache(cached[k]) if k in cached else None for k in keys
    ]
    todo = [i for i, r in enumerate(results) if r is None]
    # identical requests (duplicated prompts) are asked once
    waiting: dict[str, list[int]] = {}
    for i in todo:
        waiting.setdefault(keys[i], []).append(i)
    unique_todo = [indices[0] for indices in waiting.values()]
    identity = backend.cache_identity()

    with make_progress(console, quiet=quiet) as progress:
        # a run name: shown as plain text, never read as markup or escape codes
        task = progress.add_task(
            f"generating {name}", total=len(examples), completed=len(examples) - len(todo)
        )

        def record(j: int, generation: Generation) -> None:
            i = unique_todo[j]
            if generation.error is None:
                store.cache_put(
                    keys[i],
                    backend=str(identity.get("backend", backend.kind)),
                    model=str(identity.get("model", backend.model)),
                    request=requests[i],
                    response=generation.to_cache(),
                )
            for k in waiting[keys[i]]:
                results[k] = generation
            progress.advance(task, len(waiting[keys[i]]))

        try:
            backend.call_many([requests[i] for i in unique_todo], record)
        except KeyboardInterrupt:
            done = sum(r is not None and r.error is None for r in results)
            raise RunInterrupted(
                f"interrupted: {done} of {plural(len(examples), 'example')} answered and cached",
                hint="rerun the same command to finish without repeating finished calls",
            ) from None
    outputs = tuple(
        (r or Generation(error="no result")).to_output(e.id) for e, r in zip(examples, results, strict=True)
    )
    run = Run(
        name=name,
        examples=tuple(examples),
        outputs=outputs,
        model=backend.spec,
        params={**params.to_dict(), **{k: v for k, v in identity.items() if k != "model"}},
        source=source or f"backend {backend.spec}",
    )
    if save:
        store.save_run(run, overwrite=overwrite)
    stats = RunStats(
        total=len(examples),
        cached=len(examples) - len(todo),
        called=len(unique_todo),
        errors=sum(o.error is not None for o in outputs),
        seconds=time.perf_counter() - started,
    )
    return run, stats
