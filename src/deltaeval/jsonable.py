"""Helpers that turn statistics into JSON-ready values (finite floats or None, plain lists)."""

from __future__ import annotations

from typing import Any

import numpy as np

from deltaeval.types import Run

#: Below this magnitude :func:`num` keeps significant digits rather than decimal places.
SMALL = 1e-4


def num(value: Any, digits: int = 12) -> float | None:
    """``value`` as a float rounded to ``digits`` decimal places — or, below :data:`SMALL` in
    magnitude, to ``digits - 4`` significant digits, so that a tiny p-value (McNemar's p of 58
    against 208 discordant pairs is 5.3e-21) is not written as 0; None for None, NaN and
    infinities.

    >>> num(0.123456789012345), num(5.263993815191328e-21)
    (0.123456789012, 5.2639938e-21)
    """
    if value is None:
        return None
    number = float(value)
    if not np.isfinite(number):
        return None
    if number != 0.0 and abs(number) < SMALL:
        return float(f"{number:.{max(1, digits - 4)}g}")
    return round(number, digits)


def interval(bounds: Any) -> list[float | None] | None:
    """A ``(low, high)`` pair as a JSON list, or None."""
    return None if bounds is None else [num(bounds[0]), num(bounds[1])]


def clean(value: Any) -> Any:
    """JSON-ready deep copy: numpy scalars become Python ones, non-finite floats None, tuples lists."""
    if isinstance(value, float | np.floating):
        value = float(value)
        return value if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def run_block(run: Run) -> dict[str, Any]:
    """The identity of a run as it appears in every JSON report."""
    return {
        "name": run.name,
        "model": run.model,
        "source": run.source,
        "n": len(run),
        "content_hash": run.content_hash,
        "created_at": run.created_at,
    }
