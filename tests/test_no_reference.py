"""Comparing runs without correctness: two Arena-Hard answer files (no references) give a report of
churn, lengths and behaviour that says flips need a scorer or a judge; with references, a scorer
is chosen automatically and named in every format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import deltaeval
from deltaeval.cli import main
from deltaeval.errors import InputError
from deltaeval.gate import evaluate_gate
from deltaeval.scoring.auto import choose_scorer, free_text_choice

QUESTIONS = [
    "Write a haiku about autumn.",
    "Explain recursion to a child.",
    "How do I reverse a list in Python?",
    "What is the capital of Australia?",
    "Summarise the plot of Hamlet.",
    "Give me three tips for better sleep.",
    "What does HTTP 404 mean?",
    "Suggest a name for a coffee shop.",
]


def arena_hard_answer(question_id: str, text: str, model: str) -> dict[str, Any]:
    """One record of an Arena-Hard v0.1 ``model_answer/<model>.jsonl`` file."""
    return {
        "question_id": question_id,
        "answer_id": f"{model}-{question_id}",
        "model_id": model,
        "choices": [{"index": 0, "turns": [{"content": text, "token_len": len(text.split())}]}],
        "tstamp": 1_700_000_000.0,
    }


def write_arena_hard(tmp_path: Path) -> tuple[Path, Path]:
    """gpt-4-0314 vs gpt-4-0613 answers: the newer one answers at more length; one answer is the same."""
    paths = []
    for model, style in (("gpt-4-0314", "short"), ("gpt-4-0613", "long")):
        lines = []
        for i, question in enumerate(QUESTIONS):
            answer = f"Here is a brief answer to: {question}"
            if style == "long" and i != 0:
                answer += " Let me add some detail, a worked example and a short summary at the end."
            lines.append(json.dumps(arena_hard_answer(f"q{i:03d}", answer, model)))
        path = tmp_path / f"{model}.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    return paths[0], paths[1]


NO_FLIPS_NOTE = "No flips or accuracy: the runs carry no correctness"


def test_compare_without_references_reports_what_it_can(tmp_path: Path, capsys) -> None:
    old, new = write_arena_hard(tmp_path)
    out = {suffix: tmp_path / f"r.{suffix}" for suffix in ("json", "md", "html")}
    args = ["compare", str(old), str(new), "--json", str(out["json"]), "--md", str(out["md"])]
    assert main([*args, "--html", str(out["html"])]) == 0
    terminal = capsys.readouterr().out
    report = json.loads(out["json"].read_text(encoding="utf-8"))

    assert report["flips"] is None and report["accuracy"] is None and report["examples"] is None
    assert report["slices"] == [] and report["settings"]["scorer"] is None
    assert report["alignment"]["n_shared"] == len(QUESTIONS)
    changes = report["output_changes"]
    assert changes["n"] == len(QUESTIONS) and changes["changed"] == len(QUESTIONS) - 1
    assert changes["churn"] == pytest.approx(7 / 8)
    assert changes["ci_methods"] == {"churn_ci": "clopper-pearson", "mean_delta_ci": "bootstrap-percentile"}
    words = changes["lengths"]["words"]
    assert words["mean_delta"] == pytest.approx(7 * 15 / 8)  # 15 words added to 7 of 8 answers
    assert words["new_mean"] > words["old_mean"] and words["mean_delta_ci"][0] > 0
    assert changes["lengths"]["characters"]["mean_delta"] > 0
    assert "behaviour" in report and report["behaviour"]["n_axes"] > 0
    [note] = report["notes"]
    assert note.startswith(NO_FLIPS_NOTE) and "the examples have no references" in note
    assert "--scorer" in note and "deltaeval judge" in note

    # every format says so, and shows churn and lengths
    markdown = out["md"].read_text(encoding="utf-8")
    html = out["html"].read_text(encoding="utf-8")
    for text in (" ".join(terminal.split()), markdown, html):
        assert NO_FLIPS_NOTE in text and "deltaeval judge" in text
        assert "Churn" in text and "87.5%" in text and "Δ words" in text
        assert "Negative flips" not in text
    assert "Not scored" in html and "NOT SCORED" in terminal

    # gate: a flip threshold on this report fails with a clear message, not a crash
    capsys.readouterr()
    assert main(["gate", str(out["json"]), "--max-nfr", "0.02"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the report has no flips: it was made without a scorer")
    assert len(err.strip().splitlines()) == 1
    with pytest.raises(InputError, match="made without a scorer"):
        evaluate_gate(report, max_slice_nfr=0.1)


def test_python_api_behaves_the_same(tmp_path: Path) -> None:
    old, new = write_arena_hard(tmp_path)
    report = deltaeval.compare(old, new, behaviour=False)
    assert report.flips is None and report.accuracy is None
    assert report.data["output_changes"]["changed"] == len(QUESTIONS) - 1
    assert "behaviour" not in report.data
    assert report.data["notes"][0].startswith(NO_FLIPS_NOTE)
    assert report.to_json() == deltaeval.compare(old, new, behaviour=False).to_json()  # deterministic
    # without the behaviour section the terminal and Markdown still lead with what is known
    assert "Not scored" in report.to_markdown() and "Churn" in report.to_markdown()


def write_with_references(tmp_path: Path, rows: list[tuple[str, str, str]]) -> tuple[Path, Path]:
    """Two runs of (reference, old output, new output) rows with a reference column."""
    paths = []
    for side in (1, 2):
        lines = [
            json.dumps({"id": f"e{i}", "input": f"question {i}", "reference": row[0], "output": row[side]})
            for i, row in enumerate(rows)
        ]
        path = tmp_path / f"v{side}.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    return paths[0], paths[1]


def test_with_references_a_default_scorer_is_chosen_and_named(tmp_path: Path, capsys) -> None:
    rows = [("Paris", "Paris", "Paris."), ("blue", "blue", "red"), ("cold", "warm", "cold"), ("4", "4", "4")]
    old, new = write_with_references(tmp_path, rows)
    out = {suffix: tmp_path / f"r.{suffix}" for suffix in ("json", "md", "html")}
    args = ["compare", str(old), str(new), "--json", str(out["json"]), "--md", str(out["md"])]
    assert main([*args, "--html", str(out["html"])]) == 0
    terminal = " ".join(capsys.readouterr().out.split())
    report = json.loads(out["json"].read_text(encoding="utf-8"))
    assert report["settings"]["scorer"] == "exact"
    assert report["settings"]["scorer_auto"] == "every output is a label no longer than its reference"
    assert report["flips"]["negative"] == 1 and report["flips"]["positive"] == 1
    assert report["output_changes"] is None
    named = "Scored with exact (chosen automatically: every output is a label no longer than its reference"
    assert report["notes"] == [named + "; pass --scorer to change)."]
    for text in (terminal, out["md"].read_text(encoding="utf-8"), out["html"].read_text(encoding="utf-8")):
        assert named in text and "pass --scorer to change" in text
    # a scorer that is given is used as given, and no note is added
    report = deltaeval.compare(old, new, scorer="contains", behaviour=False)
    assert report.data["settings"]["scorer"] == "contains" and report.data["notes"] == []
    assert report.data["settings"]["scorer_auto"] is None


def test_report_hash_is_the_hash_of_the_run_as_given(tmp_path: Path) -> None:
    old, new = write_with_references(tmp_path, [("1", "1", "2"), ("2", "2", "2")])
    report = deltaeval.compare(old, new, behaviour=False)
    assert report.data["settings"]["scorer"] == "numeric"
    assert report.data["old"]["content_hash"] == deltaeval.load_run(old).content_hash


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([("42", "The answer is 42."), ("1,000", "about 1000")], "numeric"),
        ([("Janet pays 3 * 4 = 12.\n#### 12", "12")], "numeric"),
        ([("7", "7,982 non-planetary moons orbit; there are 7 continents")], "numeric"),
        ([("B", "The answer is (B)."), ("(c)", "C")], "choice"),
        ([("Paris", "paris"), ("New York", "Boston")], "exact"),
        ([("Paris", "The capital is Paris."), ("cold", "cold")], free_text_choice().name),
        ([("a long reference " * 5, "an answer")], None),
        ([(None, "an answer"), ("x", "x")], None),
        ([(None, "an answer")], None),
    ],
)
def test_choose_scorer_rule(pairs: list[tuple[str | None, str]], expected: str | None) -> None:
    assert choose_scorer(pairs).name == expected


def test_scores_without_correctness_are_not_rescored(tmp_path: Path) -> None:
    rows = [json.dumps({"id": f"e{i}", "reference": "x", "output": "x", "score": 0.5}) for i in range(3)]
    path = tmp_path / "s.jsonl"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    report = deltaeval.compare(path, path, behaviour=False)
    assert report.flips is None and report.data["settings"]["scorer"] is None
    assert "--threshold" in report.data["notes"][0]
    assert deltaeval.compare(path, path, threshold=0.5, behaviour=False).flips["n"] == 3
