"""Recorded preferences are matched to the runs' examples: by id, else by input text; no match is an error."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from vibecheck_sample import sample_rows, write_sample

from deltaeval.cli import main
from deltaeval.errors import InputError
from deltaeval.judging import read_judgments, recorded_judge_for
from deltaeval.types import Example, stable_id


def write_prefs(
    path: Path, rows: list[tuple[str, str]], columns: tuple[str, str] = ("question", "pref")
) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
    return path


def verdict(row: dict[str, str]) -> str:
    """The sample's preference as a label with the cold model as A and the friendly one as B."""
    return "B>A" if row["preference"] == "friendly" else "A>B"


@pytest.fixture
def store(tmp_path: Path, capsys) -> Path:
    """The VibeCheck-style sample imported: runs 'friendly' and 'cold', keyed by a hash of the question."""
    store = tmp_path / "store.sqlite"
    assert main(["import", str(write_sample(tmp_path / "sample.csv")), "--store", str(store)]) == 0
    capsys.readouterr()
    return store


def test_preferences_keyed_by_question_match_runs_keyed_by_its_hash(tmp_path, store, capsys) -> None:
    """The issue's command: 0 ids matched, exit 0, '60 errors' and '(both orders)'. Now matched by text."""
    rows = sample_rows()
    prefs = write_prefs(tmp_path / "prefs.csv", [(r["question"], verdict(r)) for r in rows])
    out_json = tmp_path / "behaviour.json"
    args = [
        "behaviour",
        "cold",
        "friendly",
        "--judge",
        str(prefs),
        "--preference",
        "pref",
        "--id",
        "question",
    ]
    args += ["--store", str(store), "--similarity", "none", "--n-boot", "200", "--json", str(out_json)]
    args += ["--md", str(tmp_path / "report.md"), "--html", str(tmp_path / "report.html")]
    assert main(args) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "recorded judgments for 60 of 60 examples (0 by id, 60 by input text)" in out
    assert "0 errors" in out and "both orders" not in out.split("Judge requests")[0]
    assert "one order, as recorded" in out
    report = json.loads(out_json.read_text())
    preference = report["preference"]
    assert preference["n_judged"] == 60 and preference["n_no_verdict"] == 0
    assert preference["win_rate"]["wins"] == sum(r["preference"] == "friendly" for r in rows)
    assert preference["protocol"]["one_order_judges"] == ["prefs"]
    assert report["behaviour"]["preference_source"] == "judge: prefs (one order, as recorded)"
    for rendered in ("report.md", "report.html"):
        text = (tmp_path / rendered).read_text()
        assert "prefs; one order, as recorded" in text or "prefs · one order, as recorded" in text


def test_preferences_matching_nothing_are_an_error_naming_the_expected_ids(tmp_path, store, capsys) -> None:
    rows = sample_rows()
    prefs = write_prefs(
        tmp_path / "prefs.csv", [(f"q{i}", verdict(r)) for i, r in enumerate(rows)], ("qid", "pref")
    )
    args = ["judge", "cold", "friendly", "--judge", str(prefs), "--preference", "pref", "--id", "qid"]
    assert main([*args, "--store", str(store)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "prefs.csv" in err
    assert "none of its 60 recorded example ids matches one of the 60 examples" in err
    assert repr(stable_id(rows[0]["question"])) in err  # the ids expected
    assert "'q0', 'q1', 'q2'" in err  # the ids found
    assert "--id COLUMN" in err
    assert "Judge requests" not in captured.out


def test_a_partial_match_is_reported_with_counts(tmp_path, store, capsys) -> None:
    rows = sample_rows()
    by_id = [(stable_id(r["question"]), verdict(r)) for r in rows[:20]]
    # whitespace differs from the runs' inputs: matched after normalising it
    by_text = [("  " + r["question"].replace(" ", "\n ") + " ", verdict(r)) for r in rows[20:45]]
    prefs = write_prefs(tmp_path / "prefs.csv", [*by_id, *by_text, ("a question nobody asked", "A>B")])
    out_json = tmp_path / "judge.json"
    args = ["judge", "cold", "friendly", "--judge", str(prefs), "--preference", "pref", "--id", "question"]
    assert main([*args, "--store", str(store), "--json", str(out_json)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert (
        "recorded judgments for 45 of 60 examples (20 by id, 25 by input text); 15 examples have none;"
        " 1 of its 46 ids matches no example"
    ) in out
    assert json.loads(out_json.read_text())["preference"]["n_no_verdict"] == 15


def test_an_input_column_matches_by_text_when_the_ids_differ(tmp_path) -> None:
    """A table with its own ids and a question column: the question is matched to the inputs."""
    rows = sample_rows()[:6]
    path = tmp_path / "prefs.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", "prompt", "pref"])
        writer.writerows([(f"row-{i}", r["question"], verdict(r)) for i, r in enumerate(rows)])
    recorded = read_judgments(path, preference="pref")
    judge, _ = recorded_judge_for(recorded, "cold", "friendly")
    examples = [Example(id=stable_id(r["question"]), input=r["question"]) for r in rows]
    matched, coverage = judge.matched(examples)
    assert (coverage.by_id, coverage.by_text, coverage.matched) == (0, 6, 6)
    assert set(matched.example_ids) == {e.id for e in examples}
    with pytest.raises(InputError, match="none of its 6 recorded example ids"):
        judge.matched([Example(id="other", input="something else")])
