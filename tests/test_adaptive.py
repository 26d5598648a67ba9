"""Adaptive judging with a betting confidence sequence: hand cases, validity, power."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from deltaeval.analysis.adaptive import (
    AdaptiveJudge,
    adaptive_compare,
    adaptive_stops,
    base_bet,
    confidence_sequence,
    log_capitals,
)

LOG40 = math.log(40.0)  # log(2 / alpha) for alpha = 0.05


def test_first_bets_by_hand() -> None:
    # before the first outcome sigma^2_0 = 1/4: lambda_1 = sqrt(2 log 40 / (1/4 * 1 * log 2))
    assert base_bet(1, 0.25, 0.05) == pytest.approx(math.sqrt(2 * LOG40 / (0.25 * math.log(2))))
    # after x1 = 1: mu_1 = (1/2 + 1)/2 = .75, sigma^2_1 = (1/4 + (1 - .75)^2) / 2 = .15625
    lam2 = math.sqrt(2 * LOG40 / (0.15625 * 2 * math.log(3)))
    assert lam2 == pytest.approx(4.6357, abs=1e-4)
    # at m = 0.5 both bets are capped at c/m = c/(1-m) = 1: K+ = 1.5 * 0.5, K- = 0.5 * 1.5
    up, down = log_capitals([1.0, 0.0], 0.5)
    assert up[0] == pytest.approx(math.log(0.75)) and down[0] == pytest.approx(math.log(0.75))
    # at m = 0.2: caps 2.5 (up) and 0.625 (down); lambda_1, lambda_2 exceed both
    up, down = log_capitals([1.0, 0.0], 0.2)
    assert up[0] == pytest.approx(math.log((1 + 2.5 * 0.8) * (1 - 2.5 * 0.2)))  # 3 * 0.5
    assert down[0] == pytest.approx(math.log((1 - 0.625 * 0.8) * (1 + 0.625 * 0.2)))  # .5 * 1.125


def test_all_wins_stop_after_ten_calls() -> None:
    # capped bets of 1: K+ = 1.5^t; the sequence runs at 0.75 * 0.05 (a quarter kept for the
    # final test): 1.5^9 = 38.4 < 2 / 0.0375 = 53.3 <= 1.5^10 = 57.7
    r = adaptive_compare(np.ones(50))
    assert (r.verdict, r.n_calls, r.reason) == ("new better", 10, "interval excludes the null")
    assert r.interval[0] > 0.5 and r.interval[1] == 1.0
    loss = adaptive_compare(np.zeros(50))
    assert (loss.verdict, loss.n_calls) == ("old better", 10)
    assert loss.interval[1] < 0.5
    # nine straight wins: the sequence has not separated yet, but the planned final test does
    # (exact sign test p = 2 * 0.5**9 = 0.0039 < 0.25 * 0.05); without a final look: undecided
    nine = adaptive_compare(np.ones(9))
    assert (nine.verdict, nine.reason, nine.decided_by) == ("new better", "stream exhausted", "final test")
    assert nine.final_p == pytest.approx(2 * 0.5**9)
    assert nine.interval[0] <= 0.5  # the confidence sequence itself did not exclude the null
    assert adaptive_compare(np.ones(9), final_share=0).verdict == "undecided"
    # five wins: p = 0.0625 is not below 0.0125
    assert adaptive_compare(np.ones(5)).verdict == "undecided"


def test_final_test_at_the_planned_end() -> None:
    # a small steady edge: the sequence cannot separate it in 300 calls, the final t-test can
    rng = np.random.default_rng(7)
    x = np.clip(rng.normal(0.56, 0.2, 300), 0, 1)
    p = float(sps.ttest_1samp(x, 0.5).pvalue)
    assert p < 0.0125
    seq_only = adaptive_compare(x, final_share=0)
    r = adaptive_compare(x)
    assert seq_only.verdict == "undecided" and r.n_calls == 300
    assert (r.verdict, r.decided_by) == ("new better", "final test")
    assert r.final_p == pytest.approx(p)
    assert r.alpha_sequential == pytest.approx(0.0375) and r.alpha == 0.05
    # the budget is a planned end too
    b = adaptive_compare(x, budget=300)
    assert (b.reason, b.verdict) == ("budget exhausted", "new better")
    # the same decision in the vectorised simulator
    batch = adaptive_stops(x[None, :])
    assert batch.direction[0] == 1 and batch.by_final[0] and batch.n_calls[0] == 300
    # a final p above alpha * final_share leaves it undecided
    weak = np.clip(rng.normal(0.515, 0.2, 300), 0, 1)
    pw = float(sps.ttest_1samp(weak, 0.5).pvalue)
    assert adaptive_compare(weak).verdict == ("undecided" if pw >= 0.0125 else "new better")


def test_ties_never_decide_and_budget() -> None:
    r = adaptive_compare(np.full(200, 0.5))
    assert (r.verdict, r.reason, r.n_calls) == ("undecided", "stream exhausted", 200)
    assert r.interval[0] < 0.5 < r.interval[1]
    b = adaptive_compare(np.full(200, 0.5), budget=30)
    assert (b.reason, b.n_calls, b.budget) == ("budget exhausted", 30, 30)
    # NaN (no verdict) is skipped without a call
    n = adaptive_compare([np.nan, 1.0, np.nan] + [1.0] * 20)
    assert n.n_calls == 10


def test_online_judge_interface() -> None:
    judge = AdaptiveJudge(alpha=0.05, budget=5)
    assert judge.observe(0.7) is False
    assert judge.result().reason == "running"
    for _ in range(4):
        judge.observe(0.7)
    assert judge.done and judge.result().reason == "budget exhausted"
    with pytest.raises(RuntimeError):
        judge.observe(0.7)
    with pytest.raises(ValueError, match="outside"):
        AdaptiveJudge().observe(1.2)
    with pytest.raises(ValueError):
        AdaptiveJudge(alpha=1.5)


def test_batch_matches_online_and_interval_matches_verdict() -> None:
    rng = np.random.default_rng(0)
    streams = np.clip(rng.beta(2, 2, size=(40, 250)) + rng.choice([-0.15, 0, 0.15], size=(40, 1)), 0, 1)
    batch = adaptive_stops(streams)
    decided = 0
    for i, x in enumerate(streams):
        r = adaptive_compare(x)
        direction = {"new better": 1, "old better": -1, "undecided": 0}[r.verdict]
        assert (direction, r.n_calls) == (batch.direction[i], batch.n_calls[i])
        assert (r.decided_by == "final test") == batch.by_final[i]
        lo, hi = r.interval
        assert (lo <= 0.5 <= hi) == (r.decided_by != "confidence sequence")
        decided += r.decided
    assert 0 < decided < 40
    capped = adaptive_stops(streams, budget=20)
    assert np.all(capped.n_calls <= 20)


def test_confidence_sequence_contains_the_sample_mean_and_shrinks() -> None:
    rng = np.random.default_rng(1)
    x = rng.beta(3, 2, 400)
    lo1, hi1 = confidence_sequence(x[:50])
    lo2, hi2 = confidence_sequence(x)
    assert lo1 <= x[:50].mean() <= hi1 and lo2 <= x.mean() <= hi2
    assert hi2 - lo2 < hi1 - lo1
    assert confidence_sequence([]) == (0.0, 1.0)


@pytest.mark.parametrize("kind", ["bernoulli", "beta", "three-point"])
def test_validity_under_the_null(kind: str) -> None:
    # 2000 streams with mean 0.5: the share that ever gives a verdict must be <= alpha
    rng = np.random.default_rng({"bernoulli": 1, "beta": 2, "three-point": 3}[kind])
    shape = (2000, 400)
    if kind == "bernoulli":
        x = rng.binomial(1, 0.5, shape).astype(float)
    elif kind == "beta":
        x = rng.beta(0.5, 0.5, shape)
    else:
        x = rng.choice([0.0, 0.5, 1.0], size=shape, p=[0.2, 0.6, 0.2])
    stops = adaptive_stops(x, alpha=0.05)
    assert np.mean(stops.direction != 0) <= 0.05


def test_power_stops_early_at_mean_point_seven() -> None:
    rng = np.random.default_rng(4)
    x = rng.binomial(1, 0.7, (500, 1000)).astype(float)
    stops = adaptive_stops(x)
    assert np.all(stops.direction == 1)
    assert stops.n_calls.mean() < 80
    assert np.median(stops.n_calls) < 60


def test_interval_coverage_by_simulation() -> None:
    rng = np.random.default_rng(5)
    mean = 0.62
    covered = 0
    for _ in range(150):
        x = rng.binomial(1, mean, 150).astype(float)
        lo, hi = confidence_sequence(x)
        covered += lo <= mean <= hi
    assert covered / 150 >= 0.95
