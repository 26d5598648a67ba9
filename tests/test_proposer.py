"""LLM-proposed behaviour axes: proposing, merging, judging in both orders, validation and the
call cache, against a real local OpenAI-compatible server (tests/openai_server.py)."""

from __future__ import annotations

import doctest
import importlib
import json
import re
from collections.abc import Iterator

import numpy as np
import pytest
from openai_server import ComputedAnswers, OpenAIServer

from deltaeval.backends.openai_compat import OpenAIBackend
from deltaeval.behaviour.llm_axes import (
    combine_orders,
    describe_clusters,
    discover_axes,
    judge_messages,
    misclassified,
    parse_verdict,
    verdict_score,
)
from deltaeval.behaviour.proposer import (
    PROPOSER_RETRY,
    ProposedAxis,
    merge_axes,
    normalise_name,
    parse_axes,
)
from deltaeval.errors import InputError, UsageError
from deltaeval.store import Store

N = 24
BULLETS = {
    "name": "Bullet lists",
    "high": "answers as a bulleted list",
    "low": "answers in plain prose paragraphs",
}
POLITE = {"name": "politeness", "high": "polite, thanks the user", "low": "curt and direct"}


def old_text(i: int) -> str:
    return f"Question {i} has a simple answer, which this paragraph explains in plain prose."


def new_text(i: int) -> str:
    return f"- Question {i} has a simple answer.\n- It is explained here.\n- In a list."


class Script(ComputedAnswers):
    """The server's answers, computed from each prompt (the server looks answers up with get)."""

    def __init__(self) -> None:
        self.proposals = 0

    def get(self, prompt: str, default: str | None = None) -> str:  # type: ignore[override]
        if "answered very differently" in prompt:  # describing a cluster of changes
            return "The new answers are numbered lists of steps.\n" if "club" in prompt else "They refuse."
        if prompt == PROPOSER_RETRY:  # with a copy of the prompt's example, dropped
            example = {"name": "formality", "high": "formal wording", "low": "casual wording"}
            return json.dumps([BULLETS, example, POLITE])
        if prompt.startswith("Below are"):
            if "Question 0 " in prompt:  # the first batch: an answer with no axis in it
                return "These responses differ in many interesting ways."
            # the same axes again, as lines: both are duplicates to merge
            return (
                "Here they are:\n"
                "1. **BULLET LISTS**: high = uses bullet points / low = writes paragraphs of prose\n"
                "2. Politeness: high: polite and thankful / low: curt"
            )
        match = re.search(r"Property: (.+)\n", prompt)
        assert match is not None, prompt
        first = prompt.split("### Response A\n")[1].split("### Response B\n")[0]
        if match.group(1) == "bullet lists":
            return "A" if first.startswith("- ") else "B"  # consistent in both orders
        return "Response A."  # position bias: always the first shown


@pytest.fixture()
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer(answers=Script()) as s:
        yield s


def run(server: OpenAIServer, store: Store, **options):
    backend = OpenAIBackend("test", base_url=server.url, concurrency=8)
    return discover_axes(
        [old_text(i) for i in range(N)],
        [new_text(i) for i in range(N)],
        ids=[f"q{i}" for i in range(N)],
        inputs=[f"Question {i}?" for i in range(N)],
        proposer=backend,
        store=store,
        batch_size=12,
        merge="jaccard",
        n_boot=200,
        **options,
    )


def test_discover_keeps_the_planted_axis_and_zeroes_the_order_dependent_one(server, tmp_path):
    store = Store(tmp_path / "store.sqlite")
    result = run(server, store)

    # proposing: the unparseable first answer was asked again, duplicates merged
    assert [len(c.raw) for c in result.proposal_calls] == [2, 1]
    assert result.proposal_calls[0].raw[0] == "These responses differ in many interesting ways."
    assert {a.name for a in result.axes} == {"bullet_lists", "politeness"}
    bullets, polite = result.axis("bullet_lists"), result.axis("politeness")
    assert bullets.axis.support == 2 and polite.axis.support == 2
    assert "BULLET LISTS" in bullets.axis.aliases

    # judging in both orders
    assert bullets.scores == (1,) * N and bullets.new_higher == N and bullets.order_dependent == 0
    assert polite.scores == (0,) * N and polite.order_dependent == N and polite.flips == N
    assert polite.verdicts[0] == ("A", "A")

    # validation: kept only when the interval excludes zero and BH passes
    assert bullets.kept and not polite.kept
    assert [a.name for a in result.kept] == ["bullet_lists"]
    assert bullets.validation is not None and bullets.validation.diff == 1.0
    assert bullets.validation.diff_interval == (1.0, 1.0)
    assert polite.validation is not None and polite.validation.diff == 0.0
    assert result.calls["called"] == 3 + 2 * 2 * N and result.calls["errors"] == 0

    data = result.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["kept"] == ["bullet_lists"] and data["axes"][0]["scores"]["q0"] == 1

    # a second analysis asks the server nothing: every call is in the store's cache
    server.clear_log()
    again = run(server, store)
    assert server.log == []
    assert again.calls["called"] == 0 and again.calls["cached"] == result.calls["called"]
    assert again.to_dict() == data


def test_an_interrupted_analysis_resumes_without_repeating_calls(tmp_path):
    """Failed calls (HTTP 400, not retried by the client) are not cached; the rerun asks for
    them, and nothing that was answered before, and ends where a clean analysis ends."""
    store = Store(tmp_path / "store.sqlite")
    faults = {"fault_rate": 0.3, "fault_kinds": ("400",), "max_faults_per_prompt": 1, "seed": 3}
    with OpenAIServer(answers=Script(), **faults) as server:
        result = run(server, store)
        assert result.calls["errors"] > 0
        for _ in range(4):  # a rerun may meet faults on prompts it asks for the first time
            answered = {r["prompt"] for r in server.log if r["outcome"] == "ok"}
            mark = len(server.log)
            result = run(server, store)
            asked = {r["prompt"] for r in server.log[mark:]}
            assert asked and not asked & answered
            if result.calls["errors"] == 0:
                break
        assert result.calls["errors"] == 0
    with OpenAIServer(answers=Script()) as clean_server:
        clean = run(clean_server, Store(tmp_path / "clean.sqlite"))
    strip = lambda data: {k: v for k, v in data.items() if k not in ("proposer", "judge")}  # noqa: E731
    assert strip(result.to_dict()) == strip(clean.to_dict())


def test_iterations_stop_when_the_kept_axes_explain_every_pair(server, tmp_path):
    result = run(server, Store(tmp_path / "s.sqlite"), iterations=3)
    assert result.rounds == 1
    assert any("told apart" in note for note in result.notes)


def test_judge_pairs_sample_and_missing_outputs(server):
    backend = OpenAIBackend("test", base_url=server.url, concurrency=4)
    old = [old_text(i) for i in range(N)]
    new = [new_text(i) for i in range(N)]
    new[3] = None
    result = discover_axes(
        old, new, proposer=backend, judge=backend, judge_pairs=12, n_boot=100, merge="jaccard"
    )
    assert len(result.ids) == 12 and "3" not in result.ids
    assert any("without both outputs" in note for note in result.notes)


def test_discover_checks_its_inputs():
    with pytest.raises(InputError):
        discover_axes(["a"], ["b", "c"], proposer="openai:x@http://127.0.0.1:9/v1")
    with pytest.raises(UsageError):
        discover_axes(["a"], ["b"], proposer="openai:x@http://127.0.0.1:9/v1", iterations=0)


@pytest.mark.parametrize("module", ["deltaeval.behaviour.proposer", "deltaeval.behaviour.llm_axes"])
def test_docstring_examples(module: str) -> None:
    assert doctest.testmod(importlib.import_module(module)).failed == 0


def test_describe_clusters(server, tmp_path):
    from test_changes import REFUSED, planted

    from deltaeval.analysis.changes import change_stats

    ids, old, new = planted()
    changes = change_stats(ids, old, new, fraction=20 / 30)
    store = Store(tmp_path / "s.sqlite")
    spec = f"openai:test@{server.url}"
    described = describe_clusters(changes, spec, store=store, inputs={i: f"Tell me about {i}" for i in ids})
    by_members = {frozenset(c.example_ids): c.description for c in described.clusters}
    assert by_members[frozenset(REFUSED)] == "They refuse."
    assert set(by_members.values()) == {"They refuse.", "The new answers are numbered lists of steps."}
    assert "Tell me about" in server.log[0]["prompt"]
    assert changes.clusters[0].description is None  # the input is left as it was
    server.clear_log()
    assert describe_clusters(changes, spec, store=store).clusters[0].description is not None
    assert len(server.log) == 2  # other prompts (no inputs shown): asked, not cached


# parsing -------------------------------------------------------------------------------------


def test_parse_axes_reads_json_lines_and_rejects_prose():
    fenced = '```json\n[{"Name": "Tone", "High": "warm", "Low": "cold"}, {"axis": "x"}]\n```'
    assert [(a.name, a.high, a.low) for a in parse_axes(fenced)] == [("tone", "warm", "cold")]
    single = '{"axes": [{"property": "Length", "higher": "long", "lower": "short"}]}'
    assert parse_axes(single)[0].name == "length"
    lines = (
        "Differences:\n"
        "- **Hedging**: high = many caveats / low = confident claims\n"
        "2) Use of code: code blocks | low: no code\n"
        "Detail level: exhaustive detail / brief summary\n"
    )
    parsed = parse_axes(lines)
    assert [a.name for a in parsed] == ["hedging", "use_of_code", "detail_level"]
    assert parsed[1].high == "code blocks" and parsed[2].low == "brief summary"
    assert parse_axes("The responses differ in tone: the first is warmer.") == []
    assert parse_axes("") == []


def test_normalise_name():
    assert normalise_name("  Use of **Markdown** Headers ") == "use_of_markdown_headers"
    assert normalise_name("3rd-person voice") == "axis_3rd_person_voice"
    assert normalise_name("???") is None
    assert len(normalise_name("word " * 40) or "") <= 48


def test_parse_verdict():
    assert parse_verdict("A") == "A"
    assert parse_verdict("b") == "B"
    assert parse_verdict("Verdict: equal") == "equal"
    assert parse_verdict("Both are about the same.") == "equal"
    assert parse_verdict("Response B is more formal.") == "B"
    assert parse_verdict("A's tone is warmer") is None
    assert parse_verdict("Response A is higher than Response B.") == "A"
    assert parse_verdict("It depends on the reader: Response A or Response B.") is None
    assert parse_verdict("") is None


def test_scores_from_both_orders():
    assert verdict_score("B", new_first=False) == 1 and verdict_score("A", new_first=True) == 1
    assert verdict_score("A", new_first=False) == -1 and verdict_score("equal", new_first=True) == 0
    assert verdict_score(None, new_first=True) is None
    assert combine_orders(1, 1) == (1, "agree")
    assert combine_orders(-1, 1) == (0, "flip")
    assert combine_orders(0, 1) == (0, "order_dependent")
    assert combine_orders(None, 1) == (None, "missing")


def test_judge_messages_show_both_outputs_in_the_given_order():
    axis = ProposedAxis(name="formality", high="formal", low="casual")
    prompt = judge_messages(axis, "Hi?", "first text", "second text")[-1]["content"]
    assert prompt.index("first text") < prompt.index("second text")
    assert "Property: formality" in prompt and "High: formal" in prompt


# merging -------------------------------------------------------------------------------------


def test_merge_by_name_and_jaccard():
    axes = [
        ProposedAxis("formality", "formal professional wording", "casual wording", aliases=("Formality",)),
        ProposedAxis("length", "long detailed answers", "short answers"),
        ProposedAxis("formality", "very formal", "chatty", aliases=("FORMALITY",)),
        ProposedAxis("verbosity", "long detailed answers", "short answers"),
        ProposedAxis("emoji_use", "uses emoji", "no emoji"),
    ]
    merged, method = merge_axes(axes, method="jaccard")
    assert method == "jaccard"
    assert [(a.name, a.support) for a in merged] == [("formality", 2), ("length", 2), ("emoji_use", 1)]
    assert merged[0].aliases == ("Formality", "FORMALITY") and merged[0].high == "formal professional wording"
    assert merged[1].aliases == ("length", "verbosity")
    # earlier rounds' axes are never merged with one another
    kept, _ = merge_axes([*axes[:2], axes[3]], method="jaccard", keep_first=2, threshold=0.99)
    assert len(kept) == 3
    with pytest.raises(UsageError):
        merge_axes(axes, method="nonsense")  # type: ignore[arg-type]


def test_merge_with_embeddings_when_installed():
    from deltaeval.behaviour.embedding import minilm_unavailable

    reason = minilm_unavailable()
    if reason is not None:
        pytest.skip(f"the [embed] extra is not installed: {reason}")
    axes = [
        ProposedAxis("formatting", "uses bulleted lists and headers", "plain prose paragraphs"),
        ProposedAxis(
            "structure", "organised with bullet points and lists", "unstructured paragraphs of text"
        ),
        ProposedAxis("humour", "jokes and playful remarks", "serious, no jokes"),
    ]
    merged, method = merge_axes(axes, method="embedding", threshold=0.6)
    assert method == "embedding"
    assert [a.name for a in merged] == ["formatting", "humour"]


def test_misclassified():
    scores = np.array([[1.0], [1.0], [1.0], [0.0], [-1.0], [1.0], [1.0], [1.0], [1.0], [1.0]])
    wrong = misclassified(scores, folds=5, seed=0)
    assert wrong.tolist() == [False, False, False, True, True, False, False, False, False, False]
    assert misclassified(np.empty((4, 0))).tolist() == [True] * 4
