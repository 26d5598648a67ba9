"""AlpacaEval importers: model_outputs.json and annotations.json."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pytest
from shared_data import ALPACA as REAL_DATA
from shared_data import DATA_ENV

from deltaeval.errors import DuplicateIdError, InputError
from deltaeval.io import ColumnMapping, detect_format, load_run, load_runs
from deltaeval.io.alpaca_eval import NO_PREFERENCE
from deltaeval.types import stable_id


def write_json(path: Path, records: list[Any]) -> Path:
    path.write_text(json.dumps(records, indent=2), encoding="utf-8")
    return path


def output_record(instruction: str, output: str, generator: str = "my-model") -> dict[str, Any]:
    return {"instruction": instruction, "output": output, "generator": generator, "dataset": "helpful_base"}


def annotation(instruction: str, preference: Any, generator: str = "my-model") -> dict[str, Any]:
    return {
        "instruction": instruction,
        "output_1": f"baseline answer to {instruction}",
        "generator_1": "gpt4_1106_preview",
        "output_2": f"model answer to {instruction}",
        "generator_2": generator,
        "annotator": "weighted_alpaca_eval_gpt4_turbo",
        "preference": preference,
        "dataset": "oasst",
    }


# -- model_outputs.json ------------------------------------------------------------------------


def test_outputs_happy_path(tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "model_outputs.json",
        [output_record("Tell a joke", "Knock knock"), output_record("Add 2+2", "4")],
    )
    assert detect_format(path) == "alpaca_outputs"
    run = load_run(path)
    assert run.name == "my-model"
    assert run.model == "my-model"
    assert run.ids == [stable_id("Tell a joke"), stable_id("Add 2+2")]
    assert [e.input for e in run.examples] == ["Tell a joke", "Add 2+2"]
    assert [o.text for o in run.outputs] == ["Knock knock", "4"]
    assert [dict(e.tags) for e in run.examples] == [{"dataset": "helpful_base"}] * 2
    assert all(o.score is None and o.correct is None for o in run.outputs)


def test_outputs_name_override(tmp_path: Path) -> None:
    path = write_json(tmp_path / "model_outputs.json", [output_record("a", "b")])
    assert load_run(path, name="v2").name == "v2"


def test_outputs_missing_field(tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "model_outputs.json",
        [output_record("a", "b"), {"instruction": "c", "generator": "m"}],
    )
    with pytest.raises(InputError) as info:
        load_run(path, format="alpaca_outputs")
    message = str(info.value)
    assert "'output'" in message
    assert "'instruction', 'generator'" in message
    assert info.value.line == 8  # indent=2: "[", then 6 lines for the first record
    assert "model_outputs.json:8:" in message


def test_outputs_empty_list_and_empty_file(tmp_path: Path) -> None:
    empty_list = tmp_path / "model_outputs.json"
    empty_list.write_text("[]")
    with pytest.raises(InputError, match="no records"):
        load_run(empty_list, format="alpaca_outputs")
    empty = tmp_path / "empty.json"
    empty.write_text("")
    with pytest.raises(InputError, match="empty"):
        load_run(empty, format="alpaca_outputs")


def test_outputs_malformed_json(tmp_path: Path) -> None:
    path = tmp_path / "model_outputs.json"
    path.write_text('[\n  {"instruction": "a", "output": "b", "generator": "m"},\n  {"instruction": }\n]')
    with pytest.raises(InputError) as info:
        load_run(path, format="alpaca_outputs")
    assert info.value.line == 3
    assert "line 3" in str(info.value)


def test_outputs_duplicate_instructions(tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "model_outputs.json",
        [output_record("same", "first"), output_record("other", "x"), output_record("same", "second")],
    )
    with pytest.raises(DuplicateIdError) as info:
        load_run(path, strict=True)
    assert info.value.line == 14
    run = load_run(path)
    assert run.duplicate_ids == (stable_id("same"),)
    assert run.outputs[0].text == "first"


def test_outputs_several_generators(tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "model_outputs.json",
        [output_record("a", "1", "m1"), output_record("a", "2", "m2"), output_record("b", "3", "m1")],
    )
    runs = load_runs(path)
    assert [(r.name, len(r)) for r in runs] == [("m1", 2), ("m2", 1)]
    with pytest.raises(InputError) as info:
        load_run(path)
    assert "'m1', 'm2'" in str(info.value)
    assert load_run(f"{path}::m2").outputs[0].text == "2"
    with pytest.raises(InputError, match="no run named 'm3'"):
        load_run(f"{path}::m3")


def test_outputs_rejects_column_mapping(tmp_path: Path) -> None:
    path = write_json(tmp_path / "model_outputs.json", [output_record("a", "b")])
    with pytest.raises(InputError, match="fixed fields"):
        load_run(path, mapping=ColumnMapping(output="answer"))


def test_outputs_extra_tag_fields(tmp_path: Path) -> None:
    record = output_record("a", "b") | {"category": "humor"}
    path = write_json(tmp_path / "model_outputs.json", [record])
    run = load_run(path, mapping=ColumnMapping(tags=("category",)))
    assert run.examples[0].tags == {"dataset": "helpful_base", "category": "humor"}
    with pytest.raises(InputError, match="'nope'"):
        load_run(path, mapping=ColumnMapping(tags=("nope",)))


# -- annotations.json --------------------------------------------------------------------------


def test_annotations_happy_path(tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "annotations.json",
        [
            annotation("q1", 1.0),
            annotation("q2", "2.0"),
            annotation("q3", 1.75),
            annotation("q4", None),
            annotation("q5", 1.5),
        ],
    )
    assert detect_format(path) == "alpaca_annotations"
    run = load_run(path)
    assert run.name == "my-model"
    assert run.model == "my-model"
    assert run.params == {"baseline": "gpt4_1106_preview", "annotator": "weighted_alpaca_eval_gpt4_turbo"}
    assert run.ids == [stable_id(q) for q in ("q1", "q2", "q3", "q4", "q5")]
    assert [o.text for o in run.outputs][:2] == ["model answer to q1", "model answer to q2"]
    assert [o.score for o in run.outputs] == [0.0, 1.0, 0.75, None, 0.5]
    assert [o.correct for o in run.outputs] == [False, True, True, None, False]
    assert run.outputs[3].error == NO_PREFERENCE
    assert all(o.error is None for i, o in enumerate(run.outputs) if i != 3)
    assert run.examples[0].tags == {"dataset": "oasst"}
    assert run.has_scores and run.has_correctness


def test_annotations_nan_preference_is_no_verdict(tmp_path: Path) -> None:
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps([annotation("q1", 2.0), annotation("q2", float("nan"))]))
    run = load_run(path)
    assert run.outputs[1].score is None
    assert run.outputs[1].error == NO_PREFERENCE


def test_annotations_zero_preference_is_a_draw(tmp_path: Path) -> None:
    path = write_json(tmp_path / "annotations.json", [annotation("q1", 0)])
    run = load_run(path)
    assert run.outputs[0].score == 0.5
    assert any("read as 1.5" in note for note in run.notes)


def test_annotations_bad_preferences(tmp_path: Path) -> None:
    path = write_json(tmp_path / "annotations.json", [annotation("q1", 1.2), annotation("q2", "B")])
    with pytest.raises(InputError) as info:
        load_run(path)
    assert "'preference'" in str(info.value)
    assert info.value.line == 12
    path = write_json(tmp_path / "annotations.json", [annotation("q1", 3)])
    with pytest.raises(InputError, match="outside"):
        load_run(path)
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps([annotation("q1", float("inf"))]))
    with pytest.raises(InputError, match="NaN/inf"):
        load_run(path)


def test_annotations_missing_field(tmp_path: Path) -> None:
    record = annotation("q1", 1.0)
    del record["output_2"]
    path = write_json(tmp_path / "annotations.json", [record])
    with pytest.raises(InputError) as info:
        load_run(path, format="alpaca_annotations")
    assert "'output_2'" in str(info.value)
    assert "'output_1'" in str(info.value)


def test_annotations_duplicates(tmp_path: Path) -> None:
    path = write_json(tmp_path / "annotations.json", [annotation("q1", 1.0), annotation("q1", 2.0)])
    with pytest.raises(DuplicateIdError) as info:
        load_run(path, strict=True)
    assert "annotations.json" in str(info.value)
    run = load_run(path)
    assert run.outputs[0].score == 0.0
    assert run.duplicate_ids == (stable_id("q1"),)


def test_annotations_several_models(tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "annotations.json",
        [annotation("q1", 1.0, "a"), annotation("q1", 2.0, "b")],
    )
    assert [r.name for r in load_runs(path)] == ["a", "b"]
    assert load_run(f"{path}::b").outputs[0].score == 1.0
    with pytest.raises(InputError, match="holds 2 runs"):
        load_runs(path, name="renamed")


@pytest.mark.skipif(
    not (REAL_DATA / "oasst-sft-llama-33b" / "annotations.json").exists(),
    reason=f"AlpacaEval sample data not available at {REAL_DATA} (set {DATA_ENV})",
)
def test_real_annotations_win_rate() -> None:
    run = load_run(REAL_DATA / "oasst-sft-llama-33b" / "annotations.json")
    assert run.name == "oasst-sft-llama-33b"
    assert len(run) == 805
    scores = [o.score for o in run.outputs if o.score is not None]
    assert statistics.fmean(scores) == pytest.approx(0.047704, abs=1e-6)
    assert run.params["baseline"] == "gpt4_1106_preview"
    outputs = load_run(REAL_DATA / "oasst-sft-llama-33b" / "model_outputs.json")
    assert set(outputs.ids) == set(run.ids)
