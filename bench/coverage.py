"""Coverage of deltaeval's flip intervals and the gate's false-pass rate, by simulation.

Each cell of the grid n ∈ {20, 50, 200, 1000, 10000} × true NFR r ∈ {0, 0.001, 0.01, 0.03, 0.1,
0.3} simulates ``--reps`` pairs of runs (default 5,000) as multinomial counts of the eight cells
old right × new right × same output, for three designs of the positive flips:

* ``equal``: PFR = NFR = r (no change in accuracy);
* ``gain``: PFR = 5% whatever r (an update that fixes things, asymmetric discordance);
* ``loss``: PFR = 0 (an update that only breaks things).

The rest splits 80/20 into both right (10% of them reworded: a changed output) and both wrong
(half of them with a different wrong answer). Counts are all that every interval depends on,
so drawing them equals drawing examples.

Printed per cell (the worst of the three designs), beside the previous method in the same run:

* **rates**: the lowest empirical coverage over NFR, PFR, churn, NFR_mc, accuracy (old, new),
  BTC and BEC of deltaeval's intervals (exact Clopper–Pearson), and of the paired percentile
  bootstrap deltaeval used before (``--n-boot`` resamples of the cell counts). Target:
  ≥ nominal − 1 pp in every cell.
* **delta**: coverage of the interval of accuracy(new) − accuracy(old): Tango's score interval
  now, the bootstrap before. Target: ≥ nominal − 1.5 pp.
* **gate**: ``deltaeval gate --max-nfr T`` with the threshold just below the true NFR
  (T = r (1 − 1e-9), the hardest case of "the true NFR is above the threshold"): how often it
  passes. Now (one-sided Clopper–Pearson bound at alpha; the gate's own code decides every
  count k, and the exact false-pass rate is the binomial probability of the passing counts,
  printed beside the simulated share), before with ``--upper`` (the two-sided bootstrap
  interval's upper end), and on the point estimate (``--estimate``). Target: the exact rate
  ≤ alpha in every cell (r > 0).

An interval that is undefined (BTC with no old right answer, BEC with no new wrong one) is left
out of its rate's coverage; how often that happened is printed. Exits 1 when a target fails.

Coverage figures carry Monte Carlo error (printed); 20,000 replicates per design keep it
near 0.0015, so the worst of 24 figures per cell does not dip below a target by chance.

Run from the repository root:
``python bench/coverage.py [--reps 20000] [--boot-reps 5000] [--n-boot 1000]`` (a few minutes on
2 cores, most of it the previous method's bootstrap).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from deltaeval.analysis.flips import RATE_NAMES, flip_intervals, rates_from_counts
from deltaeval.gate import evaluate_gate

NS = (20, 50, 200, 1000, 10000)
RATES = (0.0, 0.001, 0.01, 0.03, 0.1, 0.3)
DESIGNS = ("equal", "gain", "loss")
PROPORTIONS = tuple(name for name in RATE_NAMES if name != "delta")
RATE_SLACK = 0.01
DELTA_SLACK = 0.015


def cell_probabilities(nfr: float, design: str) -> np.ndarray:
    """The eight cell probabilities, indexed ``4*old_right + 2*new_right + same_output``."""
    pfr = {"equal": nfr, "gain": 0.05, "loss": 0.0}[design]
    rest = 1.0 - nfr - pfr
    both_right, both_wrong = 0.8 * rest, 0.2 * rest
    p = np.zeros(8)
    p[7], p[6] = 0.9 * both_right, 0.1 * both_right  # both right: same / reworded
    p[1], p[0] = 0.5 * both_wrong, 0.5 * both_wrong  # both wrong: same / different wrong answer
    p[4] = nfr  # old right, new wrong (a changed output)
    p[2] = pfr  # old wrong, new right
    return p


def bootstrap_intervals(
    counts: np.ndarray, n_boot: int, level: float, rng: np.random.Generator, chunk: int = 200
) -> dict:
    """The previous method, per replicate: percentile intervals of ``n_boot`` multinomial
    resamples of its cell counts (``stats.bootstrap_counts``, vectorised over replicates; an
    interval is undefined when fewer than half of its resamples are, as ``percentile_interval``)."""
    tail = (1 - level) / 2
    reps = len(counts)
    n = int(counts[0].sum())
    low = {name: np.empty(reps) for name in RATE_NAMES}
    high = {name: np.empty(reps) for name in RATE_NAMES}
    for start in range(0, reps, chunk):
        rows = counts[start : start + chunk]
        draws = rng.multinomial(n, rows / n, size=(n_boot, len(rows)))  # (n_boot, rows, 8)
        boot = rates_from_counts(draws)
        for name in RATE_NAMES:
            lo, hi = _percentiles(boot[name], tail)
            low[name][start : start + len(rows)] = lo
            high[name][start : start + len(rows)] = hi
    return {name: (low[name], high[name]) for name in RATE_NAMES}


def _percentiles(values: np.ndarray, tail: float) -> tuple[np.ndarray, np.ndarray]:
    """Per column: ``np.quantile`` (linear) of the finite values at ``tail`` and ``1 − tail``; NaN
    where fewer than half of the column's values are finite (as ``percentile_interval``)."""
    ordered = np.sort(values, axis=0)  # NaN last
    finite = np.isfinite(values).sum(axis=0)
    out = []
    for q in (tail, 1 - tail):
        position = q * np.maximum(finite - 1, 0)
        below = np.floor(position).astype(np.int64)
        above = np.minimum(below + 1, np.maximum(finite - 1, 0))
        weight = position - below
        a = np.take_along_axis(ordered, below[None, :], axis=0)[0]
        b = np.take_along_axis(ordered, above[None, :], axis=0)[0]
        out.append(np.where(finite >= 0.5 * len(values), a + (b - a) * weight, np.nan))
    return out[0], out[1]


def coverage(bounds: tuple[np.ndarray, np.ndarray], truth: float) -> tuple[float, int]:
    """Share of defined intervals that contain ``truth`` (with float slack), and how many were undefined."""
    low, high = bounds
    defined = np.isfinite(low) & np.isfinite(high)
    if not defined.any():
        return float("nan"), int((~defined).sum())
    hit = (low[defined] <= truth + 1e-12) & (truth - 1e-12 <= high[defined])
    return float(hit.mean()), int((~defined).sum())


def gate_decisions(n: int, nfr: float, alpha: float, estimate: bool = False) -> np.ndarray:
    """Whether ``deltaeval gate --max-nfr T`` (T just below ``nfr``) passes with k negative flips
    of n, for every k: the gate's own code, called once per k until it starts failing."""
    threshold = nfr * (1 - 1e-9)
    passes = np.zeros(n + 1, dtype=bool)
    for k in range(n + 1):
        report = {"settings": {"alpha": alpha}, "flips": {"negative": k, "positive": 0, "n": n}}
        passes[k] = evaluate_gate(report, max_nfr=threshold, estimate=estimate)[0].passed
        if not passes[k]:
            break  # more negative flips never pass once k fails
    return passes


def gate_false_pass(negative: np.ndarray, n: int, nfr: float, alpha: float) -> tuple[float, float, float]:
    """The gate's false-pass rate with the true NFR just above its threshold: (simulated, exact,
    simulated on the point estimate). Exact: the binomial probability of the passing counts."""
    from scipy import stats as sps

    bound = gate_decisions(n, nfr, alpha)
    estimate = gate_decisions(n, nfr, alpha, estimate=True)
    exact = float(sps.binom.pmf(np.flatnonzero(bound), n, nfr).sum())
    return float(bound[negative].mean()), exact, float(estimate[negative].mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=20000, help="simulated pairs of runs per cell and design")
    parser.add_argument(
        "--boot-reps", type=int, default=5000, help="of those, how many also get the previous bootstrap"
    )
    parser.add_argument("--n-boot", type=int, default=1000, help="resamples of the previous bootstrap method")
    parser.add_argument("--level", type=float, default=0.95)
    parser.add_argument("--alpha", type=float, default=0.05, help="the gate's alpha")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    boot_reps = min(args.boot_reps, args.reps)
    started = time.perf_counter()
    print(
        f"{args.reps} simulated pairs of runs per cell and design ({', '.join(DESIGNS)}); intervals at "
        f"{args.level:.0%}. Previous method: paired percentile bootstrap, {args.n_boot} resamples, on the "
        f"first {boot_reps} of them. Gate alpha {args.alpha:g}. Coverage: the worst rate and design per cell."
    )
    header = (
        f"{'n':>6} {'NFR':>6} | {'rates: exact':>12} {'bootstrap':>9} | {'delta: Tango':>12} "
        f"{'bootstrap':>9} | {'gate false pass: exact':>22} {'simulated':>9} {'before':>7} "
        f"{'estimate':>8} | worst rate now"
    )
    print(header)
    print("-" * len(header))
    failures = []
    undefined_total = 0
    worst_before_gate = 0.0
    for n in NS:
        for r in RATES:
            worst_exact = worst_boot = worst_delta = worst_delta_boot = 1.0
            worst_name = ""
            negatives = []
            before = []
            for design in DESIGNS:
                p = cell_probabilities(r, design)
                truth = rates_from_counts(p)
                counts = rng.multinomial(n, p, size=args.reps)
                exact = flip_intervals(counts, args.level)
                boot = bootstrap_intervals(counts[:boot_reps], args.n_boot, args.level, rng)
                for name in PROPORTIONS:
                    value = float(truth[name])
                    cov, undefined = coverage(exact[name], value)
                    undefined_total += undefined
                    if cov < worst_exact:
                        worst_exact, worst_name = cov, f"{name} ({design})"
                    worst_boot = min(worst_boot, coverage(boot[name], value)[0])
                delta = float(truth["delta"])
                worst_delta = min(worst_delta, coverage(exact["delta"], delta)[0])
                worst_delta_boot = min(worst_delta_boot, coverage(boot["delta"], delta)[0])
                negatives.append(counts[:, 4] + counts[:, 5])
                before.append(np.nan_to_num(boot["nfr"][1], nan=0.0) <= r * (1 - 1e-9))
            nominal = args.level
            ok_rates = worst_exact >= nominal - RATE_SLACK
            ok_delta = worst_delta >= nominal - DELTA_SLACK
            ok_gate = True
            if r > 0:
                # the negative-flip count has the same distribution in every design: pooled
                simulated, exact_fp, estimate = gate_false_pass(np.concatenate(negatives), n, r, args.alpha)
                before_fp = float(np.concatenate(before).mean())
                worst_before_gate = max(worst_before_gate, before_fp)
                ok_gate = exact_fp <= args.alpha
                gate_text = f"{exact_fp:>22.4f} {simulated:>9.4f} {before_fp:>7.4f} {estimate:>8.4f}"
            else:
                gate_text = f"{'(no NFR above 0)':>22} {'':>9} {'':>7} {'':>8}"
            if not ok_rates:
                failures.append(f"n={n} NFR={r}: rate coverage {worst_exact:.4f} ({worst_name})")
            if not ok_delta:
                failures.append(f"n={n} NFR={r}: delta coverage {worst_delta:.4f}")
            if not ok_gate:
                failures.append(f"n={n} NFR={r}: gate false pass {exact_fp:.4f}")
            print(
                f"{n:>6} {r:>6g} | {worst_exact:>12.4f} {worst_boot:>9.4f} | {worst_delta:>12.4f} "
                f"{worst_delta_boot:>9.4f} | {gate_text} | {worst_name}"
                + ("" if ok_rates and ok_delta and ok_gate else "  <-- FAIL")
            )
    mc_error = float(np.sqrt(args.level * (1 - args.level) / args.reps))
    print()
    print(
        f"targets: rates >= {args.level - RATE_SLACK:.3f}, delta >= {args.level - DELTA_SLACK:.3f} "
        f"(Monte Carlo standard error of one coverage figure: {mc_error:.4f}); gate false pass "
        f"<= {args.alpha:g} in every cell (exact: the binomial probability of the counts the gate "
        "passes; simulated: its share of the simulated runs, all designs pooled)"
    )
    print(f"undefined intervals (BTC/BEC with a zero denominator), left out: {undefined_total}")
    print(f"previous gate (--upper on the bootstrap): worst false-pass rate {worst_before_gate:.4f}")
    print(f"time: {time.perf_counter() - started:.0f} s")
    if failures:
        print("FAIL")
        for line in failures:
            print("  " + line)
        return 1
    print("ALL PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
