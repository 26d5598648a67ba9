"""k-means and the silhouette in numpy alone, as scikit-learn computes them.

Importing scikit-learn takes seconds (it imports SciPy's statistics and pandas), several times
the clustering itself in a report of a few hundred changed examples. :func:`kmeans` follows
``sklearn.cluster.KMeans(n_clusters=k, n_init=10, random_state=seed)`` (the default Lloyd
algorithm, scikit-learn 1.x) step by step — the data centred, greedy k-means++ seeding that
draws the same numbers from a ``numpy.random.RandomState``, Lloyd iterations with the same
stopping rule (labels unchanged, or a total squared centre shift within ``1e-4`` × the mean
feature variance), empty clusters moved to the farthest points, and the best start kept by
inertia unless it is the same partition — so it gives the same labels (tested against
scikit-learn); sums may differ from scikit-learn's in the last bits (their BLAS calls are
chunked differently). :func:`silhouette_scores` is the exact mean silhouette (Euclidean);
:func:`silhouette_sample` picks the rows it is computed on when there are too many, as
``sklearn.metrics.silhouette_score(..., sample_size=, random_state=)`` does.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

#: Rows per block of the pairwise distances in :func:`silhouette_scores`.
SILHOUETTE_BLOCK = 1024


def _squared_distances(X: NDArray, Y: NDArray, x_norms: NDArray, y_norms: NDArray) -> NDArray:
    distances = -2.0 * (X @ Y.T)
    distances += x_norms[:, None]
    distances += y_norms[None, :]
    return np.maximum(distances, 0.0, out=distances)


def _kmeans_plusplus(
    X: NDArray, k: int, norms: NDArray, random_state: np.random.RandomState
) -> NDArray[np.float64]:
    n = X.shape[0]
    weights = np.ones(n)
    trials = 2 + int(np.log(k))
    centers = np.empty((k, X.shape[1]))
    first = random_state.choice(n, p=weights / weights.sum())
    centers[0] = X[first]
    closest = _squared_distances(centers[0, None], X, norms[[first]], norms)
    potential = closest @ weights
    for c in range(1, k):
        draws = random_state.uniform(size=trials) * potential
        candidates = np.searchsorted(np.cumsum(weights * closest), draws)
        np.clip(candidates, None, closest.size - 1, out=candidates)
        to_candidates = _squared_distances(X[candidates], X, norms[candidates], norms)
        np.minimum(closest, to_candidates, out=to_candidates)
        potentials = to_candidates @ weights.reshape(-1, 1)
        best = int(np.argmin(potentials))
        potential = potentials[best]
        closest = to_candidates[best]
        centers[c] = X[candidates[best]]
    return centers


def _assign(X: NDArray, centers: NDArray) -> NDArray[np.int64]:
    distances = -2.0 * (X @ centers.T) + np.einsum("ij,ij->i", centers, centers)[None, :]
    return np.argmin(distances, axis=1)


def _cluster_sums(X: NDArray, labels: NDArray[np.int64], k: int) -> tuple[NDArray, NDArray]:
    """Each cluster's sum of rows (added in row order, as scikit-learn does on one thread) and
    size: one ``bincount`` over (cluster, column) cells, which adds its weights in order."""
    d = X.shape[1]
    cells = (labels[:, None] * d + np.arange(d)).ravel()
    sums = np.bincount(cells, weights=X.ravel(), minlength=k * d).reshape(k, d)
    return sums, np.bincount(labels, minlength=k).astype(float)


def _lloyd(
    X: NDArray, centers: NDArray, max_iter: int, tol: float
) -> tuple[NDArray[np.int64], float, NDArray[np.float64]]:
    n, k = X.shape[0], centers.shape[0]
    labels = np.full(n, -1, dtype=np.int64)
    labels_old = labels.copy()
    strict = False
    for _ in range(max_iter):
        labels = _assign(X, centers)
        sums, weight = _cluster_sums(X, labels, k)
        empty = np.flatnonzero(weight == 0)
        if empty.size:
            distances = ((X - centers[labels]) ** 2).sum(axis=1)
            if distances.max() > 0:
                far = np.argpartition(distances, -empty.size)[: -empty.size - 1 : -1]
                for new_id, index in zip(empty.tolist(), far.tolist(), strict=True):
                    old_id = labels[index]
                    sums[old_id] -= X[index]
                    sums[new_id] = X[index]
                    weight[new_id] = 1.0
                    weight[old_id] -= 1.0
        biggest = int(np.argmax(weight))
        filled = weight > 0
        new_centers = np.where(filled[:, None], sums * (1.0 / np.where(filled, weight, 1.0))[:, None], 0.0)
        new_centers[~filled] = new_centers[biggest]
        shift = np.sqrt(((new_centers - centers) ** 2).sum(axis=1))
        centers = new_centers
        if np.array_equal(labels, labels_old):
            strict = True
            break
        if (shift**2).sum() <= tol:
            break
        labels_old = labels
    if not strict:
        labels = _assign(X, centers)
    inertia = float(((X - centers[labels]) ** 2).sum())
    return labels, inertia, centers


def _same_partition(a: NDArray[np.int64], b: NDArray[np.int64], k: int) -> bool:
    mapping = np.full(k, -1, dtype=np.int64)
    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        if mapping[x] == -1:
            mapping[x] = y
        elif mapping[x] != y:
            return False
    return True


def kmeans(
    X: NDArray[np.float64],
    k: int,
    *,
    n_init: int = 10,
    seed: int | None = 0,
    max_iter: int = 300,
    tol: float = 1e-4,
) -> NDArray[np.int64]:
    """Labels of the best of ``n_init`` seeded k-means++ starts (lowest inertia), as
    ``sklearn.cluster.KMeans(k, n_init=n_init, random_state=seed).fit(X).labels_``."""
    return kmeans_fit(X, k, n_init=n_init, seed=seed, max_iter=max_iter, tol=tol)[0]


def kmeans_fit(
    X: NDArray[np.float64],
    k: int,
    *,
    n_init: int = 10,
    seed: int | None = 0,
    max_iter: int = 300,
    tol: float = 1e-4,
) -> tuple[NDArray[np.int64], NDArray[np.float64], float]:
    """:func:`kmeans`' labels with the centres of the kept start (in the coordinates of ``X``,
    as ``KMeans.cluster_centers_``) and its inertia."""
    X = np.array(X, dtype=float)
    random_state = np.random.RandomState(seed) if seed is not None else np.random.mtrand._rand
    mean = X.mean(axis=0)
    X -= mean
    norms = np.einsum("ij,ij->i", X, X)
    threshold = float(np.mean(np.var(X, axis=0)) * tol) if tol else 0.0
    best: tuple[float, NDArray[np.int64], NDArray[np.float64]] | None = None
    for _ in range(n_init):
        start = _kmeans_plusplus(X, k, norms, random_state)
        labels, inertia, centers = _lloyd(X, start, max_iter, threshold)
        if best is None or (inertia < best[0] and not _same_partition(labels, best[1], k)):
            best = (inertia, labels, centers)
    assert best is not None
    return best[1], best[2] + mean, best[0]


def nearest_centre(X: NDArray[np.float64], centers: NDArray[np.float64]) -> NDArray[np.int64]:
    """The index of each row's nearest centre (squared Euclidean distance; the lower index on a
    tie), computed in blocks of rows."""
    X = np.asarray(X, dtype=float)
    squared = np.einsum("ij,ij->i", centers, centers)
    out = np.empty(X.shape[0], dtype=np.int64)
    for start in range(0, X.shape[0], 8192):
        block = X[start : start + 8192]
        out[start : start + block.shape[0]] = np.argmin(squared[None, :] - 2.0 * (block @ centers.T), axis=1)
    return out


def silhouette_sample(n: int, size: int, seed: int | None) -> NDArray[np.int64] | None:
    """The rows a silhouette of ``n`` rows is computed on: None (all of them) up to ``size``
    rows, else a uniform sample of ``size`` drawn as ``sklearn.metrics.silhouette_score``
    draws it (``RandomState(seed).permutation(n)[:size]``; the global state for None)."""
    if n <= size:
        return None
    random_state = np.random.RandomState(seed) if seed is not None else np.random.mtrand._rand
    return random_state.permutation(n)[:size]


def silhouette_scores(X: NDArray[np.float64], labelings: list[NDArray[np.int64]]) -> list[float]:
    """The mean silhouette (Euclidean) of each labeling of the rows of ``X``, from one pass
    over the pairwise distances (in blocks of :data:`SILHOUETTE_BLOCK` rows). A point alone in
    its cluster scores 0, as in ``sklearn.metrics.silhouette_score``; every labeling needs at
    least 2 clusters."""
    X = np.asarray(X, dtype=float)
    n = X.shape[0]
    norms = np.einsum("ij,ij->i", X, X)
    encoded = []
    onehots = []
    for labels in labelings:
        classes, codes = np.unique(labels, return_inverse=True)
        codes = codes.ravel()
        encoded.append((codes, np.bincount(codes).astype(float), classes.size))
        onehot = np.zeros((n, classes.size))
        onehot[np.arange(n), codes] = 1.0
        onehots.append(onehot)
    sums = [np.zeros((n, size)) for _, _, size in encoded]
    for start in range(0, n, SILHOUETTE_BLOCK):
        stop = min(start + SILHOUETTE_BLOCK, n)
        distances = _squared_distances(X[start:stop], X, norms[start:stop], norms)
        rows = np.arange(stop - start)
        distances[rows, rows + start] = 0.0
        np.sqrt(distances, out=distances)
        for onehot, total in zip(onehots, sums, strict=True):
            total[start:stop] = distances @ onehot
    scores = []
    for (codes, freqs, _), total in zip(encoded, sums, strict=True):
        rows = np.arange(n)
        intra = total[rows, codes] / np.maximum(freqs[codes] - 1, 1)
        mean_other = total / freqs[None, :]
        mean_other[rows, codes] = np.inf
        inter = mean_other.min(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            values = (inter - intra) / np.maximum(intra, inter)
        values = np.where(freqs[codes] > 1, np.nan_to_num(values), 0.0)
        scores.append(float(values.mean()))
    return scores
