"""A lineage of runs (v1 → v2 → v3 …): each candidate against a baseline, and each step in order.

Pure functions from per-example correctness (one boolean array per run, on the examples every run
shares, in one order) to the ``lineage`` block of a report (docs/report-schema.md). Each row is the
two-run flip table of :mod:`deltaeval.analysis.flips` (exact intervals, exact McNemar p); the
p-values of the rows against the baseline are Holm-adjusted across candidates, and those of the
steps across steps (two families: one asks "is this candidate better than the baseline?", the
other "did this step change anything?").

Holm rather than Benjamini–Hochberg: each candidate's verdict is a decision about that candidate
(ship it or not, or say it regressed), and a lineage has a handful of candidates, so the
familywise error — the chance that *any* verdict of the table is a false "improved"/"regressed" —
is the guarantee a reader assumes, and it costs little power with few hypotheses. Slices keep BH:
many exploratory rows, where a controlled share of false discoveries is the useful guarantee.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from deltaeval.analysis.flips import (
    INTERVAL_METHODS,
    FlipStats,
    cell_codes,
    cell_counts,
    flip_stats_from_counts,
)
from deltaeval.jsonable import interval as _ci
from deltaeval.jsonable import num as _num
from deltaeval.stats import CLOPPER_PEARSON, holm, proportion_ci

ADJUSTMENT = "holm"
BASELINE, CANDIDATE, STEP = "baseline", "candidate", "step"


def _verdict(stats: FlipStats, p_adjusted: float, alpha: float) -> str:
    """``improved`` / ``regressed`` when the adjusted p is below alpha, else ``no significant change``."""
    if p_adjusted < alpha and stats.negative != stats.positive:
        return "regressed" if stats.negative > stats.positive else "improved"
    return "no significant change"


def _pair_row(kind: str, old: str, new: str, stats: FlipStats) -> dict[str, Any]:
    return {
        "kind": kind,
        "from": old,
        "run": new,
        "n": stats.n,
        "accuracy": _num(stats.estimates["accuracy_new"]),
        "accuracy_ci": _ci(stats.intervals["accuracy_new"]),
        **stats.change_fields(),
    }


def _family(
    kind: str,
    pairs: Sequence[tuple[str, str]],
    correct: dict[str, NDArray[np.bool_]],
    level: float,
    alpha: float,
) -> list[dict[str, Any]]:
    """Rows of one family of comparisons, with Holm-adjusted p-values and verdicts."""
    stats = [
        flip_stats_from_counts(
            cell_counts(cell_codes(correct[old], correct[new])), outputs_known=False, level=level
        )
        for old, new in pairs
    ]
    adjusted = holm([s.mcnemar_p for s in stats]) if stats else []
    rows = []
    for (old, new), s, p in zip(pairs, stats, adjusted, strict=True):
        row = _pair_row(kind, old, new, s)
        row["p_adjusted"] = _num(p)
        row["verdict"] = _verdict(s, float(p), alpha)
        rows.append(row)
    return rows


def lineage_block(
    names: Sequence[str],
    correct: Sequence[NDArray[np.bool_]],
    baseline: str,
    *,
    level: float = 0.95,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """The ``lineage`` block: the baseline's accuracy, each candidate against it, each step in order.

    ``names`` are the runs in the order given (distinct), ``correct`` their per-example
    correctness on the same examples in the same order; ``baseline`` is one of ``names``.
    """
    if len(names) != len(correct) or len(set(names)) != len(names) or baseline not in names:
        raise ValueError("names must be distinct, match correct, and include the baseline")
    arrays = {name: np.asarray(c, dtype=bool) for name, c in zip(names, correct, strict=True)}
    n = int(arrays[baseline].size)
    if any(a.size != n for a in arrays.values()):
        raise ValueError("every run's correctness must cover the same examples")
    hits = int(arrays[baseline].sum())
    base_row = {
        "kind": BASELINE,
        "from": None,
        "run": baseline,
        "n": n,
        "accuracy": _num(hits / n) if n else None,
        "accuracy_ci": _ci(proportion_ci(hits, n, level)) if n else None,
    }
    candidates = [(baseline, name) for name in names if name != baseline]
    steps = list(itertools.pairwise(names))
    return {
        "baseline": baseline,
        "order": list(names),
        "n": n,
        "adjustment": ADJUSTMENT,
        "alpha": alpha,
        "confidence_level": level,
        "ci_methods": {
            "accuracy_ci": CLOPPER_PEARSON,
            "delta_ci": INTERVAL_METHODS["delta"],
            "nfr_ci": INTERVAL_METHODS["nfr"],
            "pfr_ci": INTERVAL_METHODS["pfr"],
        },
        "rows": [base_row, *_family(CANDIDATE, candidates, arrays, level, alpha)],
        "steps": _family(STEP, steps, arrays, level, alpha),
    }
