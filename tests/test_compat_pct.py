"""Positive-congruent training (focal distillation) for scikit-learn estimators, on real data."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.metrics import log_loss
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils.validation import check_is_fitted

from deltaeval.compat.pct import FocalDistillation, expand_rows, fit_compatible, soft_targets, soften
from deltaeval.errors import InputError, UsageError


def test_soft_targets_by_hand() -> None:
    # example 0: the old model is right (w = alpha + beta = 1.5); example 1: wrong (w = alpha = 0.5)
    targets, right = soft_targets([0, 1], [[0.8, 0.2], [0.7, 0.3]], FocalDistillation(0.5, 1.0, 1.0))
    assert right.tolist() == [True, False]
    np.testing.assert_allclose(targets, [[1 + 1.5 * 0.8, 1.5 * 0.2], [0.5 * 0.7, 1 + 0.5 * 0.3]])
    # temperature 2 softens: softmax(log p / 2) = sqrt(p) normalised
    q = soften([[0.8, 0.2]], 2.0)
    np.testing.assert_allclose(q, [[np.sqrt(0.8), np.sqrt(0.2)]] / (np.sqrt(0.8) + np.sqrt(0.2)))


def test_repeated_rows_carry_the_soft_target_loss() -> None:
    """The weighted log loss of the repeated rows is CE(p, y) + w * CE(p, q_old), summed."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 2))
    y = np.array([0, 1, 2, 1, 0])
    old = rng.dirichlet([1, 1, 1], size=5)
    settings = FocalDistillation(alpha=0.2, beta=2.0)
    targets, right = soft_targets(y, old, settings)
    rows, labels, weights = expand_rows(X, targets, np.arange(3), floor=0.0)
    p = rng.dirichlet([2, 2, 2], size=5)  # any model's class distribution on the 5 examples
    p_rows = p[np.nonzero(targets > 0)[0]]
    got = log_loss(labels, p_rows, sample_weight=weights, normalize=False, labels=[0, 1, 2])
    w = settings.weights(right)
    want = -np.log(p[np.arange(5), y]).sum() - (w[:, None] * old * np.log(p)).sum()
    assert got == pytest.approx(want)
    assert rows.shape == (15, 2) and np.allclose(weights.sum(), 5 + w.sum())


@pytest.fixture(scope="module")
def digits() -> dict[str, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    return {"train": order[:700], "test": order[700:1300], "X": X, "y": y, "old": order[:150]}


def _logistic() -> object:
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.1))


def test_fewer_negative_flips_than_the_plain_update(digits: dict[str, np.ndarray]) -> None:
    X, y, train, test = digits["X"], digits["y"], digits["train"], digits["test"]
    old = _logistic().fit(X[digits["old"]], y[digits["old"]])
    plain = _logistic().fit(X[train], y[train])
    new = _logistic()
    pct = fit_compatible(new, X[train], y[train], old, beta=2.0)
    with pytest.raises(NotFittedError):
        check_is_fitted(new)  # the estimator passed in is left as it was
    old_right = old.predict(X[test]) == y[test]
    plain_flips = int((old_right & (plain.predict(X[test]) != y[test])).sum())
    pct_flips = int((old_right & (pct.predict(X[test]) != y[test])).sum())
    assert plain_flips > 0
    assert pct_flips < plain_flips
    # beta 0 and alpha 0: no distillation, the plain update again
    same = fit_compatible(_logistic(), X[train], y[train], old, alpha=0.0, beta=0.0)
    assert (same.predict(X[test]) == plain.predict(X[test])).all()


def test_old_model_without_probabilities(digits: dict[str, np.ndarray]) -> None:
    X, y, train = digits["X"], digits["y"], digits["train"][:300]
    old = RidgeClassifier().fit(X[digits["old"]], y[digits["old"]])  # predict only: one-hot targets
    model = fit_compatible(_logistic(), X[train], y[train], old)
    assert model.score(X[train], y[train]) > 0.9


@pytest.mark.parametrize(
    ("estimator", "needle"),
    [(KNeighborsClassifier(), "sample_weight"), (SVC(), "predict_proba")],
)
def test_unsupported_estimators_are_refused(
    digits: dict[str, np.ndarray], estimator: object, needle: str
) -> None:
    X, y, train = digits["X"], digits["y"], digits["train"][:100]
    old = _logistic().fit(X[train], y[train])
    with pytest.raises(UsageError, match=needle):
        fit_compatible(estimator, X[train], y[train], old)


def test_bad_settings_and_shapes(digits: dict[str, np.ndarray]) -> None:
    X, y, train = digits["X"], digits["y"], digits["train"][:100]
    old = _logistic().fit(X[train], y[train])
    with pytest.raises(UsageError, match="beta"):
        fit_compatible(_logistic(), X[train], y[train], old, beta=-1)
    with pytest.raises(UsageError, match="temperature"):
        fit_compatible(_logistic(), X[train], y[train], old, temperature=0)
    with pytest.raises(InputError, match="rows"):
        fit_compatible(_logistic(), X[train], y[train][:-1], old)
