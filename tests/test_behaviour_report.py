"""The behaviour section end to end: in `compare` by default for text, `compare_behaviour` with a
judge's preferences, and `deltaeval behaviour` with an LLM proposer on the local server."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from openai_server import OpenAIServer
from test_proposer import Script, new_text, old_text

import deltaeval
from deltaeval.cli import main
from deltaeval.judging.callable import CallableJudge
from deltaeval.types import Example, Output, Run

N = 40


def prose(i: int) -> str:
    return f"Answer {i} is explained in one plain paragraph of prose with several words in it."


def listed(i: int) -> str:
    return f"Answer {i}:\n- first point here\n- second point here\n- third point here"


def text_runs(n: int = N, *, correct: bool = True) -> tuple[Run, Run]:
    """Old answers in prose; new answers as bullet lists on even examples, shorter prose on odd."""
    examples = tuple(Example(id=f"q{i}", input=f"Question {i}?") for i in range(n))
    old = Run(
        "v1",
        examples,
        tuple(Output(e.id, text=prose(i), correct=correct or None) for i, e in enumerate(examples)),
    )
    new = Run(
        "v2",
        examples,
        tuple(
            Output(e.id, text=listed(i) if i % 2 == 0 else f"Answer {i}, briefly.", correct=correct or None)
            for i, e in enumerate(examples)
        ),
    )
    return old, new


def label_runs(n: int = N) -> tuple[Run, Run]:
    examples = tuple(Example(id=f"q{i}", input=f"digit image {i}") for i in range(n))
    old = Run(
        "v1", examples, tuple(Output(e.id, text=str(i % 10), correct=True) for i, e in enumerate(examples))
    )
    new = Run(
        "v2",
        examples,
        tuple(Output(e.id, text=str(i % 10), correct=i % 7 != 0) for i, e in enumerate(examples)),
    )
    return old, new


def axis(section: dict, name: str) -> dict:
    return next(a for a in section["axes"] if a["name"] == name)


def test_compare_adds_the_behaviour_section_for_text_only() -> None:
    old, new = text_runs()
    report = deltaeval.compare(old, new, n_boot=200)
    b = report.data["behaviour"]
    assert report.data["settings"]["behaviour"] is True and report.data["settings"]["similarity"] == "tfidf"
    bullets = axis(b, "bullet_items")
    assert bullets["direction"] == "up" and bullets["passes"]
    assert bullets["diff"] == pytest.approx(1.5)  # 3 items on half the examples
    assert bullets["kind"] == "built-in" and bullets["family"] == "format"
    example = bullets["example"]
    assert example["new"].startswith("Answer") and "- first point" in example["new"]
    assert (example["value_old"], example["value_new"]) == (0.0, 3.0)
    separability = [a["separability"] for a in b["axes"]]
    assert separability == sorted(separability, reverse=True)
    assert b["n"] == N and b["n_passing"] >= 1 and b["changes"]["method"] == "tfidf"
    # no planted difference on these axes: nothing about questions or apologies passes
    assert not axis(b, "questions")["passes"] and not axis(b, "apologies")["passes"]
    # labels are not text; the switch forces or drops the section
    labels = deltaeval.compare(*label_runs(), n_boot=100).data
    assert "behaviour" not in labels and labels["settings"]["behaviour"] is False
    assert "behaviour" in deltaeval.compare(*label_runs(), n_boot=100, behaviour=True).data
    assert "behaviour" not in deltaeval.compare(old, new, n_boot=100, behaviour=False).data
    with pytest.raises(deltaeval.DeltaEvalError, match="similarity"):
        deltaeval.compare(old, new, similarity="cosine")


def test_compare_behaviour_fits_the_judges_preferences() -> None:
    old, new = text_runs(correct=False)

    def prefers_lists(question: str, a: str, b: str) -> str:
        a_list, b_list = "\n- " in a, "\n- " in b
        if a_list == b_list:
            return "A>B" if len(a) > len(b) else "B>A"  # otherwise the longer answer
        return "A>B" if a_list else "B>A"

    report = deltaeval.compare_behaviour(
        old, new, judges=[CallableJudge(prefers_lists, name="lists")], similarity="none", n_boot=200
    )
    data = report.data
    assert "flips" not in data and data["preference"]["win_rate"]["wins"] == N // 2
    b = data["behaviour"]
    assert b["preference_source"].startswith("judge: lists (both orders")
    assert b["n_preferences"] == N and b["changes"] is None
    fit = axis(b, "bullet_items")["preference"]
    assert fit["coef"] > 0 and fit["coef_interval"][0] > 0  # more bullets goes with preferring new
    assert b["combined"]["preference_accuracy"] >= 0.9
    # the same seed gives the same report
    again = deltaeval.compare_behaviour(
        old, new, judges=[CallableJudge(prefers_lists, name="lists")], similarity="none", n_boot=200
    )
    assert again.data == data


def write_jsonl(path: Path, texts: list[str]) -> Path:
    rows = [{"id": f"q{i}", "input": f"Question {i}?", "output": t} for i, t in enumerate(texts)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_behaviour_cli_with_a_proposer_on_the_local_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    n = 24
    old_path = write_jsonl(tmp_path / "v1.jsonl", [old_text(i) for i in range(n)])
    new_path = write_jsonl(tmp_path / "v2.jsonl", [new_text(i) for i in range(n)])
    out = tmp_path / "b.json"
    with OpenAIServer(answers=Script()) as server:
        args = ["behaviour", str(old_path), str(new_path), "--proposer", f"openai:test@{server.url}"]
        args += ["--store", str(tmp_path / "s.sqlite"), "--similarity", "tfidf", "--n-boot", "200"]
        args += ["--propose-pairs", "24", "--json", str(out), "--quiet"]
        assert main(args) == 0
        asked = len(server.log)
        assert asked > 0
        report = json.loads(out.read_text(encoding="utf-8"))
        proposed = report["behaviour"]["proposed"]
        assert "bullet_lists" in proposed["kept"]
        politeness = next(a for a in proposed["axes"] if a["name"] == "politeness")
        assert not politeness["kept"] and politeness["order_dependent"] == n  # always "Response A"
        row = axis(report["behaviour"], "bullet_lists")
        assert row["kind"] == "proposed" and row["direction"] == "up" and row["passes"]
        assert row["high"] == "answers as a bulleted list"
        assert report["behaviour"]["multiple_testing_families"] == ["built-in", "proposed"]
        # a rerun answers from the store's cache: the server is asked nothing
        server.clear_log()
        assert main(args) == 0
        assert server.log == []
    assert json.loads(out.read_text(encoding="utf-8"))["behaviour"] == report["behaviour"]


def test_behaviour_cli_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old_path = write_jsonl(tmp_path / "v1.jsonl", [prose(i) for i in range(8)])
    new_path = write_jsonl(tmp_path / "v2.jsonl", [listed(i) for i in range(8)])
    base = ["behaviour", str(old_path), str(new_path), "--store", str(tmp_path / "s.sqlite")]
    assert main([*base, "--baseline", str(old_path)]) == 2
    assert "--baseline needs a --judge" in capsys.readouterr().err
    assert main([*base, "--similarity", "cosine"]) == 2
    assert "unknown similarity" in capsys.readouterr().err
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"id": "zzz", "input": "x", "output": "y"}) + "\n", encoding="utf-8")
    assert main(["behaviour", str(old_path), str(other), "--store", str(tmp_path / "s.sqlite")]) == 2
    assert "share no example" in capsys.readouterr().err


def test_behaviour_needs_no_network_or_model_and_is_seeded(tmp_path: Path) -> None:
    old, new = text_runs(correct=False)
    first = deltaeval.compare_behaviour(old, new, similarity="tfidf", n_boot=100, seed=3).data["behaviour"]
    second = deltaeval.compare_behaviour(old, new, similarity="tfidf", n_boot=100, seed=3).data["behaviour"]
    assert first == second
    assert np.isclose(axis(first, "bullet_items")["mean_new"], 1.5)
