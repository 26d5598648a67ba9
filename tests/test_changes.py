"""Where outputs changed most: similarity, clusters of the most changed, c-TF-IDF terms, and the
MiniLM embeddings of the [embed] extra (skipped with the reason when it is not installed)."""

from __future__ import annotations

import doctest
import importlib
import json
import math

import numpy as np
import pytest

from deltaeval.analysis import changes as changes_module
from deltaeval.analysis.changes import (
    change_stats,
    choose_clusters,
    class_tfidf,
    cluster_terms,
    cosine_similarity_rows,
    lexical_similarity,
)
from deltaeval.behaviour import embedding
from deltaeval.behaviour.embedding import INSTALL_HINT, load_minilm, minilm_unavailable, where_changed
from deltaeval.errors import InputError, UsageError

MINILM_MISSING = minilm_unavailable()
needs_minilm = pytest.mark.skipif(
    MINILM_MISSING is not None, reason=f"the [embed] extra is not installed: {MINILM_MISSING}"
)

TOPICS = [
    "astronomy", "gardening", "chess", "volcanoes", "baking", "sailing", "jazz", "economics",
    "painting", "glaciers", "poetry", "cycling", "robotics", "geology", "opera", "knitting",
    "archery", "chemistry", "pottery", "surfing", "photography", "origami", "fencing", "botany",
    "calligraphy", "rowing", "meteorology", "sculpture", "beekeeping", "juggling",
]  # fmt: skip


def planted() -> tuple[list[str], list[str], list[str]]:
    """Old answers are plain prose; new ones: 10 nearly the same, 10 refusals, 10 numbered lists."""
    ids, old, new = [], [], []
    for i, topic in enumerate(TOPICS):
        before = (
            f"{topic.capitalize()} is a rewarding subject. People who study {topic} learn how "
            f"{topic} works and why it matters in everyday life."
        )
        if i % 3 == 0:
            after = before + " It is worth a try."
        elif i % 3 == 1:
            after = (
                f"I'm sorry, but I cannot help with questions about {topic}. I am unable to assist with that."
            )
        else:
            after = (
                f"1. Read an introduction to {topic}.\n2. Practise the basic steps every week.\n"
                "3. Join a club and compare notes.\n4. Review your progress each month."
            )
        ids.append(f"t{i:02d}")
        old.append(before)
        new.append(after)
    return ids, old, new


REFUSED = {f"t{i:02d}" for i in range(30) if i % 3 == 1}
LISTED = {f"t{i:02d}" for i in range(30) if i % 3 == 2}


@pytest.mark.parametrize("module", ["deltaeval.analysis.changes"])
def test_docstring_examples(module: str) -> None:
    assert doctest.testmod(importlib.import_module(module)).failed == 0


# c-TF-IDF ------------------------------------------------------------------------------------


def test_class_tfidf_by_hand():
    # two classes over the terms (x, y): counts [[3, 1], [0, 2]]
    weights = class_tfidf([[3, 1], [0, 2]])
    mean_words = (4 + 2) / 2
    expected = [
        [3 / 4 * math.log(1 + mean_words / 3), 1 / 4 * math.log(1 + mean_words / 3)],
        [0.0, 2 / 2 * math.log(1 + mean_words / 3)],
    ]
    np.testing.assert_allclose(weights, expected)
    np.testing.assert_allclose(class_tfidf([[0, 0], [1, 0]]), [[0, 0], [math.log(1.5), 0]])
    with pytest.raises(InputError):
        class_tfidf([1, 2])


def test_cluster_terms_by_hand():
    texts = ["apple banana", "apple cherry", "banana banana", "the of 42"]
    labels = [0, 0, 1, 1]
    # per text, a term counts once: class 0 holds apple 2, banana 1, cherry 1 (4 in all);
    # class 1 holds banana 1 ("the", "of" are stop words, "42" no word). Mean total A = 2.5.
    terms = cluster_terms(texts, labels, min_outputs=1)  # every term, even one text's
    a = 2.5
    expected0 = {
        "apple": 2 / 4 * math.log(1 + a / 2),
        "cherry": 1 / 4 * math.log(1 + a / 1),
        "banana": 1 / 4 * math.log(1 + a / 2),
    }
    assert [t for t, _ in terms[0]] == ["apple", "cherry", "banana"]
    for term, weight in terms[0]:
        assert weight == pytest.approx(expected0[term])
    assert terms[1] == (("banana", pytest.approx(1.0 * math.log(1 + a / 2))),)
    # every occurrence counted: class 1 holds banana 2, A = 3, banana's total 3
    raw = cluster_terms(texts, labels, binary=False, min_outputs=1)
    assert dict(raw[0])["banana"] == pytest.approx(1 / 4 * math.log(1 + 3 / 3))
    assert cluster_terms(["the", "of"], [0, 1]) == {0: (), 1: ()}
    assert [t for t, _ in cluster_terms(texts, labels, top_n=1)[0]] == ["apple"]
    # by default a term needs two texts of its class that use it: only "apple" has them
    assert [t for t, _ in cluster_terms(texts, labels)[0]] == ["apple"]


# similarity ----------------------------------------------------------------------------------


def test_lexical_and_vector_similarity():
    sims = lexical_similarity(["the cat sat", "", "", "red fox"], ["the cat sat", "", "words", "blue whale"])
    assert sims.round(6).tolist() == [1.0, 1.0, 0.0, 0.0]
    rows = cosine_similarity_rows([[1, 0], [1, 1], [0, 0]], [[1, 0], [-1, -1], [1, 0]])
    assert rows[:2].round(12).tolist() == [1.0, -1.0] and math.isnan(rows[2])


def test_choose_clusters_picks_k_by_silhouette():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(c, 0.05, size=(8, 2)) for c in ([0, 0], [3, 0], [0, 3])])
    labels, k, scores = choose_clusters(X, k_range=(2, 5), seed=0)
    assert k == 3 and set(scores) == {2, 3, 4, 5}
    assert all(len(set(labels[i : i + 8])) == 1 for i in (0, 8, 16))
    assert choose_clusters(np.zeros((2, 3)))[1] == 1
    with pytest.raises(InputError):
        choose_clusters(X, k_range=(1, 3))


# the analysis --------------------------------------------------------------------------------


def check_planted(result) -> None:
    assert set(result.changed_ids) == REFUSED | LISTED
    assert result.k == 2
    groups = sorted((set(c.example_ids) for c in result.clusters), key=sorted)
    assert sorted([REFUSED, LISTED], key=sorted) == groups
    refusals = next(c for c in result.clusters if set(c.example_ids) == REFUSED)
    lists = next(c for c in result.clusters if set(c.example_ids) == LISTED)
    refusal_terms = [t for t, _ in refusals.terms_new]
    list_terms = [t for t, _ in lists.terms_new]
    assert {"sorry", "unable"} <= set(refusal_terms[:6])
    assert {"basic", "club", "month"} <= set(list_terms)
    assert "sorry" not in list_terms
    assert lists.median_words_new > refusals.median_words_new > 0
    # the old outputs of both clusters are alike: plain prose on a topic
    assert all(c.terms_old for c in result.clusters)
    assert refusals.examples and refusals.examples[0]["id"] in REFUSED
    data = result.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["n_changed"] == 20 and len(data["similarity"]) == 30


def test_planted_groups_with_tfidf():
    ids, old, new = planted()
    result = change_stats(ids, old, new, fraction=20 / 30, seed=0)
    assert result.method == "tfidf"
    check_planted(result)
    unchanged = [s for i, s in zip(result.ids, result.similarity, strict=True) if int(i[1:]) % 3 == 0]
    assert min(unchanged) > max(s for i, s in zip(result.ids, result.similarity, strict=True) if i in REFUSED)
    # a threshold selects the same examples; the same seed gives the same result
    by_threshold = change_stats(ids, old, new, threshold=result.cutoff + 1e-9, seed=0)
    assert set(by_threshold.changed_ids) == set(result.changed_ids)
    assert change_stats(ids, old, new, fraction=20 / 30, seed=0).to_dict() == result.to_dict()


def test_missing_and_identical_outputs_and_bad_input():
    ids, old, new = planted()
    old[1] = None
    new = list(new)
    new[0] = old[0]
    result = change_stats(ids, old, new, fraction=1.0)
    assert result.n_missing == 1 and result.similarity[1] is None
    assert result.n_same == 1 and "t00" not in result.changed_ids
    json.dumps(result.to_dict(), allow_nan=False)
    empty = change_stats([], [], [])
    assert empty.k == 0 and empty.clusters == () and empty.to_dict()["mean_similarity"] is None
    with pytest.raises(InputError):
        change_stats(ids, old, new[:-1])
    with pytest.raises(InputError):
        change_stats(ids, old, new, fraction=0)
    with pytest.raises(InputError):
        change_stats(ids, old, new, old_vectors=np.zeros((30, 4)))


def test_planted_groups_with_given_vectors():
    """Vectors given by the caller are used as they are (here: one-hot by group)."""
    ids, old, new = planted()
    group = np.array([i % 3 for i in range(30)])
    old_vectors = np.tile([1.0, 0.0, 0.0, 0.0], (30, 1))
    new_vectors = np.eye(4)[[0 if g == 0 else g + 1 for g in group]]
    new_vectors[group == 0] = old_vectors[group == 0]
    new_vectors = new_vectors + 0.01 * np.arange(30)[:, None] * np.array([0, 0, 0, 1])
    result = change_stats(ids, old, new, old_vectors=old_vectors, new_vectors=new_vectors, model="one-hot")
    assert result.method == "minilm" and result.model == "one-hot"
    assert set(result.changed_ids) <= REFUSED | LISTED


# the embedding loader ------------------------------------------------------------------------


def test_without_the_extra(monkeypatch):
    monkeypatch.setattr(embedding, "_package_dir", lambda name: None)
    monkeypatch.delenv(embedding.TOKENIZER_ENV, raising=False)
    reason = minilm_unavailable()
    assert reason is not None and "onnxruntime" in reason
    with pytest.raises(UsageError, match=r'pip install -e "\.\[embed\]"'):
        load_minilm("onnx")
    with pytest.raises(UsageError):
        minilm_unavailable("gpu")  # type: ignore[arg-type]
    ids, old, new = planted()
    result = where_changed(ids, old, new, fraction=20 / 30)
    assert result.method == "tfidf" and any(INSTALL_HINT in note for note in result.notes)
    with pytest.raises(UsageError):
        where_changed(ids, old, new, method="minilm")


@needs_minilm
def test_minilm_similarity():
    model = load_minilm()
    texts = [
        "The cat sat on the mat.",
        "The cat sat on the mat.",
        "A cat was sitting on the rug.",
        "Quarterly revenue rose by four percent.",
        "",
    ]
    vectors = model.encode(texts)
    assert vectors.shape == (5, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    identical, paraphrase, unrelated = (
        vectors[0] @ vectors[1],
        vectors[0] @ vectors[2],
        vectors[0] @ vectors[3],
    )
    assert identical == pytest.approx(1.0, abs=1e-5)
    assert paraphrase > 0.6 > unrelated
    assert paraphrase > unrelated + 0.4
    assert model.encode([]).shape == (0, 384)
    assert "MiniLM" in model.name


@needs_minilm
def test_planted_groups_with_minilm():
    ids, old, new = planted()
    result = where_changed(ids, old, new, method="minilm", fraction=20 / 30, seed=0)
    assert result.method == "minilm" and result.model is not None and "MiniLM" in result.model
    check_planted(result)


def test_module_is_pure():
    with open(changes_module.__file__, encoding="utf-8") as handle:
        source = handle.read()
    assert "open(" not in source and "print(" not in source


@pytest.mark.skipif(
    minilm_unavailable("onnx") is not None or minilm_unavailable("torch") is not None,
    reason=f"needs both MiniLM routes: {minilm_unavailable('onnx') or minilm_unavailable('torch')}",
)
def test_onnx_and_torch_routes_agree():
    texts = ["The cat sat on the mat.", "Quarterly revenue rose by four percent.", "word " * 400]
    onnx = load_minilm("onnx").encode(texts)
    torch = load_minilm("torch").encode(texts)
    assert ((onnx * torch).sum(axis=1) > 0.99).all()


@pytest.mark.skipif(
    minilm_unavailable("onnx") is not None, reason=f"MiniLM (onnx): {minilm_unavailable('onnx')}"
)
def test_embeddings_are_cached_in_the_store(tmp_path) -> None:
    from deltaeval.behaviour import embedding
    from deltaeval.store import Store

    model = embedding.load_minilm("onnx")
    calls: list[int] = []
    original = model.encode

    def counting(texts, **kw):
        calls.append(len(texts))
        return original(texts, **kw)

    model.encode = counting  # type: ignore[method-assign]
    texts = ["The cat sat on the mat.", "A dog barked.", "The cat sat on the mat.", ""]
    store = Store(tmp_path / "s.sqlite")
    first = embedding.encode_cached(model, texts, store=store)
    assert sum(calls) == 3  # each distinct text once
    assert np.allclose(first[0], first[2]) and np.allclose(first, original(texts), atol=1e-6)
    calls.clear()
    again = embedding.encode_cached(model, texts, store=Store(tmp_path / "s.sqlite"))
    assert calls == [] and np.array_equal(again, first)  # all from the store
    more = embedding.encode_cached(model, [*texts, "Something new."], store=store)
    assert calls == [1] and np.array_equal(more[:4], first)
