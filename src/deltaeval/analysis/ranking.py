"""Bradley–Terry ratings for three or more runs, plain and style-controlled (Arena-Hard style).

**Model.** P(a beats b) = 1 / (1 + exp(−(β_a − β_b))). A tie counts as half a win each way, as
Arena-Hard does (its win matrix adds wins twice and ties once to both sides; halving that matrix
changes nothing in the fit). Per-battle weights (e.g. 3 for a strong verdict, as Arena-Hard
weights ``A>>B``) multiply a battle's contribution.

**Scale.** Ratings are on the Elo-like scale Arena-Hard and Chatbot Arena use:
``rating = anchor_rating + 400 / ln(10) · (β − anchor)``, so a 400-point gap means 10:1 odds.
The anchor is the mean of β (default, all runs average ``anchor_rating`` = 1000) or the β of a
reference run (that run is fixed at ``anchor_rating``; its interval is then a point).

**Fit.** Maximum likelihood by Newton's method on the aggregated n_runs × n_runs win matrix
(its Hessian is a weighted graph Laplacian; the mean-zero constraint makes it invertible), so the
cost does not depend on the number of battles once they are counted. The MLE exists only when
every run has won and lost (in credit) against the others in a strongly connected way
(Zermelo/Ford); otherwise a ``ValueError`` suggests the ``l2`` option (a Gaussian prior on β).

**Bootstrap.** Resampling battles with replacement equals drawing the counts of the distinct
(run a, run b, outcome, weight) cells from a multinomial — exact and cheap; each replicate is
refitted (batched Newton, warm-started at the estimate). Replicates whose MLE does not exist are
left out of the percentiles.

**Style control** (``style_controlled_bradley_terry``): Arena-Hard's logistic model with the
one-hot model difference plus per-battle covariates — the normalised differences in answer length
and markdown density (headers, lists, bold) between the two answers — fitted by Newton/IRLS on the
per-battle rows (two nonzero model entries per row; X^T W X assembled with ``np.bincount``).
It is refused (``ValueError``) when the verdicts are (quasi-)completely separated by the
covariates (e.g. a judge that always prefers the shorter answer: the length coefficient is then
infinite and no style-held-equal rating is identified), and regularised — a N(0, 1) prior
(ridge 1) on each standardised style coefficient, which pulls the ratings toward the plain ones —
when there are fewer than 10 battles per parameter (``analysis.separation``). Bootstrap
replicates that are separated are left out and counted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.special import expit, log_expit

from deltaeval.analysis.separation import (
    MIN_EVENTS_PER_PARAMETER,
    RIDGE,
    SUSPECT_COEFFICIENT,
    separating_direction,
)
from deltaeval.plural import plural

SCALE = 400.0
BASE = 10.0
INIT_RATING = 1000.0


@dataclass(frozen=True)
class Ratings:
    """Ratings of runs on an Elo-like scale, with bootstrap intervals."""

    names: tuple[str, ...]
    ratings: NDArray[np.float64]  # (n_runs,)
    intervals: NDArray[np.float64] | None  # (n_runs, 2) percentile interval; None without bootstrap
    level: float
    n_boot: int
    n_battles: int
    anchor: str | None  # reference run, or None when the mean rating is fixed
    anchor_rating: float
    scale: float
    base: float
    converged: bool
    style_coefficients: dict[str, float] = field(default_factory=dict)  # logit per unit of feature
    style_intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    n_boot_failed: int = 0  # replicates left out (no MLE)
    style_ridge: float = 0.0  # prior precision on the style coefficients (0 = plain MLE)
    notes: tuple[str, ...] = ()  # how the fit was regularised, replicates left out

    def win_probability(self, a: int | str, b: int | str) -> float:
        """Model probability that run ``a`` beats run ``b`` (style effects held equal)."""
        ia = self.names.index(a) if isinstance(a, str) else a
        ib = self.names.index(b) if isinstance(b, str) else b
        diff = (self.ratings[ia] - self.ratings[ib]) / self.scale
        return float(1.0 / (1.0 + self.base ** (-diff)))

    def order(self) -> tuple[str, ...]:
        """Run names from the highest rating to the lowest."""
        return tuple(self.names[i] for i in np.argsort(-self.ratings, kind="stable"))


# --------------------------------------------------------------------------------------------
# Battles → cells → win matrix
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BattleCells:
    """Distinct (a, b, outcome, weight) battle cells and how many battles fall in each."""

    a: NDArray[np.int64]
    b: NDArray[np.int64]
    outcome: NDArray[np.float64]  # for a, in [0, 1]
    weight: NDArray[np.float64]
    count: NDArray[np.int64]
    n_models: int

    @property
    def n_battles(self) -> int:
        return int(self.count.sum())


def _check_battles(
    model_a: ArrayLike,
    model_b: ArrayLike,
    outcome: ArrayLike,
    weights: ArrayLike | None,
    n_models: int | None,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], NDArray[np.float64], int]:
    a = np.asarray(model_a).ravel()
    b = np.asarray(model_b).ravel()
    y = np.asarray(outcome, dtype=float).ravel()
    if not (a.shape == b.shape == y.shape):
        raise ValueError(f"model_a, model_b and outcome differ in length: {a.size}, {b.size}, {y.size}")
    if a.size and not (np.issubdtype(a.dtype, np.integer) and np.issubdtype(b.dtype, np.integer)):
        raise ValueError("model_a and model_b must be integer run indices (map names to 0..n-1 first)")
    a = a.astype(np.int64, copy=False)
    b = b.astype(np.int64, copy=False)
    if y.size and not (y.min() >= 0 and y.max() <= 1):  # NaN fails both comparisons
        raise ValueError("outcome must lie in [0, 1] (1 = a wins, 0.5 = tie, 0 = b wins), no NaN")
    if np.any(a == b):
        raise ValueError("a battle needs two different runs (model_a == model_b found)")
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=float).ravel()
    if weights is not None and (w.shape != y.shape or np.any(~np.isfinite(w) | (w < 0))):
        raise ValueError("weights must be one finite, non-negative number per battle")
    n = int(max(a.max(initial=-1), b.max(initial=-1)) + 1) if n_models is None else int(n_models)
    if a.size and (min(a.min(), b.min()) < 0 or max(a.max(), b.max()) >= n):
        raise ValueError(f"run indices must lie in 0..{n - 1}")
    return a, b, y, w, n


#: Cell keys counted with one ``bincount`` (an array of this many counts) rather than a sort.
_DENSE_KEYS = 1 << 20


def _value_codes(values: NDArray[np.float64]) -> tuple[NDArray, NDArray[np.int64] | None]:
    """``np.unique(values, return_inverse=True)``; codes ``None`` when all values are equal (no sort)."""
    if values.size and np.all(values == values[0]):
        return values[:1].copy(), None
    distinct, inverse = np.unique(values, return_inverse=True)
    return distinct, inverse.ravel().astype(np.int64)


def _outcome_codes(y: NDArray[np.float64], swap: NDArray[np.bool_]) -> tuple[NDArray, NDArray[np.int64]]:
    """Distinct outcomes for the lower run (``1 − y`` where ``swap``) and each battle's code.

    Outcomes that are all 0, 0.5 or 1 (wins, ties, losses) get codes 0, 1, 2 by arithmetic, in
    the order of the values (a code with no battle only widens the key range, never makes a cell);
    others are sorted by ``np.unique``.
    """
    twice = y * 2.0
    code = twice.astype(np.int64)
    if np.array_equal(code, twice):
        return np.array([0.0, 0.5, 1.0]), np.where(swap, 2 - code, code)
    values, codes = _value_codes(np.where(swap, 1.0 - y, y))
    return values, np.zeros(y.size, dtype=np.int64) if codes is None else codes


def battle_cells(
    model_a: ArrayLike,
    model_b: ArrayLike,
    outcome: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    n_models: int | None = None,
) -> BattleCells:
    """Count battles by (a, b, outcome, weight); a battle is stored as (min, max) with its outcome flipped."""
    a, b, y, w, n = _check_battles(model_a, model_b, outcome, weights, n_models)
    swap = a > b
    y_values, y_code = _outcome_codes(y, swap)
    w_values, w_code = _value_codes(w)
    ny, nw = max(y_values.size, 1), max(w_values.size, 1)
    key = np.minimum(a, b)
    key *= n
    key += np.maximum(a, b)
    key *= ny
    key += y_code
    if w_code is not None:
        key *= nw
        key += w_code
    n_keys = n * n * ny * nw
    if n_keys <= max(_DENSE_KEYS, 4 * key.size):  # count by index: no sort of the battles
        counts = np.bincount(key, minlength=n_keys)
        uniq = np.flatnonzero(counts)
        counts = counts[uniq]
    else:
        uniq, counts = np.unique(key, return_counts=True)
    w_idx = uniq % nw
    rest = uniq // nw
    y_idx = rest % ny
    pair = rest // ny
    return BattleCells(
        a=(pair // n).astype(np.int64),
        b=(pair % n).astype(np.int64),
        outcome=y_values[y_idx] if y_values.size else np.zeros(0),
        weight=w_values[w_idx] if w_values.size else np.zeros(0),
        count=counts.astype(np.int64),
        n_models=n,
    )


def cells_from_counts(wins: ArrayLike, ties: ArrayLike | None = None) -> BattleCells:
    """Cells from aggregated counts: ``wins[i, j]`` battles i won against j, ``ties[i, j]`` ties.

    Ties may be given as a symmetric matrix (each pair's ties counted once) or only on one side
    of the diagonal (``ties[i, j] + ties[j, i]`` is then the pair's count).
    """
    wm = np.asarray(wins, dtype=float)
    if wm.ndim != 2 or wm.shape[0] != wm.shape[1]:
        raise ValueError("wins must be a square (n_runs, n_runs) matrix")
    n = wm.shape[0]
    tm = np.zeros_like(wm) if ties is None else np.asarray(ties, dtype=float)
    for name, m in (("wins", wm), ("ties", tm)):
        if m.shape != wm.shape or np.any(m < 0) or np.any(m != np.round(m)):
            raise ValueError(f"{name} must be a (n_runs, n_runs) matrix of non-negative whole counts")
    i, j = np.triu_indices(n, k=1)
    pair_ties = tm[i, j] if np.array_equal(tm, tm.T) else tm[i, j] + tm[j, i]
    a = np.concatenate([i, i, i])
    b = np.concatenate([j, j, j])
    y = np.concatenate([np.ones(i.size), np.zeros(i.size), np.full(i.size, 0.5)])
    c = np.concatenate([wm[i, j], wm[j, i], pair_ties]).astype(np.int64)
    keep = c > 0
    return BattleCells(
        a=a[keep].astype(np.int64),
        b=b[keep].astype(np.int64),
        outcome=y[keep],
        weight=np.ones(int(keep.sum())),
        count=c[keep],
        n_models=n,
    )


def _row_win_matrix(a: NDArray, b: NDArray, y: NDArray, w: NDArray, n: int) -> NDArray[np.float64]:
    """Win-credit matrix straight from battle rows."""
    idx = np.concatenate([a * n + b, b * n + a])
    vals = np.concatenate([w * y, w * (1.0 - y)])
    return np.bincount(idx, weights=vals, minlength=n * n).reshape(n, n)


def win_matrix(cells: BattleCells, counts: NDArray | None = None) -> NDArray[np.float64]:
    """Win credit ``W[i, j]`` of i over j (wins + half the ties, times weights).

    ``counts`` of shape (B, n_cells) gives B matrices at once (bootstrap), shape (B, n, n).
    """
    n = cells.n_models
    c = cells.count[None, :] if counts is None else np.atleast_2d(counts)
    batch = c.shape[0]
    credit_ab = c * (cells.weight * cells.outcome)[None, :]
    credit_ba = c * (cells.weight * (1.0 - cells.outcome))[None, :]
    offsets = (np.arange(batch) * n * n)[:, None]
    idx = np.concatenate(
        [(offsets + cells.a * n + cells.b).ravel(), (offsets + cells.b * n + cells.a).ravel()]
    )
    vals = np.concatenate([credit_ab.ravel(), credit_ba.ravel()])
    out = np.bincount(idx, weights=vals, minlength=batch * n * n).reshape(batch, n, n)
    return out[0] if counts is None else out


def mle_exists(wins: NDArray[np.floating]) -> bool:
    """Whether the Bradley–Terry MLE is finite: the "i beat j" graph is strongly connected."""
    w = np.asarray(wins, dtype=float)
    if w.shape[0] <= 1:
        return True
    n_comp, _ = connected_components(csr_matrix(w > 0), directed=True, connection="strong")
    return bool(n_comp == 1)


def _mle_exists_each(stack: NDArray[np.floating]) -> NDArray[np.bool_]:
    """``mle_exists`` of each matrix of a (B, n, n) stack; a complete "beat" graph needs no search."""
    n = stack.shape[-1]
    beaten = (stack > 0) | np.eye(n, dtype=bool)
    ok = beaten.all(axis=(-1, -2))
    for i in np.flatnonzero(~ok):
        ok[i] = mle_exists(stack[i])
    return ok


# --------------------------------------------------------------------------------------------
# Newton on the aggregated matrix
# --------------------------------------------------------------------------------------------


def _bt_loglik(beta: NDArray, wins: NDArray, l2: float) -> NDArray:
    terms = beta[..., :, None] - beta[..., None, :]
    log_expit(terms, out=terms)  # in place: no temporary (B, n, n) arrays
    terms *= wins
    return terms.sum(axis=(-1, -2)) - 0.5 * l2 * (beta * beta).sum(axis=-1)


def fit_bradley_terry(
    wins: ArrayLike,
    *,
    l2: float = 0.0,
    start: NDArray[np.float64] | None = None,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> tuple[NDArray[np.float64], bool]:
    """Mean-zero Bradley–Terry log-strengths β from a win-credit matrix (or a (B, n, n) stack).

    Newton's method with step halving; each step solves ``(L + J/n) s = g`` with L the weighted
    Laplacian (the negative Hessian) and J the all-ones matrix, which keeps Σβ = 0. Returns
    (β, converged); β is natural-log scale (P(i beats j) = σ(β_i − β_j)).
    """
    w = np.asarray(wins, dtype=float)
    n = w.shape[-1]
    total = w + np.swapaxes(w, -1, -2)
    beta = np.zeros(w.shape[:-1]) if start is None else np.broadcast_to(start, w.shape[:-1]).copy()
    beta = beta - beta.mean(axis=-1, keepdims=True)
    obj = _bt_loglik(beta, w, l2)
    ones = np.full((n, n), 1.0 / n)
    idx = np.arange(n)
    converged = False
    for _ in range(max_iter):
        # the same arithmetic as grad = (w − total·p).sum(−1) − l2·β, c = total·p·(1 − p),
        # lap = −c (diagonal: row sums) + J/n + l2·I, with the (B, n, n) temporaries reused
        p = expit(beta[..., :, None] - beta[..., None, :])
        c = total * p
        lap = w - c
        grad = lap.sum(axis=-1) - l2 * beta
        np.subtract(1.0, p, out=p)
        c *= p
        np.negative(c, out=lap)
        lap[..., idx, idx] = c.sum(axis=-1) - c[..., idx, idx]
        lap += ones
        if l2:
            lap += l2 * np.eye(n)
        step = np.linalg.solve(lap, grad[..., None])[..., 0]
        step = step - step.mean(axis=-1, keepdims=True)
        scale = np.ones(step.shape[:-1])
        for _ in range(40):
            trial = beta + scale[..., None] * step
            new_obj = _bt_loglik(trial, w, l2)
            worse = new_obj < obj - 1e-12 * np.maximum(1.0, np.abs(obj))
            if not np.any(worse):
                break
            scale = np.where(worse, scale / 2, scale)
        beta, obj = trial, new_obj
        if np.max(np.abs(scale[..., None] * step), initial=0.0) < tol:
            converged = True
            break
    return beta, converged


def _to_ratings(
    beta: NDArray, anchor_index: int | None, anchor_rating: float, scale: float, base: float
) -> NDArray[np.float64]:
    ref = (
        beta.mean(axis=-1, keepdims=True)
        if anchor_index is None
        else beta[..., anchor_index : anchor_index + 1]
    )
    return anchor_rating + scale / math.log(base) * (beta - ref)


def _names_and_anchor(
    n: int, names: Sequence[str] | None, anchor: int | str | None
) -> tuple[tuple[str, ...], int | None]:
    labels = tuple(str(x) for x in names) if names is not None else tuple(str(i) for i in range(n))
    if len(labels) != n:
        raise ValueError(f"{len(labels)} names for {n} runs")
    if anchor is None:
        return labels, None
    index = labels.index(anchor) if isinstance(anchor, str) else int(anchor)
    if not 0 <= index < n:
        raise ValueError(f"anchor {anchor!r} is not a run")
    return labels, index


def _bradley_terry_cells(
    cells: BattleCells,
    *,
    names: Sequence[str] | None,
    n_boot: int,
    level: float,
    seed: int | None,
    anchor: int | str | None,
    anchor_rating: float,
    scale: float,
    base: float,
    l2: float,
) -> Ratings:
    n = cells.n_models
    labels, anchor_index = _names_and_anchor(n, names, anchor)
    wins = win_matrix(cells)
    if l2 <= 0 and not mle_exists(wins):
        raise ValueError(
            "the Bradley-Terry MLE does not exist: some run never wins (or never loses) against the "
            "rest, or the runs split into groups never compared; pass l2 > 0 (e.g. 1e-3) for a "
            "regularised fit"
        )
    beta, converged = fit_bradley_terry(wins, l2=l2)
    ratings = _to_ratings(beta, anchor_index, anchor_rating, scale, base)
    intervals = None
    failed = 0
    if n_boot > 0 and cells.n_battles > 0:
        rng = np.random.default_rng(seed)
        total = cells.n_battles
        draws = rng.multinomial(total, cells.count / total, size=n_boot)
        stack = win_matrix(cells, draws)
        ok = np.ones(n_boot, dtype=bool) if l2 > 0 else _mle_exists_each(stack)
        failed = int((~ok).sum())
        reps = np.full((n_boot, n), np.nan)
        if ok.any():
            b_beta, _ = fit_bradley_terry(stack[ok], l2=l2, start=beta)
            reps[ok] = _to_ratings(b_beta, anchor_index, anchor_rating, scale, base)
        alpha = (1.0 - level) / 2.0
        good = reps[ok]
        intervals = (
            np.quantile(good, [alpha, 1.0 - alpha], axis=0).T if good.shape[0] else np.full((n, 2), np.nan)
        )
    return Ratings(
        names=labels,
        ratings=ratings,
        intervals=intervals,
        level=level,
        n_boot=n_boot,
        n_battles=cells.n_battles,
        anchor=labels[anchor_index] if anchor_index is not None else None,
        anchor_rating=anchor_rating,
        scale=scale,
        base=base,
        converged=converged,
        n_boot_failed=failed,
    )


def bradley_terry(
    model_a: ArrayLike,
    model_b: ArrayLike,
    outcome: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    names: Sequence[str] | None = None,
    n_models: int | None = None,
    n_boot: int = 100,
    level: float = 0.95,
    seed: int | None = 0,
    anchor: int | str | None = None,
    anchor_rating: float = INIT_RATING,
    scale: float = SCALE,
    base: float = BASE,
    l2: float = 0.0,
) -> Ratings:
    """Bradley–Terry ratings from battles (see the module docstring for scale, anchor, ties).

    Parameters
    ----------
    model_a, model_b:
        Integer run indices (0..n_models − 1) of each battle's two runs.
    outcome:
        Outcome for ``model_a``: 1 = a wins, 0.5 = tie, 0 = b wins (soft values allowed).
    weights:
        Optional per-battle weights (e.g. 3 for a strong verdict).
    names, n_models:
        Run names (index order) and their number (default: largest index + 1).
    n_boot, level, seed:
        Bootstrap rounds over battles (exact multinomial on the aggregated cells), interval
        level, seed.
    anchor, anchor_rating, scale, base:
        Rating scale: ``anchor_rating + scale / ln(base) · (β − anchor)``; ``anchor`` None fixes
        the mean, a run name/index fixes that run.
    l2:
        Gaussian prior precision on β (0 = plain MLE).

    Examples
    --------
    >>> a, b = [0, 0, 1, 1, 2, 2, 0, 1], [1, 2, 2, 0, 0, 1, 1, 2]
    >>> r = bradley_terry(a, b, [1, 1, 1, 1, 1, 0, 1, 1], names=["x", "y", "z"], n_boot=0)
    >>> r.order()
    ('y', 'x', 'z')
    """
    cells = battle_cells(model_a, model_b, outcome, weights=weights, n_models=n_models)
    return _bradley_terry_cells(
        cells,
        names=names,
        n_boot=n_boot,
        level=level,
        seed=seed,
        anchor=anchor,
        anchor_rating=anchor_rating,
        scale=scale,
        base=base,
        l2=l2,
    )


def bradley_terry_counts(
    wins: ArrayLike,
    ties: ArrayLike | None = None,
    *,
    names: Sequence[str] | None = None,
    n_boot: int = 100,
    level: float = 0.95,
    seed: int | None = 0,
    anchor: int | str | None = None,
    anchor_rating: float = INIT_RATING,
    scale: float = SCALE,
    base: float = BASE,
    l2: float = 0.0,
) -> Ratings:
    """Bradley–Terry ratings from aggregated counts (``wins[i, j]`` = battles i won against j)."""
    return _bradley_terry_cells(
        cells_from_counts(wins, ties),
        names=names,
        n_boot=n_boot,
        level=level,
        seed=seed,
        anchor=anchor,
        anchor_rating=anchor_rating,
        scale=scale,
        base=base,
        l2=l2,
    )


# --------------------------------------------------------------------------------------------
# Style control
# --------------------------------------------------------------------------------------------

STYLE_FEATURES = ("length", "headers", "lists", "bold")
_FENCE = re.compile(r"```.*?```", re.DOTALL)
_HEADER = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+\S", re.MULTILINE)
_LIST = re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])[ \t]+\S", re.MULTILINE)
_BOLD = re.compile(r"\*\*[^*\n]+?\*\*|__[^_\n]+?__")


def markdown_counts(text: str) -> tuple[int, int, int]:
    """(headers, list items, bold spans) in a Markdown answer, fenced code blocks left out."""
    body = _FENCE.sub("", text or "")
    return len(_HEADER.findall(body)), len(_LIST.findall(body)), len(_BOLD.findall(body))


def style_features(
    len_a: ArrayLike,
    len_b: ArrayLike,
    markdown_a: ArrayLike | None = None,
    markdown_b: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """Arena-Hard's style covariates for each battle, oriented as "a minus b".

    * length: ``(len_a − len_b) / (len_a + len_b)`` (0 when both are empty);
    * for each markdown count (columns of ``markdown_a``/``markdown_b``, e.g. headers, lists,
      bold from ``markdown_counts``): its density ``count / length`` per answer, then
      ``(dens_a − dens_b) / (dens_a + dens_b + 1)``.

    Returns an (n_battles, 1 + n_markdown) matrix, not yet standardised (the fit standardises).
    Lengths may be characters or tokens; say which when reporting.
    """
    la = np.asarray(len_a, dtype=float).ravel()
    lb = np.asarray(len_b, dtype=float).ravel()
    if la.shape != lb.shape:
        raise ValueError("len_a and len_b differ in length")
    total = la + lb
    with np.errstate(divide="ignore", invalid="ignore"):
        length = np.where(total > 0, (la - lb) / np.where(total > 0, total, 1.0), 0.0)
    columns = [length]
    if markdown_a is not None or markdown_b is not None:
        if markdown_a is None or markdown_b is None:
            raise ValueError("give markdown counts for both sides or neither")
        ma = np.asarray(markdown_a, dtype=float).reshape(la.size, -1)
        mb = np.asarray(markdown_b, dtype=float).reshape(lb.size, -1)
        if ma.shape != mb.shape:
            raise ValueError("markdown_a and markdown_b differ in shape")
        da = ma / np.maximum(la, 1.0)[:, None]
        db = mb / np.maximum(lb, 1.0)[:, None]
        columns.extend(((da - db) / (da + db + 1.0)).T)
    return np.column_stack(columns)


def _soft_loss(eta: NDArray, y: NDArray, w: NDArray) -> float:
    """−Σ w [y log σ(η) + (1 − y) log σ(−η)] = Σ w [log(1 + e^η) − y η]."""
    return float((w * (np.logaddexp(0.0, eta) - y * eta)).sum())


def _fit_style(
    a: NDArray[np.int64],
    b: NDArray[np.int64],
    f: NDArray[np.float64],
    y: NDArray[np.float64],
    w: NDArray[np.float64],
    n: int,
    *,
    start: tuple[NDArray, NDArray] | None = None,
    ridge: float = 0.0,
    max_iter: int = 100,
    tol: float = 1e-9,
) -> tuple[NDArray[np.float64], NDArray[np.float64], bool]:
    """Newton/IRLS for logit P(a wins) = β_a − β_b + f·γ with soft labels y and weights w (Σβ = 0).

    The Hessian's model block is a weighted Laplacian (one ``bincount`` over the pairs), the
    model × feature block two bincounts per feature, the feature block ``fᵀ V f`` (plus
    ``ridge`` on its diagonal: a Gaussian prior of that precision on γ).
    """
    k = f.shape[1]
    beta = np.zeros(n) if start is None else start[0] - start[0].mean()
    gamma = np.zeros(k) if start is None else start[1].copy()
    eta = beta[a] - beta[b] + f @ gamma
    obj = _soft_loss(eta, y, w) + 0.5 * ridge * float(gamma @ gamma)
    pair = a * n + b
    diag = np.arange(n)
    converged = False
    for _ in range(max_iter):
        p = expit(eta)
        r = w * (y - p)
        v = w * p * (1 - p)
        g_beta = np.bincount(a, r, minlength=n) - np.bincount(b, r, minlength=n)
        g_gamma = f.T @ r - ridge * gamma
        c = np.bincount(pair, v, minlength=n * n).reshape(n, n)
        c = c + c.T
        lap = -c
        lap[diag, diag] = c.sum(axis=1) - c[diag, diag]
        vf = v[:, None] * f
        cross = np.empty((n, k))
        for j in range(k):
            cross[:, j] = np.bincount(a, vf[:, j], minlength=n) - np.bincount(b, vf[:, j], minlength=n)
        hess = np.block([[lap + 1.0 / n, cross], [cross.T, f.T @ vf + ridge * np.eye(k)]])
        step = np.linalg.solve(hess + 1e-12 * np.eye(n + k), np.concatenate([g_beta, g_gamma]))
        s_beta = step[:n] - step[:n].mean()
        s_gamma = step[n:]
        d_eta = s_beta[a] - s_beta[b] + f @ s_gamma
        scale = 1.0
        for _ in range(40):
            new_eta = eta + scale * d_eta
            new_gamma = gamma + scale * s_gamma
            new_obj = _soft_loss(new_eta, y, w) + 0.5 * ridge * float(new_gamma @ new_gamma)
            if new_obj <= obj + 1e-12 * max(1.0, abs(obj)):
                break
            scale /= 2
        beta, gamma, eta, obj = beta + scale * s_beta, gamma + scale * s_gamma, new_eta, new_obj
        if scale * max(np.abs(s_beta).max(initial=0.0), np.abs(s_gamma).max(initial=0.0)) < tol:
            converged = True
            break
    return beta, gamma, converged


def style_controlled_bradley_terry(
    model_a: ArrayLike,
    model_b: ArrayLike,
    outcome: ArrayLike,
    features: ArrayLike,
    *,
    feature_names: Sequence[str] | None = None,
    standardize: bool = True,
    weights: ArrayLike | None = None,
    names: Sequence[str] | None = None,
    n_models: int | None = None,
    n_boot: int = 100,
    level: float = 0.95,
    seed: int | None = 0,
    anchor: int | str | None = None,
    anchor_rating: float = INIT_RATING,
    scale: float = SCALE,
    base: float = BASE,
    ridge: float | None = None,
) -> Ratings:
    """Style-controlled Bradley–Terry ratings (Arena-Hard's style control).

    Fits ``logit P(a wins) = β_a − β_b + Σ_j γ_j f_j`` on the battles, where ``features`` holds
    per-battle covariates oriented as "a minus b" (``style_features`` builds Arena-Hard's:
    normalised length difference and markdown-density differences). With ``standardize`` the
    columns are z-scored first (as Arena-Hard does), so each γ_j is the change in log-odds per
    standard deviation of the feature. The ratings are the β (on the usual Elo-like scale): each
    run's strength with style held equal. ``style_coefficients``/``style_intervals`` report γ.

    The bootstrap resamples battles (multinomial counts per battle) and refits each round from
    the estimate; its cost grows with the number of battles (one Newton fit per round).

    ``ridge`` is the precision of a Gaussian prior on each (standardised) γ; ``None`` chooses
    ``RIDGE`` (1) when there are fewer than 10 battles per parameter (runs − 1 plus the
    non-constant features) and 0 otherwise, and ``notes`` says so. Raises ``ValueError`` when
    the verdicts are separated (see the module docstring): no finite fit exists.
    """
    a, b, y, w, n = _check_battles(model_a, model_b, outcome, weights, n_models)
    f = np.asarray(features, dtype=float)
    f = f.reshape(a.size, -1) if f.size else np.zeros((a.size, 0))
    if f.shape[0] != a.size or not np.all(np.isfinite(f)):
        raise ValueError("features must be a finite (n_battles, n_features) matrix")
    k = f.shape[1]
    fnames = (
        tuple(feature_names)
        if feature_names is not None
        else (STYLE_FEATURES[:k] if k <= 4 else tuple(f"feature_{j}" for j in range(k)))
    )
    if len(fnames) != k:
        raise ValueError(f"{len(fnames)} feature names for {k} features")
    if standardize and k:
        sd = f.std(axis=0)
        f = (f - f.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    labels, anchor_index = _names_and_anchor(n, names, anchor)
    if not mle_exists(_row_win_matrix(a, b, y, w, n)):
        raise ValueError(
            "the style-controlled fit has no finite solution: some run never wins (or never loses) "
            "against the rest, or the runs split into groups never compared"
        )
    n_params = n - 1 + int(np.count_nonzero(f.std(axis=0) > 0)) if a.size else 0
    few = a.size < MIN_EVENTS_PER_PARAMETER * n_params
    if ridge is None:
        ridge = RIDGE if few else 0.0
    if ridge < 0:
        raise ValueError("ridge must be >= 0")
    beta, gamma, converged = _fit_style(a, b, f, y, w, n, ridge=ridge)
    # an unpenalised fit is checked when it looks runaway; a small one always (its prior would
    # hide the separation); one with a ridge chosen by the caller is bounded by it
    check = few or (ridge == 0.0 and _runaway(beta, gamma, converged))
    if check and _style_separated(a, b, f, y, w, n):
        covariates = _separating_features(a, b, f, y, w, n, fnames)
        raise ValueError(
            f"the verdicts are perfectly separated by the style covariates ({covariates}); "
            f"n = {plural(int(a.size), 'battle')}"
        )
    notes: list[str] = []
    if ridge > 0:
        notes.append(
            f"regularised: {plural(int(a.size), 'battle')} for {plural(n_params, 'parameter')} "
            f"(fewer than {MIN_EVENTS_PER_PARAMETER} per parameter); a normal prior (ridge {ridge:g}) "
            "on each standardised style coefficient pulls the style-controlled ratings toward the plain ones"
        )
    ratings = _to_ratings(beta, anchor_index, anchor_rating, scale, base)
    intervals = None
    style_intervals: dict[str, tuple[float, float]] = {}
    failed = separated = 0
    if n_boot > 0 and a.size:
        rng = np.random.default_rng(seed)
        reps = np.full((n_boot, n), np.nan)
        greps = np.full((n_boot, k), np.nan)
        for i in range(n_boot):
            counts = np.bincount(rng.integers(0, a.size, a.size), minlength=a.size).astype(float)
            if not mle_exists(_row_win_matrix(a, b, y, w * counts, n)):
                failed += 1
                continue
            bb, gg, ok = _fit_style(a, b, f, y, w * counts, n, start=(beta, gamma), ridge=ridge)
            if ridge == 0.0 and _runaway(bb, gg, ok) and _style_separated(a, b, f, y, w * counts, n):
                separated += 1
                continue
            reps[i] = _to_ratings(bb, anchor_index, anchor_rating, scale, base)
            greps[i] = gg
        failed += separated
        if separated:
            notes.append(
                f"{plural(separated, 'bootstrap replicate')} of {n_boot} separated by the style "
                "covariates and left out of the intervals"
            )
        alpha = (1.0 - level) / 2.0
        good = np.isfinite(reps[:, 0])
        if good.any():
            intervals = np.quantile(reps[good], [alpha, 1 - alpha], axis=0).T
            for j, name in enumerate(fnames):
                lo, hi = np.quantile(greps[good, j], [alpha, 1 - alpha])
                style_intervals[name] = (float(lo), float(hi))
        else:
            intervals = np.full((n, 2), np.nan)
    return Ratings(
        names=labels,
        ratings=ratings,
        intervals=intervals,
        level=level,
        n_boot=n_boot,
        n_battles=int(a.size),
        anchor=labels[anchor_index] if anchor_index is not None else None,
        anchor_rating=anchor_rating,
        scale=scale,
        base=base,
        converged=converged,
        style_coefficients={name: float(g) for name, g in zip(fnames, gamma, strict=True)},
        style_intervals=style_intervals,
        n_boot_failed=failed,
        style_ridge=float(ridge),
        notes=tuple(notes),
    )


def _runaway(beta: NDArray, gamma: NDArray, converged: bool) -> bool:
    """Whether a fit may have run off along a separating direction (then it is checked exactly)."""
    big = max(np.abs(beta).max(initial=0.0), np.abs(gamma).max(initial=0.0))
    return not converged or big > SUSPECT_COEFFICIENT


def _style_design(a: NDArray, b: NDArray, f: NDArray, n: int) -> Any:
    """The sparse per-battle design: +1 for a's column, −1 for b's, then the features."""
    from scipy.sparse import csr_matrix, hstack

    rows = np.arange(a.size)
    models = csr_matrix(
        (np.concatenate([np.ones(a.size), -np.ones(a.size)]), (np.tile(rows, 2), np.concatenate([a, b]))),
        shape=(a.size, n),
    )
    return hstack([models, csr_matrix(f)], format="csr")


def _style_separated(a: NDArray, b: NDArray, f: NDArray, y: NDArray, w: NDArray, n: int) -> bool:
    return separating_direction(_style_design(a, b, f, n), y, w) is not None


def _separating_features(
    a: NDArray, b: NDArray, f: NDArray, y: NDArray, w: NDArray, n: int, names: Sequence[str]
) -> str:
    """The style covariates that separate the verdicts on their own (with the runs), else all."""
    alone = [name for j, name in enumerate(names) if _style_separated(a, b, f[:, j : j + 1], y, w, n)]
    return ", ".join(alone or [name for j, name in enumerate(names) if f[:, j].std() > 0])
