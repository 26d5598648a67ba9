"""A wide CSV's metadata columns are kept as tags, not imported as model runs."""

from __future__ import annotations

import csv
from pathlib import Path

from vibecheck_sample import sample_rows, write_sample

from deltaeval.cli import main
from deltaeval.io import load_runs
from deltaeval.store import Store


def write_rows(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_vibecheck_sample_imports_two_runs_with_its_metadata_as_tags(tmp_path, capsys) -> None:
    """The issue: category, a_type, b_type and preference were imported as four extra model runs."""
    sample = write_sample(tmp_path / "friendly_and_cold_sample.csv")
    store = tmp_path / "store.sqlite"
    assert main(["import", str(sample), "--store", str(store)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert out.count("imported") == 2
    assert "imported 'friendly': 60 examples" in out and "imported 'cold': 60 examples" in out
    note = (
        "kept as tags, not model runs: 'category' (a metadata name), 'a_type' (a metadata name),"
        " 'b_type' (a metadata name), 'preference' (a metadata name)"
    )
    assert out.count(note) == 1  # listed once, not once per run
    with Store(store) as db:
        assert sorted(r.name for r in db.list_runs()) == ["cold", "friendly"]
        friendly = db.load_run("friendly")
    first = sample_rows()[0]
    assert dict(friendly.examples[0].tags) == {
        "category": first["category"],
        "a_type": first["a_type"],
        "b_type": first["b_type"],
        "preference": first["preference"],
    }
    assert friendly.outputs[0].text == first["friendly"]


def test_numeric_and_categorical_columns_are_tags_whatever_their_names(tmp_path) -> None:
    rows = sample_rows()
    path = write_rows(
        tmp_path / "renamed.csv",
        ["question", "grp", "gpt", "llama", "rating", "shown_first"],
        [
            [r["question"], r["category"], r["friendly"], r["cold"], str(i % 5 + 0.5), r["a_type"]]
            for i, r in enumerate(rows)
        ],
    )
    runs = load_runs(path)
    assert [r.name for r in runs] == ["gpt", "llama"]
    assert set(runs[0].examples[0].tags) == {"grp", "rating", "shown_first"}
    assert (
        "'grp' (5 distinct values), 'rating' (numbers), 'shown_first' (2 distinct values)" in runs[0].notes[0]
    )


def test_a_repetitive_model_stays_a_model(tmp_path) -> None:
    """A model that always refuses has one distinct answer, but answers in sentences: still a run."""
    rows = sample_rows()
    path = write_rows(
        tmp_path / "refusals.csv",
        ["question", "helpful", "refuser"],
        [[r["question"], r["friendly"], "I'm sorry, but I can't help with that."] for r in rows],
    )
    assert [r.name for r in load_runs(path)] == ["helpful", "refuser"]


def test_label_answering_models_stay_models_when_nothing_else_is_free_text(tmp_path) -> None:
    """Two classifiers' labels in a wide CSV: every column looks categorical, so none is taken."""
    labels = ["positive", "negative", "neutral"]
    path = write_rows(
        tmp_path / "labels.csv",
        ["question", "clf_v1", "clf_v2", "category"],
        [[f"Review number {i}", labels[i % 3], labels[(i + 1) % 3], "reviews"] for i in range(40)],
    )
    runs = load_runs(path)
    assert [r.name for r in runs] == ["clf_v1", "clf_v2"]  # 'category' is a tag by its name
    assert dict(runs[0].examples[0].tags) == {"category": "reviews"}


def test_explicit_tags_still_work_and_add_to_the_guessed_ones(tmp_path) -> None:
    sample = write_sample(tmp_path / "sample.csv")
    from deltaeval.io import ColumnMapping

    runs = load_runs(sample, mapping=ColumnMapping(tags=("category",)))
    assert [r.name for r in runs] == ["friendly", "cold"]
    assert set(runs[0].examples[0].tags) == {"category", "a_type", "b_type", "preference"}
    assert "'category'" not in runs[0].notes[0]  # chosen by the user, not guessed
