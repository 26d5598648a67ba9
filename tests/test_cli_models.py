"""`deltaeval run` and `deltaeval compare --old-model/--new-model --data` end to end."""

from __future__ import annotations

import json
from pathlib import Path

from deltaeval.cli import main
from deltaeval.store import Store

MODEL = '''
CALLS = []


def answer(prompt, params):
    """Right on every question, except that a 'terse' system prompt breaks even numbers."""
    CALLS.append(prompt)
    number = int(prompt.split()[-1].rstrip("?"))
    if "terse" in (params.get("system") or "") and number % 2 == 0:
        return "no idea"
    return str(number * 2)
'''


def setup_files(tmp_path: Path) -> tuple[Path, str, Path]:
    model = tmp_path / "doubling_model.py"
    model.write_text(MODEL)
    data = tmp_path / "questions.jsonl"
    rows = [
        {
            "id": f"q{i}",
            "input": f"What is twice {i}?",
            "reference": str(2 * i),
            "parity": "even" if i % 2 == 0 else "odd",
        }
        for i in range(40)
    ]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return data, f"python:{model}:answer", tmp_path / "store.sqlite"


def test_run_stores_and_reuses_calls(tmp_path, capsys) -> None:
    data, spec, store = setup_files(tmp_path)
    args = ["run", "--model", spec, "--data", str(data), "--store", str(store)]
    assert main([*args, "--name", "v1", "--tag", "parity"]) == 0
    assert "40 model calls" in capsys.readouterr().out
    with Store(store) as db:
        run = db.load_run("v1")
    assert len(run) == 40 and run.outputs[3].text == "6" and run.examples[3].tags == {"parity": "odd"}
    assert run.params["temperature"] == 0.0 and run.source == str(data)
    assert main([*args, "--name", "v1"]) == 2  # the name is taken
    assert "already stored" in capsys.readouterr().err
    assert main([*args, "--name", "v1-again"]) == 0
    assert "40 from cache · 0 model calls" in capsys.readouterr().out


def test_compare_generates_both_versions(tmp_path, capsys) -> None:
    data, spec, store = setup_files(tmp_path)
    report_path = tmp_path / "report.json"
    args = ["compare", "--old-model", spec, "--data", str(data), "--new-system", "Be terse."]
    args += ["--scorer", "exact", "--tag", "parity", "--by", "parity", "--store", str(store)]
    assert main([*args, "--json", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    assert report["flips"]["n"] == 40
    assert report["flips"]["negative"] == 20 and report["flips"]["positive"] == 0
    assert report["accuracy"]["old"] == 1.0 and report["accuracy"]["new"] == 0.5
    rows = {r["value"]: r for r in report["slices"][0]["rows"]}
    assert rows["even"]["regressed"] and rows["odd"]["negative"] == 0
    capsys.readouterr()
    # everything is cached now: the second comparison makes no model call
    assert main([*args, "--quiet"]) == 0
    assert main([*args]) == 0
    assert "0 model calls" in capsys.readouterr().out


def test_model_options_are_validated(tmp_path, capsys) -> None:
    data, spec, store = setup_files(tmp_path)
    cases = [
        ["compare", "a.jsonl", "b.jsonl", "--old-model", spec, "--data", str(data)],
        ["compare", "--new-model", spec],
        ["run", "--model", "nonsense:x", "--data", str(data), "--name", "r", "--store", str(store)],
        ["run", "--model", spec, "--data", str(tmp_path / "missing.jsonl"), "--name", "r"],
        ["run", "--model", spec, "--data", str(data), "--name", "r", "--timeout", "3", "--store", str(store)],
        [
            "run",
            "--model",
            spec,
            "--data",
            str(data),
            "--name",
            "r",
            "--template",
            "{{ nope }}",
            "--store",
            str(store),
        ],
        ["run", "--model", "sklearn:" + str(data), "--data", str(data), "--name", "r", "--store", str(store)],
    ]
    for case in cases:
        capsys.readouterr()
        assert main(case) == 2, case
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and len(err.splitlines()) == 1, (case, err)


def test_generated_runs_have_readable_names(tmp_path, capsys) -> None:
    data, spec, store = setup_files(tmp_path)
    base = ["compare", "--old-model", spec, "--data", str(data), "--scorer", "exact", "--store", str(store)]
    report_path = tmp_path / "report.json"
    # the same model, a system prompt on the new side only: named by the model and the difference
    assert main([*base, "--new-system", "Be terse.", "--json", str(report_path), "-q"]) == 0
    report = json.loads(report_path.read_text())
    assert (report["old"]["name"], report["new"]["name"]) == (
        "doubling_model.py:answer",
        "doubling_model.py:answer+system",
    )
    # stable: the same command reuses the names (and the cache)
    assert main([*base, "--new-system", "Be terse."]) == 0
    assert "0 model calls" in capsys.readouterr().out
    with Store(store) as db:
        assert sorted(r.name for r in db.list_runs()) == [
            "doubling_model.py:answer",
            "doubling_model.py:answer+system",
        ]
    # the user names them
    named = [*base, "--new-system", "Be terse.", "--old-name", "v1", "--new-name", "v1-terse", "--json"]
    assert main([*named, str(report_path), "-q"]) == 0
    report = json.loads(report_path.read_text())
    assert (report["old"]["name"], report["new"]["name"]) == ("v1", "v1-terse")
    # the same settings on both sides: old and new with the model
    assert main([*base, "--json", str(report_path), "-q"]) == 0
    report = json.loads(report_path.read_text())
    assert (report["old"]["name"], report["new"]["name"]) == (
        "old:doubling_model.py:answer",
        "new:doubling_model.py:answer",
    )


def test_generated_names_never_replace_another_files_run(tmp_path, capsys) -> None:
    data, spec, store = setup_files(tmp_path)
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"id": "q0", "input": "What is twice 0?", "output": "0"}) + "\n")
    assert main(["import", str(other), "--name", "v1", "--store", str(store), "-q"]) == 0
    base = ["compare", "--old-model", spec, "--data", str(data), "--scorer", "exact", "--store", str(store)]
    # an explicit name taken by a run from another file is an error
    capsys.readouterr()
    assert main([*base, "--old-name", "v1", "--new-name", "v2", "--new-system", "Be terse."]) == 2
    err = capsys.readouterr().err
    assert "already named 'v1'" in err and "--old-name" in err
    with Store(store) as db:
        assert len(db.load_run("v1")) == 1  # untouched
    # a default name taken by such a run gets the configuration's hash
    assert (
        main(["import", str(other), "--name", "doubling_model.py:answer", "--store", str(store), "-q"]) == 0
    )
    report_path = tmp_path / "report.json"
    assert main([*base, "--new-system", "Be terse.", "--json", str(report_path), "-q"]) == 0
    report = json.loads(report_path.read_text())
    assert report["old"]["name"].startswith("doubling_model.py:answer#")
    assert report["new"]["name"] == "doubling_model.py:answer+system"
    # names belong to generated runs only
    assert main(["compare", "a.jsonl", "b.jsonl", "--old-name", "x"]) == 2
    assert "--old-name/--new-name" in capsys.readouterr().err
