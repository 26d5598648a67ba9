"""Positive-congruent training: a new classifier that keeps what the old one got right.

Focal distillation (Yan et al., "Positive-Congruent Training: Towards Regression-Free Model
Updates", CVPR 2021) trains the new model on the task loss plus a distillation loss toward the old
model, weighted per training example by

    w_i = alpha + beta * [old model right on example i]

so the new model is pulled toward the old one mostly where following it is safe. The loss of one
example is ``CE(p_new, y) + w_i * KL(q_old || p_new)``, where ``q_old`` is the old model's class
distribution softened by ``temperature`` (``alpha=0`` distils only where the old model was right).

How each kind of model is trained (:func:`fit_compatible` chooses from the model):

- **scikit-learn estimators — soft targets through sample weights.** scikit-learn classifiers take
  one hard label per row, but most take ``sample_weight``. Each training row is repeated once per
  class ``k`` with label ``k`` and weight ``[k = y_i] + w_i * q_old[i, k]`` (weights below
  ``floor`` times the row's largest are dropped). For an estimator whose training loss is the log
  loss, the weighted loss of the repeated rows is ``CE(p, y) + w_i * CE(p, q_old)`` summed over the
  examples — the task loss keeps the weight it has in a plain fit and the distillation comes on
  top, which is the objective above up to a constant (``KL = CE − entropy of q_old``):
  LogisticRegression, SGDClassifier(loss="log_loss"), MLPClassifier,
  HistGradientBoostingClassifier, GradientBoostingClassifier, and the trees and forests with
  ``criterion="log_loss"`` (with the default Gini criterion they fit the same weighted targets
  under the Brier score). Supported: any estimator (or Pipeline whose last step) takes
  ``sample_weight`` in ``fit`` and has ``predict_proba``; others (KNeighborsClassifier, SVC without
  ``probability=True``…) are refused with an error. The temperature softens the old model only: an
  estimator's own outputs have none. The estimator passed in is not changed: a fitted clone is
  returned.
- **PyTorch modules — a training loop deltaeval owns** (torch imported only here): mini-batch
  AdamW on ``cross_entropy(logits, y) + mean(w_i * T² * KL(softmax(old / T) || softmax(new / T)))``
  with the old model's logits computed once. The module is trained in place and returned.

The old model may be a fitted scikit-learn estimator (``predict_proba``, else ``predict`` as a
one-hot distribution) or a PyTorch module returning logits.

Examples
--------
>>> from sklearn.datasets import load_digits
>>> from sklearn.linear_model import LogisticRegression
>>> X, y = load_digits(return_X_y=True)
>>> old = LogisticRegression(max_iter=500).fit(X[:300] / 16, y[:300])
>>> new = fit_compatible(LogisticRegression(max_iter=500), X[:600] / 16, y[:600], old, beta=1.0)
>>> new.predict(X[:3] / 16).tolist()
[0, 1, 2]
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from deltaeval.errors import InputError, UsageError

#: Default weight of the distillation loss on every example.
DEFAULT_ALPHA = 0.0
#: Default extra weight on examples the old model got right.
DEFAULT_BETA = 1.0
#: Default temperature of the old model's distribution.
DEFAULT_TEMPERATURE = 1.0
#: Repeated rows (scikit-learn) whose weight is below this share of the row's largest are dropped.
DEFAULT_FLOOR = 1e-3


@dataclass(frozen=True)
class FocalDistillation:
    """The settings of focal distillation (the recipe recorded with a compatible run)."""

    alpha: float = DEFAULT_ALPHA
    beta: float = DEFAULT_BETA
    temperature: float = DEFAULT_TEMPERATURE

    def __post_init__(self) -> None:
        for name in ("alpha", "beta"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise UsageError(f"{name} must be a finite number >= 0, not {value}")
        if not np.isfinite(self.temperature) or self.temperature <= 0:
            raise UsageError(f"temperature must be a finite number > 0, not {self.temperature}")

    def weights(self, old_correct: ArrayLike) -> NDArray[np.float64]:
        """``alpha + beta * old_correct``: the distillation weight of each example."""
        return self.alpha + self.beta * np.asarray(old_correct, dtype=float)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def soften(proba: ArrayLike, temperature: float) -> NDArray[np.float64]:
    """A class distribution (rows of ``proba``) at ``temperature``: ``softmax(log p / T)``."""
    logp = np.log(np.clip(np.asarray(proba, dtype=float), 1e-300, None)) / temperature
    logp -= logp.max(axis=1, keepdims=True)
    q = np.exp(logp)
    return q / q.sum(axis=1, keepdims=True)


def soft_targets(
    y_index: ArrayLike,
    old_proba: ArrayLike,
    settings: FocalDistillation,
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Per example and class, the weight of that class in the loss; and where the old model was right.

    Row ``i`` is ``onehot(y_i) + w_i * q_old[i]``: its cross-entropy against the new model's
    distribution is ``CE(p, y_i) + w_i * CE(p, q_old[i])``. ``y_index`` holds class indices into the
    columns of ``old_proba``.
    """
    y_index = np.asarray(y_index, dtype=np.int64)
    proba = np.asarray(old_proba, dtype=float)
    old_correct = proba.argmax(axis=1) == y_index
    targets = settings.weights(old_correct)[:, None] * soften(proba, settings.temperature)
    targets[np.arange(len(y_index)), y_index] += 1.0
    return targets, old_correct


# -- the old model ---------------------------------------------------------------------------


def _is_torch_module(model: Any) -> bool:
    return any(
        cls.__module__.startswith("torch.nn") and cls.__name__ == "Module" for cls in type(model).__mro__
    )


def _old_proba(old_model: Any, X: Any, classes: NDArray[Any]) -> NDArray[np.float64]:
    """The old model's class distribution on ``X``, columns in the order of ``classes``."""
    if _is_torch_module(old_model):
        return soften_logits(_torch_logits(old_model, X), 1.0)
    own = getattr(old_model, "classes_", None)
    if own is None:
        raise UsageError(
            f"the old model ({type(old_model).__name__}) has no classes_: is it fitted?",
            hint="pass a fitted scikit-learn classifier or a PyTorch module returning logits",
        )
    own = np.asarray(own)
    if hasattr(old_model, "predict_proba"):
        proba = np.asarray(old_model.predict_proba(X), dtype=float)
    else:  # hard predictions: a one-hot distribution
        predicted = np.asarray(old_model.predict(X))
        proba = (predicted[:, None] == own[None, :]).astype(float)
    position = {c: i for i, c in enumerate(classes.tolist())}
    missing = [c for c in own.tolist() if c not in position]
    if missing:
        raise InputError(
            f"the old model predicts classes the training labels lack: {missing[:5]}",
            hint="train the new model on labels that cover the old model's classes",
        )
    full = np.zeros((proba.shape[0], len(classes)))
    full[:, [position[c] for c in own.tolist()]] = proba
    return full


def soften_logits(logits: NDArray[np.float64], temperature: float) -> NDArray[np.float64]:
    """``softmax(logits / T)`` of each row."""
    z = np.asarray(logits, dtype=float) / temperature
    z -= z.max(axis=1, keepdims=True)
    q = np.exp(z)
    return q / q.sum(axis=1, keepdims=True)


# -- scikit-learn ----------------------------------------------------------------------------


def _fit_accepts_weights(estimator: Any) -> tuple[bool, str | None]:
    """Whether ``fit`` takes ``sample_weight``; for a Pipeline, the name of its last step."""
    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list) and steps:
        name, last = steps[-1]
        ok, _ = _fit_accepts_weights(last)
        return ok, name
    try:
        return "sample_weight" in inspect.signature(estimator.fit).parameters, None
    except (TypeError, ValueError):
        return False, None


def _final(estimator: Any) -> Any:
    steps = getattr(estimator, "steps", None)
    return steps[-1][1] if isinstance(steps, list) and steps else estimator


def check_estimator_supported(estimator: Any) -> str | None:
    """Raise UsageError unless focal distillation can train ``estimator``; the Pipeline step name."""
    final = _final(estimator)
    kind = type(final).__name__
    if not callable(getattr(estimator, "fit", None)):
        raise UsageError(
            f"{kind} has no fit method", hint="pass an unfitted scikit-learn classifier or a torch module"
        )
    ok, step = _fit_accepts_weights(estimator)
    if not ok:
        raise UsageError(
            f"{kind} cannot be trained with focal distillation: its fit takes no sample_weight",
            hint="use a classifier whose fit takes sample_weight and that has predict_proba "
            "(LogisticRegression, MLPClassifier, HistGradientBoostingClassifier, RandomForestClassifier…) "
            "or a PyTorch module",
        )
    if not hasattr(final, "predict_proba"):
        raise UsageError(
            f"{kind} cannot be trained with focal distillation: it has no predict_proba, so it cannot "
            "learn a class distribution from soft targets",
            hint="use a probabilistic classifier (for SVC: probability=True) or a PyTorch module",
        )
    return step


def expand_rows(
    X: Any, targets: NDArray[np.float64], classes: NDArray[Any], floor: float = DEFAULT_FLOOR
) -> tuple[Any, NDArray[Any], NDArray[np.float64]]:
    """Soft targets as weighted hard-label rows: (X repeated, labels, sample weights)."""
    keep = targets > floor * targets.max(axis=1, keepdims=True)
    rows, cols = np.nonzero(keep)
    X_rows = X[rows] if hasattr(X, "shape") else [X[i] for i in rows.tolist()]
    return X_rows, classes[cols], targets[rows, cols]


def _fit_sklearn(
    new_model: Any, X: Any, y: NDArray[Any], old_model: Any, settings: FocalDistillation, floor: float
) -> Any:
    from sklearn.base import clone

    step = check_estimator_supported(new_model)
    own = getattr(old_model, "classes_", None)
    classes = np.unique(np.concatenate([y, np.asarray(own)]) if own is not None else y)
    proba = _old_proba(old_model, X, classes)
    y_index = np.searchsorted(classes, y)
    targets, _ = soft_targets(y_index, proba, settings)
    X_rows, labels, weights = expand_rows(X, targets, classes, floor)
    model = clone(new_model)
    key = f"{step}__sample_weight" if step is not None else "sample_weight"
    return model.fit(X_rows, labels, **{key: weights})


# -- PyTorch ---------------------------------------------------------------------------------


def _torch_logits(module: Any, X: Any, batch_size: int = 1024) -> NDArray[np.float64]:
    import torch

    was_training = module.training
    module.eval()
    inputs = torch.as_tensor(np.asarray(X), dtype=torch.float32)
    try:
        with torch.no_grad():
            parts = [module(inputs[i : i + batch_size]) for i in range(0, len(inputs), batch_size)]
    finally:
        module.train(was_training)
    return torch.cat(parts).double().numpy()


def focal_distillation_loss(
    logits: Any, labels: Any, old_logits: Any, weights: Any, temperature: float
) -> Any:
    """``mean(CE(logits, labels)) + T² · mean(weights · KL(softmax(old / T) ‖ softmax(new / T)))`` (torch)."""
    import torch.nn.functional as F

    task = F.cross_entropy(logits, labels)
    kl = F.kl_div(
        F.log_softmax(logits / temperature, dim=1),
        F.log_softmax(old_logits / temperature, dim=1),
        reduction="none",
        log_target=True,
    ).sum(dim=1)
    return task + (weights * kl).mean() * temperature * temperature


@dataclass(frozen=True)
class TorchTraining:
    """The training loop's settings for a PyTorch module."""

    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    seed: int = 0


def _fit_torch(
    module: Any,
    X: Any,
    y: NDArray[Any],
    old_model: Any,
    settings: FocalDistillation,
    training: TorchTraining,
    progress: Callable[[int, int], None] | None,
) -> Any:
    import torch

    y_index = np.asarray(y)
    if not np.issubdtype(y_index.dtype, np.integer) or (len(y_index) and y_index.min() < 0):
        raise InputError(
            "a PyTorch module needs labels that are class indices 0..K-1",
            hint="encode the labels, e.g. with sklearn.preprocessing.LabelEncoder",
        )
    if _is_torch_module(old_model):
        old_logits = _torch_logits(old_model, X)
    else:
        k = int(y_index.max()) + 1 if len(y_index) else 0
        own = getattr(old_model, "classes_", None)
        k = max(k, int(np.max(own)) + 1) if own is not None else k
        old_logits = np.log(np.clip(_old_proba(old_model, X, np.arange(k)), 1e-12, None))
    old_correct = old_logits.argmax(axis=1) == y_index
    weights = settings.weights(old_correct)
    T = settings.temperature

    generator = torch.Generator().manual_seed(training.seed)
    inputs = torch.as_tensor(np.asarray(X), dtype=torch.float32)
    labels = torch.as_tensor(y_index, dtype=torch.long)
    teacher = torch.as_tensor(old_logits, dtype=torch.float32)
    focal = torch.as_tensor(weights, dtype=torch.float32)
    optimizer = torch.optim.AdamW(module.parameters(), lr=training.lr, weight_decay=training.weight_decay)
    n = len(labels)
    module.train()
    for epoch in range(training.epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, training.batch_size):
            batch = order[start : start + training.batch_size]
            logits = module(inputs[batch])
            if logits.shape[1] != teacher.shape[1]:
                raise InputError(
                    f"the new module gives {logits.shape[1]} logits and the old model "
                    f"{teacher.shape[1]} classes",
                    hint="both models must score the same classes in the same order",
                )
            loss = focal_distillation_loss(logits, labels[batch], teacher[batch], focal[batch], T)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if progress is not None:
            progress(epoch + 1, training.epochs)
    module.eval()
    return module


# -- the entry point -------------------------------------------------------------------------


def fit_compatible(
    new_model: Any,
    X: Any,
    y: ArrayLike,
    old_model: Any,
    *,
    alpha: float = DEFAULT_ALPHA,
    beta: float = DEFAULT_BETA,
    temperature: float = DEFAULT_TEMPERATURE,
    floor: float = DEFAULT_FLOOR,
    epochs: int = 30,
    batch_size: int = 64,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> Any:
    """Train ``new_model`` on ``(X, y)`` with focal distillation toward ``old_model``.

    Parameters
    ----------
    new_model:
        An unfitted scikit-learn classifier or Pipeline (its fit must take ``sample_weight`` and it
        must have ``predict_proba``; a fitted clone is returned), or a ``torch.nn.Module`` mapping a
        float tensor of rows to logits (trained in place and returned).
    X, y:
        Training rows and labels (for PyTorch: class indices ``0..K-1``).
    old_model:
        The fitted old model: a scikit-learn classifier or a PyTorch module returning logits.
    alpha, beta:
        Distillation weight ``alpha + beta * [old right]`` per example.
    temperature:
        Softens the old model's distribution (PyTorch: both models', with the usual ``T²`` factor).
    floor:
        scikit-learn only: repeated rows below this share of their example's largest weight are dropped.
    epochs, batch_size, lr, weight_decay, seed, progress:
        PyTorch only: the training loop (AdamW); ``progress(epoch, epochs)`` after each epoch.
    """
    settings = FocalDistillation(alpha=float(alpha), beta=float(beta), temperature=float(temperature))
    labels = np.asarray(y)
    n = len(X) if not hasattr(X, "shape") else X.shape[0]
    if labels.ndim != 1 or len(labels) != n:
        raise InputError(f"X has {n} rows but y has shape {labels.shape}", hint="give one label per row")
    if n == 0:
        raise InputError("no training rows", hint="give at least one labelled row")
    if _is_torch_module(new_model):
        training = TorchTraining(epochs, batch_size, lr, weight_decay, seed)
        return _fit_torch(new_model, X, labels, old_model, settings, training, progress)
    return _fit_sklearn(new_model, X, labels, old_model, settings, floor)


__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_BETA",
    "DEFAULT_TEMPERATURE",
    "FocalDistillation",
    "TorchTraining",
    "check_estimator_supported",
    "expand_rows",
    "fit_compatible",
    "focal_distillation_loss",
    "soft_targets",
    "soften",
]
