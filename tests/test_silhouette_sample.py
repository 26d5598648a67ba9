"""Silhouettes of many clustered rows on a seeded sample, as scikit-learn's
``silhouette_score(..., sample_size=, random_state=)`` computes them; the sample stated in the
report; the TF-IDF method's label."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import silhouette_score

from deltaeval.analysis.changes import SILHOUETTE_SAMPLE, change_stats, choose_clusters
from deltaeval.analysis.kmeans import kmeans, silhouette_sample, silhouette_scores
from deltaeval.report._behaviour import changes_line


def _blobs(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4, 12)) * 2.0
    X = centres[rng.integers(0, 4, size=n)] + rng.normal(size=(n, 12))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def test_sample_is_scikit_learns() -> None:
    assert silhouette_sample(SILHOUETTE_SAMPLE, SILHOUETTE_SAMPLE, 0) is None
    picked = silhouette_sample(2_500, SILHOUETTE_SAMPLE, 3)
    assert picked is not None and picked.size == SILHOUETTE_SAMPLE and np.unique(picked).size == picked.size
    np.testing.assert_array_equal(picked, np.random.RandomState(3).permutation(2_500)[:SILHOUETTE_SAMPLE])


@pytest.mark.parametrize("seed", [0, 5])
def test_many_rows_sampled_silhouettes_equal_scikit_learns(seed: int) -> None:
    X = _blobs(2_600)
    labels, k, scores = choose_clusters(X, k_range=(2, 5), seed=seed)
    assert set(scores) == {2, 3, 4, 5} and k in scores
    for kk, score in scores.items():
        fitted = kmeans(X, kk, n_init=10, seed=seed)  # k-means itself on all rows
        expected = silhouette_score(X, fitted, sample_size=SILHOUETTE_SAMPLE, random_state=seed)
        assert score == pytest.approx(expected, rel=0, abs=1e-12)
    np.testing.assert_array_equal(labels, kmeans(X, k, n_init=10, seed=seed))


def test_few_rows_silhouettes_are_exact() -> None:
    X = _blobs(SILHOUETTE_SAMPLE)
    _, _, scores = choose_clusters(X, k_range=(2, 3), seed=0)
    exact = silhouette_scores(X, [kmeans(X, k, n_init=10, seed=0) for k in (2, 3)])
    assert [scores[2], scores[3]] == exact


def _texts(n: int) -> tuple[list[str], list[str]]:
    words = ["alpha", "beta", "gamma", "delta", "omega", "sigma"]
    old = [f"{words[i % 6]} answer number {i} says {words[(i * 7) % 6]}" for i in range(n)]
    new = [f"{words[(i + 1) % 6]} reply {words[(i * 5) % 6]} changed {i}" for i in range(n)]
    return old, new


def test_report_states_the_sample_past_the_limit() -> None:
    n = SILHOUETTE_SAMPLE + 100
    rng = np.random.default_rng(1)
    V_old, V_new = _blobs(n, 1), _blobs(n, 2) + 0.1 * rng.normal(size=(n, 12))
    old, new = _texts(n)
    result = change_stats(
        [str(i) for i in range(n)], old, new, old_vectors=V_old, new_vectors=V_new, fraction=1.0
    )
    data = result.to_dict()
    assert data["n_changed"] == n and data["silhouette_sample"] == SILHOUETTE_SAMPLE
    assert data["silhouettes"] and "k by silhouette on a sample of 2,000" in changes_line(data)


def test_report_says_nothing_below_the_limit_and_names_the_tfidf() -> None:
    old, new = _texts(300)
    data = change_stats([str(i) for i in range(300)], old, new).to_dict()
    assert data["silhouette_sample"] is None and "sample" not in changes_line(data)
    assert data["model"] == "TF-IDF (sublinear tf, smooth idf, l2)"
    assert "scikit-learn" not in changes_line(data)
