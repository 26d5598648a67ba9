"""The pure-Python statistics the gate decides with (deltaeval.exact) agree with SciPy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special
from scipy import stats as sps

from deltaeval.exact import betainc, binomial_sf, clopper_pearson, holm, mcnemar_p, tango_interval
from deltaeval.stats import (
    _tango_statistic,
    benjamini_hochberg,
    paired_difference_interval,
    proportion_interval,
)

COUNTS = [(0, 1), (1, 1), (0, 50), (1, 200), (3, 20), (20, 20), (18, 805), (57, 1000), (9999, 10000)]
COUNTS += [(30_000, 100_000), (5, 100_000)]


@pytest.mark.parametrize(("k", "n"), COUNTS)
@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
@pytest.mark.parametrize("side", ["two-sided", "upper", "lower"])
def test_clopper_pearson_matches_scipy(k: int, n: int, level: float, side: str) -> None:
    tail = (1 - level) / (2 if side == "two-sided" else 1)
    low = 0.0 if k == 0 or side == "upper" else special.betaincinv(k, n - k + 1, tail)
    high = 1.0 if k == n or side == "lower" else special.betaincinv(k + 1, n - k, 1 - tail)
    assert clopper_pearson(k, n, level, side) == pytest.approx((low, high), abs=1e-12)


def test_clopper_pearson_edges() -> None:
    assert clopper_pearson(0, 0) is None
    assert clopper_pearson(5, 4) is None
    assert clopper_pearson(0, 50, 0.95, "upper") == pytest.approx((0.0, 1 - 0.05 ** (1 / 50)), abs=1e-15)
    assert clopper_pearson(50, 50, 0.95, "lower") == pytest.approx((0.05 ** (1 / 50), 1.0), abs=1e-15)


@pytest.mark.parametrize(
    ("a", "b", "x", "rel"),
    [
        (1, 1, 0.3, 1e-12),
        (2, 3, 0.5, 1e-12),
        (0.5, 0.5, 0.9, 1e-12),
        (10, 990, 0.01, 1e-12),
        (57, 944, 0.07, 1e-12),
        (3e3, 9.7e4, 0.03, 1e-9),
        # a million trials: both lose about 1e-9 to the log-gamma terms
        (5e4, 9.5e5, 0.05, 5e-9),
    ],
)
def test_betainc_matches_scipy(a: float, b: float, x: float, rel: float) -> None:
    assert betainc(a, b, x) == pytest.approx(special.betainc(a, b, x), rel=rel, abs=1e-15)


@pytest.mark.parametrize(
    ("k", "n", "p"),
    [(0, 30, 0.1), (5, 30, 0.05), (1, 1, 0.5), (10, 1000, 0.01), (200, 1000, 0.1), (31, 40, 0.9)],
)
def test_binomial_tail_matches_scipy(k: int, n: int, p: float) -> None:
    assert binomial_sf(k, n, p) == pytest.approx(sps.binom.sf(k - 1, n, p), rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 20, 51, 805])
def test_mcnemar_matches_scipy_binomtest(n: int) -> None:
    for positive in sorted({0, 1, n // 3, n // 2, n - 1, n}):
        expected = sps.binomtest(positive, n, 0.5).pvalue
        assert mcnemar_p(n - positive, positive) == pytest.approx(expected, abs=1e-12)
    assert mcnemar_p(0, 0) == 1.0


@pytest.mark.parametrize(("b", "c", "n"), [(0, 0, 20), (1, 7, 21), (3, 10, 100), (0, 20, 20), (18, 26, 805)])
@pytest.mark.parametrize("side", ["two-sided", "upper", "lower"])
def test_tango_matches_the_vectorised_interval(b: int, c: int, n: int, side: str) -> None:
    low, high = paired_difference_interval(b, c, n, 0.95, side)
    assert tango_interval(b, c, n, 0.95, side) == pytest.approx((float(low), float(high)), abs=1e-12)
    # the z of the bound is the normal quantile SciPy gives
    if side == "lower" and float(low) > -1:
        z = float(_tango_statistic(np.array(float(b)), np.array(float(c)), np.array(float(n)), float(low)))
        assert z == pytest.approx(sps.norm.ppf(0.95), abs=1e-6)


def test_holm_and_bh_match_scipy() -> None:
    rng = np.random.default_rng(0)
    p = rng.random(40) ** 3
    expected = np.minimum(1, np.maximum.accumulate((40 - np.arange(40)) * np.sort(p)))
    assert sorted(holm(p.tolist())) == pytest.approx(expected.tolist(), abs=1e-15)
    assert math.isnan(holm([0.1, math.nan])[1])
    assert benjamini_hochberg(p) == pytest.approx(sps.false_discovery_control(p, method="bh"), abs=1e-15)


def test_few_intervals_in_pure_python_match_many_through_scipy() -> None:
    k = np.array([0, 5, 3, 57, 1000, 2, 7])
    n = np.array([10, 5, 0, 1000, 1000, 1, 20])
    few = proportion_interval(k, n)  # pure Python
    many = proportion_interval(np.tile(k, 20), np.tile(n, 20))  # SciPy
    for a, b in zip(few, many, strict=True):
        np.testing.assert_allclose(a, b[: k.size], atol=1e-12, equal_nan=True)
    # counts that are not whole numbers (or not finite) go through SciPy as before
    low, high = proportion_interval([2.5, np.inf], [10, 4])
    assert 0 < low[0] < high[0] < 1 and np.isnan(low[1])
