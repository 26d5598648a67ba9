"""Continuous score changes, per-tag slices and Benjamini–Hochberg, on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from deltaeval.analysis.continuous import continuous_stats, default_epsilon
from deltaeval.analysis.flips import cell_codes
from deltaeval.analysis.slices import slice_stats
from deltaeval.stats import benjamini_hochberg, bootstrap_mean_interval


def test_continuous_hand_computed() -> None:
    old = np.array([0.5, 0.5, 0.9, 0.2, 0.7])
    new = np.array([0.8, 0.52, 0.4, 0.2, 0.6])
    # D = [0.3, 0.02, -0.5, 0, -0.1]; with eps = 0.05: gains {0.3}, losses {-0.5, -0.1}
    c = continuous_stats(old, new, epsilon=0.05, n_boot=500, seed=1)
    assert (c.gains, c.losses, c.ties) == (1, 2, 2)
    assert c.mean_gain == pytest.approx(0.3)
    assert c.mean_loss == pytest.approx(-0.3)
    assert c.mean_delta == pytest.approx((0.3 + 0.02 - 0.5 + 0 - 0.1) / 5)
    assert c.old_mean == pytest.approx(old.mean()) and c.new_mean == pytest.approx(new.mean())
    lo, hi = c.mean_delta_ci
    assert lo <= c.mean_delta <= hi
    assert c.gain_rate == pytest.approx(0.2) and c.loss_rate == pytest.approx(0.4)


def test_continuous_no_gain_means_none() -> None:
    c = continuous_stats([0.5, 0.6], [0.5, 0.6], epsilon=0.0, n_boot=10)
    assert c.mean_gain is None and c.mean_loss is None and c.wilcoxon_p is None


def test_default_epsilon() -> None:
    assert default_epsilon(np.array([0, 1, 1.0]), np.array([1, 0, 0.0])) == 0.0
    assert default_epsilon(np.array([0.0, 0.5]), np.array([1.0, 0.2])) == pytest.approx(0.05)


def test_bootstrap_mean_interval_chunks_agree() -> None:
    values = np.random.default_rng(0).normal(1.0, 1.0, size=300)
    whole = bootstrap_mean_interval(values, 500, 0.95, np.random.default_rng(5))
    chunked = bootstrap_mean_interval(values, 500, 0.95, np.random.default_rng(5), chunk=300 * 7)
    assert whole == pytest.approx(chunked)
    assert whole[0] < 1.0 < whole[1]


def test_benjamini_hochberg_hand_computed() -> None:
    p = [0.01, 0.04, 0.03, 0.5]
    # sorted 0.01, 0.03, 0.04, 0.5; p*m/rank = 0.04, 0.06, 0.0533, 0.5; made monotone from the top
    assert benjamini_hochberg(p) == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.5])
    q = benjamini_hochberg([0.2, np.nan])
    assert q[0] == pytest.approx(0.2) and np.isnan(q[1])


def test_slices_find_the_regressed_value() -> None:
    n = 300
    tags = np.array(["a"] * 100 + ["b"] * 100 + ["c"] * 100)
    co = np.ones(n, dtype=bool)
    cn = co.copy()
    cn[100:140] = False  # 40 negative flips, all in "b"
    cn[0:2] = False  # 2 in "a"
    codes = cell_codes(co, cn, co == cn)
    table = slice_stats("group", codes, tags)
    rows = {r.value: r for r in table.rows}
    assert [r.value for r in table.rows] == ["a", "b", "c"]
    assert rows["b"].stats.negative == 40 and rows["b"].stats.n == 100
    assert rows["b"].stats.estimates["nfr"] == pytest.approx(0.4)
    assert rows["b"].regressed and not rows["a"].regressed and not rows["c"].regressed
    assert rows["c"].stats.mcnemar_p == 1.0
    # q-values are BH over the three McNemar p-values
    expected_q = benjamini_hochberg([r.stats.mcnemar_p for r in table.rows])
    assert [r.q_value for r in table.rows] == pytest.approx(list(expected_q))
    assert table.method == "benjamini-hochberg"
