"""Bradley–Terry ratings at scale: deltaeval against a fair scikit-learn baseline and Arena-Hard's.

Simulates ``--n`` battles (default 1,000,000) among ``--models`` runs (default 50) with known
Elo-scale strengths and a share of ties, then times

* **deltaeval**: ``deltaeval.analysis.ranking.bradley_terry`` — counting the battles into
  cells, Newton on the aggregated win matrix, and ``--n-boot`` bootstrap rounds (multinomial on
  the cells, batched refits);
* **fair baseline** (the same algorithm with the same libraries, as a competent engineer would
  write it): the battles counted once into (a, b, outcome) cells with one ``bincount``; per fit,
  the win matrix from the cell counts (Arena-Hard's: wins twice, ties once to each side), a
  vectorised design with one row per unordered pair and outcome (``+ln 10`` for i, ``−ln 10``
  for j, weighted by the matrix entry), and the same scikit-learn solver as Arena-Hard
  (``LogisticRegression``, lbfgs, ``C=1e8``, ``tol=1e-10``), warm-started from the previous
  fit; bootstrap = multinomial draws of the cell counts (what resampling battles amounts to),
  ``--n-boot`` refits, all measured;
* **anchor baseline** (anchor-faithful: what Arena-Hard's ``show_result.py`` does, re-implemented
  here): a pandas DataFrame of battles; per fit, pivot tables of wins and ties into a win matrix (wins counted
  twice, ties once to each side), one design row per ordered pair with ``X[a] = +ln 10``,
  ``X[b] = −ln 10`` weighted by the matrix entry, scikit-learn ``LogisticRegression``
  (``fit_intercept=False``, ``C=1e8``, i.e. almost no penalty, ``tol=1e-10``, lbfgs); rating =
  400 · coefficient, mean-centred at 1000; bootstrap = ``DataFrame.sample(frac=1,
  replace=True)`` and refit, ``--baseline-boot`` rounds (extrapolated linearly to ``--n-boot``
  when fewer, and labelled so);
* for reference, a **per-battle** one-hot fit (one sparse row per battle, a tie as two rows of
  weight 1/2) with the same ``LogisticRegression``: one fit, timed.

Agreement: the largest absolute difference between deltaeval's ratings and each baseline's
(on the 400-point Elo scale with the mean fixed at 1000); target ≤ 1e-3 rating points for both.
Speed: total time (fit + bootstrap) of each baseline over deltaeval's; target ≥ 20× the fair
baseline (the anchor ratio is printed beside it, labelled). The machine's load average is printed
at the start and the end. Also fits the style-controlled model on simulated style features
(information: time, the recovered style coefficients).

Run from the repository root: ``python bench/ranking.py`` (a few minutes on 2 cores, most of it
the anchor baseline's 100 rounds; ``--baseline-boot 20`` measures 20 and extrapolates, labelled
so); ``--quick`` (under a minute) runs 3 anchor rounds, 2 style rounds and no per-battle fit.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from deltaeval.analysis.ranking import bradley_terry, style_controlled_bradley_terry, style_features

LN10 = math.log(10.0)


def draw_outcomes(p_a: np.ndarray, tie_rate: float, rng: np.random.Generator) -> np.ndarray:
    """Outcomes whose mean is the model probability ``p_a``, with ties more likely in close battles.

    A battle is a tie with probability ``tau = tie_rate * 4 p (1 − p)``; otherwise a wins with
    ``(p − tau/2) / (1 − tau)``, so E[outcome] = p and the half-credit Bradley–Terry fit is
    consistent for the true ratings.
    """
    tau = tie_rate * 4 * p_a * (1 - p_a)
    tie = rng.random(p_a.size) < tau
    win = rng.random(p_a.size) < (p_a - tau / 2) / (1 - tau)
    return np.where(tie, 0.5, win.astype(float))


def simulate(n_battles: int, n_models: int, tie_rate: float, seed: int):
    """Battles (a, b, outcome for a) among runs with Elo ratings drawn around 1000 (sd 200)."""
    rng = np.random.default_rng(seed)
    true = 1000 + rng.normal(0, 200, n_models)
    true -= true.mean() - 1000
    a = rng.integers(0, n_models, n_battles)
    b = (a + rng.integers(1, n_models, n_battles)) % n_models
    p_a = 1.0 / (1.0 + 10 ** (-(true[a] - true[b]) / 400))
    return true, a, b, draw_outcomes(p_a, tie_rate, rng)


# ---- fair baseline: counts once, vectorised design, the same scikit-learn solver -----------------


class FairBradleyTerry:
    """Bradley–Terry by scikit-learn's ``LogisticRegression`` on battles counted once."""

    def __init__(self, a: np.ndarray, b: np.ndarray, outcome: np.ndarray, n_models: int):
        self.n = n_models
        key = (a * n_models + b) * 3 + np.rint(outcome * 2).astype(np.int64)  # outcome 0, 0.5, 1
        counts = np.bincount(key, minlength=n_models * n_models * 3)
        cells = np.flatnonzero(counts)
        self.cell_a, self.cell_b = cells // 3 // n_models, cells // 3 % n_models
        self.cell_y = (cells % 3) / 2.0
        self.counts = counts[cells]
        self.i, self.j = np.triu_indices(n_models, k=1)
        rows = np.arange(self.i.size)
        x = np.zeros((self.i.size, n_models))
        x[rows, self.i], x[rows, self.j] = LN10, -LN10
        self.x = np.vstack([x, x])
        self.y = np.concatenate([np.ones(self.i.size), np.zeros(self.i.size)])
        self.lr = LogisticRegression(fit_intercept=False, C=1e8, tol=1e-10, max_iter=10_000, warm_start=True)

    def fit(self, counts: np.ndarray) -> np.ndarray:
        """Ratings (mean 1000) from the cell counts: wins counted twice, ties once to each side."""
        nn = self.n * self.n
        win = np.bincount(self.cell_a * self.n + self.cell_b, counts * 2 * self.cell_y, minlength=nn)
        win += np.bincount(self.cell_b * self.n + self.cell_a, counts * 2 * (1 - self.cell_y), minlength=nn)
        win = win.reshape(self.n, self.n)
        self.lr.fit(self.x, self.y, sample_weight=np.concatenate([win[self.i, self.j], win[self.j, self.i]]))
        ratings = 400 * self.lr.coef_[0]
        return ratings - ratings.mean() + 1000


def fair_bradley_terry(
    a: np.ndarray, b: np.ndarray, outcome: np.ndarray, n_models: int, n_boot: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Ratings and their 95% percentile intervals (``n_boot`` multinomial draws of the cell counts)."""
    model = FairBradleyTerry(a, b, outcome, n_models)
    ratings = model.fit(model.counts)
    total = int(model.counts.sum())
    draws = np.random.default_rng(seed).multinomial(total, model.counts / total, size=n_boot)
    reps = np.array([model.fit(d) for d in draws])
    return ratings, np.quantile(reps, [0.025, 0.975], axis=0).T


# ---- anchor baseline: Arena-Hard's procedure -----------------------------------------------------------


def arena_hard_fit(battles: pd.DataFrame, n_models: int) -> np.ndarray:
    """Ratings (mean 1000) the way Arena-Hard computes them from a battles DataFrame."""
    models = range(n_models)
    a_win = pd.pivot_table(
        battles[battles.winner == "model_a"], index="model_a", columns="model_b", aggfunc="size", fill_value=0
    ).reindex(index=models, columns=models, fill_value=0)
    b_win = pd.pivot_table(
        battles[battles.winner == "model_b"], index="model_a", columns="model_b", aggfunc="size", fill_value=0
    ).reindex(index=models, columns=models, fill_value=0)
    ties = pd.pivot_table(
        battles[battles.winner == "tie"], index="model_a", columns="model_b", aggfunc="size", fill_value=0
    ).reindex(index=models, columns=models, fill_value=0)
    ties = ties + ties.T
    win = a_win * 2 + b_win.T * 2 + ties
    rows, labels, weights = [], [], []
    for i in models:
        for j in models:
            if i == j:
                continue
            x = np.zeros(n_models)
            x[i], x[j] = LN10, -LN10
            rows.extend([x, x])
            labels.extend([1, 0])
            weights.extend([win.loc[i, j], win.loc[j, i]])
    lr = LogisticRegression(fit_intercept=False, C=1e8, tol=1e-10, max_iter=10_000)
    lr.fit(np.array(rows), np.array(labels), sample_weight=np.array(weights, dtype=float))
    ratings = 400 * lr.coef_[0]
    return ratings - ratings.mean() + 1000


def per_battle_fit(a: np.ndarray, b: np.ndarray, outcome: np.ndarray, n_models: int) -> np.ndarray:
    """Same model, one sparse one-hot row per battle (a tie: two rows of weight 1/2)."""
    tie = outcome == 0.5
    aa = np.concatenate([a, a[tie]])
    bb = np.concatenate([b, b[tie]])
    y = np.concatenate([np.where(tie, 1, outcome).astype(int), np.zeros(int(tie.sum()), dtype=int)])
    w = np.concatenate([np.where(tie, 0.5, 1.0), np.full(int(tie.sum()), 0.5)])
    m = aa.size
    rows = np.repeat(np.arange(m), 2)
    cols = np.stack([aa, bb], axis=1).ravel()
    vals = np.tile([LN10, -LN10], m)
    X = sparse.csr_matrix((vals, (rows, cols)), shape=(m, n_models))
    lr = LogisticRegression(fit_intercept=False, C=1e8, tol=1e-10, max_iter=10_000)
    lr.fit(X, y, sample_weight=w)
    ratings = 400 * lr.coef_[0]
    return ratings - ratings.mean() + 1000


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min) on {os.cpu_count()} CPUs"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="battles")
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--tie-rate", type=float, default=0.3, help="tie probability of an even battle")
    parser.add_argument("--n-boot", type=int, default=100)
    parser.add_argument(
        "--baseline-boot", type=int, default=100, help="anchor rounds actually run (fewer: extrapolated)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed repeats of the deltaeval path")
    parser.add_argument("--style-boot", type=int, default=10, help="bootstrap rounds of the style fit")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="3 anchor rounds (extrapolated, labelled so), 2 style rounds, no per-battle fit: under a minute",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.baseline_boot = min(args.baseline_boot, 3)
        args.style_boot = min(args.style_boot, 2)

    print(f"machine: {load()} at the start")
    true, a, b, outcome = simulate(args.n, args.models, args.tie_rate, args.seed)
    print(
        f"simulated {args.n:,} battles among {args.models} runs (true Elo sd 200, "
        f"{np.mean(outcome == 0.5):.1%} ties); "
        f"bootstrap rounds {args.n_boot}"
    )

    # deltaeval ----------------------------------------------------------------------------------
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        ours = bradley_terry(a, b, outcome, n_models=args.models, n_boot=args.n_boot, seed=args.seed)
        times.append(time.perf_counter() - t0)
    t_ours = float(np.median(times))
    t0 = time.perf_counter()
    bradley_terry(a, b, outcome, n_models=args.models, n_boot=0)
    t_ours_fit = time.perf_counter() - t0
    print()
    print(
        "== deltaeval: bradley_terry (count cells, Newton on the 50x50 win matrix, multinomial bootstrap) =="
    )
    print(
        f"fit only: {t_ours_fit:.3f} s; fit + {args.n_boot} bootstrap rounds: {t_ours:.3f} s "
        f"(median of {args.repeat}: {', '.join(f'{t:.3f}' for t in times)})"
    )

    # fair baseline ------------------------------------------------------------------------------
    t0 = time.perf_counter()
    fair, fair_intervals = fair_bradley_terry(a, b, outcome, args.models, args.n_boot, args.seed)
    t_fair = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = FairBradleyTerry(a, b, outcome, args.models)
    model.fit(model.counts)
    t_fair_fit = time.perf_counter() - t0
    print()
    print(
        "== fair baseline: counts once (bincount), vectorised design, scikit-learn LogisticRegression "
        "(lbfgs, warm-started) per fit, multinomial bootstrap of the counts =="
    )
    print(
        f"fit only: {t_fair_fit:.3f} s (counting included); fit + {args.n_boot} bootstrap "
        f"rounds: {t_fair:.2f} s (measured)"
    )

    # anchor baseline ----------------------------------------------------------------------------
    winner = np.where(outcome == 1.0, "model_a", np.where(outcome == 0.0, "model_b", "tie"))
    battles = pd.DataFrame({"model_a": a, "model_b": b, "winner": winner})
    t0 = time.perf_counter()
    base = arena_hard_fit(battles, args.models)
    t_base_fit = time.perf_counter() - t0
    k = min(args.baseline_boot, args.n_boot)
    base_reps = []
    t0 = time.perf_counter()
    for i in range(k):
        sample = battles.sample(frac=1.0, replace=True, random_state=args.seed + i)
        base_reps.append(arena_hard_fit(sample, args.models))
    t_base_boot = time.perf_counter() - t0
    per_round = t_base_boot / k if k else float("nan")
    t_base_total = t_base_fit + per_round * args.n_boot
    extrapolated = k < args.n_boot
    print()
    print(
        "== anchor baseline, anchor-faithful: Arena-Hard procedure (pandas pivot + scikit-learn "
        "LogisticRegression per round) =="
    )
    print(
        f"fit only: {t_base_fit:.3f} s; {k} bootstrap rounds measured: {t_base_boot:.2f} s "
        f"({per_round:.3f} s per round)"
    )
    label = "EXTRAPOLATED linearly from the measured rounds" if extrapolated else "measured"
    print(f"fit + {args.n_boot} bootstrap rounds: {t_base_total:.2f} s ({label})")

    per_battle = None
    if not args.quick:
        t0 = time.perf_counter()
        per_battle = per_battle_fit(a, b, outcome, args.models)
        t_pb = time.perf_counter() - t0
        print(
            f"reference: per-battle one-hot fit (sparse, {args.n + int((outcome == 0.5).sum()):,} rows): "
            f"{t_pb:.2f} s for one fit (x{args.n_boot + 1} fits would be about "
            f"{t_pb * (args.n_boot + 1):.0f} s)"
        )

    # agreement ----------------------------------------------------------------------------------
    diff_fair = float(np.max(np.abs(ours.ratings - fair)))
    diff = float(np.max(np.abs(ours.ratings - base)))
    print()
    print("== agreement (Elo scale: 400 points = 10:1 odds; mean rating fixed at 1000 in all) ==")
    print(
        f"max |deltaeval − fair baseline| rating: {diff_fair:.2e} points  "
        f"(target <= 1e-3: {'PASS' if diff_fair <= 1e-3 else 'FAIL'})"
    )
    print(
        f"max |deltaeval − anchor baseline| rating: {diff:.2e} points  "
        f"(target <= 1e-3: {'PASS' if diff <= 1e-3 else 'FAIL'})"
    )
    if per_battle is not None:
        print(
            f"max |deltaeval − per-battle fit| rating: {np.max(np.abs(ours.ratings - per_battle)):.2e} points"
        )
    print(f"max |deltaeval − true| rating: {np.max(np.abs(ours.ratings - true)):.2f} points (sampling error)")
    width_ours = ours.intervals[:, 1] - ours.intervals[:, 0]
    widths = f"deltaeval {width_ours.mean():.2f}, fair baseline {np.mean(np.diff(fair_intervals)):.2f}"
    if base_reps:
        lo_b, hi_b = np.quantile(np.array(base_reps), [0.025, 0.975], axis=0)
        widths += f", anchor baseline {np.mean(hi_b - lo_b):.2f} ({k} rounds)"
    print(f"95% interval width, mean over runs: {widths} — Monte Carlo, so they differ by noise")
    covered = np.mean((ours.intervals[:, 0] <= true) & (true <= ours.intervals[:, 1]))
    print(f"true rating inside deltaeval's 95% interval for {covered:.0%} of the runs")

    speedup_fair = t_fair / t_ours
    speedup = t_base_total / t_ours
    print()
    print("== speed (fit + bootstrap, each baseline over deltaeval, same run) ==")
    print(
        f"fair baseline {t_fair:.2f} s (measured) / deltaeval {t_ours:.3f} s = {speedup_fair:.0f}x  "
        f"(target >= 20x: {'PASS' if speedup_fair >= 20 else 'FAIL'})"
    )
    print(
        f"anchor baseline (anchor-faithful) {t_base_total:.2f} s{' (extrapolated)' if extrapolated else ''} "
        f"/ deltaeval {t_ours:.3f} s = {speedup:.0f}x  (target >= 20x: {'PASS' if speedup >= 20 else 'FAIL'})"
    )

    # style control (information) ----------------------------------------------------------------
    rng = np.random.default_rng(args.seed + 1)
    verbosity = rng.lognormal(6.5, 0.5, args.models)  # each run's typical answer length
    markdown = rng.uniform(0.5, 5.0, (args.models, 3))  # each run's typical markdown counts
    len_a = rng.poisson(verbosity[a])
    len_b = rng.poisson(verbosity[b])
    md_a = rng.poisson(markdown[a])
    md_b = rng.poisson(markdown[b])
    feats = style_features(len_a, len_b, md_a, md_b)
    z = (feats - feats.mean(axis=0)) / feats.std(axis=0)
    planted = np.array([0.4, 0.1, 0.0, 0.2])
    beta = (true - 1000) * LN10 / 400
    p_a = 1.0 / (1.0 + np.exp(-(beta[a] - beta[b] + z @ planted)))
    y_style = draw_outcomes(p_a, args.tie_rate, rng)
    t0 = time.perf_counter()
    styled = style_controlled_bradley_terry(
        a, b, y_style, feats, n_models=args.models, n_boot=args.style_boot, seed=args.seed
    )
    t_style = time.perf_counter() - t0
    plain = bradley_terry(a, b, y_style, n_models=args.models, n_boot=0)
    print()
    print(
        "== style control (information): runs differ in verbosity and markdown; the judge rewards "
        "style (planted effects); per-battle Newton/IRLS =="
    )
    print(f"fit + {args.style_boot} bootstrap rounds on {args.n:,} battles: {t_style:.2f} s")
    print(
        "style coefficients (logit per sd), planted vs fitted [95% interval]: "
        + "; ".join(
            f"{name} {planted[j]:+.2f} vs {styled.style_coefficients[name]:+.3f} "
            f"[{styled.style_intervals[name][0]:+.3f}, {styled.style_intervals[name][1]:+.3f}]"
            for j, name in enumerate(styled.style_coefficients)
        )
    )
    print(
        f"max |rating − true|: style-controlled {np.max(np.abs(styled.ratings - true)):.2f}, "
        f"plain BT {np.max(np.abs(plain.ratings - true)):.2f} points"
    )
    print()
    print(f"machine: {load()} at the end")
    ok = diff <= 1e-3 and diff_fair <= 1e-3 and speedup_fair >= 20 and speedup >= 20
    print("ALL PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
