"""The LLM judge through a real local OpenAI-compatible server (tests/openai_server.py).

The server answers each request by its last user message: the judge's rendered prompt for a
first attempt, the re-ask message for a retry. Its request log says what was asked.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai_server import OpenAIServer

from deltaeval.backends import get_backend
from deltaeval.judging import REASK, LLMJudge, Pair, check_judge, get_judge, judge, judge_runs
from deltaeval.store import Store
from deltaeval.types import Example, Output, Run

N = 6


def make_runs(n: int = N) -> tuple[Run, Run]:
    examples = tuple(Example(id=f"q{i}", input=f"Question number {i}?") for i in range(n))
    old = Run("v1", examples, tuple(Output(e.id, text=f"old answer {i}") for i, e in enumerate(examples)))
    new = Run("v2", examples, tuple(Output(e.id, text=f"new answer {i}") for i, e in enumerate(examples)))
    return old, new


def prompt_table(judge_obj: LLMJudge, old: Run, new: Run) -> dict[tuple[int, str], str]:
    """The judge's user message for (example index, order): ab shows old first, ba new first."""
    table = {}
    for i, (e, o, n) in enumerate(zip(old.examples, old.outputs, new.outputs, strict=True)):
        table[(i, "ab")] = judge_obj.render(Pair(e, o.text or "", n.text or ""))
        table[(i, "ba")] = judge_obj.render(Pair(e, n.text or "", o.text or ""))
    return table


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "store.sqlite") as db:
        yield db


def llm_judge(url: str, **options) -> LLMJudge:
    return LLMJudge(get_backend(f"openai:judge@{url}", max_retries=0, concurrency=4), **options)


def test_llm_judge_passes_the_check(store: Store) -> None:
    with OpenAIServer(answers={}) as server:
        judge_obj = llm_judge(server.url, max_retries=0)
        results = check_judge(judge_obj, store=store)
    # the server echoes prompts reversed: no verdict, so every pair is an error judgment
    assert all(j.label is None and j.error and j.raw for j in results)


def test_clean_verdicts_tokens_and_cost(store: Store) -> None:
    old, new = make_runs()
    probe = llm_judge("http://127.0.0.1:1/v1")
    prompts = prompt_table(probe, old, new)
    # new wins on 0-3 (in both orders), old wins on 4, a tie on 5
    answers = {}
    for (i, order), text in prompts.items():
        new_first = order == "ba"
        if i < 4:
            verdict = "[[A>>B]]" if new_first else "[[B>>A]]"
        elif i == 4:
            verdict = "[[B>A]]" if new_first else "[[A>B]]"
        else:
            verdict = "[[A=B]]"
        answers[text] = f"Comparing the two answers carefully. {verdict}"
    with OpenAIServer(answers=answers) as server:
        report = judge(
            old,
            new,
            llm_judge(server.url),
            store=store,
            prices=(1.0, 2.0),
            n_boot=100,
        )
        log = server.log
    p = report.data["preference"]
    w = p["win_rate"]
    assert (w["wins"], w["ties"], w["losses"], w["win_rate"]) == (4, 1, 1, pytest.approx(4.5 / 6))
    assert len(log) == 2 * N and all(r["outcome"] == "ok" for r in log)
    total = p["cost"]["total"]
    expected_in = sum(len(r["prompt"].split()) for r in log)
    expected_out = sum(len(answers[r["prompt"]].split()) for r in log)
    assert (total["prompt_tokens"], total["completion_tokens"]) == (expected_in, expected_out)
    assert total["cost"] == pytest.approx((expected_in * 1.0 + expected_out * 2.0) / 1e6)
    assert p["cost"]["judges"][0]["cost"] == pytest.approx(total["cost"])
    example = p["examples"]["wins"][0]
    assert example["verdicts"][0]["explanation"] == "Comparing the two answers carefully."
    assert example["verdicts"][0]["says"] in {"new ≫ old", "new > old"}
    # every request carries the system prompt, and the judgments are in the store
    assert log[0]["request"]["messages"][0]["role"] == "system"
    assert len(store.load_judgments(run_a="v1", run_b="v2")) == 2 * N


def test_unparseable_then_clean_on_retry(store: Store) -> None:
    old, new = make_runs(2)
    probe = llm_judge("http://127.0.0.1:1/v1")
    prompts = prompt_table(probe, old, new)
    answers = {text: "Both answers have merit; hard to say." for text in prompts.values()}
    answers[REASK] = "[[A=B]]"
    with OpenAIServer(answers=answers) as server:
        results = judge_runs(old, new, [llm_judge(server.url, max_retries=2)], store=store)
        first = len(server.log)
        again = judge_runs(old, new, [llm_judge(server.url, max_retries=2)], store=store)
        second = len(server.log)
    assert first == 8  # 4 pairs x (first try + one re-ask)
    assert second == first  # everything, retries included, comes from the cache
    for j in results.judgments:
        assert (j.label, j.attempts, j.raw, j.error) == ("A=B", 2, "[[A=B]]", None)
        assert j.prompt_tokens is not None and j.prompt_tokens > 0
    assert all(j.cached for j in again.judgments)
    assert [j.label for j in again.judgments] == [j.label for j in results.judgments]
    # each attempt is cached on its own
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT COUNT(*) FROM calls").fetchone()[0] == 8


def test_permanently_unparseable_is_an_error_judgment(store: Store) -> None:
    old, new = make_runs(2)
    probe = llm_judge("http://127.0.0.1:1/v1")
    answers = {text: "No idea." for text in prompt_table(probe, old, new).values()}
    # the re-ask is not in the table: the server echoes it reversed, which holds no verdict
    with OpenAIServer(answers=answers) as server:
        report = judge(old, new, llm_judge(server.url, max_retries=2), store=store, n_boot=0)
        n_requests = len(server.log)
    assert n_requests == 4 * 3
    p = report.data["preference"]
    assert p["n_no_verdict"] == 2 and p["win_rate"]["n"] == 0
    assert p["judges"][0]["n_errors"] == 4
    assert "no verdict found" in p["judges"][0]["errors"][0]
    judgments = store.load_judgments()
    assert all(j.label is None and j.attempts == 3 and j.raw for j in judgments)


def test_order_dependent_judge_gives_ties_and_position_bias(store: Store) -> None:
    old, new = make_runs()
    probe = llm_judge("http://127.0.0.1:1/v1")
    answers = {text: "The first answer is better. [[A>B]]" for text in prompt_table(probe, old, new).values()}
    with OpenAIServer(answers=answers) as server:
        p = judge(old, new, llm_judge(server.url), store=store, n_boot=0).data["preference"]
    assert p["position_bias"]["n_bias"] == N and p["position_bias"]["rate"] == 1.0
    assert p["position_bias"]["n_examples_with_bias"] == N
    assert (p["win_rate"]["ties"], p["win_rate"]["win_rate"]) == (N, 0.5)
    assert p["examples"]["wins"] == [] and p["examples"]["losses"] == []


def test_interrupted_judging_resumes_without_repeating_calls(store: Store) -> None:
    old, new = make_runs()
    probe = llm_judge("http://127.0.0.1:1/v1")
    answers = {text: "[[B>A]]" for text in prompt_table(probe, old, new).values()}
    with OpenAIServer(answers=answers) as server:
        # a first judging that stopped after three examples (what an interrupted one leaves behind)
        part = Run("v1", old.examples[:3], old.outputs[:3]), Run("v2", new.examples[:3], new.outputs[:3])
        judge_runs(*part, [llm_judge(server.url)], store=store)
        assert len(server.log) == 6
        server.clear_log()
        result = judge_runs(old, new, [llm_judge(server.url)], store=store)
        asked = {r["prompt"] for r in server.log}
    assert len(server.log) == 6  # only the three examples not judged before, in both orders
    assert asked == {text for (i, _), text in prompt_table(probe, old, new).items() if i >= 3}
    assert sum(j.cached for j in result.judgments) == 6


def test_http_errors_are_not_cached(store: Store) -> None:
    old, new = make_runs(2)
    probe = llm_judge("http://127.0.0.1:1/v1")
    prompts = prompt_table(probe, old, new)
    answers = {text: "[[A=B]]" for text in prompts.values()}
    with OpenAIServer(answers=answers, always_fail=[prompts[(0, "ab")]]) as server:
        first = judge_runs(old, new, [llm_judge(server.url)], store=store)
        server.clear_log()
        judge_runs(old, new, [llm_judge(server.url)], store=store)
        retried = [r["prompt"] for r in server.log]
    errors = [j for j in first.judgments if j.error]
    assert len(errors) == 1 and "500" in (errors[0].error or "")
    assert retried == [prompts[(0, "ab")]]


def test_template_and_spec(store: Store) -> None:
    old, new = make_runs(1)
    template = "Q: {{ input }} | A: {{ output_a }} | B: {{ output_b }}"
    answers = {
        "Q: Question number 0? | A: old answer 0 | B: new answer 0": "Verdict: b>a",
        "Q: Question number 0? | A: new answer 0 | B: old answer 0": "verdict: A > B",
    }
    with OpenAIServer(answers=answers) as server:
        judge_obj = get_judge(f"openai:judge@{server.url}", template=template, max_retries=0)
        assert isinstance(judge_obj, LLMJudge) and judge_obj.name == f"openai:judge@{server.url}"
        result = judge_runs(old, new, [judge_obj], store=store)
    assert [j.outcome_for("v2") for j in result.judgments] == [1.0, 1.0]
    with pytest.raises(Exception, match="template"):
        get_judge("openai:judge@http://127.0.0.1:1/v1", template="{{ broken")
