"""Benchmark: deltaeval's flip analysis at scale against fair baselines and an anchor pandas one.

Simulates N paired examples (old/new correctness, a same-output flag, one tag with T values) and
runs, on the same arrays:

* deltaeval: ``cell_codes`` + ``cell_counts`` + ``flip_stats_from_counts`` (every rate with its
  exact interval: Clopper–Pearson for the proportions, Tango's paired score interval for the
  accuracy difference; nothing is resampled) + ``slice_stats`` over the tag's values (the same
  intervals per value, McNemar, Benjamini–Hochberg) — what ``compare`` does once the runs are
  aligned;
* fair baseline, exact: the same figures written with the same libraries by a competent
  engineer — ``pandas.factorize`` tag codes, one ``bincount`` into a (tags x 8) table, then
  ``scipy.stats.beta.ppf`` (Clopper–Pearson), ``brentq`` on Tango's statistic, ``binomtest``
  and ``false_discovery_control``; it must give deltaeval's figures to 1e-9;
* fair baseline, counts bootstrap: the same table, ``--n-boot`` multinomial draws of its counts
  (what resampling the examples amounts to), percentile intervals;
* anchor-faithful baseline (pandas regroup per resample): a DataFrame of the examples,
  resampled row-wise ``--baseline-boot`` times, computing the same overall rates and the
  per-tag NFR/PFR/delta with ``groupby``, then percentile intervals. Its time for ``--n-boot``
  resamples is extrapolated linearly when fewer are run.

The paths give the same point estimates; exact and bootstrap intervals come from different
methods, so they are printed side by side and must agree only where both are accurate: away from
the boundary (see ``agreement_tolerance``).

Prints a table of wall time, peak memory and speed-ups with PASS/FAIL against the targets
(deltaeval < 0.5 s and < 1 GB at n = 1M; >= 20x faster than the fair exact baseline and than the
anchor), the machine's load average, and exits 1 on any FAIL.

Run from the repository root: ``python bench/flips.py [--n 1000000] [--baseline-boot 100]``;
``--quick`` (under a minute) runs 20 anchor resamples.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from deltaeval.analysis.flips import (
    INTERVAL_METHODS,
    RATE_NAMES,
    FlipStats,
    cell_codes,
    cell_counts,
    flip_stats_from_counts,
    rate_fractions,
)
from deltaeval.analysis.slices import slice_counts, slice_stats
from deltaeval.stats import BOOTSTRAP

TARGET_SECONDS = 0.5  # at n = 1M, 20 tag values (issue 10)
TARGET_BYTES = 1 << 30  # 1 GiB
TARGET_SPEEDUP = 20.0
QUICK_BASELINE_BOOT = 20  # --quick: anchor resamples actually run (the rest extrapolated)
FAIR_TOLERANCE = 1e-9  # the fair exact baseline computes the same figures: equal up to root-finding
POINT_TOLERANCE = 1e-12  # point estimates: the same counts, so equal up to float rounding
LEVEL = 0.95
SLICE_RATES = ("nfr", "pfr", "delta")
# Exact vs bootstrap intervals are compared only away from the boundary: at least this many
# examples on each side of a proportion (for the accuracy difference: this many negative and
# this many positive flips), where the sampling distribution is close to normal (skewness
# <= 0.1). Nearer 0 or n the percentile bootstrap undercovers and the two differ by design.
MIN_COUNT = 100
MC_SDS = 4.0  # Monte Carlo standard deviations of a bootstrap endpoint allowed
METHOD_GAP = 5.0  # allowed gap between the two methods' limits, in units of 1 / denominator

# Simulation parameters (per-example probabilities).
P_OLD_CORRECT = 0.80
NFR_TARGET = 0.03  # overall negative-flip rate outside the regressed tag
PFR_TARGET = 0.05  # overall positive-flip rate outside the regressed tag
REGRESSED_NFR = 0.09  # the regressed tag value flips three times as many right answers to wrong
REGRESSED_PFR = 0.03
P_REWORD_BOTH_RIGHT = 0.10  # both right, but the new output is worded differently
P_DIFFERENT_BOTH_WRONG = 0.40  # both wrong, with a different wrong answer


@dataclass(frozen=True)
class Data:
    old_correct: np.ndarray
    new_correct: np.ndarray
    same: np.ndarray
    tags: np.ndarray  # numpy unicode array of labels like "tag-07"
    regressed_tag: str


def simulate(n: int, n_tags: int, seed: int) -> Data:
    """Paired examples with realistic flip structure and one deliberately regressed tag value."""
    rng = np.random.default_rng(seed)
    tag_index = rng.integers(0, n_tags, size=n)
    labels = np.array([f"tag-{i:02d}" for i in range(n_tags)])
    regressed = n_tags // 2
    old = rng.random(n) < P_OLD_CORRECT
    in_regressed = tag_index == regressed
    p_neg = np.where(in_regressed, REGRESSED_NFR, NFR_TARGET) / P_OLD_CORRECT
    p_pos = np.where(in_regressed, REGRESSED_PFR, PFR_TARGET) / (1 - P_OLD_CORRECT)
    u = rng.random(n)
    new = np.where(old, u >= p_neg, u < p_pos)
    flipped = old != new
    v = rng.random(n)
    reworded = np.where(old, v < P_REWORD_BOTH_RIGHT, v < P_DIFFERENT_BOTH_WRONG)
    same = ~flipped & ~reworded
    return Data(old, new, same, labels[tag_index], str(labels[regressed]))


# --------------------------------------------------------------------------------------------
# deltaeval path


def run_deltaeval(data: Data, tags: Any = None) -> dict[str, Any]:
    """The analysis ``compare`` runs on aligned arrays: overall flips, then slices (exact intervals)."""
    codes = cell_codes(data.old_correct, data.new_correct, data.same)
    flips = flip_stats_from_counts(cell_counts(codes), level=LEVEL)
    slices = slice_stats("tag", codes, data.tags if tags is None else tags, level=LEVEL)
    return {"flips": flips, "slices": slices}


# --------------------------------------------------------------------------------------------
# Baseline: pandas DataFrame, resample rows, recompute everything


def baseline_frame(data: Data) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "old_correct": data.old_correct,
            "new_correct": data.new_correct,
            "same": data.same,
            "tag": data.tags,
        }
    )


def baseline_overall(df: pd.DataFrame) -> dict[str, float]:
    """The overall rates of DESIGN.md, computed directly from a frame of examples."""
    old, new, same = df["old_correct"], df["new_correct"], df["same"]
    n = len(df)
    n_old_right = old.sum()
    n_new_right = new.sum()
    new_wrong = ~new
    return {
        "accuracy_old": n_old_right / n,
        "accuracy_new": n_new_right / n,
        "delta": (n_new_right - n_old_right) / n,
        "nfr": (old & new_wrong).sum() / n,
        "pfr": (~old & new).sum() / n,
        "churn": (~same).sum() / n,
        "nfr_mc": (new_wrong & ~same).sum() / n,
        "btc": (old & new).sum() / n_old_right,
        "bec": (~old & new_wrong & same).sum() / new_wrong.sum(),
    }


def baseline_by_tag(df: pd.DataFrame) -> pd.DataFrame:
    """Per-tag NFR, PFR and delta via groupby (rows: tag values, sorted; columns: rates)."""
    old, new = df["old_correct"], df["new_correct"]
    per_example = pd.DataFrame(
        {
            "tag": df["tag"],
            "nfr": old & ~new,
            "pfr": ~old & new,
            "delta": new.astype(np.int8) - old.astype(np.int8),
        }
    )
    return per_example.groupby("tag", sort=True)[list(SLICE_RATES)].mean()


@dataclass
class BaselineResult:
    point: dict[str, float]
    point_by_tag: pd.DataFrame
    intervals: dict[str, tuple[float, float]]
    intervals_by_tag: dict[str, dict[str, tuple[float, float]]]
    setup_seconds: float
    boot_seconds: float
    n_boot: int


def run_baseline(data: Data, n_boot: int, seed: int) -> BaselineResult:
    start = time.perf_counter()
    df = baseline_frame(data)
    point = baseline_overall(df)
    point_by_tag = baseline_by_tag(df)
    setup = time.perf_counter() - start

    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    n = len(df)
    overall_reps: list[dict[str, float]] = []
    by_tag_reps: list[pd.DataFrame] = []
    for _ in range(n_boot):
        sample = df.take(rng.integers(0, n, size=n))
        overall_reps.append(baseline_overall(sample))
        by_tag_reps.append(baseline_by_tag(sample))
    alpha = (1 - LEVEL) / 2
    intervals: dict[str, tuple[float, float]] = {}
    intervals_by_tag: dict[str, dict[str, tuple[float, float]]] = {}
    if n_boot:
        reps = pd.DataFrame(overall_reps)
        for name in RATE_NAMES:
            low, high = np.quantile(reps[name].to_numpy(dtype=float), [alpha, 1 - alpha])
            intervals[name] = (float(low), float(high))
        stacked = pd.concat(by_tag_reps)
        for tag, group in stacked.groupby(level=0, sort=True):
            intervals_by_tag[str(tag)] = {}
            for name in SLICE_RATES:
                low, high = np.quantile(group[name].to_numpy(dtype=float), [alpha, 1 - alpha])
                intervals_by_tag[str(tag)][name] = (float(low), float(high))
    boot = time.perf_counter() - start
    return BaselineResult(point, point_by_tag, intervals, intervals_by_tag, setup, boot, n_boot)


# --------------------------------------------------------------------------------------------
# Fair baselines: what a competent engineer writes with the same libraries (pandas, numpy, scipy)
#
# Both count once: integer tag codes (``pandas.factorize``, a hash table), the eight cells of each
# example, one ``bincount`` into a (tags x 8) table. Every figure is a function of that table.


def fair_table(data: Data) -> tuple[list[str], np.ndarray]:
    """Sorted tag values and the (tags + 1, 8) cell-count table (row 0: all examples)."""
    tag_codes, labels = pd.factorize(data.tags, sort=True)
    cells = (
        data.old_correct.astype(np.int64) * 4 + data.new_correct.astype(np.int64) * 2 + data.same
    ).astype(np.int64)
    table = np.bincount(tag_codes * 8 + cells, minlength=len(labels) * 8).reshape(len(labels), 8)
    return [str(v) for v in labels], np.vstack([table.sum(axis=0), table])


def fair_fractions(c: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Numerator and denominator of every rate (delta: new right − old right, out of n); c (..., 8)."""
    n = c.sum(axis=-1)
    old_right = c[..., 4:].sum(axis=-1)
    new_right = c[..., [2, 3, 6, 7]].sum(axis=-1)
    return {
        "accuracy_old": (old_right, n),
        "accuracy_new": (new_right, n),
        "delta": (new_right - old_right, n),
        "nfr": (c[..., 4] + c[..., 5], n),
        "pfr": (c[..., 2] + c[..., 3], n),
        "churn": (c[..., [0, 2, 4, 6]].sum(axis=-1), n),
        "nfr_mc": (c[..., 0] + c[..., 4], n),
        "btc": (c[..., 6] + c[..., 7], old_right),
        "bec": (c[..., 1], n - new_right),
    }


def tango_z(negative: float, positive: float, n: float, d: float) -> float:
    """Tango's (1998) score statistic for H0: p(positive) − p(negative) = d."""
    b2 = -negative - positive + (2 * n - positive + negative) * d
    c2 = -negative * d * (1 - d)
    p_neg = (math.sqrt(max(b2 * b2 - 8 * n * c2, 0.0)) - b2) / (4 * n)
    return (positive - negative - n * d) / math.sqrt(n * max(2 * p_neg + d * (1 - d), 1e-300))


def tango_interval(negative: int, positive: int, n: int, z: float) -> tuple[float, float]:
    """Tango's score interval, each end by ``scipy.optimize.brentq`` on the statistic."""
    from scipy.optimize import brentq

    est, edge = (positive - negative) / n, 1 - 1e-15
    low = (
        -1.0
        if est <= -edge
        else brentq(lambda d: tango_z(negative, positive, n, d) - z, -edge, est, xtol=1e-15)
    )
    high = (
        1.0 if est >= edge else brentq(lambda d: tango_z(negative, positive, n, d) + z, est, edge, xtol=1e-15)
    )
    return low, high


@dataclass
class FairResult:
    labels: list[str]
    estimates: dict[str, np.ndarray]  # rate -> (tags + 1,) ; row 0 overall
    intervals: dict[str, tuple[np.ndarray, np.ndarray]]
    mcnemar_p: np.ndarray  # (tags + 1,)
    q_values: np.ndarray  # (tags,)
    factorize_seconds: float = 0.0


def fair_exact(data: Data) -> FairResult:
    """The same figures as deltaeval: Clopper–Pearson (``scipy.stats.beta.ppf``, vectorised),
    Tango's interval for delta (``brentq``), McNemar (``scipy.stats.binomtest``), BH."""
    from scipy import stats as sps

    start = time.perf_counter()
    labels, table = fair_table(data)
    factorize_seconds = time.perf_counter() - start
    tail = (1 - LEVEL) / 2
    estimates, intervals = {}, {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for name, (k, n) in fair_fractions(table).items():
            estimates[name] = np.where(n > 0, k / np.maximum(n, 1), np.nan)
            if name == "delta":
                continue
            low = np.where(k > 0, sps.beta.ppf(tail, k, n - k + 1), 0.0)
            high = np.where(k < n, sps.beta.ppf(1 - tail, k + 1, n - k), 1.0)
            intervals[name] = (np.where(n > 0, low, np.nan), np.where(n > 0, high, np.nan))
    negative, positive, n = table[:, 4] + table[:, 5], table[:, 2] + table[:, 3], table.sum(axis=1)
    z = statistics.NormalDist().inv_cdf(1 - tail)
    ends = [tango_interval(int(b), int(c), int(m), z) for b, c, m in zip(negative, positive, n, strict=True)]
    intervals["delta"] = (np.array([e[0] for e in ends]), np.array([e[1] for e in ends]))
    p = np.array(
        [
            sps.binomtest(int(c), int(b + c), 0.5).pvalue if b + c else 1.0
            for b, c in zip(negative, positive, strict=True)
        ]
    )
    q = sps.false_discovery_control(p[1:], method="bh")
    return FairResult(labels, estimates, intervals, p, q, factorize_seconds)


def fair_bootstrap(data: Data, n_boot: int, seed: int) -> FairResult:
    """The anchor's method (bootstrap percentile) done competently: resampling the examples is
    drawing the (tag x cell) counts from a multinomial, so ``n_boot`` draws of the table replace
    ``n_boot`` passes over the rows. McNemar and BH as in ``fair_exact``."""
    from scipy import stats as sps

    start = time.perf_counter()
    labels, table = fair_table(data)
    factorize_seconds = time.perf_counter() - start
    cells = table[1:].ravel()
    n = int(cells.sum())
    draws = np.random.default_rng(seed).multinomial(n, cells / n, size=n_boot).reshape(n_boot, -1, 8)
    reps = np.concatenate([draws.sum(axis=1, keepdims=True), draws], axis=1)  # (B, tags + 1, 8)
    tail = (1 - LEVEL) / 2
    estimates, intervals = {}, {}
    with np.errstate(divide="ignore", invalid="ignore"):
        point, replicated = fair_fractions(table), fair_fractions(reps)
        for name, (k, m) in point.items():
            estimates[name] = np.where(m > 0, k / np.maximum(m, 1), np.nan)
            rk, rm = replicated[name]
            values = np.where(rm > 0, rk / np.maximum(rm, 1), np.nan)
            low, high = np.nanquantile(values, [tail, 1 - tail], axis=0)
            intervals[name] = (low, high)
    negative, positive = table[:, 4] + table[:, 5], table[:, 2] + table[:, 3]
    p = np.array(
        [
            sps.binomtest(int(c), int(b + c), 0.5).pvalue if b + c else 1.0
            for b, c in zip(negative, positive, strict=True)
        ]
    )
    q = sps.false_discovery_control(p[1:], method="bh")
    return FairResult(labels, estimates, intervals, p, q, factorize_seconds)


def fair_gaps(fair: FairResult, flips: FlipStats, slices: Any) -> dict[str, float]:
    """Largest |difference| between a fair baseline's figures and deltaeval's (overall and per tag)."""
    rows = [flips, *(row.stats for row in slices.rows)]
    gaps = {"estimates": 0.0, "intervals": 0.0}
    for i, stats in enumerate(rows):
        for name in RATE_NAMES:
            ours, interval = stats.estimates[name], stats.intervals[name]
            if ours is None or interval is None:
                continue
            gaps["estimates"] = max(gaps["estimates"], abs(ours - float(fair.estimates[name][i])))
            low, high = fair.intervals[name]
            gaps["intervals"] = max(
                gaps["intervals"], abs(interval[0] - float(low[i])), abs(interval[1] - float(high[i]))
            )
    ours_p = np.array([flips.mcnemar_p, *(row.stats.mcnemar_p for row in slices.rows)])
    gaps["mcnemar_p"] = float(np.max(np.abs(ours_p - fair.mcnemar_p)))
    gaps["q_values"] = float(np.max(np.abs(np.array([r.q_value for r in slices.rows]) - fair.q_values)))
    return gaps


# --------------------------------------------------------------------------------------------
# Exact vs bootstrap intervals


def agreement_tolerance(se: float, denominator: int, n_boot: int) -> float:
    """Largest gap expected between an exact interval's endpoint and a percentile bootstrap's.

    Away from the boundary both intervals approach estimate ± z·SE, and differ by:

    * the bootstrap endpoint's Monte Carlo error, sd sqrt(a (1 − a) / B) / φ(z) standard errors
      (a = (1 − level) / 2, B resamples): ``MC_SDS`` of them are allowed;
    * ``np.quantile``'s bias with B replicates: its a-quantile sits near probability
      a + (1 − 2a) / (B + 1), i.e. (1 − 2a) / ((B + 1) φ(z)) standard errors inwards;
    * the two methods' limits (exact vs B → ∞): skewness and the exact interval's discreteness,
      O(1 / denominator); measured against 400,000-resample bootstraps at about 2 / denominator
      for counts from 50 to 800,000 out of 10,000 to 1M, allowed ``METHOD_GAP`` / denominator.

    At n = 1M that is about 1.5e-4 for the accuracies with 1,000 resamples and 7e-4 with 50.
    """
    tail = (1 - LEVEL) / 2
    density = statistics.NormalDist().pdf(statistics.NormalDist().inv_cdf(1 - tail))
    in_se = (MC_SDS * math.sqrt(tail * (1 - tail) / n_boot) + (1 - 2 * tail) / (n_boot + 1)) / density
    return in_se * se + METHOD_GAP / denominator


@dataclass(frozen=True)
class IntervalPair:
    """One rate's exact interval (deltaeval) beside the baseline's bootstrap interval."""

    where: str  # "overall" or a tag value
    rate: str
    estimate: float
    exact: tuple[float, float]
    bootstrap: tuple[float, float] | None  # None: the baseline does not compute this rate here
    gap: float  # largest |endpoint difference|; NaN without a bootstrap interval
    tolerance: float | None  # None: not compared (no bootstrap interval, or too near the boundary)

    @property
    def contains_estimate(self) -> bool:
        return self.exact[0] <= self.estimate <= self.exact[1]

    @property
    def agrees(self) -> bool:
        return self.tolerance is None or self.gap <= self.tolerance


def pair_intervals(
    where: str,
    stats: FlipStats,
    counts: np.ndarray,
    bootstrap: dict[str, tuple[float, float]],
    n_boot: int,
) -> list[IntervalPair]:
    """Every defined rate of ``stats`` (from the cell ``counts``), with its tolerance where comparable."""
    fractions = rate_fractions(counts)
    pairs = []
    for name in RATE_NAMES:
        estimate, exact = stats.estimates[name], stats.intervals[name]
        if estimate is None or exact is None:
            continue
        if name == "delta":
            fewest, denominator = min(stats.negative, stats.positive), stats.n
            variance = (stats.negative + stats.positive) / stats.n - estimate**2
        else:
            k, denominator = (int(v) for v in fractions[name])
            fewest, variance = min(k, denominator - k), estimate * (1 - estimate)
        theirs = bootstrap.get(name)
        gap = max(abs(a - b) for a, b in zip(theirs, exact, strict=True)) if theirs else math.nan
        comparable = theirs is not None and fewest >= MIN_COUNT
        tolerance = (
            agreement_tolerance(math.sqrt(variance / denominator), denominator, n_boot)
            if comparable
            else None
        )
        pairs.append(IntervalPair(where, name, estimate, exact, theirs, gap, tolerance))
    return pairs


# --------------------------------------------------------------------------------------------
# Measurement helpers


def traced_peak(fn: Callable[[], Any]) -> int:
    """Peak bytes allocated (tracemalloc: Python and numpy buffers) while ``fn`` runs."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def max_rss_bytes() -> int:
    """The process's peak resident set size so far (getrusage ru_maxrss; KiB on Linux)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


def mib(nbytes: float) -> str:
    return f"{nbytes / 2**20:,.1f} MiB"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _agreement_line(what: str, compared: list) -> bool:
    """Print whether exact and bootstrap endpoints agree within tolerance on ``compared``; the verdict."""
    apart = [f"{p.where}/{p.rate}" for p in compared if not p.agrees]
    ok = bool(compared) and not apart
    worst = max(compared, key=lambda p: p.gap / p.tolerance, default=None)
    print(
        f"  {what}: "
        + (
            f"largest gap {worst.gap:.1e} = {worst.gap / worst.tolerance:.2f} x its tolerance "
            f"({worst.where}/{worst.rate})"
            if worst
            else "none far enough from the boundary"
        )
        + (f"; apart: {', '.join(apart)}" if apart else "")
        + f"  {verdict(ok)}"
    )
    return ok


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="paired examples (default 1,000,000)")
    parser.add_argument("--tags", type=int, default=20, help="distinct tag values (default 20)")
    parser.add_argument(
        "--n-boot",
        type=int,
        default=1000,
        help="bootstrap resamples per interval the baseline is timed for (default 1000); deltaeval's "
        "intervals are exact and resample nothing",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of simulation and the baseline's resampling"
    )
    parser.add_argument(
        "--baseline-boot",
        type=int,
        default=1000,
        help="resamples the baseline actually runs; when fewer than --n-boot, its time for "
        "--n-boot is extrapolated linearly (default 1000: all measured, about 2-3 minutes "
        "on 2 cores at n=1M)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed repeats of the deltaeval path")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"run {QUICK_BASELINE_BOOT} resamples of the anchor baseline (its time for --n-boot "
        "extrapolated, labelled so); under a minute at n=1M",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.baseline_boot = min(args.baseline_boot, QUICK_BASELINE_BOOT)
    if args.n < 1 or args.tags < 1 or args.n_boot < 1 or args.baseline_boot < 1 or args.repeat < 1:
        parser.error("--n, --tags, --n-boot, --baseline-boot and --repeat must be >= 1")
    baseline_boot = min(args.baseline_boot, args.n_boot)

    load_start = os.getloadavg()
    print(
        f"flip-analysis benchmark: n={args.n:,} examples, {args.tags} tag values, level {LEVEL:.0%}, "
        f"seed {args.seed}; deltaeval: exact intervals; fair baselines: the same figures (exact) and "
        f"a counts bootstrap; anchor-faithful baseline (pandas regroup per resample): {args.n_boot} "
        "bootstrap resamples per interval"
    )
    print(
        f"machine: {os.cpu_count()} CPUs, load average {load_start[0]:.2f} / {load_start[1]:.2f} / "
        f"{load_start[2]:.2f} (1/5/15 min) at the start"
    )
    start = time.perf_counter()
    data = simulate(args.n, args.tags, args.seed)
    print(f"simulated in {time.perf_counter() - start:.2f} s; regressed tag value: {data.regressed_tag}")
    input_bytes = sum(a.nbytes for a in (data.old_correct, data.new_correct, data.same, data.tags))
    print(f"input arrays: {mib(input_bytes)} (3 bool arrays + tag labels {data.tags.dtype})")
    rss_after_sim = max_rss_bytes()

    # deltaeval: untraced timing runs, then one traced run for memory.
    times = []
    result: dict[str, Any] = {}
    for _ in range(args.repeat):
        start = time.perf_counter()
        result = run_deltaeval(data)
        times.append(time.perf_counter() - start)
    de_time = statistics.median(times)
    tag_list = data.tags.tolist()
    start = time.perf_counter()
    run_deltaeval(data, tags=tag_list)
    de_time_list = time.perf_counter() - start
    del tag_list
    de_peak = traced_peak(lambda: run_deltaeval(data))
    rss_after_de = max_rss_bytes()
    flips, slices = result["flips"], result["slices"]

    # Fair baselines: timed like deltaeval (median of --repeat runs), on the same arrays.
    fair_times, boot_times = [], []
    for _ in range(args.repeat):
        start = time.perf_counter()
        fair = fair_exact(data)
        fair_times.append(time.perf_counter() - start)
    for _ in range(args.repeat):
        start = time.perf_counter()
        fair_boot = fair_bootstrap(data, args.n_boot, args.seed + 2)
        boot_times.append(time.perf_counter() - start)
    fair_time, fair_boot_time = statistics.median(fair_times), statistics.median(boot_times)

    # Baseline: timed run, then a short traced run (setup + 3 resamples) for memory; its peak
    # does not grow with the number of resamples beyond the few small replicate records.
    print(
        f"running the anchor-faithful baseline (pandas regroup per resample) with {baseline_boot} "
        "resamples ...",
        flush=True,
    )
    base = run_baseline(data, baseline_boot, args.seed + 1)
    base_peak = traced_peak(lambda: run_baseline(data, min(3, baseline_boot), args.seed + 1))
    rss_after_base = max_rss_bytes()
    per_iteration = base.boot_seconds / base.n_boot
    base_measured = base.setup_seconds + base.boot_seconds
    base_full = base.setup_seconds + per_iteration * args.n_boot
    extrapolated = base.n_boot < args.n_boot
    speedup = base_full / de_time

    # Agreement: the same point estimates; exact intervals hold the estimate and, away from the
    # boundary, agree with the bootstrap's within what its Monte Carlo error allows.
    point_gap = max(abs(base.point[name] - float(flips.estimates[name])) for name in RATE_NAMES)
    slice_point_gap = max(
        abs(float(row.stats.estimates[name]) - float(base.point_by_tag.loc[row.value, name]))
        for row in slices.rows
        for name in SLICE_RATES
    )
    codes = cell_codes(data.old_correct, data.new_correct, data.same)
    overall = pair_intervals("overall", flips, cell_counts(codes), base.intervals, base.n_boot)
    labels, table = slice_counts(codes, data.tags)
    per_tag = [
        pair
        for row, counts in zip(slices.rows, table, strict=True)
        for pair in pair_intervals(
            row.value, row.stats, counts, base.intervals_by_tag[row.value], base.n_boot
        )
    ]
    assert labels == [row.value for row in slices.rows] == fair.labels == fair_boot.labels
    fair_gap = fair_gaps(fair, flips, slices)
    fair_boot_pairs = [
        pair
        for i, (where, stats, counts) in enumerate(
            [("overall", flips, cell_counts(codes))]
            + [(row.value, row.stats, c) for row, c in zip(slices.rows, table, strict=True)]
        )
        for pair in pair_intervals(
            where,
            stats,
            counts,
            {name: (float(lo[i]), float(hi[i])) for name, (lo, hi) in fair_boot.intervals.items()},
            args.n_boot,
        )
    ]

    print()
    print("deltaeval results (overall) beside the baseline")
    print(
        f"  {'rate':<13}{'estimate':>10}  {'deltaeval, exact':<36}"
        f"{f'baseline, {BOOTSTRAP} ({base.n_boot} resamples)':<46}{'max |diff|':>11}  tolerance"
    )
    for pair in overall:
        lo, hi = pair.exact
        blo, bhi = pair.bootstrap or (math.nan, math.nan)
        ours = f"[{lo:.5f}, {hi:.5f}] {INTERVAL_METHODS[pair.rate]}"
        theirs = f"[{blo:.5f}, {bhi:.5f}] {BOOTSTRAP}"
        tolerance = (
            f"{pair.tolerance:.1e}  {verdict(pair.agrees)}" if pair.tolerance is not None else "near boundary"
        )
        print(
            f"  {pair.rate:<13}{pair.estimate:>10.5f}  {ours:<36}{theirs:<46}{pair.gap:>11.1e}  {tolerance}"
        )
    print(
        f"  negative flips {flips.negative:,}, positive flips {flips.positive:,}, "
        f"McNemar p {flips.mcnemar_p:.3g}"
    )
    flagged = [r.value for r in slices.rows if r.regressed]
    print(f"  slices flagged regressed after BH (alpha {slices.alpha}): {', '.join(flagged) or 'none'}")

    print()
    print("agreement (deltaeval vs baseline)")
    checks: list[tuple[str, bool]] = []
    ok = point_gap <= POINT_TOLERANCE and slice_point_gap <= POINT_TOLERANCE
    checks.append(("point estimates identical", ok))
    print(
        f"  point estimates, max |diff|: overall {point_gap:.2e}, per-tag {slice_point_gap:.2e} "
        f"(tolerance {POINT_TOLERANCE:g})  {verdict(ok)}"
    )
    everything = overall + per_tag
    outside = [f"{p.where}/{p.rate}" for p in everything if not p.contains_estimate]
    ok = not outside
    checks.append(("exact intervals contain the estimate", ok))
    print(
        f"  every exact interval contains its estimate ({len(everything)} intervals, overall and "
        f"per tag){': not ' + ', '.join(outside) if outside else ''}  {verdict(ok)}"
    )
    compared = [p for p in everything if p.tolerance is not None]
    n_overall = sum(p.where == "overall" for p in compared)
    ok = _agreement_line(
        f"exact vs bootstrap endpoints where both exist and >= {MIN_COUNT:,} examples lie on each "
        f"side ({n_overall} overall, {len(compared) - n_overall} per tag)",
        compared,
    )
    checks.append(("exact and bootstrap intervals agree away from the boundary", ok))
    print(
        f"    tolerance per rate: {MC_SDS:g} Monte Carlo sds of a percentile endpoint with "
        f"{base.n_boot} resamples + np.quantile's small-B bias + {METHOD_GAP:g} / denominator "
        "(see agreement_tolerance); near the boundary the intervals differ by design"
    )
    tag_gap = max((p.gap for p in per_tag if p.bootstrap is not None), default=math.nan)
    print(
        f"  per-tag NFR/PFR/delta, max |endpoint diff|: {tag_gap:.1e} (~{args.n // args.tags:,} "
        "examples per tag; the baseline computes no other rate per tag)"
    )
    ok = all(gap <= FAIR_TOLERANCE for gap in fair_gap.values())
    checks.append(("fair exact baseline gives the same figures", ok))
    print(
        "  fair exact baseline (scipy) vs deltaeval, max |diff| over all nine rates overall and per "
        f"tag: estimates {fair_gap['estimates']:.1e}, interval ends {fair_gap['intervals']:.1e}, "
        f"McNemar p {fair_gap['mcnemar_p']:.1e}, BH q {fair_gap['q_values']:.1e} "
        f"(tolerance {FAIR_TOLERANCE:g})  {verdict(ok)}"
    )
    compared = [p for p in fair_boot_pairs if p.tolerance is not None]
    ok = _agreement_line(
        f"fair bootstrap ({args.n_boot} multinomial draws of the counts) vs exact, all nine rates "
        f"overall and per tag, {len(compared)} compared",
        compared,
    )
    checks.append(("fair bootstrap intervals agree with the exact ones away from the boundary", ok))
    ok = data.regressed_tag in flagged
    checks.append(("regressed tag found", ok))
    print(f"  planted regressed tag {data.regressed_tag} flagged by deltaeval  {verdict(ok)}")

    print()
    print("performance")
    fair_speedup = fair_time / de_time
    fair_boot_speedup = fair_boot_time / de_time
    rows = [
        (
            "deltaeval: wall time",
            f"{de_time:.3f} s",
            f"exact intervals; median of {args.repeat} runs ({', '.join(f'{t:.3f}' for t in times)})",
        ),
        (
            "deltaeval: wall time, tags as list",
            f"{de_time_list:.3f} s",
            "same, tag values as a Python list (as Alignment.tag_values gives them); measured",
        ),
        (
            "deltaeval: peak memory",
            mib(de_peak),
            "tracemalloc peak of allocations during the analysis (inputs excluded)",
        ),
        (
            "fair baseline, exact: wall time",
            f"{fair_time:.3f} s",
            f"the same figures: pandas.factorize + one bincount + scipy beta.ppf / brentq / binomtest; "
            f"median of {args.repeat} ({', '.join(f'{t:.3f}' for t in fair_times)}); "
            f"factorize + count {fair.factorize_seconds:.3f} s",
        ),
        (
            "fair baseline, counts bootstrap: wall time",
            f"{fair_boot_time:.3f} s",
            f"factorize + bincount + {args.n_boot} multinomial draws of the (tags x 8) counts; median "
            f"of {args.repeat} ({', '.join(f'{t:.3f}' for t in boot_times)})",
        ),
        (
            f"anchor baseline (pandas): wall time, {base.n_boot} resamples",
            f"{base_measured:.1f} s",
            f"anchor-faithful (pandas regroup per resample); measured (setup {base.setup_seconds:.2f} s "
            f"+ {per_iteration:.3f} s per resample)",
        ),
        *(
            [
                (
                    f"anchor baseline (pandas): wall time, {args.n_boot} resamples",
                    f"{base_full:.1f} s",
                    f"EXTRAPOLATED: setup + per-resample time x {args.n_boot} (linear)",
                )
            ]
            if extrapolated
            else []
        ),
        (
            "anchor baseline (pandas): peak memory",
            mib(base_peak),
            "tracemalloc peak over setup + 3 resamples (DataFrame included)",
        ),
        (
            "speed-up vs fair baseline, exact",
            f"{fair_speedup:,.1f}x",
            "same figures, same libraries; both count the examples once, the rest is O(cells)",
        ),
        (
            "speed-up vs fair baseline, counts bootstrap",
            f"{fair_boot_speedup:,.1f}x",
            "exact intervals vs a bootstrap of the counts",
        ),
        (
            "speed-up vs anchor baseline",
            f"{speedup:,.0f}x",
            f"anchor-faithful, {'extrapolated' if extrapolated else 'measured'} time for {args.n_boot} "
            "resamples (same estimates, different interval methods)",
        ),
        ("process peak RSS after simulating", mib(rss_after_sim), "getrusage ru_maxrss (whole process)"),
        ("process peak RSS after deltaeval", mib(rss_after_de), "getrusage ru_maxrss (whole process)"),
        ("process peak RSS after baseline", mib(rss_after_base), "getrusage ru_maxrss (whole process)"),
    ]
    width = max(len(r[0]) for r in rows)
    for label, value, note in rows:
        print(f"  {label:<{width}}  {value:>12}  {note}")
    load_end = os.getloadavg()
    print(
        f"  load average at the end {load_end[0]:.2f} / {load_end[1]:.2f} / {load_end[2]:.2f} "
        f"(1/5/15 min) on {os.cpu_count()} CPUs; the ratios compare runs of the same process"
    )

    print()
    print("targets")
    targets = [
        (f"deltaeval wall time < {TARGET_SECONDS:g} s", de_time < TARGET_SECONDS, f"{de_time:.3f} s"),
        ("deltaeval peak memory < 1 GiB", de_peak < TARGET_BYTES, mib(de_peak)),
        (
            f"speed-up vs fair baseline (exact) >= {TARGET_SPEEDUP:g}x",
            fair_speedup >= TARGET_SPEEDUP,
            f"{fair_speedup:,.1f}x",
        ),
        (
            f"speed-up vs anchor baseline >= {TARGET_SPEEDUP:g}x",
            speedup >= TARGET_SPEEDUP,
            f"{speedup:,.0f}x{' (extrapolated baseline)' if extrapolated else ''}",
        ),
        *((label, passed, "") for label, passed in checks),
    ]
    width = max(len(t[0]) for t in targets)
    for label, passed, value in targets:
        print(f"  {verdict(passed)}  {label:<{width}}  {value}")
    failed = [t[0] for t in targets if not t[1]]
    print()
    print("ALL PASS" if not failed else f"FAIL: {'; '.join(failed)}")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
