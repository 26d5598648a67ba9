"""Representation compatibility maths on synthetic embeddings whose truth is known."""

from __future__ import annotations

import numpy as np
import pytest

from deltaeval.analysis.representation import (
    compare_spaces,
    fit_map,
    linear_cka,
    per_query,
    ranks,
    split_queries,
)


def _space(n: int, d: int, seed: int, noise: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Gallery vectors and queries near them (query i relevant to item i)."""
    rng = np.random.default_rng(seed)
    gallery = rng.normal(size=(n, d))
    return gallery + noise * rng.normal(size=(n, d)), gallery


def _rotation(d: int, seed: int) -> np.ndarray:
    return np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))[0]


def test_recall_and_mrr_by_hand_on_three_queries() -> None:
    gallery = np.eye(3)
    queries = np.array([[1.0, 0.5, 0.0], [0.9, 0.5, 0.1], [0.2, 0.9, 0.5]])
    relevant = [[0], [2], [0, 2]]
    # q0: item 0 scores highest -> rank 1; q1: item 2 scores lowest of three -> rank 3;
    # q2: best relevant is item 2 (0.5), item 1 (0.9) is above it -> rank 2
    rank = ranks(queries, gallery, relevant)
    assert rank.tolist() == [1, 3, 2]
    values = per_query(rank)
    assert values["recall@1"].mean() == pytest.approx(1 / 3)
    assert values["recall@5"].mean() == 1.0
    assert values["mrr"].mean() == pytest.approx((1 + 1 / 3 + 1 / 2) / 3)


def test_ties_count_against_the_query() -> None:
    constant = np.ones((4, 3))
    assert ranks(constant, constant, [[0], [1], [2], [3]]).tolist() == [4, 4, 4, 4]


def test_linear_cka_by_hand() -> None:
    x = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    y = x * np.array([1.0, 2.0])
    # X'X = diag(2, 2), Y'Y = diag(2, 8), Y'X = diag(2, 4): 20 / sqrt(8 * 68)
    assert linear_cka(x, y) == pytest.approx(20 / np.sqrt(8 * 68))
    # the same number from the Gram-matrix (HSIC) form
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(7, 3)), rng.normal(size=(7, 5))
    h = np.eye(7) - 1 / 7
    k, l_ = h @ a @ a.T @ h, h @ b @ b.T @ h
    hsic = np.trace(k @ l_) / np.sqrt(np.trace(k @ k) * np.trace(l_ @ l_))
    assert linear_cka(a, b) == pytest.approx(hsic)
    assert linear_cka(a, a @ _rotation(3, 1) * 3.0) == pytest.approx(1.0)


def test_identical_spaces_are_compatible() -> None:
    q, g = _space(80, 16, 0)
    report = compare_spaces(q, g, q, g, [[i] for i in range(80)], n_boot=300)
    r = report["retrieval"]
    assert r["new->old"]["recall@1"] == r["old->old"]["recall@1"]
    assert report["differences"]["new->old - old->old"]["recall@1"] == {"value": 0.0, "ci": [0.0, 0.0]}
    assert report["verdict"]["label"] == "compatible"
    assert report["cka"]["linear"] == pytest.approx(1.0)


def test_rotated_space_needs_procrustes() -> None:
    n, d = 120, 24
    q, g = _space(n, d, 1)
    rot = _rotation(d, 2)
    report = compare_spaces(q, g, q @ rot, g @ rot, [[i] for i in range(n)], n_boot=300)
    old_old = report["retrieval"]["old->old"]["recall@1"]["value"]
    assert old_old > 0.9
    assert report["retrieval"]["new->old"]["recall@1"]["value"] < 0.1  # about chance before a map
    assert report["verdict"]["label"] == "incompatible"
    assert report["cka"]["linear"] == pytest.approx(1.0)  # the same space up to rotation
    maps = {m["method"]: m for m in report["maps"]["maps"]}
    assert maps["procrustes"]["recovery"]["value"] == pytest.approx(1.0)
    assert maps["procrustes"]["retrieval"]["recall@1"] == report["maps"]["test"]["new->new"]["recall@1"]
    assert maps["ridge"]["recovery"]["value"] > 0.9


def test_noisy_copy_is_partly_compatible() -> None:
    n, d = 200, 32
    q, g = _space(n, d, 4, noise=0.8)
    rng = np.random.default_rng(5)
    new_q, new_g = q + 1.2 * rng.normal(size=q.shape), g + 1.2 * rng.normal(size=g.shape)
    report = compare_spaces(q, g, new_q, new_g, [[i] for i in range(n)], n_boot=300)
    share = report["verdict"]["cross_share_of_old"]
    assert 0.25 < share["value"] < 0.95, share
    assert report["verdict"]["label"] == "partly"
    diff = report["differences"]["new->old - old->old"]["recall@1"]
    assert diff["ci"][1] < 0


def test_different_dimensions_use_least_squares_and_no_cross() -> None:
    n = 60
    q, g = _space(n, 12, 6)
    proj = np.random.default_rng(7).normal(size=(12, 20))
    report = compare_spaces(q, g, q @ proj, g @ proj, [[i] for i in range(n)], n_boot=200)
    assert report["retrieval"]["new->old"] is None
    assert report["verdict"]["label"] == "incompatible"
    assert report["maps"]["maps"][0]["method"] == "least-squares"
    assert report["maps"]["maps"][0]["recovery"]["value"] > 0.9  # a linear map, up to row norms


def test_split_is_disjoint_and_fit_rows_exclude_test_items() -> None:
    split = split_queries(100, test_fraction=0.5, validation_fraction=0.25, seed=3)
    train, val, test = set(split.train), set(split.validation), set(split.test)
    assert not (train & val or train & test or val & test)
    assert train | val | test == set(range(100))
    relevant = [[i, (i + 1) % 100] for i in range(100)]  # neighbours share items
    rows = set(split.fit_rows(relevant, np.concatenate([split.train, split.validation])).tolist())
    assert not rows & {j for i in split.test for j in relevant[i]}


def test_maps_are_not_fitted_on_the_evaluated_queries() -> None:
    """Unrelated spaces with more dimensions than fitting rows: a least-squares map interpolates
    whatever it is fitted on, so a held-out query leaking into the fit would be found perfectly.
    Honest held-out queries stay near chance."""
    n = 40
    rng = np.random.default_rng(8)
    old_q, old_g = rng.normal(size=(n, 64)), rng.normal(size=(n, 64))
    new_q, new_g = rng.normal(size=(n, 48)), rng.normal(size=(n, 48))
    report = compare_spaces(old_q, old_g, new_q, new_g, [[i] for i in range(n)], n_boot=200)
    split = report["maps"]["split"]
    assert split["fit_rows"] == 2 * (split["train_queries"] + split["validation_queries"]) < 64
    for m in report["maps"]["maps"]:
        assert m["retrieval"]["recall@1"]["value"] < 0.3, m["method"]


def test_same_seed_same_report() -> None:
    q, g = _space(50, 8, 9)
    rot = _rotation(8, 10)
    first = compare_spaces(q, g, q @ rot, g, [[i] for i in range(50)], n_boot=200, seed=4)
    second = compare_spaces(q, g, q @ rot, g, [[i] for i in range(50)], n_boot=200, seed=4)
    assert first == second


@pytest.mark.parametrize("method", ["procrustes", "least-squares", "ridge"])
def test_maps_are_affine_a_shifted_rotation_is_recovered(method: str) -> None:
    """A new space that is the old one rotated and shifted by a common vector (as anisotropic models
    are): the map is fitted between the centred spaces, so it undoes both."""
    x = np.random.default_rng(11).normal(size=(50, 6))
    rot, shift = _rotation(6, 12), np.arange(6.0)
    mapping = fit_map(method, x, x @ rot + shift, penalty=1e-9)
    assert np.allclose(mapping.apply(x), x @ rot + shift)
    assert np.allclose(mapping.apply(x[:3] + 1.0), (x[:3] + 1.0) @ rot + shift)  # new rows too
