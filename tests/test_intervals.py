"""Exact and score intervals, Holm, and the ε-aware Wilcoxon test (deltaeval.stats)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize
from scipy import stats as sps

from deltaeval.analysis.continuous import continuous_stats
from deltaeval.stats import (
    _tango_statistic,
    binomial_upper_tail_p,
    holm,
    paired_difference_ci,
    paired_difference_interval,
    proportion_ci,
    proportion_interval,
    wilcoxon_p,
)


@pytest.mark.parametrize(
    ("k", "n"), [(0, 1), (0, 50), (1, 200), (3, 20), (20, 20), (57, 1000), (9999, 10000)]
)
def test_clopper_pearson_matches_scipy(k: int, n: int) -> None:
    reference = sps.binomtest(k, n).proportion_ci(0.95, method="exact")
    assert proportion_ci(k, n) == pytest.approx((reference.low, reference.high), abs=1e-12)
    one_sided = sps.binomtest(k, n).proportion_ci(0.90, method="exact")
    # a one-sided bound at 95% is the two-sided 90% interval's end
    assert proportion_ci(k, n, 0.95, "upper") == pytest.approx((0.0, one_sided.high), abs=1e-12)
    assert proportion_ci(k, n, 0.95, "lower") == pytest.approx((one_sided.low, 1.0), abs=1e-12)


def test_proportion_interval_edges() -> None:
    assert proportion_ci(0, 0) is None
    low, high = proportion_interval([0, 5, 3], [10, 5, 0])
    assert low[0] == 0.0 and high[1] == 1.0
    assert np.isnan(low[2]) and np.isnan(high[2])
    # 0 of 50 at 95% one-sided: 1 - 0.05 ** (1/50)
    assert proportion_ci(0, 50, side="upper")[1] == pytest.approx(1 - 0.05 ** (1 / 50))


def _restricted_mle(b: int, c: int, n: int, delta: float) -> float:
    """Maximise the multinomial likelihood over p(negative) with p(positive) = p(negative) + delta."""
    a = n - b - c

    def nll(p: float) -> float:
        q = p + delta
        rest = 1 - p - q
        return -(b * np.log(max(p, 1e-300)) + c * np.log(max(q, 1e-300)) + a * np.log(max(rest, 1e-300)))

    low = max(0.0, -delta) + 1e-12
    high = (1 - delta) / 2 - 1e-12
    return float(
        optimize.minimize_scalar(nll, bounds=(low, high), method="bounded", options={"xatol": 1e-12}).x
    )


@pytest.mark.parametrize(("b", "c", "n", "delta"), [(3, 10, 100, 0.02), (7, 1, 21, -0.1), (5, 5, 40, 0.2)])
def test_tango_statistic_uses_the_restricted_mle(b: int, c: int, n: int, delta: float) -> None:
    p = _restricted_mle(b, c, n, delta)
    expected = (c - b - n * delta) / np.sqrt(n * (2 * p + delta * (1 - delta)))
    got = float(_tango_statistic(np.array(float(b)), np.array(float(c)), np.array(float(n)), delta))
    assert got == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(("b", "c", "n"), [(0, 0, 20), (1, 7, 21), (3, 10, 100), (0, 20, 20), (40, 2, 60)])
def test_tango_interval_inverts_the_score_test(b: int, c: int, n: int) -> None:
    """The interval is exactly the set of differences the two-sided score test keeps."""
    lo, hi = paired_difference_ci(b, c, n)
    z = sps.norm.ppf(0.975)
    grid = np.linspace(-1 + 1e-9, 1 - 1e-9, 200_001)
    stat = _tango_statistic(np.full(grid.shape, float(b)), np.full(grid.shape, float(c)), float(n), grid)
    kept = grid[np.abs(stat) <= z]
    assert kept.min() == pytest.approx(lo, abs=2e-5) and kept.max() == pytest.approx(hi, abs=2e-5)
    assert lo <= (c - b) / n <= hi


def test_paired_difference_edges_and_sides() -> None:
    lo, hi = paired_difference_ci(0, 0, 50)
    assert lo == pytest.approx(-hi) and hi > 0.05  # no discordant pair still leaves uncertainty
    assert paired_difference_ci(0, 20, 20)[1] == pytest.approx(1.0)
    assert paired_difference_ci(3, 3, 0) is None
    two = paired_difference_ci(4, 12, 80, 0.90)
    assert paired_difference_ci(4, 12, 80, 0.95, "upper") == pytest.approx((-1.0, two[1]))
    assert paired_difference_ci(4, 12, 80, 0.95, "lower") == pytest.approx((two[0], 1.0))
    low, high = paired_difference_interval([1, 2], [2, 1], [10, 10])
    assert low[0] == pytest.approx(-high[1]) and high[0] == pytest.approx(-low[1])


def test_binomial_upper_tail_p() -> None:
    assert binomial_upper_tail_p(0, 30, 0.1) == 1.0
    assert float(binomial_upper_tail_p(5, 30, 0.05)) == pytest.approx(sps.binom.sf(4, 30, 0.05))


def test_holm_hand_computed() -> None:
    # sorted 0.01, 0.03, 0.04 -> 3 * 0.01, 2 * 0.03, 1 * 0.04, made monotone
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    q = holm([0.5, np.nan, 0.6])
    assert q[0] == pytest.approx(1.0) and np.isnan(q[1])


def test_wilcoxon_zeroes_differences_within_epsilon() -> None:
    """AlpacaEval-like preferences: 80 gains vs 79 losses beyond ε and 640 ties carrying noise of
    about 1e-4, most of it positive. Ranking the noise made the test "significant"."""
    rng = np.random.default_rng(0)
    gains = rng.uniform(0.2, 1.0, 80)
    losses = -rng.uniform(0.2, 1.0, 79)
    noise = np.abs(rng.normal(0, 1e-4, 640)) * np.where(rng.random(640) < 0.8, 1, -1)
    d = np.concatenate([gains, losses, noise])
    assert wilcoxon_p(d) < 0.01  # noise ranked as signal
    p = wilcoxon_p(d, epsilon=0.05)
    expected = sps.wilcoxon(np.concatenate([gains, losses]), method="approx").pvalue
    assert p == pytest.approx(expected) and p > 0.3
    old = np.full(d.size, 0.5)
    report = continuous_stats(old, old + d, epsilon=0.05, n_boot=200)
    assert (report.gains, report.losses) == (80, 79)
    assert report.wilcoxon_p == pytest.approx(p)


def test_wilcoxon_small_samples_with_ties_use_the_normal_approximation() -> None:
    d = np.array([1.0, 1.0, 2.0, -1.0, 2.0, 3.0, -2.0, 1.0, 1.0, 0.0])
    assert wilcoxon_p(d) == pytest.approx(sps.wilcoxon(d[d != 0], method="approx").pvalue)
    # without ties, small samples get the exact distribution
    e = np.array([0.5, 1.5, -0.25, 2.5, 3.5, 4.5])
    assert wilcoxon_p(e) == pytest.approx(sps.wilcoxon(e, method="exact").pvalue)
    assert wilcoxon_p(np.zeros(5)) is None
    assert wilcoxon_p(np.array([1e-5, -1e-5]), epsilon=1e-4) is None
