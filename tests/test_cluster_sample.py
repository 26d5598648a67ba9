"""The change analysis clusters at most CLUSTER_SAMPLE of the most-changed outputs (a seeded
uniform sample, the same for every k) and assigns the others to their nearest centre; up to the
cap nothing changes."""

from __future__ import annotations

import numpy as np
import pytest
from test_behaviour_report import text_runs

import deltaeval
from deltaeval.analysis import changes as changes_module
from deltaeval.analysis.changes import change_stats, choose_clusters, cluster_sample
from deltaeval.analysis.kmeans import kmeans, kmeans_fit, nearest_centre


def grouped_vectors(n: int, seed: int = 0) -> tuple[list[str], list[str], list[str], np.ndarray, np.ndarray]:
    """n examples whose new outputs moved in one of three directions (noisy)."""
    rng = np.random.default_rng(seed)
    ids = [f"e{i}" for i in range(n)]
    old = rng.normal(0, 1, (n, 8))
    directions = np.eye(8)[:3] * 6.0
    group = rng.integers(0, 3, n)
    new = old + directions[group] + rng.normal(0, 0.3, (n, 8))
    texts_old = [f"old answer {i} about topic {g}" for i, g in enumerate(group)]
    texts_new = [f"new answer {i} about topic {g}" for i, g in enumerate(group)]
    return ids, texts_old, texts_new, old, new


def stats(n: int, **options: object) -> dict:
    ids, old_t, new_t, old, new = grouped_vectors(n)
    return change_stats(
        ids, old_t, new_t, old_vectors=old, new_vectors=new, fraction=1.0, **options
    ).to_dict()


def test_up_to_the_cap_nothing_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    before = stats(400)
    assert before["clustered_sample"] is None
    for cap in (400, 10_000):  # n at the cap, and far below it
        monkeypatch.setattr(changes_module, "CLUSTER_SAMPLE", cap)
        assert stats(400) == before
    X = np.random.default_rng(1).normal(size=(300, 5))
    labels, k, _ = choose_clusters(X, seed=0)
    assert np.array_equal(labels, kmeans(X, k, n_init=10, seed=0))


def test_past_the_cap_kmeans_runs_on_a_seeded_sample_and_the_rest_join_the_nearest_centre(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    full = stats(900)
    monkeypatch.setattr(changes_module, "CLUSTER_SAMPLE", 300)
    capped = stats(900)
    assert capped["clustered_sample"] == 300 and full["clustered_sample"] is None
    assert stats(900) == capped  # seeded: the same sample, the same clusters
    # every most-changed output is in a cluster, and three clear groups are found either way
    assert sum(c["size"] for c in capped["clusters"]) == capped["n_changed"] == 900
    assert capped["k"] == full["k"] == 3
    assert sorted(map(frozenset, (c["example_ids"] for c in capped["clusters"]))) == sorted(
        map(frozenset, (c["example_ids"] for c in full["clusters"]))
    )


def test_the_sample_is_fitted_and_the_other_rows_assigned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(changes_module, "CLUSTER_SAMPLE", 150)
    X = np.random.default_rng(2).normal(size=(500, 4))
    labels, k, _ = choose_clusters(X, k_range=(2, 4), seed=7)
    rows = cluster_sample(500, 150, 7)
    assert rows is not None and rows.size == 150 and np.all(np.diff(rows) > 0)
    sample_labels, centres, inertia = kmeans_fit(X[rows], k, n_init=10, seed=7)
    assert np.array_equal(sample_labels, kmeans(X[rows], k, n_init=10, seed=7))
    assert inertia == pytest.approx(float(((X[rows] - centres[sample_labels]) ** 2).sum()))
    expected_all = np.argmin(((X[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1)
    expected = expected_all.copy()
    expected[rows] = sample_labels
    assert np.array_equal(labels, expected)
    assert np.array_equal(
        nearest_centre(X, centres), np.argmin(((X[:, None] - centres[None]) ** 2).sum(2), 1)
    )


def test_reports_state_the_clustered_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(changes_module, "CLUSTER_SAMPLE", 10)
    old, new = text_runs(120, correct=False)
    report = deltaeval.compare(old, new, n_boot=50)
    changes = report.data["behaviour"]["changes"]
    assert changes["clustered_sample"] == 10 and changes["n_changed"] == 24
    phrase = "k-means on a seeded sample of 10, the others assigned to the nearest centre"
    assert phrase in report.to_markdown() and phrase in report.to_html()
    from io import StringIO

    from rich.console import Console

    out = StringIO()
    report.print(Console(file=out, width=400, color_system=None))
    assert phrase in out.getvalue()
