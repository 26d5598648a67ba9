"""Slice discovery: candidates, the Fisher scan, held-out confirmation, the API on real runs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from deltaeval.alignment import align
from deltaeval.analysis.slice_discovery import (
    Atom,
    boolean_atoms,
    build_candidates,
    categorical_atoms,
    discover_slices,
    fisher_greater,
    jaccard,
    numeric_atoms,
    slice_masks,
    split_halves,
)
from deltaeval.slices import discover_slices as discover_runs
from deltaeval.slices.api import discover_slices_arrays
from deltaeval.slices.features import input_atoms
from deltaeval.stats import benjamini_hochberg, holm
from deltaeval.types import Example, Output, Run

N = 1200


def _data(seed: int) -> tuple[list[str], list[str], dict[str, list[str]], np.ndarray]:
    """Inputs of varied length, some with code or a date, a category tag; the code inputs planted."""
    rng = np.random.default_rng(seed)
    ids = [f"ex-{i:05d}" for i in range(N)]
    inputs, categories = [], []
    for i in range(N):
        words = int(rng.integers(3, 60))
        text = " ".join(["word"] * words)
        if i % 25 == 0:
            text += "\n```python\ndef f(x):\n    return x\n```"
        if i % 17 == 0:
            text += " What happened in March 1999?"
        inputs.append(text)
        categories.append(["chat", "math", "writing"][i % 3])
    code = np.array([i % 25 == 0 for i in range(N)])
    return ids, inputs, {"category": categories}, code


def _events(seed: int, planted: np.ndarray | None) -> np.ndarray:
    rate = np.full(N, 0.03)
    if planted is not None:
        rate[planted] = 0.5
    return np.random.default_rng(seed + 1000).random(N) < rate


def test_a_planted_slice_is_found_and_confirmed_with_the_held_out_estimate() -> None:
    ids, inputs, tags, code = _data(0)
    section = discover_slices_arrays(ids, _events(0, code), inputs, tags, seed=3)
    assert section["confirmed"], section
    top = section["confirmed"][0]
    assert top["description"] == "input has code"
    assert top["support"] == int(code.sum())
    conf = top["confirmation"]
    # the estimate is the confirmation half's: its support is part of the slice, not all of it
    assert 0 < conf["support"] < top["support"]
    assert conf["rate"] == conf["events"] / conf["support"]
    low, high = conf["rate_interval"]
    assert low <= conf["rate"] <= high and conf["interval_method"] == "clopper-pearson"
    assert conf["lift"] > 1 and conf["lift_interval"][0] <= conf["lift"] <= conf["lift_interval"][1]
    assert conf["holm_p"] <= section["alpha"] and top["discovery"]["q_value"] <= section["discovery_alpha"]
    assert top["example_ids"] and set(top["example_ids"]) <= {ids[i] for i in np.flatnonzero(code)}
    assert section["test"] == "fisher-exact-one-sided"


def test_nothing_planted_confirms_nothing_across_seeds() -> None:
    ids, inputs, tags, _ = _data(1)
    atoms = input_atoms(inputs, tags)
    candidates = build_candidates(atoms, min_support=12)
    assert len(candidates.descriptions) > 50
    confirmed = [discover_slices(_events(s, None), candidates, ids, seed=s).confirmed for s in range(8)]
    assert confirmed == [[]] * 8


def test_halves_are_disjoint_seeded_and_independent_of_order() -> None:
    ids = [f"id{i}" for i in range(2000)]
    first = split_halves(ids, 7)
    assert 900 < first.sum() < 1100  # about half
    again = split_halves(list(reversed(ids)), 7)[::-1]
    assert np.array_equal(first, again)  # by id, not by position
    assert not np.array_equal(first, split_halves(ids, 8))  # the seed changes it
    # a discovery's two halves are disjoint and cover every example: a slice's counts on its
    # discovery half and on its confirmation half add up to its counts on all the examples
    ids_, inputs, tags, code = _data(4)
    events = _events(4, code)
    candidates = build_candidates(input_atoms(inputs, tags), min_support=12)
    result = discover_slices(events, candidates, ids_, seed=2, cross_fit=False)
    assert result.confirmed and sum(result.halves) == N
    assert result.halves[0] == int(split_halves(ids_, 2).sum())
    for item in result.confirmed + result.unconfirmed:
        assert item.discovery["support"] + item.confirmation["support"] == item.support
        assert item.discovery["events"] + item.confirmation["events"] == item.events


def test_fisher_matches_the_hypergeometric_tail_by_hand() -> None:
    # 20 examples, 5 events, a slice of 6 holding 4: P(X >= 4) summed from the formula
    by_hand = sum(math.comb(5, j) * math.comb(15, 6 - j) for j in (4, 5)) / math.comb(20, 6)
    p = fisher_greater(np.array([4, 0, 6]), np.array([6, 6, 6]), 5, 20)
    assert p[0] == pytest.approx(by_hand, rel=1e-12)
    assert p[1] == 1.0 and p[2] == 0.0  # no event in the slice; more events than exist


def test_bh_over_candidates_and_holm_over_confirmations_by_hand() -> None:
    """A small case: two planted atoms and one null one, checked against the corrections."""
    rng = np.random.default_rng(5)
    n = 400
    ids = [f"x{i}" for i in range(n)]
    a = np.arange(n) % 10 == 0
    b = np.arange(n) % 10 == 1
    c = np.arange(n) % 10 == 2
    events = rng.random(n) < np.where(a | b, 0.6, 0.02)
    atoms = [Atom("a", "group = a", a), Atom("b", "group = b", b), Atom("c", "group = c", c)]
    candidates = build_candidates(atoms, min_support=5)
    assert candidates.descriptions == ["group = a", "group = b", "group = c"]  # disjoint: no conjunction
    result = discover_slices(events, candidates, ids, seed=1, cross_fit=False)
    first = split_halves(ids, 1)
    second = ~first
    ev1, ev2 = events[first], events[second]
    p = [
        fisher_greater(
            np.array([int((m[first] & ev1).sum())]),
            np.array([int(m[first].sum())]),
            int(ev1.sum()),
            int(first.sum()),
        )[0]
        for m in (a, b, c)
    ]
    q = benjamini_hochberg(p)
    found = {s.description: s for s in result.confirmed + result.unconfirmed}
    assert set(found) == {d for d, qv in zip(candidates.descriptions, q, strict=True) if qv <= 0.05}
    assert set(found) == {"group = a", "group = b"}
    cp = [
        fisher_greater(
            np.array([int((m[second] & ev2).sum())]),
            np.array([int(m[second].sum())]),
            int(ev2.sum()),
            int(second.sum()),
        )[0]
        for m in (a, b)
    ]
    adjusted = holm(cp)
    for name, want_q, want_holm in zip(("group = a", "group = b"), q[:2], adjusted, strict=True):
        assert found[name].discovery["q_value"] == pytest.approx(want_q)
        assert found[name].confirmation["holm_p"] == pytest.approx(want_holm)
    assert [s.description for s in result.confirmed] == sorted(
        found, key=lambda d: found[d].confirmation["holm_p"]
    )


def test_a_conjunction_its_parent_explains_is_pruned() -> None:
    n = 1000
    ids = [f"y{i}" for i in range(n)]
    parent = np.arange(n) % 10 == 0
    other = np.arange(n) % 20 < 10  # holds half of the parent
    events = np.random.default_rng(2).random(n) < np.where(parent, 0.6, 0.02)
    atoms = [
        *boolean_atoms("p", parent, "has p", "has no p"),
        *boolean_atoms("o", other, "has o", "has no o"),
    ]
    candidates = build_candidates(atoms, min_support=10)
    assert "has p and has o" in candidates.descriptions
    result = discover_slices(events, candidates, ids, seed=0)
    assert [s.description for s in result.confirmed] == ["has p"]
    (mask,) = slice_masks(result, candidates)
    assert jaccard(mask, parent) == 1.0


def test_descriptions_read_as_conditions() -> None:
    values = np.arange(1, 1001, dtype=float)
    texts = [a.description for a in numeric_atoms("len", values, "input length", "characters")]
    assert "input length ≥ 951 characters" in texts
    assert any(t.startswith("input length in [") and t.endswith(") characters") for t in texts)
    assert all("." not in t for t in texts)  # counts cut at whole numbers
    cats = categorical_atoms("tag:category", ["coding", "chat", None], "category")
    assert [a.description for a in cats] == ["category = chat", "category = coding"]
    atoms = numeric_atoms("len", values, "input length", "characters")
    both = build_candidates(
        atoms + categorical_atoms("tag:c", ["coding", "chat"] * 500, "category"), min_support=10
    )
    assert "input length ≥ 951 characters and category = chat" in both.descriptions


def _run(name: str, correct: list[bool], inputs: list[str]) -> Run:
    examples = tuple(
        Example(id=f"e{i}", input=t, tags={"kind": "long" if len(t) > 150 else "short"})
        for i, t in enumerate(inputs)
    )
    outputs = tuple(Output(example_id=f"e{i}", text="x", correct=c) for i, c in enumerate(correct))
    return Run(name=name, examples=examples, outputs=outputs)


def test_discover_slices_on_aligned_runs_is_json_ready_and_deterministic() -> None:
    _, inputs, _, code = _data(2)
    events = _events(2, code)
    old = _run("old", [True] * N, inputs)
    new = _run("new", [not e for e in events], inputs)
    alignment = align(old, new)
    section = discover_runs(alignment, seed=0)
    assert section["event"] == "negative flip"
    assert section["confirmed"][0]["description"] == "input has code"
    assert json.dumps(section, sort_keys=True) == json.dumps(discover_runs(alignment, seed=0), sort_keys=True)


def _compare_pair(n: int, tag_value: str = "x") -> tuple[Run, Run]:
    _, inputs, _, code = _data(3)
    inputs, code = inputs[:n], code[:n]
    events = np.random.default_rng(9).random(n) < np.where(code, 0.6, 0.02)
    examples = tuple(
        Example(id=f"e{i}", input=t, tags={"src": tag_value if c else "plain"})
        for i, (t, c) in enumerate(zip(inputs, code, strict=True))
    )
    old = Run(
        name="old",
        examples=examples,
        outputs=tuple(Output(f"e{i}", text="a", correct=True) for i in range(n)),
    )
    new = Run(
        name="new",
        examples=examples,
        outputs=tuple(Output(f"e{i}", text="b" if e else "a", correct=not e) for i, e in enumerate(events)),
    )
    return old, new


def test_compare_discovers_slices_by_default_and_renders_one_line_each() -> None:
    from rich.console import Console

    import deltaeval

    hostile = "\x1b[31m<script>alert(1)</script>"
    old, new = _compare_pair(N, hostile)
    report = deltaeval.compare(old, new, behaviour=False)
    section = report.data["discovered_slices"]
    assert report.data["settings"]["slice_discovery"] is True
    descriptions = [s["description"] for s in section["confirmed"]]
    assert "input has code" in descriptions or any(hostile in d for d in descriptions)
    console = Console(record=True, width=200)
    report.print(console)
    text = console.export_text()
    assert "Discovered slices" in text and "\x1b[31m" not in text
    md = report.to_markdown()
    assert "### Discovered slices" in md and "<script>" not in md
    page = report.to_html()
    assert "Discovered slices</h2>" in page and "<script>alert(1)" not in page
    # off with slice_discovery=False, and by default below the minimum n
    assert "discovered_slices" not in deltaeval.compare(old, new, behaviour=False, slice_discovery=False).data
    small_old, small_new = _compare_pair(150)
    small = deltaeval.compare(small_old, small_new, behaviour=False)
    assert "discovered_slices" not in small.data and small.data["settings"]["slice_discovery"] is False


def test_gate_max_slice_nfr_tests_discovered_slices_on_their_held_out_half(tmp_path, capsys) -> None:
    import deltaeval
    from deltaeval.cli import main

    old, new = _compare_pair(N)
    path = tmp_path / "r.json"
    deltaeval.compare(old, new, behaviour=False).save(path)
    capsys.readouterr()
    assert main(["gate", str(path), "--max-slice-nfr", "0.2"]) == 1
    out = capsys.readouterr().out
    # the tag value and "input has code" mark the same examples: the first candidate (the tag) stays
    assert "discovered slice 'src = x' (held-out half)" in out
    assert main(["gate", str(path), "--max-slice-nfr", "0.95"]) == 0
