"""Adaptive judging on real AlpacaEval 2 preferences: fewer calls, same verdict?

The recorded judge preferences play the judge. For every pair (A, B) of the five models under
``--data`` (10 pairs; A = old, B = new, in the order listed below), head to head through the
shared baseline: on each instruction both models' answers were judged against the same
``gpt4_1106_preview`` answer, with preferences p_A, p_B in [0, 1] (``preference − 1``, the
judge's probability that the model's answer beats the baseline's). B wins the instruction when
the judge preferred B's answer to the shared baseline more strongly than A's:

    outcome = 1 if p_B > p_A,  0 if p_B < p_A,  0.5 if equal

This is the judge's own ordering of the two answers relative to a common reference; it needs no
assumption about how the two comparisons combine. (Averaging the raw preferences instead,
``0.5 + (p_B − p_A)/2``, says little on this data: both models lose to GPT-4 Turbo on about 95%
of the instructions with p near 0, so that mean sits within 0.022 of 0.5; its figures are
printed as context at the end.) Instructions where either preference is null are left out.

* **Full-data verdict** (fixed n): the two-sided one-sample t-test of ``outcome − 0.5`` on all
  the pair's instructions at ``--alpha`` (0.05): "B better" / "A better" when p < alpha, else
  "undecided". A pair is *significant* when p < alpha.
* **Adaptive verdict**: ``deltaeval.analysis.adaptive`` (betting confidence sequence, anytime
  valid at level 1 − alpha) on the instructions in a random order, stopping when the sequence
  excludes 0.5 or when every instruction has been judged (budget = all of them); at that planned
  end the final t-test decides at a quarter of alpha (the sequence runs at the other three
  quarters, so the overall error rate stays at most alpha). One call = one instruction judged.
  ``--orders`` random orders per pair (seeded).
* Per pair: agreement = share of orders whose adaptive verdict equals the full-data verdict
  (for a non-significant pair, "undecided" agrees); calls = mean over orders of calls used / n.
* Summary over the significant pairs: the **unweighted mean over those pairs** of (agreement)
  and of (mean fraction of calls); targets ≥ 95% agreement with ≤ 35% of the calls.
* Context (not part of the method): "fixed 35%" = share of orders in which a t-test on just the
  first 35% of the instructions would already be significant in the right direction — a
  single look chosen in advance, which no anytime-valid procedure can beat on average.
* Validity on realistic data: the same adaptive test on sign-flipped outcomes
  (``0.5 ± |outcome − 0.5|`` with random signs, so the mean is 0.5), ``--orders`` orders per
  pair; the share that ever gives a verdict must stay at or below alpha.

Exit codes: 0 when the targets are met, 1 when not (printed with the reasons), 2 when data is
missing.

Run from the repository root: ``python bench/adaptive.py --data ../shared/data/alpaca_eval``
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np
from _alpaca import DEFAULT_DATA, MODELS
from scipy import stats as sps

from deltaeval.analysis.adaptive import adaptive_compare, adaptive_stops
from deltaeval.analysis.preference import win_rate_stats

TARGET_AGREEMENT = 0.95
TARGET_CALLS = 0.35


def load_scores(data: Path) -> dict[str, dict[str, float]]:
    """Per model: instruction → preference − 1 (NaN when the judge gave none)."""
    out: dict[str, dict[str, float]] = {}
    for model in MODELS:
        records = json.loads((data / model / "annotations.json").read_text(encoding="utf-8"))
        scores: dict[str, float] = {}
        for rec in records:
            raw = rec.get("preference")
            value = float("nan") if raw is None else float(raw)
            scores[rec["instruction"]] = (
                float("nan") if not np.isfinite(value) else (1.5 if value == 0 else value) - 1
            )
        out[model] = scores
    return out


def pair_outcomes(
    scores: dict[str, dict[str, float]], old: str, new: str, *, soft: bool = False
) -> np.ndarray:
    """Per-instruction outcome of new against old through the shared baseline (see the docstring)."""
    both = [
        k
        for k in scores[old]
        if k in scores[new] and np.isfinite(scores[old][k]) and np.isfinite(scores[new][k])
    ]
    p_old = np.array([scores[old][k] for k in both], dtype=float)
    p_new = np.array([scores[new][k] for k in both], dtype=float)
    if soft:
        return 0.5 + (p_new - p_old) / 2
    return 0.5 + np.sign(p_new - p_old) / 2


def pct(value: float) -> str:
    return "-" if not np.isfinite(value) else f"{value:.1%}"


def sign(value: float) -> int:
    return int(np.sign(value))


def evaluate_pair(x: np.ndarray, rng: np.random.Generator, orders: int, alpha: float) -> dict:
    """Full-data verdict, and the adaptive test on ``orders`` random orders of ``x``."""
    n = x.size
    stats = win_rate_stats(x, n_boot=0)
    p = stats.t_test_p
    full = sign(stats.win_rate - 0.5) if p < alpha else 0
    streams = x[np.stack([rng.permutation(n) for _ in range(orders)])]
    stops = adaptive_stops(streams, alpha=alpha)
    frac = stops.n_calls / n
    early = stops.n_calls < n
    # context: a single fixed look at 35% of the instructions
    k = round(TARGET_CALLS * n)
    tt = sps.ttest_1samp(streams[:, :k], 0.5, axis=1)
    fixed = float(np.mean((tt.pvalue < alpha) & (np.sign(tt.statistic) == full))) if full else float("nan")
    # validity: sign-flipped outcomes have mean 0.5 exactly in expectation
    flips = rng.choice([-1.0, 1.0], size=streams.shape)
    null_streams = 0.5 + flips * np.abs(streams - 0.5)
    null_rej = float(np.mean(adaptive_stops(null_streams, alpha=alpha).direction != 0))
    return {
        "n": n,
        "effect": stats.win_rate - 0.5,
        "t": float(sps.ttest_1samp(x, 0.5).statistic),
        "p": p,
        "full": full,
        "significant": full != 0,
        "agree": float(np.mean(stops.direction == full)),
        "calls": float(frac.mean()),
        "early": float(early.mean()),
        "by_final": float(stops.by_final.mean()),
        "fixed": fixed,
        "null_rej": null_rej,
    }


def summarise(rows: list[dict]) -> tuple[float, float, float]:
    """Mean agreement and calls over the significant pairs; pooled null verdict rate."""
    sig = [r for r in rows if r["significant"]]
    agree = float(np.mean([r["agree"] for r in sig])) if sig else float("nan")
    calls = float(np.mean([r["calls"] for r in sig])) if sig else float("nan")
    return agree, calls, float(np.mean([r["null_rej"] for r in rows]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--orders", type=int, default=200, help="random orders per pair")
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    data: Path = args.data
    missing = [
        str(data / m / "annotations.json") for m in MODELS if not (data / m / "annotations.json").is_file()
    ]
    if missing:
        print(f"adaptive: missing data file(s): {', '.join(missing)}", file=sys.stderr)
        return 2
    scores = load_scores(data)
    rng = np.random.default_rng(args.seed)
    alpha = args.alpha
    print(
        "judge = recorded AlpacaEval 2 preferences; pair outcome = 1 / 0.5 / 0 as p_new >, =, < p_old "
        f"against the shared baseline; alpha {alpha}; {args.orders} random orders per pair; "
        "budget = all instructions"
    )
    print(
        f"adaptive test: betting confidence sequence (Waudby-Smith & Ramdas) at {0.75 * alpha:g}, stop when "
        f"it excludes 0.5; at the budget a t-test at {0.25 * alpha:g}; full-data test: one-sample t-test "
        f"at {alpha:g}"
    )
    print()
    head = (
        f"{'old (A)':<21} {'new (B)':<21} {'n':>4} {'mean-0.5':>9} {'t':>7} {'p':>8} {'full verdict':>12}"
        f" {'agree':>6} {'calls':>6} {'early':>6} {'final':>6} {'fixed 35%':>9} {'null rej':>8}"
    )
    print(head)
    print("-" * len(head))
    rows = []
    t0 = time.perf_counter()
    for old, new in itertools.combinations(MODELS, 2):
        r = evaluate_pair(pair_outcomes(scores, old, new), rng, args.orders, alpha)
        rows.append(r)
        verdict = {1: "B better", -1: "A better", 0: "undecided"}[r["full"]]
        print(
            f"{old:<21} {new:<21} {r['n']:>4} {r['effect']:>+9.4f} {r['t']:>+7.2f} {r['p']:>8.1e} "
            f"{verdict:>12} {r['agree']:>6.1%} {r['calls']:>6.1%} {r['early']:>6.1%} {r['by_final']:>6.1%} "
            f"{pct(r['fixed']):>9} {r['null_rej']:>8.1%}"
        )
    elapsed = time.perf_counter() - t0
    print()
    print("columns: agree = adaptive verdict equals the full-data verdict; calls = mean share of the")
    print("instructions judged; early = share of orders stopped by the confidence sequence before the")
    print("end; final = share decided by the final test at the budget; fixed 35% = context, see the")
    print("docstring; null rej = share of sign-flipped (mean 0.5) streams that ever gave a verdict")
    print("(must be <= alpha).")
    print()
    sig = [r for r in rows if r["significant"]]
    nonsig = [r for r in rows if not r["significant"]]
    mean_agree, mean_calls, pooled_null = summarise(rows)
    worst_null = max(r["null_rej"] for r in rows)
    print(f"significant pairs (full-data t-test p < {alpha}): {len(sig)} of {len(rows)}")
    agree_ok = mean_agree >= TARGET_AGREEMENT
    calls_ok = mean_calls <= TARGET_CALLS
    print(
        f"over the significant pairs (unweighted mean over pairs of the per-pair figure): agreement "
        f"{mean_agree:.1%} (target >= {TARGET_AGREEMENT:.0%}: {'PASS' if agree_ok else 'FAIL'}); "
        f"mean share of calls {mean_calls:.1%} "
        f"(target <= {TARGET_CALLS:.0%}: {'PASS' if calls_ok else 'FAIL'})"
    )
    mean_fixed = float(np.mean([r["fixed"] for r in sig])) if sig else float("nan")
    print(
        f"context: one pre-planned t-test after 35% of the instructions would reach the full-data verdict in "
        f"{mean_fixed:.1%} of the orders (mean over the significant pairs)"
    )
    if nonsig:
        print(
            f"non-significant pairs: adaptive stayed undecided in "
            f"{np.mean([r['agree'] for r in nonsig]):.1%} of the orders (mean over pairs)"
        )
    null_ok = pooled_null <= alpha
    print(
        f"validity on realistic null streams: verdict rate {pooled_null:.2%} pooled over "
        f"{len(rows) * args.orders} streams, worst pair {worst_null:.2%} (bound {alpha:.0%}: "
        f"{'PASS' if null_ok else 'FAIL'})"
    )
    soft_rows = [
        evaluate_pair(pair_outcomes(scores, a, b, soft=True), rng, args.orders, alpha)
        for a, b in itertools.combinations(MODELS, 2)
    ]
    s_agree, s_calls, s_null = summarise(soft_rows)
    print(
        f"context, averaged raw preferences (0.5 + (p_new - p_old)/2) as the outcome: "
        f"{sum(r['significant'] for r in soft_rows)} significant pairs, |t| "
        f"{min(abs(r['t']) for r in soft_rows):.1f} to {max(abs(r['t']) for r in soft_rows):.1f}; "
        f"agreement {s_agree:.1%}, calls {s_calls:.1%}, null verdict rate {s_null:.2%}"
    )
    example = adaptive_compare(pair_outcomes(scores, MODELS[1], MODELS[3]), alpha=alpha, seed=args.seed)
    print(
        f"example ({MODELS[1]} vs {MODELS[3]}, one order): verdict '{example.verdict}' after "
        f"{example.n_calls} calls ({example.reason}); mean {example.mean:.4f}, "
        f"{1 - (example.alpha_sequential or alpha):.2%} CS "
        f"[{example.interval[0]:.4f}, {example.interval[1]:.4f}]"
    )
    print(f"time: {elapsed:.1f} s (main table)")
    met = agree_ok and calls_ok and null_ok
    print("ALL PASS" if met else "targets not met")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
