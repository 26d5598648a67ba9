"""``check_judge``: the conformance check every judge passes (like ``backends.check.check_backend``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from deltaeval.analysis.preference import VERDICT_LABELS
from deltaeval.judging.base import Judge, Pair
from deltaeval.types import Example, Judgment

DEFAULT_PAIRS: tuple[Pair, ...] = (
    Pair(Example(id="j1", input="What is the capital of France?"), "Paris.", "I am not sure.", "x", "y"),
    Pair(Example(id="j2", input="What is 2 + 3?"), "6", "5", "x", "y"),
    Pair(Example(id="j3", input=[{"role": "user", "content": "Say hello."}]), "Hello!", "Hello!", "y", "x"),
)


def check_judge(judge: Judge, pairs: Sequence[Pair] = DEFAULT_PAIRS, *, store: Any = None) -> list[Judgment]:
    """Check that ``judge`` honours the Judge contract; raise AssertionError if not.

    Checks: the judge has a non-empty name and kind; ``judge(pairs)`` returns one
    :class:`Judgment` per pair, in order, with the pair's example id and runs and the judge's
    name — and, for a judge that ``follows_order``, the pair's run_a as run_a and order ``ab``
    (what it was shown); each has a five-level label or a probability in
    [0, 1], or else an error; judgments survive ``to_dict``/``from_dict`` and JSON;
    ``on_judgment`` reports every index exactly once with the same judgment; an empty list gives
    an empty list. Returns the judgments of the first pass.
    """
    assert isinstance(judge.name, str) and judge.name, "name must be a non-empty string"
    assert isinstance(judge.kind, str) and judge.kind, "kind must be a non-empty string"
    pairs = list(pairs)
    reported: dict[int, Judgment] = {}

    def record(i: int, judgment: Judgment) -> None:
        assert isinstance(judgment, Judgment), f"judgment {i} is {type(judgment).__name__}"
        assert i not in reported, f"index {i} reported twice"
        assert 0 <= i < len(pairs), f"index {i} out of range"
        reported[i] = judgment

    results = judge.judge(pairs, store=store, on_judgment=record)
    assert isinstance(results, list), "judge() must return a list"
    assert len(results) == len(pairs), f"{len(results)} judgments for {len(pairs)} pairs"
    assert sorted(reported) == list(range(len(pairs))), f"indices reported: {sorted(reported)}"
    for i, (pair, judgment) in enumerate(zip(pairs, results, strict=True)):
        assert isinstance(judgment, Judgment), f"result {i} is {type(judgment).__name__}"
        assert reported[i] == judgment, f"on_judgment and the result differ for pair {i}"
        assert judgment.example_id == pair.example.id, f"result {i} is for {judgment.example_id!r}"
        assert judgment.judge == judge.name, f"result {i} names judge {judgment.judge!r}"
        assert {judgment.run_a, judgment.run_b} == {pair.run_a, pair.run_b}, (
            f"result {i} compares {judgment.run_a!r} with {judgment.run_b!r}, not the pair's runs"
        )
        if judge.follows_order:
            assert (judgment.run_a, judgment.run_b, judgment.order) == (pair.run_a, pair.run_b, "ab"), (
                f"result {i} must describe the pair as shown: "
                f"run_a={pair.run_a!r}, run_b={pair.run_b!r}, order 'ab'"
            )
        label = judgment.label
        if label is None:
            assert judgment.error, f"result {i} has neither a label nor an error"
        elif isinstance(label, str):
            assert label in VERDICT_LABELS, f"result {i} has label {label!r}, not one of {VERDICT_LABELS}"
        else:
            assert isinstance(label, float) and 0.0 <= label <= 1.0, f"result {i} has probability {label!r}"
        assert Judgment.from_dict(json.loads(json.dumps(judgment.to_dict()))) == judgment, (
            f"result {i} does not survive a JSON round trip"
        )
    assert judge.judge([], store=store) == [], "an empty pair list must give no judgment"
    return results
