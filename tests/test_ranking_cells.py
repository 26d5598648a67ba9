"""Battles are counted into cells without sorting them: the same cells as a sort-based count."""

from __future__ import annotations

import numpy as np
import pytest

from deltaeval.analysis.ranking import _mle_exists_each, battle_cells, mle_exists


def sorted_cells(a: np.ndarray, b: np.ndarray, y: np.ndarray, w: np.ndarray) -> list[tuple]:
    """Distinct (low run, high run, outcome for low, weight) with counts, sorted: the reference."""
    swap = a > b
    rows = zip(
        np.where(swap, b, a).tolist(),
        np.where(swap, a, b).tolist(),
        np.where(swap, 1.0 - y, y).tolist(),
        w.tolist(),
        strict=True,
    )
    keys, counts = np.unique(np.array(list(rows)), axis=0, return_counts=True)
    return [(*k, c) for k, c in zip(keys.tolist(), counts.tolist(), strict=True)]


def cells_as_rows(cells) -> list[tuple]:
    return [
        (float(a), float(b), float(y), float(w), int(c))
        for a, b, y, w, c in zip(cells.a, cells.b, cells.outcome, cells.weight, cells.count, strict=True)
    ]


@pytest.mark.parametrize(
    "outcomes, weights",
    [
        ([0.0, 0.5, 1.0], None),  # wins, ties, losses: the counted fast path
        ([0.0, 1.0], None),  # no tie at all
        ([1.0], None),  # a always wins
        ([0.0, 0.25, 0.5, 0.9, 1.0], None),  # soft outcomes: sorted codes
        ([0.0, 0.5, 1.0], [1.0, 3.0]),  # Arena-Hard's strong-verdict weights
        ([0.0, 1.0], [2.0]),  # one weight for all, not 1
    ],
)
def test_cells_equal_a_sorted_count(outcomes: list[float], weights: list[float] | None) -> None:
    rng = np.random.default_rng(0)
    n = 2000
    a = rng.integers(0, 7, n)
    b = (a + rng.integers(1, 7, n)) % 7
    y = rng.choice(outcomes, n)
    w = np.ones(n) if weights is None else rng.choice(weights, n)
    cells = battle_cells(a, b, y, weights=None if weights is None else w)
    assert cells_as_rows(cells) == sorted_cells(a, b, y, w)
    assert cells.count.dtype == np.int64 and cells.n_battles == n


def test_many_runs_count_by_sorting() -> None:
    # 3,000 runs: 9M possible (a, b) keys for 500 battles, counted by np.unique instead
    rng = np.random.default_rng(1)
    a = rng.integers(0, 3000, 500)
    b = (a + rng.integers(1, 3000, 500)) % 3000
    y = rng.choice([0.0, 0.5, 1.0], 500)
    assert cells_as_rows(battle_cells(a, b, y, n_models=3000)) == sorted_cells(a, b, y, np.ones(500))


def test_existence_of_each_bootstrap_matrix() -> None:
    complete = np.ones((4, 4)) - np.eye(4)
    chain = np.zeros((4, 4))
    chain[0, 1] = chain[1, 2] = chain[2, 3] = chain[3, 0] = 1.0  # a cycle: strongly connected
    never_loses = complete.copy()
    never_loses[:, 0] = 0.0  # run 0 never beaten: no MLE
    stack = np.stack([complete, chain, never_loses])
    assert _mle_exists_each(stack).tolist() == [mle_exists(m) for m in stack] == [True, True, False]
