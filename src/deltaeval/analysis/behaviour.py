"""Behaviour differences between two runs: which axes changed, how much, and do they matter.

Input: per-example values of behaviour axes (see :mod:`deltaeval.behaviour`) for the old and
the new run's outputs, paired by example, and optionally a preference per example in [0, 1]
(1 = the new output preferred). Each axis is validated the way VibeCheck and VisDiff validate
a proposed difference — does it separate the two runs, and does it predict preference:

- **paired difference** new − old: mean with a paired bootstrap interval, Cohen's d_z (mean
  over standard deviation of the paired differences), the Wilcoxon signed-rank p-value, and
  the direction of the mean;
- **prevalence**: the share of each run's outputs where the axis is not zero;
- **separability**: the AUROC of the axis alone for telling which run wrote an output (both
  runs' outputs pooled; above 0.5 = the new run's values are higher), and its paired variant,
  the share of examples where the new output's value is higher (ties count half);
- **multiple testing**: Benjamini–Hochberg q-values over the axes; an axis *passes* when
  q < alpha and its difference interval excludes 0;
- **preference** (when given): per axis, a logistic regression of preference on the
  standardised per-example difference (coefficient = change in log-odds that the new output is
  preferred per standard deviation of the difference; bootstrap interval; cross-validated
  accuracy);
- **combined model** on all axes (standardised, L2-penalised logistic regression, stratified
  k-fold, seeded): accuracy at telling the runs apart — for a pair of outputs of one example in
  random order, which one is new (chance 0.5), and for one output alone (pooled, folds keep an
  example's two outputs together; chance 0.5) — and at predicting preference (chance = the
  larger class's share), with the preference model's coefficients and bootstrap intervals.

Every interval resamples examples (one shared set of bootstrap replicates for all axes, so they
are jointly consistent), up to ``asymptotic_from`` examples (default
:data:`deltaeval.stats.ASYMPTOTIC_FROM`); from there the intervals come from normal
approximations, which the bootstrap would only reproduce at a cost of seconds: the mean
difference and the paired AUROC (a mean of per-example values) by ``mean ± z·sd/√n``, the
pooled AUROC by DeLong's variance for the paired design, preference coefficients (per axis and
combined) by Wald intervals from the penalised logistic fit's observed information. An example
whose value is NaN on an axis is left out of that axis; the combined models read a NaN as the
axis's mean (0 once standardised). Nothing here reads files, calls models or prints.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from deltaeval.errors import InputError
from deltaeval.jsonable import clean as _clean
from deltaeval.stats import (
    ASYMPTOTIC_FROM,
    BOOTSTRAP,
    DELONG,
    NORMAL,
    WALD,
    Interval,
    benjamini_hochberg,
    delong_paired_interval,
    normal_mean_interval,
    normal_quantile,
    percentile_interval,
    use_asymptotic,
    wilcoxon_p,
)

EFFECT_SIZE = "cohen_dz"


def expit(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """The logistic function ``1 / (1 + exp(-x))`` (``scipy.special.expit`` to within 2 ulp; its
    import costs more than a report's fits)."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


#: L2 penalty of every logistic regression here: ``sum(weight * log-loss) + L2 / 2 * |coef|^2``
#: (scikit-learn's ``C = 1 / L2``); the intercept is not penalised.
L2 = 1.0
#: Bootstrap replicates are drawn in chunks of about this many example weights.
_CHUNK_CELLS = 4_000_000
#: Weightings fitted together by Newton's method hold about this many example weights (small
#: enough for the working arrays to stay in cache).
_NEWTON_CELLS = 65_536
#: Newton steps longer than this (in any coefficient) are checked by a backtracking line search.
_SEARCH_ABOVE = 0.5
#: Standardised features are clipped to this many standard deviations, so that a handful of
#: extreme outputs (a rare axis's few non-zero values) cannot dominate a logistic fit.
CLIP_SD = 4.0

PreferenceMode = Literal["binary", "soft"]


# ---------------------------------------------------------------------------------------------
# Result objects


@dataclass(frozen=True)
class PreferenceFit:
    """How one axis's per-example difference predicts preference (univariate logistic fit).

    ``coef`` is the change in log-odds that the new output is preferred per standard deviation
    of the difference (new − old); positive = more of the axis in the new output goes with
    preferring it.
    """

    coef: float | None
    coef_interval: Interval
    cv_accuracy: float | None
    n: int

    def to_dict(self) -> dict[str, Any]:
        return _clean(
            {
                "coef": self.coef,
                "coef_interval": self.coef_interval,
                "cv_accuracy": self.cv_accuracy,
                "n": self.n,
            }
        )


@dataclass(frozen=True)
class AxisResult:
    """Validation statistics of one behaviour axis (see the module docstring)."""

    name: str
    n: int
    mean_old: float | None
    mean_new: float | None
    diff: float | None
    diff_interval: Interval
    effect_size: float | None
    p_value: float | None
    q_value: float | None
    direction: str
    prevalence_old: float | None
    prevalence_new: float | None
    auroc: float | None
    auroc_interval: Interval
    paired_auroc: float | None
    paired_auroc_interval: Interval
    passes: bool
    preference: PreferenceFit | None = None

    @property
    def separability(self) -> float | None:
        """max(AUROC, 1 − AUROC): how well the axis alone tells the runs apart (0.5–1)."""
        return None if self.auroc is None else max(self.auroc, 1.0 - self.auroc)

    def to_dict(self) -> dict[str, Any]:
        return _clean(
            {
                "name": self.name,
                "n": self.n,
                "mean_old": self.mean_old,
                "mean_new": self.mean_new,
                "diff": self.diff,
                "diff_interval": self.diff_interval,
                "effect_size": self.effect_size,
                "p_value": self.p_value,
                "q_value": self.q_value,
                "direction": self.direction,
                "prevalence_old": self.prevalence_old,
                "prevalence_new": self.prevalence_new,
                "auroc": self.auroc,
                "auroc_interval": self.auroc_interval,
                "separability": self.separability,
                "paired_auroc": self.paired_auroc,
                "paired_auroc_interval": self.paired_auroc_interval,
                "passes": self.passes,
                "preference": self.preference.to_dict() if self.preference else None,
            }
        )


@dataclass(frozen=True)
class CombinedModel:
    """Cross-validated logistic models on all axes together."""

    axes: tuple[str, ...]
    folds: int
    identity_pair_accuracy: float | None
    identity_pooled_accuracy: float | None
    identity_chance: float
    n_pairs: int
    preference_accuracy: float | None = None
    preference_chance: float | None = None
    n_preference: int = 0
    preference_coefs: Mapping[str, float | None] = field(default_factory=dict)
    preference_coef_intervals: Mapping[str, Interval] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return _clean(
            {
                "axes": list(self.axes),
                "folds": self.folds,
                "identity_pair_accuracy": self.identity_pair_accuracy,
                "identity_pooled_accuracy": self.identity_pooled_accuracy,
                "identity_chance": self.identity_chance,
                "n_pairs": self.n_pairs,
                "preference_accuracy": self.preference_accuracy,
                "preference_chance": self.preference_chance,
                "n_preference": self.n_preference,
                "preference_coefs": dict(self.preference_coefs),
                "preference_coef_intervals": dict(self.preference_coef_intervals),
            }
        )


@dataclass(frozen=True)
class BehaviourStats:
    """Result of :func:`behaviour_stats`: one :class:`AxisResult` per axis, most separable
    first, and the combined models."""

    axes: tuple[AxisResult, ...]
    combined: CombinedModel | None
    n: int
    level: float
    alpha: float
    n_boot: int
    seed: int | None
    preference_mode: str | None
    effect_size: str = EFFECT_SIZE
    notes: tuple[str, ...] = ()
    asymptotic_from: int = ASYMPTOTIC_FROM

    @property
    def asymptotic(self) -> bool:
        """Whether the intervals are normal approximations (n ≥ ``asymptotic_from``)."""
        return self.n_boot > 0 and use_asymptotic(self.n, self.asymptotic_from)

    @property
    def ci_methods(self) -> dict[str, str]:
        """The method of each interval, by its key in the axes (``preference.coef_interval``) and
        the combined model (``combined.preference_coef_intervals``)."""
        if self.asymptotic:
            return {
                "diff_interval": NORMAL,
                "auroc_interval": DELONG,
                "paired_auroc_interval": NORMAL,
                "preference.coef_interval": WALD,
                "combined.preference_coef_intervals": WALD,
            }
        return dict.fromkeys(
            (
                "diff_interval",
                "auroc_interval",
                "paired_auroc_interval",
                "preference.coef_interval",
                "combined.preference_coef_intervals",
            ),
            BOOTSTRAP,
        )

    def axis(self, name: str) -> AxisResult:
        """The result of one axis by name."""
        for result in self.axes:
            if result.name == name:
                return result
        raise KeyError(name)

    @property
    def passing(self) -> tuple[AxisResult, ...]:
        """Axes that pass (q < alpha and the difference interval excludes 0), most separable
        first."""
        return tuple(a for a in self.axes if a.passes)

    def to_dict(self) -> dict[str, Any]:
        return _clean(
            {
                "n": self.n,
                "level": self.level,
                "alpha": self.alpha,
                "n_boot": self.n_boot,
                "asymptotic_from": self.asymptotic_from,
                "ci_methods": self.ci_methods,
                "seed": self.seed,
                "effect_size": self.effect_size,
                "preference_mode": self.preference_mode,
                "multiple_testing": "benjamini-hochberg",
                "sorted_by": "separability",
                "axes": [a.to_dict() for a in self.axes],
                "combined": self.combined.to_dict() if self.combined else None,
                "notes": list(self.notes),
            }
        )


# ---------------------------------------------------------------------------------------------
# Statistics helpers


def auroc(negative: ArrayLike, positive: ArrayLike) -> float:
    """P(a positive value > a negative one) + ½ P(equal): the Mann–Whitney AUROC.

    >>> auroc([1, 2, 3], [2, 3, 4])
    0.7777777777777778
    """
    neg = np.asarray(negative, dtype=float)
    pos = np.asarray(positive, dtype=float)
    if neg.size == 0 or pos.size == 0:
        return float("nan")
    return float(_weighted_auroc(neg, pos, np.ones((1, neg.size)), np.ones((1, pos.size)))[0])


def _weighted_auroc(
    neg: NDArray[np.float64],
    pos: NDArray[np.float64],
    w_neg: NDArray[np.float64],
    w_pos: NDArray[np.float64],
) -> NDArray[np.float64]:
    """AUROC under each row of weights: ``w_neg`` (b, len(neg)), ``w_pos`` (b, len(pos))."""
    values, inverse = np.unique(np.concatenate([neg, pos]), return_inverse=True)
    groups = values.size
    rows = w_neg.shape[0]
    offsets = (np.arange(rows) * groups)[:, None]
    size = rows * groups
    neg_w = np.bincount((offsets + inverse[: neg.size]).ravel(), w_neg.ravel(), size).reshape(rows, groups)
    pos_w = np.bincount((offsets + inverse[neg.size :]).ravel(), w_pos.ravel(), size).reshape(rows, groups)
    return _auroc_from_group_weights(neg_w, pos_w)


def _auroc_from_group_weights(
    neg_w: NDArray[np.float64], pos_w: NDArray[np.float64], axis: int = 1
) -> NDArray[np.float64]:
    """AUROC from the total weight of the negatives and of the positives per value (ascending
    along ``axis``), one AUROC per weighting (along the other axis)."""
    below = np.cumsum(neg_w, axis=axis) - neg_w
    wins = (pos_w * (below + 0.5 * neg_w)).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return wins / (neg_w.sum(axis=axis) * pos_w.sum(axis=axis))


class _PairedAuroc:
    """The AUROC of paired values (``old[i]`` a negative, ``new[i]`` a positive, both weighted
    by example i's weight) under many weightings: the values are grouped once, and each
    weighting's total per group is one sparse product. With whole-number weights (bootstrap
    counts) every sum is exact, so the result is :func:`_weighted_auroc`'s to the last bit."""

    def __init__(self, old: NDArray[np.float64], new: NDArray[np.float64]) -> None:
        from scipy.sparse import csr_matrix

        n = old.size
        _, inverse = np.unique(np.concatenate([old, new]), return_inverse=True)
        self.groups = int(inverse.max()) + 1 if n else 0
        rows = np.concatenate([inverse[:n], self.groups + inverse[n:]])
        columns = np.concatenate([np.arange(n), np.arange(n)])
        self.members = csr_matrix((np.ones(2 * n), (rows, columns)), shape=(2 * self.groups, n))

    def __call__(self, weights_t: NDArray[np.float64]) -> NDArray[np.float64]:
        """AUROC under each column of ``weights_t`` (examples x weightings, C-contiguous)."""
        totals = np.asarray(self.members @ weights_t)  # (groups x weightings), rows contiguous
        return _auroc_from_group_weights(totals[: self.groups], totals[self.groups :], axis=0)


def fit_logistic(
    X: ArrayLike,
    y: ArrayLike,
    weights: ArrayLike | None = None,
    *,
    l2: float = L2,
    intercept: bool = True,
    max_iter: int = 100,
    tol: float = 1e-5,
    start: tuple[ArrayLike, float] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """L2-penalised logistic regression by Newton's method, for one or many weightings at once.

    Minimises ``sum(w * logloss(y, sigmoid(b0 + X @ b))) + l2 / 2 * |b|^2`` (the intercept
    ``b0`` unpenalised), the objective of scikit-learn's ``LogisticRegression(C=1/l2)`` with
    sample weights. ``y`` may be soft (in [0, 1]). Newton's method (with a backtracking line
    search) converges quadratically: a fit stops once its step is below ``tol``, leaving an
    error of about ``tol**2``.

    Parameters
    ----------
    X:
        Features, shape (n, p).
    y:
        Targets in [0, 1], shape (n,).
    weights:
        None, shape (n,), or shape (b, n) to fit b weightings (bootstrap replicates) at once.
    start:
        ``(coef, intercept)`` to start Newton's method from (e.g. the unweighted fit, for
        bootstrap replicates); zeros by default.

    Returns
    -------
    (coef, intercept)
        Shapes (p,) and () for one weighting; (b, p) and (b,) for b weightings.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    n = X.shape[0]
    single = weights is None or np.ndim(weights) == 1
    W = np.ones((1, n)) if weights is None else np.atleast_2d(np.asarray(weights, dtype=float))
    design = np.hstack([np.ones((n, 1)), X]) if intercept else X
    q = design.shape[1]
    penalty = np.full(q, l2)
    if intercept:
        penalty[0] = 1e-8  # keeps the intercept finite when one class is absent
    # Products of every pair of columns, so that each Hessian of many weightings is one matrix
    # product (one weighting's Hessian is design^T diag(h) design, without them).
    products = (design[:, :, None] * design[:, None, :]).reshape(n, q * q) if W.shape[0] > 1 else None
    batch = max(1, _NEWTON_CELLS // max(n, 1))
    initial = np.zeros(q)
    if start is not None:
        initial = np.concatenate([[start[1]], np.ravel(start[0])]) if intercept else np.ravel(start[0])
    betas = [
        _newton(design, products, y, W[first : first + batch], penalty, initial, max_iter, tol)
        for first in range(0, W.shape[0], batch)
    ]
    beta = np.concatenate(betas)
    coef = beta[:, 1:] if intercept else beta
    icpt = beta[:, 0] if intercept else np.zeros(W.shape[0])
    if single:
        return coef[0], icpt[0]
    return coef, icpt


def _objective(
    beta: NDArray[np.float64],
    design: NDArray[np.float64],
    y: NDArray[np.float64],
    W: NDArray[np.float64],
    penalty: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Penalised weighted log-loss of each row of ``beta``."""
    eta = beta @ design.T
    loss = np.logaddexp(0.0, eta) - y * eta  # y log(1 + e^-eta) + (1 - y) log(1 + e^eta)
    return (W * loss).sum(axis=1) + 0.5 * (penalty * beta * beta).sum(axis=1)


def _newton(
    design: NDArray[np.float64],
    products: NDArray[np.float64] | None,
    y: NDArray[np.float64],
    W: NDArray[np.float64],
    penalty: NDArray[np.float64],
    initial: NDArray[np.float64],
    max_iter: int,
    tol: float,
) -> NDArray[np.float64]:
    """Newton's method for every row of weights, with a backtracking line search on long steps
    (so that it cannot cycle far from the optimum); rows leave the iteration as they converge."""
    q = design.shape[1]
    beta = np.tile(initial, (W.shape[0], 1))
    active = np.arange(W.shape[0])
    diagonal = np.arange(q)
    for _ in range(max_iter):
        if active.size == 0:
            break
        Wa, current = W[active], beta[active]
        prob = expit(current @ design.T)
        gradient = (Wa * (y - prob)) @ design - penalty * current
        curvature = Wa * prob * (1.0 - prob)
        if products is None:
            hessian = np.stack([design.T @ (design * h[:, None]) for h in curvature])
        else:
            hessian = (curvature @ products).reshape(-1, q, q)
        hessian[:, diagonal, diagonal] += penalty
        step = np.linalg.solve(hessian, gradient[..., None])[..., 0]
        moved = np.max(np.abs(step), axis=1)
        far = np.flatnonzero(moved > _SEARCH_ABOVE)
        if far.size:
            # Far from the optimum a full step may overshoot: halve it until the objective drops.
            start, direction, weights = current[far], step[far], Wa[far]
            before = _objective(start, design, y, weights, penalty)
            scale = np.ones(far.size)
            for _ in range(40):
                after = _objective(start + scale[:, None] * direction, design, y, weights, penalty)
                worse = after > before + 1e-12 * np.abs(before)
                if not worse.any():
                    break
                scale[worse] *= 0.5
            step[far] *= scale[:, None]
            moved[far] *= scale
        beta[active] = current + step
        active = active[moved >= tol]
    return beta


def wald_intervals(
    X: NDArray[np.float64], coef: ArrayLike, intercept: float, level: float, *, l2: float = L2
) -> list[Interval]:
    """Wald intervals ``coef ± z·se`` of a :func:`fit_logistic` fit (with intercept), the
    standard errors from the inverse of the penalised log-likelihood's observed information
    ``design^T diag(p (1 − p)) design + penalty`` at the fit. One interval per coefficient."""
    coef = np.ravel(np.asarray(coef, dtype=float))
    n = X.shape[0]
    design = np.hstack([np.ones((n, 1)), X])
    prob = expit(design @ np.concatenate([[intercept], coef]))
    information = design.T @ (design * (prob * (1.0 - prob))[:, None])
    penalty = np.full(design.shape[1], l2)
    penalty[0] = 1e-8  # as fit_logistic: the intercept unpenalised
    information[np.diag_indices_from(information)] += penalty
    try:
        se = np.sqrt(np.clip(np.diag(np.linalg.inv(information))[1:], 0.0, None))
    except np.linalg.LinAlgError:
        return [None] * coef.size
    half = normal_quantile(1.0 - (1.0 - level) / 2.0) * se
    return [
        (float(c - h), float(c + h)) if np.isfinite(c) and np.isfinite(h) else None
        for c, h in zip(coef, half, strict=True)
    ]


def stratified_folds(labels: ArrayLike, k: int, rng: np.random.Generator) -> NDArray[np.int64]:
    """A fold number (0 … k−1) per row: each class shuffled, then dealt round-robin."""
    labels = np.asarray(labels)
    folds = np.empty(labels.size, dtype=np.int64)
    start = 0
    for value in np.unique(labels):
        members = np.flatnonzero(labels == value)
        members = members[rng.permutation(members.size)]
        folds[members] = (start + np.arange(members.size)) % k
        start += members.size
    return folds


def _cv_accuracy(
    X: NDArray[np.float64],
    y: NDArray[np.float64],
    folds: NDArray[np.int64],
    *,
    intercept: bool = True,
    standardise: bool = True,
    scored: NDArray[np.bool_] | None = None,
) -> float | None:
    """Accuracy of the held-out predictions (p > 0.5 vs y > 0.5) over the rows in ``scored``."""
    correct = total = 0
    scored = np.ones(y.size, dtype=bool) if scored is None else scored
    for fold in np.unique(folds):
        test = folds == fold
        train = ~test
        train_y = y[train]
        if train.sum() < 2 or not (test & scored).any():
            continue
        Xtr, Xte = X[train], X[test]
        if standardise:
            center = Xtr.mean(axis=0) if intercept else np.zeros(X.shape[1])
            scale = Xtr.std(axis=0)
            scale[scale == 0] = 1.0
            Xtr, Xte = (Xtr - center) / scale, (Xte - center) / scale
        coef, icpt = fit_logistic(Xtr, train_y, intercept=intercept)
        predicted = (Xte @ coef + icpt) > 0
        keep = scored[test]
        correct += int((predicted[keep] == (y[test][keep] > 0.5)).sum())
        total += int(keep.sum())
    return correct / total if total else None


def _standardise(values: NDArray[np.float64], *, center: bool = True) -> NDArray[np.float64]:
    """Columns scaled to unit standard deviation (centred unless ``center`` is false) and
    clipped to ±``CLIP_SD``; NaN and constant columns become 0."""
    out = np.array(values, dtype=float)
    for j in range(out.shape[1]):
        column = out[:, j]
        finite = np.isfinite(column)
        if not finite.any():
            out[:, j] = 0.0
            continue
        mean = column[finite].mean() if center else 0.0
        sd = column[finite].std()
        column = np.where(finite, column - mean, 0.0)
        out[:, j] = np.clip(column / sd, -CLIP_SD, CLIP_SD) if sd > 0 else 0.0
    return out


#: From this many example values (examples x axes), the bootstrap runs on a thread per usable core.
THREADS_FROM = 250_000


def _pool(cells: int) -> Any:
    """A thread pool for the bootstrap of a large input (None when small or on one core): the
    sparse products and numpy's random generators release the GIL."""
    from deltaeval.threads import usable_cores

    cores = usable_cores()
    if cells < THREADS_FROM or cores < 2:
        return None
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=cores)


def _prefetched(chunks: Iterator[NDArray[np.float64]], threads: Any) -> Iterator[NDArray[np.float64]]:
    """The chunks in order, each next one drawn on ``threads`` while the current one is used
    (the same draws from the generator, in the same order); the pool is shut down at the end."""
    if threads is None:
        yield from chunks
        return
    try:
        pending = threads.submit(next, chunks, None)
        while True:
            chunk = pending.result()
            if chunk is None:
                return
            pending = threads.submit(next, chunks, None)
            yield chunk
    finally:
        threads.shutdown(wait=True)


def _bootstrap_weights(n: int, n_boot: int, rng: np.random.Generator) -> Iterator[NDArray[np.float64]]:
    """Chunks of bootstrap replicates as example weights (resampled counts), shape (rows, n)."""
    rows_per_chunk = max(1, _CHUNK_CELLS // max(n, 1))
    done = 0
    uniform = np.full(n, 1.0 / n)
    while done < n_boot:
        rows = min(rows_per_chunk, n_boot - done)
        yield rng.multinomial(n, uniform, size=rows).astype(float)
        done += rows


# ---------------------------------------------------------------------------------------------
# The analysis


def _as_matrix(values: Mapping[str, ArrayLike], names: list[str], side: str) -> NDArray[np.float64]:
    columns = []
    length = None
    for name in names:
        column = np.asarray(values[name], dtype=float).ravel()
        if length is None:
            length = column.size
        elif column.size != length:
            raise InputError(
                f"axis {name!r} of the {side} run has {column.size} values, others {length}",
                hint="give every axis one value per example",
            )
        columns.append(column)
    return np.column_stack(columns) if columns else np.empty((0, 0))


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def behaviour_stats(
    old: Mapping[str, ArrayLike],
    new: Mapping[str, ArrayLike],
    preference: ArrayLike | None = None,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    alpha: float = 0.05,
    folds: int = 5,
    seed: int | None = 0,
    preference_mode: PreferenceMode = "binary",
    combined: bool = True,
    asymptotic_from: int = ASYMPTOTIC_FROM,
) -> BehaviourStats:
    """Validate every behaviour axis as a difference between two paired runs.

    Parameters
    ----------
    old, new:
        Axis name → one value per example (same names, same example order; NaN = undefined).
    preference:
        Optional, one value per example in [0, 1]: 1 = new output preferred, 0 = old, 0.5 =
        tie; NaN = no verdict (left out of the preference analyses).
    n_boot, level:
        Bootstrap replicates (resampling examples; 0 = no intervals) and interval level.
    alpha:
        False discovery rate for Benjamini–Hochberg; an axis passes when q < alpha and its
        difference interval excludes 0.
    folds:
        Folds of the stratified cross-validation of the logistic models.
    seed:
        Seeds every random choice (bootstrap, folds, pair order).
    preference_mode:
        ``"binary"``: regress ``preference > 0.5`` (ties left out); ``"soft"``: regress the
        preference itself (ties kept; accuracy is still scored on the non-tied examples).
    combined:
        Fit the combined cross-validated models.
    asymptotic_from:
        From this many examples, normal/DeLong/Wald intervals instead of the bootstrap
        (0 = always the bootstrap); see the module docstring.

    Returns
    -------
    BehaviourStats
        Axes sorted by separability (most separable first).

    Raises
    ------
    InputError
        When the two runs list different axes or lengths, or a preference is outside [0, 1].
    """
    names = list(old)
    if set(names) != set(new):
        raise InputError(
            f"old and new runs have different axes: {sorted(set(names) ^ set(new))}",
            hint="compute the same axes for both runs",
        )
    if preference_mode not in ("binary", "soft"):
        raise InputError(f"preference_mode {preference_mode!r} is not 'binary' or 'soft'")
    if not 0 < level < 1 or not 0 < alpha < 1:
        raise InputError("level and alpha must lie strictly between 0 and 1")
    if asymptotic_from < 0:
        raise InputError(f"asymptotic_from {asymptotic_from} is negative", hint="0 = always the bootstrap")
    X_old = _as_matrix(old, names, "old")
    X_new = _as_matrix(new, names, "new")
    n = X_old.shape[0] if names else 0
    if X_new.shape[0] != n:
        raise InputError(
            f"the old run has {n} examples per axis, the new run {X_new.shape[0]}",
            hint="pair the two runs by example first (deltaeval.alignment.align)",
        )
    pref = None
    if preference is not None:
        pref = np.asarray(preference, dtype=float).ravel()
        if pref.size != n:
            raise InputError(f"{pref.size} preferences for {n} examples", hint="give one per example")
        bad = np.isfinite(pref) & ((pref < 0) | (pref > 1))
        if bad.any():
            raise InputError(
                f"preference {pref[bad][0]!r} is outside [0, 1]",
                hint="1 = new output preferred, 0 = old, 0.5 = tie; NaN when unknown",
            )

    rng = np.random.default_rng(seed)
    notes: list[str] = []
    K = len(names)
    finite = np.isfinite(X_old) & np.isfinite(X_new)
    D = np.where(finite, X_new - X_old, 0.0)
    signs = np.where(finite, np.sign(D) * 0.5 + 0.5, 0.0)  # 1 new higher, ½ tie, 0 lower
    counts = finite.sum(axis=0)

    # Preference targets.
    pref_rows = pref_target = pref_scored = None
    if pref is not None:
        known = np.isfinite(pref)
        if preference_mode == "binary":
            pref_rows = known & (pref != 0.5)
            pref_target = (pref[pref_rows] > 0.5).astype(float)
            pref_scored = np.ones(int(pref_rows.sum()), dtype=bool)
        else:
            pref_rows = known
            pref_target = pref[pref_rows]
            pref_scored = pref_target != 0.5
        if pref_target.size < 2 * folds or len(np.unique(pref_target > 0.5)) < 2:
            notes.append("too few preferences on both sides to fit a preference model")
            pref_rows = None

    # Point estimates.
    mean_old = np.array([X_old[finite[:, k], k].mean() if counts[k] else np.nan for k in range(K)])
    mean_new = np.array([X_new[finite[:, k], k].mean() if counts[k] else np.nan for k in range(K)])
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = D.sum(axis=0) / counts
        paired = signs.sum(axis=0) / counts
    p_values = np.full(K, np.nan)
    effect = np.full(K, np.nan)
    aurocs = np.full(K, np.nan)
    prevalence_old = np.full(K, np.nan)
    prevalence_new = np.full(K, np.nan)
    for k in range(K):
        rows = finite[:, k]
        if counts[k] < 2:
            continue
        d = D[rows, k]
        p = wilcoxon_p(d)
        p_values[k] = 1.0 if p is None else p
        sd = d.std(ddof=1)
        effect[k] = d.mean() / sd if sd > 0 else np.nan
        aurocs[k] = auroc(X_old[rows, k], X_new[rows, k])
        prevalence_old[k] = float(np.mean(X_old[rows, k] != 0))
        prevalence_new[k] = float(np.mean(X_new[rows, k] != 0))
    q_values = benjamini_hochberg(p_values)

    # Preference, per axis (univariate).
    pref_coef = np.full(K, np.nan)
    pref_cv: list[float | None] = [None] * K
    pref_n = np.zeros(K, dtype=int)
    pref_z: list[NDArray[np.float64] | None] = [None] * K
    pref_fits: list[Any] = [None] * K
    pref_folds = None
    if pref_rows is not None:
        pref_folds = stratified_folds(pref_target > 0.5, folds, rng)
        for k in range(K):
            rows = finite[pref_rows, k]
            d = D[pref_rows, k]
            pref_n[k] = int(rows.sum())
            if pref_n[k] < 2 * folds:
                continue
            sd = d[rows].std()
            if sd == 0:
                continue
            z = np.where(rows, np.clip((d - d[rows].mean()) / sd, -CLIP_SD, CLIP_SD), 0.0)
            pref_z[k] = z
            pref_fits[k] = fit_logistic(z[rows, None], pref_target[rows])
            pref_coef[k] = pref_fits[k][0][0]
            pref_cv[k] = _cv_accuracy(
                z[rows, None],
                pref_target[rows],
                pref_folds[rows],
                scored=pref_scored[rows],  # type: ignore[index]
            )

    # Bootstrap: one set of resampled examples for every axis and statistic.
    boot_diff: list[NDArray] = []
    boot_paired: list[NDArray] = []
    boot_auroc: list[NDArray] = []
    boot_pref: list[NDArray] = []
    asymptotic = n_boot > 0 and use_asymptotic(n, asymptotic_from)
    if n_boot > 0 and n > 0 and K > 0 and not asymptotic:
        finite_f = finite.astype(float)
        all_rows = finite.all(axis=0)
        pairs = [
            _PairedAuroc(X_old[finite[:, k], k], X_new[finite[:, k], k]) if counts[k] >= 2 else None
            for k in range(K)
        ]
        threads = _pool(n * K)
        for W in _prefetched(_bootstrap_weights(n, n_boot, rng), threads):
            with np.errstate(invalid="ignore", divide="ignore"):
                totals = W @ finite_f
                boot_diff.append((W @ D) / totals)
                boot_paired.append((W @ signs) / totals)
            chunk_auroc = np.full((W.shape[0], K), np.nan)
            W_t = np.ascontiguousarray(W.T)

            def one_auroc(k: int, W_t: NDArray[np.float64] = W_t) -> NDArray[np.float64]:
                return pairs[k](W_t if all_rows[k] else W_t[finite[:, k]])  # type: ignore[misc]

            wanted = [k for k in range(K) if pairs[k] is not None]
            found = threads.map(one_auroc, wanted) if threads is not None else map(one_auroc, wanted)
            for k, values in zip(wanted, found, strict=True):
                chunk_auroc[:, k] = values
            boot_auroc.append(chunk_auroc)
            if pref_rows is not None:
                chunk_pref = np.full((W.shape[0], K), np.nan)
                Wp = W[:, pref_rows]
                for k in range(K):
                    z = pref_z[k]
                    if z is None:
                        continue
                    rows = finite[pref_rows, k]
                    coef, _ = fit_logistic(z[rows, None], pref_target[rows], Wp[:, rows], start=pref_fits[k])
                    chunk_pref[:, k] = coef[:, 0]
                boot_pref.append(chunk_pref)

    def interval(chunks: list[NDArray], k: int) -> Interval:
        if not chunks:
            return None
        return percentile_interval(np.concatenate(chunks)[:, k], level)

    def asymptotic_interval(kind: str, k: int) -> Interval:
        """The normal-approximation interval of one statistic of axis k (see the docstring)."""
        rows = finite[:, k]
        if kind == "diff":
            return normal_mean_interval(D[rows, k], level)
        if kind == "paired":
            return normal_mean_interval(signs[rows, k], level)
        if kind == "auroc":
            return delong_paired_interval(X_old[rows, k], X_new[rows, k], level)
        z = pref_z[k]
        if z is None or pref_rows is None:
            return None
        coef, icpt = pref_fits[k]
        return wald_intervals(z[finite[pref_rows, k], None], coef, float(icpt), level)[0]

    chunks_of = {"diff": boot_diff, "paired": boot_paired, "auroc": boot_auroc, "pref": boot_pref}

    def ci(kind: str, k: int) -> Interval:
        return asymptotic_interval(kind, k) if asymptotic else interval(chunks_of[kind], k)

    results = []
    for k, name in enumerate(names):
        diff_interval = ci("diff", k) if counts[k] >= 2 else None
        q = _finite(q_values[k])
        excludes_zero = diff_interval is not None and (diff_interval[0] > 0 or diff_interval[1] < 0)
        preference_fit = None
        if pref_rows is not None:
            preference_fit = PreferenceFit(
                coef=_finite(pref_coef[k]),
                coef_interval=ci("pref", k) if np.isfinite(pref_coef[k]) else None,
                cv_accuracy=pref_cv[k],
                n=int(pref_n[k]),
            )
        d_k = diff[k]
        results.append(
            AxisResult(
                name=name,
                n=int(counts[k]),
                mean_old=_finite(mean_old[k]),
                mean_new=_finite(mean_new[k]),
                diff=_finite(d_k),
                diff_interval=diff_interval,
                effect_size=_finite(effect[k]),
                p_value=_finite(p_values[k]),
                q_value=q,
                direction="up" if d_k > 0 else "down" if d_k < 0 else "none",
                prevalence_old=_finite(prevalence_old[k]),
                prevalence_new=_finite(prevalence_new[k]),
                auroc=_finite(aurocs[k]),
                auroc_interval=ci("auroc", k) if counts[k] >= 2 else None,
                paired_auroc=_finite(paired[k]),
                paired_auroc_interval=ci("paired", k) if counts[k] >= 2 else None,
                passes=bool(q is not None and q < alpha and excludes_zero),
                preference=preference_fit,
            )
        )
    results.sort(key=lambda r: (-(r.separability if r.separability is not None else -1.0), r.name))

    model = None
    if combined and K > 0 and n >= 2 * folds:
        model = _combined(
            names, X_old, X_new, D, finite, pref_rows, pref_target, pref_scored, folds, n_boot, level, rng,
            asymptotic,
        )  # fmt: skip
    elif combined:
        notes.append(f"too few examples ({n}) for {folds}-fold combined models")

    return BehaviourStats(
        axes=tuple(results),
        combined=model,
        n=n,
        level=level,
        alpha=alpha,
        n_boot=n_boot,
        seed=seed,
        preference_mode=preference_mode if pref is not None else None,
        notes=tuple(notes),
        asymptotic_from=asymptotic_from,
    )


def _combined(
    names: list[str],
    X_old: NDArray[np.float64],
    X_new: NDArray[np.float64],
    D: NDArray[np.float64],
    finite: NDArray[np.bool_],
    pref_rows: NDArray[np.bool_] | None,
    pref_target: NDArray[np.float64] | None,
    pref_scored: NDArray[np.bool_] | None,
    folds: int,
    n_boot: int,
    level: float,
    rng: np.random.Generator,
    asymptotic: bool = False,
) -> CombinedModel:
    n = D.shape[0]
    differences = np.where(finite, D, np.nan)

    # Pairs in random order: features = (first − second) / sd, label = first is new.
    first_is_new = rng.random(n) < 0.5
    flipped = np.where(first_is_new[:, None], differences, -differences)
    pair_X = _standardise(flipped, center=False)
    pair_folds = stratified_folds(first_is_new, folds, rng)
    pair_accuracy = _cv_accuracy(
        pair_X, first_is_new.astype(float), pair_folds, intercept=False, standardise=False
    )

    # Single outputs: which run wrote it? An example's two outputs share a fold.
    pooled_X = _standardise(np.vstack([X_old, X_new]))
    pooled_y = np.concatenate([np.zeros(n), np.ones(n)])
    example_folds = rng.permutation(n) % folds
    pooled_accuracy = _cv_accuracy(pooled_X, pooled_y, np.concatenate([example_folds, example_folds]))

    model = CombinedModel(
        axes=tuple(names),
        folds=folds,
        identity_pair_accuracy=pair_accuracy,
        identity_pooled_accuracy=pooled_accuracy,
        identity_chance=0.5,
        n_pairs=n,
    )
    if pref_rows is None or pref_target is None or pref_scored is None:
        return model

    pref_X = _standardise(differences[pref_rows])
    labels = pref_target > 0.5
    pref_folds = stratified_folds(labels, folds, rng)
    accuracy = _cv_accuracy(pref_X, pref_target, pref_folds, scored=pref_scored)
    majority = float(np.mean(labels[pref_scored]))
    full_fit = fit_logistic(pref_X, pref_target)
    coef = full_fit[0]
    intervals: dict[str, Interval] = dict.fromkeys(names)
    if n_boot > 0 and asymptotic:
        wald = wald_intervals(pref_X, full_fit[0], float(full_fit[1]), level)
        intervals = dict(zip(names, wald, strict=True))
    elif n_boot > 0:
        rows = int(pref_rows.sum())
        replicates = []
        for W in _bootstrap_weights(rows, n_boot, rng):
            replicates.append(fit_logistic(pref_X, pref_target, W, start=full_fit)[0])
        boot = np.concatenate(replicates)
        intervals = {name: percentile_interval(boot[:, k], level) for k, name in enumerate(names)}
    return CombinedModel(
        axes=model.axes,
        folds=folds,
        identity_pair_accuracy=pair_accuracy,
        identity_pooled_accuracy=pooled_accuracy,
        identity_chance=0.5,
        n_pairs=n,
        preference_accuracy=accuracy,
        preference_chance=max(majority, 1.0 - majority),
        n_preference=int(pref_scored.sum()),
        preference_coefs={name: _finite(coef[k]) for k, name in enumerate(names)},
        preference_coef_intervals=intervals,
    )
