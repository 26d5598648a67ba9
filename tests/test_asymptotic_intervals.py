"""Normal-approximation intervals of the behaviour statistics and the output changes at large n:
they agree with the bootstrap's, DeLong's paired variance is the brute-force one, they cover at
their level, and below the threshold nothing changes."""

from __future__ import annotations

import numpy as np
import pytest
from test_behaviour_report import text_runs

import deltaeval
from deltaeval.analysis.behaviour import _weighted_auroc, behaviour_stats
from deltaeval.analysis.output_changes import output_changes
from deltaeval.exact import normal_quantile
from deltaeval.stats import delong_paired_interval, delong_paired_variance, normal_mean_interval


def paired_axes(n: int, seed: int) -> tuple[dict, dict, np.ndarray]:
    """Three axes (continuous, counts, rare binary) and a preference that follows the first."""
    rng = np.random.default_rng(seed)
    old = {
        "a": rng.normal(0, 1, n),
        "b": rng.poisson(2, n).astype(float),
        "c": (rng.random(n) < 0.1).astype(float),
    }
    new = {
        "a": old["a"] * 0.5 + rng.normal(0.1, 1, n),
        "b": rng.poisson(2.2, n).astype(float),
        "c": (rng.random(n) < 0.13).astype(float),
    }
    preference = (rng.random(n) < 1 / (1 + np.exp(-(new["a"] - old["a"])))).astype(float)
    return old, new, preference


def within(asymptotic: tuple[float, float], bootstrap: tuple[float, float], share: float) -> bool:
    width = bootstrap[1] - bootstrap[0]
    return (
        abs(asymptotic[0] - bootstrap[0]) <= share * width
        and abs(asymptotic[1] - bootstrap[1]) <= share * width
    )


def test_asymptotic_intervals_agree_with_the_bootstrap_just_above_the_threshold() -> None:
    old, new, preference = paired_axes(3000, seed=1)
    boot = behaviour_stats(old, new, preference, asymptotic_from=0)
    approx = behaviour_stats(old, new, preference, asymptotic_from=2000)
    assert not boot.asymptotic and approx.asymptotic
    assert boot.to_dict()["ci_methods"]["auroc_interval"] == "bootstrap-percentile"
    assert approx.to_dict()["ci_methods"] == {
        "diff_interval": "normal",
        "auroc_interval": "delong-paired",
        "paired_auroc_interval": "normal",
        "preference.coef_interval": "wald",
        "combined.preference_coef_intervals": "wald",
    }
    for name in ("a", "b", "c"):
        b, a = boot.axis(name), approx.axis(name)
        # the point estimates and tests are the same; only the intervals' method differs
        assert (a.diff, a.auroc, a.paired_auroc, a.p_value) == (b.diff, b.auroc, b.paired_auroc, b.p_value)
        for key in ("diff_interval", "auroc_interval", "paired_auroc_interval"):
            assert within(getattr(a, key), getattr(b, key), 0.10), (name, key)
        assert b.preference is not None and a.preference is not None
        assert within(a.preference.coef_interval, b.preference.coef_interval, 0.10), name
    assert boot.combined is not None and approx.combined is not None
    for name, interval in boot.combined.preference_coef_intervals.items():
        assert within(approx.combined.preference_coef_intervals[name], interval, 0.10), name


def test_below_the_threshold_the_bootstrap_is_used_unchanged() -> None:
    old, new, preference = paired_axes(600, seed=2)
    default = behaviour_stats(old, new, preference, n_boot=200).to_dict()
    always = behaviour_stats(old, new, preference, n_boot=200, asymptotic_from=0).to_dict()
    at_limit = behaviour_stats(old, new, preference, n_boot=200, asymptotic_from=601).to_dict()
    assert default["asymptotic_from"] == 20_000 and always["asymptotic_from"] == 0
    assert default == {**always, "asymptotic_from": 20_000} == {**at_limit, "asymptotic_from": 20_000}


def test_reports_below_the_threshold_are_byte_identical_and_above_say_why() -> None:
    old, new = text_runs(120, correct=False)
    reports = {
        limit: deltaeval.compare(old, new, n_boot=200, asymptotic_from=limit) for limit in (0, 121, 120)
    }
    below, bootstrap = reports[121], reports[0]
    assert below.to_json() == bootstrap.to_json().replace('"asymptotic_from": 0', '"asymptotic_from": 121')
    assert below.to_markdown() == bootstrap.to_markdown()
    assert below.to_html() == bootstrap.to_html()
    assert "instead of the bootstrap" not in below.to_markdown()

    above = reports[120]
    data = above.data
    assert data["behaviour"]["ci_methods"]["auroc_interval"] == "delong-paired"
    assert data["output_changes"]["ci_methods"]["mean_delta_ci"] == "normal"
    assert data["settings"]["asymptotic_from"] == 120
    line = "n = 120 ≥ 120: normal/DeLong intervals instead of the bootstrap."
    markdown, html = above.to_markdown(), above.to_html()
    assert line in markdown and line in html
    assert "n = 120 ≥ 120: normal interval instead of the bootstrap" in markdown
    from io import StringIO

    from rich.console import Console

    out = StringIO()
    above.print(Console(file=out, width=400, color_system=None))
    assert line in out.getvalue()
    # the point estimates are the bootstrap report's
    words = data["output_changes"]["lengths"]["words"]
    assert words["mean_delta"] == bootstrap.data["output_changes"]["lengths"]["words"]["mean_delta"]


def test_output_changes_normal_interval() -> None:
    rng = np.random.default_rng(3)
    old_len = rng.poisson(50, 5000).astype(float)
    new_len = old_len + rng.normal(3, 10, 5000)
    same = rng.random(5000) < 0.5
    approx = output_changes(same, {"words": (old_len, new_len)}, asymptotic_from=5000)
    boot = output_changes(same, {"words": (old_len, new_len)}, asymptotic_from=0)
    assert approx.to_dict()["ci_methods"]["mean_delta_ci"] == "normal"
    assert boot.to_dict()["ci_methods"]["mean_delta_ci"] == "bootstrap-percentile"
    assert approx.lengths[0].mean_delta_ci == normal_mean_interval(new_len - old_len, 0.95)
    assert within(approx.lengths[0].mean_delta_ci, boot.lengths[0].mean_delta_ci, 0.10)


def test_delong_paired_variance_is_the_brute_force_influence_variance_and_the_bootstrap_one() -> None:
    rng = np.random.default_rng(4)
    n = 300
    old = rng.integers(0, 6, n).astype(float)  # many ties
    new = np.clip(old + rng.integers(-1, 3, n), 0, 7).astype(float)
    # brute force: every placement by comparing all pairs
    v10 = np.array([np.mean((old < y) + 0.5 * (old == y)) for y in new])
    v01 = np.array([np.mean((new > x) + 0.5 * (new == x)) for x in old])
    auc, variance = delong_paired_variance(old, new)
    assert auc == pytest.approx(float(_weighted_auroc(old, new, np.ones((1, n)), np.ones((1, n)))[0]))
    assert variance == pytest.approx(np.var(v10 + v01, ddof=1) / n, rel=1e-12)
    # the paired bootstrap's variance (examples resampled, both values together)
    weights = rng.multinomial(n, np.full(n, 1 / n), size=8000).astype(float)
    replicates = _weighted_auroc(old, new, weights, weights)
    assert variance == pytest.approx(float(np.var(replicates)), rel=0.1)
    low, high = delong_paired_interval(old, new, 0.95)
    assert (low + high) / 2 == pytest.approx(auc) and high - low == pytest.approx(
        2 * normal_quantile(0.975) * np.sqrt(variance)
    )


def test_coverage_of_the_asymptotic_intervals_by_simulation() -> None:
    """200 datasets of n = 2,000 with a known mean difference, paired AUROC, pooled AUROC and
    preference coefficient: each interval covers within the binomial tolerance of 95%."""
    from math import erf, sqrt

    def phi(x: float) -> float:
        return 0.5 * (1 + erf(x / sqrt(2)))

    n, reps, delta, rho, beta = 2000, 200, 0.1, 0.6, 0.8
    truth = {
        "diff_interval": delta,
        "paired_auroc_interval": phi(delta / sqrt(2 - 2 * rho)),  # P(new_i > old_i)
        "auroc_interval": phi(delta / sqrt(2)),  # P(new_i > old_j), i != j
    }
    rng = np.random.default_rng(5)
    hits = dict.fromkeys([*truth, "coef"], 0)
    for _ in range(reps):
        old = rng.normal(0, 1, n)
        new = rho * old + sqrt(1 - rho**2) * rng.normal(0, 1, n) + delta
        z = (new - old - delta) / sqrt(2 - 2 * rho)
        preference = (rng.random(n) < 1 / (1 + np.exp(-beta * z))).astype(float)
        stats = behaviour_stats({"x": old}, {"x": new}, preference, combined=False, asymptotic_from=n)
        axis = stats.axis("x")
        for key, value in truth.items():
            low, high = getattr(axis, key)
            hits[key] += low <= value <= high
        assert axis.preference is not None
        low, high = axis.preference.coef_interval
        hits["coef"] += low <= beta <= high
    tolerance = 3 * sqrt(0.95 * 0.05 / reps)  # 3 binomial standard errors: 4.6 pp
    for key, count in hits.items():
        assert abs(count / reps - 0.95) <= tolerance, (key, count / reps)
