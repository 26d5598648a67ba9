"""Validation on real data: AlpacaEval 2 annotations through deltaeval's importer and analyses.

1. Imports ``oasst-sft-llama-33b`` and ``oasst-rlhf-llama-33b`` annotations (format
   ``alpaca_annotations``; correct = the model beat the baseline), compares them with
   ``deltaeval.compare(old, new, by="dataset")`` and prints the flip report.
2. For five models, recomputes the leaderboard figures (win rate, its standard error, discrete
   win rate, wins/losses/draws, total) from the imported runs with
   ``deltaeval.analysis.preference.alpaca_win_rate`` and checks them against the published
   ``leaderboard_subset.csv``: PASS when every absolute difference is <= 0.01.

Exit codes: 0 all PASS, 1 any FAIL, 2 data missing or unreadable.

Run from the repository root:
``python bench/validate_alpaca.py --data ../shared/data/alpaca_eval``
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
from _alpaca import DEFAULT_DATA, MODELS

import deltaeval
from deltaeval.analysis.preference import alpaca_win_rate
from deltaeval.errors import DeltaEvalError
from deltaeval.io import load_run
from deltaeval.types import Run

OLD, NEW = "oasst-sft-llama-33b", "oasst-rlhf-llama-33b"
FIGURES = ("win_rate", "standard_error", "discrete_win_rate", "n_wins", "n_wins_base", "n_draws", "n_total")
TOLERANCE = 0.01
SLICE_TAG = "dataset"


def preferences(run: Run) -> np.ndarray:
    """Per-example AlpacaEval preferences of an imported annotations run (NaN for errors).

    The importer stores ``score = preference - 1`` and marks a null preference as an error.
    """
    return np.array(
        [np.nan if o.error is not None or o.score is None else o.score + 1.0 for o in run.outputs],
        dtype=float,
    )


def read_leaderboard(path: Path) -> dict[str, dict[str, float]]:
    """Rows of ``leaderboard_subset.csv`` keyed by model (the first, unnamed column)."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        table: dict[str, dict[str, float]] = {}
        for row in reader:
            if not row:
                continue
            values = dict(zip(header[1:], row[1:], strict=False))
            table[row[0]] = {f: float(values[f]) for f in FIGURES if values.get(f, "") != ""}
    return table


def has_tag(run: Run, tag: str) -> bool:
    return any(tag in e.tags for e in run.examples)


def flip_report(data: Path) -> None:
    old = load_run(data / OLD / "annotations.json", format="alpaca_annotations")
    new = load_run(data / NEW / "annotations.json", format="alpaca_annotations")
    print(f"== flip report: {OLD} -> {NEW} (correct = beat the baseline, preference > 1.5) ==")
    errors = {r.name: sum(o.error is not None for o in r.outputs) for r in (old, new)}
    print(f"imported {len(old)} and {len(new)} examples; outputs without a preference: {errors}")
    if has_tag(old, SLICE_TAG) or has_tag(new, SLICE_TAG):
        by: tuple[str, ...] = (SLICE_TAG,)
    else:
        by = ()
        print(f"note: the importer set no {SLICE_TAG!r} tag, so no slices are computed")
    report = deltaeval.compare(old, new, by=by)
    report.print()


def leaderboard_check(data: Path) -> bool:
    published = read_leaderboard(data / "leaderboard_subset.csv")
    print()
    print("== leaderboard figures: ours (deltaeval) vs published (leaderboard_subset.csv) ==")
    header = f"{'model':<22} {'figure':<18} {'ours':>12} {'published':>12} {'|diff|':>10}  result"
    print(header)
    print("-" * len(header))
    all_ok = True
    for model in MODELS:
        run = load_run(data / model / "annotations.json", format="alpaca_annotations")
        ours = alpaca_win_rate(preferences(run)).as_dict()
        theirs = published.get(model)
        if theirs is None:
            print(f"{model:<22} {'(all)':<18} {'':>12} {'missing':>12} {'':>10}  FAIL")
            all_ok = False
            continue
        for figure in FIGURES:
            value = float(ours[figure])
            reference = theirs.get(figure)
            if reference is None:
                print(f"{model:<22} {figure:<18} {value:>12.6f} {'missing':>12} {'':>10}  FAIL")
                all_ok = False
                continue
            diff = abs(value - reference)
            ok = bool(np.isfinite(diff) and diff <= TOLERANCE)
            all_ok &= ok
            fmt = ".0f" if figure.startswith("n_") else ".6f"
            print(
                f"{model:<22} {figure:<18} {value:>12{fmt}} {reference:>12{fmt}} {diff:>10.2e}  "
                f"{'PASS' if ok else 'FAIL'}"
            )
    print()
    print(
        f"leaderboard check (tolerance {TOLERANCE} absolute; win rates in percent): "
        f"{'PASS' if all_ok else 'FAIL'}"
    )
    return all_ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        help="the alpaca_eval data folder (default: $DELTAEVAL_DATA/alpaca_eval, else "
        "../shared/data/alpaca_eval beside the repo)",
    )
    args = parser.parse_args(argv)
    data: Path = args.data
    if not data.is_dir():
        print(f"validate_alpaca: data folder not found: {data}", file=sys.stderr)
        return 2
    needed = [data / "leaderboard_subset.csv", *(data / m / "annotations.json" for m in MODELS)]
    missing = [str(p) for p in needed if not p.is_file()]
    if missing:
        print(f"validate_alpaca: missing data file(s): {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        flip_report(data)
        ok = leaderboard_check(data)
    except DeltaEvalError as err:
        print(f"validate_alpaca: {err}", file=sys.stderr)
        return 2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
