"""LLM Comparator JSON: export a comparison (with its judgments), import it back, and bad files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deltaeval.cli import main
from deltaeval.errors import InputError, UsageError
from deltaeval.io import detect_format, load_judgments, load_runs
from deltaeval.io.llm_comparator_export import comparison_document, write_comparison
from deltaeval.store import Store
from deltaeval.types import Example, Judgment, Output, Run, stable_id

PLANTED = "<script>alert('x')</script>"


def _runs() -> tuple[Run, Run]:
    examples = [
        Example("a1", "What is 2+2?", "4", {"category": "math", "lang": "en"}),
        Example("a2", "Capital of France?", "Paris", {"category": "geo", "lang": "en"}),
        Example("a3", "Say hi", "hi", {"category": "misc", "lang": "fr"}),
        Example("a4", "Name a colour", None, {"category": "misc", "lang": "en"}),
    ]
    old = [
        Output("a1", "4", score=1.0, correct=True),
        Output("a2", "Lyon", score=0.0, correct=False),
        Output("a3", PLANTED, score=0.25, correct=False),
        Output("a4", None, error="timeout"),
    ]
    new = [
        Output("a1", "5", score=0.0, correct=False),
        Output("a2", "Paris", score=1.0, correct=True),
        Output("a3", "hi", score=1.0, correct=True),
        Output("a4", "blue", score=0.5, correct=True),
    ]
    return (
        Run("v1", tuple(examples), tuple(old), model="m-1"),
        Run("v2", tuple(examples), tuple(new), model="m-2"),
    )


def _judgments() -> list[Judgment]:
    """Verdicts in both orders (run_a = old, as `deltaeval judge` stores them), one a probability."""
    return [
        Judgment("a1", "judge-x", "v1", "v2", "ab", "A>>B", explanation="the old answer is right"),
        Judgment("a1", "judge-x", "v1", "v2", "ba", "B>A"),
        Judgment("a2", "judge-x", "v1", "v2", "ab", 0.2),
        Judgment("a2", "judge-x", "v1", "v2", "ba", "A=B"),
        Judgment("a3", "judge-y", "v1", "v2", "ba", "A>B", explanation=PLANTED),
        Judgment("a3", "judge-x", "v0", "v2", "ab", "A>B"),  # another pair: left out
    ]


def _rounded(value: Any) -> Any:
    """``value`` with every float rounded (a probability and back may differ in the last bit)."""
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def _outcomes(judgments: list[Judgment]) -> dict[tuple[str, str, str], float | None]:
    """Each judgment's outcome for the new run, keyed by example, judge and who was shown first."""
    return {(j.example_id, j.judge, j.shown_first): j.outcome_for("v2", weak_win=0.75) for j in judgments}


def test_round_trip_keeps_examples_outputs_tags_and_scores(tmp_path: Path) -> None:
    old, new = _runs()
    path = write_comparison(tmp_path / "cmp.json", old, new, _judgments())
    document = json.loads(path.read_text(encoding="utf-8"))
    assert [m["name"] for m in document["models"]] == ["v2", "v1"]  # A is the new run
    first = document["examples"][0]
    assert first["output_text_a"] == "5" and first["output_text_b"] == "4"
    # A>>B with the old output shown first: B (old) much better, -1.5; B>A with A first: -1.0
    assert [r["score"] for r in first["individual_rater_scores"]] == [-1.5, -1.0]
    assert [r["is_flipped"] for r in first["individual_rater_scores"]] == [True, False]
    assert first["score"] == pytest.approx(-1.25)
    assert document["examples"][3]["score"] is None  # no judgment: no preference

    assert detect_format(path) == "llm_comparator"
    back_old, back_new = load_runs(path)
    assert (back_old.name, back_new.name) == ("v1", "v2")
    for original, back in ((old, back_old), (new, back_new)):
        assert back.ids == original.ids
        assert [e.input for e in back.examples] == [e.input for e in original.examples]
        assert [e.reference for e in back.examples] == [e.reference for e in original.examples]
        assert [dict(e.tags) for e in back.examples] == [dict(e.tags) for e in original.examples]
        for before, after in zip(original.outputs, back.outputs, strict=True):
            assert (after.text, after.score, after.correct, after.error) == (
                before.text,
                before.score,
                before.correct,
                before.error,
            )
    judgments = load_judgments(path)
    kept = [j for j in _judgments() if j.run_a == "v1"]
    assert len(judgments) == len(kept)
    assert {j.judge for j in judgments} == {"judge-x", "judge-y"}
    assert _outcomes(judgments) == pytest.approx(_outcomes(kept))
    labels = {(j.example_id, j.shown_first): j.label for j in judgments}
    assert labels[("a1", "v1")] == "A>>B" and labels[("a2", "v2")] == "A=B"
    assert labels[("a2", "v1")] == pytest.approx(0.2)
    # written again, the file is the same: examples, outputs, tags and every score
    again = comparison_document(back_old, back_new, judgments)
    assert _rounded(again["examples"]) == _rounded(document["examples"])


def test_cli_export_and_import_through_the_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store.sqlite"
    old, new = _runs()
    with Store(store) as db:
        db.save_run(old)
        db.save_run(new)
        db.save_judgments(_judgments())
    out = tmp_path / "cmp.json"
    assert main(["export", "llm-comparator", "v1", "v2", "-o", str(out), "--store", str(store)]) == 0
    assert "5 judgments" in capsys.readouterr().out
    other = tmp_path / "other.sqlite"
    assert main(["import", str(out), "--name", "rt-", "--store", str(other)]) == 0
    printed = capsys.readouterr().out
    assert "imported 'rt-v1'" in printed and "imported 5 judgments" in printed
    with Store(other) as db:
        assert db.load_run("rt-v2").ids == new.ids
        stored = db.load_judgments(run_a="rt-v1", run_b="rt-v2")
    assert len(stored) == 5
    # only one judge's verdicts
    assert (
        main(
            [
                "export",
                "llm-comparator",
                "v1",
                "v2",
                "-o",
                str(out),
                "--judge",
                "judge-y",
                "--store",
                str(store),
            ]
        )
        == 0
    )
    document = json.loads(out.read_text(encoding="utf-8"))
    assert [len(e["individual_rater_scores"]) for e in document["examples"]] == [0, 0, 1, 0]


def _file(tmp_path: Path, document: Any, name: str = "cmp.json") -> Path:
    path = tmp_path / name
    path.write_text(
        json.dumps(document, indent=2) if not isinstance(document, str) else document, encoding="utf-8"
    )
    return path


def _foreign() -> dict[str, Any]:
    """A file as LLM Comparator's own tools write it: no ids, list tags, repeated ratings."""
    return {
        "metadata": {"source_path": "n/a", "custom_fields_schema": [{"name": "source", "type": "category"}]},
        "models": [{"name": "ABC 1.1"}, {"name": "ABC 1.0"}],
        "examples": [
            {
                "input_text": "Which city should I visit?",
                "tags": ["Travel"],
                "output_text_a": "Seoul.",
                "output_text_b": "Seoul, Busan and Jeju.",
                "score": 0.5,
                "individual_rater_scores": [],
                "custom_fields": {"source": "arena"},
            },
            {
                "input_text": [{"data": "Draw a chart", "type": "text"}],
                "tags": [],
                "output_text_a": "I don't know.",
                "output_text_b": "Use a plotting library.",
                "score": -0.75,
                "individual_rater_scores": [
                    {"score": -1.0, "rating_label": "B is better", "is_flipped": False, "rationale": "r1"},
                    {"score": -1.0, "rating_label": "A is better", "is_flipped": True, "rationale": "r2"},
                    {
                        "score": -0.5,
                        "rating_label": "B is slightly better",
                        "is_flipped": False,
                        "rationale": "r3",
                    },
                    {
                        "score": -0.5,
                        "rating_label": "A is slightly better",
                        "is_flipped": True,
                        "rationale": "r4",
                    },
                ],
                "custom_fields": {"source": "manual"},
            },
        ],
    }


def test_foreign_file_reads_with_hashed_ids_list_tags_and_numbered_repeats(tmp_path: Path) -> None:
    path = _file(tmp_path, _foreign())
    old, new = load_runs(path)
    assert (old.name, new.name) == ("ABC 1.0", "ABC 1.1")
    assert old.ids == [stable_id("Which city should I visit?"), stable_id("Draw a chart")]
    assert [dict(e.tags) for e in new.examples] == [
        {"category": "Travel", "source": "arena"},
        {"source": "manual"},
    ]
    assert [o.text for o in new.outputs] == ["Seoul.", "I don't know."]
    judgments = load_judgments(path)
    repeats = ["llm_comparator", "llm_comparator", "llm_comparator#2", "llm_comparator#2"]
    assert [j.judge for j in judgments] == ["llm_comparator", *repeats]
    # the example without ratings keeps its score as one verdict, A (new) shown first
    assert judgments[0].outcome_for("ABC 1.1") == pytest.approx(2 / 3)
    # -1.0 relative to A: B is better, whichever was shown first
    assert judgments[1].label == "B>A" and judgments[1].shown_first == "ABC 1.1"
    assert judgments[2].label == "A>B" and judgments[2].shown_first == "ABC 1.0"
    assert judgments[3].outcome_for("ABC 1.1") == pytest.approx(1 / 3)
    assert judgments[2].explanation == "r2"


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            {"models": [{"name": "a"}], "examples": []},
            "'models' holds 1 entries; an LLM Comparator file compares exactly two",
        ),
        ({"models": [{"name": "a"}, {"name": "a"}], "examples": []}, "both models are named 'a'"),
        ({"models": [{"name": "a"}, {}], "examples": []}, "models[1] has no 'name'"),
        ({"models": [{"name": "a"}, {"name": "b"}], "examples": []}, "'examples' is empty"),
        (
            {
                "models": [{"name": "a"}, {"name": "b"}],
                "examples": [{"input_text": "x", "output_text_a": "y"}],
            },
            "examples[0] has no 'output_text_b'",
        ),
        (
            {
                "models": [{"name": "a"}, {"name": "b"}],
                "examples": [
                    {
                        "input_text": "x",
                        "output_text_a": "y",
                        "output_text_b": "z",
                        "individual_rater_scores": [3],
                    }
                ],
            },
            "examples[0].individual_rater_scores[0] is int, not an object",
        ),
    ],
)
def test_bad_files_name_the_field_and_the_fix(
    tmp_path: Path, document: dict[str, Any], expected: str
) -> None:
    path = _file(tmp_path, document)
    with pytest.raises(InputError) as caught:
        load_runs(path, format="llm_comparator")
        load_judgments(path, format="llm_comparator")
    message = caught.value.one_line()
    assert expected in message and str(path) in message and "(fix: " in message


def test_malformed_json_is_one_line_error_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = json.dumps(_foreign(), indent=2)
    path = _file(tmp_path, text[: len(text) // 2])  # cut short
    assert main(["import", str(path), "--store", str(tmp_path / "s.sqlite")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith(f"error: {path}:") and "malformed JSON on line" in err and "(fix: " in err
    wrong = _file(
        tmp_path, {"models": [{"name": "a"}, {"name": "b"}, {"name": "c"}], "examples": []}, "three.json"
    )
    assert main(["import", str(wrong), "--store", str(tmp_path / "s.sqlite")]) == 2
    err = capsys.readouterr().err.strip()
    assert "'models' holds 3 entries" in err and len(err.splitlines()) == 1


def test_export_of_unknown_run_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cmp.json"
    assert (
        main(["export", "llm-comparator", "nope", "nada", "-o", str(out), "--store", str(tmp_path / "s")])
        == 2
    )
    assert "'nope' is neither a file nor a stored run" in capsys.readouterr().err
    assert not out.exists()


def test_export_of_two_runs_of_one_name_is_an_error(tmp_path: Path) -> None:
    old, new = _runs()
    with pytest.raises(UsageError, match="both runs are named 'v1'"):
        write_comparison(tmp_path / "cmp.json", old, new.replace(name="v1"))
