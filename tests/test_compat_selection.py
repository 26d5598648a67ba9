"""Selection without training (deltaeval.compat.selection) on real classifiers, end to end.

Two scikit-learn classifiers are trained on the bundled digits data (v1 on a small sample, v2 on
more data with another model); their test-set predictions with probabilities go through
``deltaeval import`` and ``deltaeval compat select``; ``deltaeval compare`` reads the run it wrote.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from deltaeval.cli import main
from deltaeval.compat import recipe_of, select_arrays, split_ids
from deltaeval.compat.runs import ids_hash
from deltaeval.compat.selection import fit_rule
from deltaeval.errors import InputError
from deltaeval.store import Store

pytest.importorskip("sklearn")


def _predictions(model, X, y, ids) -> list[dict]:
    proba = model.predict_proba(X)
    labels = model.classes_[proba.argmax(axis=1)]
    return [
        {
            "id": example_id,
            "input": f"digit image {example_id}",
            "reference": str(int(truth)),
            "output": str(int(label)),
            "correct": bool(label == truth),
            "confidence": float(p.max()),
        }
        for example_id, truth, label, p in zip(ids, y, labels, proba, strict=True)
    ]


def _write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """v1 (logistic regression) and v2 (5-nearest neighbours, better) on 1,000 held-out images."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier

    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    X, y = X[order] / 16.0, y[order]
    train, test = slice(0, 300), slice(797, None)
    old_model = LogisticRegression(max_iter=300).fit(X[train], y[train])
    new_model = KNeighborsClassifier(5).fit(X[train], y[train])
    ids = [f"img{i}" for i in range(len(y[test]))]
    folder = tmp_path_factory.mktemp("digits")
    old = _predictions(old_model, X[test], y[test], ids)
    new = _predictions(new_model, X[test], y[test], ids)
    return {
        "folder": folder,
        "old": _write(folder / "v1.jsonl", old),
        "new": _write(folder / "v2.jsonl", new),
        "old_records": old,
        "new_records": new,
    }


def _arrays(data: dict) -> tuple[np.ndarray, ...]:
    old, new = data["old_records"], data["new_records"]
    return (
        np.array([r["correct"] for r in old]),
        np.array([r["correct"] for r in new]),
        np.array([r["confidence"] for r in old]),
        np.array([r["confidence"] for r in new]),
    )


def test_select_then_compare_through_the_cli(digits: dict, tmp_path: Path, capsys) -> None:
    store = str(tmp_path / "store.sqlite")
    assert main(["import", str(digits["old"]), "--name", "v1", "--store", store, "--quiet"]) == 0
    assert main(["import", str(digits["new"]), "--name", "v2", "--store", store, "--quiet"]) == 0
    curve_json = tmp_path / "selection.json"
    args = ["compat", "select", "v1", "v2", "--name", "v2-selected", "--max-nfr", "0.002"]
    assert main([*args, "--seed", "3", "--json", str(curve_json), "--store", store]) == 0
    out = capsys.readouterr().out
    assert "held-out trade-off" in out and "plain v2" in out and "always v1" in out and "→" in out
    data = json.loads(curve_json.read_text())
    chosen, plain = data["chosen"], data["plain_new"]
    assert data["n_calibration"] + data["n_evaluation"] == len(digits["old_records"])
    assert chosen["calibration"]["nfr"] <= 0.002
    # on held-out examples the rule removes most of v2's regressions for little accuracy
    assert chosen["evaluation"]["nfr"] < 0.5 * plain["nfr"]
    assert chosen["evaluation"]["accuracy"] > plain["accuracy"] - 0.03
    for point in [chosen, *data["curve"]]:
        low, high = point["evaluation"]["nfr_ci"]
        assert low <= point["evaluation"]["nfr"] <= high
    assert data["interval_methods"]["nfr"] == "clopper-pearson"
    assert data["schema"] == "deltaeval.compat.selection" and data["run"] == "v2-selected"

    with Store(store) as db:
        run = db.load_run("v2-selected")
    recipe = recipe_of(run)
    assert recipe is not None and recipe["method"] == "selection"
    assert recipe["sources"]["old"]["name"] == "v1" and recipe["split_seed"] == 3
    assert recipe["parameters"]["constraint"]["max_nfr"] == 0.002
    assert len(run) == data["n_evaluation"]

    report = tmp_path / "report.json"
    assert main(["compare", "v1", "v2-selected", "--store", store, "--json", str(report), "--quiet"]) == 0
    flips = json.loads(report.read_text())["flips"]
    # compare, unchanged, measures on the stored run exactly what select reported as held-out
    assert flips["nfr"] == pytest.approx(chosen["evaluation"]["nfr"])
    assert flips["negative"] == chosen["evaluation"]["negative_flips"]


def test_calibration_split_is_disjoint_from_evaluation(digits: dict, tmp_path: Path) -> None:
    from deltaeval.compat import select

    result = select(digits["old"], digits["new"], name="sel", min_accuracy=0.9, seed=5)
    all_ids = {r["id"] for r in digits["old_records"]}
    evaluated = set(result.run.ids)
    calibration = all_ids - evaluated
    assert len(calibration) == result.n_calibration and len(evaluated) == result.n_evaluation
    # the recorded hash names exactly the ids the rule was tuned on, none of them in the run
    assert recipe_of(result.run)["calibration_ids_hash"] == ids_hash(calibration)
    assert calibration.isdisjoint(evaluated)
    # the same split again: a pure function of ids, seed and fraction, whatever the ids' order
    ids = sorted(all_ids)
    first = split_ids(ids, fraction=0.4, seed=7, strata=[i % 3 for i in range(len(ids))])
    again = split_ids(ids[::-1], fraction=0.4, seed=7, strata=[i % 3 for i in range(len(ids))][::-1])
    assert first == again
    assert first.calibration.isdisjoint(first.evaluation)
    assert first.calibration | first.evaluation == all_ids
    for stratum in range(3):  # each stratum split in the same proportion
        members = {ids[i] for i in range(len(ids)) if i % 3 == stratum}
        assert len(members & first.calibration) == round(0.4 * len(members))
    assert split_ids(ids, fraction=0.4, seed=8).calibration != first.calibration


@pytest.mark.parametrize(
    ("max_nfr", "min_accuracy", "drop"),
    [(0.0, None, None), (0.02, None, None), (None, 0.93, None), (None, None, 0.005), (None, None, None)],
)
def test_operating_point_meets_the_constraint_on_calibration(digits, max_nfr, min_accuracy, drop) -> None:
    old_ok, new_ok, old_conf, new_conf = _arrays(digits)
    calibration = np.arange(len(old_ok)) % 2 == 0
    bounds = {"max_nfr": max_nfr, "min_accuracy": min_accuracy, "max_accuracy_drop": drop}
    result = select_arrays(old_ok, new_ok, old_conf, new_conf, calibration=calibration, **bounds)
    # recomputed by hand from the rule, on the calibration examples only
    use_old = result.rule.use_old(old_conf[calibration], new_conf[calibration])
    selected = np.where(use_old, old_ok[calibration], new_ok[calibration])
    nfr = float(np.mean(old_ok[calibration] & ~selected))
    accuracy = float(np.mean(selected))
    assert nfr == pytest.approx(result.chosen.calibration["nfr"])
    assert accuracy == pytest.approx(result.chosen.calibration["accuracy"])
    plain_nfr = float(np.mean(old_ok[calibration] & ~new_ok[calibration]))
    if max_nfr is not None:
        assert nfr <= max_nfr
    else:
        plain = float(np.mean(new_ok[calibration]))
        floor = min_accuracy if min_accuracy is not None else plain - (drop or 0.0)
        assert accuracy >= floor - 1e-12
        assert nfr < plain_nfr  # it removes regressions while keeping the floor
    assert result.chosen.evaluation["n"] == int((~calibration).sum())
    assert (
        fit_rule(
            old_ok[calibration], new_ok[calibration], old_conf[calibration], new_conf[calibration], **bounds
        )
        == result.rule
    )


def test_the_accuracy_floor_is_given_once(digits) -> None:
    old_ok, new_ok, old_conf, new_conf = _arrays(digits)
    with pytest.raises(InputError, match="both set the accuracy floor"):
        select_arrays(
            old_ok, new_ok, old_conf, new_conf, calibration=old_ok, min_accuracy=0.9, max_accuracy_drop=0.01
        )


def test_arrays_refuse_nan_confidence(digits) -> None:
    old_ok, new_ok, old_conf, new_conf = _arrays(digits)
    new_conf = new_conf.copy()
    new_conf[5] = np.nan
    with pytest.raises(InputError, match="new confidence is missing or NaN for 1 example"):
        select_arrays(old_ok, new_ok, old_conf, new_conf, calibration=np.arange(len(old_ok)) < 500)


def _error_line(capsys, args: list[str]) -> str:
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    return err


def test_clear_errors_exit_2_on_one_line(digits: dict, tmp_path: Path, capsys) -> None:
    store = ["--store", str(tmp_path / "s.sqlite")]
    old, new = digits["old_records"], digits["new_records"]
    no_conf = [dict(r) for r in new]
    del no_conf[7]["confidence"]
    path = _write(tmp_path / "no_conf.jsonl", no_conf)
    err = _error_line(capsys, ["compat", "select", str(digits["old"]), str(path), "--name", "s", *store])
    assert "has no confidence for example 'img7'" in err

    nan_conf = [dict(r) for r in new]
    nan_conf[3]["confidence"] = float("nan")
    path = _write(tmp_path / "nan_conf.jsonl", nan_conf)
    err = _error_line(capsys, ["compat", "select", str(digits["old"]), str(path), "--name", "s", *store])
    assert "nan_conf.jsonl:4: column 'confidence' holds nan" in err  # the importer names the line

    other_ids = [dict(r, id=r["id"] + "x") if i < 4 else r for i, r in enumerate(new)]
    path = _write(tmp_path / "other_ids.jsonl", other_ids)
    err = _error_line(capsys, ["compat", "select", str(digits["old"]), str(path), "--name", "s", *store])
    assert "lacks 4 example ids" in err and "same examples" in err

    few_old, few_new = _write(tmp_path / "few1.jsonl", old[:30]), _write(tmp_path / "few2.jsonl", new[:30])
    err = _error_line(capsys, ["compat", "select", str(few_old), str(few_new), "--name", "s", *store])
    assert "calibration split has 15 examples of 30; at least 20 needed" in err
    assert "--calibration-fraction" in err

    err = _error_line(capsys, ["compat", "select", str(digits["old"]), str(digits["new"]), *store])
    assert "--name" in err
    err = _error_line(
        capsys,
        ["compat", "select", str(digits["old"]), str(digits["new"]), "--name", "s", "--min-accuracy", "1"],
    )
    assert "no rule reaches accuracy 1.0000" in err
    assert not (tmp_path / "s.sqlite").exists()  # a refused selection creates no store


def test_log_probabilities_give_the_same_choice_as_probabilities(digits: dict, tmp_path: Path) -> None:
    """Each threshold sits on one model's own scale: a monotone change of a signal changes nothing."""
    from deltaeval.compat import select

    as_logprob = []
    for name in ("old_records", "new_records"):
        records = [{**r, "logprob": float(np.log(r["confidence"]))} for r in digits[name]]
        for r in records:
            del r["confidence"]
        as_logprob.append(_write(tmp_path / f"{name}.jsonl", records))
    by_probability = select(digits["old"], digits["new"], name="p", max_nfr=0.004)
    by_logprob = select(*as_logprob, name="lp", signal="logprob", max_nfr=0.004)
    assert by_logprob.chosen.calibration == by_probability.chosen.calibration
    assert by_logprob.to_dict()["signal"] == "logprob"
    with pytest.raises(InputError, match="has no confidence for example"):
        select(*as_logprob, name="c")


def test_every_candidate_rule_is_counted_as_applying_it_would() -> None:
    """The calibration counts of all rules at once equal the rule applied example by example."""
    from deltaeval.compat.selection import _grid

    rng = np.random.default_rng(0)
    for _ in range(10):
        n = int(rng.integers(20, 200))
        old_ok, new_ok = rng.random(n) < 0.7, rng.random(n) < 0.75
        old_conf, new_conf = np.round(rng.random(n), 1), np.round(rng.random(n), 1)  # many ties
        old_conf[rng.random(n) < 0.05] = -np.inf  # failed outputs
        new_conf[rng.random(n) < 0.05] = -np.inf
        g = _grid(old_ok, new_ok, old_conf, new_conf, grid=int(rng.integers(3, 12)))
        for i, t_new in enumerate(g.t_new):
            for j, t_old in enumerate(g.t_old):
                use_old = (new_conf < t_new) & (old_conf >= t_old)
                selected = np.where(use_old, old_ok, new_ok)
                assert g.negative[i, j] == np.sum(old_ok & ~selected)
                assert g.correct[i, j] == np.sum(selected)
                assert g.switched[i, j] == np.sum(use_old)


def test_a_verifier_score_column_as_the_signal(tmp_path: Path, capsys) -> None:
    """breast_cancer: v1 logistic regression, v2 a decision tree; the signal is a per-output score."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    order = np.random.default_rng(1).permutation(len(y))
    X, y = X[order], y[order]
    models = LogisticRegression(max_iter=500), DecisionTreeClassifier(max_depth=4, random_state=0)
    paths = []
    for model, name in zip(models, ("v1", "v2"), strict=True):
        model.fit(X[:200], y[:200])
        proba = model.predict_proba(X[200:])
        records = [
            {
                "id": f"case{i}",
                "output": str(int(p.argmax())),
                "correct": bool(p.argmax() == t),
                "score": float(p.max()),
            }
            for i, (p, t) in enumerate(zip(proba, y[200:], strict=True))
        ]
        paths.append(str(_write(tmp_path / f"{name}.jsonl", records)))
    store = ["--store", str(tmp_path / "s.sqlite")]
    assert main(["compat", "select", *paths, "--name", "sel", "--signal", "score", *store]) == 0
    assert "score(new) < t_new" in capsys.readouterr().out
    err = _error_line(
        capsys, ["compat", "select", *paths, "--name", "x", "--signal", "score", "--scorer", "exact"]
    )
    assert "--signal score reads the runs' scores" in err
