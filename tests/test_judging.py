"""Pairwise judging: verdict parsing, the Judgment type, judges, the protocol and its statistics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from deltaeval.analysis.preference import alpaca_win_rate
from deltaeval.errors import InputError, UsageError
from deltaeval.judging import (
    CallableJudge,
    Pair,
    RecordedJudge,
    check_judge,
    get_judge,
    judge,
    judge_runs,
    normalize_label,
    parse_verdict,
    read_judgments,
)
from deltaeval.judging.parse import label_from_value
from deltaeval.judging.protocol import Prices
from deltaeval.store import Store
from deltaeval.types import Example, Judgment, Output, Run

# -- helpers ---------------------------------------------------------------------------------------


def make_runs(n: int = 10, *, tags: bool = False) -> tuple[Run, Run]:
    """Old answers "old-i", new answers "new-i"; a tag cycling over a/b when asked."""
    examples = tuple(
        Example(id=f"q{i}", input=f"question {i}", tags={"topic": "ab"[i % 2]} if tags else {})
        for i in range(n)
    )
    old = Run("v1", examples, tuple(Output(e.id, text=f"old-{i}") for i, e in enumerate(examples)))
    new = Run("v2", examples, tuple(Output(e.id, text=f"new-{i}") for i, e in enumerate(examples)))
    return old, new


def index_of(text: str) -> int:
    return int(text.rsplit("-", 1)[1])


def scripted(plan: dict[int, str]):
    """A judge function: per example index, "new" (new better), "old", "tie" or "first" (A wins)."""

    def fn(question: str, a: str, b: str) -> str:
        what = plan[index_of(a)]
        if what == "first":
            return "A>B"
        if what == "tie":
            return "A=B"
        winner_first = a.startswith(what)
        return "A>B" if winner_first else "B>A"

    return fn


# -- parsing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("A is better. [[A>B]]", "A>B"),
        ("[[ a >> b ]]", "A>>B"),
        ("Both fine.\n[[A=B]]", "A=B"),
        ("[[B<A]]", "A>B"),
        ("reasoning [[B>>A]] ", "B>>A"),
        ("Verdict: A>B", "A>B"),
        ("final verdict is **b > a**.", "B>A"),
        ("verdict: tie", "A=B"),
        ("a=b", "A=B"),
        ("[[A]]", "A>B"),
        ("[[C]]", "A=B"),
        ("Options: [[A>B]] or [[B>A]]. I pick [[B>A]]", "B>A"),
    ],
)
def test_parse_verdict_is_tolerant(text: str, label: str) -> None:
    parsed = parse_verdict(text)
    assert parsed is not None and parsed.label == label


@pytest.mark.parametrize("text", ["", None, "I cannot decide.", "A>A", "]]B>A[[ ,]]B=A[[", "[[A>C]]"])
def test_parse_verdict_refuses_what_is_not_a_verdict(text: str | None) -> None:
    assert parse_verdict(text) is None


def test_parse_keeps_the_explanation() -> None:
    parsed = parse_verdict("B cites a source; A does not.\n\nFinal verdict: [[B>A]]")
    assert parsed is not None
    assert parsed.explanation == "B cites a source; A does not."


def test_normalize_and_label_from_value() -> None:
    assert normalize_label(" b < < a ") == "A>>B"
    assert normalize_label("A≫B") == "A>>B"
    assert normalize_label("nonsense") is None
    assert label_from_value(0.25) == 0.25
    assert label_from_value("0.75") == 0.75
    assert label_from_value("[[B>A]]") == "B>A"
    assert label_from_value(float("nan")) is None
    assert label_from_value(True) is None
    with pytest.raises(ValueError, match="outside"):
        label_from_value(1.5)


# -- the Judgment type -----------------------------------------------------------------------------


def test_judgment_outcomes_follow_the_order() -> None:
    ab = Judgment("q", "j", run_a="old", run_b="new", order="ab", label="A>B")  # old shown first, wins
    ba = Judgment("q", "j", run_a="old", run_b="new", order="ba", label="A>>B")  # new shown first, wins
    assert (ab.outcome_for("old"), ab.outcome_for("new")) == (1.0, 0.0)
    assert (ba.outcome_for("old"), ba.outcome_for("new")) == (0.0, 1.0)
    assert ba.shown_first == "new"
    prob = Judgment("q", "j", run_a="old", run_b="new", order="ba", label=0.8)
    assert prob.outcome_for("new") == pytest.approx(0.8)
    assert Judgment("q", "j").outcome_for("A") is None
    assert Judgment.from_dict(json.loads(json.dumps(prob.to_dict()))) == prob
    with pytest.raises(InputError):
        Judgment("q", "j", order="xy")
    with pytest.raises(InputError):
        Judgment("q", "j", label=1.5)
    with pytest.raises(InputError):
        ab.outcome_for("other")


def test_store_keeps_judgments(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        first = Judgment("q1", "j", run_a="v1", run_b="v2", order="ab", label="A>B", raw="[[A>B]]", tokens=3)
        prob = Judgment("q1", "j", run_a="v1", run_b="v2", order="ba", label=0.25, error=None)
        store.save_judgments([first, prob])
        store.save_judgments([Judgment("q1", "j", run_a="v1", run_b="v2", order="ab", label="B>A")])
        loaded = store.load_judgments(judge="j", run_a="v1")
        assert store.count_judgments() == 2
    assert {j.order: j.label for j in loaded} == {"ab": "B>A", "ba": 0.25}


# -- judges and their conformance ------------------------------------------------------------------


def test_callable_judge_passes_the_check_and_reads_many_answer_shapes() -> None:
    answers = iter(["[[A>B]]", {"label": "b>a", "explanation": "why"}, ("A=B", "even"), 0.2, "nonsense"])

    def fn(question: str, a: str, b: str):
        return next(answers)

    judge_obj = CallableJudge(fn, name="shapes")
    pairs = [Pair(Example(id=f"x{i}", input="q"), "a", "b") for i in range(5)]
    out = judge_obj.judge(pairs)
    assert [j.label for j in out[:4]] == ["A>B", "B>A", "A=B", 0.2]
    assert out[1].explanation == "why" and out[2].explanation == "even"
    assert out[4].label is None and "no verdict" in (out[4].error or "")
    check_judge(CallableJudge(lambda q, a, b: "A>B" if len(a) >= len(b) else "B>A"))


def test_callable_judge_turns_exceptions_into_error_judgments() -> None:
    def broken(question: str, a: str, b: str) -> str:
        raise RuntimeError("boom")

    (j,) = CallableJudge(broken).judge([Pair(Example(id="x"), "a", "b")])
    assert j.label is None and j.error == "RuntimeError: boom"


def test_recorded_judge_passes_the_check() -> None:
    recorded = [
        Judgment("j1", "file", run_a="x", run_b="y", order="ab", label="A>B"),
        Judgment("j2", "file", run_a="x", run_b="y", order="ab", label=0.3),
        Judgment("j3", "file", run_a="x", run_b="y", order="ba", label="A=B"),  # y shown first
    ]
    check_judge(RecordedJudge(recorded))


def test_get_judge_rejects_an_unknown_spec() -> None:
    with pytest.raises(UsageError, match="unknown model spec"):
        get_judge("nosuch:thing")


# -- the protocol and its statistics, hand-computed ------------------------------------------------


def test_win_rate_ties_and_sign_test_by_hand() -> None:
    old, new = make_runs(10)
    plan = {i: "new" for i in range(6)} | {6: "tie", 7: "tie", 8: "old", 9: "old"}
    report = judge(old, new, CallableJudge(scripted(plan), name="s"), n_boot=200)
    w = report.data["preference"]["win_rate"]
    assert (w["wins"], w["ties"], w["losses"]) == (6, 2, 2)
    assert w["win_rate"] == pytest.approx(0.7)  # (6 + 2 / 2) / 10
    assert w["test"] == "sign"
    assert w["p_value"] == pytest.approx(74 / 256)  # 2 * (C(8,6) + C(8,7) + C(8,8)) / 2**8
    assert w["standard_error"] == pytest.approx(np.std([1] * 6 + [0.5] * 2 + [0] * 2, ddof=1) / np.sqrt(10))
    low, high = w["win_rate_ci"]
    assert low < 0.7 < high
    p = report.data["preference"]
    assert p["position_bias"]["n_bias"] == 0 and p["position_bias"]["rate"] == 0.0
    assert p["n_judged"] == 10 and p["n_no_verdict"] == 0
    assert p["cost"]["total"]["requests"] == 20
    assert p["examples"]["n_wins"] == 6 and p["examples"]["n_losses"] == 2
    assert p["examples"]["wins"][0]["verdicts"][0]["says"] == "new > old"


def test_order_dependent_verdicts_are_position_bias_and_ties() -> None:
    old, new = make_runs(8)
    plan = {i: "first" for i in range(8)}
    p = judge(old, new, CallableJudge(scripted(plan), name="first"), n_boot=0).data["preference"]
    assert p["position_bias"]["n_bias"] == 8 and p["position_bias"]["rate"] == 1.0
    assert p["position_bias"]["first_position_win_rate"] == 1.0
    assert (p["win_rate"]["ties"], p["win_rate"]["win_rate"]) == (8, 0.5)


def test_single_order_judges_once() -> None:
    old, new = make_runs(4)
    p = judge(
        old, new, CallableJudge(scripted(dict.fromkeys(range(4), "first")), name="f"), both_orders=False
    )
    p = p.data["preference"]
    assert p["cost"]["total"]["requests"] == 4
    assert p["position_bias"]["n"] == 0
    assert p["win_rate"]["win_rate"] == 0.0  # old is always shown first, and the first always wins


def test_panel_majority_cohen_kappa_and_mean_rule() -> None:
    old, new = make_runs(4)
    j1 = CallableJudge(scripted({0: "new", 1: "new", 2: "old", 3: "old"}), name="j1")
    j2 = CallableJudge(scripted({0: "new", 1: "old", 2: "old", 3: "old"}), name="j2")
    p = judge(old, new, [j1, j2], n_boot=0).data["preference"]
    # nominal: p_o = 3/4; p_e = 2/4 * 1/4 + 2/4 * 3/4 = 1/2; kappa = (3/4 - 1/2) / (1 - 1/2)
    assert p["agreement"]["nominal"]["cohen_kappa"] == pytest.approx(0.5)
    # weak verdicts only (0.75 / 0.25): two levels, so the linear weights change nothing; alpha on
    # 8 values (3 new, 5 old), one discordant example: 1 - 7 * (1 + 1) / (2 * 3 * 5) = 8/15
    assert p["agreement"]["method"] == "krippendorff-alpha-ordinal"
    assert p["agreement"]["weighted_kappa"] == pytest.approx(0.5)
    assert p["agreement"]["alpha"] == pytest.approx(8 / 15)
    # majority: example 1 is one vote each → a tie
    assert (p["win_rate"]["wins"], p["win_rate"]["ties"], p["win_rate"]["losses"]) == (1, 1, 2)
    j3 = CallableJudge(scripted({0: "new", 1: "new", 2: "new", 3: "old"}), name="j3")
    p3 = judge(old, new, [j1, j2, j3], n_boot=0).data["preference"]
    assert (
        p3["agreement"]["weighted_kappa"] is None and p3["agreement"]["nominal"]["fleiss_kappa"] is not None
    )
    assert (p3["win_rate"]["wins"], p3["win_rate"]["losses"]) == (2, 2)  # 2-1 votes decide
    mean = judge(old, new, [j1, j2, j3], aggregate="mean", n_boot=0).data["preference"]
    assert mean["win_rate"]["win_rate"] == pytest.approx(np.mean([1, 2 / 3, 1 / 3, 0]))


def test_win_rate_by_tag_with_bh() -> None:
    old, new = make_runs(40, tags=True)
    plan = {i: ("new" if i % 2 == 0 else "tie") for i in range(40)}  # topic a: new always wins
    p = judge(old, new, CallableJudge(scripted(plan), name="s"), by="topic", n_boot=100).data["preference"]
    (block,) = p["by_tag"]
    rows = {r["value"]: r for r in block["rows"]}
    assert block["method"] == "benjamini-hochberg"
    assert rows["a"]["win_rate"] == 1.0 and rows["a"]["significant"] and rows["a"]["direction"] == "new"
    # BH over two values whose other p is 1: q = p * 2 / 1
    assert rows["a"]["q_value"] == pytest.approx(2 * sps.binomtest(20, 20).pvalue)
    assert rows["b"]["win_rate"] == 0.5 and not rows["b"]["significant"]
    with pytest.raises(UsageError, match="no example has the tag"):
        judge(old, new, CallableJudge(scripted(plan), name="s"), by="nope")


def test_adaptive_stops_when_the_interval_excludes_a_tie() -> None:
    old, new = make_runs(60)
    calls: list[int] = []

    def always_new(question: str, a: str, b: str) -> str:
        calls.append(1)
        return "A>B" if a.startswith("new") else "B>A"

    p = judge(old, new, CallableJudge(always_new, name="n"), adaptive=True, seed=3).data["preference"]
    a = p["adaptive"]
    # AdaptiveJudge decides after 10 straight wins (its docstring example); 2 requests each
    assert (a["verdict"], a["reason"], a["n_examples"], a["n_requests"]) == (
        "new better",
        "interval excludes the null",
        10,
        20,
    )
    assert len(calls) == 20 and p["n_judged"] == 10
    assert a["interval"][0] > 0.5


def test_adaptive_budget_runs_out() -> None:
    old, new = make_runs(30)
    tie = CallableJudge(scripted(dict.fromkeys(range(30), "tie")), name="tie")
    p = judge(old, new, tie, adaptive=True, budget=9, seed=1).data["preference"]
    assert (p["adaptive"]["reason"], p["adaptive"]["n_requests"], p["n_judged"]) == ("budget exhausted", 8, 4)
    with pytest.raises(UsageError, match="budget"):
        judge(old, new, tie, budget=9)


def test_adaptive_final_test_decides_at_the_planned_end() -> None:
    # nine examples can never separate the confidence sequence (it needs ten straight wins);
    # the planned final t-test at the end decides at a quarter of alpha
    old, new = make_runs(9)
    plan = {i: ("tie" if i == 4 else "new") for i in range(9)}
    a = judge(old, new, CallableJudge(scripted(plan), name="s"), adaptive=True, seed=2).data["preference"][
        "adaptive"
    ]
    expected_p = sps.ttest_1samp([1.0] * 8 + [0.5], 0.5).pvalue
    assert (a["verdict"], a["reason"], a["decided_by"]) == ("new better", "stream exhausted", "final test")
    assert a["final_p"] == pytest.approx(expected_p)
    assert a["alpha"] == 0.05 and a["alpha_sequential"] == pytest.approx(0.0375)
    assert a["interval"][0] <= 0.5  # the sequence itself did not separate
    # the budget is a planned end too: nine straight wins, exact sign-test p = 2 / 2**9
    old, new = make_runs(30)
    b = judge(
        old, new, CallableJudge(scripted(dict.fromkeys(range(30), "new")), name="s"), adaptive=True, budget=18
    ).data["preference"]["adaptive"]
    assert (b["reason"], b["n_examples"], b["verdict"]) == ("budget exhausted", 9, "new better")
    assert b["final_p"] == pytest.approx(2 / 2**9)
    # four examples: p = 2 / 16 is not below 0.0125
    c = judge(
        old, new, CallableJudge(scripted(dict.fromkeys(range(30), "new")), name="s"), adaptive=True, budget=8
    ).data["preference"]["adaptive"]
    assert (c["verdict"], c["decided_by"], c["final_p"]) == ("undecided", None, pytest.approx(0.125))


def test_adaptive_order_is_seeded() -> None:
    old, new = make_runs(40)
    plan = {i: ("new" if i % 3 else "old") for i in range(40)}
    runs = [
        judge(old, new, CallableJudge(scripted(plan), name="s"), adaptive=True, budget=30, seed=s).data
        for s in (5, 5, 6)
    ]
    ids = [[e["id"] for e in r["preference"]["examples"]["wins"]] for r in runs]
    assert runs[0] == runs[1] and ids[0] == ids[1]


def test_baseline_mode_uses_alpaca_conventions() -> None:
    old, new = make_runs(10)
    base = Run(
        "base", old.examples, tuple(Output(e.id, text=f"base-{i}") for i, e in enumerate(old.examples))
    )

    def fn(question: str, a: str, b: str) -> str:
        i = index_of(a)
        contender = a if not a.startswith("base") else b
        first_is_contender = contender is a
        beats = (contender.startswith("new") and i < 4) or (contender.startswith("old") and i < 2)
        return "A>B" if beats == first_is_contender else "B>A"

    p = judge(old, new, CallableJudge(fn, name="s"), baseline=base, n_boot=100).data["preference"]
    assert p["mode"] == "baseline"
    runs = p["baseline"]["runs"]
    assert runs["v2"]["win_rate"] == pytest.approx(alpaca_win_rate([2.0] * 4 + [1.0] * 6).win_rate)
    assert runs["v2"]["win_rate"] == pytest.approx(40.0)
    assert runs["v1"]["discrete_win_rate"] == pytest.approx(20.0)
    assert runs["v1"]["n_wins"] == 2 and runs["v1"]["n_total"] == 10
    # new vs old through the baseline: new better on examples 2 and 3, equal elsewhere
    w = p["win_rate"]
    assert (w["wins"], w["ties"], w["losses"]) == (2, 8, 0)
    assert w["win_rate"] == pytest.approx(0.6)
    assert p["cost"]["total"]["requests"] == 40  # 2 comparisons x 2 orders x 10
    assert {c["run_b"] for c in p["cost"]["comparisons"]} == {"v1", "v2"}


def test_prices_give_costs() -> None:
    prices = Prices(input=2.0, output=10.0)
    assert prices.cost(1000, 100) == pytest.approx((1000 * 2 + 100 * 10) / 1e6)
    assert prices.cost(None, None) is None
    with pytest.raises(UsageError):
        Prices(-1, 0)


def test_error_outputs_are_skipped() -> None:
    old, new = make_runs(5)
    outputs = list(new.outputs)
    outputs[2] = Output("q2", error="timeout")
    new = new.replace(outputs=tuple(outputs))
    p = judge(old, new, CallableJudge(scripted(dict.fromkeys(range(5), "new")), name="s"), n_boot=0)
    p = p.data["preference"]
    assert p["n_skipped"] == 1 and p["skipped_ids"] == ["q2"] and p["n_judged"] == 4


def test_protocol_needs_distinct_judges() -> None:
    old, new = make_runs(3)
    j = CallableJudge(scripted(dict.fromkeys(range(3), "new")), name="same")
    with pytest.raises(UsageError, match="share the name"):
        judge_runs(old, new, [j, j])
    with pytest.raises(UsageError, match="aggregation"):
        judge_runs(old, new, [j], aggregate="median")


def test_same_run_names_are_told_apart() -> None:
    old, new = make_runs(4)
    new = new.replace(name="v1")
    result = judge_runs(old, new, [CallableJudge(scripted(dict.fromkeys(range(4), "new")), name="s")])
    assert (result.old.name, result.new.name) == ("old:v1", "new:v1")
    assert np.all(result.outcomes() == 1.0)


def test_report_json_is_deterministic() -> None:
    old, new = make_runs(12, tags=True)
    plan = {i: ("new", "old", "tie", "first")[i % 4] for i in range(12)}
    reports = [judge(old, new, CallableJudge(scripted(plan), name="s"), by="topic", seed=7) for _ in range(2)]
    assert reports[0].to_json() == reports[1].to_json()


# -- recorded judgments ------------------------------------------------------------------------------


def write_alpaca(path: Path, model: str, preferences: list[float | None], *, baseline: str = "base") -> Path:
    records = [
        {
            "instruction": f"instruction {i}",
            "output_1": "b" * (10 + i),
            "generator_1": baseline,
            "output_2": "m" * (5 + 3 * i),
            "generator_2": model,
            "annotator": "test_annotator",
            "preference": p,
            "price_per_example": 0.01,
        }
        for i, p in enumerate(preferences)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


def test_read_alpaca_annotations(tmp_path: Path) -> None:
    path = write_alpaca(tmp_path / "m" / "annotations.json", "m", [2.0, 1.0, 1.5, None, 0])
    recorded = read_judgments(path)
    assert recorded.format == "alpaca_annotations" and recorded.runs == ["base", "m"]
    js = recorded.judgments
    assert [j.outcome_for("m") for j in js] == [1.0, 0.0, 0.5, None, 0.5]
    assert js[3].error is not None and js[0].cost == 0.01
    assert recorded.texts[(js[0].example_id, "m")] == "m" * 5


def test_read_arena_hard_judgments_has_both_orders(tmp_path: Path) -> None:
    lines = [
        {"question_id": "a1", "model": "m", "judge": "gpt", "games": [{"score": "A>B"}, {"score": "A>B"}]},
        {"question_id": "a2", "model": "m", "judge": "gpt", "games": [{"score": "B>>A"}, {"score": "A>>B"}]},
        {"question_id": "a3", "model": "m", "judge": "gpt", "games": [{"score": None}, {"score": "B=A"}]},
    ]
    path = tmp_path / "m.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    recorded = read_judgments(path, baseline="gpt-4")
    js = recorded.judgments
    assert recorded.format == "arena_hard_judgments" and len(js) == 6
    assert [(j.order, j.outcome_for("m")) for j in js[:2]] == [("ab", 0.0), ("ba", 1.0)]
    assert js[4].label is None and js[4].error
    old = Run(
        "gpt-4",
        (Example("a1"), Example("a2"), Example("a3")),
        tuple(Output(i, text="x") for i in ("a1", "a2", "a3")),
    )
    new = old.replace(name="m")
    judge_obj = get_judge(str(path), runs=("gpt-4", "m"))
    p = judge(old, new, judge_obj, n_boot=0).data["preference"]
    assert p["position_bias"]["n_bias"] == 1  # a1: the first shown wins in both games
    assert p["win_rate"]["wins"] == 1 and p["win_rate"]["ties"] == 2


def test_preference_table_maps_its_sides(tmp_path: Path) -> None:
    path = tmp_path / "prefs.csv"
    path.write_text("id,pref\nq0,A>B\nq1,0.25\nq2,b>>a\nq3,\n", encoding="utf-8")
    old, new = make_runs(4)
    notes: list[str] = []
    judge_obj = get_judge(str(path), runs=(old.name, new.name), preference="pref", notes=notes)
    assert notes and "'A' is taken as 'v1'" in notes[0]
    p = judge(old, new, judge_obj, n_boot=0, aggregate="mean").data["preference"]
    assert p["win_rate"]["n"] == 3 and p["n_no_verdict"] == 1
    assert p["win_rate"]["win_rate"] == pytest.approx(np.mean([0.0, 0.75, 1.0]))
    bad = tmp_path / "bad.csv"
    bad.write_text("id,pref\nq0,maybe\n", encoding="utf-8")
    with pytest.raises(InputError, match="no verdict"):
        read_judgments(bad, preference="pref")
    with pytest.raises(InputError, match="cannot tell"):
        read_judgments(path)


# -- rendering -----------------------------------------------------------------------------------------


def test_preference_renders_beside_a_comparison(tmp_path: Path) -> None:
    import io
    import re
    import shutil
    import subprocess

    from rich.console import Console

    from deltaeval.comparison import compare
    from deltaeval.report import render_html, render_markdown, render_terminal

    old, new = make_runs(12, tags=True)
    old = old.replace(
        outputs=tuple(o.__class__(o.example_id, text=o.text, correct=True) for o in old.outputs)
    )
    new = new.replace(
        outputs=tuple(
            o.__class__(o.example_id, text=o.text, correct=i % 3 != 0) for i, o in enumerate(new.outputs)
        )
    )
    hostile = "<img src=x onerror=alert(1)><script>alert(2)</script>"

    def fn(question: str, a: str, b: str) -> dict:
        return {"label": "B>A" if b.startswith("new") else "A>B", "explanation": hostile}

    judged = judge(old, new, CallableJudge(fn, name="j"), by="topic", n_boot=50).data
    combined = {**compare(old, new, n_boot=50).data, "preference": judged["preference"]}
    buffer = io.StringIO()
    render_terminal(combined, Console(file=buffer, width=140, color_system=None))
    text = buffer.getvalue()
    assert "Negative flips" in text and "Pairwise preference" in text and "Win rate by topic" in text
    md = render_markdown(combined)
    assert "NFR" in md and "#### Pairwise preference" in md and "<img" not in md.split("```")[0]
    html = render_html(combined)
    assert "Negative flips" in html and "Pairwise preference" in html
    assert "<img" not in html
    executable = [t for t in re.findall(r"<script\b[^>]*>", html) if 'type="application/json"' not in t]
    assert len(executable) == 1  # the page's own script only (the viewer's data element runs nothing)
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium not installed: apt-get install chromium")
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    dom = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'p'}",
         "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=60, check=False,
    ).stdout  # fmt: skip
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in dom and "<img" not in dom.lower()
