"""``deltaeval datadiff``: a planted shift is found, a random split is not, importance weighting
recovers a known accuracy, the CLI end to end, and bad input."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from deltaeval.cli import main
from deltaeval.datadiff import SCHEMA, datadiff
from deltaeval.report.sections import datadiff as renderer
from deltaeval.types import Example, Output, Run

WORDS = [
    "apple",
    "banana",
    "cherry",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "xray",
    "yankee",
    "zulu",
]
CODE = "\n```python\ndef area(width, height):\n    return width * height\n```"


def _text(rng: random.Random, code: bool = False) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 30)))
    return text + CODE if code else text


#: The features that name a planted shift to code inputs: code in the input, or a coding topic.
CODE_FEATURES = {"has_code", "programming"}


def _texts(n: int, code_share: float, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [_text(rng, rng.random() < code_share) for _ in range(n)]


def _run(name: str, texts: list[str], correct: list[bool]) -> Run:
    examples = tuple(Example(id=f"{name}{i}", input=t) for i, t in enumerate(texts))
    outputs = tuple(
        Output(example_id=e.id, text="x", correct=c) for e, c in zip(examples, correct, strict=True)
    )
    return Run(name=name, examples=examples, outputs=outputs)


def test_planted_code_shift_is_found_as_feature_and_cluster() -> None:
    old = _texts(250, 0.0, 1)
    new = _texts(250, 0.4, 2)
    section = datadiff(old, new, embed="tfidf", permutations=199, seed=0)["datadiff"]
    top = section["features"][0]
    assert top["name"] == "has_code" and top["significant"]
    assert top["ci"][0] > 0.3 and top["old"] == 0.0
    cluster = section["clusters"][0]
    assert cluster["status"] == "appeared" and "area" in cluster["label"]
    assert section["classifier"]["p_value"] == 1 / 200 and section["classifier"]["auroc"]["ci"][0] > 0.6
    assert section["mmd"]["p_value"] < 0.01
    assert section["verdict"]["differ"]
    assert all(CODE.strip("\n")[:9] in e["text"] for e in section["examples"]["most_new"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_split_shows_no_difference(seed: int) -> None:
    texts = _texts(400, 0.2, 10 + seed)
    section = datadiff(texts[:200], texts[200:], embed="tfidf", permutations=199, seed=seed)["datadiff"]
    assert section["classifier"]["p_value"] > 0.05
    assert section["mmd"]["p_value"] > 0.05
    assert not any(f["significant"] for f in section["features"])
    assert all(c["status"] == "same" for c in section["clusters"])


def test_constant_inputs_tie_rather_than_separate() -> None:
    """Empty inputs on both sides (different counts): every score ties, so nothing differs."""
    section = datadiff([""] * 10, [""] * 12, embed="tfidf", permutations=99)["datadiff"]
    assert section["classifier"]["auroc"]["value"] == 0.5 and section["classifier"]["p_value"] == 1.0
    assert not section["verdict"]["differ"]


def test_importance_weighting_recovers_accuracy_under_covariate_shift() -> None:
    """Code inputs are answered right 40% of the time, others 90%; old has 20% code, new 70%."""
    rng = np.random.default_rng(3)
    old, new = _texts(600, 0.2, 4), _texts(600, 0.7, 5)

    def correct(texts: list[str]) -> list[bool]:
        return [bool(rng.random() < (0.4 if CODE in t else 0.9)) for t in texts]

    old_run, new_run = _run("o", old, correct(old)), _run("n", new, correct(new))
    old_examples, new_examples = list(old_run.examples), list(new_run.examples)
    report = datadiff(old_examples, new_examples, old_run, new_run=new_run, embed="tfidf", permutations=99)
    acc = report["datadiff"]["accuracy"]
    truth = 0.7 * 0.4 + 0.3 * 0.9
    low, high = acc["reweighted_accuracy"]["ci"]
    assert low <= truth <= high
    assert acc["old_accuracy"]["value"] > 0.75 and acc["data_shift"]["ci"][1] < 0
    assert 50 < acc["effective_sample_size"] < 600
    drop = acc["drop"]
    assert drop["total"] == pytest.approx(drop["from_data"] + drop["rest"])


def _write(path: Path, texts: list[str], key: str = "input", correct: list[bool] | None = None) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for i, t in enumerate(texts):
            row = {"id": f"{path.stem}{i}", key: t}
            if correct is not None:
                row.update(output="x", correct=correct[i])
            f.write(json.dumps(row) + "\n")
    return path


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert err.startswith("error: ")
    return err


def test_cli_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old_texts = _texts(120, 0.0, 6)
    old_texts[0] = "<script>alert(1)</script> \x1b[31m red"
    old = _write(tmp_path / "old.jsonl", old_texts, correct=[i % 4 != 0 for i in range(120)])
    new = _write(tmp_path / "new.jsonl", _texts(120, 0.5, 7))
    out = [f"--{k}={tmp_path / ('r.' + k)}" for k in ("json", "md", "html")]
    args = ["datadiff", str(old), str(new), "--run", str(old), "--embed", "tfidf", "--permutations", "99"]
    assert main([*args, "--n-boot", "200", "--seed", "3", *out]) == 0
    terminal = capsys.readouterr().out
    assert "input has code" in terminal and "reweighted" in terminal and "\x1b[31m" not in terminal
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["schema"] == SCHEMA
    section = report["datadiff"]
    assert section["features"][0]["name"] in CODE_FEATURES and section["accuracy"]["n"] == 120
    assert "<script>" not in (tmp_path / "r.html").read_text()
    section["examples"]["most_old"][0]["text"] = old_texts[0]
    html = renderer.render_html(report)
    assert "<script>" not in html and "&lt;script&gt;" in html and "\x1b" not in html
    assert "## What changed in the data" in (tmp_path / "r.md").read_text()
    # the same inputs and seed give the same JSON
    assert main([*args, "--n-boot", "200", "--seed", "3", out[0] + "2", "-q"]) == 0
    assert (tmp_path / "r.json2").read_text() == (tmp_path / "r.json").read_text()


def test_identical_files_report_no_difference(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    texts = _texts(60, 0.3, 8)
    a = _write(tmp_path / "a.jsonl", texts)
    b = _write(tmp_path / "b.jsonl", texts)
    assert main(["datadiff", str(a), str(b), "--embed", "tfidf", "--json", str(tmp_path / "r.json")]) == 0
    assert "no difference" in capsys.readouterr().out
    section = json.loads((tmp_path / "r.json").read_text())["datadiff"]
    assert section["verdict"]["identical_inputs"] and not section["verdict"]["differ"]


def test_bad_input_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _write(tmp_path / "good.jsonl", _texts(30, 0.0, 9))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["datadiff", str(empty), str(good)]) == 2
    assert "empty.jsonl" in _error(capsys)
    no_input = tmp_path / "noinput.jsonl"
    no_input.write_text("".join(json.dumps({"id": i, "answer": "x"}) + "\n" for i in range(10)))
    assert main(["datadiff", str(good), str(no_input)]) == 2
    assert "input column" in _error(capsys)
    tiny = _write(tmp_path / "tiny.jsonl", ["a b", "c d"])
    assert main(["datadiff", str(good), str(tiny), "--embed", "tfidf"]) == 2
    assert "at least" in _error(capsys)
    assert main(["datadiff", str(good), str(good), "--embed", "bogus"]) == 2
    _error(capsys)
    other = _write(tmp_path / "other.jsonl", _texts(30, 0.0, 11), correct=[True] * 30)
    assert main(["datadiff", str(good), str(good), "--run", str(other), "--embed", "tfidf"]) == 2
    assert "no output" in _error(capsys)


def test_input_column_option_and_markdown_escaping(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = _write(tmp_path / "old.jsonl", _texts(40, 0.0, 12), key="question_text")
    new = _write(tmp_path / "new.jsonl", _texts(40, 0.6, 13), key="question_text")
    args = ["datadiff", str(old), str(new), "--input", "question_text", "--embed", "tfidf", "-q"]
    assert main([*args, "--permutations", "99", "--json", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    section = report["datadiff"]
    assert section["old"]["n"] == 40 and section["features"][0]["name"] in CODE_FEATURES
    section["examples"]["most_new"][0]["text"] = "| **bold** [x](javascript:alert(1)) <img src=x>"
    markdown = renderer.render_markdown(report)
    assert "<img" not in markdown and "\\[x\\](javascript:" in markdown  # brackets escaped: no link
    assert capsys.readouterr().out == ""
