"""The output changes' lengths are the behaviour section's length axes: with the section they
are taken from its values (computed once, on the axes' workers), and they equal the lengths the
block measures itself without it."""

from __future__ import annotations

import deltaeval
from deltaeval.types import Example, Output, Run

TEXTS = [
    "Plain answer in a few words here.",
    "1. First step\n2. Second step — don't stop",
    "Réponse en français, avec des accents: déjà vu.",
    "  padded with spaces and tabs\t ",
    "日本語の答えです。 mixed with English words",
    "It's well-known: 3.5 things_with_underscores!",
]


def runs() -> tuple[Run, Run]:
    examples = tuple(Example(id=f"q{i}", input=f"Question {i}?") for i in range(60))
    old = Run(
        "v1", examples, tuple(Output(e.id, text=TEXTS[i % 6] + f" {i}") for i, e in enumerate(examples))
    )
    new = Run(
        "v2",
        examples,
        tuple(
            Output(e.id, text=None, error="timeout")
            if i == 7
            else Output(e.id, text=(TEXTS[(i + 1) % 6] + " more words" if i % 2 else TEXTS[i % 6]) + f" {i}")
            for i, e in enumerate(examples)
        ),
    )
    return old, new


def test_lengths_from_the_behaviour_section_equal_the_measured_ones() -> None:
    old, new = runs()
    with_section = deltaeval.compare(old, new, n_boot=100, behaviour=True).data
    without = deltaeval.compare(old, new, n_boot=100, behaviour=False).data
    assert "behaviour" in with_section and "behaviour" not in without
    assert with_section["output_changes"] == without["output_changes"]
    words = with_section["output_changes"]["lengths"]["words"]
    assert words["n"] == 59  # the error output is left out
