"""How two datasets' inputs differ: pure maths on arrays (no files, no models, no printing).

- :func:`feature_differences`: per input feature, the difference in share (Newcombe's hybrid
  score interval from two Wilson intervals) or in mean (Welch, normal interval), BH over features.
- :func:`cluster_shares`: per k-means cluster of the pooled inputs, its share in old and new.
- :func:`classifier_test`: cross-fitted classifiers telling old from new: a ridge discriminant's
  held-out AUROC with an exact permutation test, and a logistic regression's held-out
  probabilities of being new (accuracy against the majority rate, importance weights).
- :func:`mmd_test`: the unbiased MMD² between the two sets of vectors, Gaussian kernel with the
  median heuristic, permutation p-value.
- :func:`importance_weighted_accuracy`: a run's accuracy on the old inputs reweighted to the new
  inputs' distribution, with weights from the classifier's held-out probabilities.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from deltaeval.exact import normal_quantile
from deltaeval.stats import benjamini_hochberg, make_rng, percentile_interval, placements

#: Folds of the cross-fitted classifier.
FOLDS = 5
#: The L2 penalty of the logistic regression (on standardised columns; the intercept is free).
L2_PENALTY = 1.0
#: Importance weights are clipped at this value (after scaling by n_old / n_new) before they are
#: self-normalised.
WEIGHT_CLIP = 20.0
#: A cluster whose share in the old data is below this counts as "appeared" when it grew (and
#: "vanished" with the sides swapped).
APPEARED_BELOW = 0.01


def _norm_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def wilson_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of ``k / n`` (``(0, 1)`` when ``n`` is 0)."""
    if n == 0:
        return (0.0, 1.0)
    z = normal_quantile(1.0 - (1.0 - level) / 2.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def newcombe_difference(k1: int, n1: int, k2: int, n2: int, level: float = 0.95) -> tuple[float, float]:
    """Newcombe's hybrid score interval (method 10) of ``k2/n2 − k1/n1``, two independent samples."""
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson_interval(k1, n1, level)
    l2, u2 = wilson_interval(k2, n2, level)
    d = p2 - p1
    low = d - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)
    high = d + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
    return (max(-1.0, low), min(1.0, high))


def two_proportion_p(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided p-value of the pooled two-proportion z-test (1 when both shares are 0 or 1)."""
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    return min(1.0, 2.0 * _norm_sf(abs(k2 / n2 - k1 / n1) / se))


def share_difference(old: NDArray[np.bool_], new: NDArray[np.bool_], level: float) -> dict[str, Any]:
    """Shares of a flag in old and new, the difference new − old with its Newcombe interval, p."""
    k1, n1, k2, n2 = int(old.sum()), old.size, int(new.sum()), new.size
    return {
        "kind": "share",
        "old": k1 / n1,
        "new": k2 / n2,
        "difference": k2 / n2 - k1 / n1,
        "ci": list(newcombe_difference(k1, n1, k2, n2, level)),
        "ci_method": "newcombe-wilson",
        "p_value": two_proportion_p(k1, n1, k2, n2),
        "p_method": "two-proportion z",
    }


def rank_sum_p(old: NDArray[np.float64], new: NDArray[np.float64]) -> float:
    """Two-sided p-value of the Mann–Whitney test (normal approximation, ties corrected)."""
    n1, n0 = new.size, old.size
    n = n1 + n0
    if n1 == 0 or n0 == 0:
        return 1.0
    u = float(placements(new, old).sum()) * n0
    _, ties = np.unique(np.concatenate([old, new]), return_counts=True)
    tie_term = float((ties.astype(float) ** 3 - ties).sum()) / (n * (n - 1)) if n > 1 else 0.0
    var = n1 * n0 / 12.0 * ((n + 1) - tie_term)
    if var <= 0:
        return 1.0
    return min(1.0, 2.0 * _norm_sf(abs(u - n1 * n0 / 2.0) / math.sqrt(var)))


def mean_difference(old: NDArray[np.float64], new: NDArray[np.float64], level: float) -> dict[str, Any]:
    """Means in old and new, the difference new − old with a Welch normal interval; the p-value
    of the Mann–Whitney test (robust to the long tails of lengths)."""
    m1, m2 = float(old.mean()), float(new.mean())
    se = (
        math.sqrt(old.var(ddof=1) / old.size + new.var(ddof=1) / new.size)
        if min(old.size, new.size) > 1
        else 0
    )
    z = normal_quantile(1.0 - (1.0 - level) / 2.0)
    d = m2 - m1
    return {
        "kind": "mean",
        "old": m1,
        "new": m2,
        "difference": d,
        "ci": [d - z * se, d + z * se],
        "ci_method": "welch-normal",
        "p_value": rank_sum_p(old, new),
        "p_method": "mann-whitney",
    }


def feature_differences(
    features: dict[str, tuple[str, NDArray]], is_new: NDArray[np.bool_], level: float = 0.95
) -> list[dict[str, Any]]:
    """Each feature's difference between old and new (``features``: name → (label, values);
    boolean values are compared as shares, numeric ones as means), BH-adjusted over all of them,
    the significant ones first, by q-value, then the rest by the size of the standardised difference."""
    rows = []
    for name, (label, values) in features.items():
        old, new = values[~is_new], values[is_new]
        if values.dtype == bool:
            row = share_difference(old, new, level)
        else:
            row = mean_difference(old.astype(float), new.astype(float), level)
        sd = float(np.std(values.astype(float)))
        row.update(name=name, label=label, standardised=row["difference"] / sd if sd > 0 else 0.0)
        rows.append(row)
    q = benjamini_hochberg([r["p_value"] for r in rows]) if rows else []
    for row, qv in zip(rows, q, strict=True):
        row["q_value"] = float(qv)
        row["significant"] = bool(qv < 1.0 - level)
    rows.sort(
        key=lambda r: (
            not r["significant"],
            r["q_value"] if r["significant"] else 0.0,
            -abs(r["standardised"]),
        )
    )
    return rows


def cluster_shares(
    labels: NDArray[np.int64],
    is_new: NDArray[np.bool_],
    names: Sequence[str],
    level: float = 0.95,
) -> list[dict[str, Any]]:
    """Per cluster: its counts and shares in old and new, the difference with its Newcombe
    interval, BH q-values over the clusters, and a status: grew, shrank, appeared (old share under
    :data:`APPEARED_BELOW` and grew), vanished, or same."""
    n1, n2 = int((~is_new).sum()), int(is_new.sum())
    rows = []
    for c, name in enumerate(names):
        member = labels == c
        row = share_difference(member[~is_new], member[is_new], level)
        row.update(cluster=c, label=name, old_count=int((member & ~is_new).sum()))
        row["new_count"] = int((member & is_new).sum())
        rows.append(row)
    q = benjamini_hochberg([r["p_value"] for r in rows]) if rows else []
    for row, qv in zip(rows, q, strict=True):
        row["q_value"] = float(qv)
        significant = qv < 1.0 - level
        if not significant:
            row["status"] = "same"
        elif row["difference"] > 0:
            row["status"] = "appeared" if row["old"] < APPEARED_BELOW else "grew"
        else:
            row["status"] = "vanished" if row["new"] < APPEARED_BELOW else "shrank"
    del n1, n2
    rows.sort(key=lambda r: (r["status"] == "same", -abs(r["difference"]), r["cluster"]))
    return rows


def _sigmoid(eta: NDArray[np.float64]) -> NDArray[np.float64]:
    """The logistic function, without overflow."""
    return 0.5 * (1.0 + np.tanh(0.5 * eta))


def _standardise(X: NDArray[np.float64]) -> NDArray[np.float64]:
    X = np.asarray(X, dtype=float)
    sd = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


def fit_logistic(
    X: NDArray[np.float64], y: NDArray[np.float64], penalty: float = L2_PENALTY, iterations: int = 50
) -> NDArray[np.float64]:
    """Coefficients (intercept first) of an L2-penalised logistic regression by Newton's method."""
    n, d = X.shape
    A = np.hstack([np.ones((n, 1)), X])
    beta = np.zeros(d + 1)
    prior = min(max(y.mean(), 1e-6), 1 - 1e-6)
    beta[0] = math.log(prior / (1 - prior))
    ridge = np.full(d + 1, penalty)
    ridge[0] = 0.0
    for _ in range(iterations):
        eta = A @ beta
        p = _sigmoid(eta)
        grad = A.T @ (p - y) + ridge * beta
        hess = (A * (p * (1 - p))[:, None]).T @ A + np.diag(ridge) + 1e-9 * np.eye(d + 1)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return beta


def delong_auroc(scores: NDArray[np.float64], y: NDArray[np.bool_]) -> tuple[float, float]:
    """AUROC of ``scores`` for ``y`` and DeLong's (unpaired) variance of it."""
    pos, neg = scores[y], scores[~y]
    v10 = placements(pos, neg)
    v01 = 1.0 - placements(neg, pos)
    var = v10.var(ddof=1) / pos.size + v01.var(ddof=1) / neg.size if min(pos.size, neg.size) > 1 else 0.0
    return float(v10.mean()), float(var)


def cross_fitted_logits(
    X: NDArray[np.float64], y: NDArray[np.float64], fold: NDArray[np.int64], penalty: float
) -> NDArray[np.float64]:
    """Each row's logit of being new from the model fitted on the other folds."""
    logit = np.empty(y.size)
    for f in range(int(fold.max()) + 1):
        test = fold == f
        beta = fit_logistic(X[~test], y[~test], penalty)
        logit[test] = beta[0] + X[test] @ beta[1:]
    return logit


def log_loss(logit: NDArray[np.float64], y: NDArray[np.bool_]) -> float:
    """Mean negative log-likelihood of labels ``y`` under logits ``logit`` (computed stably)."""
    signed = np.where(y, logit, -logit)
    return float(np.mean(np.logaddexp(0.0, -signed)))


def random_folds(n: int, folds: int, rng: np.random.Generator) -> NDArray[np.int64]:
    """A fold number for each of ``n`` rows, drawn without looking at the labels (so a permutation
    of the labels leaves the folds as valid as they were)."""
    fold = np.empty(n, dtype=np.int64)
    fold[rng.permutation(n)] = np.arange(n) % folds
    return fold


def ridge_maps(
    X: NDArray[np.float64], fold: NDArray[np.int64], penalty: float
) -> list[tuple[NDArray[np.float64], NDArray[np.float64]]]:
    """Per fold, ``(A_test, P)`` such that the held-out rows' ridge scores (least squares of the 0/1
    label on ``X`` with a free intercept and an L2 penalty, fitted on the other folds) of any
    labelling ``y`` are ``A_test @ (P @ y[fold != f])``: linear in the labels (memory: rows × columns)."""
    A = np.hstack([np.ones((X.shape[0], 1)), X])
    ridge = np.full(A.shape[1], penalty)
    ridge[0] = 1e-9
    maps = []
    for f in range(int(fold.max()) + 1):
        train, test = fold != f, fold == f
        gram = A[train].T @ A[train] + np.diag(ridge)
        maps.append((A[test], np.linalg.solve(gram, A[train].T)))
    return maps


def _fold_u(scores: NDArray[np.float64], labels: NDArray[np.bool_]) -> tuple[NDArray, NDArray]:
    """Mann–Whitney U of each column of ``scores`` (positives: ``labels``; ties share their mean
    rank) and n_pos·n_neg."""
    from scipy.stats import rankdata

    ranks = rankdata(np.round(scores, 12), axis=0)
    n1 = labels.sum(axis=0).astype(float)
    n0 = labels.shape[0] - n1
    return (ranks * labels).sum(axis=0) - n1 * (n1 + 1) / 2.0, n1 * n0


def classifier_test(
    X: NDArray[np.float64],
    is_new: NDArray[np.bool_],
    *,
    seed: int | None = 0,
    level: float = 0.95,
    permutations: int = 500,
) -> dict[str, Any]:
    """Can a classifier tell new inputs from old ones? Cross-fitted over :data:`FOLDS` folds.

    - The test: a ridge discriminant (least squares of the label, penalty :data:`L2_PENALTY`) is
      fitted on the other folds and scores each held-out row; the statistic is the held-out AUROC
      within folds (the folds' Mann–Whitney U summed over their n_new·n_old). Its p-value is a
      permutation test that refits every fold for every permutation of the labels (the held-out
      scores are linear in the labels, so a refit is one product), hence exact at any n:
      ``(1 + #{permuted ≥ observed}) / (1 + permutations)``. DeLong's interval per fold, the folds
      taken as independent, gives the AUROC's interval.
    - The probabilities: an L2 logistic regression (same penalty, same folds) gives each row's
      held-out probability of being new (``probabilities``: the importance weights and the most
      distinguishing examples), and the held-out accuracy at 0.5 with its Clopper–Pearson interval
      against the majority rate (one-sided binomial test; approximate, the folds share data).
    """
    from deltaeval.exact import binomial_sf
    from deltaeval.stats import proportion_ci

    y = is_new.astype(float)
    X = _standardise(X)
    rng = make_rng(seed)
    fold = random_folds(y.size, FOLDS, rng)
    maps = ridge_maps(X, fold, L2_PENALTY)
    tests = [fold == f for f in range(FOLDS)]

    def statistic(labels: NDArray[np.bool_]) -> NDArray[np.float64]:
        u_total = np.zeros(labels.shape[1])
        pairs = np.zeros(labels.shape[1])
        for test, m in zip(tests, maps, strict=True):
            scores = m[0] @ (m[1] @ labels[~test].astype(float))
            u, n = _fold_u(scores, labels[test])
            u_total += u
            pairs += n
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(pairs > 0, u_total / np.maximum(pairs, 1.0), 0.5)

    observed = float(statistic(is_new[:, None])[0])
    exceed = done = 0
    while done < permutations:
        batch = min(100, permutations - done)
        labels = np.stack([rng.permutation(is_new) for _ in range(batch)], axis=1)
        exceed += int((statistic(labels) >= observed - 1e-12).sum())
        done += batch
    fold_auc = []  # (n1·n0, AUROC, DeLong variance) of the ridge scores per fold
    for test, m in zip(tests, maps, strict=True):
        yt = is_new[test]
        if yt.any() and not yt.all():
            fold_auc.append(
                (float(yt.sum() * (~yt).sum()), *delong_auroc(np.round(m[0] @ (m[1] @ y[~test]), 12), yt))
            )
    weights = np.array([w for w, _, _ in fold_auc], dtype=float)
    var = float(np.dot(weights**2, [v for _, _, v in fold_auc]) / weights.sum() ** 2) if fold_auc else 0.0
    half = normal_quantile(1.0 - (1.0 - level) / 2.0) * math.sqrt(var)

    logit = cross_fitted_logits(X, y, fold, L2_PENALTY)
    prob = _sigmoid(logit)
    correct = int(((prob > 0.5) == is_new).sum())
    n = int(is_new.size)
    majority = max(float(y.mean()), 1.0 - float(y.mean()))
    acc_ci = proportion_ci(correct, n, level)
    return {
        "probabilities": prob,
        "folds": FOLDS,
        "penalty": L2_PENALTY,
        "auroc": {
            "value": observed,
            "ci": [max(0.0, observed - half), min(1.0, observed + half)],
            "ci_method": "delong, within folds",
        },
        "p_value": (1 + exceed) / (1 + permutations),
        "p_method": "permutation (every fold refitted), one-sided: AUROC > chance",
        "permutations": permutations,
        "accuracy": {
            "value": correct / n,
            "ci": list(acc_ci) if acc_ci else None,
            "ci_method": "clopper-pearson",
            "majority_rate": majority,
            "p_value": float(binomial_sf(correct, n, majority)) if n else 1.0,
            "p_method": "binomial test of held-out accuracy against the majority rate (one-sided)",
        },
        "log_loss": log_loss(logit, is_new),
    }


def median_bandwidth(Z: NDArray[np.float64], rng: np.random.Generator, sample: int = 1000) -> float:
    """The median pairwise Euclidean distance of (a sample of) the rows of ``Z``."""
    idx = rng.choice(Z.shape[0], size=min(sample, Z.shape[0]), replace=False)
    S = Z[np.sort(idx)]
    sq = np.einsum("ij,ij->i", S, S)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * S @ S.T, 0.0)
    iu = np.triu_indices(S.shape[0], 1)
    med = float(np.median(np.sqrt(d2[iu]))) if iu[0].size else 0.0
    return med if med > 0 else 1.0


def _unbiased_mmd2(K0: NDArray[np.float64], A: NDArray[np.float64]) -> NDArray[np.float64]:
    """Unbiased MMD² for each column of the 0/1 indicator matrix ``A`` (1 = new) given the kernel
    matrix ``K0`` with a zero diagonal."""
    B = 1.0 - A
    m = A.sum(axis=0)
    n = B.sum(axis=0)
    KA = K0 @ A
    KB = K0 @ B
    yy = np.einsum("ij,ij->j", A, KA) / (m * (m - 1))
    xx = np.einsum("ij,ij->j", B, KB) / (n * (n - 1))
    xy = np.einsum("ij,ij->j", B, KA) / (m * n)
    return xx + yy - 2.0 * xy


def mmd_test(
    Z: NDArray[np.float64],
    is_new: NDArray[np.bool_],
    *,
    permutations: int = 500,
    seed: int | None = 0,
    max_rows: int = 4000,
) -> dict[str, Any]:
    """Unbiased MMD² of old vs new rows of ``Z`` (Gaussian kernel, bandwidth the median pairwise
    distance) with a permutation p-value ``(1 + #{perm ≥ observed}) / (1 + permutations)``.

    Above ``max_rows`` rows a seeded uniform sample of rows is used (stated in the result).
    """
    rng = make_rng(seed)
    Z = np.asarray(Z, dtype=float)
    rows = np.arange(Z.shape[0])
    if Z.shape[0] > max_rows:
        rows = np.sort(rng.choice(Z.shape[0], size=max_rows, replace=False))
    Z, lab = Z[rows], is_new[rows]
    if lab.sum() < 2 or (~lab).sum() < 2:
        return {"mmd2": None, "p_value": None, "permutations": 0, "rows": int(rows.size)}
    bandwidth = median_bandwidth(Z, rng)
    sq = np.einsum("ij,ij->i", Z, Z)
    K = np.exp(-np.maximum(sq[:, None] + sq[None, :] - 2.0 * Z @ Z.T, 0.0) / (2.0 * bandwidth**2))
    np.fill_diagonal(K, 0.0)
    observed = float(_unbiased_mmd2(K, lab.astype(float)[:, None])[0])
    exceed = 0
    done = 0
    while done < permutations:
        batch = min(100, permutations - done)
        A = np.stack([rng.permutation(lab) for _ in range(batch)], axis=1).astype(float)
        exceed += int((_unbiased_mmd2(K, A) >= observed - 1e-12).sum())
        done += batch
    return {
        "mmd2": observed,
        "bandwidth": bandwidth,
        "kernel": "gaussian, bandwidth = median pairwise distance",
        "p_value": (1 + exceed) / (1 + permutations),
        "p_method": "permutation",
        "permutations": permutations,
        "rows": int(rows.size),
    }


def importance_weights(
    prob_new: NDArray[np.float64], n_old: int, n_new: int, clip: float = WEIGHT_CLIP
) -> NDArray:
    """``w = p(new|x) / p(old|x) · n_old / n_new``, clipped at ``clip``."""
    p = np.clip(prob_new, 1e-12, 1 - 1e-12)
    return np.minimum(p / (1 - p) * (n_old / n_new), clip)


#: How the reweighted accuracy's interval is made (the weights' own uncertainty is left out).
FIXED_WEIGHTS_BOOTSTRAP = (
    "percentile bootstrap of the old examples, weights held fixed (classifier not refitted)"
)


def importance_weighted_accuracy(
    correct: NDArray[np.bool_],
    weights: NDArray[np.float64],
    *,
    n_boot: int = 2000,
    seed: int | None = 0,
    level: float = 0.95,
) -> dict[str, Any]:
    """Self-normalised weighted accuracy ``Σ w c / Σ w`` of a run on the old inputs, with a
    percentile bootstrap interval (old examples resampled, weights kept), the effective sample
    size ``(Σw)² / Σw²``, the plain accuracy and the shift ``weighted − plain`` with its interval.

    The weights are held fixed in the resamples (the classifier that made them is not refitted),
    so the intervals leave out the classifier's own uncertainty; ``ci_method`` says so."""
    from deltaeval.stats import proportion_ci

    c = correct.astype(float)
    w = np.asarray(weights, dtype=float)
    n = c.size
    est = float((w * c).sum() / w.sum())
    plain = float(c.mean())
    rng = make_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    wb, cb = w[idx], c[idx]
    with np.errstate(invalid="ignore", divide="ignore"):
        boots = (wb * cb).sum(axis=1) / wb.sum(axis=1)
    shift = boots - cb.mean(axis=1)
    plain_ci = proportion_ci(int(c.sum()), n, level)
    return {
        "old_accuracy": {
            "value": plain,
            "ci": list(plain_ci) if plain_ci else None,
            "ci_method": "clopper-pearson",
        },
        "reweighted_accuracy": {
            "value": est,
            "ci": _ci(percentile_interval(boots, level)),
            "ci_method": FIXED_WEIGHTS_BOOTSTRAP,
        },
        "data_shift": {
            "value": est - plain,
            "ci": _ci(percentile_interval(shift, level)),
            "ci_method": FIXED_WEIGHTS_BOOTSTRAP,
        },
        "effective_sample_size": float(w.sum() ** 2 / (w * w).sum()),
        "n": n,
        "clip": WEIGHT_CLIP,
        "clipped": int((w >= WEIGHT_CLIP).sum()),
    }


def _ci(interval: Any) -> list[float] | None:
    return [float(interval[0]), float(interval[1])] if interval else None
