"""Representation compatibility of two embedding models: can new queries search the old gallery?

Pure numpy: matrices in, numbers out. The old and the new model embed the same query texts and the
same gallery texts (rows aligned); ``relevant[i]`` holds the gallery rows relevant to query ``i``.

- **Retrieval** by cosine similarity. The rank of a query is the position of its best-scored
  relevant gallery item, ties counted against it (``1 + #irrelevant items scoring >= it``), so a
  constant embedding ranks last, not first. recall@k = share of queries with rank <= k (one hit
  suffices); MRR = mean of 1 / rank.
- **Four directions**: old query → old gallery, new → new, new query → old gallery (the *cross*
  direction: BCT's compatibility criterion is cross >= old→old) and old query → new gallery.
- **Intervals** by a paired bootstrap over queries: one set of resampled query indices serves every
  metric and every difference, so ``cross − old→old`` gets its own interval.
- **Linear CKA** (Kornblith et al., 2019) between the two spaces on the gallery.
- **Learned maps** from the old space to the new, fitted on the old and new embeddings of a
  training split of the queries (and the gallery items relevant only to them), evaluated on the
  held-out queries searching the *mapped* old gallery. The maps are affine: both spaces are centred
  on the fitting rows' means (which matters for anisotropic models such as e5, whose vectors share
  a large common direction), then orthogonal Procrustes when the dimensions
  match (least squares otherwise) and a ridge map whose penalty is chosen on a validation part of
  the training queries. Recovery = recall@1 through the map / new→new recall@1 on the same queries.
- **Verdict** (recall@1): *compatible* when the interval of cross − old→old does not lie below 0;
  *incompatible* when the interval of the share cross / old→old lies wholly below
  :data:`PARTLY_MIN_SHARE`; *partly* otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from deltaeval.stats import BOOTSTRAP, make_rng, percentile_interval

KS = (1, 5, 10)
#: Below this share of old→old recall@1 kept by the cross direction (the whole interval below it),
#: a pair is "incompatible"; at or above it, and not compatible, "partly".
PARTLY_MIN_SHARE = 0.25
#: Ridge penalties tried, as multiples of (number of fitting rows × their mean squared norm). Large
#: penalties tend to the cross-covariance map ``old'new`` (cosine ignores the scale).
RIDGE_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)
DIRECTIONS = ("old->old", "new->new", "new->old", "old->new")
#: Rows of query-by-gallery similarities computed at once (bounds memory on large galleries).
CHUNK_ROWS = 1024


def normalize(matrix: NDArray[np.floating]) -> NDArray[np.float64]:
    """Rows scaled to unit length (a zero row stays zero)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


def ranks(
    queries: NDArray[np.floating], gallery: NDArray[np.floating], relevant: Sequence[Sequence[int]]
) -> NDArray[np.int64]:
    """1-based rank of each query's best relevant gallery item by cosine similarity (ties count
    against the query: ``1 + #irrelevant items with a score >= the best relevant score``)."""
    q, g = normalize(queries), normalize(gallery)
    if q.shape[1] != g.shape[1]:
        raise ValueError(f"queries have {q.shape[1]} dimensions, the gallery {g.shape[1]}")
    out = np.empty(len(q), dtype=np.int64)
    for start in range(0, len(q), CHUNK_ROWS):
        scores = q[start : start + CHUNK_ROWS] @ g.T
        for row, sims in enumerate(scores):
            rel = np.asarray(relevant[start + row], dtype=np.int64)
            best = sims[rel].max()
            mask = np.ones(len(g), dtype=bool)
            mask[rel] = False
            out[start + row] = 1 + int(np.count_nonzero(sims[mask] >= best))
    return out


def per_query(rank: NDArray[np.integer], ks: Sequence[int] = KS) -> dict[str, NDArray[np.float64]]:
    """Per-query values whose means are the metrics: ``recall@k`` hits (0/1) and reciprocal ranks."""
    rank = np.asarray(rank)
    values = {f"recall@{k}": (rank <= k).astype(np.float64) for k in ks}
    values["mrr"] = 1.0 / rank.astype(np.float64)
    return values


def linear_cka(x: NDArray[np.floating], y: NDArray[np.floating]) -> float:
    """Linear CKA of two representations of the same rows: ``||Yc'Xc||_F^2 / (||Xc'Xc||_F ||Yc'Yc||_F)``
    with ``Xc``, ``Yc`` the column-centred matrices. 1 for spaces equal up to rotation and scale."""
    xc = np.asarray(x, dtype=np.float64) - np.mean(x, axis=0)
    yc = np.asarray(y, dtype=np.float64) - np.mean(y, axis=0)
    cross = np.linalg.norm(yc.T @ xc) ** 2
    denom = np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc)
    return float(cross / denom) if denom > 0 else float("nan")


def procrustes(old: NDArray[np.floating], new: NDArray[np.floating]) -> NDArray[np.float64]:
    """The orthogonal ``W`` minimising ``||old W − new||_F`` (equal dimensions)."""
    u, _, vt = np.linalg.svd(np.asarray(old, np.float64).T @ np.asarray(new, np.float64), full_matrices=False)
    return u @ vt


def least_squares(old: NDArray[np.floating], new: NDArray[np.floating]) -> NDArray[np.float64]:
    """The ``W`` minimising ``||old W − new||_F`` (minimum-norm solution)."""
    return np.linalg.lstsq(np.asarray(old, np.float64), np.asarray(new, np.float64), rcond=None)[0]


def ridge(old: NDArray[np.floating], new: NDArray[np.floating], penalty: float) -> NDArray[np.float64]:
    """``W = (old'old + penalty·I)^-1 old'new``."""
    x, y = np.asarray(old, np.float64), np.asarray(new, np.float64)
    return np.linalg.solve(x.T @ x + penalty * np.eye(x.shape[1]), x.T @ y)


@dataclass(frozen=True)
class AffineMap:
    """``x ↦ (x − old_mean) W + new_mean``: a linear map between the centred spaces."""

    weights: NDArray[np.float64]
    old_mean: NDArray[np.float64]
    new_mean: NDArray[np.float64]

    def apply(self, old: NDArray[np.floating]) -> NDArray[np.float64]:
        return (np.asarray(old, np.float64) - self.old_mean) @ self.weights + self.new_mean


def fit_map(
    method: str, old: NDArray[np.floating], new: NDArray[np.floating], penalty: float = 0.0
) -> AffineMap:
    """Fit ``method`` (``procrustes``, ``least-squares`` or ``ridge``) between the two spaces centred
    on the fitting rows' means (both means are part of the map)."""
    x, y = np.asarray(old, np.float64), np.asarray(new, np.float64)
    mx, my = x.mean(axis=0), y.mean(axis=0)
    solve = {"procrustes": procrustes, "least-squares": least_squares}
    w = ridge(x - mx, y - my, penalty) if method == "ridge" else solve[method](x - mx, y - my)
    return AffineMap(w, mx, my)


@dataclass(frozen=True)
class Split:
    """Held-out split of the queries for the learned maps (indices into the query rows)."""

    train: NDArray[np.int64]
    validation: NDArray[np.int64]
    test: NDArray[np.int64]
    seed: int

    def fit_rows(self, relevant: Sequence[Sequence[int]], queries: NDArray[np.int64]) -> NDArray[np.int64]:
        """Gallery rows relevant to ``queries`` and to no test query (what a map may be fitted on)."""
        test_items = {int(j) for i in self.test for j in relevant[i]}
        rows = {int(j) for i in queries for j in relevant[i]} - test_items
        return np.array(sorted(rows), dtype=np.int64)


def split_queries(n: int, *, test_fraction: float, validation_fraction: float, seed: int) -> Split:
    """A seeded split of ``n`` queries into train / validation / test (disjoint, all non-empty when
    ``n >= 3``); the validation part comes out of the training share."""
    order = make_rng(seed).permutation(n)
    n_test = min(n - 2, max(1, round(n * test_fraction))) if n >= 3 else 0
    rest = order[n_test:]
    n_val = min(len(rest) - 1, max(1, round(len(rest) * validation_fraction))) if len(rest) >= 2 else 0
    return Split(
        train=np.sort(rest[n_val:]),
        validation=np.sort(rest[:n_val]),
        test=np.sort(order[:n_test]),
        seed=seed,
    )


@dataclass
class Bootstrap:
    """Shared resampled query indices: every metric and difference uses the same replicates."""

    n: int
    n_boot: int
    level: float
    seed: int
    _idx: NDArray[np.int64] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._idx = make_rng(self.seed).integers(0, max(self.n, 1), size=(self.n_boot, max(self.n, 1)))

    def replicates(self, values: NDArray[np.floating]) -> NDArray[np.float64]:
        """Bootstrap replicates of the mean of per-query ``values`` (length ``n``)."""
        return np.asarray(values, dtype=np.float64)[self._idx].mean(axis=1)

    def estimate(self, values: NDArray[np.floating]) -> dict[str, Any]:
        """Mean of ``values`` with its interval."""
        values = np.asarray(values, dtype=np.float64)
        return {
            "value": float(values.mean()),
            "ci": _ci(percentile_interval(self.replicates(values), self.level)),
        }

    def ratio(self, numerator: NDArray[np.floating], denominator: NDArray[np.floating]) -> dict[str, Any]:
        """mean(numerator) / mean(denominator) with its interval (undefined when the denominator is 0)."""
        den = float(np.mean(denominator))
        value = float(np.mean(numerator)) / den if den > 0 else None
        with np.errstate(divide="ignore", invalid="ignore"):
            reps = self.replicates(numerator) / self.replicates(denominator)
        reps[~np.isfinite(reps)] = np.nan
        return {
            "value": value,
            "ci": _ci(percentile_interval(reps, self.level)) if value is not None else None,
        }


def _ci(interval: tuple[float, float] | None) -> list[float] | None:
    return None if interval is None else [float(interval[0]), float(interval[1])]


def _metrics(boot: Bootstrap, values: dict[str, NDArray[np.float64]]) -> dict[str, Any]:
    return {name: boot.estimate(v) for name, v in values.items()}


def _verdict(difference: dict[str, Any], share: dict[str, Any] | None, same_dims: bool) -> dict[str, Any]:
    criterion = (
        f"recall@1: compatible when the interval of new→old minus old→old does not lie below 0 (BCT);"
        f" incompatible when the interval of new→old / old→old lies below {PARTLY_MIN_SHARE:g}; else partly"
    )
    if not same_dims:
        return {
            "label": "incompatible",
            "reason": "the two models' embeddings have different dimensions: new queries cannot search the"
            " old gallery without a map",
            "criterion": criterion,
        }
    ci = difference.get("ci")
    upper = ci[1] if ci is not None else difference["value"]
    if upper >= 0:
        return {
            "label": "compatible",
            "reason": "new queries find the old gallery's items as well as old queries do (recall@1)",
            "criterion": criterion,
        }
    share_ci = share.get("ci") if share else None
    share_upper = share_ci[1] if share_ci is not None else (share or {}).get("value")
    if share_upper is None or share_upper < PARTLY_MIN_SHARE:
        return {
            "label": "incompatible",
            "reason": f"new queries keep less than {PARTLY_MIN_SHARE:.0%} of old→old recall@1"
            " on the old gallery",
            "criterion": criterion,
        }
    return {
        "label": "partly",
        "reason": "new queries find part of what old queries find in the old gallery, less than old→old",
        "criterion": criterion,
    }


def _map_block(
    name: str,
    mapping: AffineMap,
    new_q: NDArray[np.float64],
    old_g: NDArray[np.float64],
    relevant: Sequence[Sequence[int]],
    test: NDArray[np.int64],
    boot: Bootstrap,
    new_new: dict[str, NDArray[np.float64]],
    extra: dict[str, Any],
) -> dict[str, Any]:
    values = per_query(ranks(new_q[test], mapping.apply(old_g), [relevant[i] for i in test]))
    return {
        "method": name,
        **extra,
        "retrieval": _metrics(boot, values),
        "recovery": boot.ratio(values["recall@1"], new_new["recall@1"]),
    }


def _choose_penalty(
    old_q: NDArray[np.float64],
    new_q: NDArray[np.float64],
    old_g: NDArray[np.float64],
    new_g: NDArray[np.float64],
    relevant: Sequence[Sequence[int]],
    split: Split,
) -> tuple[float, list[dict[str, float]]]:
    """The ridge penalty with the best validation recall@1 (then MRR; ties: the larger penalty)."""
    fit_q = split.train
    rows = split.fit_rows(relevant, fit_q)
    x = np.vstack([old_q[fit_q], old_g[rows]])
    y = np.vstack([new_q[fit_q], new_g[rows]])
    scale = float(np.mean(np.sum(x * x, axis=1))) * len(x)
    tried = []
    for factor in RIDGE_GRID:
        mapping = fit_map("ridge", x, y, factor * scale)
        rel = [relevant[i] for i in split.validation]
        values = per_query(ranks(new_q[split.validation], mapping.apply(old_g), rel))
        tried.append(
            {
                "penalty": factor * scale,
                "factor": factor,
                "recall@1": float(values["recall@1"].mean()),
                "mrr": float(values["mrr"].mean()),
            }
        )
    best = max(tried, key=lambda t: (t["recall@1"], t["mrr"], t["factor"]))
    return best["factor"], tried


def compare_spaces(
    old_queries: NDArray[np.floating],
    old_gallery: NDArray[np.floating],
    new_queries: NDArray[np.floating],
    new_gallery: NDArray[np.floating],
    relevant: Sequence[Sequence[int]],
    *,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
    maps: bool = True,
    test_fraction: float = 0.5,
    validation_fraction: float = 0.25,
) -> dict[str, Any]:
    """The representation-compatibility section of two embedding spaces (see the module's docstring).

    Parameters
    ----------
    old_queries, old_gallery, new_queries, new_gallery:
        Embeddings of the same query texts and the same gallery texts by the old and the new model.
    relevant:
        Per query, the gallery rows relevant to it (at least one each).
    n_boot, level, seed:
        Paired bootstrap over queries: replicates, confidence level, seed.
    maps:
        Fit and evaluate the learned maps (needs at least 10 queries).
    test_fraction, validation_fraction:
        Share of the queries held out for evaluating the maps, and share of the rest used to choose
        the ridge penalty.

    Returns
    -------
    dict
        JSON-ready: ``retrieval`` (per direction), ``differences``, ``cka``, ``maps``, ``verdict``.
    """
    oq, og, nq, ng = (normalize(m) for m in (old_queries, old_gallery, new_queries, new_gallery))
    n = len(oq)
    if not (len(nq) == n and len(og) == len(ng)):
        raise ValueError("the old and new embeddings must have the same rows")
    if n == 0 or len(og) == 0:
        raise ValueError("no queries or no gallery items")
    same_dims = oq.shape[1] == nq.shape[1]
    boot = Bootstrap(n=n, n_boot=n_boot, level=level, seed=seed)
    values = {"old->old": per_query(ranks(oq, og, relevant)), "new->new": per_query(ranks(nq, ng, relevant))}
    if same_dims:
        values["new->old"] = per_query(ranks(nq, og, relevant))
        values["old->new"] = per_query(ranks(oq, ng, relevant))
    retrieval = {d: _metrics(boot, values[d]) if d in values else None for d in DIRECTIONS}
    differences: dict[str, Any] = {}
    pairs = [("new->new", "old->old")]
    if same_dims:
        pairs = [("new->old", "old->old"), *pairs, ("old->new", "old->old")]
    for a, b in pairs:
        differences[f"{a} - {b}"] = {m: boot.estimate(values[a][m] - values[b][m]) for m in values[a]}
    share = boot.ratio(values["new->old"]["recall@1"], values["old->old"]["recall@1"]) if same_dims else None
    verdict = _verdict(differences.get("new->old - old->old", {}).get("recall@1", {}), share, same_dims)
    verdict["cross_share_of_old"] = share
    return {
        "n_queries": n,
        "n_gallery": len(og),
        "n_relevant": int(sum(len(r) for r in relevant)),
        "dims": {"old": int(oq.shape[1]), "new": int(nq.shape[1])},
        "settings": {
            "ks": list(KS),
            "n_boot": n_boot,
            "confidence_level": level,
            "seed": seed,
            "ci_method": BOOTSTRAP,
            "resampled": "queries (one shared set of replicates for every metric and difference)",
            "ties": "count against the query",
            "similarity": "cosine",
        },
        "retrieval": retrieval,
        "differences": differences,
        "cka": {"linear": linear_cka(og, ng), "on": "gallery", "n": len(og)},
        "maps": _maps(oq, og, nq, ng, relevant, n_boot, level, seed, test_fraction, validation_fraction)
        if maps
        else None,
        "verdict": verdict,
    }


def _maps(
    oq: NDArray[np.float64],
    og: NDArray[np.float64],
    nq: NDArray[np.float64],
    ng: NDArray[np.float64],
    relevant: Sequence[Sequence[int]],
    n_boot: int,
    level: float,
    seed: int,
    test_fraction: float,
    validation_fraction: float,
) -> dict[str, Any] | None:
    """Learned maps old → new, fitted on the training queries and evaluated on the held-out ones."""
    n = len(oq)
    if n < 10:
        return None
    split = split_queries(n, test_fraction=test_fraction, validation_fraction=validation_fraction, seed=seed)
    test = split.test
    boot = Bootstrap(n=len(test), n_boot=n_boot, level=level, seed=seed + 1)
    test_rel = [relevant[i] for i in test]
    new_new = per_query(ranks(nq[test], ng, test_rel))
    old_old = per_query(ranks(oq[test], og, test_rel))
    blocks: dict[str, Any] = {
        "new->new": _metrics(boot, new_new),
        "old->old": _metrics(boot, old_old),
        "new->old": None,
    }
    if oq.shape[1] == nq.shape[1]:
        blocks["new->old"] = _metrics(boot, per_query(ranks(nq[test], og, test_rel)))
    train_q = np.concatenate([split.train, split.validation])
    rows = split.fit_rows(relevant, train_q)
    x = np.vstack([oq[train_q], og[rows]])
    y = np.vstack([nq[train_q], ng[rows]])
    if oq.shape[1] == nq.shape[1]:
        first = _map_block(
            "procrustes", fit_map("procrustes", x, y), nq, og, relevant, test, boot, new_new, {}
        )
    else:
        first = _map_block(
            "least-squares", fit_map("least-squares", x, y), nq, og, relevant, test, boot, new_new, {}
        )
    factor, tried = _choose_penalty(oq, nq, og, ng, relevant, split)
    penalty = factor * float(np.mean(np.sum(x * x, axis=1))) * len(x)
    second = _map_block(
        "ridge",
        fit_map("ridge", x, y, penalty),
        nq,
        og,
        relevant,
        test,
        boot,
        new_new,
        {"penalty": penalty, "penalty_factor": factor, "validation": tried},
    )
    return {
        "split": {
            "seed": split.seed,
            "train_queries": len(split.train),
            "validation_queries": len(split.validation),
            "test_queries": len(test),
            "fit_rows": len(x),
            "fit_gallery_items": len(rows),
            "centred": True,
            "note": "maps are fitted on the training and validation queries and the gallery items relevant"
            " only to them (the penalty is chosen on the validation queries, the map then refitted on"
            " both); evaluated on the held-out test queries searching the whole mapped old gallery",
        },
        "test": blocks,
        "maps": [first, second],
    }
