"""Positive-congruent training on dataset files: train v2 plainly and with focal distillation, store runs.

:func:`pct` is what ``deltaeval compat pct`` runs: the training file's rows (``input`` a feature
row, a feature dict or text; ``reference`` the label) train the new estimator twice — plainly and
with :func:`deltaeval.compat.pct.fit_compatible` toward the old model — and the evaluation file's
examples are answered by the old model (run ``NAME.old``), the plain v2 (``NAME.new``) and the
compatible v2 (``NAME``, its recipe in the run's params), so ``deltaeval compare NAME.old NAME``
works unchanged.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from deltaeval.backends.callable import SklearnBackend, load_callable, sklearn_from_spec
from deltaeval.compat.pct import (
    DEFAULT_ALPHA,
    DEFAULT_BETA,
    DEFAULT_FLOOR,
    DEFAULT_TEMPERATURE,
    FocalDistillation,
    check_estimator_supported,
    fit_compatible,
)
from deltaeval.compat.runs import Recipe, derived_run
from deltaeval.errors import InputError, UsageError
from deltaeval.types import Example, Run

#: How scikit-learn estimators take the distillation targets (recorded in the recipe).
MECHANISM = "soft targets as sample-weighted repeated rows (one per class)"


@dataclass(frozen=True)
class PCTResult:
    """The three stored runs and what training saw."""

    old_run: Run
    new_run: Run
    run: Run
    n_train: int
    old_right_train: int
    seconds: float


def load_estimator(spec: str, *, trust: bool, what: str) -> Any:
    """An estimator from ``sklearn:PATH`` (a pickle: needs ``trust``) or ``python:MODULE:FUNCTION``.

    A ``python:`` spec names a function called with no argument that returns an unfitted estimator.
    """
    kind, sep, rest = spec.partition(":")
    if sep and kind == "sklearn":
        return sklearn_from_spec(rest, trust=trust).estimator
    if sep and kind == "python":
        factory = load_callable(rest)
        try:
            return factory()
        except Exception as exc:
            raise UsageError(f"{spec} failed: {type(exc).__name__}: {exc}"[:500]) from None
    raise UsageError(
        f"cannot use {spec!r} as the {what} model",
        hint="give sklearn:PATH (a joblib/pickle file; with --trust) or python:MODULE:FUNCTION "
        "(a function returning an unfitted scikit-learn estimator)",
    )


def features(examples: Sequence[Example], estimator: Any, path: Any = None) -> Any:
    """The inputs of ``examples`` as estimator rows: a float matrix, or a list of texts."""
    backend = SklearnBackend(estimator)  # its reading of inputs, the same as `deltaeval run`
    kinds: set[str] = set()
    rows: list[Any] = []
    for example in examples:
        try:
            kind, row = backend._features(example.input)
        except ValueError as exc:
            raise InputError(f"example {example.id!r}: {exc}", path=path) from None
        if kind == "dict":
            raise InputError(
                f"example {example.id!r} has a feature dict, and the old model has no feature_names_in_",
                path=path,
                hint="give the input as a list of numbers, or fit the model on a DataFrame",
            )
        kinds.add(kind)
        rows.append(row)
    if len(kinds) > 1:
        raise InputError("the inputs mix texts and feature rows", path=path, hint="use one kind of input")
    if kinds == {"text"}:
        return rows
    try:
        return np.asarray(rows, dtype=float)
    except ValueError as exc:
        raise InputError(
            f"the feature rows are not numbers of one length: {exc}", path=path, hint="check the input column"
        ) from None


def labels(examples: Sequence[Example], old_model: Any, path: Any = None) -> np.ndarray:
    """The references as labels, in the old model's label type where its classes match as text."""
    missing = [e.id for e in examples if e.reference is None]
    if missing:
        raise InputError(
            f"{len(missing)} training examples have no reference (e.g. {missing[0]!r})",
            path=path,
            hint="give every training example its label in the reference column",
        )
    classes = getattr(old_model, "classes_", None)
    lookup = {str(c): c for c in np.asarray(classes).tolist()} if classes is not None else {}
    return np.asarray([lookup.get(str(e.reference), e.reference) for e in examples])


def check_disjoint(train: Sequence[Example], evaluation: Sequence[Example]) -> None:
    """Raise InputError when an evaluation example's id or input is also a training example's."""
    train_ids = {e.id for e in train}
    train_inputs = {json.dumps(e.input, sort_keys=True, default=str) for e in train}
    for example in evaluation:
        same_input = json.dumps(example.input, sort_keys=True, default=str) in train_inputs
        if example.id in train_ids or same_input:
            what = "id" if example.id in train_ids else "input"
            raise InputError(
                f"evaluation example {example.id!r} has the {what} of a training example",
                hint="evaluate on examples the models were not trained on (split the data first)",
            )


def pct(
    old_spec: str,
    new_spec: str | None,
    train_examples: Sequence[Example],
    eval_examples: Sequence[Example],
    *,
    name: str,
    store: Any,
    trust: bool = False,
    alpha: float = DEFAULT_ALPHA,
    beta: float = DEFAULT_BETA,
    temperature: float = DEFAULT_TEMPERATURE,
    floor: float = DEFAULT_FLOOR,
    old_name: str | None = None,
    new_name: str | None = None,
    source: str = "",
    overwrite: bool = False,
    quiet: bool = False,
) -> PCTResult:
    """Train plain and compatible v2 on ``train_examples``; store the three runs on ``eval_examples``.

    ``new_spec`` None: the old model's estimator with its hyperparameters, retrained (the usual
    update). Raises before any training if a run name is taken and not ``overwrite``.
    """
    from sklearn.base import clone

    from deltaeval.errors import StoreError
    from deltaeval.runner import run_model

    settings = FocalDistillation(alpha=alpha, beta=beta, temperature=temperature)
    old_name, new_name = old_name or f"{name}.old", new_name or f"{name}.new"
    if len({name, old_name, new_name}) < 3:
        raise UsageError("the old, new and compatible runs need three different names")
    for run_name in (name, old_name, new_name):
        if store.has_run(run_name) and not overwrite:
            raise StoreError(
                f"a run named {run_name!r} is already stored",
                path=store.path,
                hint="choose another --name, or pass --overwrite",
            )
    check_disjoint(train_examples, eval_examples)
    started = time.perf_counter()
    old_model = load_estimator(old_spec, trust=trust, what="old")
    template = load_estimator(new_spec, trust=trust, what="new") if new_spec else old_model
    new_model = clone(template)
    check_estimator_supported(new_model)
    X = features(train_examples, old_model)
    y = labels(train_examples, old_model)
    plain = clone(new_model).fit(X, y)
    compatible = fit_compatible(
        new_model, X, y, old_model, alpha=alpha, beta=beta, temperature=temperature, floor=floor
    )
    old_right = int((np.asarray(old_model.predict(X)) == y).sum())

    def answer(model: Any, label: str, run_name: str, *, save: bool = True) -> Any:
        run, _ = run_model(
            SklearnBackend(model, name=label),
            eval_examples,
            name=run_name,
            store=store,
            source=source,
            quiet=quiet,
            overwrite=overwrite,
            save=save,
        )
        return run

    new_label = new_spec or f"{old_spec} retrained"
    old_run = answer(old_model, old_spec, old_name)
    new_run = answer(plain, new_label, new_name)
    answered = answer(compatible, f"{new_label} + focal distillation", name, save=False)
    parameters = {
        **settings.to_dict(),
        "floor": floor,
        "estimator": type(compatible).__name__,
        "mechanism": MECHANISM,
        "n_train": len(y),
        "old_right_train": old_right,
        "new": new_label,
    }
    recipe = Recipe("pct", parameters, sources={"old": old_run, "new": new_run})
    run = derived_run(name, answered.examples, answered.outputs, recipe)
    store.save_run(run, overwrite=overwrite)
    return PCTResult(old_run, new_run, run, len(y), old_right, time.perf_counter() - started)


__all__ = ["MECHANISM", "PCTResult", "check_disjoint", "features", "labels", "load_estimator", "pct"]
