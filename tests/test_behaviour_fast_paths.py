"""The behaviour section's faster paths give the values of the direct computation: axes computed
once per distinct output, the bootstrap AUROC by grouped products, one weighting's logistic
Hessian without the column products."""

from __future__ import annotations

import numpy as np
import pytest

from deltaeval.alignment import align
from deltaeval.analysis.behaviour import DENSE_GROUPS, _PairedAuroc, _weighted_auroc, expit, fit_logistic
from deltaeval.behaviour.axes import compute_axes, default_axis_names
from deltaeval.behaviour.section import _axis_values
from deltaeval.progress import make_progress
from deltaeval.types import Example, Output, Run, input_text


def _runs() -> tuple[Run, Run]:
    examples = [Example(id=f"e{i}", input=f"Question {i % 3}: what about topic {i}?") for i in range(12)]
    old = [f"Answer {i}. It is **fine**! Really?" for i in range(12)]
    new = list(old)
    new[1] = "A new answer, longer and different. Is it? Yes:\n\n- one\n- two"
    new[4] = old[3]  # another example's old output, under another input
    new[7] = old[7] + " More."
    old_outputs = [Output(example_id=e.id, text=t) for e, t in zip(examples, old, strict=True)]
    new_outputs = [Output(example_id=e.id, text=t) for e, t in zip(examples, new, strict=True)]
    old_outputs[9] = Output(example_id="e9", text=None, error="timeout")
    new_outputs[10] = Output(example_id="e10", text=None, error="refused")
    return (
        Run(name="old", examples=tuple(examples), outputs=tuple(old_outputs)),
        Run(name="new", examples=tuple(examples), outputs=tuple(new_outputs)),
    )


def test_axes_of_distinct_outputs_are_the_direct_values() -> None:
    alignment = align(*_runs())
    texts = tuple(
        [o.text if o.error is None else None for o in side] for side in (alignment.old, alignment.new)
    )
    inputs = [input_text(e.input) for e in alignment.examples]
    names = default_axis_names(with_inputs=True)
    with make_progress(quiet=True) as progress:
        old_values, new_values = _axis_values(texts, inputs, names, 1, progress)  # type: ignore[arg-type]
    expected_old = compute_axes(texts[0], inputs, names)
    expected_new = compute_axes(texts[1], inputs, names)
    for name in names:
        np.testing.assert_array_equal(old_values[name], expected_old[name])
        np.testing.assert_array_equal(new_values[name], expected_new[name])
    assert np.isnan(old_values["length_words"][9]) and np.isnan(new_values["length_words"][10])


@pytest.mark.parametrize("distinct", [3, DENSE_GROUPS + 40])
def test_paired_auroc_is_the_weighted_auroc_to_the_bit(distinct: int) -> None:
    rng = np.random.default_rng(distinct)
    n = 300
    old = rng.integers(0, distinct, n).astype(float)
    new = np.where(rng.random(n) < 0.4, old, rng.integers(0, distinct, n)).astype(float)
    W = rng.multinomial(n, np.full(n, 1.0 / n), size=50).astype(float)
    got = _PairedAuroc(old, new)(W, np.ascontiguousarray(W.T))
    expected = _weighted_auroc(old, new, W, W)
    np.testing.assert_array_equal(got, expected)


def test_one_weighting_hessian_matches_the_column_products() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 6))
    y = (X @ rng.normal(size=6) + rng.normal(size=400) > 0).astype(float)
    weights = rng.multinomial(400, np.full(400, 1 / 400), size=3).astype(float)
    many_coef, many_icpt = fit_logistic(X, y, weights)  # several weightings: the column products
    for row in range(3):
        coef, icpt = fit_logistic(X, y, weights[row])  # one weighting: design^T diag(h) design
        np.testing.assert_allclose(coef, many_coef[row], rtol=0, atol=1e-12)
        assert icpt == pytest.approx(many_icpt[row], abs=1e-12)


def test_expit_is_scipys() -> None:
    from scipy.special import expit as scipy_expit

    x = np.random.default_rng(2).normal(scale=12, size=100_000)
    np.testing.assert_array_equal(expit(x), scipy_expit(x))
    assert expit(np.array([-1000.0]))[0] == 0.0
