"""The change analysis's own TF-IDF, term counts, k-means and silhouette give scikit-learn's
results (which the analysis used before, at seconds of import time per command)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS as SKLEARN_STOP_WORDS
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.metrics import silhouette_score

from deltaeval.analysis.kmeans import kmeans, silhouette_scores
from deltaeval.analysis.vectorize import (
    ENGLISH_STOP_WORDS,
    TERM_PATTERN,
    WORD_PATTERN,
    count_matrix,
    is_term,
    term_counts,
    tfidf_matrix,
    words,
)

TEXTS = [
    "The cat sat on the mat. The cat!",
    "the cat sat on the mat. the cat!",  # the same words after lower-casing
    "It's 2 o'clock_now -- __init__ x1 1x a_b, e.g. U.S.A.",
    "Café, naïve Straße; ÉCLAIR año 2024 cat_s catalogue abc1 ² ½ Ⅻ déjà-vu",
    "日本語のテキスト と 中文 文本, русский текст, ελληνικά",
    "",
    "   \n\t  ",
    "!!! ??? ...",
    "The cat sat on the mat. The cat!",  # a duplicate
    "İstanbul ǅemal ﬁne Ⅷ x²y",
    "Tab\tseparated\nlines\r\nand   spaces",
    "\u200bzero\u200bwidth and soft\u00adhyphen",
]


def test_tokens_are_the_regular_expressions() -> None:
    for text in TEXTS:
        assert words(text) == re.findall(WORD_PATTERN, text.lower()), text
        assert [w for w in words(text) if is_term(w)] == re.findall(TERM_PATTERN, text.lower()), text


def test_stop_words_are_scikit_learns() -> None:
    assert ENGLISH_STOP_WORDS == SKLEARN_STOP_WORDS


def test_tfidf_matrix_is_scikit_learns() -> None:
    rng = np.random.default_rng(0)
    vocab = ["alpha", "beta", "gamma", "delta", "x", "y2", "año", "z_z"]
    generated = [" ".join(rng.choice(vocab, size=rng.integers(0, 30))) for _ in range(60)]
    texts = TEXTS + generated + generated[:10]
    expected = TfidfVectorizer(sublinear_tf=True, token_pattern=WORD_PATTERN, lowercase=True).fit_transform(
        texts
    )
    got = tfidf_matrix(texts)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got.toarray(), expected.toarray(), rtol=0, atol=1e-15)


def test_tfidf_matrix_without_words() -> None:
    got = tfidf_matrix(["", "!!", "  "])
    assert got.shape == (3, 1) and got.nnz == 0


@pytest.mark.parametrize("binary", [True, False])
def test_term_counts_are_scikit_learns(binary: bool) -> None:
    texts = [*TEXTS, "the theory of the catalogue: catalogue, catalogue"]
    vectorizer = CountVectorizer(token_pattern=TERM_PATTERN, stop_words="english", binary=binary)
    expected = vectorizer.fit_transform(texts)
    counts, names, inverse = count_matrix(texts)
    got, terms = term_counts(counts, names, stop_words=ENGLISH_STOP_WORDS, binary=binary)
    assert terms == vectorizer.get_feature_names_out().tolist()
    np.testing.assert_array_equal(got[inverse].toarray(), expected.toarray())


def _unit(X: np.ndarray) -> np.ndarray:
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _datasets() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    blobs = np.vstack([rng.normal(loc=c, scale=0.6, size=(40, 5)) for c in (-2.0, 0.0, 2.5)])
    flat = _unit(rng.normal(size=(161, 60)))  # weak structure, like real changed outputs
    duplicates = _unit(np.vstack([rng.normal(size=(30, 8))] * 2 + [rng.normal(size=(5, 8))]))
    big = _unit(rng.normal(size=(900, 20)) + np.repeat(rng.normal(size=(3, 20)), 300, axis=0))
    return [blobs, flat, duplicates, big]


@pytest.mark.parametrize("case", range(4))
def test_kmeans_gives_scikit_learns_labels(case: int) -> None:
    X = _datasets()[case]
    for k in range(2, 7):
        for seed in (0, 3):
            expected = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(X).labels_
            np.testing.assert_array_equal(kmeans(X, k, seed=seed), expected)


def test_silhouettes_are_scikit_learns() -> None:
    for X in _datasets():
        labelings = [KMeans(n_clusters=k, n_init=10, random_state=0).fit(X).labels_ for k in (2, 3, 5)]
        singleton = np.zeros(X.shape[0], dtype=np.int64)
        singleton[0] = 1  # a cluster of one point scores 0
        labelings.append(singleton)
        got = silhouette_scores(X, labelings)
        expected = [silhouette_score(X, labels) for labels in labelings]
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
