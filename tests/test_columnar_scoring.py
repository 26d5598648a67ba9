"""Columnar runs are scored on their columns with the results of scoring them row by row: the same
scorer chosen, the same scores and correctness, the same errors, the same reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from deltaeval import compare
from deltaeval.columnar import ColumnarRun, RunColumns
from deltaeval.errors import DeltaEvalError
from deltaeval.io import load_run
from deltaeval.io.base import ColumnMapping
from deltaeval.io.reading import columns_of, read_records
from deltaeval.io.records import generic_run
from deltaeval.scoring import get_scorer, score_run
from deltaeval.scoring.auto import choose_scorer, score_by_default
from deltaeval.scoring.columnar import choose_scorer_columns
from deltaeval.types import Run

pytest.importorskip("pyarrow")


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _per_row(path: Path) -> Run:
    records = read_records(path)
    run = generic_run(
        records, columns_of(records), path=path, name=path.stem, mapping=ColumnMapping(), strict=False
    )
    return run


def _pairs(*runs: Run) -> list[tuple[str | None, str | None]]:
    return [
        (e.reference, o.text)
        for run in runs
        for e, o in zip(run.examples, run.outputs, strict=True)
        if o.error is None
    ]


HUGE = "9" * 400  # read as infinity
NUMBERS = ["42", "1,000", "-3.5", "50%", "So 6 * 7 = 42\n#### 42", "7|||7.0", HUGE, "0", "1"]
ANSWERS = ["42", "The answer is 42.", "1000", "-3.5 degrees", "50", "#### 41", "seven", "7", "", None]
ANSWERS += [HUGE, "-" + HUGE, "1.0000001", "1.00001", "0.000000000001", "-0", "3/0"]
LETTERS = ["B", "(c)", "a|||D"]
LABELS = ["Paris", "the Beatles", "New York|||NYC"]


def _records(references: list[str], outputs: list[str | None], n: int = 60) -> list[dict[str, Any]]:
    return [
        {
            "id": f"q{i:03d}",
            "input": f"Question {i}?",
            "output": outputs[(i * 7) % len(outputs)],
            "reference": references[i % len(references)],
        }
        for i in range(n)
    ]


@pytest.mark.parametrize(
    ("scorer", "references", "outputs"),
    [
        ("numeric", NUMBERS, ANSWERS),
        ("numeric:rel_tol=0.001", NUMBERS, ANSWERS),
        ("exact:normalize=false", LABELS, ["paris", "Paris ", " NYC", "the Beatles.", None]),
        ("exact", LABELS, ["paris", "Beatles.", "NYC", "Rome", None, "  the  beatles "]),
        ("contains", LABELS, ["It is Paris.", "the beatles rock", "nyc!", "concatenate", None]),
        ("choice", LETTERS, ["B", "The answer is (c).", "d", "I am not sure", "A) one", None]),
        ("regex:Final: (\\w+)", LABELS, ["Final: Paris", "Final: NYC", "Paris", None]),
        ("regex:^[A-Z]", LABELS, ["Paris", "paris", "", None]),
    ],
)
def test_scores_on_columns_equal_scores_by_row(
    tmp_path: Path, scorer: str, references: list[str], outputs: list[str | None]
) -> None:
    path = _write(tmp_path / "run.jsonl", _records(references, outputs))
    run = load_run(path)
    assert isinstance(run, ColumnarRun)
    name, _, option = scorer.partition(":")
    key, _, value = option.partition("=")
    options = {key: json.loads(value)} if value else {}
    spec = scorer if name == "regex" else name
    options = {} if name == "regex" else options
    expected = score_run(_per_row(path).replace(created_at=run.created_at), get_scorer(spec, **options))
    scored = score_run(run, get_scorer(spec, **options))
    assert isinstance(scored, ColumnarRun)
    assert scored.outputs == expected.outputs and scored.examples == expected.examples
    assert scored.content_hash == expected.content_hash
    assert {o.correct for o in scored.outputs} == {True, False}


@pytest.mark.parametrize(
    ("references", "outputs"),
    [
        (NUMBERS, ANSWERS),
        (LETTERS, ["B", "(c)"]),
        (LABELS, ["Paris", "the Beatles", "Rome"]),  # labels: exact
        (LABELS, ["It is Paris, I think", "x"]),  # free text: answer
        (["a reference of many words that goes on and on past ten words in all"], ["x"]),  # long
        (["Paris", "", "Rome"], ["Paris"]),  # some references missing
        ([""], ["Paris"]),  # no references
    ],
)
def test_scorer_chosen_on_columns_as_by_row(
    tmp_path: Path, references: list[str], outputs: list[str | None]
) -> None:
    old = _write(tmp_path / "old.jsonl", _records(references, outputs, 41))
    new = _write(tmp_path / "new.jsonl", _records(references, outputs[::-1], 40))
    runs = (load_run(old), load_run(new))
    chosen = choose_scorer_columns(runs)
    expected = choose_scorer(_pairs(_per_row(old), _per_row(new)))
    assert chosen == expected


def test_outputs_with_errors_are_left_out_of_the_choice_and_score_wrong() -> None:
    columns = RunColumns(
        ids=pa.array(["a", "b", "c"]),
        reference=pa.array(["Paris", "Rome", "Oslo"]),
        text=pa.array(["Paris", "a much longer answer than the reference", None]),
        error=pa.array([None, "timeout", None]),
    )
    run = ColumnarRun(name="r", columns=columns)
    rows = Run(name="r", examples=run.examples, outputs=run.outputs, created_at=run.created_at)
    assert choose_scorer_columns((run,)) == choose_scorer(_pairs(rows))
    assert choose_scorer_columns((run,)).name == "exact"  # the long answer has an error
    scored, expected = score_run(run, get_scorer("exact")), score_run(rows, get_scorer("exact"))
    assert scored.outputs == expected.outputs
    assert [o.correct for o in scored.outputs] == [True, False, False]


@pytest.mark.parametrize(
    ("scorer", "references"),
    [
        ("numeric", ["42", "no number here", "7"]),  # a reference the scorer cannot read
        ("exact", ["42", None, "7"]),  # a missing reference
        ("contains", ["42", "   |||  ", "7"]),  # a blank one
    ],
)
def test_scorer_errors_are_the_per_row_ones(
    tmp_path: Path, scorer: str, references: list[str | None]
) -> None:
    records = [
        {"id": f"q{i}", "output": "42", "reference": references[i % 3], "input": f"x{i}"} for i in range(9)
    ]
    path = _write(tmp_path / "run.jsonl", records)
    run = load_run(path)
    assert isinstance(run, ColumnarRun)
    with pytest.raises(DeltaEvalError) as expected:
        score_run(_per_row(path), get_scorer(scorer))
    with pytest.raises(DeltaEvalError) as got:
        score_run(run, get_scorer(scorer))
    assert type(got.value) is type(expected.value) and str(got.value) == str(expected.value)


def test_default_scoring_and_reports_equal_by_row(tmp_path: Path) -> None:
    old = _write(tmp_path / "old.jsonl", _records(NUMBERS, ANSWERS, 200))
    new = _write(tmp_path / "new.jsonl", _records(NUMBERS, ANSWERS[::-1], 210))
    fast_old, fast_new = load_run(old), load_run(new)
    slow_old = _per_row(old).replace(created_at=fast_old.created_at)
    slow_new = _per_row(new).replace(created_at=fast_new.created_at)
    scored_old, scored_new, choice = score_by_default(fast_old, fast_new)
    assert isinstance(scored_old, ColumnarRun) and isinstance(scored_new, ColumnarRun)
    rows_old, rows_new, rows_choice = score_by_default(slow_old, slow_new)
    assert choice == rows_choice and choice is not None and choice.name == "numeric"
    assert scored_old.outputs == rows_old.outputs and scored_new.outputs == rows_new.outputs
    fast = compare(fast_old, fast_new, behaviour=False, n_boot=50)
    slow = compare(slow_old, slow_new, behaviour=False, n_boot=50)
    assert fast.to_json() == slow.to_json()
    assert fast.data["settings"]["scorer"] == "numeric"


def test_a_reference_of_an_error_output_is_not_read() -> None:
    columns = RunColumns(
        ids=pa.array(["a", "b", "c"]),
        reference=pa.array(["42", "no number", "7"]),
        text=pa.array(["42", "x", None]),
        error=pa.array([None, "timeout", None]),
    )
    run = ColumnarRun(name="r", columns=columns)
    rows = Run(name="r", examples=run.examples, outputs=run.outputs, created_at=run.created_at)
    for spec in ("numeric", "exact", "contains"):
        scored = score_run(run, get_scorer(spec))
        assert isinstance(scored, ColumnarRun)
        assert scored.outputs == score_run(rows, get_scorer(spec)).outputs
        assert [o.correct for o in scored.outputs] == [True, False, False]
