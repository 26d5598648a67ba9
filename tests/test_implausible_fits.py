"""Fits that cannot be made honestly (separation, few data) are refused or regularised, with a note.

The two inputs of the issue: a judge that only prefers the shorter answer on 12 examples (the
length-controlled win rate read 90.1% [85.1%, 93.8%] against a raw 33.3%), and ``rank`` of three
runs with few battles and style covariates (style-adjusted intervals such as [1212, 7594]).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from deltaeval.analysis.length_control import (
    NOT_ESTIMATED,
    REGULARISED,
    estimate_instruction_difficulty,
    length_controlled_win_rate,
    length_feature,
)
from deltaeval.analysis.ranking import style_controlled_bradley_terry, style_features
from deltaeval.analysis.separation import separating_direction
from deltaeval.cli import main
from deltaeval.judging.winrate import alpaca_winrates

SHORTER = """
def prefer_shorter(question, a, b):
    if len(a) == len(b):
        return "A=B"
    return "A>B" if len(a) < len(b) else "B>A"
"""

MOSTLY_SHORTER = '''
import hashlib


def prefer_shorter_mostly(question, a, b):
    """The shorter answer, except on about 30% of the pairs (fixed by a hash)."""
    upset = int(hashlib.sha256((question + a + b).encode()).hexdigest(), 16) % 100 < 30
    return "A>B" if (len(a) < len(b)) != upset else "B>A"
'''


def _write(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def _judge_file(tmp_path: Path, code: str) -> Path:
    path = tmp_path / "judges.py"
    path.write_text(code, encoding="utf-8")
    return path


# -- the length-controlled win rate ---------------------------------------------------------------


def test_a_judge_that_prefers_the_shorter_answer_gets_no_lc_figure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = [], []
    for i in range(12):
        common = {"id": f"ex{i:02d}", "input": f"question {i}?"}
        old.append({**common, "output": f"old answer number {i} " + "x" * (i % 5)})
        # new is shorter on 4 examples and longer on 8: raw win rate 4 / 12
        text = f"short {i}" if i % 3 == 0 else f"a much longer new answer number {i} " + "y" * (3 * i)
        new.append({**common, "output": text})
    judge = _judge_file(tmp_path, SHORTER)
    out = {suffix: tmp_path / f"report.{suffix}" for suffix in ("json", "md", "html")}
    args = ["judge", _write(tmp_path / "v1.jsonl", old), _write(tmp_path / "v2.jsonl", new)]
    args += ["--judge", f"python:{judge}:prefer_shorter", "--store", str(tmp_path / "s.sqlite")]
    args += ["--json", str(out["json"]), "--md", str(out["md"]), "--html", str(out["html"])]
    assert main(args) == 0
    printed = capsys.readouterr().out

    p = json.loads(out["json"].read_text(encoding="utf-8"))["preference"]
    assert p["win_rate"]["win_rate"] == pytest.approx(4 / 12)
    lc = p["length_control"]
    assert lc["lc_win_rate"] is None and lc["lc_win_rate_ci"] is None and lc["standard_error"] is None
    assert lc["status"] == NOT_ESTIMATED
    note = "not estimated: the preferences are perfectly separated by length; n = 12"
    assert lc["note"] == note
    assert f"length-controlled win rate {note}" in p["notes"]
    # every format says so, and none prints a figure for it
    assert note in " ".join(printed.split())
    assert "| Length-controlled win rate | not estimated |" in out["md"].read_text(encoding="utf-8")
    assert note in out["md"].read_text(encoding="utf-8")
    html = out["html"].read_text(encoding="utf-8")
    assert note in html and '<td class="n">not estimated</td>' in html


def test_separation_and_identical_outcomes_are_refused() -> None:
    # the length term alone tells every win from every loss, ties sitting on the boundary
    prefs = [2.0, 2.0, 2.0, 1.5, 1.0, 1.0, 1.0]
    len_m = [10, 20, 30, 50, 70, 80, 90]
    r = length_controlled_win_rate(prefs, len_m, [50] * 7, n_boot=50)
    assert r.status == NOT_ESTIMATED and np.isnan(r.lc_win_rate) and r.interval is None
    assert r.note == "not estimated: the preferences are perfectly separated by length; n = 7"
    same = length_controlled_win_rate([2.0] * 5, [10, 20, 30, 40, 50], [30] * 5, n_boot=0)
    assert same.status == NOT_ESTIMATED and "same outcome" in (same.note or "")
    few = length_controlled_win_rate([2.0, 1.0], [10, 20], [15, 15], n_boot=0)
    assert few.status == NOT_ESTIMATED and few.note == "not estimated: fewer than 3 judged examples; n = 2"


def _mild_length_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    len_b = rng.normal(800, 150, n)
    len_m = len_b + rng.normal(100, 300, n)
    t, _ = length_feature(len_m, len_b)
    y = (rng.random(n) < expit(-0.2 - 0.5 * t)).astype(float)
    return 1.0 + y, len_m, len_b


def test_few_examples_shrink_the_lc_figure_toward_the_raw_win_rate() -> None:
    prefs, len_m, len_b = _mild_length_data(30, seed=4)
    r = length_controlled_win_rate(prefs, len_m, len_b, n_boot=100, seed=0)
    assert r.status == REGULARISED and r.ridge == 1.0
    assert r.note is not None and r.note.startswith("regularised: 30 judged examples")
    # the same model fitted without the prior, by scikit-learn
    t, _ = length_feature(len_m, len_b)
    free = LogisticRegression(C=1e10, tol=1e-12, max_iter=10_000).fit(t[:, None], prefs - 1)
    unregularised = 100 * expit(free.intercept_[0])
    assert abs(r.lc_win_rate - r.win_rate) < abs(unregularised - r.win_rate)
    assert min(r.win_rate, unregularised) <= r.lc_win_rate <= max(r.win_rate, unregularised)
    assert r.interval is not None and r.interval[0] <= r.lc_win_rate <= r.interval[1]


def test_a_well_posed_fit_is_unchanged() -> None:
    prefs, len_m, len_b = _mild_length_data(400, seed=5)
    r = length_controlled_win_rate(prefs, len_m, len_b, n_boot=200, seed=0)
    assert r.status == "estimated" and r.note is None and r.ridge == 0.0 and r.n_boot_dropped == 0
    t, _ = length_feature(len_m, len_b)
    lr = LogisticRegression(C=1e10, tol=1e-12, max_iter=10_000).fit(t[:, None], prefs - 1)
    assert r.coefficients["intercept"] == pytest.approx(lr.intercept_[0], abs=1e-5)
    assert r.coefficients["length"] == pytest.approx(lr.coef_[0, 0], abs=1e-5)
    assert r.lc_win_rate == pytest.approx(100 * expit(lr.intercept_[0]), abs=1e-4)


def test_winrate_refuses_models_separated_by_length(tmp_path: Path) -> None:
    files = []
    for model, shift in (("ma", 0), ("mb", 3)):
        records = [
            {
                "instruction": f"i{k}",
                "output_1": "b" * 50,
                "generator_1": "base",
                "output_2": "m" * (20 + 5 * k + shift),
                "generator_2": model,
                "preference": 2.0 if k < 4 else 1.0,  # the shorter answers win, every time
            }
            for k, _ in enumerate(range(10))
        ]
        path = tmp_path / model / "annotations.json"
        path.parent.mkdir()
        path.write_text(json.dumps(records), encoding="utf-8")
        files.append(path)
    prefs = np.array([[2.0] * 4 + [1.0] * 6] * 2)
    len_m = np.array([[20 + 5 * k + s for k in range(10)] for s in (0, 3)], dtype=float)
    assert estimate_instruction_difficulty(prefs, len_m, np.full(10, 50.0)).separated
    data = alpaca_winrates(files, n_boot=20).data
    for model in ("ma", "mb"):
        assert data["runs"][model]["length_controlled_winrate"] is None
        assert data["runs"][model]["lc_status"] == NOT_ESTIMATED
        assert any(
            note.startswith(f"length-controlled win rate of {model} not estimated") for note in data["notes"]
        )
    assert any(note.startswith("instruction difficulty not used") for note in data["notes"])


def test_separating_direction_cases() -> None:
    x = np.column_stack([np.ones(6), [-3.0, -2.0, -1.0, 1.0, 2.0, 3.0]])
    assert separating_direction(x, [0, 0, 0, 1, 1, 1]) is not None  # complete
    assert separating_direction(x, [0, 0, 0.5, 0.5, 1, 1]) is None  # soft outcomes on both sides
    assert separating_direction(x, [0, 0, 1, 0, 1, 1]) is None  # overlap
    quasi = np.column_stack([np.ones(5), [-2.0, -1.0, 0.0, 1.0, 2.0]])
    assert separating_direction(quasi, [0, 0, 0.5, 1, 1]) is not None  # a tie on the boundary
    assert separating_direction(x, [0, 0, 0, 1, 1, 1], [1, 1, 1, 1, 1, 1]) is not None
    assert separating_direction(x, [0, 0, 1, 1, 1, 0], [1, 1, 0, 1, 1, 0]) is not None  # zero weights dropped


# -- style-controlled ratings ---------------------------------------------------------------------


def _three_runs(tmp_path: Path) -> list[str]:
    rng = np.random.default_rng(1)
    paths = []
    for name in ("r1", "r2", "r3"):
        rows = []
        for i in range(6):
            text = "answer " + "z" * int(rng.integers(1, 41))
            if rng.random() < 0.3:
                text = "**" + text + "**\n- item"
            rows.append({"id": f"ex{i}", "input": f"q{i}", "output": text})
        paths.append(_write(tmp_path / f"{name}.jsonl", rows))
    return paths


def test_rank_refuses_style_ratings_separated_by_length(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    judge = _judge_file(tmp_path, SHORTER)
    out = tmp_path / "rank.json"
    args = ["rank", *_three_runs(tmp_path), "--judge", f"python:{judge}:prefer_shorter"]
    assert main([*args, "--store", str(tmp_path / "s.sqlite"), "--json", str(out)]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["n_battles"] == 36
    assert data["style"] is None
    assert all(r["style_rating"] is None and r["style_ci"] is None for r in data["runs"])
    note = (
        "style-controlled ratings not estimated: the verdicts are perfectly separated by the style "
        "covariates (length); n = 36 battles"
    )
    assert note in data["notes"] and note in printed
    # the plain ratings stay, with their intervals
    assert all(r["ci"][0] <= r["rating"] <= r["ci"][1] for r in data["runs"])


def test_rank_regularises_style_ratings_on_few_battles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    judge = _judge_file(tmp_path, MOSTLY_SHORTER)
    out = tmp_path / "rank.json"
    args = ["rank", *_three_runs(tmp_path), "--judge", f"python:{judge}:prefer_shorter_mostly"]
    assert main([*args, "--store", str(tmp_path / "s.sqlite"), "--json", str(out)]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["style"] is not None and data["style"]["ridge"] == 1.0
    assert any(n.startswith("style-controlled ratings regularised: 36 battles") for n in data["notes"])
    assert "style-controlled ratings regularised" in printed
    for row in data["runs"]:
        lo, hi = row["style_ci"]
        assert lo <= row["style_rating"] <= hi
        # plausible: within 400 points (10:1 odds) of the plain rating, intervals not absurd
        assert abs(row["style_rating"] - row["rating"]) < 400 and hi - lo < 600


def test_style_ratings_of_a_well_posed_fit_are_unchanged() -> None:
    rng = np.random.default_rng(3)
    n_models, n = 4, 3000
    beta = np.array([0.0, 0.4, -0.3, 0.2])
    a = rng.integers(0, n_models, n)
    b = (a + rng.integers(1, n_models, n)) % n_models
    len_a, len_b = rng.lognormal(6, 0.5, n), rng.lognormal(6, 0.5, n)
    feats = style_features(len_a, len_b)
    z = (feats - feats.mean(0)) / feats.std(0)
    y = (rng.random(n) < expit(beta[a] - beta[b] + 0.3 * z[:, 0])).astype(float)
    auto = style_controlled_bradley_terry(a, b, y, feats, n_boot=20, seed=0)
    plain_mle = style_controlled_bradley_terry(a, b, y, feats, n_boot=20, seed=0, ridge=0.0)
    assert auto.style_ridge == 0.0 and auto.notes == () and auto.n_boot_failed == 0
    np.testing.assert_array_equal(auto.ratings, plain_mle.ratings)
    assert auto.intervals is not None and plain_mle.intervals is not None
    np.testing.assert_array_equal(auto.intervals, plain_mle.intervals)


def test_style_separation_is_refused_at_the_analysis_level() -> None:
    # every battle is won by the shorter answer: the length coefficient is infinite
    rng = np.random.default_rng(0)
    a = np.tile([0, 1, 2], 40)
    b = (a + 1) % 3
    len_a, len_b = rng.integers(10, 100, a.size), rng.integers(10, 100, a.size)
    keep = len_a != len_b
    a, b, len_a, len_b = a[keep], b[keep], len_a[keep], len_b[keep]
    y = (len_a < len_b).astype(float)
    with pytest.raises(ValueError, match=r"perfectly separated by the style covariates \(length\)"):
        style_controlled_bradley_terry(a, b, y, style_features(len_a, len_b), n_boot=10)
