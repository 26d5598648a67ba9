"""Exact binomial bounds, binomial tails, Tango's paired bound and Holm, in pure Python (``math``).

The scalar statistics a CI gate decides with, free of numpy and SciPy so that ``deltaeval gate``
starts in a fraction of a second. ``deltaeval.stats`` (the vectorised helpers the analyses use)
delegates its one-table functions here, so a report and the gate compute the same numbers.

- ``betainc``: the regularized incomplete beta function I_x(a, b), by its continued fraction
  (modified Lentz), with the front factor from ``math.lgamma``: within about 1e-13 of SciPy up
  to 10^4 trials, 1e-9 at 10^6 (where SciPy's own error is of that size; tests check it).
- ``clopper_pearson``: the exact binomial interval, each end the root of ``betainc`` (the
  binomial CDF), found by safeguarded Newton steps (``betaincinv``).
- ``binomial_sf``: P(X >= k) for X ~ Binomial(n, p), the exact one-sided binomial p-value.
- ``tango_interval``: Tango's score interval of a paired difference of proportions.
- ``holm``: Holm's step-down adjustment of a list of p-values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Literal

Side = Literal["two-sided", "upper", "lower"]

_TINY = 1e-300
_EPS = 1e-16
_MAX_TERMS = 100_000
_HALVINGS = 200  # most steps of the root finder; it stops once x no longer moves


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b) (Numerical Recipes' ``betacf``, modified Lentz)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, _MAX_TERMS):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        step = d * c
        h *= step
        if abs(step - 1.0) < _EPS:
            return h
    return h  # pragma: no cover - converges in O(sqrt(max(a, b))) terms


def _log_front(a: float, b: float, x: float) -> float:
    """log(x^a (1 − x)^b / B(a, b)), for 0 < x < 1."""
    return math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b) for a, b > 0 and 0 <= x <= 1.

    >>> round(betainc(2.0, 3.0, 0.5), 12)
    0.6875
    """
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(_log_front(a, b, x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1.0 - x) / b


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p): the exact one-sided p-value of "rate <= p" against "above".

    >>> round(binomial_sf(2, 3, 0.5), 12)
    0.5
    """
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    return betainc(float(k), float(n - k + 1), p)


def betaincinv(a: float, b: float, target: float) -> float:
    """The x in (0, 1) with I_x(a, b) = ``target``: Newton steps kept inside a shrinking bracket.

    A step that leaves the bracket is replaced by bisection, so it converges from any start;
    it stops when a step no longer moves x (about six steps from the mean).
    """
    low, high = 0.0, 1.0
    x = a / (a + b)
    for _ in range(_HALVINGS):
        error = betainc(a, b, x) - target
        if error == 0.0:
            return x
        if error < 0.0:
            low = x
        else:
            high = x
        density = math.exp(_log_front(a, b, x)) / (x * (1.0 - x))
        step = error / density if density > 0.0 else math.inf
        new = x - step
        if not low < new < high:
            new = (low + high) / 2.0
        if new == x or abs(new - x) <= 4 * _EPS * x or new in (low, high):
            return new
        x = new
    return x


def clopper_pearson(
    successes: int, trials: int, level: float = 0.95, side: Side = "two-sided"
) -> tuple[float, float] | None:
    """Clopper–Pearson (exact binomial) interval of ``successes / trials``; None when trials is 0.

    ``side="two-sided"`` puts ``(1 − level) / 2`` in each tail; ``"upper"`` gives the one-sided
    upper bound at ``level`` (lower end 0), ``"lower"`` the one-sided lower bound (upper end 1).

    >>> low, high = clopper_pearson(0, 50, 0.95, "upper")
    >>> low, round(high, 6)
    (0.0, 0.058155)
    """
    k, n = int(successes), int(trials)
    if n <= 0 or not 0 <= k <= n:
        return None
    tail = (1.0 - level) / (2.0 if side == "two-sided" else 1.0)
    low, high = 0.0, 1.0
    if side != "upper" and k > 0:
        # the p at which P(X >= k) = tail
        low = tail ** (1.0 / n) if k == n else betaincinv(k, n - k + 1, tail)
    if side != "lower" and k < n:
        # the p at which P(X <= k) = tail, i.e. I_p(k + 1, n − k) = 1 − tail; at k = 0 it is
        # 1 − tail^(1/n), written without cancellation
        high = -math.expm1(math.log(tail) / n) if k == 0 else betaincinv(k + 1, n - k, 1.0 - tail)
    return (low, high)


def normal_quantile(p: float) -> float:
    """The standard normal quantile (the inverse of its CDF) at ``p`` in (0, 1)."""
    return NormalDist().inv_cdf(p)


def tango_statistic(negative: float, positive: float, n: float, delta: float) -> float:
    """Tango's score statistic for H0: p(positive) − p(negative) = delta (decreasing in delta).

    ``deltaeval.stats._tango_statistic`` is the same formula over numpy arrays.
    """
    b, c = negative, positive
    a2 = 2.0 * n
    b2 = -b - c + (2.0 * n - c + b) * delta
    c2 = -b * delta * (1.0 - delta)
    # restricted maximum-likelihood estimate of p(negative) under the null
    p_neg = (math.sqrt(max(b2 * b2 - 4.0 * a2 * c2, 0.0)) - b2) / (2.0 * a2)
    variance = n * max(2.0 * p_neg + delta * (1.0 - delta), 0.0)
    numerator = c - b - n * delta
    if variance > 0:
        return numerator / math.sqrt(variance)
    # only at delta = ±1, or at delta = 0 with no discordant pair (0 / 0: no evidence against H0)
    return 0.0 if numerator == 0 else math.copysign(math.inf, numerator)


def _tango_crossing(b: float, c: float, n: float, target: float) -> float:
    """The delta at which Tango's (decreasing) statistic crosses ``target`` (60 halvings)."""
    low, high = -1.0, 1.0
    for _ in range(60):
        mid = (low + high) / 2.0
        if tango_statistic(b, c, n, mid) > target:
            low = mid
        else:
            high = mid
    return (low + high) / 2.0


def tango_interval(
    negative: int, positive: int, n: int, level: float = 0.95, side: Side = "two-sided"
) -> tuple[float, float] | None:
    """Tango's score interval of ``(positive − negative) / n``; None when n is 0 or counts are off.

    ``side`` as in ``clopper_pearson`` (``"upper"``: lower end −1; ``"lower"``: upper end 1).
    """
    b, c, m = float(negative), float(positive), float(n)
    if m <= 0 or b < 0 or c < 0 or b + c > m:
        return None
    tail = (1.0 - level) / (2.0 if side == "two-sided" else 1.0)
    z = normal_quantile(1.0 - tail)
    lower = _tango_crossing(b, c, m, z) if side != "upper" else -1.0
    upper = _tango_crossing(b, c, m, -z) if side != "lower" else 1.0
    return (lower, upper)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (familywise error control); NaN inputs stay NaN.

    >>> [round(q, 3) for q in holm([0.01, 0.04, 0.03])]
    [0.03, 0.06, 0.06]
    """
    p = [float(v) for v in p_values]
    out = [math.nan] * len(p)
    order = sorted((i for i, v in enumerate(p) if math.isfinite(v)), key=lambda i: p[i])
    m = len(order)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, (m - rank) * p[i])
        out[i] = min(running, 1.0)
    return out


def mcnemar_p(negative: int, positive: int) -> float:
    """Two-sided exact McNemar p-value: the binomial test of the discordant pairs against 1/2.

    Twice the smaller tail of Binomial(negative + positive, 1/2), at most 1; 1.0 with no
    discordant pair (the same as SciPy's ``binomtest(positive, n, 0.5).pvalue``).

    >>> mcnemar_p(0, 5)
    0.0625
    """
    n = int(negative) + int(positive)
    smaller = min(int(negative), int(positive))
    if n == 0 or 2 * smaller >= n - 1:
        return 1.0
    # P(X <= smaller) = P(X >= n − smaller) by symmetry
    return min(1.0, 2.0 * binomial_sf(n - smaller, n, 0.5))
