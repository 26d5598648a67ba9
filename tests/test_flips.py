"""Flip analytics on hand-computed cases and their identities (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deltaeval.analysis.flips import cell_codes, cell_counts, flip_stats, rates_from_counts
from deltaeval.stats import bootstrap_counts, mcnemar_exact, percentile_interval

# (old correct, new correct, same output) for eight examples, counted by hand below
CASE = [
    (1, 1, 1),
    (1, 1, 0),  # both right, different wording
    (1, 0, 0),  # negative flip
    (1, 0, 0),  # negative flip
    (0, 1, 0),  # positive flip
    (0, 0, 1),  # both wrong, same answer
    (0, 0, 0),  # both wrong, different answers
    (1, 1, 1),
]


def _case_arrays():
    arr = np.array(CASE, dtype=bool)
    return arr[:, 0], arr[:, 1], arr[:, 2]


def test_hand_computed_rates() -> None:
    co, cn, same = _case_arrays()
    s = flip_stats(co, cn, same)
    assert (s.n, s.negative, s.positive, s.both_correct, s.both_wrong) == (8, 2, 1, 3, 2)
    e = s.estimates
    assert e["accuracy_old"] == pytest.approx(5 / 8)
    assert e["accuracy_new"] == pytest.approx(4 / 8)
    assert e["delta"] == pytest.approx(-1 / 8)
    assert e["nfr"] == pytest.approx(2 / 8)
    assert e["pfr"] == pytest.approx(1 / 8)
    assert e["churn"] == pytest.approx(5 / 8)
    assert e["nfr_mc"] == pytest.approx(3 / 8)
    assert e["btc"] == pytest.approx(3 / 5)
    assert e["bec"] == pytest.approx(1 / 4)
    # exact McNemar on 2 vs 1 discordant pairs: 2 * P(X <= 1 | n=3, p=1/2) = 2 * 4/8 -> 1
    assert s.mcnemar_p == pytest.approx(1.0)
    # exact binomial interval of 2 of 8: Beta(0.025; 2, 7) and Beta(0.975; 3, 6)
    assert s.intervals["nfr"] == pytest.approx((0.031854, 0.650855), abs=1e-6)


def test_rates_without_outputs_are_undefined() -> None:
    co, cn, _ = _case_arrays()
    s = flip_stats(co, cn, None)
    assert s.estimates["churn"] is None and s.intervals["churn"] is None
    assert s.estimates["nfr_mc"] is None and s.estimates["bec"] is None
    assert s.estimates["nfr"] == pytest.approx(2 / 8)
    assert s.intervals["nfr"] is not None


def test_btc_undefined_when_old_never_right() -> None:
    s = flip_stats([False, False, False], [True, False, False], [False, True, True])
    assert s.estimates["btc"] is None
    assert s.estimates["bec"] == pytest.approx(1.0)


def test_mcnemar_exact_values() -> None:
    # 10 negative vs 2 positive: 2 * (C(12,0) + C(12,1) + C(12,2)) / 2**12
    assert mcnemar_exact(10, 2) == pytest.approx(2 * (1 + 12 + 66) / 4096)
    assert mcnemar_exact(2, 10) == pytest.approx(mcnemar_exact(10, 2))
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 7) == pytest.approx(2 / 2**7)


def test_verdict() -> None:
    co = np.array([True] * 40 + [False] * 60)
    cn = co.copy()
    cn[:30] = False  # 30 negative flips, no positive flips
    s = flip_stats(co, cn)
    assert s.verdict(0.05) == "regressed"
    s2 = flip_stats(cn, co)
    assert s2.verdict(0.05) == "improved"
    s3 = flip_stats(co, co)
    assert s3.verdict(0.05) == "no significant change"


def test_no_negative_flip_of_50_has_an_honest_upper_bound() -> None:
    """0 of 50 negative flips: the bootstrap said [0, 0]; the exact 95% upper bound is 7.1%."""
    co = np.ones(50, dtype=bool)
    s = flip_stats(co, co, np.ones(50, dtype=bool))
    assert s.intervals["nfr"][0] == 0.0
    assert s.intervals["nfr"][1] == pytest.approx(1 - 0.025 ** (1 / 50))  # 0.0711
    assert s.intervals["nfr"][1] == pytest.approx(0.0711, abs=1e-4)
    # the accuracy difference with no discordant pair still has a width
    lo, hi = s.intervals["delta"]
    assert lo < 0 < hi and hi == pytest.approx(-lo)
    # every old answer right: accuracy's interval reaches 1 and its lower end is the exact one
    assert s.intervals["accuracy_old"] == pytest.approx((0.025 ** (1 / 50), 1.0))


def test_one_of_200_matches_the_exact_interval() -> None:
    co = np.ones(200, dtype=bool)
    cn = co.copy()
    cn[0] = False
    s = flip_stats(co, cn, co == cn)
    lo, hi = s.intervals["nfr"]
    assert hi == pytest.approx(0.02754, abs=1e-5)  # the bootstrap gave 1.5%
    assert lo == pytest.approx(0.000127, abs=1e-6)
    from scipy import stats as sps

    reference = sps.binomtest(1, 200).proportion_ci(0.95, method="exact")
    assert (lo, hi) == pytest.approx((reference.low, reference.high))


def test_intervals_are_deterministic() -> None:
    rng = np.random.default_rng(1)
    co, cn = rng.random(500) < 0.7, rng.random(500) < 0.6
    assert flip_stats(co, cn).intervals == flip_stats(co, cn).intervals


def test_count_bootstrap_matches_example_bootstrap() -> None:
    """Multinomial resampling of cell counts equals resampling examples (same distribution)."""
    rng = np.random.default_rng(3)
    n = 400
    co = rng.random(n) < 0.75
    cn = np.where(rng.random(n) < 0.15, ~co, co)
    codes = cell_codes(co, cn, co == cn)
    by_counts = rates_from_counts(bootstrap_counts(cell_counts(codes), 6000, rng))["nfr"]
    idx = rng.integers(0, n, size=(6000, n))
    by_examples = (co[idx] & ~cn[idx]).mean(axis=1)
    lo1, hi1 = percentile_interval(by_counts, 0.95)
    lo2, hi2 = percentile_interval(by_examples, 0.95)
    assert abs(lo1 - lo2) < 0.006 and abs(hi1 - hi2) < 0.006
    assert by_counts.mean() == pytest.approx(by_examples.mean(), abs=0.002)


def test_percentile_interval_level() -> None:
    samples = np.arange(1001, dtype=float)
    assert percentile_interval(samples, 0.9) == pytest.approx((50.0, 950.0))
    assert percentile_interval(np.full(10, np.nan), 0.95) is None


paired = st.lists(st.tuples(st.booleans(), st.booleans(), st.booleans()), min_size=1, max_size=300)


def _arrays(rows):
    arr = np.array(rows, dtype=bool).reshape(-1, 3)
    co, cn = arr[:, 0], arr[:, 1]
    # a changed verdict implies a changed output; equal verdicts may or may not share the output
    same = np.where(co != cn, False, arr[:, 2])
    return co, cn, same


@settings(max_examples=150, deadline=None)
@given(paired)
def test_identities(rows) -> None:
    co, cn, same = _arrays(rows)
    s = flip_stats(co, cn, same)
    e = s.estimates
    assert e["nfr"] - e["pfr"] == pytest.approx(e["accuracy_old"] - e["accuracy_new"])
    assert e["delta"] == pytest.approx(e["accuracy_new"] - e["accuracy_old"])
    assert s.negative + s.positive + s.both_correct + s.both_wrong == s.n == len(rows)
    assert e["churn"] >= e["nfr"] + e["pfr"] - 1e-12
    assert e["nfr_mc"] <= e["churn"] + 1e-12
    assert e["nfr_mc"] <= 1 - e["accuracy_new"] + 1e-12
    for name in ("btc", "bec"):
        assert e[name] is None or 0.0 <= e[name] <= 1.0
    if e["btc"] is not None:
        assert e["btc"] == pytest.approx(1 - e["nfr"] / e["accuracy_old"])


@settings(max_examples=100, deadline=None)
@given(paired)
def test_interval_contains_estimate(rows) -> None:
    co, cn, same = _arrays(rows)
    s = flip_stats(co, cn, same)
    for name in ("nfr", "pfr", "delta", "accuracy_old", "accuracy_new", "churn", "nfr_mc", "btc", "bec"):
        interval, estimate = s.intervals[name], s.estimates[name]
        if estimate is None or interval is None:  # ratios undefined when their denominator is 0
            assert name in ("btc", "bec") and estimate is None and interval is None
            continue
        assert interval[0] - 1e-12 <= estimate <= interval[1] + 1e-12, (name, estimate, interval)
        # proportions stay in [0, 1], the difference in [-1, 1]; the interval has a width
        assert (-1.0 if name == "delta" else 0.0) <= interval[0] < interval[1] <= 1.0
