"""Where two runs' outputs changed most, and what the biggest changes have in common.

Input: the old and the new run's output texts, paired by example, and optionally an embedding
of every output (unit-length vectors, e.g. MiniLM from :mod:`deltaeval.behaviour.embedding`).

1. **Similarity** of the old and the new output of each example: the cosine of their
   embeddings (``method="minilm"``), or without embeddings the cosine of their TF-IDF vectors
   (``method="tfidf"``: sublinear term frequency, fitted on both runs' outputs; a lexical
   measure that sees a reworded answer as changed).
2. **The most changed** examples: the lowest ``fraction`` by similarity, or those below a
   ``threshold``; outputs that are the same on both sides (similarity ≥ 0.9999) never count.
3. **Clusters** of the most changed examples, by their outputs' vectors (by default the old and
   the new vector side by side, so a cluster groups pairs that changed alike; TF-IDF vectors
   are first reduced by truncated SVD, computed exactly from the rows' Gram matrix when there
   are fewer rows than words): k-means (seeded, 10 starts) for each k in a small range,
   keeping the k of the best silhouette. Past :data:`CLUSTER_SAMPLE` most-changed examples,
   k-means runs on a seeded uniform sample of that many and the others join their nearest
   centre (``clustered_sample``); sizes, terms and examples count every member.
4. **Terms** of each cluster, separately for its old and its new outputs, by class-based TF-IDF
   (c-TF-IDF): the outputs of a cluster form one document, the unchanged examples' outputs one
   more (the background), and a term's weight in a cluster is

       tf(t, c) × log(1 + A / f(t))

   with tf(t, c) the term's count in the cluster over the cluster's total count, A the mean
   total count of the documents (clusters and background) and f(t) the term's count over all
   of them. A term counts once per output that uses it (so a word repeated all through one
   long answer does not outweigh one that many answers share). Words are runs of three or more
   letters of any script ("específica" stays whole), lower-cased, English stop words left out;
   a term is listed only when at least two outputs of its cluster use it (one output's odd
   word, or a garbled one, says nothing about the cluster).

Nothing here reads files, calls models or prints; every result has a JSON-ready ``to_dict``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from deltaeval.errors import InputError
from deltaeval.jsonable import clean as _clean
from deltaeval.plural import plural

#: Similarity at or above which two outputs count as unchanged.
SAME = 0.9999
#: Words for the c-TF-IDF terms: three or more letters of any script (shorter words are mostly
#: function words in languages without a stop-word list: "el", "es", "de").
PREVIEW_CHARS = 300

Representation = Literal["pair", "new", "old", "difference"]


@dataclass(frozen=True)
class ChangeCluster:
    """One group of much-changed examples.

    ``example_ids`` are sorted from the most changed (lowest similarity); ``median_words_*``
    are the median lengths of its old and new outputs in words (whitespace-separated);
    ``terms_old`` and ``terms_new`` are the cluster's most distinctive terms among the old and
    the new outputs, with their c-TF-IDF weights; ``examples`` show the members nearest the
    cluster's centre.
    """

    label: int
    size: int
    mean_similarity: float
    median_words_old: float
    median_words_new: float
    example_ids: tuple[str, ...]
    terms_old: tuple[tuple[str, float], ...]
    terms_new: tuple[tuple[str, float], ...]
    examples: tuple[dict[str, Any], ...] = ()
    description: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return _clean(
            {
                "label": self.label,
                "size": self.size,
                "mean_similarity": self.mean_similarity,
                "median_words_old": self.median_words_old,
                "median_words_new": self.median_words_new,
                "terms_old": [{"term": t, "weight": w} for t, w in self.terms_old],
                "terms_new": [{"term": t, "weight": w} for t, w in self.terms_new],
                "description": self.description,
                "example_ids": list(self.example_ids),
                "examples": [dict(e) for e in self.examples],
            }
        )


@dataclass(frozen=True)
class ChangeStats:
    """Result of :func:`change_stats`.

    ``similarity[i]`` belongs to ``ids[i]`` (None where an output is missing); ``cutoff`` is
    the similarity at or below which an example counted as most changed; ``silhouettes`` holds
    the silhouette of every k tried, computed on a seeded uniform sample of
    ``silhouette_sample`` of the clustered rows (None: on all of them); ``clustered_sample`` is
    the number of rows k-means was fitted on when the others were assigned to their nearest
    centre (None: fitted on all of them).
    """

    method: str
    model: str | None
    ids: tuple[str, ...]
    similarity: tuple[float | None, ...]
    n: int
    n_missing: int
    n_same: int
    mean_similarity: float | None
    quantiles: dict[str, float | None]
    selection: str
    cutoff: float | None
    changed_ids: tuple[str, ...]
    representation: str
    k: int
    silhouettes: dict[int, float | None]
    clusters: tuple[ChangeCluster, ...]
    seed: int | None
    notes: tuple[str, ...] = field(default=())
    silhouette_sample: int | None = None
    clustered_sample: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return _clean(
            {
                "method": self.method,
                "model": self.model,
                "n": self.n,
                "n_missing": self.n_missing,
                "n_same": self.n_same,
                "mean_similarity": self.mean_similarity,
                "quantiles": dict(self.quantiles),
                "selection": self.selection,
                "cutoff": self.cutoff,
                "n_changed": len(self.changed_ids),
                "changed_ids": list(self.changed_ids),
                "representation": self.representation,
                "k": self.k,
                "silhouettes": {str(k): v for k, v in self.silhouettes.items()},
                "silhouette_sample": self.silhouette_sample,
                "clustered_sample": self.clustered_sample,
                "clusters": [c.to_dict() for c in self.clusters],
                "seed": self.seed,
                "similarity": [
                    {"id": i, "similarity": s} for i, s in zip(self.ids, self.similarity, strict=True)
                ],
                "notes": list(self.notes),
            }
        )


# ---------------------------------------------------------------------------------------------
# c-TF-IDF


def class_tfidf(counts: ArrayLike) -> NDArray[np.float64]:
    """Class-based TF-IDF weights of a (classes × terms) count matrix.

    ``weight[c, t] = counts[c, t] / words(c) × log(1 + A / f(t))`` where ``words(c)`` is row
    c's total, ``A`` the mean row total and ``f(t)`` column t's total. A class without words
    and a term that never occurs get 0.

    >>> class_tfidf([[2, 0], [1, 1]]).round(4).tolist()
    [[0.5108, 0.0], [0.2554, 0.5493]]
    """
    C = np.asarray(counts, dtype=float)
    if C.ndim != 2:
        raise InputError("class_tfidf needs a (classes x terms) matrix of counts")
    words = C.sum(axis=1, keepdims=True)
    totals = C.sum(axis=0)
    mean_words = float(words.mean()) if words.size else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        tf = np.where(words > 0, C / words, 0.0)
        idf = np.where(totals > 0, np.log1p(mean_words / totals), 0.0)
    return tf * idf


def cluster_terms(
    texts: Sequence[str],
    labels: ArrayLike,
    *,
    top_n: int = 8,
    stop_words: str | Sequence[str] | None = "english",
    binary: bool = True,
    min_outputs: int = 2,
) -> dict[int, tuple[tuple[str, float], ...]]:
    """The ``top_n`` most distinctive terms of each label's texts, by :func:`class_tfidf`.

    Every label (a negative one too, e.g. -1 for a background) is one class; all its texts
    form one document. With ``binary`` (the default) a term counts once per text that uses
    it; without, every occurrence counts. Terms are words of three or more letters of any
    script (:data:`TERM_PATTERN`), lower-cased, without ``stop_words``; a class lists only the
    terms that at least ``min_outputs`` of its texts use (all of them when it has fewer),
    highest weight first (ties by term). Returns label → ((term, weight), …).
    """
    from deltaeval.analysis.vectorize import count_matrix

    labels = np.asarray(labels)
    if len(texts) != labels.size:
        raise InputError(f"{len(texts)} texts for {labels.size} labels", hint="give one label per text")
    words, names, inverse = count_matrix(texts)
    X, terms = _term_matrix(words, names, stop_words, binary)
    return _class_terms(X[inverse], terms, labels, top_n, min_outputs)


def _term_matrix(
    words: Any, names: list[str], stop_words: str | Sequence[str] | None, binary: bool
) -> tuple[Any, list[str]]:
    """The term columns of a matrix of word counts (:func:`cluster_terms`' terms)."""
    from deltaeval.analysis.vectorize import ENGLISH_STOP_WORDS, term_counts

    if isinstance(stop_words, str):
        if stop_words != "english":
            raise InputError(f"unknown stop-word list {stop_words!r}", hint="use 'english' or a word list")
        stops = ENGLISH_STOP_WORDS
    else:
        stops = frozenset(stop_words or ())
    return term_counts(words, names, stop_words=stops, binary=binary)


def _class_terms(
    X: Any, terms: list[str], labels: NDArray, top_n: int, min_outputs: int
) -> dict[int, tuple[tuple[str, float], ...]]:
    """:func:`cluster_terms` from the texts' term counts ``X`` (one row per text)."""
    classes = sorted({int(x) for x in labels.tolist()})
    empty: dict[int, tuple[tuple[str, float], ...]] = {c: () for c in classes}
    if not classes or not terms:  # no term at all
        return empty
    counts = np.vstack([np.asarray(X[labels == c].sum(axis=0)).ravel() for c in classes])
    users = np.vstack([np.asarray((X[labels == c] > 0).sum(axis=0)).ravel() for c in classes])
    weights = class_tfidf(counts)
    out = {}
    for row, c in enumerate(classes):
        needed = max(1, min(min_outputs, int(np.sum(labels == c))))
        present = np.flatnonzero((counts[row] > 0) & (users[row] >= needed))
        order = sorted(present.tolist(), key=lambda j: (-weights[row, j], terms[j]))[:top_n]
        out[c] = tuple((terms[j], float(weights[row, j])) for j in order)
    return out


# ---------------------------------------------------------------------------------------------
# Similarity and clustering


def tfidf_vectors(texts: Sequence[str]) -> Any:
    """L2-normalised TF-IDF rows (sparse) of ``texts``, fitted on them: sublinear term
    frequency, smoothed IDF, lower-cased words of one or more letters or digits (the rows of
    scikit-learn's ``TfidfVectorizer(sublinear_tf=True)``, computed by
    :func:`deltaeval.analysis.vectorize.tfidf_matrix`)."""
    from deltaeval.analysis.vectorize import tfidf_matrix

    return tfidf_matrix(list(texts))


def lexical_similarity(old: Sequence[str], new: Sequence[str]) -> NDArray[np.float64]:
    """TF-IDF cosine of each (old, new) pair, the vectorizer fitted on both lists; two texts
    without words count as the same (1), one without words as unrelated (0).

    >>> lexical_similarity(["a cat sat", "hello"], ["a cat sat", "bye"]).round(3).tolist()
    [1.0, 0.0]
    """
    if len(old) != len(new):
        raise InputError(f"{len(old)} old texts for {len(new)} new ones")
    X = tfidf_vectors(list(old) + list(new))
    return _sparse_pair_cosine(X[: len(old)], X[len(old) :])


def _sparse_pair_cosine(A: Any, B: Any) -> NDArray[np.float64]:
    dots = np.asarray(A.multiply(B).sum(axis=1)).ravel()
    norm_a = np.sqrt(np.asarray(A.multiply(A).sum(axis=1)).ravel())
    norm_b = np.sqrt(np.asarray(B.multiply(B).sum(axis=1)).ravel())
    out = np.zeros(len(dots))
    both = (norm_a > 0) & (norm_b > 0)
    out[both] = dots[both] / (norm_a[both] * norm_b[both])
    out[(norm_a == 0) & (norm_b == 0)] = 1.0
    return np.clip(out, -1.0, 1.0)


def cosine_similarity_rows(old: ArrayLike, new: ArrayLike) -> NDArray[np.float64]:
    """Cosine of each row of ``old`` with the same row of ``new`` (NaN where a row has NaN or
    is zero)."""
    A = np.asarray(old, dtype=float)
    B = np.asarray(new, dtype=float)
    if A.shape != B.shape or A.ndim != 2:
        raise InputError(
            f"old vectors {A.shape} and new vectors {B.shape} differ", hint="one row per example"
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (A * B).sum(axis=1) / (np.linalg.norm(A, axis=1) * np.linalg.norm(B, axis=1))
    return np.clip(out, -1.0, 1.0)


def choose_clusters(
    X: ArrayLike, *, k_range: tuple[int, int] = (2, 6), seed: int | None = 0
) -> tuple[NDArray[np.int64], int, dict[int, float | None]]:
    """k-means for every k in ``k_range`` (inclusive, only k < rows), keeping the k with the
    best silhouette (the smaller k on a tie). Returns (labels, k, silhouette per k tried);
    fewer than 3 rows, or rows all alike, give one cluster.

    Each k keeps the best of 10 seeded k-means++ starts: on real outputs the silhouettes are
    often near 0 and fewer starts change which k wins. k-means and the silhouettes are
    :mod:`deltaeval.analysis.kmeans` (scikit-learn's algorithm and labels, without importing
    scikit-learn); the silhouettes of every k come from one pass over the pairwise distances.
    Past :data:`SILHOUETTE_SAMPLE` rows, they are computed on one seeded uniform sample of that
    many rows, the same for every k (``silhouette_score(..., sample_size=, random_state=seed)``).
    Past :data:`CLUSTER_SAMPLE` rows, k-means (every k, every start) runs on one seeded uniform
    sample of that many rows (:func:`cluster_sample`, the same for every k), and every other row
    joins its nearest centre; the silhouettes then score the labels of all rows.
    """
    X = np.asarray(X, dtype=float)
    if X.size > SINGLE_THREAD_CELLS:
        return _choose_clusters(X, k_range, seed)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # small products: the BLAS pool's start-up costs more than the work
        return _choose_clusters(X, k_range, seed)


#: Largest matrix (rows x dimensions) that :func:`choose_clusters` clusters on one BLAS thread.
SINGLE_THREAD_CELLS = 2_000_000
#: Past this many clustered rows, each k's silhouette is computed on one seeded uniform sample of
#: this many of them (the same rows for every k; k-means itself runs on all rows): the exact
#: silhouette's cost grows with the square of the rows.
SILHOUETTE_SAMPLE = 2000
#: Past this many rows to cluster, k-means runs on one seeded uniform sample of this many (the same
#: rows for every k and start) and the other rows join their nearest centre.
CLUSTER_SAMPLE = 5000


def cluster_sample(n: int, size: int, seed: int | None) -> NDArray[np.int64] | None:
    """The rows k-means is fitted on: None (all of them) up to ``size`` rows, else a seeded
    uniform sample of ``size``, in row order."""
    if n <= size:
        return None
    return np.sort(np.random.default_rng(seed).permutation(n)[:size])


def _choose_clusters(
    X: NDArray[np.float64], k_range: tuple[int, int], seed: int | None
) -> tuple[NDArray[np.int64], int, dict[int, float | None]]:
    from deltaeval.analysis.kmeans import (
        kmeans,
        kmeans_fit,
        nearest_centre,
        silhouette_sample,
        silhouette_scores,
    )

    n = X.shape[0]
    low, high = k_range
    if low < 2 or high < low:
        raise InputError(f"k_range {k_range} is not a range of cluster counts", hint="e.g. (2, 6)")
    scores: dict[int, float | None] = {}
    fit_rows = cluster_sample(n, CLUSTER_SAMPLE, seed)
    fit_X = X if fit_rows is None else X[fit_rows]
    m = fit_X.shape[0]
    distinct = len(np.unique(fit_X.round(12), axis=0)) if m else 0
    fitted: dict[int, NDArray[np.int64]] = {}
    for k in range(low, min(high, m - 1, distinct) + 1):
        if fit_rows is None:
            labels = kmeans(X, k, n_init=10, seed=seed)
        else:  # the sample's k-means; every other row joins its nearest centre
            sample_labels, centres, _ = kmeans_fit(fit_X, k, n_init=10, seed=seed)
            labels = nearest_centre(X, centres)
            labels[fit_rows] = sample_labels
        if len(np.unique(labels)) < 2:
            scores[k] = None
            continue
        fitted[k] = labels
    sample = silhouette_sample(n, SILHOUETTE_SAMPLE, seed)
    if sample is None:
        for k, score in zip(fitted, silhouette_scores(X, list(fitted.values())), strict=True):
            scores[k] = score
    else:
        # the same sampled rows for every k; a k whose clusters the sample sees as one scores None
        sampled = {k: labels[sample] for k, labels in fitted.items() if len(np.unique(labels[sample])) > 1}
        for k in sorted(fitted.keys() - sampled.keys()):
            scores[k] = None
        for k, score in zip(sampled, silhouette_scores(X[sample], list(sampled.values())), strict=True):
            scores[k] = score
    best: tuple[float, int, NDArray[np.int64]] | None = None
    for k in sorted(scores):
        score = scores[k]
        if score is not None and (best is None or score > best[0] + 1e-12):
            best = (score, k, fitted[k])
    if best is None:
        return np.zeros(n, dtype=np.int64), 1, scores
    return best[2], best[1], scores


# ---------------------------------------------------------------------------------------------
# The analysis


def _texts(values: Sequence[str | None], side: str, n: int) -> list[str | None]:
    values = list(values)
    if len(values) != n:
        raise InputError(f"{len(values)} {side} outputs for {n} ids", hint="pair the runs by example first")
    return [v if isinstance(v, str) else None for v in values]


def _preview(text: str | None) -> str | None:
    if text is None or len(text) <= PREVIEW_CHARS:
        return text
    return text[:PREVIEW_CHARS].rstrip() + "…"


def change_stats(
    ids: Sequence[str],
    old: Sequence[str | None],
    new: Sequence[str | None],
    *,
    old_vectors: ArrayLike | None = None,
    new_vectors: ArrayLike | None = None,
    model: str | None = None,
    fraction: float = 0.2,
    threshold: float | None = None,
    representation: Representation = "pair",
    k_range: tuple[int, int] = (2, 6),
    top_terms: int = 8,
    examples_per_cluster: int = 3,
    seed: int | None = 0,
    notes: Sequence[str] = (),
) -> ChangeStats:
    """Similarity of each example's old and new output, and clusters of the most changed.

    Parameters
    ----------
    ids, old, new:
        Example ids and the two runs' output texts, paired (None = no output: left out).
    old_vectors, new_vectors:
        Optional embeddings of the outputs, one row each (NaN rows where an output is
        missing): similarity and clusters then use them (``method="minilm"``); without them,
        TF-IDF vectors (``method="tfidf"``).
    model:
        Name of the embedding model, recorded in the result.
    fraction:
        Share of the examples (with both outputs) that count as most changed: the lowest by
        similarity. Ignored when ``threshold`` is given.
    threshold:
        Count an example as most changed when its similarity is below this.
    representation:
        The vectors clustered: ``"pair"`` (old and new side by side), ``"new"``, ``"old"``, or
        ``"difference"`` (new − old, normalised).
    k_range:
        Cluster counts tried (inclusive); the best silhouette wins.
    top_terms, examples_per_cluster:
        Terms listed per cluster and side; members shown per cluster.
    seed:
        Seeds k-means and the SVD of TF-IDF vectors.

    Returns
    -------
    ChangeStats
        Clusters most changed first (lowest mean similarity).
    """
    ids = [str(i) for i in ids]
    n = len(ids)
    old_t = _texts(old, "old", n)
    new_t = _texts(new, "new", n)
    if threshold is None and not 0 < fraction <= 1:
        raise InputError(f"fraction {fraction} is not in (0, 1]", hint="e.g. 0.2 for the lowest 20%")
    if representation not in ("pair", "new", "old", "difference"):
        raise InputError(
            f"unknown representation {representation!r}", hint="use 'pair', 'new', 'old' or 'difference'"
        )
    notes = list(notes)
    present = np.array(
        [o is not None and w is not None for o, w in zip(old_t, new_t, strict=True)], dtype=bool
    )
    use_vectors = old_vectors is not None or new_vectors is not None
    if use_vectors:
        if old_vectors is None or new_vectors is None:
            raise InputError("give both old_vectors and new_vectors, or neither")
        V_old = np.asarray(old_vectors, dtype=float)
        V_new = np.asarray(new_vectors, dtype=float)
        if V_old.shape != V_new.shape or V_old.ndim != 2 or V_old.shape[0] != n:
            raise InputError(
                f"vectors of shapes {V_old.shape} and {V_new.shape} for {n} examples",
                hint="one embedding row per example and side",
            )
        present &= np.isfinite(V_old).all(axis=1) & np.isfinite(V_new).all(axis=1)
    rows = np.flatnonzero(present)
    similarity = np.full(n, np.nan)
    tfidf_old = tfidf_new = word_counts = None
    names: list[str] = []
    inverse = np.zeros(0, dtype=np.int64)
    if rows.size:
        if use_vectors:
            similarity[rows] = cosine_similarity_rows(V_old[rows], V_new[rows])
        else:
            from deltaeval.analysis.vectorize import count_matrix, tfidf_from_counts

            word_counts, names, inverse = count_matrix([old_t[i] for i in rows] + [new_t[i] for i in rows])  # type: ignore[misc]
            X = tfidf_from_counts(word_counts, inverse)
            tfidf_old, tfidf_new = X[: rows.size], X[rows.size :]
            similarity[rows] = _sparse_pair_cosine(tfidf_old, tfidf_new)

    # The most changed.
    finite_sims = similarity[rows]
    candidates = rows[finite_sims < SAME]
    n_same = int(rows.size - candidates.size)
    if threshold is not None:
        changed = candidates[similarity[candidates] < threshold]
        selection = f"similarity below {threshold:g}"
    else:
        want = math.ceil(fraction * rows.size) if rows.size else 0
        order = candidates[np.lexsort((candidates, similarity[candidates]))]
        changed = order[:want]
        selection = f"lowest {fraction:.0%} by similarity"
        if changed.size < want:
            notes.append(f"only {plural(candidates.size, 'example')} changed at all (similarity < {SAME})")
    changed = changed[np.lexsort((changed, similarity[changed]))] if changed.size else changed
    cutoff = float(similarity[changed].max()) if changed.size else None

    # Clusters.
    k = 0
    silhouettes: dict[int, float | None] = {}
    labels = np.zeros(changed.size, dtype=np.int64)
    features = None
    if changed.size:
        if use_vectors:
            features = _represent(V_old[changed], V_new[changed], representation)
        else:
            assert tfidf_old is not None and tfidf_new is not None
            position = {int(r): j for j, r in enumerate(rows)}
            picked = [position[int(i)] for i in changed]
            features = _reduce(_represent_sparse(tfidf_old[picked], tfidf_new[picked], representation), seed)
        labels, k, silhouettes = choose_clusters(features, k_range=k_range, seed=seed)
        if k == 1 and changed.size >= 3:
            notes.append("the most changed examples form one cluster (no k in the range separated them)")
        best = silhouettes.get(k)
        if best is not None and best < 0.1:
            notes.append(f"weak cluster structure (best silhouette {best:.2f})")

    # Terms: each side's outputs, clusters against the unchanged examples.
    cluster_of = np.full(n, -1, dtype=np.int64)
    cluster_of[changed] = labels
    terms: dict[str, dict[int, tuple[tuple[str, float], ...]]] = {"old": {}, "new": {}}
    if changed.size:
        if word_counts is None:
            from deltaeval.analysis.vectorize import count_matrix

            word_counts, names, inverse = count_matrix([old_t[i] for i in rows] + [new_t[i] for i in rows])  # type: ignore[misc]
        term_rows, term_names = _term_matrix(word_counts, names, "english", True)
        for side, part in (("old", inverse[: rows.size]), ("new", inverse[rows.size :])):
            terms[side] = _class_terms(term_rows[part], term_names, cluster_of[rows], top_terms, 2)

    clusters = []
    for c in range(k):
        members = changed[labels == c]
        if not members.size:
            continue
        assert features is not None
        inside = features[labels == c]
        centre = inside.mean(axis=0)
        nearest = members[np.lexsort((members, -(inside @ centre)))][:examples_per_cluster]
        clusters.append(
            (
                c,
                members,
                tuple(
                    {
                        "id": ids[i],
                        "similarity": float(similarity[i]),
                        "old": _preview(old_t[i]),
                        "new": _preview(new_t[i]),
                    }
                    for i in nearest
                ),
            )
        )
    clusters.sort(key=lambda item: (float(similarity[item[1]].mean()), -item[1].size, item[0]))
    results = tuple(
        ChangeCluster(
            label=position,
            size=int(members.size),
            mean_similarity=float(similarity[members].mean()),
            median_words_old=float(np.median([len(old_t[i].split()) for i in members])),  # type: ignore[union-attr]
            median_words_new=float(np.median([len(new_t[i].split()) for i in members])),  # type: ignore[union-attr]
            example_ids=tuple(ids[i] for i in members),
            terms_old=terms["old"].get(c, ()),
            terms_new=terms["new"].get(c, ()),
            examples=shown,
        )
        for position, (c, members, shown) in enumerate(clusters)
    )

    valid = similarity[rows]
    quantiles: dict[str, float | None] = {
        name: (float(np.quantile(valid, q)) if valid.size else None)
        for name, q in (("p10", 0.1), ("p25", 0.25), ("median", 0.5), ("p75", 0.75), ("p90", 0.9))
    }
    return ChangeStats(
        method="minilm" if use_vectors else "tfidf",
        model=model if use_vectors else "TF-IDF (sublinear tf, smooth idf, l2)",
        ids=tuple(ids),
        similarity=tuple(float(s) if math.isfinite(s) else None for s in similarity),
        n=n,
        n_missing=int(n - rows.size),
        n_same=n_same,
        mean_similarity=float(valid.mean()) if valid.size else None,
        quantiles=quantiles,
        selection=selection,
        cutoff=cutoff,
        changed_ids=tuple(ids[i] for i in changed),
        representation=representation,
        k=k,
        silhouettes=silhouettes,
        clusters=results,
        seed=seed,
        notes=tuple(notes),
        silhouette_sample=(SILHOUETTE_SAMPLE if silhouettes and changed.size > SILHOUETTE_SAMPLE else None),
        clustered_sample=(CLUSTER_SAMPLE if silhouettes and changed.size > CLUSTER_SAMPLE else None),
    )


def _unit(X: NDArray[np.float64]) -> NDArray[np.float64]:
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


def _represent(old: NDArray, new: NDArray, representation: str) -> NDArray[np.float64]:
    old, new = _unit(old), _unit(new)
    if representation == "new":
        return new
    if representation == "old":
        return old
    if representation == "difference":
        return _unit(new - old)
    return np.hstack([old, new]) / math.sqrt(2.0)


def _represent_sparse(old: Any, new: Any, representation: str) -> Any:
    from scipy.sparse import hstack

    if representation == "new":
        return new
    if representation == "old":
        return old
    if representation == "difference":
        return new - old
    return hstack([old, new]).tocsr() / math.sqrt(2.0)


#: Up to this many rows (or columns), :func:`_reduce` computes the SVD exactly from the rows'
#: (or the columns') Gram matrix.
GRAM_MAX_ROWS = 3000
#: Up to this many rows, the Gram matrix is decomposed on one thread.
SINGLE_THREAD_GRAM = 1000


def _reduce(X: Any, seed: int | None, dimensions: int = 100) -> NDArray[np.float64]:
    """Sparse TF-IDF rows to at most ``dimensions`` dense, unit-length dimensions (LSA): the
    projections ``U S`` of the rank-``dimensions`` truncated SVD ``X = U S V^T``, computed
    exactly in every case.

    With fewer rows than columns (up to :data:`GRAM_MAX_ROWS` rows): from the eigenvectors of the
    small (rows x rows) Gram matrix ``X X^T = U S^2 U^T`` (milliseconds, where a randomized SVD
    of a rows x vocabulary matrix takes seconds). With at most as many columns as rows (up to
    :data:`GRAM_MAX_ROWS` columns, e.g. many outputs in a small vocabulary): from the
    (columns x columns) ``X^T X = V S^2 V^T``, as ``X V``. Otherwise (thousands of rows and of
    words): the top singular triplets by ARPACK's Lanczos iteration (``scipy.sparse.linalg.svds``,
    to machine precision, start vector seeded). Each component's sign makes its largest entry in
    ``U`` positive (scikit-learn's ``svd_flip``), so no result depends on the LAPACK build.
    """
    rows, columns = X.shape
    components = min(dimensions, rows - 1, columns - 1)
    if components < 2:
        dense = np.asarray(X.todense())
    elif rows <= GRAM_MAX_ROWS and rows < columns:
        dense = _gram_svd(X, components)
    elif columns <= GRAM_MAX_ROWS:
        dense = _column_gram_svd(X, components)
    else:
        dense = _lanczos_svd(X, components, seed)
    return _unit(np.asarray(dense, dtype=float))


def _flip(projections: NDArray[np.float64]) -> NDArray[np.float64]:
    """Each column's sign set so that its largest entry in absolute value is positive."""
    if not projections.size:
        return projections
    columns = np.arange(projections.shape[1])
    signs = np.sign(projections[np.argmax(np.abs(projections), axis=0), columns])
    return projections * np.where(signs == 0, 1.0, signs)


def _column_gram_svd(X: Any, components: int) -> NDArray[np.float64]:
    """``U S = X V`` of the exact rank-``components`` SVD of ``X``, from the eigenvectors ``V``
    of ``X^T X`` (a columns x columns matrix); components of singular value ~0 are left at 0."""
    gram = X.T @ X
    gram = np.asarray(gram.toarray() if hasattr(gram, "toarray") else gram, dtype=float)
    values, vectors = np.linalg.eigh(gram)  # ascending
    values = np.clip(values[::-1][:components], 0.0, None)
    vectors = vectors[:, ::-1][:, :components]
    keep = values > (values[0] if values.size else 0.0) * gram.shape[0] * np.finfo(float).eps
    out = np.zeros((X.shape[0], components))
    out[:, keep] = np.asarray(X @ vectors[:, keep])
    return _flip(out)


def _lanczos_svd(X: Any, components: int, seed: int | None) -> NDArray[np.float64]:
    """``U S`` of the rank-``components`` truncated SVD of ``X`` by ARPACK (exact to machine
    precision), the start vector drawn from ``seed``."""
    from scipy.sparse.linalg import svds

    start = np.random.default_rng(seed).uniform(-1.0, 1.0, size=min(X.shape))
    U, S, _ = svds(X.astype(float), k=components, v0=start, solver="arpack")
    order = np.argsort(-S, kind="stable")
    return _flip(U[:, order] * S[order])


def _gram_svd(X: Any, components: int) -> NDArray[np.float64]:
    """``U S`` of the exact rank-``components`` SVD of ``X``, from the eigenvectors of ``X X^T``.

    Each component's sign is fixed so that its largest entry in absolute value is positive
    (as scikit-learn's ``svd_flip`` does), so the result does not depend on the LAPACK build.
    """
    from threadpoolctl import threadpool_limits

    gram = X @ X.T
    gram = np.asarray(gram.toarray() if hasattr(gram, "toarray") else gram, dtype=float)
    # a small matrix on one thread: the BLAS pool's start-up costs more than the work
    with threadpool_limits(1 if gram.shape[0] <= SINGLE_THREAD_GRAM else None):
        values, vectors = np.linalg.eigh(gram)  # ascending
    values = np.clip(values[::-1][:components], 0.0, None)
    vectors = vectors[:, ::-1][:, :components]
    signs = np.sign(vectors[np.argmax(np.abs(vectors), axis=0), np.arange(components)])
    vectors = vectors * np.where(signs == 0, 1.0, signs)
    # U S computed as X X^T U / S (the rows' projections X V): equal rows of X get equal rows
    # here, where U S itself would differ by rounding noise in components of singular value ~0,
    # which are left at 0 (as in an exact SVD, up to that noise).
    keep = values > (values[0] if values.size else 0.0) * gram.shape[0] * np.finfo(float).eps
    out = np.zeros((gram.shape[0], components))
    out[:, keep] = (gram @ vectors[:, keep]) / np.sqrt(values[keep])
    return out
