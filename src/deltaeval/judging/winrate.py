"""AlpacaEval-style win rates from recorded annotation files (``deltaeval winrate``).

For each model (``generator_2``) in the given ``annotations.json`` files:

- ``win_rate``, ``standard_error``, ``discrete_win_rate``, ``n_wins``, ``n_wins_base``,
  ``n_draws``, ``n_total`` — ``analysis.preference.alpaca_win_rate`` on its preferences, in
  percent, exactly AlpacaEval's leaderboard figures;
- ``length_controlled_winrate`` (percent) with a bootstrap ``lc_standard_error`` and interval —
  ``analysis.length_control.length_controlled_win_rate`` with lengths in characters. The
  instruction difficulty is **estimated jointly from all the files given**
  (``estimate_instruction_difficulty``: one logistic model of every model's preferences with an
  intercept per model, a shared length slope and a ridge-penalised intercept per instruction),
  and each model's slopes are shrunk toward the pooled ones. AlpacaEval estimates difficulty from
  its whole leaderboard instead, so the LC figures come near the published ones but are not
  equal to them (the more models given, the closer). With a single model there is nothing to
  estimate difficulty from and the term is dropped. A model whose preferences cannot be fitted
  honestly gets a null LC figure or a regularised one, with a note (``analysis.length_control``).

Every file must be judged against the same baseline (``generator_1``). When a
``leaderboard_subset.csv`` (or ``leaderboard.csv``) sits next to the files (in a file's folder or
the folder above), its published figures are read and shown beside ours.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deltaeval import __version__
from deltaeval.analysis.length_control import (
    estimate_instruction_difficulty,
    length_controlled_win_rate,
)
from deltaeval.analysis.preference import alpaca_win_rate
from deltaeval.errors import InputError, UsageError
from deltaeval.jsonable import num
from deltaeval.judging.recorded import AlpacaRecord, read_alpaca_annotations
from deltaeval.plural import plural

SCHEMA = "deltaeval.winrate"
SCHEMA_VERSION = 1
LEADERBOARD_NAMES = ("leaderboard_subset.csv", "leaderboard.csv")
PUBLISHED_FIGURES = (
    "win_rate",
    "standard_error",
    "discrete_win_rate",
    "length_controlled_winrate",
    "n_wins",
    "n_wins_base",
    "n_draws",
    "n_total",
    "avg_length",
)


@dataclass(frozen=True)
class WinrateTable:
    """The figures of every model, as the JSON document ``deltaeval winrate --json`` writes."""

    data: dict[str, Any]

    @property
    def runs(self) -> dict[str, dict[str, Any]]:
        return self.data["runs"]


def _num(value: Any) -> float | None:
    return num(value, 10)


def find_leaderboard(paths: Sequence[Path]) -> Path | None:
    """A published leaderboard CSV next to the files (their folder, or the folder above)."""
    for path in paths:
        for folder in (path.parent, path.parent.parent):
            for name in LEADERBOARD_NAMES:
                candidate = folder / name
                if candidate.is_file():
                    return candidate
    return None


def read_leaderboard(path: Path) -> dict[str, dict[str, float]]:
    """Published figures by model from an AlpacaEval leaderboard CSV (first column: the model)."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the leaderboard: {exc}", path=path) from None
    if not rows:
        return {}
    header = rows[0]
    table: dict[str, dict[str, float]] = {}
    for row in rows[1:]:
        if not row or not row[0].strip():
            continue
        figures: dict[str, float] = {}
        for key, value in zip(header[1:], row[1:], strict=False):
            if key in PUBLISHED_FIGURES:
                try:
                    figures[key] = float(value)
                except ValueError:
                    continue
        table[row[0].strip()] = figures
    return table


def _group(paths: Sequence[Path]) -> tuple[dict[str, list[AlpacaRecord]], dict[str, str]]:
    runs: dict[str, list[AlpacaRecord]] = {}
    source: dict[str, str] = {}
    for path in paths:
        for record in read_alpaca_annotations(path):
            if record.model in source and source[record.model] != str(path):
                raise UsageError(
                    f"model {record.model!r} appears in {source[record.model]} and in {path}",
                    hint="give each model's annotations once",
                )
            source[record.model] = str(path)
            runs.setdefault(record.model, []).append(record)
    return runs, source


def alpaca_winrates(
    paths: Sequence[str | Path],
    *,
    n_boot: int = 200,
    seed: int = 0,
    level: float = 0.95,
    leaderboard: str | Path | None = None,
) -> WinrateTable:
    """AlpacaEval figures of every model in ``paths`` (see the module docstring).

    ``leaderboard``: a published leaderboard CSV to compare with (default: one found next to
    the files, if any).
    """
    files = [Path(p) for p in paths]
    if not files:
        raise UsageError("no annotation file given", hint="deltaeval winrate MODEL/annotations.json ...")
    runs, source = _group(files)
    baselines = sorted({r.baseline for records in runs.values() for r in records})
    if len(baselines) > 1:
        raise UsageError(
            f"the files are judged against different baselines: {', '.join(baselines)}",
            hint="give files judged against one baseline (run winrate once per baseline)",
        )
    annotators = sorted({r.annotator for records in runs.values() for r in records if r.annotator})
    index: dict[str, int] = {}
    for records in runs.values():
        for r in records:
            index.setdefault(r.example_id, len(index))
    names = list(runs)
    n = len(index)
    prefs = np.full((len(names), n), np.nan)
    len_model = np.full((len(names), n), np.nan)
    len_base = np.full(n, np.nan)
    notes: list[str] = []
    differing = 0
    for k, name in enumerate(names):
        seen: set[str] = set()
        for r in runs[name]:
            i = index[r.example_id]
            if r.example_id in seen:
                continue  # a repeated instruction: the first annotation counts
            seen.add(r.example_id)
            prefs[k, i] = np.nan if r.preference is None else r.preference
            len_model[k, i] = len(r.model_output)
            if np.isfinite(len_base[i]) and len_base[i] != len(r.baseline_output):
                differing += 1
            else:
                len_base[i] = len(r.baseline_output)
    if differing:
        notes.append(
            f"the baseline's answer differs between files on {plural(differing, 'instruction')}; first kept"
        )

    difficulty = None
    if len(names) >= 2:
        difficulty = estimate_instruction_difficulty(prefs, len_model, len_base)
        if difficulty.separated:
            difficulty = None
            notes.append(
                "instruction difficulty not used: the models' preferences are perfectly separated by "
                "length (the pooled length slope is infinite)"
            )
        else:
            notes.append(
                f"instruction difficulty estimated jointly from the {len(names)} models given "
                f"(ridge {difficulty.ridge:g}; AlpacaEval uses its whole leaderboard, so LC figures differ)"
            )
    else:
        notes.append("one model only: no instruction difficulty term in the length-controlled fit")

    published_path = Path(leaderboard) if leaderboard is not None else find_leaderboard(files)
    published = read_leaderboard(published_path) if published_path is not None else {}

    table: dict[str, dict[str, Any]] = {}
    for k, name in enumerate(names):
        figures = alpaca_win_rate(prefs[k]).as_dict()
        have = np.isfinite(len_model[k])
        lc = length_controlled_win_rate(
            prefs[k][have],
            len_model[k][have],
            len_base[have],
            difficulty=_subset(difficulty, have),
            n_boot=n_boot,
            level=level,
            seed=seed,
        )
        if lc.note:
            notes.append(f"length-controlled win rate of {name} {lc.note}")
        table[name] = {
            "win_rate": _num(figures["win_rate"]),
            "standard_error": _num(figures["standard_error"]),
            "discrete_win_rate": _num(figures["discrete_win_rate"]),
            "n_wins": figures["n_wins"],
            "n_wins_base": figures["n_wins_base"],
            "n_draws": figures["n_draws"],
            "n_total": figures["n_total"],
            "length_controlled_winrate": _num(lc.lc_win_rate),
            "lc_standard_error": _num(lc.standard_error),
            "lc_interval": None if lc.interval is None else [_num(lc.interval[0]), _num(lc.interval[1])],
            "lc_status": lc.status,
            "avg_length": _num(float(np.mean(len_model[k][have]))) if have.any() else None,
            "source": source[name],
        }
    return WinrateTable(
        {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "deltaeval_version": __version__,
            "baseline": baselines[0] if baselines else None,
            "annotators": annotators,
            "units": "percent",
            "settings": {
                "n_boot": n_boot,
                "seed": seed,
                "confidence_level": level,
                "length_unit": "characters",
                "difficulty": "joint" if difficulty is not None else None,
                "n_instructions": n,
            },
            "runs": table,
            "published": None
            if published_path is None
            else {
                "path": str(published_path),
                "runs": {name: published[name] for name in names if name in published},
            },
            "notes": notes,
        }
    )


def _subset(difficulty: Any, keep: np.ndarray) -> Any:
    """The difficulty estimate restricted to the instructions a model answered."""
    if difficulty is None or keep.all():
        return difficulty
    from dataclasses import replace

    return replace(difficulty, difficulty=difficulty.difficulty[keep])
