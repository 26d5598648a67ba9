"""What changed in the weights: ``compare_weights(old, new, base=None)`` → the JSON ``weights`` report.

Checkpoint readers live in :mod:`deltaeval.weights.formats`, tensor pairing in
:mod:`deltaeval.weights.match`, the maths in :mod:`deltaeval.analysis.weight_delta`.
Importing this package loads nothing heavy; ``compare_weights`` is imported on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["compare_weights"]


def __getattr__(name: str) -> Any:
    if name == "compare_weights":
        from deltaeval.weights.api import compare_weights

        return compare_weights
    raise AttributeError(f"module 'deltaeval.weights' has no attribute {name!r}")
