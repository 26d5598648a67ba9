"""Selection without training: keep the old output where the new model is unsure and the old one sure.

The rule family
---------------
``use old  ⇔  new_conf < t_new  and  old_conf >= t_old`` — two thresholds, each on one model's
own confidence scale. Why this family and not a difference ``old_conf − new_conf > d``: the two
signals need not be comparable (a classifier's probability against another's, two LLMs'
sequence log-probabilities, a verifier score), and a monotone recalibration of either model
maps every rule to one that splits the calibration examples the same way; the family contains
"never use old" (``t_new = −inf``: plain v2) and "always use old" (``t_new = +inf,
t_old = −inf``: v1), so the curve runs from v2 to v1.

Fitting (on the calibration split only)
---------------------------------------
Candidate thresholds are midpoints between consecutive calibration confidences (at most
``grid`` quantiles per model) and ±inf. Every pair is scored on the calibration examples by its
negative-flip rate against v1 and its accuracy:

- ``max_nfr=x``: the most accurate rule with calibration NFR ≤ x;
- ``min_accuracy=y``: the rule with the fewest negative flips and calibration accuracy ≥ y;
- ``max_accuracy_drop=d``: as ``min_accuracy`` = plain v2's calibration accuracy − d;
- none of these: ``max_accuracy_drop=0`` (no calibration accuracy given up);
- ties go to the rule that switches to v1 least often (v2 is the model being shipped).

Everything reported is measured on the evaluation split, which the fit never sees: the held-out
trade-off curve (the calibration Pareto front, thinned, each point with exact Clopper–Pearson
intervals from :mod:`deltaeval.analysis.flips`) and the chosen point, paired against plain v2
(Tango's interval of the accuracy change, exact McNemar).

Array API (for benchmarks; one entry per example, numpy arrays or sequences)::

    select_arrays(old_correct, new_correct, old_conf, new_conf, *, calibration,
                  max_nfr=None, min_accuracy=None, max_accuracy_drop=None,
                  old_pred=None, new_pred=None,
                  level=0.95, grid=64, max_points=12, min_calibration=20) -> SelectionResult

    ``calibration``: bool mask (True = calibration example; the rest is evaluated), e.g.
    ``split_ids(ids, fraction=0.5, seed=s).calibration_mask(ids)``.
    result.rule.use_old(old_conf, new_conf) -> bool mask;  result.use_old (every example);
    result.chosen.evaluation["nfr"], ["nfr_ci"], ["accuracy"], ["accuracy_ci"];
    result.plain_new (the same for plain v2 on the evaluation split); result.to_dict() (JSON).

    fit_rule(old_correct, new_correct, old_conf, new_conf, *, max_nfr=None, min_accuracy=None,
             max_accuracy_drop=None,
             grid=64) -> ThresholdRule          # calibration arrays only

Run API: :func:`select` (``deltaeval compat select OLD NEW --name NAME``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from deltaeval.analysis.flips import INTERVAL_METHODS, FlipStats, flip_stats
from deltaeval.errors import InputError
from deltaeval.jsonable import interval, num
from deltaeval.plural import plural
from deltaeval.stats import CLOPPER_PEARSON, proportion_ci
from deltaeval.types import Run

#: Output fields a rule can read its signal from.
SIGNALS = ("confidence", "logprob", "score")
MIN_CALIBRATION = 20


@dataclass(frozen=True)
class ThresholdRule:
    """``use old ⇔ new_conf < t_new and old_conf >= t_old`` (thresholds may be ±inf)."""

    t_new: float
    t_old: float

    def use_old(self, old_conf: ArrayLike, new_conf: ArrayLike) -> NDArray[np.bool_]:
        """Where the rule keeps the old output."""
        return (np.asarray(new_conf, dtype=float) < self.t_new) & (
            np.asarray(old_conf, dtype=float) >= self.t_old
        )

    def to_dict(self) -> dict[str, Any]:
        return {"use_old_when": "new_conf < t_new and old_conf >= t_old", **_thresholds(self)}


def _thresholds(rule: ThresholdRule) -> dict[str, float | str]:
    """Thresholds as JSON (infinities spelled ``"inf"``/``"-inf"``)."""
    return {
        name: (value if math.isfinite(value) else ("inf" if value > 0 else "-inf"))
        for name, value in (("t_new", rule.t_new), ("t_old", rule.t_old))
    }


@dataclass(frozen=True)
class CurvePoint:
    """One rule: its calibration figures (what it was chosen on) and held-out ones (what it does)."""

    rule: ThresholdRule
    calibration: dict[str, Any]
    evaluation: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {**_thresholds(self.rule), "calibration": self.calibration, "evaluation": self.evaluation}


@dataclass(frozen=True)
class SelectionResult:
    """What :func:`select_arrays` / :func:`select` found; ``to_dict()`` is its JSON."""

    rule: ThresholdRule
    constraint: dict[str, Any]
    chosen: CurvePoint
    curve: tuple[CurvePoint, ...]
    plain_new: dict[str, Any]
    always_old: dict[str, Any]
    ends_calibration: dict[str, dict[str, Any]]
    use_old: NDArray[np.bool_]
    calibration: NDArray[np.bool_]
    level: float
    signal: str = "confidence"
    sources: tuple[str, str] = ("v1", "v2")
    run: Run | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def n_calibration(self) -> int:
        return int(self.calibration.sum())

    @property
    def n_evaluation(self) -> int:
        return int((~self.calibration).sum())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the rule, the constraint, the chosen point and the held-out curve."""
        return {
            "schema": "deltaeval.compat.selection",
            "method": "selection",
            "signal": self.signal,
            "old": self.sources[0],
            "new": self.sources[1],
            "rule": self.rule.to_dict(),
            "constraint": self.constraint,
            "n_calibration": self.n_calibration,
            "n_evaluation": self.n_evaluation,
            "level": self.level,
            "interval_methods": {
                "nfr": INTERVAL_METHODS["nfr"],
                "accuracy": INTERVAL_METHODS["accuracy_new"],
                "accuracy_change_vs_new": INTERVAL_METHODS["delta"],
                "nfr_upper": CLOPPER_PEARSON + " (one-sided)",
            },
            "chosen": self.chosen.to_dict(),
            "plain_new": self.plain_new,
            "always_old": self.always_old,
            "plain_new_calibration": self.ends_calibration["plain_new"],
            "always_old_calibration": self.ends_calibration["always_old"],
            "curve": [point.to_dict() for point in self.curve],
            "run": None if self.run is None else self.run.name,
            "notes": list(self.notes),
        }


def _bools(values: ArrayLike, what: str) -> NDArray[np.bool_]:
    array = np.asarray(values)
    if array.ndim != 1:
        raise InputError(f"{what} must be one value per example", hint="pass a 1-D array")
    return array.astype(bool)


def _confidences(values: ArrayLike, what: str) -> NDArray[np.float64]:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise InputError(
            f"{what} has values that are not numbers", hint="give a confidence per example"
        ) from None
    bad = np.flatnonzero(np.isnan(array))
    if bad.size:
        raise InputError(
            f"{what} is missing or NaN for {plural(bad.size, 'example')} (e.g. position {int(bad[0])})",
            hint="give every output a confidence (a probability, log-probability or score)",
        )
    return array


def _candidates(values: NDArray[np.float64], grid: int) -> NDArray[np.float64]:
    """Midpoints between consecutive distinct values (at most ``grid`` quantiles), and ±inf."""
    finite = np.unique(values[np.isfinite(values)])
    if finite.size > grid:
        finite = np.unique(np.quantile(finite, np.linspace(0.0, 1.0, grid), method="nearest"))
    middles = (finite[:-1] + finite[1:]) / 2.0 if finite.size > 1 else np.empty(0)
    return np.concatenate([[-np.inf], middles, [np.inf]])


@dataclass(frozen=True)
class _Grid:
    """Every candidate rule's calibration counts: negative flips kept, accuracy, switches."""

    t_new: NDArray[np.float64]
    t_old: NDArray[np.float64]
    negative: NDArray[np.int64]  # [i, j]: negative flips left with rule (t_new[i], t_old[j])
    correct: NDArray[np.int64]
    switched: NDArray[np.int64]
    n: int


def _switch_counts(
    a: NDArray[np.intp], b: NDArray[np.intp], shape: tuple[int, int], mask: NDArray[np.bool_] | None
) -> NDArray[np.int64]:
    """``[i, j]``: how many (masked) examples rule ``(t_new[i], t_old[j])`` switches to the old output.

    ``a``: how many ``t_new`` are <= each new confidence (so ``new_conf < t_new[i]`` ⇔ ``a <= i``);
    ``b``: how many ``t_old`` are <= each old confidence (``old_conf >= t_old[j]`` ⇔ ``b > j``).
    One 2-D histogram and two cumulative sums: O(n + grid²) time and memory.
    """
    rows, cols = shape
    keep = slice(None) if mask is None else mask
    hist = np.bincount(a[keep] * (cols + 1) + b[keep], minlength=(rows + 1) * (cols + 1))
    hist = hist.reshape(rows + 1, cols + 1).astype(np.int64)
    up_to = np.cumsum(hist, axis=0)[:rows]  # a <= i
    from_here = np.cumsum(up_to[:, ::-1], axis=1)[:, ::-1]  # b >= j
    return from_here[:, 1:]  # b > j


def _grid(
    old_correct: NDArray[np.bool_],
    new_correct: NDArray[np.bool_],
    old_conf: NDArray[np.float64],
    new_conf: NDArray[np.float64],
    grid: int,
) -> _Grid:
    t_new, t_old = _candidates(new_conf, grid), _candidates(old_conf, grid)
    a = np.searchsorted(t_new, new_conf, side="right")
    b = np.searchsorted(t_old, old_conf, side="right")
    shape = (len(t_new), len(t_old))
    negative_flip = old_correct & ~new_correct
    positive_flip = ~old_correct & new_correct
    # switching an example to the old output removes a negative flip and loses a positive one
    removed = _switch_counts(a, b, shape, negative_flip)
    lost = _switch_counts(a, b, shape, positive_flip)
    return _Grid(
        t_new=t_new,
        t_old=t_old,
        negative=int(negative_flip.sum()) - removed,
        correct=int(new_correct.sum()) + removed - lost,
        switched=_switch_counts(a, b, shape, None),
        n=len(old_correct),
    )


def _constraint(
    new_correct: NDArray[np.bool_],
    max_nfr: float | None,
    min_accuracy: float | None,
    max_accuracy_drop: float | None,
) -> tuple[float | None, dict[str, Any]]:
    """The accuracy floor the rule must keep on calibration, and the constraint as JSON."""
    bounds = {"max_nfr": max_nfr, "min_accuracy": min_accuracy, "max_accuracy_drop": max_accuracy_drop}
    for name, bound in bounds.items():
        if bound is not None and not 0.0 <= bound <= 1.0:
            flag = "--" + name.replace("_", "-")
            raise InputError(f"{flag} {bound!r} is not a rate in [0, 1]", hint=f"give e.g. {flag} 0.02")
    if min_accuracy is not None and max_accuracy_drop is not None:
        raise InputError(
            "--min-accuracy and --max-accuracy-drop both set the accuracy floor", hint="give one of them"
        )
    constraint: dict[str, Any] = dict(bounds)
    plain = float(new_correct.mean())
    if max_accuracy_drop is None and max_nfr is None and min_accuracy is None:
        max_accuracy_drop = 0.0
        constraint["default"] = "no calibration accuracy below plain v2's"
    if max_accuracy_drop is not None:
        min_accuracy = plain - max_accuracy_drop
    constraint["accuracy_floor"] = min_accuracy
    return min_accuracy, constraint


def _pick(g: _Grid, max_nfr: float | None, min_accuracy: float | None) -> tuple[int, int]:
    """Index of the chosen rule (see the module doc)."""
    feasible = np.ones(g.negative.shape, dtype=bool)
    if max_nfr is not None:
        feasible &= g.negative <= max_nfr * g.n + 1e-9
    if min_accuracy is not None:
        feasible &= g.correct >= min_accuracy * g.n - 1e-9
    if not feasible.any():
        best = int(g.correct.max())
        raise InputError(
            f"no rule reaches accuracy {min_accuracy:.4f} on the calibration split "
            f"(the best reaches {best / g.n:.4f} of {g.n})"
            + (f" with NFR <= {max_nfr:.4f}" if max_nfr is not None else ""),
            hint="ask for a lower --min-accuracy, a larger --max-accuracy-drop (or a higher --max-nfr)",
        )
    big = np.iinfo(np.int64).max
    if min_accuracy is not None and max_nfr is None:
        keys = (np.where(feasible, g.negative, big), -g.correct, g.switched)
    else:
        keys = (-np.where(feasible, g.correct, -1), g.negative, g.switched)
    order = np.lexsort(tuple(k.ravel() for k in reversed(keys)))
    i, j = np.unravel_index(int(order[0]), g.negative.shape)
    return int(i), int(j)


def _front(g: _Grid) -> list[tuple[int, int]]:
    """The calibration Pareto front: rules no other beats on both NFR and accuracy."""
    flat = np.lexsort((g.switched.ravel(), -g.correct.ravel(), g.negative.ravel()))
    front: list[tuple[int, int]] = []
    best = -1
    for index in flat.tolist():
        i, j = np.unravel_index(index, g.negative.shape)
        if g.correct[i, j] > best:
            best = int(g.correct[i, j])
            front.append((int(i), int(j)))
    return front


def fit_rule(
    old_correct: ArrayLike,
    new_correct: ArrayLike,
    old_conf: ArrayLike,
    new_conf: ArrayLike,
    *,
    max_nfr: float | None = None,
    min_accuracy: float | None = None,
    max_accuracy_drop: float | None = None,
    grid: int = 64,
) -> ThresholdRule:
    """The rule chosen on these (calibration) examples; see the module doc for the criterion."""
    oc, nc = _bools(old_correct, "old_correct"), _bools(new_correct, "new_correct")
    of, nf = _confidences(old_conf, "old confidence"), _confidences(new_conf, "new confidence")
    g = _grid(oc, nc, of, nf, grid)
    floor, _ = _constraint(nc, max_nfr, min_accuracy, max_accuracy_drop)
    i, j = _pick(g, max_nfr, floor)
    return ThresholdRule(float(g.t_new[i]), float(g.t_old[j]))


def _held_out(
    old_correct: NDArray[np.bool_],
    new_correct: NDArray[np.bool_],
    use_old: NDArray[np.bool_],
    same_as_old: NDArray[np.bool_] | None,
    level: float,
) -> dict[str, Any]:
    """Evaluation-split figures of a selection: NFR and accuracy (exact), change vs plain v2 (paired)."""
    selected = np.where(use_old, old_correct, new_correct)
    against_old: FlipStats = flip_stats(old_correct, selected, same_as_old, level=level)
    against_new: FlipStats = flip_stats(new_correct, selected, level=level)
    n = against_old.n
    return {
        "n": n,
        "nfr": num(against_old.estimates["nfr"]),
        "nfr_ci": interval(against_old.intervals["nfr"]),
        "nfr_upper": num(_upper(against_old.negative, n, level)),
        "negative_flips": against_old.negative,
        "accuracy": num(against_old.estimates["accuracy_new"]),
        "accuracy_ci": interval(against_old.intervals["accuracy_new"]),
        "churn": num(against_old.estimates["churn"]),
        "use_old_rate": num(float(use_old.mean()) if n else math.nan),
        "accuracy_change_vs_new": num(against_new.estimates["delta"]),
        "accuracy_change_vs_new_ci": interval(against_new.intervals["delta"]),
        "mcnemar_p_vs_new": num(against_new.mcnemar_p),
    }


def _upper(k: int, n: int, level: float) -> float:
    bounds = proportion_ci(k, n, level, "upper")
    return math.nan if bounds is None else bounds[1]


def _calibration_figures(g: _Grid, i: int, j: int) -> dict[str, Any]:
    return {
        "n": g.n,
        "nfr": num(g.negative[i, j] / g.n),
        "accuracy": num(g.correct[i, j] / g.n),
        "use_old_rate": num(g.switched[i, j] / g.n),
    }


def _thin(
    front: list[tuple[int, int]], chosen: tuple[int, int], g: _Grid, most: int
) -> list[tuple[int, int]]:
    """At most ``most`` front points spread evenly over calibration NFR; ends and ``chosen`` kept."""
    if len(front) <= most:
        points = list(front)
    else:
        picks = np.unique(np.round(np.linspace(0, len(front) - 1, most)).astype(int))
        points = [front[k] for k in picks.tolist()]
    if chosen not in points:
        points.append(chosen)
    return sorted(points, key=lambda p: (g.negative[p], -g.correct[p], g.switched[p]))


def select_arrays(
    old_correct: ArrayLike,
    new_correct: ArrayLike,
    old_conf: ArrayLike,
    new_conf: ArrayLike,
    *,
    calibration: ArrayLike,
    max_nfr: float | None = None,
    min_accuracy: float | None = None,
    max_accuracy_drop: float | None = None,
    old_pred: Sequence[Any] | None = None,
    new_pred: Sequence[Any] | None = None,
    level: float = 0.95,
    grid: int = 64,
    max_points: int = 12,
    min_calibration: int = MIN_CALIBRATION,
    signal: str = "confidence",
) -> SelectionResult:
    """Fit the rule on the ``calibration`` examples; report it and its curve on the others.

    Parameters
    ----------
    old_correct, new_correct:
        Whether each model got each example right.
    old_conf, new_conf:
        Each model's confidence in its own output (probability, log-probability, score; higher =
        surer); NaN is an error, ``-inf`` means "not at all" (e.g. an output that failed).
    calibration:
        Bool mask: True for the examples the rule is fitted on, False for the held-out ones.
    max_nfr, min_accuracy, max_accuracy_drop:
        The constraint met on calibration (see the module doc); none: keep v2's accuracy.
    old_pred, new_pred:
        Predictions (labels, texts), for churn; optional.
    level:
        Confidence level of the intervals.
    grid, max_points:
        Most candidate thresholds per model; most points on the reported curve.
    min_calibration:
        Fewest calibration examples accepted.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> old_conf, new_conf = rng.random(400), rng.random(400)
    >>> old_ok, new_ok = old_conf > 0.3, new_conf > 0.2
    >>> result = select_arrays(old_ok, new_ok, old_conf, new_conf, calibration=np.arange(400) < 200,
    ...                        max_nfr=0.02)
    >>> result.chosen.calibration["nfr"] <= 0.02
    True
    """
    oc, nc = _bools(old_correct, "old_correct"), _bools(new_correct, "new_correct")
    of, nf = _confidences(old_conf, "old confidence"), _confidences(new_conf, "new confidence")
    cal = _bools(calibration, "calibration")
    if not oc.shape == nc.shape == of.shape == nf.shape == cal.shape:
        raise InputError(
            "correctness, confidence and calibration arrays differ in length",
            hint="give one value per example in each",
        )
    n_cal, n_eval = int(cal.sum()), int((~cal).sum())
    if n_cal < min_calibration:
        raise InputError(
            f"only {plural(n_cal, 'calibration example')}; the rule needs at least {min_calibration}",
            hint="use more examples or a larger --calibration-fraction",
        )
    if n_eval < 1:
        raise InputError("no evaluation example is left", hint="use a smaller --calibration-fraction")
    g = _grid(oc[cal], nc[cal], of[cal], nf[cal], grid)
    floor, constraint = _constraint(nc[cal], max_nfr, min_accuracy, max_accuracy_drop)
    chosen_index = _pick(g, max_nfr, floor)
    ev = ~cal
    same = None
    if old_pred is not None and new_pred is not None:
        old_p, new_p = np.asarray(old_pred, dtype=object), np.asarray(new_pred, dtype=object)
        same = old_p == new_p

    def point(i: int, j: int) -> CurvePoint:
        rule = ThresholdRule(float(g.t_new[i]), float(g.t_old[j]))
        use = rule.use_old(of[ev], nf[ev])
        same_eval = None if same is None else (use | same[ev])
        return CurvePoint(
            rule, _calibration_figures(g, i, j), _held_out(oc[ev], nc[ev], use, same_eval, level)
        )

    chosen = point(*chosen_index)
    curve = tuple(point(i, j) for i, j in _thin(_front(g), chosen_index, g, max_points))
    none, every = np.zeros(n_eval, dtype=bool), np.ones(n_eval, dtype=bool)
    return SelectionResult(
        rule=chosen.rule,
        constraint=constraint,
        chosen=chosen,
        curve=curve,
        plain_new=_held_out(oc[ev], nc[ev], none, None if same is None else same[ev], level),
        always_old=_held_out(oc[ev], nc[ev], every, None if same is None else every, level),
        # t_new = -inf never switches; t_new = +inf with t_old = -inf always does
        ends_calibration={
            "plain_new": _calibration_figures(g, 0, 0),
            "always_old": _calibration_figures(g, len(g.t_new) - 1, 0),
        },
        use_old=chosen.rule.use_old(of, nf),
        calibration=cal,
        level=level,
        signal=signal,
    )


def _signal_values(run: Run, outputs: Sequence[Any], signal: str) -> NDArray[np.float64]:
    """Each output's ``signal`` field; an error output counts as ``-inf`` (not confident at all)."""
    values = np.empty(len(outputs), dtype=float)
    for i, output in enumerate(outputs):
        value = getattr(output, signal)
        if output.error is not None:
            values[i] = -np.inf
        elif value is None or (isinstance(value, float) and math.isnan(value)):
            raise InputError(
                f"run {run.name!r} has no {signal} for example {output.example_id!r}",
                hint=f"selection needs a {signal} on every output: import a {signal!r} column, "
                f"or choose another --signal ({', '.join(SIGNALS)})",
            )
        else:
            values[i] = float(value)
    return values


def _same_examples(old: Run, new: Run) -> None:
    old_ids, new_ids = set(old.ids), set(new.ids)
    for a, b, missing in ((old, new, old_ids - new_ids), (new, old, new_ids - old_ids)):
        if missing:
            first = next(i for i in a.ids if i in missing)
            raise InputError(
                f"run {b.name!r} lacks {plural(len(missing), 'example id')} of run {a.name!r}, "
                f"e.g. {first!r}",
                hint="selection needs both runs on the same examples",
            )


def _scored(old: Run, new: Run, scorer: str | None) -> tuple[Run, Run]:
    """The runs with correctness: from ``scorer``, else as imported, else the default scorer."""
    if scorer is not None:
        from deltaeval.scoring import get_scorer, score_run

        chosen = get_scorer(scorer)
        return score_run(old, chosen), score_run(new, chosen)
    from deltaeval.scoring.auto import score_by_default

    old, new, _ = score_by_default(old, new)
    return old, new


def select(
    old: Run | str,
    new: Run | str,
    *,
    name: str,
    signal: str = "confidence",
    max_nfr: float | None = None,
    min_accuracy: float | None = None,
    max_accuracy_drop: float | None = None,
    calibration_fraction: float = 0.5,
    seed: int = 0,
    scorer: str | None = None,
    level: float = 0.95,
    store: Any = None,
    overwrite: bool = False,
    grid: int = 64,
    min_calibration: int = MIN_CALIBRATION,
) -> SelectionResult:
    """Choose per example between two runs' outputs; a new run holds the choice on held-out examples.

    The examples are split by id (:func:`deltaeval.compat.split.split_ids`, stratified by flip
    cell old-right × new-right, ``calibration_fraction`` of each to calibration); the rule is
    fitted on the calibration examples and the run ``name`` holds the chosen outputs of the
    **evaluation examples only** (the calibration ones tuned the rule, so any figure on them
    would flatter it). ``deltaeval compare OLD NAME`` then compares on those examples (OLD's
    calibration examples show as missing from NAME, and the run's notes say why).

    Parameters
    ----------
    old, new:
        Runs (or files) over the same examples, with correctness (or references and a
        ``scorer``) and a ``signal`` on every output.
    name:
        Name of the new run.
    signal:
        The output field read as confidence: ``confidence`` (classifier probability),
        ``logprob`` (LLM log-probability), or ``score`` (a judge/verifier score; correctness must
        then come from the runs' ``correct`` column).
    max_nfr, min_accuracy, max_accuracy_drop, level, grid, min_calibration:
        As in :func:`select_arrays`.
    calibration_fraction, seed:
        The split.
    scorer:
        Score both runs with this scorer first (else their correctness as imported, else the
        default scorer chosen from their references).
    store, overwrite:
        Save the run in this store (a Store or a path); None: do not save.

    Returns
    -------
    SelectionResult
        With ``run`` set to the new run.
    """
    from deltaeval.compat.runs import Recipe, derived_run, save_run
    from deltaeval.compat.split import split_ids
    from deltaeval.io import load_run

    if signal not in SIGNALS:
        raise InputError(f"unknown signal {signal!r}", hint=f"use one of {', '.join(SIGNALS)}")
    old_run = old if isinstance(old, Run) else load_run(old)
    new_run = new if isinstance(new, Run) else load_run(new)
    _same_examples(old_run, new_run)
    if signal == "score" and scorer is not None:
        raise InputError(
            "--signal score reads the runs' scores, which --scorer would replace",
            hint="import correctness as a 'correct' column and drop --scorer",
        )
    from deltaeval.alignment import align

    scored_old, scored_new = _scored(old_run, new_run, scorer)
    alignment = align(scored_old, scored_new, strict=True)
    old_correct, new_correct = alignment.correct()
    old_conf = _signal_values(old_run, alignment.old, signal)
    new_conf = _signal_values(new_run, alignment.new, signal)
    ids = list(alignment.ids)
    split = split_ids(
        ids,
        fraction=calibration_fraction,
        seed=seed,
        strata=(2 * old_correct.astype(int) + new_correct.astype(int)).tolist(),
        min_calibration=min_calibration,
    )
    old_texts = [o.text for o in alignment.old]
    new_texts = [o.text for o in alignment.new]
    has_texts = any(t is not None for t in old_texts + new_texts)
    result = select_arrays(
        old_correct,
        new_correct,
        old_conf,
        new_conf,
        calibration=split.calibration_mask(ids),
        max_nfr=max_nfr,
        min_accuracy=min_accuracy,
        max_accuracy_drop=max_accuracy_drop,
        old_pred=[None if t is None else t.strip() for t in old_texts] if has_texts else None,
        new_pred=[None if t is None else t.strip() for t in new_texts] if has_texts else None,
        level=level,
        grid=grid,
        min_calibration=min_calibration,
        signal=signal,
    )
    # the outputs as the runs carry them (not as scored here): the new run is read like its sources
    old_by_id = dict(zip(old_run.ids, old_run.outputs, strict=True))
    new_by_id = dict(zip(new_run.ids, new_run.outputs, strict=True))
    keep = [i for i, example_id in enumerate(ids) if example_id in split.evaluation]
    outputs = [(old_by_id if result.use_old[i] else new_by_id)[ids[i]] for i in keep]
    recipe = Recipe(
        method="selection",
        parameters={
            "signal": signal,
            "rule": result.rule.to_dict(),
            "constraint": result.constraint,
            "calibration_fraction": calibration_fraction,
            "stratified_by": "flip cell (old right, new right)",
            "scorer": scorer,
            "chosen_on_calibration": result.chosen.calibration,
            "examples": "evaluation split only",
        },
        sources={"old": old_run, "new": new_run},
        split_seed=seed,
        calibration_ids_hash=split.calibration_ids_hash,
    )
    note = (
        f"selection between {old_run.name!r} and {new_run.name!r}: the {len(keep)} evaluation examples only; "
        f"the {len(ids) - len(keep)} calibration examples that tuned the rule are left out"
    )
    run = derived_run(name, [alignment.examples[i] for i in keep], outputs, recipe, notes=[note])
    if store is not None:
        save_run(run, store, overwrite=overwrite)
    from dataclasses import replace

    return replace(result, run=run, notes=(note,), sources=(old_run.name, new_run.name))
