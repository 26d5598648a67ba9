"""Plain JSONL files read into columns read exactly as the per-row reader reads them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deltaeval import compare
from deltaeval.alignment import align
from deltaeval.columnar import ColumnarAlignment, ColumnarRun
from deltaeval.errors import AlignmentError
from deltaeval.io import load_run
from deltaeval.io.base import ColumnMapping
from deltaeval.io.reading import columns_of, read_records
from deltaeval.io.records import generic_run
from deltaeval.types import Run

pytest.importorskip("pyarrow")


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _per_row(path: Path, mapping: ColumnMapping | None = None) -> Run:
    """The run as the per-row reader builds it (with the loader's file time)."""
    records = read_records(path)
    run = generic_run(
        records,
        columns_of(records),
        path=path,
        name=path.stem,
        mapping=mapping or ColumnMapping(),
        strict=False,
    )
    return run


def _records(n: int, *, new: bool) -> list[dict[str, Any]]:
    records = []
    for i in range(n):
        right = (i % 3 != 0) if not new else (i % 4 != 0)
        record: dict[str, Any] = {
            "id": f"q{i}",
            "input": f"Question {i}?" if i % 7 else "   ",  # blank input reads as None
            "output": ("42" if right else " 41 ") if i % 11 else "",
            "reference": "42" if i % 13 else None,
            "correct": right,
            "category": ["math", "code", "prose"][i % 3] if i % 17 else "",
            "difficulty": i % 4,
            "note": "a long free-text remark that is no category at all, " * 3,
            "ratio": i / 7,
        }
        if i % 8 == 0:
            record["input"] = f'Caf\u00e9 "{i}" \\ tab\there \u2603 \U0001f600'  # escaped by json.dumps
            record["category"] = "ma\u00dfe"
        if new and i % 6 == 0:
            record["output"] = f"  {record['output']}\n"  # the same output up to whitespace
        if i % 9 == 0:
            del record["difficulty"]  # missing in some records
        records.append(record)
    return records


def test_plain_jsonl_reads_as_the_per_row_reader(tmp_path: Path) -> None:
    path = _write(tmp_path / "old.jsonl", _records(200, new=False))
    columnar = load_run(path)
    assert isinstance(columnar, ColumnarRun)
    expected = _per_row(path).replace(created_at=columnar.created_at)
    assert columnar.notes == expected.notes and columnar.notes  # note and ratio are not tags
    assert columnar.content_hash == expected.content_hash
    assert columnar.examples == expected.examples
    assert columnar.outputs == expected.outputs
    assert columnar == expected
    assert columnar.example_at(3) == expected.examples[3] and columnar.output_at(3) == expected.outputs[3]
    assert len(columnar) == 200 and columnar.ids == expected.ids
    assert columnar.has_correctness and not columnar.has_scores
    renamed = columnar.replace(name="other")
    assert isinstance(renamed, ColumnarRun) and renamed.name == "other"
    changed = columnar.replace(outputs=expected.outputs)
    assert type(changed) is Run and changed.outputs == expected.outputs


def test_reports_from_columns_equal_reports_from_rows(tmp_path: Path) -> None:
    old_path = _write(tmp_path / "old.jsonl", _records(300, new=False))
    new_records = [r for r in _records(320, new=True) if r["id"] not in ("q1", "q2")]  # missing in new
    new_path = _write(tmp_path / "new.jsonl", new_records)
    old, new = load_run(old_path), load_run(new_path)
    alignment = align(old, new)
    assert isinstance(alignment, ColumnarAlignment)
    rows = align(_per_row(old_path), _per_row(new_path))
    assert alignment.ids == rows.ids
    assert alignment.missing_in_new == rows.missing_in_new and alignment.missing_in_old == rows.missing_in_old
    assert alignment.tag_names() == rows.tag_names()
    assert alignment.tag_values("category") == rows.tag_values("category")
    assert (alignment.same_output() == rows.same_output()).all()
    assert alignment.examples == rows.examples and alignment.old == rows.old and alignment.new == rows.new
    for by in ((), ("category",), ("category", "difficulty")):
        fast = compare(old, new, by=by, behaviour=False, n_boot=50).to_json()
        slow_old = _per_row(old_path).replace(created_at=old.created_at)
        slow_new = _per_row(new_path).replace(created_at=new.created_at)
        assert fast == compare(slow_old, slow_new, by=by, behaviour=False, n_boot=50).to_json()


def test_numeric_ids_and_answers_read_as_text(tmp_path: Path) -> None:
    records = [
        {"id": i, "output": i % 3, "reference": 1, "correct": i % 3 == 1, "level": i % 2} for i in range(9)
    ]
    path = _write(tmp_path / "n.jsonl", records)
    run = load_run(path)
    assert isinstance(run, ColumnarRun)
    expected = _per_row(path)
    assert run.examples == expected.examples and run.outputs == expected.outputs
    assert run.content_hash == expected.content_hash


def test_tags_merged_from_the_new_run_where_the_old_lacks_them(tmp_path: Path) -> None:
    old = [
        {"id": f"e{i}", "output": "a", "correct": True, "reference": None if i % 2 else "a"} for i in range(6)
    ]
    new = [
        {"id": f"e{i}", "output": "b", "correct": i % 3 == 0, "reference": "a", "topic": f"t{i % 2}"}
        for i in range(6)
    ]
    old_path, new_path = _write(tmp_path / "o.jsonl", old), _write(tmp_path / "n.jsonl", new)
    fast = align(load_run(old_path), load_run(new_path))
    rows = align(_per_row(old_path), _per_row(new_path))
    assert fast.tag_values("topic") == rows.tag_values("topic") == ["t0", "t1"] * 3
    assert fast.examples == rows.examples


def test_strict_and_missing_correctness_errors_as_per_row(tmp_path: Path) -> None:
    old_path = _write(
        tmp_path / "o.jsonl", [{"id": "a", "output": "x", "correct": True}, {"id": "b", "output": "y"}]
    )
    new_path = _write(tmp_path / "n.jsonl", [{"id": "a", "output": "x", "correct": False}])
    old, new = load_run(old_path), load_run(new_path)
    assert isinstance(old, ColumnarRun) and isinstance(new, ColumnarRun)
    with pytest.raises(AlignmentError, match=r"lacks 1 example id, e\.g\. 'b'"):
        align(old, new, strict=True)
    both = _write(
        tmp_path / "n2.jsonl", [{"id": "a", "output": "x", "correct": False}, {"id": "b", "output": "z"}]
    )
    with pytest.raises(AlignmentError, match="no correctness for example 'b'"):
        align(old, load_run(both)).correct()


@pytest.mark.parametrize(
    "lines",
    [
        ['{"id": "a", "output": "x\\ud800", "correct": true}'],  # a lone surrogate: repaired per row
        ['{"id": "a", "output": "x", "correct": true}', '{"id": "a", "output": "y", "correct": true}'],
        ['{"id": "a", "output": "x", "correct": true, "meta": {"k": 1}}'],  # an object in a cell
        ['{"input": "no id", "output": "x", "correct": true}'],  # hashed ids
        ['{"id": "a", "output": "x", "correct": "yes"}'],  # correctness as text
        ['{"id": "a", "output": "x", "correct": true, "error": null}'],  # an error column
        ['{"id": 1, "output": "x", "correct": true}', '{"id": "b", "output": "y", "correct": true}'],
    ],
)
def test_files_that_need_the_per_row_reader_are_read_per_row(tmp_path: Path, lines: list[str]) -> None:
    path = tmp_path / "run.jsonl"
    path.write_text("\n".join(lines) + "\n")
    run = load_run(path)
    assert not isinstance(run, ColumnarRun)
    assert run.content_hash == _per_row(path).content_hash


def test_plain_parquet_reads_as_the_per_row_reader(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from deltaeval.io.parquet import read_parquet

    path = tmp_path / "run.parquet"
    pq.write_table(pa.Table.from_pylist(_records(120, new=True)), path)
    run = load_run(path)
    assert isinstance(run, ColumnarRun)
    columns, rows = read_parquet(path)
    expected = generic_run(
        rows, columns, path=path, name="run", mapping=ColumnMapping(), strict=False, unit="row"
    )
    assert run.examples == expected.examples and run.outputs == expected.outputs
    assert run.notes == expected.notes and run.content_hash == expected.content_hash


def test_word_counts_as_str_split(tmp_path: Path) -> None:
    from deltaeval.behaviour.section import has_text_outputs
    from deltaeval.comparison import _text_outputs

    texts = [
        "  a  b\tc\n",
        "x",
        "a\x1cb",
        "caf\u00e9 \u3000 b\u2003c",
        "one two three four",
        "\u00a0x\u00a0y",
    ]
    records = [{"id": f"e{i}", "output": t, "correct": True} for i, t in enumerate(texts)]
    old = _write(tmp_path / "o.jsonl", records)
    new = _write(tmp_path / "n.jsonl", [{**r, "output": r["output"] + " more words here"} for r in records])
    fast = align(load_run(old), load_run(new))
    expected = [len(t.split()) for t in texts] + [len((t + " more words here").split()) for t in texts]
    assert fast.output_word_counts().tolist() == expected
    assert _text_outputs(fast) is has_text_outputs(align(_per_row(old), _per_row(new))) is True
    same = _write(tmp_path / "s.jsonl", records)  # the short texts alone: a median of 2 words
    assert _text_outputs(align(load_run(old), load_run(same))) is False
    assert has_text_outputs(align(_per_row(old), _per_row(same))) is False
