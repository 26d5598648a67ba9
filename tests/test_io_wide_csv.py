"""Wide CSV (one column per model) importer and PATH::RUN selection."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from deltaeval.errors import DuplicateIdError, InputError
from deltaeval.io import ColumnMapping, detect_format, load_run, load_runs
from deltaeval.io.wide_csv import EMPTY_CELL
from deltaeval.types import stable_id


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    return path


@pytest.fixture
def vibes(tmp_path: Path) -> Path:
    return write_csv(
        tmp_path / "vibes.csv",
        [
            ["question", "gpt-4o", "llama-3-8b", "category"],
            ["Tell me a joke", "Why did the chicken...", "Knock knock", "humor"],
            ["What is 2+2?", "4", "", "math"],
        ],
    )


def test_wide_csv_happy_path(vibes: Path) -> None:
    assert detect_format(vibes) == "wide_csv"
    runs = load_runs(vibes, mapping=ColumnMapping(tags=("category",)))
    assert [r.name for r in runs] == ["gpt-4o", "llama-3-8b"]
    gpt, llama = runs
    assert gpt.model == "gpt-4o"
    assert gpt.ids == [stable_id("Tell me a joke"), stable_id("What is 2+2?")]
    assert gpt.ids == llama.ids
    assert [o.text for o in gpt.outputs] == ["Why did the chicken...", "4"]
    assert [o.text for o in llama.outputs] == ["Knock knock", None]
    assert llama.outputs[1].error == EMPTY_CELL
    assert [dict(e.tags) for e in gpt.examples] == [{"category": "humor"}, {"category": "math"}]
    assert gpt.examples[0].input == "Tell me a joke"


def test_without_tag_mapping_a_metadata_column_is_still_a_tag(vibes: Path) -> None:
    runs = load_runs(vibes)
    assert [r.name for r in runs] == ["gpt-4o", "llama-3-8b"]
    assert [dict(e.tags) for e in runs[0].examples] == [{"category": "humor"}, {"category": "math"}]
    assert "kept as tags, not model runs: 'category' (a metadata name)" in runs[0].notes[0]


def test_id_and_reference_columns(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "w.csv",
        [["id", "prompt", "reference", "m1", "m2"], ["a", "p1", "r1", "x", "y"]],
    )
    assert detect_format(path) == "wide_csv"
    m1, m2 = load_runs(path)
    assert m1.ids == ["a"]
    assert m1.examples[0].reference == "r1"
    assert (m1.outputs[0].text, m2.outputs[0].text) == ("x", "y")


def test_select_one_run(vibes: Path) -> None:
    run = load_run(f"{vibes}::llama-3-8b", mapping=ColumnMapping(tags=("category",)))
    assert run.name == "llama-3-8b"
    assert run.outputs[0].text == "Knock knock"
    renamed = load_run(f"{vibes}::gpt-4o", name="baseline")
    assert renamed.name == "baseline"


def test_select_needed_for_multi_run_file(vibes: Path) -> None:
    with pytest.raises(InputError) as info:
        load_run(vibes, mapping=ColumnMapping(tags=("category",)))
    message = str(info.value)
    assert "vibes.csv" in message
    assert "'gpt-4o', 'llama-3-8b'" in message
    assert "::" in message


def test_select_unknown_run(vibes: Path) -> None:
    with pytest.raises(InputError) as info:
        load_run(f"{vibes}::claude")
    message = str(info.value)
    assert "'claude'" in message
    assert "'gpt-4o', 'llama-3-8b'" in message


def test_select_empty_name(vibes: Path) -> None:
    with pytest.raises(InputError, match="no run name"):
        load_run(f"{vibes}::")


def test_name_with_several_runs(vibes: Path) -> None:
    with pytest.raises(InputError, match="holds 2 runs"):  # 'category' is a tag, not a run
        load_runs(vibes, name="x")


def test_duplicate_questions(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "w.csv",
        [["question", "m1", "m2"], ["same", "a", "b"], ["other", "c", "d"], ["same", "e", "f"]],
    )
    with pytest.raises(DuplicateIdError) as info:
        load_runs(path, strict=True)
    assert info.value.line == 4
    assert "w.csv:4:" in str(info.value)
    m1, _ = load_runs(path)
    assert m1.duplicate_ids == (stable_id("same"),)
    assert m1.outputs[0].text == "a"


def test_missing_question_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "w.csv", [["m1", "m2"], ["a", "b"]])
    with pytest.raises(InputError) as info:
        load_runs(path, format="wide_csv")
    message = str(info.value)
    assert "no question column" in message
    assert "'m1', 'm2'" in message
    assert "w.csv:1:" in message


def test_no_model_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "w.csv", [["id", "question"], ["1", "q"]])
    with pytest.raises(InputError, match="no model columns"):
        load_runs(path, format="wide_csv")


def test_unknown_mapped_column(vibes: Path) -> None:
    with pytest.raises(InputError) as info:
        load_runs(vibes, mapping=ColumnMapping(tags=("topic",)))
    assert "'topic'" in str(info.value)
    assert "'category'" in str(info.value)


def test_output_mapping_rejected(vibes: Path) -> None:
    with pytest.raises(InputError, match="fixed fields"):
        load_runs(vibes, format="wide_csv", mapping=ColumnMapping(output="gpt-4o"))


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_text("")
    with pytest.raises(InputError, match="empty"):
        load_runs(path, format="wide_csv")


def test_malformed_csv_row(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_text("question,m1,m2\nq1,a,b\nq2,a,b,c\n")
    with pytest.raises(InputError) as info:
        load_runs(path)
    assert info.value.line == 3
