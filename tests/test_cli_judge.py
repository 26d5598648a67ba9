"""End to end through the command line: `deltaeval judge`, `rank` and `winrate`."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from openai_server import OpenAIServer
from shared_data import ALPACA, DATA_ENV

from deltaeval.cli import main

ALPACA_MODELS = (
    "oasst-sft-llama-33b",
    "oasst-rlhf-llama-33b",
    "alpaca-7b",
    "alpaca-7b_concise",
    "alpaca-7b_verbose",
)
HOSTILE = "<script>alert('judge')</script>"

JUDGE_CODE = f'''
HOSTILE = {HOSTILE!r}


def prefer_longer(question, a, b):
    """New answers are longer on even examples; the judge explains with hostile text."""
    if len(a) == len(b):
        return {{"label": "A=B", "explanation": "same length"}}
    better = "A" if len(a) > len(b) else "B"
    worse = "B" if better == "A" else "A"
    return {{"label": f"{{better}}>{{worse}}", "explanation": "longer is better " + HOSTILE}}
'''


def write_runs(tmp_path: Path, n: int = 24) -> tuple[Path, Path]:
    old_rows, new_rows = [], []
    for i in range(n):
        category = ("math", "prose")[i % 2]
        common = {"id": f"ex{i:02d}", "question": f"question {i}?", "category": category}
        old_rows.append({**common, "output": f"old answer {i}"})
        # new is longer on even (math) examples, shorter on a few prose ones, equal otherwise
        new_text = (
            f"a much longer new answer {i}" if i % 2 == 0 else ("new" if i % 6 == 1 else f"new answer {i}")
        )
        new_rows.append({**common, "output": new_text})
    old_rows[0]["question"] = HOSTILE  # an input that must stay inert as well
    new_rows[0]["question"] = HOSTILE
    old_path, new_path = tmp_path / "v1.jsonl", tmp_path / "v2.jsonl"
    old_path.write_text("".join(json.dumps(r) + "\n" for r in old_rows), encoding="utf-8")
    new_path.write_text("".join(json.dumps(r) + "\n" for r in new_rows), encoding="utf-8")
    return old_path, new_path


def test_judge_end_to_end_with_a_python_judge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old_path, new_path = write_runs(tmp_path)
    judge_file = tmp_path / "my_judge.py"
    judge_file.write_text(JUDGE_CODE, encoding="utf-8")
    out = {suffix: tmp_path / f"report.{suffix}" for suffix in ("json", "md", "html")}
    args = ["judge", str(old_path), str(new_path), "--judge", f"python:{judge_file}:prefer_longer"]
    args += [
        "--tag",
        "category",
        "--by",
        "category",
        "--store",
        str(tmp_path / "s.sqlite"),
        "--n-boot",
        "200",
    ]
    args += ["--json", str(out["json"]), "--md", str(out["md"]), "--html", str(out["html"])]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "Pairwise preference" in printed and "win rate of new" in printed

    report = json.loads(out["json"].read_text(encoding="utf-8"))
    assert report["schema"] == "deltaeval.report" and report["schema_version"] == 1
    p = report["preference"]
    # even examples: new longer (12 wins); i % 6 == 1: new shorter (4 losses); the rest equal length
    assert (p["win_rate"]["wins"], p["win_rate"]["losses"], p["win_rate"]["ties"]) == (12, 4, 8)
    assert p["win_rate"]["win_rate"] == pytest.approx((12 + 4) / 24)
    assert p["position_bias"]["n_bias"] == 0
    assert [b["tag"] for b in p["by_tag"]] == ["category"]
    assert {r["value"]: r["win_rate"] for r in p["by_tag"][0]["rows"]}["math"] == 1.0
    assert p["examples"]["wins"][0]["verdicts"][0]["explanation"].endswith(HOSTILE)
    assert "accuracy" not in report and "flips" not in report

    md = out["md"].read_text(encoding="utf-8")
    assert "#### Pairwise preference" in md and "Win rate by category" in md
    fence = None
    for line in md.splitlines():  # hostile text only ever inside fenced code blocks
        marker = re.match(r"^(`{3,})", line)
        if marker and (fence is None or marker.group(1) == fence):
            fence = marker.group(1) if fence is None else None
            continue
        if "<script" in line:
            assert fence is not None, line
    assert "Strongest wins of new" in md

    html = out["html"].read_text(encoding="utf-8")
    assert "Pairwise preference" in html and "Strongest wins of" in html
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(&#39;judge&#39;)&lt;/script&gt;" in html
    executable = [t for t in re.findall(r"<script\b[^>]*>", html) if 'type="application/json"' not in t]
    assert len(executable) == 1  # the page's own script only (the viewer's data element runs nothing)

    # the same command with the same seed writes the same JSON (but for the import times)
    again = tmp_path / "again.json"
    assert main([*args[: args.index("--json")], "--json", str(again)]) == 0

    def timeless(path: Path) -> dict:
        data = json.loads(path.read_text(encoding="utf-8"))
        for side in ("old", "new"):
            data[side].pop("created_at")
        return data

    assert timeless(again) == timeless(out["json"])


def test_judge_cli_with_the_local_server_adaptive_and_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old_path, new_path = write_runs(tmp_path, n=40)
    # every verdict favours the answer shown second: both orders disagree → ties, position bias
    with OpenAIServer(answers=_AnswerAll("[[B>A]]")) as server:
        store = str(tmp_path / "s.sqlite")
        args = [
            "judge",
            str(old_path),
            str(new_path),
            "--judge",
            f"openai:judge@{server.url}",
            "--store",
            store,
        ]
        args += ["--adaptive", "--budget", "12", "--seed", "1", "--json", str(tmp_path / "r.json")]
        args += ["--price-in", "3", "--price-out", "15", "--n-boot", "0"]
        assert main(args) == 0
        first = len(server.log)
        assert main(args) == 0
        second = len(server.log)
    assert first == 12 and second == first  # the rerun is answered from the cache
    p = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["preference"]
    a = p["adaptive"]
    assert (a["reason"], a["n_requests"], a["n_examples"], a["verdict"]) == (
        "budget exhausted",
        12,
        6,
        "undecided",
    )
    assert p["position_bias"]["rate"] == 1.0 and p["win_rate"]["ties"] == 6
    assert p["cost"]["total"]["cached"] == 12 and p["cost"]["total"]["cost"] > 0
    assert "Adaptive: stopped after 6 examples" in capsys.readouterr().out


class _AnswerAll(dict):
    """An answer table that gives every prompt the same reply."""

    def __init__(self, reply: str) -> None:
        super().__init__()
        self.reply = reply

    def get(self, key, default=None):  # the server calls answers.get(prompt, fallback)
        return self.reply


def test_judge_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old_path, new_path = write_runs(tmp_path, n=4)
    store = ["--store", str(tmp_path / "s.sqlite")]
    cases = [
        (["judge", str(old_path), str(new_path), *store], "at least one --judge"),
        (["judge", str(old_path), str(new_path), "--judge", "nosuch:x", *store], "unknown model spec"),
        (
            ["judge", str(old_path), str(new_path), "--judge", "python:json:dumps", "--budget", "4", *store],
            "--adaptive",
        ),
        (["judge", str(old_path), "missing.jsonl", "--judge", "python:json:dumps", *store], "neither a file"),
        (["winrate", str(old_path)], "output_1"),
        (["rank", str(old_path), str(new_path)], "--judge"),
    ]
    for args, message in cases:
        assert main(args) == 2, args
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and message in err and "\n" not in err, err


def test_rank_runs_and_recorded_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = {name: [] for name in ("short", "medium", "long")}
    for i in range(12):
        for name, length in (("short", 1), ("medium", 3), ("long", 6)):
            # longer is better, except a few upsets so that every run wins and loses
            words = length if i % 4 else 7 - length
            rows[name].append({"id": f"q{i}", "input": f"q {i}", "output": " ".join(["w"] * words)})
    paths = []
    for name, items in rows.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in items), encoding="utf-8")
        paths.append(str(path))
    judge_file = tmp_path / "lj.py"
    # mostly the longer answer, but not on every question: a judge that always picks the longer one
    # separates the verdicts by length, and the style-controlled fit is then refused
    judge_file.write_text(
        "def j(q, a, b):\n    longer = len(a) > len(b)\n"
        "    return 'A>B' if longer != q.endswith('1') else 'B>A'\n",
        encoding="utf-8",
    )
    out = tmp_path / "rank.json"
    args = ["rank", *paths, "--judge", f"python:{judge_file}:j", "--store", str(tmp_path / "s.sqlite")]
    assert main([*args, "--json", str(out), "--n-boot", "20"]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert [r["name"] for r in data["runs"]] == ["long", "medium", "short"]
    assert data["n_battles"] == 3 * 12 * 2
    assert all(r["ci"][0] <= r["rating"] <= r["ci"][1] for r in data["runs"])
    assert data["style"] is not None  # every output is known: the style-controlled fit ran
    assert "Bradley–Terry ratings" in capsys.readouterr().out

    # recorded: Arena-Hard judgments of three models against one baseline
    files = []
    for model, score in (("m1", "B>>A"), ("m2", "B>A"), ("m3", "A>B")):
        swapped = "A>B" if score.startswith("B") else "B>A"
        games = [[{"score": score if i % 5 else "A=B"}, {"score": swapped}] for i in range(10)]
        lines = [
            {"question_id": f"a{i}", "model": model, "baseline": "base", "games": game}
            for i, game in enumerate(games)
        ]
        path = tmp_path / f"{model}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
        files.append(str(path))
    out2 = tmp_path / "rank2.json"
    assert main(["rank", "--from", *files, "--json", str(out2), "--n-boot", "20"]) == 0
    recorded = json.loads(out2.read_text(encoding="utf-8"))
    order = [r["name"] for r in recorded["runs"]]
    assert order.index("m1") < order.index("m2") < order.index("m3")
    assert recorded["style"] is None and recorded["notes"]


def test_winrate_on_synthetic_annotations(tmp_path: Path) -> None:
    prefs = {"ma": [2.0, 2.0, 1.0, 1.5, 1.0, 1.0], "mb": [1.0, 1.0, 2.0, 1.2, 1.0, 1.8]}
    files = []
    for model, values in prefs.items():
        records = [
            {
                "instruction": f"i{k}",
                "output_1": "b" * (20 + k),
                "generator_1": "base",
                "output_2": "m" * (10 + 5 * k),
                "generator_2": model,
                "preference": v,
            }
            for k, v in enumerate(values)
        ]
        path = tmp_path / model / "annotations.json"
        path.parent.mkdir()
        path.write_text(json.dumps(records), encoding="utf-8")
        files.append(str(path))
    out = tmp_path / "wr.json"
    assert main(["winrate", *files, "--json", str(out), "--n-boot", "20"]) == 0
    runs = json.loads(out.read_text(encoding="utf-8"))["runs"]
    assert runs["ma"]["win_rate"] == pytest.approx(100 * (1 + 1 + 0 + 0.5 + 0 + 0) / 6)
    assert runs["ma"]["discrete_win_rate"] == pytest.approx(100 * 2.5 / 6)
    assert (runs["ma"]["n_wins"], runs["ma"]["n_wins_base"], runs["ma"]["n_draws"]) == (2, 3, 1)
    assert runs["mb"]["n_wins"] == 2 and runs["mb"]["length_controlled_winrate"] is not None


@pytest.mark.skipif(not ALPACA.is_dir(), reason=f"AlpacaEval data not found at {ALPACA} (set {DATA_ENV})")
def test_winrate_reproduces_the_alpaca_eval_leaderboard(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [str(ALPACA / model / "annotations.json") for model in ALPACA_MODELS]
    out = tmp_path / "winrate.json"
    assert main(["winrate", *files, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    data = json.loads(out.read_text(encoding="utf-8"))
    with (ALPACA / "leaderboard_subset.csv").open(newline="", encoding="utf-8") as handle:
        published = {row[""]: row for row in csv.DictReader(handle)}
    for model in ALPACA_MODELS:
        ours = data["runs"][model]
        for figure in ("win_rate", "standard_error", "discrete_win_rate"):
            assert ours[figure] == pytest.approx(float(published[model][figure]), abs=0.01), (model, figure)
        for count in ("n_wins", "n_wins_base", "n_draws", "n_total"):
            assert ours[count] == int(published[model][count])
        # the LC figure is printed beside the published one
        assert data["published"]["runs"][model]["length_controlled_winrate"] == pytest.approx(
            float(published[model]["length_controlled_winrate"])
        )
        assert 0 < ours["length_controlled_winrate"] < 100
        assert f"{float(published[model]['length_controlled_winrate']):.2f}" in printed
    assert "leaderboard_subset.csv" in printed


def test_gate_on_a_judge_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old_path, new_path = write_runs(tmp_path)
    judge_file = tmp_path / "my_judge.py"
    judge_file.write_text(JUDGE_CODE, encoding="utf-8")
    report_path = tmp_path / "judge.json"
    args = ["judge", str(old_path), str(new_path), "--judge", f"python:{judge_file}:prefer_longer"]
    args += ["--store", str(tmp_path / "s.sqlite"), "--n-boot", "200", "--json", str(report_path), "-q"]
    assert main(args) == 0
    win = json.loads(report_path.read_text(encoding="utf-8"))["preference"]["win_rate"]
    assert win["win_rate"] == pytest.approx(16 / 24)  # 12 wins, 8 ties, 4 losses
    capsys.readouterr()
    # point estimates on request
    assert main(["gate", str(report_path), "--min-win-rate", "0.6", "--estimate"]) == 0
    assert "PASS win rate 66.67% >= 60.00% (12 wins, 8 ties, 4 losses)" in capsys.readouterr().out
    assert main(["gate", str(report_path), "--min-win-rate", "0.7", "--estimate"]) == 1
    assert "FAIL win rate 66.67% < 70.00%" in capsys.readouterr().out
    # by default the conservative bound: the lower end of the interval
    low = win["win_rate_ci"][0]
    assert low < 0.6
    assert main(["gate", str(report_path), "--min-win-rate", "0.6"]) == 1
    assert "FAIL win rate lower bound" in capsys.readouterr().out
    assert main(["gate", str(report_path), "--min-win-rate", f"{low - 0.01}"]) == 0
    # a judge report has no flips: an NFR gate says so (exit 2)
    assert main(["gate", str(report_path), "--max-nfr", "0.1"]) == 2
    assert "no flips." in capsys.readouterr().err
