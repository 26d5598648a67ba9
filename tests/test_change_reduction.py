"""The change analysis reduces TF-IDF rows by an exact truncated SVD computed from the rows' Gram
matrix: the same projections as a dense SVD, the same clusters as the randomized
``TruncatedSVD`` it replaced where that one is accurate, and k-means on one thread gives the
thread pool's labels."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from threadpoolctl import threadpool_limits

from deltaeval.analysis import changes
from deltaeval.analysis.changes import (
    _gram_svd,
    _reduce,
    _represent_sparse,
    _unit,
    choose_clusters,
    tfidf_vectors,
)

VOCAB = {
    "cooking": "oven flour butter sugar whisk dough bake recipe simmer roast",
    "travel": "flight hotel passport luggage beach museum train ticket map tour",
    "finance": "budget savings interest loan invest stock bond tax pension credit",
    "refusal": "sorry cannot unable assist request policy apologise decline help comply",
}
SHARED = ["the", "a", "and", "of", "to", "is", "in", "it", "this", "for", "with", "you"]
#: Rare words, so that the vocabulary outnumbers the outputs (the case the Gram route serves).
FILLER = [f"rare{i:03d}" for i in range(300)]


def fixed_texts(n_per_topic: int = 25, seed: int = 3) -> list[str]:
    """Outputs from four topics (a clear cluster structure), reproducible."""
    rng = np.random.default_rng(seed)
    texts = []
    for words in VOCAB.values():
        topic = words.split()
        for _ in range(n_per_topic):
            picked = [*rng.choice(topic, size=12), *rng.choice(SHARED, size=8), *rng.choice(FILLER, size=2)]
            rng.shuffle(picked)
            texts.append(" ".join(picked))
    return texts


def fixed_pairs() -> tuple[object, object]:
    texts = fixed_texts()
    X = tfidf_vectors(texts + texts[::-1])
    half = len(texts)
    return X[:half], X[half:]


def test_gram_svd_is_the_exact_truncated_svd() -> None:
    old, new = fixed_pairs()
    X = _represent_sparse(old, new, "pair")
    dense = X.toarray()
    U, S, _ = np.linalg.svd(dense, full_matrices=False)
    for components in (2, 10, 40):
        got = _gram_svd(X, components)
        expected = U[:, :components] * S[:components]
        signs = np.sign(np.sum(got * expected, axis=0))  # a component's sign is arbitrary
        np.testing.assert_allclose(got, expected * signs, atol=1e-9)
        # the same as scikit-learn's exact (ARPACK) truncated SVD, up to sign
        arpack = TruncatedSVD(n_components=components, algorithm="arpack", random_state=0).fit_transform(X)
        np.testing.assert_allclose(np.abs(got), np.abs(arpack), atol=1e-7)


def test_gram_svd_sign_is_fixed() -> None:
    old, _ = fixed_pairs()
    got = _gram_svd(old, 5)
    top = got[np.argmax(np.abs(got), axis=0), np.arange(5)]
    assert np.all(top > 0)


# Dimensions up to the spectral gap of each representation, where the randomized SVD (5 power
# iterations) is accurate; past it, it is an approximation of what the Gram route computes exactly.
@pytest.mark.parametrize(
    ("representation", "dimensions"), [("pair", 4), ("new", 4), ("old", 4), ("difference", 2)]
)
def test_same_clusters_as_the_randomized_svd(representation: str, dimensions: int) -> None:
    old, new = fixed_pairs()
    X = _represent_sparse(old, new, representation)
    assert X.shape[0] < X.shape[1] and X.shape[0] <= changes.GRAM_MAX_ROWS  # the Gram route
    before = _unit(TruncatedSVD(n_components=dimensions, random_state=0).fit_transform(X))
    after = _reduce(X, 0, dimensions=dimensions)
    # the same geometry (up to sign and rotation): identical cosine similarities of the rows
    np.testing.assert_allclose(after @ after.T, before @ before.T, atol=1e-4)
    labels_before, k_before, sil_before = choose_clusters(before, seed=0)
    labels_after, k_after, sil_after = choose_clusters(after, seed=0)
    assert k_after == k_before
    assert sil_after == pytest.approx(sil_before, abs=1e-4)
    # the same partition (cluster numbers may differ)
    pairs = set(zip(labels_before.tolist(), labels_after.tolist(), strict=True))
    assert len(pairs) == k_before


def _dense_projections(X: object, components: int) -> np.ndarray:
    U, S, _ = np.linalg.svd(X.toarray(), full_matrices=False)  # type: ignore[attr-defined]
    return U[:, :components] * S[:components]


def _same_up_to_sign(got: np.ndarray, expected: np.ndarray, atol: float) -> None:
    signs = np.sign(np.sum(got * expected, axis=0))  # a component's sign is arbitrary
    np.testing.assert_allclose(got, expected * signs, atol=atol)
    top = got[np.argmax(np.abs(got), axis=0), np.arange(got.shape[1])]
    assert np.all(top > 0)  # the sign rule: each component's largest entry is positive


def test_reduce_is_exact_beyond_the_row_gram_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    # Thousands of rows and words (the limit lowered here): ARPACK's truncated SVD, not the
    # randomized one, so that the projections are the exact ones.
    old, new = fixed_pairs()
    X = _represent_sparse(old, new, "new")
    monkeypatch.setattr(changes, "GRAM_MAX_ROWS", 10)
    assert X.shape[0] > 10 and X.shape[1] > 10
    _same_up_to_sign(changes._lanczos_svd(X, 8, 0), _dense_projections(X, 8), atol=1e-9)
    beyond = _reduce(X, 0, dimensions=8)
    np.testing.assert_allclose(np.abs(beyond), np.abs(_unit(_dense_projections(X, 8))), atol=1e-9)


def test_reduce_uses_the_column_gram_for_a_small_vocabulary() -> None:
    # Many outputs in few words (more rows than columns): exact from the columns' Gram matrix.
    from scipy.sparse import csr_matrix

    rng = np.random.default_rng(1)
    X = csr_matrix(rng.poisson(0.7, size=(400, 30)).astype(float))
    assert X.shape[0] > X.shape[1]
    got = changes._column_gram_svd(X, 12)
    _same_up_to_sign(got, _dense_projections(X, 12), atol=1e-9)
    np.testing.assert_allclose(_reduce(X, 0, dimensions=12), _unit(got))


def test_single_thread_kmeans_gives_the_thread_pools_labels() -> None:
    rng = np.random.default_rng(0)
    X = _unit(rng.normal(size=(150, 40)))
    labels, k, _ = choose_clusters(X, seed=0)
    pooled = KMeans(n_clusters=k, n_init=10, random_state=0).fit(X).labels_
    with threadpool_limits(1):
        single = KMeans(n_clusters=k, n_init=10, random_state=0).fit(X).labels_
    np.testing.assert_array_equal(labels, pooled)
    np.testing.assert_array_equal(single, pooled)


def test_equal_rows_stay_equal() -> None:
    # Duplicated outputs: their reduced rows must be equal, so that choose_clusters counts the
    # distinct rows right (components of singular value ~0 would otherwise add rounding noise).
    old, _ = fixed_pairs()
    from scipy.sparse import vstack

    X = vstack([old[:30], old[:30], old[:10]]).tocsr()
    reduced = _reduce(X, 0)
    np.testing.assert_allclose(reduced[:30], reduced[30:60], atol=1e-12)
    assert len(np.unique(reduced.round(12), axis=0)) == 30
