"""Flip statistics per tag value, with Benjamini–Hochberg control across the values of a tag."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from deltaeval.analysis.flips import N_CELLS, FlipStats, flip_intervals, flip_stats_from_counts
from deltaeval.stats import benjamini_hochberg


@dataclass(frozen=True)
class SliceRow:
    value: str
    stats: FlipStats
    q_value: float
    regressed: bool
    improved: bool


@dataclass(frozen=True)
class SliceTable:
    """One tag's slices. ``regressed``/``improved`` mean significant after BH at ``alpha``."""

    tag: str
    alpha: float
    rows: tuple[SliceRow, ...]
    method: str = "benjamini-hochberg"


def slice_counts(
    codes: NDArray[np.int64], values: Sequence[str] | NDArray
) -> tuple[list[str], NDArray[np.int64]]:
    """The distinct tag values (sorted) and their (n_values, 8) cell-count table."""
    labels, inverse = np.unique(np.asarray(values), return_inverse=True)
    table = np.bincount(inverse.astype(np.int64) * N_CELLS + codes, minlength=labels.size * N_CELLS).reshape(
        labels.size, N_CELLS
    )
    return [str(v) for v in labels], table


def slice_stats(
    tag: str,
    codes: NDArray[np.int64],
    values: Sequence[str] | NDArray,
    *,
    outputs_known: bool = True,
    level: float = 0.95,
    alpha: float = 0.05,
) -> SliceTable:
    """Flip statistics for each value of ``tag`` (``codes`` from ``flips.cell_codes``).

    McNemar p-values are adjusted across the tag's values with Benjamini–Hochberg; a slice is
    flagged ``regressed`` (``improved``) when its q-value is below ``alpha`` and it has more
    negative (positive) than positive (negative) flips.
    """
    labels, table = slice_counts(codes, values)
    every = flip_intervals(table, level)  # all values at once: one vectorised bisection
    per_value = [
        flip_stats_from_counts(
            table[i],
            outputs_known=outputs_known,
            level=level,
            bounds={name: (low[i], high[i]) for name, (low, high) in every.items()},
        )
        for i in range(len(labels))
    ]
    q = benjamini_hochberg([s.mcnemar_p for s in per_value])
    rows = tuple(
        SliceRow(
            value=label,
            stats=s,
            q_value=float(qv),
            regressed=bool(qv < alpha and s.negative > s.positive),
            improved=bool(qv < alpha and s.positive > s.negative),
        )
        for label, s, qv in zip(labels, per_value, q, strict=True)
    )
    return SliceTable(tag=tag, alpha=alpha, rows=rows)
