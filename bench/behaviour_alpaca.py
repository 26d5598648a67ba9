"""Acceptance on real data: behaviour axes between AlpacaEval 2 model versions.

Loads each model's ``model_outputs.json`` with deltaeval's importer (format ``alpaca_outputs``;
the example id is a hash of the instruction, so runs pair by instruction text), aligns the two
runs, computes every default behaviour axis (the instruction is the input of
``restates_question``) and validates the axes with
``deltaeval.analysis.behaviour.behaviour_stats`` (1,000 bootstrap replicates, 95% intervals,
Benjamini–Hochberg at 0.05, 5-fold cross-validation, seed 0).

Preference between the two versions. AlpacaEval judges every model against the same baseline
(``gpt4_1106_preview``): ``preference`` in [1, 2] from ``annotations.json``, read as
p = preference − 1, the judge's probability that the model beats the baseline. The head-to-head
outcome used here is ``0.5 + (p_new − p_old) / 2`` in [0, 1]: above 0.5 when the judge rated the
new version's answer better against the shared baseline than the old version's. It is analysed
in binary mode (outcome > 0.5, exact ties left out); an instruction with a null preference on
either side has no outcome.

Checks (PASS/FAIL; exit 1 on any FAIL, 2 when the data is missing):

1. ``alpaca-7b`` → ``alpaca-7b_verbose``: the most separable axis is a length axis (family
   ``length``), pointing up, with a difference interval excluding 0.
2. ``alpaca-7b`` → ``alpaca-7b_concise``: that same axis points down, interval excluding 0.

For ``oasst-sft-llama-33b`` → ``oasst-rlhf-llama-33b`` it prints the top five axes with their
intervals, the combined model's accuracy at telling the versions apart, and how the axes
predict the judge's preference. It also prints how closely the fast sentiment scorer agrees
with the vaderSentiment package on these real outputs.

Run from the repository root:
``python bench/behaviour_alpaca.py --data ../shared/data/alpaca_eval``
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _alpaca import DEFAULT_DATA

from deltaeval.alignment import Alignment, align
from deltaeval.analysis.behaviour import AxisResult, BehaviourStats, behaviour_stats
from deltaeval.behaviour import AXES, compute_axes, default_axis_names, skipped_axes
from deltaeval.errors import DeltaEvalError
from deltaeval.io import load_run
from deltaeval.types import input_text

BASE, VERBOSE, CONCISE = "alpaca-7b", "alpaca-7b_verbose", "alpaca-7b_concise"
OLD, NEW = "oasst-sft-llama-33b", "oasst-rlhf-llama-33b"
N_BOOT, LEVEL, ALPHA, FOLDS, SEED = 1000, 0.95, 0.05, 5, 0
SENTIMENT_SAMPLE = 400


@dataclass(frozen=True)
class Pair:
    name: str
    alignment: Alignment
    old_axes: dict[str, np.ndarray]
    new_axes: dict[str, np.ndarray]
    preference: np.ndarray
    stats: BehaviourStats
    seconds_axes: float
    seconds_stats: float


def preferences(data: Path, model: str, ids: tuple[str, ...]) -> np.ndarray:
    """p = preference − 1 per example id (NaN when the judge gave none)."""
    run = load_run(data / model / "annotations.json", format="alpaca_annotations")
    by_id = {
        e.id: (np.nan if o.error is not None or o.score is None else o.score)
        for e, o in zip(run.examples, run.outputs, strict=True)
    }
    return np.array([by_id.get(i, np.nan) for i in ids], dtype=float)


def analyse(data: Path, old_model: str, new_model: str) -> Pair:
    old = load_run(data / old_model / "model_outputs.json", format="alpaca_outputs")
    new = load_run(data / new_model / "model_outputs.json", format="alpaca_outputs")
    alignment = align(old, new)
    inputs = [input_text(e.input) for e in alignment.examples]
    names = default_axis_names(with_inputs=True)
    start = time.perf_counter()
    old_axes = compute_axes([o.text for o in alignment.old], inputs, names)
    new_axes = compute_axes([o.text for o in alignment.new], inputs, names)
    seconds_axes = time.perf_counter() - start
    p_old = preferences(data, old_model, alignment.ids)
    p_new = preferences(data, new_model, alignment.ids)
    outcome = 0.5 + (p_new - p_old) / 2.0
    start = time.perf_counter()
    stats = behaviour_stats(
        old_axes, new_axes, outcome, n_boot=N_BOOT, level=LEVEL, alpha=ALPHA, folds=FOLDS, seed=SEED
    )
    return Pair(
        f"{old_model} -> {new_model}",
        alignment,
        old_axes,
        new_axes,
        outcome,
        stats,
        seconds_axes,
        time.perf_counter() - start,
    )


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def fmt_interval(interval: tuple[float, float] | None, digits: int = 2) -> str:
    return "-" if interval is None else f"[{interval[0]:.{digits}f}, {interval[1]:.{digits}f}]"


def axis_table(results: tuple[AxisResult, ...], top: int) -> None:
    header = (
        f"{'#':>2} {'axis':<19} {'unit':<21} {'old':>8} {'new':>8} {'diff':>8} {'95% interval':>20} "
        f"{'d_z':>6} {'q':>8} {'AUROC':>6} {'95% interval':>14} {'paired':>6} pass"
    )
    print(header)
    print("-" * len(header))
    for rank, r in enumerate(results[:top], start=1):
        unit = AXES[r.name].unit if r.name in AXES else ""
        q = "-" if r.q_value is None else f"{r.q_value:.1e}"
        print(
            f"{rank:>2} {r.name:<19} {unit[:21]:<21} {fmt(r.mean_old):>8} {fmt(r.mean_new):>8} "
            f"{fmt(r.diff):>8} {fmt_interval(r.diff_interval):>20} {fmt(r.effect_size):>6} {q:>8} "
            f"{fmt(r.auroc, 3):>6} {fmt_interval(r.auroc_interval, 3):>14} {fmt(r.paired_auroc, 3):>6} "
            f"{'yes' if r.passes else 'no'}"
        )


def summary(pair: Pair, top: int) -> None:
    s = pair.stats
    a = pair.alignment
    print(f"== {pair.name} ==")
    print(
        f"paired examples: {a.n} (missing in new: {len(a.missing_in_new)}, in old: "
        f"{len(a.missing_in_old)}); axes: {len(pair.old_axes)}; computed in {pair.seconds_axes:.2f} s, "
        f"analysed in {pair.seconds_stats:.2f} s"
    )
    print(
        f"axes passing (BH q < {s.alpha} and difference interval excludes 0): "
        f"{len(s.passing)} of {len(s.axes)}; effect size = Cohen's d_z; most separable first"
    )
    axis_table(s.axes, top)
    if s.combined is not None:
        c = s.combined
        print(
            f"combined model ({c.folds}-fold CV, all {len(c.axes)} axes): which output of a pair is "
            f"new: {fmt(c.identity_pair_accuracy, 3)}; one output alone: "
            f"{fmt(c.identity_pooled_accuracy, 3)} (chance {c.identity_chance})"
        )
    for note in s.notes:
        print(f"note: {note}")


def preference_report(pair: Pair, top: int) -> None:
    s = pair.stats
    outcome = pair.preference
    known = np.isfinite(outcome)
    print()
    print("-- how the axes predict the judge's preference (new vs old via the shared baseline) --")
    print(
        f"outcome = 0.5 + (p_new - p_old)/2 with p = AlpacaEval preference - 1; known for "
        f"{int(known.sum())} examples; new better: {int((outcome > 0.5).sum())}, old better: "
        f"{int((outcome < 0.5).sum())}, exact ties (left out): {int((outcome == 0.5).sum())}"
    )
    chance = s.combined.preference_chance if s.combined is not None else None
    print(
        "per axis: logistic regression of (outcome > 0.5) on the standardised difference "
        f"new - old; coef = change in log-odds per SD; CV accuracy chance = larger class {fmt(chance, 3)}"
    )
    header = f"{'axis':<19} {'coef':>7} {'95% interval':>18} {'CV accuracy':>11} {'n':>5}"
    print(header)
    print("-" * len(header))
    ranked = sorted(
        (r for r in s.axes if r.preference is not None and r.preference.coef is not None),
        key=lambda r: -abs(r.preference.coef),  # type: ignore[union-attr]
    )
    for r in ranked[:top]:
        p = r.preference
        print(
            f"{r.name:<19} {fmt(p.coef):>7} {fmt_interval(p.coef_interval):>18} "  # type: ignore[union-attr]
            f"{fmt(p.cv_accuracy, 3):>11} {p.n:>5}"  # type: ignore[union-attr]
        )
    print("the five most separable axes:")
    for r in s.axes[:5]:
        p = r.preference
        if p is not None:
            print(
                f"  {r.name:<19} {fmt(p.coef):>7} {fmt_interval(p.coef_interval):>18} "
                f"{fmt(p.cv_accuracy, 3):>11}"
            )
    c = s.combined
    if c is not None and c.preference_accuracy is not None:
        print(
            f"combined preference model ({c.folds}-fold CV, L2 logistic on all standardised "
            f"differences): accuracy {fmt(c.preference_accuracy, 3)} on {c.n_preference} examples "
            f"(chance = larger class {fmt(c.preference_chance, 3)})"
        )
        coefs = sorted(
            ((k, v) for k, v in c.preference_coefs.items() if v is not None), key=lambda kv: -abs(kv[1])
        )
        print("its largest coefficients (log-odds per SD, 95% bootstrap interval):")
        for name, value in coefs[:top]:
            print(f"  {name:<19} {value:>7.2f} {fmt_interval(c.preference_coef_intervals.get(name)):>18}")


def sentiment_agreement(pair: Pair) -> None:
    if "sentiment" not in pair.old_axes or AXES["sentiment_vader"].unavailable is not None:
        print("sentiment agreement: skipped (vaderSentiment not installed)")
        return
    texts = [o.text for o in pair.alignment.old] + [o.text for o in pair.alignment.new]
    fast = np.concatenate([pair.old_axes["sentiment"], pair.new_axes["sentiment"]])
    rng = np.random.default_rng(SEED)
    pick = rng.choice(len(texts), size=min(SENTIMENT_SAMPLE, len(texts)), replace=False)
    start = time.perf_counter()
    exact = compute_axes([texts[i] for i in pick], names=["sentiment_vader"])["sentiment_vader"]
    seconds = time.perf_counter() - start
    ok = np.isfinite(exact) & np.isfinite(fast[pick])
    r = float(np.corrcoef(fast[pick][ok], exact[ok])[0, 1])
    mad = float(np.mean(np.abs(fast[pick][ok] - exact[ok])))
    print(
        f"sentiment, fast scorer vs the vaderSentiment package on {int(ok.sum())} real outputs of "
        f"{pair.name}: Pearson r = {r:.3f}, mean |difference| = {mad:.3f} (exact took {seconds:.1f} s)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the alpaca_eval data folder")
    parser.add_argument("--top", type=int, default=8, help="axes shown per comparison")
    args = parser.parse_args(argv)
    data: Path = args.data
    needed = [
        data / m / f
        for m in (BASE, VERBOSE, CONCISE, OLD, NEW)
        for f in ("model_outputs.json", "annotations.json")
    ]
    missing = [p for p in needed if not p.is_file()]
    if missing:
        print(f"behaviour_alpaca: missing data file {missing[0]} (pass --data)", file=sys.stderr)
        return 2
    skipped = skipped_axes(with_inputs=True)
    if skipped:
        print("axes left out here: " + "; ".join(f"{k} ({v})" for k, v in skipped.items()))
    try:
        verbose = analyse(data, BASE, VERBOSE)
        concise = analyse(data, BASE, CONCISE)
        oasst = analyse(data, OLD, NEW)
    except DeltaEvalError as error:
        print(f"behaviour_alpaca: {error}", file=sys.stderr)
        return 2

    failures = 0
    summary(verbose, args.top)
    top = verbose.stats.axes[0]
    family = AXES[top.name].family
    ok1 = family == "length" and top.direction == "up" and top.passes
    print(
        f"{'PASS' if ok1 else 'FAIL'}  check 1: top axis {top.name!r} (family {family}) points "
        f"{top.direction}, difference {fmt(top.diff)} {fmt_interval(top.diff_interval)}"
    )
    failures += not ok1
    print()
    summary(concise, args.top)
    same = concise.stats.axis(top.name)
    ok2 = same.direction == "down" and same.passes
    rank = [r.name for r in concise.stats.axes].index(top.name) + 1
    print(
        f"{'PASS' if ok2 else 'FAIL'}  check 2: {top.name!r} points {same.direction} (rank {rank} here), "
        f"difference {fmt(same.diff)} {fmt_interval(same.diff_interval)}"
    )
    failures += not ok2
    print()
    summary(oasst, 5)
    preference_report(oasst, 8)
    print()
    sentiment_agreement(oasst)
    print()
    print(f"overall: {'PASS' if not failures else 'FAIL'} ({2 - failures} of 2 checks)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
