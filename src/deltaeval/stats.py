"""Statistics helpers: intervals, exact McNemar, Wilcoxon, multiple testing. The one place for them.

Intervals, by what they estimate:

- **Proportions** (a count out of a number of trials: NFR, PFR, churn, accuracy, BTC, BEC, gain
  and loss rates): Clopper–Pearson, the exact binomial interval (``proportion_interval``). It
  holds its level for every n and every true rate, 0 and 1 included, where a percentile
  bootstrap collapses to a point (0 of 50 gives [0, 0] by the bootstrap, [0, 7.1%] here).
- **Paired difference of two proportions** (accuracy new − old): Tango's score interval
  (``paired_difference_interval``), which stays inside [−1, 1], is defined with no discordant
  pair, and keeps its coverage at small n and rare flips.
- **Means of continuous scores and ratios of means**: the paired bootstrap
  (``bootstrap_mean_interval``, ``percentile_interval``); from :data:`ASYMPTOTIC_FROM`
  examples, where the bootstrap costs seconds and the normal approximation is as good, the
  behaviour statistics and the output changes use the normal interval of a mean
  (``normal_mean_interval``) and DeLong's interval of a paired AUROC (``delong_paired_interval``).

``bench/coverage.py`` measures the coverage of each by simulation. SciPy is imported inside the
functions that need it, so importing this module stays cheap; the one-table intervals, binomial
tails and Holm come from ``deltaeval.exact`` (pure Python), which the CI gate uses alone.

Resampling is paired over examples. When a statistic depends only on how many examples fall in
each of a few cells, resampling the examples is the same as drawing the cell counts from a
multinomial with the observed proportions, which is what ``bootstrap_counts`` does.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from deltaeval import exact
from deltaeval.exact import binomial_sf, clopper_pearson, mcnemar_p, normal_quantile, tango_interval

Interval = tuple[float, float] | None
Side = Literal["two-sided", "upper", "lower"]

#: Names of the interval methods, as reports record them.
CLOPPER_PEARSON = "clopper-pearson"
TANGO = "tango-score"
BOOTSTRAP = "bootstrap-percentile"
NORMAL = "normal"
DELONG = "delong-paired"
WALD = "wald"

#: From this many examples, the behaviour statistics and the output changes take their intervals
#: from normal approximations (mean ± z·sd/√n, DeLong's AUROC variance, Wald intervals of logistic
#: coefficients) instead of the bootstrap; 0 = always the bootstrap.
ASYMPTOTIC_FROM = 20_000


def use_asymptotic(n: int, asymptotic_from: int) -> bool:
    """Whether ``n`` examples get normal-approximation intervals (see :data:`ASYMPTOTIC_FROM`)."""
    return asymptotic_from > 0 and n >= asymptotic_from


def _z(level: float) -> float:
    return normal_quantile(1.0 - (1.0 - level) / 2.0)


def normal_mean_interval(values: ArrayLike, level: float) -> Interval:
    """``mean ± z·sd/√n`` of the finite ``values`` (sd with n − 1); None below 2 values."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return None
    mean = float(v.mean())
    half = _z(level) * float(v.std(ddof=1)) / math.sqrt(v.size)
    return (mean - half, mean + half)


def placements(values: NDArray[np.float64], among: NDArray[np.float64]) -> NDArray[np.float64]:
    """The share of ``among`` below each value, ties counting half (O(n log n) by sorting)."""
    ordered = np.sort(among)
    below = np.searchsorted(ordered, values, side="left")
    upto = np.searchsorted(ordered, values, side="right")
    return (below + 0.5 * (upto - below)) / max(ordered.size, 1)


def delong_paired_variance(old: ArrayLike, new: ArrayLike) -> tuple[float, float]:
    """The AUROC of paired values (``old[i]`` a negative, ``new[i]`` a positive: P(new > old) +
    ½ P(equal) over all pairs of examples) and DeLong's estimate of its variance, adapted to the
    paired design.

    Each example gives one negative and one positive, so its influence on the AUROC is the sum
    of its positive's placement among the negatives (V10) and its negative's placement among
    the positives (V01): ``var ≈ Var_i(V10_i + V01_i) / n`` (sample variance, n − 1). Needs
    at least 2 examples.
    """
    a = np.asarray(old, dtype=float)
    b = np.asarray(new, dtype=float)
    v10 = placements(b, a)  # new_i among the olds
    v01 = 1.0 - placements(a, b)  # the share of the news above old_i, ties half
    return float(v10.mean()), float(np.var(v10 + v01, ddof=1)) / a.size


def delong_paired_interval(old: ArrayLike, new: ArrayLike, level: float) -> Interval:
    """DeLong's interval ``AUROC ± z·√var`` of paired values (:func:`delong_paired_variance`),
    clipped to [0, 1]; None below 2 examples."""
    if np.size(old) < 2:
        return None
    auc, variance = delong_paired_variance(old, new)
    half = _z(level) * math.sqrt(variance)
    return (max(0.0, auc - half), min(1.0, auc + half))


def make_rng(seed: int | None) -> np.random.Generator:
    """A numpy Generator from a seed (the only way randomness enters deltaeval)."""
    return np.random.default_rng(seed)


def bootstrap_counts(
    counts: NDArray[np.integer],
    n_boot: int,
    rng: np.random.Generator,
) -> NDArray[np.int64]:
    """Resampled cell counts: ``n_boot`` draws of Multinomial(sum(counts), counts / sum(counts)).

    Returns an array of shape ``(n_boot, len(counts))``; an empty table gives zeros.
    """
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros((n_boot, counts.size), dtype=np.int64)
    return rng.multinomial(total, counts / total, size=n_boot).astype(np.int64)


def percentile_interval(samples: NDArray[np.floating], level: float) -> Interval:
    """Percentile interval of bootstrap replicates, ignoring undefined (NaN) replicates.

    ``None`` when fewer than half of the replicates are defined (the statistic is unstable).
    """
    samples = np.asarray(samples, dtype=float)
    finite = samples[np.isfinite(samples)]
    if finite.size == 0 or finite.size < 0.5 * samples.size:
        return None
    alpha = (1.0 - level) / 2.0
    low, high = linear_quantiles(finite, (alpha, 1.0 - alpha))
    return (low, high)


def linear_quantiles(values: NDArray[np.floating], qs: Sequence[float]) -> list[float]:
    """``np.quantile(values, qs)`` (method ``linear``) of a 1-D array of finite floats, computed
    as numpy computes it (the same partition, the same operations), so each result is the same
    float, signed zeros included.

    ``np.quantile`` sorts its index list with ``np.unique``, whose first call imports ``numpy.ma``
    (a few hundredths of a second at start-up); this needs neither.
    """
    last = values.size - 1
    virtual = [last * q for q in qs]
    # numpy's neighbours of each virtual index; -1 (the largest value) at or past the end
    previous = [-1 if v >= last else math.floor(v) for v in virtual]
    following = [-1 if v >= last else p + 1 for v, p in zip(virtual, previous, strict=True)]
    arr = values.copy()
    arr.partition(np.array(sorted({0, -1, *previous, *following}), dtype=np.intp))
    result = []
    for v, p, f in zip(virtual, previous, following, strict=True):
        low, high = float(arr[p]), float(arr[f])
        gamma = v - p  # as numpy: from the index it uses (-1 past the end)
        diff = high - low
        result.append(high - diff * (1 - gamma) if gamma >= 0.5 else low + diff * gamma)
    return result


def safe_ratio(numerator: NDArray | float, denominator: NDArray | float) -> NDArray | float:
    """numerator / denominator, NaN where the denominator is zero."""
    num = np.asarray(numerator, dtype=float)
    den = np.asarray(denominator, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return float(out) if out.ndim == 0 else out


def mcnemar_exact(negative: int, positive: int) -> float:
    """Two-sided exact McNemar test: binomial test of the discordant pairs against 1/2.

    ``negative`` = old right/new wrong, ``positive`` = old wrong/new right. Returns the p-value
    (1.0 when there is no discordant pair).
    """
    return mcnemar_p(negative, positive)


def benjamini_hochberg(p_values: NDArray[np.floating] | list[float]) -> NDArray[np.float64]:
    """Benjamini–Hochberg adjusted p-values (q-values); NaN inputs stay NaN."""
    p = np.asarray(p_values, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        # the step-up of scipy.stats.false_discovery_control(method="bh"), without importing SciPy
        finite = p[ok]
        m = finite.size
        order = np.argsort(finite)
        ranked = finite[order] * (m / np.arange(1, m + 1))
        ranked = np.minimum.accumulate(ranked[::-1])[::-1]
        adjusted = np.empty(m)
        adjusted[order] = ranked
        q[ok] = np.clip(adjusted, 0.0, 1.0)
    return q


def holm(p_values: NDArray[np.floating] | list[float]) -> NDArray[np.float64]:
    """Holm's step-down adjusted p-values (familywise error control); NaN inputs stay NaN.

    >>> holm([0.01, 0.04, 0.03]).round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=float)
    return np.array(exact.holm(p.ravel().tolist()), dtype=float).reshape(p.shape)


def bootstrap_mean_interval(
    values: NDArray[np.floating],
    n_boot: int,
    level: float,
    rng: np.random.Generator,
    *,
    statistic: Callable[[NDArray[np.floating]], NDArray[np.floating]] | None = None,
    chunk: int = 20_000_000,
) -> Interval:
    """Paired bootstrap interval of the mean of ``values`` (resampling examples).

    Resampling is done in chunks so memory stays bounded (about ``chunk`` index draws at once:
    160 MB of indices and as much of resampled values); the draws, and so the interval, are the
    same whatever the chunk.
    ``statistic`` maps a (rows, n) matrix of resampled values to one number per row
    (default: the row mean).
    """
    values = np.asarray(values, dtype=float)
    n = values.size
    if n == 0:
        return None
    reducer = statistic or (lambda m: m.mean(axis=1))
    rows_per_chunk = max(1, min(n_boot, chunk // max(n, 1)))
    replicates: list[NDArray[np.floating]] = []
    done = 0
    while done < n_boot:
        rows = min(rows_per_chunk, n_boot - done)
        idx = rng.integers(0, n, size=(rows, n))
        replicates.append(reducer(values[idx]))
        done += rows
    return percentile_interval(np.concatenate(replicates), level)


#: Largest number of non-zero differences for which ``wilcoxon_p`` uses the exact distribution.
WILCOXON_EXACT_MAX = 50


@functools.lru_cache(maxsize=64)
def _signed_rank_counts(n: int) -> NDArray[np.float64]:
    """How many of the 2**n sign patterns of ranks 1..n give each positive-rank sum 0..n(n+1)/2."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1.0
    top = 0
    for rank in range(1, n + 1):
        counts[rank : top + rank + 1] += counts[: top + 1].copy()
        top += rank
    return counts


def wilcoxon_p(differences: NDArray[np.floating], epsilon: float = 0.0) -> float | None:
    """Two-sided Wilcoxon signed-rank p-value of paired differences; None when none is non-zero.

    Differences with ``|d| <= epsilon`` are ties (zeroed, as flips treat them) and are dropped
    (Wilcoxon's zero method). Up to ``WILCOXON_EXACT_MAX`` non-zero differences without tied
    magnitudes the exact null distribution is used; otherwise the normal approximation with
    the tie correction of the variance, without continuity correction (fast at any n; a
    permutation test for small samples with ties is never used). The same p-values as
    ``scipy.stats.wilcoxon(d, method="exact")`` and ``method="approx"`` respectively, computed
    with numpy alone (importing ``scipy.stats`` costs seconds).
    """
    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d)]
    d = d[np.abs(d) > max(float(epsilon), 0.0)]
    n = d.size
    if n == 0:
        return None
    magnitudes = np.abs(d)
    order = np.argsort(magnitudes, kind="stable")
    sorted_mag = magnitudes[order]
    # Average ranks of tied magnitudes: runs of equal values share the mean of their positions.
    starts = np.flatnonzero(np.r_[True, sorted_mag[1:] != sorted_mag[:-1]])
    sizes = np.diff(np.r_[starts, n])
    run_rank = starts + (sizes + 1) / 2.0
    ranks = np.empty(n)
    ranks[order] = np.repeat(run_rank, sizes)
    r_plus = float(ranks[d > 0].sum())
    if n <= WILCOXON_EXACT_MAX and sizes.size == n:
        counts = _signed_rank_counts(n)
        k = round(r_plus)
        total = counts.sum()
        lower = counts[: k + 1].sum() / total
        upper = counts[k:].sum() / total
        return float(min(1.0, 2.0 * min(lower, upper)))
    mean = n * (n + 1) / 4.0
    ties = float(np.sum(sizes.astype(float) ** 3 - sizes))
    se = math.sqrt((n * (n + 1) * (2 * n + 1) - ties / 2.0) / 24.0)
    if se == 0:
        return 1.0
    z = (r_plus - mean) / se
    return float(min(1.0, math.erfc(abs(z) / math.sqrt(2.0))))


#: Most intervals ``proportion_interval`` computes in pure Python rather than with SciPy.
FEW_INTERVALS = 64


def proportion_interval(
    successes: ArrayLike, trials: ArrayLike, level: float = 0.95, side: Side = "two-sided"
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Clopper–Pearson (exact binomial) interval of ``successes / trials``; vectorised.

    ``side="two-sided"`` puts ``(1 − level) / 2`` in each tail; ``"upper"`` gives the one-sided
    upper bound at ``level`` (the lower end is then 0) and ``"lower"`` the one-sided lower bound
    (the upper end is then 1). NaN where ``trials`` is 0.

    Up to ``FEW_INTERVALS`` intervals are computed in pure Python (``deltaeval.exact``), so a
    comparison without slices never imports SciPy; more go through SciPy's vectorised
    ``betaincinv``. The two agree to about 1e-12.

    >>> lo, hi = proportion_interval(0, 50)
    >>> float(lo), round(float(hi), 4)
    (0.0, 0.0711)
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    k, n = np.broadcast_arrays(k, n)
    counts = np.concatenate([k.ravel(), n.ravel()])
    if k.size <= FEW_INTERVALS and np.isfinite(counts).all() and (counts == np.round(counts)).all():
        pairs = [
            clopper_pearson(int(a), int(b), level, side)
            for a, b in zip(k.ravel().tolist(), n.ravel().tolist(), strict=True)
        ]
        low, high = (
            np.array([np.nan if pair is None else pair[i] for pair in pairs], dtype=float).reshape(k.shape)
            for i in (0, 1)
        )
        return low, high
    from scipy.special import betaincinv

    tail = (1.0 - level) / (2.0 if side == "two-sided" else 1.0)
    valid = (n > 0) & (k >= 0) & (k <= n)
    k_safe = np.where(valid, k, 0.0)
    n_safe = np.where(valid, n, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(k_safe > 0, betaincinv(np.maximum(k_safe, 1e-300), n_safe - k_safe + 1, tail), 0.0)
        high = np.where(
            k_safe < n_safe, betaincinv(k_safe + 1, np.maximum(n_safe - k_safe, 1e-300), 1.0 - tail), 1.0
        )
    if side == "upper":
        low = np.zeros_like(low)
    elif side == "lower":
        high = np.ones_like(high)
    nan = np.full(low.shape, np.nan)
    return np.where(valid, low, nan), np.where(valid, high, nan)


def proportion_ci(successes: int, trials: int, level: float = 0.95, side: Side = "two-sided") -> Interval:
    """``proportion_interval`` of one count as a ``(low, high)`` pair; None when ``trials`` is 0.

    Computed in pure Python (``deltaeval.exact``), so it loads neither SciPy nor anything heavy.
    """
    return clopper_pearson(successes, trials, level, side)


def _tango_statistic(
    negative: NDArray[np.float64], positive: NDArray[np.float64], n: NDArray[np.float64], delta: NDArray
) -> NDArray[np.float64]:
    """Tango's score statistic for H0: p(positive) − p(negative) = delta (decreasing in delta)."""
    b = negative
    c = positive
    a2 = 2.0 * n
    b2 = -b - c + (2.0 * n - c + b) * delta
    c2 = -b * delta * (1.0 - delta)
    # restricted maximum-likelihood estimate of p(negative) under the null
    p_neg = (np.sqrt(np.maximum(b2 * b2 - 4.0 * a2 * c2, 0.0)) - b2) / (2.0 * a2)
    variance = n * np.maximum(2.0 * p_neg + delta * (1.0 - delta), 0.0)
    numerator = c - b - n * delta
    # variance 0 happens only at delta = ±1, or at delta = 0 with no discordant pair (0 / 0: no
    # evidence against the null)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = numerator / np.sqrt(variance)
        edge = np.where(numerator == 0, 0.0, np.sign(numerator) * np.inf)
    return np.where(variance > 0, z, edge)


def paired_difference_interval(
    negative: ArrayLike,
    positive: ArrayLike,
    n: ArrayLike,
    level: float = 0.95,
    side: Side = "two-sided",
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Tango's score interval of a paired difference of proportions; vectorised.

    The difference is ``(positive − negative) / n``: for two runs scored on the same ``n``
    examples, ``positive`` examples went from wrong to right and ``negative`` from right to
    wrong, so it is accuracy(new) − accuracy(old). The interval is every difference that
    Tango's score test (Tango 1998) does not reject; it is found by bisection (60 halvings, well
    below 1e-12). ``side`` as in ``proportion_interval``: ``"upper"`` gives the one-sided upper
    bound at ``level`` (lower end −1), ``"lower"`` the one-sided lower bound (upper end 1).
    NaN where ``n`` is 0.

    >>> lo, hi = paired_difference_interval(0, 0, 50)
    >>> round(float(lo), 4), round(float(hi), 4)
    (-0.0713, 0.0713)
    """
    b, c, m = (np.asarray(v, dtype=float) for v in (negative, positive, n))
    b, c, m = np.broadcast_arrays(b, c, m)
    valid = (m > 0) & (b >= 0) & (c >= 0) & (b + c <= m)
    b = np.where(valid, b, 0.0)
    c = np.where(valid, c, 0.0)
    m = np.where(valid, m, 1.0)
    tail = (1.0 - level) / (2.0 if side == "two-sided" else 1.0)
    z = normal_quantile(1.0 - tail)

    def solve(target: float) -> NDArray[np.float64]:
        # the delta at which the (decreasing) statistic crosses ``target``
        low = np.full(b.shape, -1.0)
        high = np.full(b.shape, 1.0)
        for _ in range(60):
            mid = (low + high) / 2.0
            above = _tango_statistic(b, c, m, mid) > target
            low = np.where(above, mid, low)
            high = np.where(above, high, mid)
        return (low + high) / 2.0

    lower = solve(z) if side != "upper" else np.full(b.shape, -1.0)
    upper = solve(-z) if side != "lower" else np.full(b.shape, 1.0)
    nan = np.full(b.shape, np.nan)
    return np.where(valid, lower, nan), np.where(valid, upper, nan)


def paired_difference_ci(
    negative: int, positive: int, n: int, level: float = 0.95, side: Side = "two-sided"
) -> Interval:
    """``paired_difference_interval`` of one table as a ``(low, high)`` pair; None when n is 0."""
    return tango_interval(negative, positive, n, level, side)


def binomial_upper_tail_p(successes: ArrayLike, trials: ArrayLike, rate: float) -> NDArray[np.float64]:
    """One-sided exact binomial p-value of H0: p <= rate against p > rate: P(X >= successes)."""
    k, n = np.broadcast_arrays(np.asarray(successes, dtype=np.int64), np.asarray(trials, dtype=np.int64))
    p = [binomial_sf(int(a), int(b), rate) for a, b in zip(k.ravel(), n.ravel(), strict=True)]
    return np.array(p, dtype=float).reshape(k.shape)
