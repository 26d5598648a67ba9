"""Tiny p-values survive into the JSON report (they were rounded to 12 decimal places: 0)."""

from __future__ import annotations

import math

from deltaeval.comparison import compare
from deltaeval.exact import mcnemar_p
from deltaeval.jsonable import num
from deltaeval.types import Example, Output, Run


def _run(name: str, correct: list[bool]) -> Run:
    examples = tuple(Example(id=f"q{i}", input=f"question {i}") for i in range(len(correct)))
    outputs = tuple(Output(e.id, text="x", correct=c) for e, c in zip(examples, correct, strict=True))
    return Run(name, examples, outputs)


def test_a_strong_paired_change_keeps_its_mcnemar_p_in_the_report() -> None:
    # the pooled MUSCLE benchmark's cells: 58 examples broken, 208 fixed, 1,500 in all
    old = [True] * 58 + [False] * 208 + [True] * 800 + [False] * 434
    new = [False] * 58 + [True] * 208 + [True] * 800 + [False] * 434
    report = compare(_run("v2", old), _run("muscle", new), behaviour=False, slice_discovery=False)
    flips = report.data["flips"]
    assert (flips["negative"], flips["positive"]) == (58, 208)
    exact = mcnemar_p(58, 208)
    assert 5e-21 < exact < 6e-21
    assert flips["mcnemar_p"] > 0 and math.isclose(flips["mcnemar_p"], exact, rel_tol=1e-7)


def test_num_keeps_decimal_places_above_the_small_limit_and_significant_digits_below() -> None:
    assert num(0.123456789012345) == 0.123456789012
    assert num(12.3456789012345678) == 12.345678901235
    assert num(2.5e-5) == 2.5e-5 and num(-3.14159265358979e-9) == -3.1415927e-9
    assert num(0.0) == 0.0 and num(float("nan")) is None and num(None) is None
