"""The behaviour section's texts and inputs read straight from a columnar alignment's columns: the
same as from its per-row objects, and those objects are not built."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deltaeval.alignment import align
from deltaeval.behaviour.section import _texts, _texts_and_inputs, behaviour_section
from deltaeval.columnar import ColumnarAlignment
from deltaeval.io import load_run
from deltaeval.io.base import ColumnMapping
from deltaeval.io.reading import columns_of, read_records
from deltaeval.io.records import generic_run
from deltaeval.types import Run, input_text

pytest.importorskip("pyarrow")


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _records(n: int, *, new: bool) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        record: dict[str, Any] = {"id": f"e{i}", "output": f"answer {i} " * (3 + i % 5)}
        if new and i % 2:
            record["output"] = f"a changed reply {i} with other words " * (2 + i % 4)
        if i % 5 == 0:
            record["output"] = "   "  # blank: no text
        if i % 7 == 0:
            record["output"] = None
        # inputs: the old run lacks some that the new run has; references and tags on some
        if not (new is False and i % 3 == 0):
            record["input"] = f"question {i}" + (" new" if new else "")
        if i % 4 == 0:
            record["reference"] = "ref"
        if i % 6 == 0 and not new:
            record["topic"] = "t"
        if new:
            record["topic"] = f"n{i % 2}"
        out.append(record)
    return out


def test_texts_and_inputs_from_the_columns_equal_the_rows(tmp_path: Path) -> None:
    old = _write(tmp_path / "old.jsonl", _records(60, new=False))
    new = _write(tmp_path / "new.jsonl", _records(60, new=True))
    fast = align(load_run(old), load_run(new))
    assert isinstance(fast, ColumnarAlignment)
    texts, inputs = _texts_and_inputs(fast)
    assert "_rows" not in fast.__dict__  # no per-row objects built
    assert texts == (_texts(fast.old), _texts(fast.new))
    assert inputs == [input_text(e.input) for e in fast.examples]
    assert {None, ""} & set(inputs) and any(i.endswith(" new") for i in inputs)  # both branches


def _per_row(path: Path) -> Run:
    records = read_records(path)
    return generic_run(
        records, columns_of(records), path=path, name=path.stem, mapping=ColumnMapping(), strict=False
    )


def test_behaviour_section_builds_no_rows_and_equals_the_per_row_one(tmp_path: Path) -> None:
    old = _write(tmp_path / "old.jsonl", _records(80, new=False))
    new = _write(tmp_path / "new.jsonl", _records(80, new=True))
    fast = align(load_run(old), load_run(new))
    section = behaviour_section(fast, n_boot=50, seed=0)
    assert "_rows" not in fast.__dict__
    rows = align(_per_row(old), _per_row(new))
    assert not isinstance(rows, ColumnarAlignment)
    assert _texts_and_inputs(fast) == _texts_and_inputs(rows)
    expected = behaviour_section(rows, n_boot=50, seed=0)
    assert json.dumps(section, sort_keys=True) == json.dumps(expected, sort_keys=True)
