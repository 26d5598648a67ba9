"""The gate decides with one-sided bounds at its own alpha (exact counts → bounds → PASS/FAIL)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from deltaeval.cli import main
from deltaeval.gate import evaluate_gate


def _write_runs(tmp_path: Path, rows: list[tuple[str, bool, bool]]) -> tuple[Path, Path]:
    """Two JSONL runs; ``rows`` = (category, old right, new right) per example."""
    old_path, new_path = tmp_path / "v1.jsonl", tmp_path / "v2.jsonl"
    with old_path.open("w") as old, new_path.open("w") as new:
        for i, (category, old_right, new_right) in enumerate(rows):
            base = {"id": f"q{i}", "input": f"question {i}", "reference": "yes", "category": category}
            old.write(json.dumps({**base, "output": "yes" if old_right else "no"}) + "\n")
            new.write(json.dumps({**base, "output": "yes" if new_right else "no"}) + "\n")
    return old_path, new_path


def _compare(tmp_path: Path, rows: list[tuple[str, bool, bool]], *extra: str) -> Path:
    old_path, new_path = _write_runs(tmp_path, rows)
    report = tmp_path / "r.json"
    args = ["compare", str(old_path), str(new_path), "--scorer", "exact", "--tag", "category"]
    assert main([*args, "--no-behaviour", "--json", str(report), *extra]) == 0
    return report


def test_no_negative_flip_of_50_does_not_pass_a_2_percent_gate(tmp_path: Path, capsys) -> None:
    """The original finding: the bootstrap interval was [0, 0] and `--upper` passed."""
    report = _compare(tmp_path, [("a", True, True)] * 50)
    data = json.loads(report.read_text())
    assert data["flips"]["nfr_ci"] == pytest.approx([0.0, 0.0711], abs=1e-4)
    assert data["flips"]["ci_methods"]["nfr_ci"] == "clopper-pearson"
    assert data["accuracy"]["ci_methods"]["delta_ci"] == "tango-score"
    capsys.readouterr()
    assert main(["gate", str(report), "--max-nfr", "0.02", "--upper"]) == 1
    out = capsys.readouterr().out
    assert "FAIL NFR upper bound 5.82% > 2.00%" in out  # one-sided 95%: 1 - 0.05 ** (1/50)
    assert main(["gate", str(report), "--max-nfr", "0.02"]) == 1
    assert main(["gate", str(report), "--max-nfr", "0.06"]) == 0
    # the gate's own alpha: at 10% the bound is 1 - 0.1 ** (1/50) = 4.5%
    assert main(["gate", str(report), "--max-nfr", "0.05", "--alpha", "0.1"]) == 0
    assert main(["gate", str(report), "--max-nfr", "0.05", "--alpha", "0.05"]) == 1


def test_nfr_bound_is_the_exact_one_sided_bound() -> None:
    report = {"settings": {"alpha": 0.05}, "flips": {"negative": 1, "positive": 0, "n": 200}}
    (check,) = evaluate_gate(report, max_nfr=0.03)
    exact = sps.binomtest(1, 200).proportion_ci(0.90, method="exact").high  # one-sided 95%
    assert check.passed == (exact <= 0.03)
    assert f"{exact * 100:.2f}%" in check.description


def test_non_inferiority(tmp_path: Path, capsys) -> None:
    # 400 examples, 6 negative and 2 positive flips: accuracy drops by 1 pp
    rows = [("a", True, True)] * 300 + [("a", False, False)] * 92
    rows += [("a", True, False)] * 6 + [("a", False, True)] * 2
    report = _compare(tmp_path, rows)
    capsys.readouterr()
    assert main(["gate", str(report), "--max-accuracy-drop", "0.03"]) == 0
    out = capsys.readouterr().out
    assert "PASS accuracy drop (old − new) upper bound" in out and "Tango" in out
    # the point drop (1 pp) is within 1.5 pp, but its upper bound is not
    assert main(["gate", str(report), "--max-accuracy-drop", "0.015"]) == 1
    assert main(["gate", str(report), "--max-accuracy-drop", "0.015", "--estimate"]) == 0


def test_slice_threshold_fails_on_one_regressed_slice(tmp_path: Path, capsys) -> None:
    rows = []
    for k in range(10):  # ten clean slices of 40
        rows += [(f"c{k}", True, True)] * 39 + [(f"c{k}", True, False)]
    rows += [("bad", True, True)] * 25 + [("bad", True, False)] * 15  # NFR 37.5%
    # the tag slices alone (discovered slices join the check by default: tests/test_slice_discovery.py)
    report = _compare(tmp_path, rows, "--by", "category", "--no-slices")
    capsys.readouterr()
    assert main(["gate", str(report), "--max-slice-nfr", "0.05"]) == 1
    out = capsys.readouterr().out
    assert "category=bad" in out and "Holm across 11 slices" in out
    assert "category=c0" not in out
    # without the regressed slice the same check passes, though each clean slice has NFR 2.5%
    clean = [r for r in rows if r[0] != "bad"]
    (tmp_path / "clean").mkdir()
    report = _compare(tmp_path / "clean", clean, "--by", "category", "--no-slices")
    assert main(["gate", str(report), "--max-slice-nfr", "0.05"]) == 0
    # a report without slices cannot be gated on slices
    (tmp_path / "none").mkdir()
    report = _compare(tmp_path / "none", clean, "--no-slices")
    assert main(["gate", str(report), "--max-slice-nfr", "0.05"]) == 2
    assert "--by TAG" in capsys.readouterr().err


def test_slice_check_controls_false_failures() -> None:
    """Twenty slices all exactly at the threshold: the check fails in at most alpha of releases."""
    rng = np.random.default_rng(0)
    failures = 0
    for _ in range(400):
        n = rng.integers(20, 200, size=20)
        negative = rng.binomial(n, 0.05)
        report = {
            "slices": [
                {
                    "tag": "t",
                    "rows": [
                        {"value": str(i), "n": int(m), "negative": int(k)}
                        for i, (m, k) in enumerate(zip(n, negative, strict=True))
                    ],
                }
            ]
        }
        (check,) = evaluate_gate(report, max_slice_nfr=0.05, alpha=0.05)
        failures += not check.passed
    assert failures / 400 <= 0.05


def test_gate_refuses_bad_alpha_and_contradicting_flags(tmp_path: Path, capsys) -> None:
    report = _compare(tmp_path, [("a", True, True)] * 10)
    assert main(["gate", str(report), "--max-nfr", "0.1", "--alpha", "0.7"]) == 2
    assert main(["gate", str(report), "--max-nfr", "0.1", "--upper", "--estimate"]) == 2
    err = capsys.readouterr().err
    assert "alpha 0.7 is out of range" in err and "contradict" in err


def test_rate_differences_print_in_percentage_points(tmp_path: Path, capsys) -> None:
    """The accuracy change is a difference of rates: pp, as `compare` prints it, never `%`."""
    rows = [("a", True, True)] * 10 + [("a", True, False)] * 2  # accuracy 100% → 83.3%
    report = _compare(tmp_path, rows, "--by", "category")
    capsys.readouterr()
    args = ["gate", str(report), "--min-accuracy-delta", "0", "--max-accuracy-drop", "0.01"]
    assert main([*args, "--max-slice-nfr", "0.5", "--estimate"]) == 1
    out = capsys.readouterr().out
    assert "FAIL accuracy change (new − old) -16.67 pp < +0.00 pp" in out
    assert "FAIL accuracy drop (old − new) +16.67 pp > +1.00 pp" in out
    assert "-16.67%" not in out and "+0.00%" not in out
    assert "(1 slice; point estimates)" in out  # one slice, not "1 slices"
