"""What can be said of two runs without correctness: how often the output changed, and how the
outputs' lengths moved.

- **churn**: the share of examples whose output changed (as in the flips' churn), with its exact
  (Clopper–Pearson) interval;
- **lengths**: per unit (words, characters), the mean length of the old and of the new outputs
  and the mean paired difference new − old with a paired bootstrap interval (seeded), or from
  ``asymptotic_from`` pairs (default :data:`deltaeval.stats.ASYMPTOTIC_FROM`) the normal
  interval ``mean ± z·sd/√n``. Pairs where either length is undefined (an error output) are
  left out of that unit.

Nothing here reads files, calls models or prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from deltaeval.jsonable import interval, num
from deltaeval.stats import (
    ASYMPTOTIC_FROM,
    BOOTSTRAP,
    CLOPPER_PEARSON,
    NORMAL,
    Interval,
    bootstrap_mean_interval,
    make_rng,
    normal_mean_interval,
    proportion_ci,
    use_asymptotic,
)


@dataclass(frozen=True)
class LengthChange:
    """Mean lengths old and new in one unit, and the paired difference with its interval."""

    unit: str
    n: int
    old_mean: float | None
    new_mean: float | None
    mean_delta: float | None
    mean_delta_ci: Interval

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "old_mean": num(self.old_mean),
            "new_mean": num(self.new_mean),
            "mean_delta": num(self.mean_delta),
            "mean_delta_ci": interval(self.mean_delta_ci),
        }


@dataclass(frozen=True)
class OutputChanges:
    """Churn and length changes of two runs' paired outputs."""

    n: int
    changed: int
    churn: float | None
    churn_ci: Interval
    lengths: tuple[LengthChange, ...]
    asymptotic: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "changed": self.changed,
            "churn": num(self.churn),
            "churn_ci": interval(self.churn_ci),
            "lengths": {change.unit: change.to_dict() for change in self.lengths},
            "ci_methods": {
                "churn_ci": CLOPPER_PEARSON,
                "mean_delta_ci": NORMAL if self.asymptotic else BOOTSTRAP,
            },
        }


def length_change(
    unit: str,
    old: ArrayLike,
    new: ArrayLike,
    *,
    n_boot: int,
    level: float,
    seed: int | None,
    asymptotic: bool = False,
) -> LengthChange:
    """Mean lengths of the paired ``old`` and ``new`` values (NaN pairs left out) and their change
    (``asymptotic``: the normal interval instead of the bootstrap)."""
    a, b = np.asarray(old, dtype=float), np.asarray(new, dtype=float)
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    if a.size == 0:
        return LengthChange(unit, 0, None, None, None, None)
    diff = b - a
    if n_boot <= 0:
        ci = None
    elif asymptotic:
        ci = normal_mean_interval(diff, level)
    else:
        ci = bootstrap_mean_interval(diff, n_boot, level, make_rng(seed))
    return LengthChange(unit, int(a.size), float(a.mean()), float(b.mean()), float(diff.mean()), ci)


def output_changes(
    same_output: ArrayLike,
    lengths: Mapping[str, tuple[ArrayLike, ArrayLike]],
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int | None = 0,
    asymptotic_from: int = ASYMPTOTIC_FROM,
) -> OutputChanges:
    """Churn from ``same_output`` (one bool per example) and the change of each length unit.

    ``lengths`` maps a unit (``"words"``) to the old and the new outputs' lengths, paired. From
    ``asymptotic_from`` examples (0: never) the length changes get normal intervals.
    """
    same = np.asarray(same_output, dtype=bool)
    n = int(same.size)
    changed = int(n - same.sum())
    asymptotic = n_boot > 0 and use_asymptotic(n, asymptotic_from)
    return OutputChanges(
        n=n,
        changed=changed,
        churn=changed / n if n else None,
        churn_ci=proportion_ci(changed, n, level),
        lengths=tuple(
            length_change(unit, old, new, n_boot=n_boot, level=level, seed=seed, asymptotic=asymptotic)
            for unit, (old, new) in lengths.items()
        ),
        asymptotic=asymptotic,
    )
