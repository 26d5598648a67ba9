"""Clusters of the inputs as slice candidates: "inputs about "python, function, code"".

The inputs' vectors are, by default, their TF-IDF rows over their terms (words of three or more
letters, English stop words left out; sublinear term frequency, smoothed IDF,
:mod:`deltaeval.analysis.vectorize`) reduced by an exact truncated SVD to at most
:data:`LSA_DIMENSIONS` unit-length dimensions (LSA); or the caller's precomputed embeddings
(e.g. MiniLM), each row scaled to unit length. Past :data:`SVD_SAMPLE` inputs, the SVD's
directions come from a seeded sample of that many. k-means (:mod:`deltaeval.analysis.kmeans`,
scikit-learn's algorithm, 10 seeded starts) cuts them into :func:`cluster_count` clusters; past
:data:`FIT_SAMPLE` inputs it runs on a seeded uniform sample of that many and the other inputs
join their nearest centre. Each cluster is named by its :data:`TERMS` most distinctive terms by
class-based TF-IDF (each cluster's inputs one document; words of three or more letters, English
stop words left out, a term counted once per input and listed only when two of the cluster's
inputs use it). Nothing here looks at the outcome, so the clusters are candidates like any other
(atoms that join no conjunction, :data:`JOINS`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from deltaeval.analysis.slice_discovery import Atom
from deltaeval.errors import InputError

#: Dimensions of the TF-IDF rows after the truncated SVD.
LSA_DIMENSIONS = 50
#: Fewest and most clusters (:func:`cluster_count`).
MIN_CLUSTERS, MAX_CLUSTERS = 4, 16
#: Terms that name a cluster.
TERMS = 3
#: Past this many inputs, k-means is fitted on a seeded sample of this many.
FIT_SAMPLE = 5000
#: Past this many inputs, the SVD is fitted on a seeded sample of this many (its exact SVD, from
#: the sample's Gram matrix) and every input projected on its directions: on 20,000 AlpacaEval
#: texts 0.3 CPU-s, where ARPACK's SVD of all of them takes 4.7.
SVD_SAMPLE = 1000
#: The feature name of the cluster atoms.
FEATURE = "input_cluster"
#: Whether the cluster atoms join pairwise conjunctions. They do not: on the AlpacaEval bench
#: (``bench/slices.py --seeds 200``) their ~150 conjunctions took recall from 91 to 84 of 200
#: seeds (7 lost, none won; exact McNemar p = 0.016), the null rate 0–1% either way.
JOINS = False


def cluster_count(n: int) -> int:
    """Clusters of ``n`` inputs: sqrt(n / 10), rounded, within [4, 16] — 9 at 805 inputs
    (clusters of ~90 on average), 16 from ~2,400 on (clusters of 150 and more).

    >>> [cluster_count(n) for n in (100, 805, 5000, 20000)]
    [4, 9, 16, 16]
    """
    return min(MAX_CLUSTERS, max(MIN_CLUSTERS, round(math.sqrt(n / 10))))


@dataclass(frozen=True)
class InputClusters:
    """Each input's cluster (``labels``, 0 … k−1, the largest cluster first), each cluster's
    terms, and the vectors clustered (``"tfidf-lsa"`` or ``"precomputed"``)."""

    labels: NDArray[np.int64]
    terms: list[tuple[str, ...]]
    vectors: str

    @property
    def k(self) -> int:
        return len(self.terms)


def _lsa(tfidf: Any, seed: int) -> NDArray[np.float64]:
    """Unit-length LSA rows of the TF-IDF rows: their projections on the top
    :data:`LSA_DIMENSIONS` right singular vectors of all the rows, or of a seeded sample of
    :data:`SVD_SAMPLE` rows past that many."""
    from deltaeval.analysis.changes import _gram_svd, _reduce, _unit, cluster_sample

    rows = cluster_sample(tfidf.shape[0], SVD_SAMPLE, seed)
    if min(tfidf.shape) <= 2:
        return _unit(tfidf.toarray())
    if rows is None:
        return _reduce(tfidf, seed, LSA_DIMENSIONS)
    sample = tfidf[rows]
    components = min(LSA_DIMENSIONS, sample.shape[0] - 1, sample.shape[1] - 1)
    projections = _gram_svd(sample, components)  # U S of the sample, U's signs fixed
    squares = np.einsum("ij,ij->j", projections, projections)  # S², 0 for a null component
    # V = X_sᵀ U S⁻¹ = X_sᵀ (U S) / S²; every row's projection is X V
    directions = np.asarray(sample.T @ projections) / np.where(squares > 0, squares, 1.0)
    return _unit(np.asarray(tfidf @ directions))


def _kmeans_labels(X: NDArray[np.float64], k: int, seed: int) -> NDArray[np.int64]:
    """k-means labels of every row, fitted on a seeded sample past :data:`FIT_SAMPLE` rows."""
    from threadpoolctl import threadpool_limits

    from deltaeval.analysis.changes import cluster_sample
    from deltaeval.analysis.kmeans import kmeans_fit, nearest_centre

    rows = cluster_sample(X.shape[0], FIT_SAMPLE, seed)
    fit = X if rows is None else X[rows]
    # small products: the BLAS pool's start-up costs more than the work
    with threadpool_limits(1):
        labels, centres, _ = kmeans_fit(fit, k, n_init=10, seed=seed)
        if rows is None:
            return labels
        out = nearest_centre(X, centres)
    out[rows] = labels
    return out


def input_clusters(
    texts: Sequence[str], *, vectors: ArrayLike | None = None, k: int | None = None, seed: int = 0
) -> InputClusters:
    """Cluster the inputs (module docstring); ``k`` defaults to :func:`cluster_count`, and is at
    most the number of distinct vectors (one cluster when all inputs look alike)."""
    from deltaeval.analysis.changes import _class_terms, _term_matrix
    from deltaeval.analysis.vectorize import count_matrix, tfidf_from_counts

    n = len(texts)
    counts, names, inverse = count_matrix([t or "" for t in texts])
    term_rows, term_names = _term_matrix(counts, names, "english", False)
    if vectors is None:
        tfidf = tfidf_from_counts(term_rows, inverse)
        X = _lsa(tfidf, seed)
        kind = "tfidf-lsa"
    else:
        X = np.asarray(vectors, dtype=float)
        if X.ndim != 2 or X.shape[0] != n or not np.isfinite(X).all():
            raise InputError(
                f"input vectors of shape {X.shape} for {n} inputs",
                hint="give one finite embedding row per input, in the inputs' order",
            )
        from deltaeval.analysis.changes import _unit

        X = _unit(X)
        kind = "precomputed"
    want = cluster_count(n) if k is None else k
    if want < 1:
        raise InputError(f"k = {want} clusters", hint="give k >= 1")
    distinct = len(np.unique(X.round(12), axis=0)) if n else 0
    want = min(want, distinct)
    labels = _kmeans_labels(X, want, seed) if want > 1 else np.zeros(n, dtype=np.int64)
    # number the clusters by size, the largest first (then by first member)
    sizes = np.bincount(labels, minlength=want)
    present = [c for c in range(want) if sizes[c]]
    first = {c: int(np.flatnonzero(labels == c)[0]) for c in present}
    order = sorted(present, key=lambda c: (-sizes[c], first[c]))
    renumber = np.zeros(want, dtype=np.int64)
    renumber[order] = np.arange(len(order))
    labels = renumber[labels]
    term_rows.data = np.ones_like(term_rows.data)  # a term counts once per input
    terms = _class_terms(term_rows[inverse], term_names, labels, TERMS, 2)
    return InputClusters(labels, [tuple(t for t, _ in terms.get(c, ())) for c in range(len(order))], kind)


def describe(terms: Sequence[str], number: int, k: int) -> str:
    """A cluster's description: ``inputs about "python, function, code" (cluster 3 of 12)``."""
    where = f"(cluster {number} of {k})"
    return f'inputs about "{", ".join(terms)}" {where}' if terms else f"inputs of {where[1:-1]}"


def cluster_atoms(clusters: InputClusters) -> list[Atom]:
    """One atom per cluster (feature :data:`FEATURE`, disjoint: every input is in one; joining
    conjunctions as :data:`JOINS` says)."""
    atoms = []
    for c in range(clusters.k):
        text = describe(clusters.terms[c], c + 1, clusters.k)
        atoms.append(Atom(FEATURE, text, clusters.labels == c, category=text, joins=JOINS))
    return atoms
