"""The behaviour section's faster paths give the values of the direct computation: axes computed
once per distinct output, the bootstrap AUROC by grouped products, one weighting's logistic
Hessian without the column products."""

from __future__ import annotations

import numpy as np
import pytest

from deltaeval.alignment import align
from deltaeval.analysis.behaviour import _PairedAuroc, _weighted_auroc, expit, fit_logistic
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


@pytest.mark.parametrize("distinct", [3, 60])
def test_paired_auroc_is_the_weighted_auroc_to_the_bit(distinct: int) -> None:
    rng = np.random.default_rng(distinct)
    n = 300
    old = rng.integers(0, distinct, n).astype(float)
    new = np.where(rng.random(n) < 0.4, old, rng.integers(0, distinct, n)).astype(float)
    W = rng.multinomial(n, np.full(n, 1.0 / n), size=50).astype(float)
    got = _PairedAuroc(old, new)(np.ascontiguousarray(W.T))
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
    # once equal to the bit; with SciPy 1.17.1 (NumPy 2.4.6) the two differ by 1 ulp on 2% of
    # these values
    np.testing.assert_array_max_ulp(expit(x), scipy_expit(x), maxulp=2)
    assert expit(np.array([-1000.0]))[0] == 0.0


def _fails() -> None:
    raise ValueError("bad input in the child")


def test_forked_returns_the_result_and_raises_the_error() -> None:
    from deltaeval.behaviour.forked import Forked

    data = list(range(1000))  # inherited by the child, not pickled to it
    assert Forked(lambda: sum(data)).result() == sum(data)
    with pytest.raises(ValueError, match="bad input in the child"):
        Forked(_fails).result()
    Forked(lambda: 1).close()  # never asked: the child is ended


def test_change_analysis_beside_the_axes_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    from deltaeval.behaviour import section

    examples = [Example(id=f"e{i}", input=f"Tell me about item {i}") for i in range(40)]
    topics = ["rivers", "bread", "stars", "trains"]
    old = [f"{topics[i % 4]} are fine. I like {topics[i % 4]} and more {i}." for i in range(40)]
    new = [t if i % 3 else f"Briefly: {topics[(i + 1) % 4]} differ, see {i}!" for i, t in enumerate(old)]
    runs = [
        Run(
            name=name,
            examples=tuple(examples),
            outputs=tuple(Output(example_id=e.id, text=t) for e, t in zip(examples, texts, strict=True)),
        )
        for name, texts in (("old", old), ("new", new))
    ]
    alignment = align(*runs)
    monkeypatch.setattr("deltaeval.threads.usable_cores", lambda: 2)
    monkeypatch.setattr(section, "BESIDE_FROM", 1)
    texts = tuple([o.text for o in side] for side in (alignment.old, alignment.new))
    started = section._changes_beside(alignment, texts, [""] * 40, "tfidf", None, 0)  # type: ignore[arg-type]
    assert started is not None and started._process is not None  # forked here
    started.close()
    beside = section.behaviour_section(alignment, n_boot=50)
    monkeypatch.setattr(section, "BESIDE_FROM", 10**9)
    in_order = section.behaviour_section(alignment, n_boot=50)
    assert beside["changes"] is not None and beside["changes"]["clusters"]
    assert beside == in_order


def test_threaded_bootstrap_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    from deltaeval.analysis import behaviour

    rng = np.random.default_rng(5)
    n = 400
    old = {f"a{k}": rng.poisson(2, n).astype(float) for k in range(4)}
    new = {
        name: np.where(rng.random(n) < 0.5, v, rng.poisson(2.3, n)).astype(float) for name, v in old.items()
    }
    monkeypatch.setattr("deltaeval.threads.usable_cores", lambda: 2)
    monkeypatch.setattr(behaviour, "_CHUNK_CELLS", 40 * n)  # several chunks, drawn ahead
    monkeypatch.setattr(behaviour, "THREADS_FROM", 10**12)
    serial = behaviour.behaviour_stats(old, new, n_boot=200).to_dict()
    monkeypatch.setattr(behaviour, "THREADS_FROM", 1)
    threaded = behaviour.behaviour_stats(old, new, n_boot=200).to_dict()
    assert threaded == serial
