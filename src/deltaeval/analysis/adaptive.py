"""Adaptive judging: stop as soon as an anytime-valid confidence sequence excludes a tie.

**Setting.** Examples are judged one at a time in random order; each gives an outcome in [0, 1]
for new against old (1 = new better, 0.5 = tie; soft values allowed). After every outcome we
update a confidence sequence (CS) for the mean outcome μ and stop as soon as it excludes 0.5
(verdict ``new better`` or ``old better``) or the budget runs out (``undecided``).

**Method: betting confidence sequence** (Waudby-Smith & Ramdas, "Estimating means of bounded
random variables by betting", JRSS-B 2024, hedged capital process with the predictable plug-in
bets). For a candidate mean m, two gamblers bet on the outcomes::

    K⁺_t(m) = Π_{i≤t} (1 + λ⁺_i(m) (x_i − m)),   K⁻_t(m) = Π_{i≤t} (1 − λ⁻_i(m) (x_i − m))
    λ_t = sqrt(2 log(2/α) / (σ̂²_{t−1} t log(1 + t))),  λ⁺_t(m) = min(λ_t, c/m),  λ⁻_t(m) = min(λ_t, c/(1−m))
    μ̂_t = (1/2 + Σ_{i≤t} x_i) / (t + 1),  σ̂²_t = (1/4 + Σ_{i≤t} (x_i − μ̂_i)²) / (t + 1)

If the outcomes have conditional mean m, both capitals are non-negative martingales (the bets
use only the past and keep every factor positive since x ∈ [0, 1] and c < 1), so by Ville's
inequality P(∃t: max(K⁺_t(m), K⁻_t(m)) ≥ 2/α) ≤ α. The CS is
``{m : K⁺_t(m) < 2/α and K⁻_t(m) < 2/α}`` — an interval, because K⁺ falls and K⁻ rises with m.
Stopping when it excludes 0.5 is therefore a test whose chance of *ever* giving a verdict when
μ = 0.5 is at most α, however often it is checked; the verdict's direction is that of the
gambler who won (K⁺: μ > 0.5, new better). It needs no assumption beyond outcomes in [0, 1]
and adapts to their variance (ties and near-ties make it faster, not slower).

**A planned final look.** The number of examples that can be judged is known before judging
starts (the budget, or all the examples). ``final_share`` of alpha (default 0.25) is kept for one
fixed-sample test at that planned end; the confidence sequence runs at the rest,
``alpha_sequential = (1 − final_share) α``. When the sequence has not excluded the null by the
end, the two-sided one-sample t-test of the judged outcomes against the null decides at
``final_share · α``. By the union bound the chance of any verdict when μ = 0.5 is at most
α_sequential + final_share · α = α (the t-test part being the usual large-sample
approximation), so early stopping keeps its guarantee, and a difference that only the whole
budget can show is still called, as a fixed-n test on the same data would call it.
``final_share=0`` gives the pure sequential test.

**What a "call" is.** One call = one example judged. When each example is judged in both orders
(two judge requests), the two outcomes are first combined (``preference.combine_orders``) and
count as one call here; multiply by two for judge requests.

**Validity is about the population mean.** Shuffling a fixed set of examples that were drawn
i.i.d. from a population yields an i.i.d. stream, so the guarantee is for that population's mean
— the same target as a fixed-n t-test on all the examples.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps

NEW_BETTER = "new better"
OLD_BETTER = "old better"
UNDECIDED = "undecided"
STOP_EXCLUDED = "interval excludes the null"
STOP_BUDGET = "budget exhausted"
STOP_STREAM = "stream exhausted"
BY_SEQUENCE = "confidence sequence"
BY_FINAL_TEST = "final test"
DEFAULT_FINAL_SHARE = 0.25


@dataclass(frozen=True)
class AdaptiveResult:
    """Outcome of an adaptive comparison."""

    verdict: str  # "new better" | "old better" | "undecided"
    reason: str  # "interval excludes the null" | "budget exhausted" | "stream exhausted"
    n_calls: int  # examples judged
    budget: int | None
    mean: float  # mean outcome of the examples judged
    interval: tuple[float, float]  # the confidence sequence at the stop (level 1 − alpha_sequential)
    alpha: float  # total error rate: alpha_sequential + final share
    null: float
    alpha_sequential: float | None = None  # level of the confidence sequence (None: = alpha)
    final_p: float | None = None  # p-value of the final fixed-sample test, when it ran
    decided_by: str | None = None  # "confidence sequence" | "final test" | None (undecided)

    @property
    def decided(self) -> bool:
        return self.verdict != UNDECIDED


def _check_params(alpha: float, null: float, c: float, final_share: float = 0.0) -> None:
    if not 0 < alpha < 1:
        raise ValueError("alpha must lie in (0, 1)")
    if not 0 <= final_share < 1:
        raise ValueError("final_share must lie in [0, 1)")
    if not 0 < null < 1:
        raise ValueError("null must lie in (0, 1)")
    if not 0 < c < 1:
        raise ValueError("c (the bet cap) must lie in (0, 1)")


def final_test(outcomes: ArrayLike, null: float = 0.5) -> tuple[int, float]:
    """Two-sided one-sample t-test of the outcomes against ``null``: (direction, p-value).

    Direction is +1 when the mean is above the null, −1 below, 0 when equal. Constant outcomes
    (no variance for a t-test) get the exact sign-test p-value ``min(1, 2 · 0.5ⁿ)`` when they
    differ from the null and p = 1 when they equal it.
    """
    x = np.asarray(outcomes, dtype=float).ravel()
    if x.size < 2:
        return 0, 1.0
    diff = float(x.mean()) - null
    direction = int(np.sign(diff))
    if float(np.ptp(x)) == 0.0:
        return direction, min(1.0, 2.0 * 0.5**x.size) if direction else 1.0
    return direction, float(sps.ttest_1samp(x, null).pvalue)


def base_bet(t: int | NDArray, var_prev: float | NDArray, alpha: float) -> float | NDArray:
    """Predictable plug-in bet λ_t before the t-th outcome (t ≥ 1), from σ̂²_{t−1}."""
    return np.sqrt(2.0 * math.log(2.0 / alpha) / (var_prev * t * np.log1p(t)))


def _bets(lam: float | NDArray, m: float | NDArray, c: float) -> tuple[NDArray, NDArray]:
    """Bets of the two gamblers at candidate mean(s) m: min(λ, c/m) and min(λ, c/(1 − m))."""
    m = np.asarray(m, dtype=float)
    with np.errstate(divide="ignore"):
        up = np.minimum(lam, np.where(m > 0, c / m, np.inf))
        down = np.minimum(lam, np.where(m < 1, c / (1.0 - m), np.inf))
    return up, down


def log_capitals(
    outcomes: ArrayLike, m: float | ArrayLike, *, alpha: float = 0.05, c: float = 0.5
) -> tuple[NDArray, NDArray]:
    """log K⁺_t(m) and log K⁻_t(m) after all of ``outcomes`` (in order), for each m given.

    Exact replay of the betting process (O(t) per candidate m); used for the interval.
    """
    x = np.asarray(outcomes, dtype=float).ravel()
    m = np.atleast_1d(np.asarray(m, dtype=float))
    t = np.arange(1, x.size + 1)
    csum = np.cumsum(x)
    mu = (0.5 + csum) / (t + 1)  # μ̂_t
    var = (0.25 + np.cumsum((x - mu) ** 2)) / (t + 1)  # σ̂²_t
    var_prev = np.concatenate([[0.25], var[:-1]])
    lam = base_bet(t, var_prev, alpha)
    up, down = _bets(lam[None, :], m[:, None], c)
    dev = x[None, :] - m[:, None]
    return np.log1p(up * dev).sum(axis=1), np.log1p(-down * dev).sum(axis=1)


def _bisect_edge(excluded: Callable[[float], bool], out: float, keep: float, tol: float) -> float:
    """Bisect between an excluded point ``out`` and a kept one ``keep``; return the excluded end
    (so the interval is rounded outward)."""
    while abs(keep - out) > tol:
        mid = (out + keep) / 2
        if excluded(mid):
            out = mid
        else:
            keep = mid
    return out


def confidence_sequence(
    outcomes: ArrayLike, *, alpha: float = 0.05, c: float = 0.5, tol: float = 1e-9
) -> tuple[float, float]:
    """The betting CS for the mean after ``outcomes`` (in the order observed), as (low, high).

    Bounds found by bisection on the monotone capitals; each bound is rounded outward (the
    interval is never narrower than the exact set).
    """
    x = np.asarray(outcomes, dtype=float).ravel()
    threshold = math.log(2.0 / alpha)
    if x.size == 0:
        return (0.0, 1.0)

    def excluded_below(m: float) -> bool:  # K⁺ falls with m: the excluded set is [0, low)
        return float(log_capitals(x, m, alpha=alpha, c=c)[0][0]) >= threshold

    def excluded_above(m: float) -> bool:  # K⁻ rises with m: the excluded set is (high, 1]
        return float(log_capitals(x, m, alpha=alpha, c=c)[1][0]) >= threshold

    low = _bisect_edge(excluded_below, 0.0, 1.0, tol) if excluded_below(0.0) else 0.0
    high = _bisect_edge(excluded_above, 1.0, 0.0, tol) if excluded_above(1.0) else 1.0
    return (low, high)


class AdaptiveJudge:
    """Online adaptive comparison: feed outcomes one at a time, stop when told.

    ``observe(x)`` updates the capitals at the null and returns True once the comparison is
    over (verdict reached or budget spent); ``result()`` gives the verdict, the calls used, the
    stopping reason and the confidence sequence at that point. When the budget is spent, or
    ``result(stream_exhausted=True)`` says the examples ran out, the planned final test (see the
    module docstring) decides at ``final_share · alpha``. The object keeps every outcome (for the
    interval); nothing else is stored or printed.

    Examples
    --------
    >>> judge = AdaptiveJudge(alpha=0.05)
    >>> for _ in range(20):
    ...     if judge.observe(1.0):
    ...         break
    >>> judge.result().verdict, judge.result().n_calls
    ('new better', 10)
    """

    def __init__(
        self,
        *,
        alpha: float = 0.05,
        budget: int | None = None,
        null: float = 0.5,
        c: float = 0.5,
        final_share: float = DEFAULT_FINAL_SHARE,
    ) -> None:
        _check_params(alpha, null, c, final_share)
        if budget is not None and budget < 1:
            raise ValueError("budget must be at least 1 call")
        self.alpha = alpha
        self.budget = budget
        self.null = null
        self.c = c
        self.final_share = final_share
        self.alpha_sequential = alpha * (1.0 - final_share)
        self._threshold = math.log(2.0 / self.alpha_sequential)
        self._final_p: float | None = None
        self._decided_by: str | None = None
        self._outcomes: list[float] = []
        self._sum = 0.0
        self._var = 0.25  # σ̂²_{t}
        self._ssd = 0.0  # Σ (x_i − μ̂_i)²
        self._log_up = 0.0
        self._log_down = 0.0
        self._verdict = UNDECIDED
        self._reason: str | None = None

    @property
    def n_calls(self) -> int:
        return len(self._outcomes)

    @property
    def done(self) -> bool:
        return self._reason is not None

    def observe(self, outcome: float) -> bool:
        """Add one outcome in [0, 1]; True when the comparison is over."""
        if self.done:
            raise RuntimeError("the comparison is already over; start a new AdaptiveJudge")
        x = float(outcome)
        if not 0.0 <= x <= 1.0:
            raise ValueError(f"outcome {outcome!r} is outside [0, 1]")
        t = self.n_calls + 1
        lam = float(base_bet(t, self._var, self.alpha_sequential))
        up, down = _bets(lam, self.null, self.c)
        self._log_up += math.log1p(float(up) * (x - self.null))
        self._log_down += math.log1p(-float(down) * (x - self.null))
        self._outcomes.append(x)
        self._sum += x
        mu = (0.5 + self._sum) / (t + 1)
        self._ssd += (x - mu) ** 2
        self._var = (0.25 + self._ssd) / (t + 1)
        if max(self._log_up, self._log_down) >= self._threshold:
            self._verdict = NEW_BETTER if self._log_up >= self._log_down else OLD_BETTER
            self._reason = STOP_EXCLUDED
            self._decided_by = BY_SEQUENCE
        elif self.budget is not None and t >= self.budget:
            self.finish(STOP_BUDGET)
        return self.done

    def finish(self, reason: str = STOP_STREAM) -> None:
        """End at the planned end (budget spent or examples run out): run the final test."""
        if self.done:
            return
        self._reason = reason
        if self.final_share <= 0 or self.n_calls < 2:
            return
        direction, p = final_test(self._outcomes, self.null)
        self._final_p = p
        if direction and p < self.alpha * self.final_share:
            self._verdict = NEW_BETTER if direction > 0 else OLD_BETTER
            self._decided_by = BY_FINAL_TEST

    def interval(self) -> tuple[float, float]:
        """The confidence sequence for the mean outcome now (level 1 − alpha_sequential)."""
        return confidence_sequence(self._outcomes, alpha=self.alpha_sequential, c=self.c)

    def result(self, *, stream_exhausted: bool = False) -> AdaptiveResult:
        """The current state as a result (``stream_exhausted``: no more examples to judge)."""
        if stream_exhausted and not self.done:
            self.finish(STOP_STREAM)
        reason = self._reason or "running"
        n = self.n_calls
        return AdaptiveResult(
            verdict=self._verdict,
            reason=reason,
            n_calls=n,
            budget=self.budget,
            mean=self._sum / n if n else float("nan"),
            interval=self.interval(),
            alpha=self.alpha,
            null=self.null,
            alpha_sequential=self.alpha_sequential,
            final_p=self._final_p,
            decided_by=self._decided_by,
        )


def adaptive_compare(
    outcomes: ArrayLike,
    *,
    alpha: float = 0.05,
    budget: int | None = None,
    null: float = 0.5,
    c: float = 0.5,
    seed: int | None = None,
    final_share: float = DEFAULT_FINAL_SHARE,
) -> AdaptiveResult:
    """Run ``AdaptiveJudge`` over ``outcomes`` until it stops or they run out.

    The outcomes are used in the order given (shuffle first, or pass ``seed`` to have them
    shuffled here); NaN (no verdict) is skipped without counting a call.
    """
    x = np.asarray(outcomes, dtype=float).ravel()
    x = x[np.isfinite(x)]
    if seed is not None:
        x = x[np.random.default_rng(seed).permutation(x.size)]
    judge = AdaptiveJudge(alpha=alpha, budget=budget, null=null, c=c, final_share=final_share)
    for value in x:
        if judge.observe(value):
            break
    return judge.result(stream_exhausted=not judge.done)


@dataclass(frozen=True)
class BatchStops:
    """Stops of many streams at once: direction +1 (new better), −1 (old better), 0 (undecided)."""

    direction: NDArray[np.int64]  # (n_streams,)
    n_calls: NDArray[np.int64]  # calls used (the budget or stream length when not stopped early)
    by_final: NDArray[np.bool_]  # the verdict came from the final test at the planned end


def adaptive_stops(
    streams: ArrayLike,
    *,
    alpha: float = 0.05,
    budget: int | None = None,
    null: float = 0.5,
    c: float = 0.5,
    final_share: float = DEFAULT_FINAL_SHARE,
) -> BatchStops:
    """The same test as ``AdaptiveJudge`` on many streams at once, vectorised over streams.

    ``streams`` is (n_streams, length), each row one order of outcomes in [0, 1] (no NaN).
    Only the capitals at ``null`` are tracked (what the stopping rule needs), so it is cheap
    enough for thousands of simulated streams.
    """
    _check_params(alpha, null, c, final_share)
    x = np.asarray(streams, dtype=float)
    if x.ndim != 2:
        raise ValueError("streams must be a (n_streams, length) array")
    if np.any(~np.isfinite(x) | (x < 0) | (x > 1)):
        raise ValueError("stream outcomes must lie in [0, 1], no NaN")
    n_streams, length = x.shape
    horizon = length if budget is None else min(length, int(budget))
    alpha_seq = alpha * (1.0 - final_share)
    threshold = math.log(2.0 / alpha_seq)
    log_up = np.zeros(n_streams)
    log_down = np.zeros(n_streams)
    total = np.zeros(n_streams)
    ssd = np.zeros(n_streams)
    var = np.full(n_streams, 0.25)
    direction = np.zeros(n_streams, dtype=np.int64)
    calls = np.full(n_streams, horizon, dtype=np.int64)
    active = np.ones(n_streams, dtype=bool)
    for t in range(1, horizon + 1):
        xt = x[:, t - 1]
        lam = base_bet(t, var, alpha_seq)
        up, down = _bets(lam, null, c)
        dev = xt - null
        log_up = np.where(active, log_up + np.log1p(up * dev), log_up)
        log_down = np.where(active, log_down + np.log1p(-down * dev), log_down)
        total += xt
        mu = (0.5 + total) / (t + 1)
        ssd += (xt - mu) ** 2
        var = (0.25 + ssd) / (t + 1)
        hit = active & (np.maximum(log_up, log_down) >= threshold)
        if hit.any():
            direction[hit] = np.where(log_up[hit] >= log_down[hit], 1, -1)
            calls[hit] = t
            active &= ~hit
            if not active.any():
                break
    by_final = np.zeros(n_streams, dtype=bool)
    if final_share > 0 and active.any() and horizon >= 2:
        rows = x[active, :horizon]
        diff = rows.mean(axis=1) - null
        spread = np.ptp(rows, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            sign_p = min(1.0, 2.0 * 0.5**horizon)
            p = np.where(
                spread > 0, sps.ttest_1samp(rows, null, axis=1).pvalue, np.where(diff != 0, sign_p, 1.0)
            )
        decide = (p < alpha * final_share) & (diff != 0)
        idx = np.flatnonzero(active)[decide]
        direction[idx] = np.sign(diff[decide]).astype(np.int64)
        by_final[idx] = True
    return BatchStops(direction=direction, n_calls=calls, by_final=by_final)
