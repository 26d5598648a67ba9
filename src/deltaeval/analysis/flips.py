"""Flip analytics (DESIGN.md "Definitions"): quadrants, NFR, PFR, churn, NFR_mc, BTC, BEC.

Every statistic here is a function of eight cell counts: old correct × new correct × same output.
Every rate is a count out of a number of examples, so its interval is the exact binomial
(Clopper–Pearson) one; the accuracy difference gets Tango's paired score interval. Both hold at
0 and n and at small n, where a bootstrap collapses (``bench/coverage.py`` measures them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from deltaeval.stats import (
    CLOPPER_PEARSON,
    TANGO,
    Interval,
    mcnemar_exact,
    paired_difference_interval,
    proportion_interval,
    safe_ratio,
)

N_CELLS = 8


def cell_codes(
    correct_old: NDArray[np.bool_],
    correct_new: NDArray[np.bool_],
    same_output: NDArray[np.bool_] | None = None,
) -> NDArray[np.int64]:
    """Cell of each example: ``4*old_correct + 2*new_correct + same_output``.

    Without outputs to compare, ``same_output`` is taken as "same when both are correct or
    both wrong"; the rates that need it (churn, NFR_mc, BEC) are then reported as undefined.
    """
    co = np.asarray(correct_old, dtype=bool)
    cn = np.asarray(correct_new, dtype=bool)
    if co.shape != cn.shape:
        raise ValueError(f"correctness arrays differ in shape: {co.shape} vs {cn.shape}")
    same = (co == cn) if same_output is None else np.asarray(same_output, dtype=bool)
    if same.shape != co.shape:
        same = np.broadcast_to(same, co.shape)
    # bytes first (a bool is a 0/1 byte), one widening at the end
    codes = co.view(np.uint8) << 2
    codes |= cn.view(np.uint8) << 1
    codes |= same.view(np.uint8)
    return codes.astype(np.int64)


def cell_counts(codes: NDArray[np.int64]) -> NDArray[np.int64]:
    """Counts of the eight cells."""
    return np.bincount(codes, minlength=N_CELLS).astype(np.int64)


def rates_from_counts(counts: NDArray[np.integer]) -> dict[str, NDArray[np.float64]]:
    """All flip rates from cell counts; ``counts`` has shape (..., 8). NaN where undefined."""
    c = np.asarray(counts, dtype=float)
    n = c.sum(axis=-1)
    old_right = c[..., 4:8].sum(axis=-1)
    new_right = c[..., 2] + c[..., 3] + c[..., 6] + c[..., 7]
    negative = c[..., 4] + c[..., 5]
    positive = c[..., 2] + c[..., 3]
    both_right = c[..., 6] + c[..., 7]
    changed = c[..., 0] + c[..., 2] + c[..., 4] + c[..., 6]
    new_wrong_changed = c[..., 0] + c[..., 4]
    new_wrong = n - new_right
    return {
        "accuracy_old": safe_ratio(old_right, n),
        "accuracy_new": safe_ratio(new_right, n),
        "delta": safe_ratio(new_right - old_right, n),
        "nfr": safe_ratio(negative, n),
        "pfr": safe_ratio(positive, n),
        "churn": safe_ratio(changed, n),
        "nfr_mc": safe_ratio(new_wrong_changed, n),
        "btc": safe_ratio(both_right, old_right),
        "bec": safe_ratio(c[..., 1], new_wrong),
    }


def rate_fractions(counts: NDArray[np.integer]) -> dict[str, tuple[NDArray, NDArray]]:
    """Numerator and denominator of every rate that is a proportion; ``counts`` shape (..., 8)."""
    c = np.asarray(counts, dtype=np.int64)
    n = c.sum(axis=-1)
    old_right = c[..., 4:8].sum(axis=-1)
    new_right = c[..., 2] + c[..., 3] + c[..., 6] + c[..., 7]
    return {
        "accuracy_old": (old_right, n),
        "accuracy_new": (new_right, n),
        "nfr": (c[..., 4] + c[..., 5], n),
        "pfr": (c[..., 2] + c[..., 3], n),
        "churn": (c[..., 0] + c[..., 2] + c[..., 4] + c[..., 6], n),
        "nfr_mc": (c[..., 0] + c[..., 4], n),
        "btc": (c[..., 6] + c[..., 7], old_right),
        "bec": (c[..., 1], n - new_right),
    }


def flip_intervals(
    counts: NDArray[np.integer], level: float = 0.95
) -> dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]]:
    """Interval of every rate (see ``INTERVAL_METHODS``); ``counts`` shape (..., 8), vectorised.

    NaN where a rate is undefined (its denominator is 0).
    """
    c = np.asarray(counts, dtype=np.int64)
    fractions = rate_fractions(c)
    # one call for every rate of every table (many tables at once go through SciPy's vectorised
    # inverse beta rather than one pure-Python root per interval)
    low, high = proportion_interval(
        np.stack([k for k, _ in fractions.values()]), np.stack([n for _, n in fractions.values()]), level
    )
    out = {name: (low[i], high[i]) for i, name in enumerate(fractions)}
    negative = c[..., 4] + c[..., 5]
    positive = c[..., 2] + c[..., 3]
    out["delta"] = paired_difference_interval(negative, positive, c.sum(axis=-1), level)
    return out


RATE_NAMES = (
    "accuracy_old",
    "accuracy_new",
    "delta",
    "nfr",
    "pfr",
    "churn",
    "nfr_mc",
    "btc",
    "bec",
)
OUTPUT_DEPENDENT = ("churn", "nfr_mc", "bec")
#: How each rate's interval is made, as the JSON report records it.
INTERVAL_METHODS = {name: (TANGO if name == "delta" else CLOPPER_PEARSON) for name in RATE_NAMES}


@dataclass(frozen=True)
class FlipStats:
    """Result of ``flip_stats``: counts, point estimates, intervals and McNemar's p.

    ``intervals`` are at ``level``, made as ``INTERVAL_METHODS`` says (exact, not resampled).
    """

    n: int
    both_correct: int
    both_wrong: int
    negative: int
    positive: int
    estimates: dict[str, float | None]
    intervals: dict[str, Interval]
    mcnemar_p: float
    level: float

    def change_fields(self) -> dict[str, Any]:
        """The change's JSON fields, in the reports' order: the accuracy change with its interval,
        the flip counts, NFR and PFR with their intervals, and McNemar's p."""
        from deltaeval.jsonable import interval, num

        return {
            "delta": num(self.estimates["delta"]),
            "delta_ci": interval(self.intervals["delta"]),
            "negative": self.negative,
            "positive": self.positive,
            "nfr": num(self.estimates["nfr"]),
            "nfr_ci": interval(self.intervals["nfr"]),
            "pfr": num(self.estimates["pfr"]),
            "pfr_ci": interval(self.intervals["pfr"]),
            "mcnemar_p": num(self.mcnemar_p),
        }

    def verdict(self, alpha: float) -> str:
        """``regressed`` / ``improved`` when McNemar's p < alpha, else ``no significant change``."""
        if self.mcnemar_p < alpha and self.negative != self.positive:
            return "regressed" if self.negative > self.positive else "improved"
        return "no significant change"


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def flip_stats_from_counts(
    counts: NDArray[np.integer],
    *,
    outputs_known: bool = True,
    level: float = 0.95,
    bounds: dict[str, tuple[NDArray, NDArray]] | None = None,
) -> FlipStats:
    """Flip statistics of one table of eight cell counts (see ``cell_codes``).

    ``bounds``: this table's ``flip_intervals`` at ``level`` when already computed (e.g. for many
    tables at once, as ``slice_stats`` does); computed here otherwise.
    """
    counts = np.asarray(counts, dtype=np.int64)
    point = rates_from_counts(counts)
    if bounds is None:
        bounds = flip_intervals(counts, level)
    estimates: dict[str, float | None] = {}
    intervals: dict[str, Interval] = {}
    for name in RATE_NAMES:
        if not outputs_known and name in OUTPUT_DEPENDENT:
            estimates[name], intervals[name] = None, None
            continue
        estimates[name] = _finite_or_none(float(point[name]))
        low, high = (float(v) for v in bounds[name])
        intervals[name] = (
            (low, high) if estimates[name] is not None and np.isfinite(low) and np.isfinite(high) else None
        )
    negative = int(counts[4] + counts[5])
    positive = int(counts[2] + counts[3])
    return FlipStats(
        n=int(counts.sum()),
        both_correct=int(counts[6] + counts[7]),
        both_wrong=int(counts[0] + counts[1]),
        negative=negative,
        positive=positive,
        estimates=estimates,
        intervals=intervals,
        mcnemar_p=mcnemar_exact(negative, positive),
        level=level,
    )


def flip_stats(
    correct_old: NDArray[np.bool_],
    correct_new: NDArray[np.bool_],
    same_output: NDArray[np.bool_] | None = None,
    *,
    level: float = 0.95,
) -> FlipStats:
    """Flip statistics of two paired correctness arrays.

    Parameters
    ----------
    correct_old, correct_new:
        Boolean arrays, one entry per shared example.
    same_output:
        Whether the two runs gave the same output per example; needed for churn, NFR_mc, BEC.
    level:
        Confidence level of the intervals (exact: Clopper–Pearson for rates, Tango for the
        accuracy difference).

    Examples
    --------
    >>> s = flip_stats([True, True, False, False], [True, False, True, False])
    >>> s.negative, s.positive, s.estimates["nfr"]
    (1, 1, 0.25)
    """
    codes = cell_codes(correct_old, correct_new, same_output)
    return flip_stats_from_counts(
        cell_counts(codes),
        outputs_known=same_output is not None,
        level=level,
    )
