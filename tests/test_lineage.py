"""More than two versions: ``deltaeval compare v1 v2 v3 …`` and ``deltaeval.lineage.compare_lineage``.

The runs are JSONL files written here with known flips against v1 (40 examples, v1 right on 0–29):
v2 loses 0–9 and gains 30–31 (10 negative, 2 positive flips), v3 loses 0–1 and gains 30–39 (2, 10),
v4 loses 0–14 (15, 0). McNemar's exact p of (10, 2) and of (2, 10) is 158/4096 each, under 0.05;
Holm across the three candidates lifts both to 316/4096 > 0.05, while v4's 2/2^15 stays far below.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deltaeval import compare
from deltaeval.cli import main
from deltaeval.lineage import compare_lineage

N = 40
CORRECT = {
    "v1": set(range(30)),
    "v2": set(range(10, 32)),
    "v3": set(range(2, 40)),
    "v4": set(range(15, 30)),
}
P_SMALL = 158 / 4096  # exact McNemar, 12 discordant pairs split 10/2
NO_BEHAVIOUR = ["--scorer", "exact", "--no-behaviour", "-q"]


def write_run(folder: Path, name: str, correct: set[int], ids: range | list[int] = range(N)) -> Path:
    """A JSONL run: each output is its reference when the example is in ``correct``."""
    path = folder / f"{name}.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for i in ids:
            reference = f"answer {i}"
            output = reference if i in correct else "something else"
            f.write(
                json.dumps(
                    {"id": f"q{i}", "input": f"question {i}", "reference": reference, "output": output}
                )
            )
            f.write("\n")
    return path


@pytest.fixture
def runs(tmp_path: Path) -> dict[str, Path]:
    return {name: write_run(tmp_path, name, correct) for name, correct in CORRECT.items()}


def _candidates(report) -> dict[str, dict]:
    return {row["run"]: row for row in report.lineage["rows"] if row["kind"] == "candidate"}


def test_holm_across_candidates_by_hand(runs) -> None:
    report = compare_lineage([runs[n] for n in ("v1", "v2", "v3", "v4")], scorer="exact", behaviour=False)
    lineage = report.lineage
    assert lineage["adjustment"] == "holm" and lineage["n"] == N and lineage["baseline"] == "v1"
    rows = _candidates(report)
    assert [r["kind"] for r in lineage["rows"]] == ["baseline", "candidate", "candidate", "candidate"]
    assert (rows["v2"]["negative"], rows["v2"]["positive"]) == (10, 2)
    assert (rows["v3"]["negative"], rows["v3"]["positive"]) == (2, 10)
    assert (rows["v4"]["negative"], rows["v4"]["positive"]) == (15, 0)
    assert rows["v2"]["mcnemar_p"] == pytest.approx(P_SMALL)
    assert rows["v3"]["mcnemar_p"] == pytest.approx(P_SMALL)
    assert rows["v4"]["mcnemar_p"] == pytest.approx(2 / 2**15)
    # Holm: the smallest p times 3, the next two times 2 (then the running maximum)
    assert rows["v4"]["p_adjusted"] == pytest.approx(3 * 2 / 2**15)
    assert rows["v2"]["p_adjusted"] == pytest.approx(2 * P_SMALL)
    assert rows["v3"]["p_adjusted"] == pytest.approx(2 * P_SMALL)
    # significant alone, not after adjustment; the two-run reports keep their own verdicts
    assert rows["v2"]["verdict"] == rows["v3"]["verdict"] == "no significant change"
    assert rows["v4"]["verdict"] == "regressed"
    assert [c["flips"]["verdict"] for c in report.data["comparisons"]] == [
        "regressed",
        "improved",
        "regressed",
    ]
    assert rows["v2"]["accuracy"] == pytest.approx(22 / N) and rows["v2"]["nfr"] == pytest.approx(10 / N)
    assert rows["v3"]["pfr"] == pytest.approx(10 / N) and rows["v3"]["delta"] == pytest.approx(8 / N)
    assert lineage["rows"][0]["accuracy"] == pytest.approx(30 / N)


def test_steps_follow_the_order_given(runs) -> None:
    report = compare_lineage([runs[n] for n in ("v1", "v2", "v3", "v4")], scorer="exact", behaviour=False)
    steps = report.lineage["steps"]
    assert [(s["kind"], s["from"], s["run"]) for s in steps] == [
        ("step", "v1", "v2"),
        ("step", "v2", "v3"),
        ("step", "v3", "v4"),
    ]
    assert [(s["negative"], s["positive"]) for s in steps] == [(10, 2), (0, 16), (23, 0)]
    # Holm across the steps: 2^-22 × 3, 2^-14 × 2, and the largest, 158/4096, × 1: all below 0.05
    assert [s["p_adjusted"] for s in steps] == pytest.approx([P_SMALL, 2 * 2 / 2**16, 3 * 2 / 2**23])
    assert [s["verdict"] for s in steps] == ["regressed", "improved", "regressed"]


def test_each_comparison_is_the_two_run_comparison(runs) -> None:
    report = compare_lineage([runs["v1"], runs["v2"], runs["v3"]], scorer="exact", behaviour=False)
    for name, comparison in zip(("v2", "v3"), report.comparisons, strict=True):
        alone = compare(runs["v1"], runs[name], scorer="exact", behaviour=False)
        assert comparison.to_json() == alone.to_json()
        row = _candidates(report)[name]
        assert row["nfr_ci"] == alone.flips["nfr_ci"] and row["pfr_ci"] == alone.flips["pfr_ci"]
        assert row["delta_ci"] == alone.accuracy["delta_ci"]
        assert row["accuracy_ci"] == alone.accuracy["new_ci"]
        assert row["mcnemar_p"] == alone.flips["mcnemar_p"]


def test_baseline_by_name_and_gate(runs) -> None:
    report = compare_lineage(
        [runs["v1"], runs["v2"], runs["v3"]], baseline="v2", scorer="exact", behaviour=False, max_nfr=0.2
    )
    rows = report.lineage["rows"]
    assert [(r["kind"], r["run"]) for r in rows] == [
        ("baseline", "v2"),
        ("candidate", "v1"),
        ("candidate", "v3"),
    ]
    assert [(s["from"], s["run"]) for s in report.lineage["steps"]] == [("v1", "v2"), ("v2", "v3")]
    # v2 → v1: 2 negative flips of 40 (upper bound 14.9%) passes; v2 → v3: none, passes
    assert [r["gate"] for r in rows[1:]] == ["pass", "pass"]
    strict = compare_lineage(
        [runs["v1"], runs["v2"], runs["v3"]], scorer="exact", behaviour=False, max_nfr=0.2
    )
    assert [r["gate"] for r in strict.lineage["rows"][1:]] == ["fail", "pass"]  # v2: 10 of 40
    assert strict.lineage["gate"]["thresholds"] == {"max_nfr": 0.2}


def test_examples_not_shared_by_every_run_are_left_out_and_said(tmp_path) -> None:
    v1 = write_run(tmp_path, "v1", CORRECT["v1"])
    v2 = write_run(tmp_path, "v2", CORRECT["v2"], ids=range(N - 5))
    v3 = write_run(tmp_path, "v3", CORRECT["v3"])
    report = compare_lineage([v1, v2, v3], scorer="exact", behaviour=False)
    assert report.lineage["n"] == N - 5
    assert "35 examples every run shares" in report.data["notes"][0]


def test_cli_three_runs_json_markdown_html(runs, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    args = ["compare", str(runs["v1"]), str(runs["v2"]), str(runs["v3"]), *NO_BEHAVIOUR]
    args += ["--json", str(out / "l.json"), "--md", str(out / "l.md"), "--html", str(out / "l.html")]
    assert main(args) == 0
    data = json.loads((out / "l.json").read_text(encoding="utf-8"))
    assert (data["schema"], data["schema_version"]) == ("deltaeval.lineage", 1)
    assert [c["new"]["name"] for c in data["comparisons"]] == ["v2", "v3"]
    assert data["lineage"]["order"] == ["v1", "v2", "v3"]
    again = compare_lineage([runs["v1"], runs["v2"], runs["v3"]], scorer="exact", behaviour=False)
    assert (out / "l.json").read_text(encoding="utf-8") == again.to_json()  # deterministic
    md = (out / "l.md").read_text(encoding="utf-8")
    assert "## Lineage: v1 → v2 → v3" in md
    assert "| row | run | accuracy | Δ accuracy | NFR | PFR | McNemar p | adjusted p | verdict |" in md
    assert "| vs v1 | v2 | 55.0% \\[" in md and "| step | v2 → v3 |" in md
    assert md.count("Holm-adjusted") == 2
    page = (out / "l.html").read_text(encoding="utf-8")
    assert page.count('<tr class="step">') == 2 and page.count('<tr class="candidate">') == 2
    assert page.count('sandbox="allow-scripts" srcdoc=') == 2
    printed = capsys.readouterr().out
    assert "lineage: v1 → v2 → v3" not in printed  # --quiet prints nothing


def test_cli_prints_the_lineage_table(runs, capsys) -> None:
    assert main(["compare", str(runs["v1"]), str(runs["v2"]), str(runs["v3"]), "--scorer", "exact",
                 "--no-behaviour", "--baseline", "v2"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "lineage: v1 → v2 → v3" in printed and "vs v2" in printed and "v1 → v2" in printed


def test_two_runs_unchanged(runs, tmp_path) -> None:
    cli_json, swapped = tmp_path / "cli.json", tmp_path / "swapped.json"
    assert main(["compare", str(runs["v1"]), str(runs["v2"]), *NO_BEHAVIOUR, "--json", str(cli_json)]) == 0
    api = compare(runs["v1"], runs["v2"], scorer="exact", behaviour=False)
    assert cli_json.read_text(encoding="utf-8") == api.to_json()
    assert "lineage" not in json.loads(api.to_json())
    # --baseline with two runs: the baseline becomes the old run, the report as before
    args = ["compare", str(runs["v2"]), str(runs["v1"]), "--baseline", "v1", *NO_BEHAVIOUR]
    assert main([*args, "--json", str(swapped)]) == 0
    assert swapped.read_bytes() == cli_json.read_bytes()


def test_untrusted_run_names_stay_inert(tmp_path) -> None:
    from deltaeval.io import load_run

    paths = [write_run(tmp_path, f"r{i}", CORRECT[f"v{i + 1}"]) for i in range(3)]
    names = ["<script>alert(1)</script>", "a|b\x1b[31m", "@team"]
    runs = [load_run(p, name=n) for p, n in zip(paths, names, strict=True)]
    report = compare_lineage(runs, scorer="exact", behaviour=False)
    page = report.to_html()
    assert "<script>alert(1)" not in page and "\x1b" not in page
    md = report.to_markdown()
    assert "<script>" not in md and "\x1b" not in md and "a\\|b" in md and "@\u2060team" in md


def _error(args: list[str], capsys) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    return err


def test_bad_input(runs, tmp_path, capsys) -> None:
    v1, v2, v3 = (str(runs[n]) for n in ("v1", "v2", "v3"))
    assert "at least two runs" in _error(["compare", v1, "--baseline", "v1"], capsys)
    assert "compare needs two runs" in _error(["compare", v1], capsys)
    assert "given twice" in _error(["compare", v1, v2, v1], capsys)
    other = tmp_path / "other"
    other.mkdir()
    same_name = write_run(other, "v2", CORRECT["v3"])  # another file whose run is also named v2
    assert "'v2' is given twice" in _error(["compare", v1, v2, str(same_name), "--scorer", "exact"], capsys)
    assert "baseline 'v9' is not among" in _error(["compare", v1, v2, v3, "--baseline", "v9"], capsys)
    assert "baseline 'v9' is not among" in _error(["compare", v1, v2, "--baseline", "v9"], capsys)
    apart = tmp_path / "apart"
    apart.mkdir()
    a = write_run(apart, "a", set(range(4)), ids=[0, 1])
    b = write_run(apart, "b", set(), ids=[0, 2])
    c = write_run(apart, "c", set(), ids=[1, 3])
    err = _error(["compare", str(a), str(b), str(c), "--scorer", "exact", "--no-behaviour"], capsys)
    assert "share no example id" in err
    err = _error(["compare", v1, v2, v3, "--old-model", "echo", "--data", v1], capsys)
    assert "not both" in err


def test_gate_checks_every_candidate(runs, tmp_path, capsys, monkeypatch) -> None:
    report = tmp_path / "lineage.json"
    args = [
        "compare",
        str(runs["v1"]),
        str(runs["v2"]),
        str(runs["v3"]),
        *NO_BEHAVIOUR,
        "--json",
        str(report),
    ]
    assert main(args) == 0
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    capsys.readouterr()
    # v1 → v2: 10 negative flips of 40 (upper bound 39%); v1 → v3: 2 of 40 (upper bound 14.9%)
    assert main(["gate", str(report), "--max-nfr", "0.2"]) == 1
    printed = capsys.readouterr().out
    assert "v1 → v2:" in printed and "v1 → v3:" in printed
    assert "1 of 2 candidates pass; failing: v1 → v2" in printed
    assert main(["gate", str(report), "--max-nfr", "0.5"]) == 0
    assert "2 of 2 candidates pass" in capsys.readouterr().out
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert main(["gate", str(report), "--max-nfr", "0.2"]) == 1
    text = summary.read_text(encoding="utf-8")
    assert "v1 → v2" in text and "v1 → v3" in text


def test_terminal_table_fits_80_columns(runs) -> None:
    from rich.console import Console

    report = compare_lineage(
        [runs[n] for n in ("v1", "v2", "v3", "v4")], scorer="exact", behaviour=False, max_nfr=0.2
    )
    console = Console(width=80, record=True, color_system=None)
    report.print(console)
    text = console.export_text()
    table = text[: text.index("─ v1 → v2 ─")]
    assert all(len(line) <= 80 for line in table.splitlines())
    header = next(line for line in table.splitlines() if line.lstrip().startswith("run"))
    assert header.split() == ["run", "acc.", "Δ", "acc.", "NFR", "PFR", "p", "p", "adj.", "verdict", "gate"]
    assert "regressed" in table and "FAIL" in table and "PASS" in table and "v3 → v4" in table


def test_runs_without_correctness_are_refused(tmp_path, capsys) -> None:
    paths = []
    for name in ("x1", "x2", "x3"):
        path = tmp_path / f"{name}.jsonl"
        rows = [{"id": f"q{i}", "input": f"q {i}", "output": f"{name} says {i}"} for i in range(5)]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        paths.append(str(path))
    assert "needs correctness" in _error(["compare", *paths, "--no-behaviour"], capsys)


def test_html_frames_hold_each_comparisons_own_page(runs) -> None:
    import html

    report = compare_lineage([runs["v1"], runs["v2"], runs["v3"]], scorer="exact", behaviour=False)
    page = report.to_html()
    for name in ("v2", "v3"):
        alone = compare(runs["v1"], runs[name], scorer="exact", behaviour=False).to_html()
        assert f'srcdoc="{html.escape(alone, quote=True)}"' in page
    assert page.count("<iframe") == 2 and "Content-Security-Policy" in page
