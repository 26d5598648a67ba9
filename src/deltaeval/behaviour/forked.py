"""Run one pure computation in a forked child process while this process does other work.

The behaviour section computes the axes (in this process or its worker pool) and the change
analysis (TF-IDF similarity and clusters), which do not depend on each other; the change
analysis is single-threaded numpy and Python, so on a machine with a second core it can run
beside the axes. The child is forked (it inherits the texts: nothing is pickled to it) and
sends back only its result; an exception in it is raised again here. Where ``fork`` is not
available the computation simply runs when its result is asked for.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")

#: The computation a forked child runs (set just before forking: the child inherits it).
_PENDING: Callable[[], Any] | None = None


def _child(send: Any) -> None:
    assert _PENDING is not None
    try:
        outcome: tuple[str, Any] = ("ok", _PENDING())
    except BaseException as error:  # handed to the parent, which raises it
        outcome = ("error", error)
    try:
        send.send(outcome)
    except Exception as error:  # an exception that does not pickle
        send.send(("error", RuntimeError(f"{type(outcome[1]).__name__}: {outcome[1]}: {error}")))
    send.close()


class Forked(Generic[T]):
    """``fn()`` computed in a forked child (or, without ``fork``, on :meth:`result`)."""

    def __init__(self, fn: Callable[[], T]) -> None:
        global _PENDING
        self._fn = fn
        self._process: Any = None
        if "fork" not in multiprocessing.get_all_start_methods():
            return
        context = multiprocessing.get_context("fork")
        self._receive, send = context.Pipe(duplex=False)
        _PENDING = fn
        try:
            self._process = context.Process(target=_child, args=(send,), daemon=True)
            self._process.start()
        finally:
            _PENDING = None
            send.close()

    def result(self) -> T:
        """The child's result (waiting for it), or its exception raised here."""
        if self._process is None:
            return self._fn()
        try:
            status, value = self._receive.recv()
        except EOFError as error:  # the child died without an answer (e.g. killed for memory)
            raise RuntimeError(
                f"the forked computation ended with exit code {self._process.exitcode}"
            ) from error
        finally:
            self.close()
        if status == "error":
            raise value
        return value

    def close(self) -> None:
        """Stop waiting: the child is ended if still running."""
        if self._process is None:
            return
        process, self._process = self._process, None
        self._receive.close()
        if process.is_alive():
            process.join(timeout=0.1)
        if process.is_alive():
            process.terminate()
        process.join()
