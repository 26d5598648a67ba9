"""`deltaeval gate` appends its verdict and the report's Markdown to the GitHub job summary
($GITHUB_STEP_SUMMARY): automatically when the variable is set, always with --github, never with
--no-github; exit codes stay the gate's (1 on a failing threshold, 0 on a pass)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_startup import HEAVY, _imports

from deltaeval.cli import main
from deltaeval.step_summary import STEP_SUMMARY_LIMIT, append_summary

EXISTING = "## Unit tests\n\n42 passed\n"


def _runs(folder: Path, negative: set[int], n: int = 60, category: str = "abc") -> tuple[Path, Path]:
    """Two JSONL runs of ``n`` examples: the old run right on all, the new one wrong on ``negative``."""
    old_path, new_path = folder / "v1.jsonl", folder / "v2.jsonl"
    with old_path.open("w") as old, new_path.open("w") as new:
        for i in range(n):
            base = {"id": f"q{i}", "input": f"question {i}", "reference": "yes", "category": category}
            old.write(json.dumps({**base, "output": "yes"}) + "\n")
            new.write(json.dumps({**base, "output": "no" if i in negative else "yes"}) + "\n")
    return old_path, new_path


def _report(folder: Path, negative: set[int], category: str = "abc") -> Path:
    old, new = _runs(folder, negative, category=category)
    report = folder / "report.json"
    args = ["compare", str(old), str(new), "--scorer", "exact", "--by", "category", "--no-behaviour"]
    assert main([*args, "--json", str(report)]) == 0
    return report


@pytest.fixture
def summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A step summary file that an earlier step of the job already wrote to."""
    path = tmp_path / "step_summary.md"
    path.write_text(EXISTING, encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(path))
    return path


def test_failing_gate_appends_its_verdict_failures_first(tmp_path: Path, summary: Path, capsys) -> None:
    report = _report(tmp_path, negative={3, 17, 40})
    # a passing check named before the failing one on the command line
    args = ["gate", str(report), "--max-accuracy-drop", "0.5", "--max-nfr", "0.02"]
    assert main(args) == 1
    assert "FAIL NFR upper bound" in capsys.readouterr().out  # the terminal output is unchanged
    text = summary.read_text(encoding="utf-8")
    assert text.startswith(EXISTING + "\n")  # appended after what was there
    gate = text[len(EXISTING) :]
    assert "## deltaeval gate v1 → v2: ❌ failed: 1 of 2 thresholds" in gate
    fail = gate.index("- **FAIL** `max_nfr`: NFR upper bound 12.42% &gt; 2.00%")
    passed = gate.index("- PASS `max_accuracy_drop`")
    assert fail < passed  # the failing threshold first, whatever the order of the options
    # then the comparison's Markdown summary, with the regressed examples
    assert gate.index("### v1 → v2") > passed
    assert "#### Regressions: 3 negative flips (old right, new wrong)" in gate
    for example_id in ("q3", "q17", "q40"):
        assert f"| {example_id} |" in gate


def test_passing_gate_appends_again_and_exits_0(tmp_path: Path, summary: Path) -> None:
    report = _report(tmp_path, negative=set())
    assert main(["gate", str(report), "--max-nfr", "0.06"]) == 0
    assert main(["gate", str(report), "--max-nfr", "0.06", "--max-p", "1"]) == 0
    text = summary.read_text(encoding="utf-8")
    assert text.startswith(EXISTING)
    assert text.count("## deltaeval gate v1 → v2: ✅ passed") == 2
    assert "✅ passed: the threshold\n" in text and "✅ passed: all 2 thresholds\n" in text
    assert "- PASS `max_nfr`: NFR upper bound 4.87% &lt;= 6.00%" in text
    assert "No example went from right to wrong." in text


def test_github_creates_a_missing_file_and_no_github_turns_it_off(tmp_path: Path, monkeypatch) -> None:
    report = _report(tmp_path, negative={5})
    path = tmp_path / "new_summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(path))
    assert main(["gate", str(report), "--max-nfr", "0.01", "--no-github"]) == 1
    assert not path.exists()
    assert main(["gate", str(report), "--max-nfr", "0.01", "--github"]) == 1
    assert path.read_text(encoding="utf-8").startswith("## deltaeval gate v1 → v2: ❌ failed")


def test_github_without_the_variable_is_a_one_line_usage_error(tmp_path: Path, monkeypatch, capsys) -> None:
    report = _report(tmp_path, negative=set())
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    capsys.readouterr()
    assert main(["gate", str(report), "--max-nfr", "0.5", "--github"]) == 2
    out, err = capsys.readouterr()
    assert out == ""  # refused before any check
    assert err.strip().count("\n") == 0
    assert err.startswith("error: --github writes the job summary to $GITHUB_STEP_SUMMARY, which is not set")
    # without --github and without the variable, the gate is as it was
    assert main(["gate", str(report), "--max-nfr", "0.5"]) == 0


def test_an_unwritable_summary_warns_unless_asked_for(tmp_path: Path, monkeypatch, capsys) -> None:
    report = _report(tmp_path, negative={5})
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "no-such-folder" / "summary.md"))
    capsys.readouterr()
    assert main(["gate", str(report), "--max-nfr", "0.01"]) == 1  # the gate's own exit code
    assert capsys.readouterr().err.startswith("warning: cannot append to the job summary file")
    assert main(["gate", str(report), "--max-nfr", "0.01", "--github"]) == 2
    assert capsys.readouterr().err.startswith("error: cannot append to the job summary file")


def test_untrusted_text_stays_inert(tmp_path: Path, summary: Path) -> None:
    hostile = "<img src=x onerror=alert(1)> | @octocat `x` \x1b[31m\u202e"
    report = _report(tmp_path, negative=set(range(20)), category=hostile)
    assert main(["gate", str(report), "--max-slice-nfr", "0.01"]) == 1
    gate = summary.read_text(encoding="utf-8")[len(EXISTING) :]
    check = next(line for line in gate.splitlines() if line.startswith("- **FAIL** `max_slice_nfr`"))
    # HTML-escaped, Markdown punctuation and the mention escaped, controls shown as escapes
    assert (
        "category=&lt;img src=x onerror=alert(1)&gt; \\| @\u2060octocat \\`x\\` \\\\x1b\\[31m\\\\u202e"
        in check
    )
    assert "<img" not in gate and "\x1b" not in gate and "\u202e" not in gate
    assert "@octocat" not in gate


def test_the_summary_keeps_within_githubs_limit(tmp_path: Path, summary: Path, capsys) -> None:
    report = _report(tmp_path, negative={1, 2})
    # room for the verdict, not for the comparison: the verdict alone, saying so
    summary.write_bytes(b"x" * (STEP_SUMMARY_LIMIT - 1_000))
    assert main(["gate", str(report), "--max-nfr", "0.01"]) == 1
    text = summary.read_text(encoding="utf-8")
    assert "❌ failed: 1 of 1 thresholds" in text and "comparison's summary is left out" in text
    assert "#### Regressions" not in text
    assert summary.stat().st_size <= STEP_SUMMARY_LIMIT
    # no room at all: nothing written, a warning, the same exit code
    summary.write_bytes(b"x" * STEP_SUMMARY_LIMIT)
    capsys.readouterr()
    assert main(["gate", str(report), "--max-nfr", "0.01"]) == 1
    assert summary.stat().st_size == STEP_SUMMARY_LIMIT
    assert capsys.readouterr().err.startswith("warning: no room left in the job summary")


def test_append_summary_counts_bytes(tmp_path: Path) -> None:
    path = tmp_path / "s.md"
    assert append_summary(path, ["é" * 6, "short"], limit=10) == 1  # 12 bytes do not fit, 6 do
    assert path.read_bytes() == b"short\n"
    assert append_summary(path, ["x"], limit=9) is None  # 6 + len("\n\n" "x\n") > 9
    assert append_summary(path, ["x"], limit=10) == 0
    assert path.read_bytes() == b"short\n\n\nx\n"


def test_gate_writing_a_summary_imports_nothing_heavy(tmp_path: Path, monkeypatch) -> None:
    report = _report(tmp_path, negative={1})
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    args = ["gate", str(report), "--max-nfr", "0.01", "--max-slice-nfr", "0.5"]
    assert _imports(args, tmp_path, (*HEAVY, "numpy")) == (1, [])
    assert "## deltaeval gate" in (tmp_path / "summary.md").read_text(encoding="utf-8")
