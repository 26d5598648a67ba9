"""Columns with no other role become tags by themselves; lists in a reference are alternatives."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from deltaeval import load_run
from deltaeval.cli import main
from deltaeval.io import ColumnMapping
from deltaeval.io.dataset import load_dataset
from deltaeval.scoring import get_scorer
from deltaeval.scoring.base import reference_text
from deltaeval.store import Store

QUESTIONS = [
    ("q1", "What is 2 + 2?", "4", "math", 1),
    ("q2", "What is the capital of France?", "Paris", "geography", 1),
    ("q3", "What is 3 * 3?", "9", "math", 2),
    ("q4", "What is the capital of Spain?", "Madrid", "geography", 2),
    ("q5", "What is 10 - 7?", "3", "math", 3),
    ("q6", "What is the capital of Italy?", "Rome", "geography", 3),
]
OUTPUTS = {
    "v1": ["4", "Paris", "6", "Madrid", "3", "Milan"],
    "v2": ["4", "Lyon", "9", "Madrid", "3", "Rome"],
}
RATIONALE = "The model reasoned at length about the question before it settled on an answer. " * 2


def rows(version: str, **extra: object) -> list[dict[str, object]]:
    """The Quick start's records: id, input, output, reference, category (and ``extra`` columns)."""
    return [
        {"id": i, "input": q, "output": out, "reference": ref, "category": cat, **extra}
        for (i, q, ref, cat, _), out in zip(QUESTIONS, OUTPUTS[version], strict=True)
    ]


def write_jsonl(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def write_csv(path: Path, records: list[dict[str, object]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    return path


def slice_values(report_path: Path) -> dict[str, int]:
    report = json.loads(report_path.read_text(encoding="utf-8"))
    (table,) = report["slices"]
    assert table["tag"] == "category"
    return {row["value"]: row["n"] for row in table["rows"]}


@pytest.mark.parametrize("suffix", ["jsonl", "csv"])
def test_quick_start_compare_by_category(suffix: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    write = write_jsonl if suffix == "jsonl" else write_csv
    write(tmp_path / f"v1.{suffix}", rows("v1"))
    write(tmp_path / f"v2.{suffix}", rows("v2"))
    args = ["compare", f"v1.{suffix}", f"v2.{suffix}", "--scorer", "exact", "--by", "category"]
    assert main([*args, "--json", "report.json"]) == 0
    assert slice_values(tmp_path / "report.json") == {"geography": 3, "math": 3}


def test_parquet_and_the_python_api_choose_tags_too(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    records = rows("v1", difficulty=None, rationale=RATIONALE)
    for record, (*_, level) in zip(records, QUESTIONS, strict=True):
        record["difficulty"] = level
    path = tmp_path / "v1.parquet"
    pq.write_table(pa.Table.from_pylist(records), path)
    for run in (load_run(path), load_run(path, mapping=ColumnMapping(tags=()))):
        assert run.examples[0].tags == {"category": "math", "difficulty": "1"}
        assert any("'rationale' is not a tag: free text" in note for note in run.notes)


def test_tag_narrows_the_automatic_tags(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    for version in ("v1", "v2"):
        write_jsonl(tmp_path / f"{version}.jsonl", rows(version, split="test"))
    auto = load_run("v1.jsonl")
    assert auto.examples[0].tags == {"category": "math", "split": "test"}
    narrowed = load_run("v1.jsonl", mapping=ColumnMapping(tags=("split",)))
    assert narrowed.examples[0].tags == {"split": "test"}
    args = ["compare", "v1.jsonl", "v2.jsonl", "--scorer", "exact", "--tag", "split", "--by", "category"]
    assert main(args) == 2
    error = capsys.readouterr().err
    assert "no example has the tag 'category'; tags present: split" in error


def test_free_text_floats_and_objects_are_not_tags(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    for version in ("v1", "v2"):
        records = rows(version, rationale=RATIONALE, meta={"source": "web"}, tokens=12)
        for n, record in enumerate(records):
            record["confidence"] = 0.5 + n / 100  # an Output field: read, never a tag
            record["latency"] = 0.25 + n / 7  # a measurement: not a tag
            record["digit"] = n % 3  # few whole numbers: a tag
        write_jsonl(tmp_path / f"{version}.jsonl", records)
    run = load_run("v1.jsonl")
    assert {t for e in run.examples for t in e.tags} == {"category", "digit"}
    assert run.outputs[1].confidence == pytest.approx(0.51) and run.outputs[0].tokens == 12
    notes = "\n".join(run.notes)
    assert "'rationale' is not a tag: free text (median 160 characters)" in notes
    assert "'latency' is not a tag: numbers with a fractional part" in notes
    assert "'meta' is not a tag: lists or objects" in notes

    assert main(["compare", "v1.jsonl", "v2.jsonl", "--scorer", "exact", "--by", "rationale"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: no example has the tag 'rationale': column 'rationale' is not a tag, ")
    assert "free text" in error and "tags present: category, digit" in error and "--tag rationale" in error
    assert main(["compare", "v1.jsonl", "v2.jsonl", "--scorer", "exact", "--by", "nope"]) == 2
    assert "no example has the tag 'nope'; tags present: category, digit" in capsys.readouterr().err


def test_import_lists_the_tags_and_the_store_keeps_them(tmp_path: Path, capsys) -> None:
    path = write_jsonl(tmp_path / "v1.jsonl", rows("v1", rationale=RATIONALE))
    store = tmp_path / "s.sqlite"
    assert main(["import", str(path), "--name", "v1", "--store", str(store)]) == 0
    printed = capsys.readouterr().out
    assert "  tags: category\n" in printed
    assert "note: column 'rationale' is not a tag: free text" in printed
    with Store(store) as db:
        stored = db.load_run("v1")
    assert [e.tags for e in stored.examples] == [e.tags for e in load_run(path).examples]
    assert stored.notes == load_run(path).notes
    # a stored run still explains why a column is not a tag
    assert main(["compare", "v1", "v1", "--scorer", "exact", "--by", "rationale", "--store", str(store)]) == 2
    assert "column 'rationale' is not a tag" in capsys.readouterr().err


JUDGE_CODE = """
def prefer_longer(question, a, b):
    if len(a) == len(b):
        return "A=B"
    return "A>B" if len(a) > len(b) else "B>A"
"""


def test_judge_by_category_without_tag(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_jsonl(tmp_path / "j1.jsonl", rows("v1"))
    write_jsonl(tmp_path / "j2.jsonl", rows("v2"))
    (tmp_path / "my_judge.py").write_text(JUDGE_CODE, encoding="utf-8")
    args = ["judge", "j1.jsonl", "j2.jsonl", "--judge", "python:my_judge.py:prefer_longer"]
    assert main([*args, "--by", "category", "--store", "s.sqlite", "--json", "judge.json"]) == 0
    by_tag = json.loads((tmp_path / "judge.json").read_text(encoding="utf-8"))["preference"]["by_tag"]
    assert [t["tag"] for t in by_tag] == ["category"]
    assert {row["value"] for row in by_tag[0]["rows"]} == {"geography", "math"}


def test_a_dataset_gets_its_tags_from_columns_too(tmp_path: Path) -> None:
    records = [{"id": i, "input": q, "reference": ref, "category": cat} for i, q, ref, cat, _ in QUESTIONS]
    examples = load_dataset(write_jsonl(tmp_path / "data.jsonl", records))
    assert [e.tags for e in examples[:2]] == [{"category": "math"}, {"category": "geography"}]


def test_a_tags_object_still_works_beside_tag_columns(tmp_path: Path) -> None:
    records = [dict(r, tags={"source": "gsm"}) for r in rows("v1")]
    run = load_run(write_jsonl(tmp_path / "v1.jsonl", records))
    assert run.examples[0].tags == {"source": "gsm", "category": "math"}


# -- references with several acceptable answers -------------------------------------------------


def test_a_reference_list_holds_the_acceptable_answers(tmp_path: Path) -> None:
    records = [
        {"id": "units-02", "input": "How many meters are in one kilometer?", "output": "1,000"},
        {"id": "facts-07", "input": "How many continents are there?", "output": "seven"},
        {"id": "facts-11", "input": "How many sides does a triangle have?", "output": "4"},
    ]
    references = [["1000", "1,000"], ["7", "seven", " "], "3"]
    for record, reference in zip(records, references, strict=True):
        record["reference"] = reference
    run = load_run(write_jsonl(tmp_path / "v1.jsonl", records))
    assert [e.reference for e in run.examples] == ["1000|||1,000", "7|||seven", "3"]
    exact = get_scorer("exact")
    correct = [
        exact.score(o.text, e.reference, e).correct for e, o in zip(run.examples, run.outputs, strict=True)
    ]
    assert correct == [True, True, False]
    assert [reference_text(e.reference) for e in run.examples] == ["1000 or 1,000", "7 or seven", "3"]


def test_a_parquet_reference_list(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "v1.parquet"
    table = [
        {"id": "c", "input": "Capital of China?", "output": "Peking", "reference": ["Beijing", "Peking"]}
    ]
    pq.write_table(pa.Table.from_pylist(table), path)
    assert load_run(path).examples[0].reference == "Beijing|||Peking"


def test_a_nested_reference_list_is_an_error(tmp_path: Path, capsys) -> None:
    record = {"id": "x", "input": "?", "output": "a", "reference": [["a"], "b"]}
    path = write_jsonl(tmp_path / "v1.jsonl", [record])
    assert main(["import", str(path), "--store", str(tmp_path / "s.sqlite")]) == 2
    error = capsys.readouterr().err
    assert "v1.jsonl:1: column 'reference' holds a list with nested lists or objects" in error


def test_the_bundled_prompts_show_their_alternatives_as_words() -> None:
    from deltaeval.demo import demo_prompts_path

    shown = [reference_text(e.reference) for e in load_dataset(demo_prompts_path()) if e.reference]
    assert not any("|||" in text for text in shown)
    assert any(" or " in text for text in shown)


@pytest.mark.parametrize(
    ("reference", "shown"),
    [
        (None, None),
        ("Paris", "Paris"),
        ("1000|||1,000", "1000 or 1,000"),
        ("7|||seven|||VII", "7, seven or VII"),
        (" a ||| |||b", "a or b"),
        ("only|||", "only"),
    ],
)
def test_reference_text(reference: str | None, shown: str | None) -> None:
    assert reference_text(reference) == shown
