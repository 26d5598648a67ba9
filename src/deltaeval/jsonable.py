"""Helpers that turn statistics into JSON-ready values (finite floats or None, plain lists)."""

from __future__ import annotations

from typing import Any

import numpy as np

from deltaeval.types import Run


def num(value: Any, digits: int = 12) -> float | None:
    """``value`` as a float rounded to ``digits``; None for None, NaN and infinities."""
    if value is None:
        return None
    number = float(value)
    return round(number, digits) if np.isfinite(number) else None


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
