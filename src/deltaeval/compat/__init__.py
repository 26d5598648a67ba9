"""Compatible updates: fewer regressions (negative flips) from v1 to v2.

Every method produces an ordinary Run in the store, named, with its recipe in
``run.params["compat"]`` (:mod:`deltaeval.compat.runs`), so ``deltaeval compare OLD NAME`` and
``gate`` work on it unchanged. What a method tunes, it tunes on a calibration split
(:mod:`deltaeval.compat.split`); what it reports is measured on the held-out evaluation split.

- :func:`select` — selection without training (:mod:`deltaeval.compat.selection`): keep the old
  output where the new model is unsure and the old one confident.
- :func:`fit_compatible` — positive-congruent training of a classifier (:mod:`deltaeval.compat.pct`):
  focal distillation toward the old model, weighted up where it was right.

Heavy modules load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Recipe": "deltaeval.compat.runs",
    "derived_run": "deltaeval.compat.runs",
    "recipe_of": "deltaeval.compat.runs",
    "save_run": "deltaeval.compat.runs",
    "Split": "deltaeval.compat.split",
    "split_ids": "deltaeval.compat.split",
    "evaluation_only": "deltaeval.compat.split",
    "select": "deltaeval.compat.selection",
    "select_arrays": "deltaeval.compat.selection",
    "SelectionResult": "deltaeval.compat.selection",
    "fit_compatible": "deltaeval.compat.pct",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'deltaeval.compat' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
