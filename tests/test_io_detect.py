"""Format detection and the load_run / load_runs entry points."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from deltaeval.errors import FormatError, InputError
from deltaeval.io import FORMATS, detect_format, load_run, load_runs, split_source


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    return path


def test_formats_listed() -> None:
    assert set(FORMATS) == {
        "jsonl",
        "csv",
        "parquet",
        "alpaca_outputs",
        "alpaca_annotations",
        "arena_hard",
        "lm_eval",
        "wide_csv",
        "llm_comparator",
        "inspect",
        "promptfoo",
    }


@pytest.mark.parametrize(
    ("filename", "records", "expected"),
    [
        ("r.jsonl", [{"id": 1, "output": "x"}], "jsonl"),
        ("r.ndjson", [{"id": 1, "output": "x"}], "jsonl"),
        ("r.jsonl", [{"question_id": "q", "model_id": "m", "choices": []}], "arena_hard"),
        ("r.jsonl", [{"uid": "u", "model": "m", "messages": []}], "arena_hard"),
        ("r.jsonl", [{"doc_id": 0, "resps": [], "filtered_resps": []}], "lm_eval"),
        ("r.jsonl", [{"doc_id": 0, "output": "x"}], "jsonl"),
    ],
)
def test_detect_jsonl(tmp_path: Path, filename: str, records: list[Any], expected: str) -> None:
    assert detect_format(write_jsonl(tmp_path / filename, records)) == expected


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"instruction": "i", "output_1": "a", "output_2": "b", "preference": 1.5}, "alpaca_annotations"),
        ({"instruction": "i", "output": "a", "generator": "g"}, "alpaca_outputs"),
        ({"instruction": "i", "output": "a"}, "jsonl"),
        ({"doc_id": 0, "filtered_resps": ["x"]}, "lm_eval"),
    ],
)
def test_detect_json_list(tmp_path: Path, record: dict[str, Any], expected: str) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps([record], indent=2))
    assert detect_format(path) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (["id", "input", "output"], "csv"),
        (["question", "answer"], "csv"),
        (["question", "score"], "csv"),
        (["question", "model_a"], "csv"),
        (["question", "model_a", "model_b"], "wide_csv"),
        (["id", "prompt", "target", "model_a", "model_b"], "wide_csv"),
        (["id", "prompt", "target", "model_a"], "csv"),
        (["prompt", "model_a", "model_b", "correct"], "csv"),
    ],
)
def test_detect_csv(tmp_path: Path, header: list[str], expected: str) -> None:
    path = write_csv(tmp_path / "data.csv", [header, ["x"] * len(header)])
    assert detect_format(path) == expected


def test_detect_parquet_by_suffix_and_magic(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table({"id": ["a"], "output": ["x"]})
    pq.write_table(table, tmp_path / "d.pq")
    assert detect_format(tmp_path / "d.pq") == "parquet"
    pq.write_table(table, tmp_path / "d.bin")
    assert detect_format(tmp_path / "d.bin") == "parquet"
    assert load_run(tmp_path / "d.bin").ids == ["a"]


def test_detect_suffixless_json(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "answers", [{"id": "a", "output": "x"}])
    assert detect_format(path) == "jsonl"
    assert load_run(path).ids == ["a"]


def test_detect_unknown(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("just some text\n")
    with pytest.raises(FormatError) as info:
        detect_format(path)
    message = str(info.value)
    assert "notes.txt" in message
    assert "--format" in message
    assert "jsonl" in message


def test_detect_missing_and_empty(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        detect_format(tmp_path / "gone.csv")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(InputError, match="empty"):
        detect_format(empty)
    with pytest.raises(InputError, match="not a file"):
        detect_format(tmp_path)


def test_detect_survives_malformed_first_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("{oops\n")
    assert detect_format(path) == "jsonl"
    with pytest.raises(InputError, match="line 1"):
        load_run(path)


def test_explicit_format_overrides_detection(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "r.jsonl", [{"id": "1", "output": "x", "doc_id": 3, "resps": []}])
    assert detect_format(path) == "lm_eval"
    assert load_run(path, format="jsonl").ids == ["1"]
    assert load_run(path, format="JSON").ids == ["1"]


def test_wrong_explicit_format_is_an_input_error(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "r.jsonl", [{"id": "1", "output": "x"}])
    with pytest.raises(InputError) as info:
        load_runs(path, format="alpaca_annotations")
    assert "r.jsonl" in str(info.value)


def test_wrong_explicit_format_on_a_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "blob.csv"
    path.write_bytes(b"\x00\xff\xfe\x00garbage")
    with pytest.raises(InputError):
        load_runs(path, format="jsonl")


def test_split_source(tmp_path: Path) -> None:
    assert split_source("a/b.csv") == (Path("a/b.csv"), None)
    assert split_source("a/b.csv::gpt-4o") == (Path("a/b.csv"), "gpt-4o")
    assert split_source("a::b.csv::m::x") == (Path("a::b.csv::m"), "x")
    odd = tmp_path / "odd::name.jsonl"
    write_jsonl(odd, [{"id": "a", "output": "x"}])
    assert split_source(str(odd)) == (odd, None)
    assert load_run(str(odd)).name == "odd::name"


def test_selector_on_single_run_file(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "r.jsonl", [{"id": "a", "output": "x"}])
    assert load_run(f"{path}::r").name == "r"
    with pytest.raises(InputError) as info:
        load_run(f"{path}::other")
    assert "'r'" in str(info.value)
