"""Ratings of three or more runs from pairwise judgments (``deltaeval rank``).

Every judgment with a verdict is one battle between its two runs, as Arena-Hard counts them
(both orders of an example are two battles); a strong verdict (``A>>B``, ``B>>A``) weighs
``strong_weight`` battles (3, Arena-Hard's convention), a probability or a weak verdict one.
``analysis.ranking.bradley_terry`` fits the ratings with bootstrap intervals; when both
outputs of every battle are known, ``style_controlled_bradley_terry`` fits them again with
Arena-Hard's style covariates (length and markdown density differences), giving each run's
strength with style held equal.

Judgments come from judging every pair of runs (:func:`rank_runs`) or from recorded files
(:func:`rank_recorded`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from deltaeval import __version__
from deltaeval.analysis.ranking import (
    Ratings,
    bradley_terry,
    markdown_counts,
    style_controlled_bradley_terry,
    style_features,
)
from deltaeval.errors import DeltaEvalError, JudgingFailedError, UsageError
from deltaeval.jsonable import num
from deltaeval.judging.base import Judge
from deltaeval.judging.protocol import Prices, judge_runs
from deltaeval.judging.validity import JUDGING_FAILED_HINT, validity_block
from deltaeval.types import Judgment, Run

SCHEMA = "deltaeval.ranking"
SCHEMA_VERSION = 1
STRONG = ("A>>B", "B>>A")


class RankingError(DeltaEvalError):
    """The judgments cannot be turned into ratings (e.g. a run never wins or never loses)."""


@dataclass(frozen=True)
class Ranking:
    """Ratings of runs as a JSON-ready dict (``data``): plain and style-controlled."""

    data: dict[str, Any]

    @property
    def runs(self) -> list[dict[str, Any]]:
        return self.data["runs"]


def _num(value: Any) -> float | None:
    return num(value, 10)


def battles(
    judgments: Sequence[Judgment], *, strong_weight: float = 3.0
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[Judgment]]:
    """(run names, a, b, outcome for a, weights, the judgments used) from judgments with a verdict."""
    used = [j for j in judgments if j.label is not None]
    names: list[str] = []
    seen: dict[str, int] = {}
    for j in used:
        for run in (j.run_a, j.run_b):
            if run not in seen:
                seen[run] = len(names)
                names.append(run)
    a = np.array([seen[j.run_a] for j in used], dtype=np.int64)
    b = np.array([seen[j.run_b] for j in used], dtype=np.int64)
    y = np.array([j.outcome_for(j.run_a) for j in used], dtype=float)
    w = np.array([strong_weight if j.label in STRONG else 1.0 for j in used], dtype=float)
    return names, a, b, y, w, used


def _ratings_rows(r: Ratings) -> dict[str, dict[str, Any]]:
    rows = {}
    for i, name in enumerate(r.names):
        ci = None if r.intervals is None else [_num(r.intervals[i, 0]), _num(r.intervals[i, 1])]
        rows[name] = {"rating": _num(r.ratings[i]), "ci": ci}
    return rows


def ranking_from_judgments(
    judgments: Sequence[Judgment],
    *,
    texts: Mapping[tuple[str, str], str] | None = None,
    n_boot: int = 100,
    level: float = 0.95,
    seed: int = 0,
    strong_weight: float = 3.0,
    l2: float = 0.0,
    sources: Sequence[str] = (),
    cost: Mapping[str, Any] | None = None,
) -> Ranking:
    """Bradley–Terry ratings (and style-controlled ones when ``texts`` cover every battle).

    ``texts`` maps (example id, run name) to that run's output on the example.
    """
    names, a, b, y, w, used = battles(judgments, strong_weight=strong_weight)
    if len(names) < 2 or a.size == 0:
        raise RankingError(
            "no judgment with a verdict between two runs",
            hint="judge at least two runs (three or more to rank)",
        )
    try:
        plain = bradley_terry(a, b, y, weights=w, names=names, n_boot=n_boot, level=level, seed=seed, l2=l2)
    except ValueError as exc:
        raise RankingError(
            str(exc), hint="pass --l2 0.1 (a weak prior on the ratings) to fit anyway"
        ) from None
    notes: list[str] = []
    style: Ratings | None = None
    if texts is not None:
        pairs = [(texts.get((j.example_id, j.run_a)), texts.get((j.example_id, j.run_b))) for j in used]
        if all(ta is not None and tb is not None for ta, tb in pairs):
            len_a = [len(ta or "") for ta, _ in pairs]
            len_b = [len(tb or "") for _, tb in pairs]
            md_a = [markdown_counts(ta or "") for ta, _ in pairs]
            md_b = [markdown_counts(tb or "") for _, tb in pairs]
            features = style_features(len_a, len_b, md_a, md_b)
            try:
                style = style_controlled_bradley_terry(
                    a, b, y, features, weights=w, names=names, n_boot=n_boot, level=level, seed=seed
                )
                notes += [f"style-controlled ratings {note}" for note in style.notes]
            except ValueError as exc:
                notes.append(f"style-controlled ratings not estimated: {exc}")
        else:
            notes.append("style-controlled ratings need both outputs of every battle; some are missing")
    else:
        notes.append("style-controlled ratings need the outputs; recorded judgments without texts have none")
    rows = _ratings_rows(plain)
    style_rows = _ratings_rows(style) if style is not None else {}
    counts = {name: int(((a == i) | (b == i)).sum()) for i, name in enumerate(names)}
    runs = [
        {
            "name": name,
            "rating": rows[name]["rating"],
            "ci": rows[name]["ci"],
            "style_rating": style_rows.get(name, {}).get("rating"),
            "style_ci": style_rows.get(name, {}).get("ci"),
            "n_battles": counts[name],
        }
        for name in plain.order()
    ]
    return Ranking(
        {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "deltaeval_version": __version__,
            "runs": runs,
            "n_battles": int(a.size),
            "n_judgments": len(judgments),
            "n_without_verdict": len(judgments) - len(used),
            "validity": validity_block(judgments, None, None),
            "judges": sorted({j.judge for j in judgments}),
            "scale": {"anchor_rating": plain.anchor_rating, "scale": plain.scale, "base": plain.base},
            "settings": {
                "n_boot": n_boot,
                "confidence_level": level,
                "seed": seed,
                "strong_weight": strong_weight,
                "l2": l2,
            },
            "style": None
            if style is None
            else {
                "features": list(style.style_coefficients),
                "coefficients": {k: _num(v) for k, v in style.style_coefficients.items()},
                "intervals": {k: [_num(lo), _num(hi)] for k, (lo, hi) in style.style_intervals.items()},
                "ridge": style.style_ridge,
                "length_unit": "characters",
            },
            "sources": list(sources),
            "cost": dict(cost) if cost is not None else None,
            "notes": notes,
        }
    )


def rank_runs(
    runs: Sequence[Run],
    judges: Sequence[Judge],
    *,
    store: Any = None,
    both_orders: bool = True,
    n_boot: int = 100,
    level: float = 0.95,
    seed: int = 0,
    strong_weight: float = 3.0,
    l2: float = 0.0,
    prices: Prices | None = None,
    progress: Callable[[int], Callable[[int], None]] | None = None,
) -> Ranking:
    """Judge every pair of ``runs`` (both orders) and rate them with Bradley–Terry."""
    if len(runs) < 2:
        raise UsageError("ranking needs at least two runs", hint="give three or more runs to rank")
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise UsageError("two runs share a name", hint="give each run once, with distinct names")
    judgments: list[Judgment] = []
    texts: dict[tuple[str, str], str] = {}
    for first, second in itertools.combinations(runs, 2):
        result = judge_runs(
            first, second, judges, both_orders=both_orders, store=store, prices=prices, progress=progress
        )
        judgments.extend(result.judgments)
        for name, values in result.texts.items():
            for example, text in zip(result.examples, values, strict=True):
                texts[(example.id, name)] = text
    if judgments and all(j.label is None for j in judgments):
        # nothing to rate; the judgments are in the store when one was given
        message = validity_block(judgments, None, None)["message"]
        raise JudgingFailedError(str(message), hint=JUDGING_FAILED_HINT)
    costs = [j.cost for j in judgments if j.cost is not None]
    prompt = [j.prompt_tokens for j in judgments if j.prompt_tokens is not None]
    completion = [j.tokens for j in judgments if j.tokens is not None]
    cost = {
        "requests": len(judgments),
        "cached": sum(j.cached for j in judgments),
        "prompt_tokens": sum(prompt) if prompt else None,
        "completion_tokens": sum(completion) if completion else None,
        "cost": _num(sum(costs)) if costs else None,
    }
    return ranking_from_judgments(
        judgments,
        texts=texts,
        n_boot=n_boot,
        level=level,
        seed=seed,
        strong_weight=strong_weight,
        l2=l2,
        sources=[r.source or r.name for r in runs],
        cost=cost,
    )


def rank_recorded(
    paths: Sequence[str],
    *,
    preference: str | None = None,
    id_column: str | None = None,
    baseline: str | None = None,
    n_boot: int = 100,
    level: float = 0.95,
    seed: int = 0,
    strong_weight: float = 3.0,
    l2: float = 0.0,
) -> Ranking:
    """Ratings from recorded judgment files (AlpacaEval annotations, Arena-Hard judgments, tables)."""
    from deltaeval.judging.recorded import read_judgments

    judgments: list[Judgment] = []
    texts: dict[tuple[str, str], str] = {}
    complete = True
    for path in paths:
        recorded = read_judgments(path, preference=preference, id_column=id_column, baseline=baseline)
        judgments.extend(recorded.judgments)
        texts.update(recorded.texts)
        complete &= bool(recorded.texts)
    return ranking_from_judgments(
        judgments,
        texts=texts if complete else None,
        n_boot=n_boot,
        level=level,
        seed=seed,
        strong_weight=strong_weight,
        l2=l2,
        sources=list(paths),
    )
