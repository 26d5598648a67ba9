"""Slice discovery on a judging: the slices where the judge prefers old, in every format and in `gate`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from deltaeval.cli import main
from deltaeval.judging import CallableJudge
from deltaeval.judging.report import judge
from deltaeval.types import Example, Output, Run

N = 600
#: The planted slice's tag value: a hostile text every format must keep inert.
HOSTILE = "<script>alert(1)</script>"
TOPICS = ("chat", "math", "writing")


def planted(i: int) -> bool:
    return i % 8 == 0


def make_plan(
    seed: int, slice_plan: tuple[float, float], rest: tuple[float, float] = (0.1, 0.2)
) -> list[str]:
    """Per example: "old" (judge prefers old), "tie", "new" or "error" (no verdict in either order).

    ``slice_plan`` and ``rest`` are (P(old), P(tie)) in and outside the planted slice.
    """
    rng = np.random.default_rng(seed)
    plan = []
    for i in range(N):
        p_old, p_tie = slice_plan if planted(i) else rest
        u = rng.random()
        plan.append("old" if u < p_old else ("tie" if u < p_old + p_tie else "new"))
        if i % 37 == 5:
            plan[-1] = "error"
    return plan


def rows(seed: int = 0) -> list[dict[str, str]]:
    """One example a row: a question of varied length, a topic tag (the planted slice's is HOSTILE)."""
    rng = np.random.default_rng(seed + 100)
    return [
        {
            "id": f"q{i:03d}",
            "question": f"question {i}: " + "word " * int(rng.integers(2, 40)),
            "topic": HOSTILE if planted(i) else TOPICS[i % 3],
        }
        for i in range(N)
    ]


def runs(n: int = N) -> tuple[Run, Run]:
    examples = tuple(Example(id=r["id"], input=r["question"], tags={"topic": r["topic"]}) for r in rows()[:n])
    old = Run("v1", examples, tuple(Output(e.id, text=f"old-{i}") for i, e in enumerate(examples)))
    new = Run("v2", examples, tuple(Output(e.id, text=f"new-{i}") for i, e in enumerate(examples)))
    return old, new


def verdict(plan: list[str], a: str) -> str:
    """The judge's answer with ``a`` shown first (outputs are "old-i" / "new-i")."""
    what = plan[int(a.rsplit("-", 1)[1])]
    if what == "error":
        raise RuntimeError("the judge gave no verdict")
    if what == "tie":
        return "A=B"
    return "A>B" if a.startswith(what) else "B>A"


def judge_with(plan: list[str], n: int = N, **options):
    old, new = runs(n)
    return judge(
        old, new, CallableJudge(lambda q, a, b: verdict(plan, a), name="planned"), n_boot=50, **options
    )


def test_a_planted_slice_where_the_judge_prefers_old_is_confirmed() -> None:
    plan = make_plan(0, slice_plan=(0.65, 0.1))
    report = judge_with(plan)
    section = report.data["discovered_slices"]
    assert report.data["settings"]["slice_discovery"] is True
    assert section["event"] == "judge prefers old"
    errors = sum(p == "error" for p in plan)
    # only the examples with a verdict are scanned; the section counts the others
    assert section["n"] == N - errors and section["n_no_verdict"] == errors
    assert section["n"] == report.data["preference"]["win_rate"]["n"]
    top = section["confirmed"][0]
    assert top["description"] == f"topic = {HOSTILE}"
    in_slice = [i for i in range(N) if planted(i) and plan[i] != "error"]
    assert top["support"] == len(in_slice)
    assert top["events"] == sum(plan[i] == "old" for i in in_slice)  # losses, counted from the plan
    conf = top["confirmation"]
    assert conf["holm_p"] <= section["alpha"] and conf["rate"] > 0.4 and conf["rest_rate"] < 0.2
    planted_ids = {f"q{i:03d}" for i in in_slice}
    for item in section["confirmed"]:  # nothing outside the planted slice is confirmed
        assert set(item["example_ids"]) <= planted_ids, item["description"]


def test_nothing_planted_or_only_ties_planted_confirms_nothing() -> None:
    for seed in range(3):
        section = judge_with(make_plan(seed, slice_plan=(0.1, 0.2))).data["discovered_slices"]
        assert section["confirmed"] == [], (seed, section["confirmed"])
    # ties are not losses: a slice where the judge mostly calls a tie is no slice of losses
    plan = make_plan(0, slice_plan=(0.1, 0.8))
    report = judge_with(plan)
    assert report.data["discovered_slices"]["confirmed"] == []
    by_tag = judge_with(plan, by="topic").data["preference"]["by_tag"][0]["rows"]
    hostile = next(r for r in by_tag if r["value"] == HOSTILE)
    assert hostile["ties"] > hostile["losses"] + hostile["wins"]  # the ties are there, and not counted


def test_the_default_range_and_the_switch() -> None:
    plan = make_plan(0, slice_plan=(0.65, 0.1))
    off = judge_with(plan, slices=False).data
    assert "discovered_slices" not in off and off["settings"]["slice_discovery"] is False
    small = judge_with(plan, n=150).data  # under MIN_N examples with a verdict: off by default
    assert "discovered_slices" not in small and small["settings"]["slice_discovery"] is False
    forced = judge_with(plan, n=150, slices=True).data
    assert forced["settings"]["slice_discovery"] is True and forced["discovered_slices"]["n"] < 150


def test_terminal_markdown_and_html_show_the_slices_inertly() -> None:
    report = judge_with(make_plan(0, slice_plan=(0.65, 0.1)))
    console = Console(record=True, width=250)
    report.print(console)
    text = console.export_text()
    assert "Discovered slices" in text and "judge prefers old rate" in text
    assert f"topic = {HOSTILE}" in text  # plain text in the terminal, no markup read from it
    assert "without a verdict left out" in text
    md = report.to_markdown()
    assert "### Discovered slices" in md and "judge prefers old rate" in md
    assert "<script>" not in md and "topic = &lt;script&gt;alert(1)&lt;/script&gt;" in md
    page = report.to_html()
    assert "Discovered slices</h2>" in page and "judge prefers old rate" in page
    assert HOSTILE not in page and "topic = &lt;script&gt;alert(1)&lt;/script&gt;" in page
    executable = [t for t in re.findall(r"<script\b[^>]*>", page) if 'type="application/json"' not in t]
    assert len(executable) == 1  # the page's own script only


def _write_cli_inputs(tmp_path: Path, plan: list[str]) -> list[str]:
    """The runs as JSONL files and the judge as a python: file; the arguments of `deltaeval judge`."""
    paths = []
    for side in ("old", "new"):
        path = tmp_path / f"{side}.jsonl"
        lines = [json.dumps({**r, "output": f"{side}-{i}"}) for i, r in enumerate(rows())]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(str(path))
    judge_file = tmp_path / "planned_judge.py"
    judge_file.write_text(
        f"PLAN = {plan!r}\n\n\n"
        "def planned(question, a, b):\n"
        "    what = PLAN[int(a.rsplit('-', 1)[1])]\n"
        "    if what == 'error':\n"
        "        raise RuntimeError('no verdict')\n"
        "    if what == 'tie':\n"
        "        return 'A=B'\n"
        "    return 'A>B' if a.startswith(what) else 'B>A'\n",
        encoding="utf-8",
    )
    store = ["--store", str(tmp_path / "s.sqlite"), "--n-boot", "50", "-q"]
    return ["judge", *paths, "--judge", f"python:{judge_file}:planned", "--tag", "topic", *store]


def test_cli_judge_slices_and_gate_on_the_loss_rate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _write_cli_inputs(tmp_path, make_plan(0, slice_plan=(0.65, 0.1)))
    with_slices, without = tmp_path / "slices.json", tmp_path / "none.json"
    assert main([*args, "--json", str(with_slices)]) == 0
    assert main([*args, "--no-slices", "--json", str(without)]) == 0
    report = json.loads(with_slices.read_text(encoding="utf-8"))
    assert report["discovered_slices"]["confirmed"][0]["description"] == f"topic = {HOSTILE}"
    bare = json.loads(without.read_text(encoding="utf-8"))
    assert "discovered_slices" not in bare and bare["settings"]["slice_discovery"] is False
    capsys.readouterr()

    # the planted slice loses about 65% of the time on its held-out half: above 30%, within 95%
    assert main(["gate", str(with_slices), "--max-slice-loss-rate", "0.3"]) == 1
    out = capsys.readouterr().out
    assert "FAIL 1 slice with a loss rate significantly above 30.00%" in out
    assert f"discovered slice 'topic = {HOSTILE}' (held-out half)" in out
    assert main(["gate", str(with_slices), "--max-slice-loss-rate", "0.95"]) == 0
    assert "PASS no slice's loss rate is significantly above 95.00%" in capsys.readouterr().out
    assert main(["gate", str(with_slices), "--max-slice-loss-rate", "0.3", "--estimate"]) == 1
    assert "a loss rate estimate above 30.00%" in capsys.readouterr().out

    # a judge report has no NFR; a report without slices cannot be gated on them: one line, exit 2
    assert main(["gate", str(with_slices), "--max-slice-nfr", "0.3"]) == 2
    err = capsys.readouterr().err
    assert "a judge report has no NFR" in err and "--max-slice-loss-rate" in err and err.count("\n") == 1
    assert main(["gate", str(without), "--max-slice-loss-rate", "0.3"]) == 2
    err = capsys.readouterr().err
    assert "the judge report has no slices" in err and err.count("\n") == 1

    # the --by tables join the check: the hostile topic row fails it without discovery too
    by_tag = tmp_path / "by.json"
    assert main([*args, "--no-slices", "--by", "topic", "--json", str(by_tag)]) == 0
    capsys.readouterr()
    assert main(["gate", str(by_tag), "--max-slice-loss-rate", "0.3"]) == 1
    assert f"topic={HOSTILE}: loss rate" in capsys.readouterr().out


def test_gate_loss_rate_refuses_a_comparison_and_fails_an_insufficient_judging() -> None:
    from deltaeval.errors import InputError
    from deltaeval.gate import evaluate_gate

    with pytest.raises(InputError, match="no preference section"):
        evaluate_gate({"flips": {"n": 10, "negative": 1}, "slices": []}, max_slice_loss_rate=0.2)
    section = {"event": "judge prefers old", "confirmed": [], "unconfirmed": []}
    section["confirmed"].append({"description": "d", "confirmation": {"support": 40, "events": 30}})
    report = {"preference": {"by_tag": [], "validity": {"status": "ok"}}, "discovered_slices": section}
    (check,) = evaluate_gate(report, max_slice_loss_rate=0.5, alpha=0.05)
    assert not check.passed  # 30 of 40 against 50%: one-sided binomial p = 0.0011
    (check,) = evaluate_gate(report, max_slice_loss_rate=0.8, alpha=0.05)
    assert check.passed
    report["preference"]["validity"] = {"status": "insufficient", "message": "3 examples with a verdict"}
    (check,) = evaluate_gate(report, max_slice_loss_rate=0.8, alpha=0.05)
    assert not check.passed and "3 examples with a verdict" in check.description
    # a compare section (negative flips) is no judge slice
    report = {"preference": {"by_tag": []}, "discovered_slices": {**section, "event": "negative flip"}}
    with pytest.raises(InputError, match="no slices"):
        evaluate_gate(report, max_slice_loss_rate=0.5)
