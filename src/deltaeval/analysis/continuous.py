"""Continuous score changes: D(x) = S(new, x) − S(old, x) with a tolerance ε.

A difference within ε is a tie everywhere: it is neither a gain nor a loss, and the Wilcoxon
test zeroes it (and drops it) rather than ranking noise. The mean difference gets a paired
bootstrap interval; the gain and loss rates, being proportions, exact binomial intervals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from deltaeval.stats import Interval, bootstrap_mean_interval, proportion_ci, wilcoxon_p


@dataclass(frozen=True)
class ContinuousStats:
    """Mean scores, mean difference with interval, gains/losses beyond ε, Wilcoxon p (ties within ε)."""

    n: int
    epsilon: float
    old_mean: float
    new_mean: float
    mean_delta: float
    mean_delta_ci: Interval
    gains: int
    losses: int
    ties: int
    gain_rate_ci: Interval
    loss_rate_ci: Interval
    mean_gain: float | None
    mean_loss: float | None
    wilcoxon_p: float | None

    @property
    def gain_rate(self) -> float:
        return self.gains / self.n if self.n else float("nan")

    @property
    def loss_rate(self) -> float:
        return self.losses / self.n if self.n else float("nan")


def is_binary(values: NDArray[np.floating]) -> bool:
    """True when every finite value is 0 or 1."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return bool(np.all((v == 0) | (v == 1)))


def default_epsilon(old: NDArray[np.floating], new: NDArray[np.floating]) -> float:
    """ε when none is given: 0 for 0/1 scores, else 5% of the observed score range."""
    both = np.concatenate([np.asarray(old, float), np.asarray(new, float)])
    both = both[np.isfinite(both)]
    if both.size == 0 or is_binary(both):
        return 0.0
    return round(0.05 * float(both.max() - both.min()), 6)


def continuous_stats(
    score_old: NDArray[np.floating],
    score_new: NDArray[np.floating],
    *,
    epsilon: float | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int | None = 0,
) -> ContinuousStats:
    """Paired comparison of per-example scores. NaN scores (errors) count as 0.

    ``n_boot`` bootstrap resamples give the mean difference's interval; gain and loss rates
    get Clopper–Pearson intervals; differences within ``epsilon`` are ties throughout.
    """
    old = np.nan_to_num(np.asarray(score_old, dtype=float), nan=0.0)
    new = np.nan_to_num(np.asarray(score_new, dtype=float), nan=0.0)
    eps = default_epsilon(old, new) if epsilon is None else float(epsilon)
    d = new - old
    gain = d > eps
    loss = d < -eps
    rng = np.random.default_rng(seed)
    n = d.size
    mean_ci = bootstrap_mean_interval(d, n_boot, level, rng) if n_boot > 0 else None
    cells = np.array([int(gain.sum()), int(loss.sum()), int(n - gain.sum() - loss.sum())])
    gain_ci = proportion_ci(int(cells[0]), n, level)
    loss_ci = proportion_ci(int(cells[1]), n, level)
    return ContinuousStats(
        n=n,
        epsilon=eps,
        old_mean=float(old.mean()) if n else float("nan"),
        new_mean=float(new.mean()) if n else float("nan"),
        mean_delta=float(d.mean()) if n else float("nan"),
        mean_delta_ci=mean_ci,
        gains=int(cells[0]),
        losses=int(cells[1]),
        ties=int(cells[2]),
        gain_rate_ci=gain_ci,
        loss_rate_ci=loss_ci,
        mean_gain=float(d[gain].mean()) if gain.any() else None,
        mean_loss=float(d[loss].mean()) if loss.any() else None,
        wilcoxon_p=wilcoxon_p(d, eps),
    )
