"""How many CPU threads deltaeval's own thread pools use (llama.cpp, torch, ONNX, BLAS).

On a small machine whose cores other processes also use, a pool with one thread per core is
far slower than one that leaves a core free: llama.cpp's threads wait for each other at every
token, and BLAS/ONNX worker threads spin, so one descheduled thread stalls all of them. Measured
on a 2-core machine under load from other processes: SmolLM2-135M gave 20–39 tokens/s with 1
thread and 1–3.5 tokens/s with 2; oversubscribed BLAS was 2.3–4.6× slower than one thread.

The default (:func:`default_threads`) is therefore the usable cores minus one on machines with
up to 4 cores (at least 1), and half the cores above that (about the physical cores where each
core runs two hardware threads). ``--threads N`` on the command line, a ``threads=`` argument,
or the environment variable ``DELTAEVAL_THREADS`` set it explicitly.

Nothing heavy is imported here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from deltaeval.errors import UsageError

ENV_VAR = "DELTAEVAL_THREADS"
#: environment variables read by BLAS and OpenMP libraries when they load
BLAS_ENV_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")
SMALL_MACHINE_CORES = 4


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells it; at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_threads(cores: int | None = None) -> int:
    """The default thread count for ``cores`` usable cores (default: this machine's).

    Examples
    --------
    >>> [default_threads(n) for n in (1, 2, 4, 8, 16)]
    [1, 1, 3, 4, 8]
    """
    cores = usable_cores() if cores is None else max(1, cores)
    if cores <= SMALL_MACHINE_CORES:
        return max(1, cores - 1)
    return cores // 2


def cpu_threads(requested: int | None = None) -> int:
    """The thread count to use: ``requested``, else ``DELTAEVAL_THREADS``, else the default."""
    if requested is not None:
        if isinstance(requested, bool) or not isinstance(requested, int) or requested < 1:
            raise UsageError(f"threads must be a whole number >= 1, got {requested!r}")
        return requested
    value = os.environ.get(ENV_VAR, "").strip()
    if value:
        try:
            chosen = int(value)
        except ValueError:
            chosen = 0
        if chosen < 1:
            raise UsageError(
                f"{ENV_VAR}={value!r} is not a whole number >= 1",
                hint=f"set {ENV_VAR} to e.g. 1, or unset it",
            )
        return chosen
    return default_threads()


def set_blas_env(threads: int | None = None) -> None:
    """Cap BLAS/OpenMP thread pools of libraries not loaded yet (variables already set are kept).

    Must run before numpy, SciPy or scikit-learn are imported; the CLI does it at start-up.
    """
    count = str(cpu_threads(threads))
    for name in BLAS_ENV_VARS:
        os.environ.setdefault(name, count)


@contextmanager
def limit_blas(threads: int | None = None) -> Iterator[None]:
    """Limit the BLAS/OpenMP pools of already loaded libraries for a block (``threadpoolctl``).

    Without threadpoolctl (it comes with scikit-learn) the block runs unchanged.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=cpu_threads(threads)):
        yield


__all__ = [
    "ENV_VAR",
    "cpu_threads",
    "default_threads",
    "limit_blas",
    "set_blas_env",
    "usable_cores",
]
