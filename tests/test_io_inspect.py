"""inspect_ai eval logs as runs: a real log written by inspect_ai (mockllm), and the schema by hand."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from deltaeval.cli import main
from deltaeval.comparison import compare
from deltaeval.errors import InputError
from deltaeval.io import ColumnMapping, detect_format, load_run

#: A tiny eval run by inspect_ai itself with its offline mock model: three samples (text and chat
#: inputs, a list target, metadata), answers chosen per prompt, the `includes` scorer. Usage is
#: set on each answer so that the mock model counts no tokens (that would fetch a tokenizer).
EVAL_SCRIPT = """
import sys
from inspect_ai import Task, eval
from inspect_ai.dataset import Sample
from inspect_ai.log import read_eval_log, write_eval_log
from inspect_ai.model import ChatMessageSystem, ChatMessageUser, ModelOutput, ModelUsage, get_model
from inspect_ai.scorer import includes
from inspect_ai.solver import generate

ANSWERS = {"What is 2+2?": "The answer is 4.", "Capital of France?": "Lyon", "Say hi": "<b>hi</b>"}

def answer(messages, tools, tool_choice, config):
    output = ModelOutput.from_content(model="mockllm/model", content=ANSWERS[messages[-1].text])
    output.usage = ModelUsage(input_tokens=5, output_tokens=3, total_tokens=8)
    return output

samples = [
    Sample(id="q1", input="What is 2+2?", target="4", metadata={"category": "math"}),
    Sample(id=2, target="Paris", metadata={"category": "geo"},
           input=[ChatMessageSystem(content="Be brief."), ChatMessageUser(content="Capital of France?")]),
    Sample(id="q3", input="Say hi", target=["hi", "hello"], metadata={"category": "misc"}),
]
task = Task(dataset=samples, solver=[generate()], scorer=includes(), name="tiny")
model = get_model("mockllm/model", custom_outputs=answer)
log = eval(task, model=model, log_dir=sys.argv[1], display="none", log_format="eval")[0]
assert log.status == "success", log.status
write_eval_log(read_eval_log(log.location), sys.argv[1] + "/tiny.json", format="json")
"""

HAS_INSPECT = importlib.util.find_spec("inspect_ai") is not None


@pytest.fixture(scope="module")
def real_logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An ``.eval`` archive and its ``.json`` form, written by inspect_ai."""
    if not HAS_INSPECT:
        pytest.skip("inspect-ai is not installed (pip install inspect-ai): the real-log tests need it")
    folder = tmp_path_factory.mktemp("inspect")
    done = subprocess.run(
        [sys.executable, "-c", EVAL_SCRIPT, str(folder)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    archive = next(folder.glob("*.eval"))
    return archive, folder / "tiny.json"


@pytest.mark.parametrize("kind", ["eval", "json"])
def test_real_inspect_log_imports_as_a_run(real_logs: tuple[Path, Path], kind: str) -> None:
    path = real_logs[0] if kind == "eval" else real_logs[1]
    assert detect_format(path) == "inspect"
    run = load_run(path)
    assert run.name == "mockllm/model"
    assert run.params["task"] == "tiny" and run.params["scorer"] == "includes"
    by_id = {e.id: (e, o) for e, o in zip(run.examples, run.outputs, strict=True)}
    assert run.ids == ["q1", "2", "q3"]  # the dataset's order, whatever order the samples finished in
    example, output = by_id["2"]
    assert example.input == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of France?"},
    ]
    assert example.reference == "Paris" and dict(example.tags) == {"task": "tiny", "category": "geo"}
    assert (output.text, output.score, output.correct) == ("Lyon", 0.0, False)
    assert (output.tokens, output.prompt_tokens) == (3, 5)
    assert by_id["q1"][1].correct is True and by_id["q1"][1].text == "The answer is 4."
    assert by_id["q3"][0].reference == "hi|||hello" and by_id["q3"][1].text == "<b>hi</b>"


def test_real_logs_compare_and_import_through_the_cli(real_logs: tuple[Path, Path], tmp_path: Path) -> None:
    report = compare(real_logs[0], real_logs[1], behaviour=False, n_boot=50)
    assert report.flips["n"] == 3 and report.flips["negative"] == 0
    store = str(tmp_path / "s.sqlite")
    assert main(["import", str(real_logs[0]), "--name", "v1", "--store", store]) == 0


def test_zstandard_archive_without_zstandard_names_the_extra(
    real_logs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "zstandard", None)  # as where the package is not installed
    with pytest.raises(InputError, match=r"compressed with Zstandard.*deltaeval\[inspect\]"):
        load_run(real_logs[0])
    assert load_run(real_logs[1]).ids  # the .json form needs nothing


# -- the documented schema, without inspect_ai -------------------------------------------------


def _sample(sample_id: Any, value: Any, epoch: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "id": sample_id,
        "epoch": epoch,
        "input": "question " + str(sample_id),
        "target": "A",
        "output": {"model": "m", "choices": [{"stop_reason": "stop"}], "completion": "answer", "time": 0.5},
        "scores": {"choice": {"value": value}, "grader": {"value": {"a": 1, "b": 0}}},
        "metadata": {"subject": "algebra" if sample_id != 3 else "geometry", "long": "x" * 300},
        **extra,
    }


def _log(samples: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "version": 2,
        "status": "success",
        "eval": {
            "task": "mmlu",
            "model": "openai/gpt-x",
            "dataset": {"sample_ids": [s.get("id") for s in samples]},
        },
        "results": {"headline": {"scorer": "choice"}},
        "samples": samples,
    }


def test_documented_json_log_grades_epochs_and_errors(tmp_path: Path) -> None:
    samples = [
        _sample(1, "C"),
        _sample(1, "I", epoch=2),
        _sample(3, "P", error={"message": "rate limited", "traceback": ""}),
    ]
    path = tmp_path / "log.json"
    path.write_text(json.dumps(_log(samples)), encoding="utf-8")
    run = load_run(path)
    assert run.ids == ["1#1", "1#2", "3#1"]  # several epochs: the epoch is part of the id
    assert [o.score for o in run.outputs] == [1.0, 0.0, 0.5]
    assert [o.correct for o in run.outputs] == [None, None, None]  # a partial grade: not 0/1 only
    assert run.outputs[2].error == "rate limited"
    assert [dict(e.tags) for e in run.examples][2] == {"task": "mmlu", "subject": "geometry"}
    assert any("'long' is not a tag" in note for note in run.notes)
    # --score names another scorer; one with a dict value gives no single number
    other = load_run(path, mapping=ColumnMapping(score="grader"))
    assert all(o.score is None for o in other.outputs)
    assert any("gives no single number" in note for note in other.notes)
    tagged = load_run(path, mapping=ColumnMapping(tags=("long",)))
    assert dict(tagged.examples[0].tags) == {"task": "mmlu", "long": "x" * 300}


def test_deflated_eval_archive_reads_in_the_order_of_the_dataset(tmp_path: Path) -> None:
    samples = [_sample("b", "C"), _sample("a", 0.0)]
    header = {k: v for k, v in _log(samples).items() if k != "samples"}
    path = tmp_path / "log.eval"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("header.json", json.dumps(header))
        for sample in reversed(samples):
            archive.writestr(f"samples/{sample['id']}_epoch_1.json", json.dumps(sample))
    run = load_run(path)
    assert run.ids == ["b", "a"] and [o.correct for o in run.outputs] == [True, False]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("log.json", '{"version": 2, "eval": {"task": "t"}, "samples": [', "malformed JSON on line 1"),
        (
            "log.json",
            json.dumps({"version": 2, "status": "started", "eval": {}, "samples": []}),
            "holds no samples",
        ),
        ("log.json", json.dumps(_log([{"input": "x"}])), "samples[0] has no 'id'"),
        ("log.eval", "not a zip", "not a zip archive"),
    ],
)
def test_bad_logs_are_one_line_errors_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: str, expected: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match="fix: "):
        load_run(path, format="inspect")
    assert main(["import", str(path), "--format", "inspect", "--store", str(tmp_path / "s.sqlite")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"error: {path}") and expected in err


def test_unknown_scorer_lists_the_scorers(tmp_path: Path) -> None:
    path = tmp_path / "log.json"
    path.write_text(json.dumps(_log([_sample(1, "C")])), encoding="utf-8")
    with pytest.raises(InputError, match=r"scorer 'nope' .* the scorers are: 'choice', 'grader'"):
        load_run(path, mapping=ColumnMapping(score="nope"))
