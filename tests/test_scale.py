"""Large comparisons stay readable and small: listed examples are capped and counted."""

from __future__ import annotations

import json

from deltaeval import compare
from deltaeval.comparison import MAX_NEGATIVE_FLIPS
from deltaeval.types import Example, Output, Run

N = 3000
NEGATIVE = 1500  # the first NEGATIVE examples go from right to wrong


def _run(name: str, new: bool) -> Run:
    examples = tuple(
        Example(id=f"ex{i:05d}", input=f"q{i}", reference="a", tags={"t": "x"}) for i in range(N)
    )
    outputs = tuple(
        Output(
            example_id=f"ex{i:05d}",
            text="b" if new and i < NEGATIVE else "a",
            correct=not (new and i < NEGATIVE),
        )
        for i in range(N)
    )
    return Run(name=name, examples=examples, outputs=outputs)


def test_negative_flips_listed_up_to_the_cap_and_counted() -> None:
    report = compare(_run("old", False), _run("new", True), behaviour=False)
    examples = report.data["examples"]
    assert report.flips["negative"] == NEGATIVE
    assert examples["n_negative_flips"] == NEGATIVE
    listed = [record["id"] for record in examples["negative_flips"]]
    assert len(listed) == MAX_NEGATIVE_FLIPS < NEGATIVE
    assert listed == [f"ex{i:05d}" for i in range(MAX_NEGATIVE_FLIPS)]  # the first, in the old run's order
    assert len(report.to_json()) < 400_000
    assert f"the first {MAX_NEGATIVE_FLIPS:,} in the HTML report" in report.to_markdown()
    html = report.to_html()
    assert f"holds the first {MAX_NEGATIVE_FLIPS:,} of {NEGATIVE:,} negative flips" in html
    assert json.loads(report.to_json())["examples"]["n_negative_flips"] == NEGATIVE


def test_few_negative_flips_are_all_listed() -> None:
    old, new = _run("old", False), _run("new", True)
    new = new.replace(
        outputs=tuple(
            o if i >= 5 or i < 3 else Output(o.example_id, "a", correct=True)
            for i, o in enumerate(new.outputs)
        )
    )
    report = compare(old.replace(examples=old.examples[:5], outputs=old.outputs[:5]), new, behaviour=False)
    examples = report.data["examples"]
    assert examples["n_negative_flips"] == 3 == len(examples["negative_flips"])
    assert "holds the first" not in report.to_html()
