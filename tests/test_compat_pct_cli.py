"""``deltaeval compat pct`` end to end on real data: files in, three runs out, read by ``compare``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")

import joblib
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from deltaeval.cli import main
from deltaeval.compat import recipe_of
from deltaeval.store import Store


def _write(path: Path, X: np.ndarray, y: np.ndarray, prefix: str) -> None:
    lines = [
        json.dumps({"id": f"{prefix}-{i}", "input": row.tolist(), "reference": str(label)})
        for i, (row, label) in enumerate(zip(X, y, strict=True))
    ]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    train, test, old_rows = order[:600], order[600:1100], order[:120]
    folder = tmp_path_factory.mktemp("pct")
    _write(folder / "train.jsonl", X[train], y[train], "train")
    _write(folder / "eval.jsonl", X[test], y[test], "eval")
    old = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.1)).fit(
        X[old_rows], y[old_rows]
    )
    joblib.dump(old, folder / "v1.joblib")
    joblib.dump(KNeighborsClassifier(), folder / "knn.joblib")
    return {
        "train": folder / "train.jsonl",
        "eval": folder / "eval.jsonl",
        "old": folder / "v1.joblib",
        "knn": folder / "knn.joblib",
    }


def _args(files: dict[str, Path], store: str, *extra: str) -> list[str]:
    return [
        "compat", "pct", "--old", f"sklearn:{files['old']}", "--train-data", str(files["train"]),
        "--data", str(files["eval"]), "--store", store, *extra,
    ]  # fmt: skip


def test_pct_then_compare_through_the_cli(files: dict[str, Path], tmp_path: Path, capsys) -> None:
    store = str(tmp_path / "store.sqlite")
    summary_json = tmp_path / "pct.json"
    args = _args(files, store, "--name", "v2-pct", "--beta", "5", "--trust", "--json", str(summary_json))
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "v2-pct.new: accuracy" in out and "v2-pct: accuracy" in out
    assert "deltaeval compare v2-pct.old v2-pct" in out
    data = json.loads(summary_json.read_text())
    summary, recipe = data["pct"], data["recipe"]
    assert summary["n"] == 500
    # distilled toward v1: the compatible v2 changes fewer of v1's answers than the plain v2
    with Store(store) as db:
        old_run, plain_run, pct_run = (db.load_run(n) for n in ("v2-pct.old", "v2-pct.new", "v2-pct"))
    old_text = {o.example_id: o.text for o in old_run.outputs}
    changed = {
        run.name: sum(o.text != old_text[o.example_id] for o in run.outputs) for run in (plain_run, pct_run)
    }
    assert changed["v2-pct"] < changed["v2-pct.new"]
    assert recipe["method"] == "pct" and recipe["parameters"]["beta"] == 5.0
    assert recipe["parameters"]["n_train"] == 600 and recipe["sources"]["old"]["name"] == "v2-pct.old"

    with Store(store) as db:
        run = db.load_run("v2-pct")
        assert {"v2-pct", "v2-pct.old", "v2-pct.new"} <= {r.name for r in db.list_runs()}
    assert recipe_of(run)["parameters"]["mechanism"].startswith("soft targets")
    report = tmp_path / "report.json"
    assert main(["compare", "v2-pct.old", "v2-pct", "--store", store, "--json", str(report), "--quiet"]) == 0
    flips = json.loads(report.read_text())["flips"]
    # compare, unchanged, counts on the stored run what compat pct reported
    assert flips["negative"] == summary["compat"]["negative_flips"]
    assert flips["nfr"] == pytest.approx(summary["compat"]["nfr"])


def test_pickles_need_trust_and_unsupported_estimators_fail(
    files: dict[str, Path], tmp_path: Path, capsys
) -> None:
    store = str(tmp_path / "store.sqlite")
    assert main(_args(files, store, "--name", "x")) == 2
    assert "--trust" in capsys.readouterr().err
    assert main(_args(files, store, "--name", "x", "--trust", "--new", f"sklearn:{files['knn']}")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "sample_weight" in err
    assert main(_args(files, store, "--name", "x", "--trust", "--new", "logistic")) == 2
    assert "python:MODULE:FUNCTION" in capsys.readouterr().err
    # evaluating on training rows would flatter both versions: refused
    args = _args(files, store, "--name", "x", "--trust")
    args[args.index(str(files["eval"]))] = str(files["train"])
    assert main(args) == 2
    assert "has the id of a training example" in capsys.readouterr().err
