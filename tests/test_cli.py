"""End-to-end: files written by the test → import → compare → reports → gate, via the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from deltaeval.cli import main
from deltaeval.io import FORMAT_DESCRIPTIONS, FORMATS

CATEGORIES = ("math", "geo", "misc")


def write_runs(tmp_path: Path, n: int = 120) -> tuple[Path, Path]:
    """Two JSONL runs: v2 breaks 'math' (12 negative flips) and fixes a few 'geo' examples."""
    old_rows, new_rows = [], []
    for i in range(n):
        category = CATEGORIES[i % 3]
        reference = str(i)
        old_ok = i % 10 != 0  # old is wrong on every tenth example
        new_ok = old_ok
        if category == "math" and i < 36:
            new_ok = False  # negative flips in math
        if category == "geo" and i % 10 == 0:
            new_ok = True  # positive flips in geo
        common = {"id": f"ex{i:03d}", "question": f"question {i}?", "gold": reference, "category": category}
        old_rows.append({**common, "prediction": reference if old_ok else "wrong"})
        new_rows.append({**common, "prediction": reference if new_ok else "nope"})
    new_rows[3]["prediction"] = "<script>alert(1)</script>"  # a negative flip's output: must stay inert
    old_path, new_path = tmp_path / "v1.jsonl", tmp_path / "v2.jsonl"
    old_path.write_text("".join(json.dumps(r) + "\n" for r in old_rows))
    new_path.write_text("".join(json.dumps(r) + "\n" for r in new_rows))
    return old_path, new_path


def test_import_compare_gate(tmp_path, capsys) -> None:
    old_path, new_path = write_runs(tmp_path)
    store = str(tmp_path / "store.sqlite")
    assert main(["import", str(old_path), "--name", "v1", "--tag", "category", "--store", store]) == 0
    assert main(["import", str(new_path), "--name", "v2", "--tag", "category", "--store", store]) == 0
    assert main(["runs", "--store", store]) == 0
    out = capsys.readouterr().out
    assert "v1" in out and "v2" in out and "120" in out

    report_json = tmp_path / "report.json"
    args = ["compare", "v1", "v2", "--scorer", "exact", "--by", "category", "--store", store]
    args += ["--json", str(report_json), "--md", str(tmp_path / "r.md"), "--html", str(tmp_path / "r.html")]
    assert main(args) == 0
    report = json.loads(report_json.read_text())
    flips = report["flips"]
    # old wrong on i % 10 == 0 (12 examples); math negative flips: i < 36, i % 3 == 0, i % 10 != 0
    negative = sum(1 for i in range(120) if i % 3 == 0 and i < 36 and i % 10 != 0)
    positive = sum(1 for i in range(120) if i % 3 == 1 and i % 10 == 0)
    assert flips["n"] == 120
    assert flips["negative"] == negative and flips["positive"] == positive
    assert flips["nfr"] == pytest.approx(negative / 120)
    assert flips["pfr"] == pytest.approx(positive / 120)
    lo, hi = flips["nfr_ci"]
    assert lo <= flips["nfr"] <= hi
    assert report["accuracy"]["old"] == pytest.approx(108 / 120)
    assert report["accuracy"]["new"] == pytest.approx((108 - negative + positive) / 120)
    assert 0 <= flips["mcnemar_p"] <= 1
    math_row = next(r for r in report["slices"][0]["rows"] if r["value"] == "math")
    assert math_row["negative"] == negative and math_row["positive"] == 0
    assert len(report["examples"]["negative_flips"]) == negative
    html = (tmp_path / "r.html").read_text()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script>" not in (tmp_path / "r.md").read_text()

    # the gate: NFR here is 10/120 = 8.3%; its one-sided 95% upper bound is 13.7%
    assert negative == 10
    capsys.readouterr()
    assert main(["gate", str(report_json), "--max-nfr", "0.14"]) == 0
    assert "PASS NFR upper bound 13.73%" in capsys.readouterr().out
    assert main(["gate", str(report_json), "--max-nfr", "0.10"]) == 1
    out = capsys.readouterr().out
    assert "FAIL NFR upper bound 13.73%" in out and "10 negative flips of 120" in out
    assert main(["gate", str(report_json), "--max-nfr", "0.10", "--estimate"]) == 0
    assert main(["gate", str(report_json), "--max-nfr", "0.14", "--min-accuracy-delta", "0"]) == 1


def test_compare_files_directly_is_deterministic(tmp_path) -> None:
    old_path, new_path = write_runs(tmp_path)
    outputs = []
    for k in range(2):
        target = tmp_path / f"r{k}.json"
        code = main(
            [
                "compare",
                str(old_path),
                str(new_path),
                "--scorer",
                "exact",
                "--tag",
                "category",
                "--by",
                "category",
                "--json",
                str(target),
                "--quiet",
                "--store",
                str(tmp_path / "s.db"),
            ]
        )
        assert code == 0
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1]
    changed = tmp_path / "r_seed.json"
    main(
        [
            "compare",
            str(old_path),
            str(new_path),
            "--scorer",
            "exact",
            "--seed",
            "1",
            "--json",
            str(changed),
            "-q",
        ]
    )
    # rates get exact intervals: the seed changes nothing there
    assert json.loads(changed.read_text())["flips"]["nfr_ci"] == json.loads(outputs[0])["flips"]["nfr_ci"]


def test_errors_are_one_line_with_exit_code_2(tmp_path, capsys) -> None:
    old_path, _ = write_runs(tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "output": "x"}\n{not json\n')
    scored = tmp_path / "scored.jsonl"  # correctness on one side only (no correctness at all is no error)
    scored.write_text('{"id": "ex000", "output": "0", "correct": true}\n')
    cases = [
        ["compare", str(old_path), str(bad)],
        ["compare", str(old_path), "no-such-run", "--store", str(tmp_path / "s.db")],
        ["compare", str(scored), str(old_path)],  # no correctness on one side, and no scorer
        ["compare", str(old_path), str(old_path), "--scorer", "nonsense"],
        ["compare", str(old_path), str(old_path), "--scorer", "exact", "--by", "nope"],
        ["gate", str(tmp_path / "missing.json"), "--max-nfr", "0.1"],
        ["gate", str(old_path)],
        ["compare", str(old_path)],  # click usage error
        ["compare", str(old_path), str(old_path), "--level", "abc"],
    ]
    for args in cases:
        capsys.readouterr()
        assert main(args) == 2, args
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: "), (args, err)
        assert len(err.splitlines()) == 1, (args, err)
    assert main(["compare", str(old_path), str(bad)]) == 2
    assert "bad.jsonl:2" in capsys.readouterr().err


def test_show_and_formats(tmp_path, capsys) -> None:
    old_path, _ = write_runs(tmp_path)
    store = str(tmp_path / "s.db")
    assert main(["import", str(old_path), "--store", store, "--quiet"]) == 0
    assert main(["show", "v1", "--store", store, "--limit", "3"]) == 0
    out = capsys.readouterr().out
    assert "120 examples" in out and "ex000" in out
    assert main(["formats"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == len(FORMATS)
    # one line per format: its name, then what it reads
    for line, name in zip(listed, FORMATS, strict=True):
        assert line.startswith(name + " ") and FORMAT_DESCRIPTIONS[name] in line


def test_console_script_exit_codes(tmp_path) -> None:
    old_path, new_path = write_runs(tmp_path)
    report = tmp_path / "r.json"
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "deltaeval",
            "compare",
            str(old_path),
            str(new_path),
            "--scorer",
            "exact",
            "--json",
            str(report),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert ok.returncode == 0, ok.stderr
    assert "NFR" in ok.stdout
    fail = subprocess.run(
        [sys.executable, "-m", "deltaeval", "gate", str(report), "--max-nfr", "0"],
        capture_output=True,
        text=True,
    )
    assert fail.returncode == 1 and "FAIL" in fail.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "deltaeval", "compare", str(tmp_path / "nope.jsonl"), str(new_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert bad.returncode == 2 and bad.stderr.startswith("error:")
