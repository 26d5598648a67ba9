"""Focal distillation for PyTorch modules: the loss by hand, and the training loop on real data."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install 'deltaeval[train]')")

from deltaeval.compat.pct import fit_compatible, focal_distillation_loss  # noqa: E402
from deltaeval.errors import InputError  # noqa: E402


def test_loss_by_hand() -> None:
    # two examples, two classes; example 0 weighted 1.5 (old right), example 1 weighted 0.5
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    old = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    labels = torch.tensor([0, 1])
    weights = torch.tensor([1.5, 0.5])
    T = 2.0
    got = float(focal_distillation_loss(logits, labels, old, weights, T))

    def softmax(z: list[float]) -> list[float]:
        e = [math.exp(v) for v in z]
        return [v / sum(e) for v in e]

    ce = (-math.log(softmax([2.0, 0.0])[0]) - math.log(softmax([0.0, 1.0])[1])) / 2
    kls = []
    for new_row, old_row in (([2.0, 0.0], [1.0, 0.0]), ([0.0, 1.0], [1.0, 0.0])):
        p = softmax([v / T for v in new_row])
        q = softmax([v / T for v in old_row])
        kls.append(sum(qk * math.log(qk / pk) for qk, pk in zip(q, p, strict=True)))
    want = ce + T * T * (1.5 * kls[0] + 0.5 * kls[1]) / 2
    assert got == pytest.approx(want, rel=1e-6)


def _net(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))


def _predict(module: torch.nn.Module, X: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return module(torch.as_tensor(X, dtype=torch.float32)).argmax(dim=1).numpy()


def test_training_loop_keeps_closer_to_the_old_model() -> None:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    order = np.random.default_rng(0).permutation(len(y))
    old_rows, train, test = order[:200], order[:800], order[800:1400]
    old = fit_compatible(_net(0), X[old_rows], y[old_rows], _net(9), alpha=0.0, beta=0.0, epochs=15)
    plain = fit_compatible(_net(1), X[train], y[train], old, alpha=0.0, beta=0.0, epochs=15)
    epochs_seen: list[int] = []
    pct = fit_compatible(
        _net(1), X[train], y[train], old, beta=3.0, temperature=2.0, epochs=15,
        progress=lambda e, total: epochs_seen.append(e),
    )  # fmt: skip
    assert epochs_seen == list(range(1, 16))
    old_right = _predict(old, X[test]) == y[test]
    plain_pred, pct_pred = _predict(plain, X[test]), _predict(pct, X[test])
    assert (pct_pred == y[test]).mean() > 0.85
    # distilled toward the old model: more agreement with it where it was right
    assert (old_right & (pct_pred != y[test])).sum() <= (old_right & (plain_pred != y[test])).sum()
    assert (pct_pred == _predict(old, X[test])).mean() > (plain_pred == _predict(old, X[test])).mean()


def test_labels_must_be_class_indices() -> None:
    X = np.zeros((4, 64))
    with pytest.raises(InputError, match="class indices"):
        fit_compatible(_net(0), X, np.array(["a", "b", "a", "b"]), _net(1), epochs=1)
