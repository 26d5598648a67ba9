"""Slice candidates: input clusters, the programming-topic flag, ranges of length bins."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest

from deltaeval.analysis.slice_discovery import (
    RANGE_QUANTILES,
    build_candidates,
    categorical_atoms,
    numeric_atoms,
)
from deltaeval.errors import InputError
from deltaeval.slices.api import discover_slices_arrays
from deltaeval.slices.clusters import FEATURE, cluster_atoms, cluster_count, input_clusters
from deltaeval.slices.features import about_programming, input_atoms

_VOCABULARIES = {
    "cooking": "recipe oven flour butter garlic simmer dough baking sauce onion",
    "travel": "flight hotel passport luggage beach museum itinerary visa airport train",
    "gardening": "tomato seeds compost soil watering pruning roses shovel mulch seedlings",
}
TOPICS = {topic: words.split() for topic, words in _VOCABULARIES.items()}


def _topical(sizes: dict[str, int], seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Texts of a few words from one topic's vocabulary each (and a shared filler); their topics."""
    rng = np.random.default_rng(seed)
    texts, topics = [], []
    for topic, size in sizes.items():
        for _ in range(size):
            words = rng.choice(TOPICS[topic], size=5, replace=False).tolist()
            texts.append("Please tell me about " + " ".join(words) + ".")
            topics.append(topic)
    order = rng.permutation(len(texts))
    return [texts[i] for i in order], np.array(topics, dtype=object)[order]


def test_clusters_recover_topics_name_their_terms_and_are_seeded() -> None:
    texts, topics = _topical({"cooking": 40, "travel": 30, "gardening": 20})
    clusters = input_clusters(texts, k=3, seed=0)
    atoms = cluster_atoms(clusters)
    assert [a.feature for a in atoms] == [FEATURE] * 3
    # every example in exactly one cluster
    assert np.array_equal(np.sum([a.mask for a in atoms], axis=0), np.ones(len(texts)))
    # numbered by size, the largest first; each cluster is one topic, named by its words
    for number, (atom, topic) in enumerate(zip(atoms, ("cooking", "travel", "gardening"), strict=True), 1):
        assert np.array_equal(atom.mask, topics == topic)
        match = re.fullmatch(
            rf'inputs about "(\w+), (\w+), (\w+)" \(cluster {number} of 3\)', atom.description
        )
        assert match, atom.description
        assert set(match.groups()) <= set(TOPICS[topic])
        assert atom.category == atom.description and not atom.joins
    again = input_clusters(texts, k=3, seed=0)
    assert np.array_equal(again.labels, clusters.labels) and again.terms == clusters.terms
    assert clusters.vectors == "tfidf-lsa"


def test_cluster_count_grows_with_n_within_bounds() -> None:
    assert [cluster_count(n) for n in (10, 160, 250, 810, 1000, 2560, 10**6)] == [4, 4, 5, 9, 10, 16, 16]


def test_clusters_below_min_support_are_dropped_and_join_no_conjunction() -> None:
    texts, topics = _topical({"cooking": 60, "travel": 50, "gardening": 6}, seed=1)
    atoms = cluster_atoms(input_clusters(texts, k=4, seed=0))
    small = next(a for a in atoms if np.array_equal(a.mask, topics == "gardening"))
    assert small.mask.sum() == 6
    tags = categorical_atoms("tag:half", ["a", "b"] * (len(texts) // 2), "half")
    candidates = build_candidates(atoms + tags, min_support=10)
    assert small.description not in candidates.descriptions
    big = [a.description for a in atoms if a is not small]
    assert set(big) <= set(candidates.descriptions)
    assert not any(" and " in d for d in candidates.descriptions if "cluster" in d)
    # as atoms that join, they would
    joined = build_candidates([replace(a, joins=True) for a in atoms] + tags, min_support=10)
    assert any(d.startswith(big[0] + " and half = ") for d in joined.descriptions)


def test_precomputed_vectors_are_clustered_instead_of_the_text() -> None:
    rng = np.random.default_rng(3)
    texts = ["the same words every time"] * 60
    group = np.arange(60) % 3
    centres = np.eye(8)[:3] * 10
    vectors = centres[group] + rng.normal(scale=0.1, size=(60, 8))
    clusters = input_clusters(texts, vectors=vectors, k=3, seed=0)
    assert clusters.vectors == "precomputed"
    for c in range(3):  # each cluster is one group of the vectors
        assert len(set(group[clusters.labels == c].tolist())) == 1
    # identical texts: one distinct TF-IDF vector, so one cluster (dropped: it holds every input)
    assert input_clusters(texts, seed=0).k == 1
    assert next(a for a in input_atoms(texts) if a.feature == FEATURE).mask.all()
    with pytest.raises(InputError, match="vectors of shape"):
        input_clusters(texts, vectors=vectors[:10])


def test_cluster_terms_are_words_even_from_hostile_inputs() -> None:
    hostile = "\x1b[31m<script>alert(1)</script> \u202egnirts\u202c ```rm -rf /```"
    texts, _ = _topical({"cooking": 30, "travel": 30}, seed=2)
    texts = [t + (" " + hostile if i % 2 else "") for i, t in enumerate(texts)]
    for atom in cluster_atoms(input_clusters(texts, k=4, seed=0)):
        inner = re.fullmatch(r'inputs about "([^"]*)" \(cluster \d of \d\)', atom.description)
        assert inner, atom.description
        assert all(re.fullmatch(r"[^\W\d_]{3,}", term) for term in inner.group(1).split(", "))


def test_a_regression_in_a_cluster_of_the_vectors_is_found_through_the_api() -> None:
    rng = np.random.default_rng(4)
    n = 1000
    ids = [f"v{i:04d}" for i in range(n)]
    texts = [f"question number {i}" for i in range(n)]
    group = rng.integers(0, 10, size=n)
    vectors = np.eye(16)[group] * 5 + rng.normal(scale=0.2, size=(n, 16))
    events = rng.random(n) < np.where(group == 7, 0.5, 0.03)
    section = discover_slices_arrays(ids, events, texts, vectors=vectors, seed=0)
    top = section["confirmed"][0]
    assert top["description"].startswith("inputs ") and top["description"].endswith(" of 10)")
    assert top["support"] == int((group == 7).sum())
    assert set(top["example_ids"]) <= {ids[i] for i in np.flatnonzero(group == 7)}


PROGRAMMING = [
    "Write a C++ function that takes a reference to a std::string containing markdown formatted text",
    "Implement a Python function to find the longest common subsequence of two input strings.",
    "How to code the snake game in C that will be smooth and it will use images to animate whole level.",
    "Explain the difference between sets and lists in Python.",
    "Write me a function in JavaScript that takes an array of 5 numbers as input",
    "How do I compare strings in Java?",
    "Design a skill assessment questioner for R (Programming Language).",
    "Implement a binary search algorithm to find a specific element in a sorted array.",
    "Convert the given description to a bash command.",
    "Identify and fix bugs in the given code and rewrite it",
    "A color description has been provided. Find the CSS code associated with that color.",
    "Write a regular expression that matches dates.",
    "What does this SQL query return?",
    "Write a Go program that reads a file.",
    "Write code for a Discord bot using Discord.js v14.",
]
NOT_PROGRAMMING = [
    "Write a script for a YouTube video exploring the history of jazz.",
    "You are a script-writer. Write a script for the opening scene of a dark comedy show.",
    "What if Alan Turing had not cracked the Enigma code during World War II?",
    "What is the function of the liver?",
    "Use an appropriate format for a letter of recommendation for a graduate program in biology.",
    "What are the possible performance issues in a learning program on cross cultural communication?",
    "Play the melody in C major, then go up a fourth.",
    "Go to the store and buy some milk.",
    "I drink java every morning; what is the best roast?",
    "What is the dress code for a wedding?",
    "Plan a trip to Java and Bali for two weeks.",
    "Which vitamin is found in fruit: C or D?",
    "Give me a recipe for a ruby red grapefruit salad.",
]


@pytest.mark.parametrize("text", PROGRAMMING)
def test_programming_flag_hits(text: str) -> None:
    assert about_programming(text)


@pytest.mark.parametrize("text", NOT_PROGRAMMING)
def test_programming_flag_non_hits(text: str) -> None:
    assert not about_programming(text)


def test_programming_flag_skips_the_search_only_where_it_cannot_match() -> None:
    from deltaeval.slices.features import PROGRAMMING_CASED_RE, PROGRAMMING_RE

    variants = [t.upper() for t in PROGRAMMING] + [t.replace(" ", "\n") for t in PROGRAMMING]
    variants += ["Use Node.js or node.js", "pseudo-code please", "C# or c++?", "querys", "the given code."]
    for text in PROGRAMMING + NOT_PROGRAMMING + variants:
        full = PROGRAMMING_RE.search(text) is not None or PROGRAMMING_CASED_RE.search(text) is not None
        assert about_programming(text) == full, text


def test_programming_flag_is_an_atom_besides_has_code() -> None:
    texts = ["Write a Python function that sorts a list."] * 5 + ["def f(x):\n    return x"] * 5
    texts += ["Tell me a story about a dragon."] * 10
    atoms = {a.description: a.mask for a in input_atoms(texts, clusters=False)}
    about = atoms["input is about programming (names a language or a coding task)"]
    code = atoms["input has code"]
    assert about.tolist() == [True] * 5 + [False] * 15  # the code itself names no language or task
    assert code.tolist() == [False] * 5 + [True] * 5 + [False] * 10
    assert not any(a.feature == FEATURE for a in input_atoms(texts, clusters=False))


def _condition(description: str) -> tuple[float, float]:
    """(low, high) of an interval description, parsed back."""
    if m := re.fullmatch(r"len in \[(\d+), (\d+)\)", description):
        return float(m[1]), float(m[2])
    if m := re.fullmatch(r"len < (\d+)", description):
        return -np.inf, float(m[1])
    m = re.fullmatch(r"len ≥ (\d+)", description)
    assert m, description
    return float(m[1]), np.inf


def test_length_ranges_join_adjacent_bins_of_the_finer_grid() -> None:
    values = np.arange(1, 1001, dtype=float)
    atoms = numeric_atoms("len", values, "len")
    ranges = [a for a in atoms if not a.joins]
    # the cuts of 1..1000 at the finer grid, by hand: 1 + 999 q, rounded up
    cuts = [int(np.ceil(1 + 999 * q)) for q in RANGE_QUANTILES]
    assert cuts == [26, 51, 101, 251, 501, 751, 901, 951, 976]
    edges = [-np.inf, *cuts, np.inf]
    want = {(edges[i], edges[i + w]) for w in (2, 3) for i in range(len(edges) - w)}
    plain = {_condition(a.description) for a in atoms if a.joins}
    got = {_condition(a.description) for a in ranges}
    assert got == want - plain  # every range of 2 or 3 adjacent bins that no bin or tail repeats
    assert (901.0, 976.0) in got and (-np.inf, 51.0) not in got  # the latter is the plain 5% bin
    for a in atoms:  # every mask is what its description says
        low, high = _condition(a.description)
        assert np.array_equal(a.mask, (values >= low) & (values < high)), a.description
    assert all(a.category is None for a in ranges)
    assert all(a.mask.mean() >= 0.05 for a in ranges)
    # the ranges join no conjunction
    tags = categorical_atoms("tag:c", ["x", "y"] * 500, "c")
    candidates = build_candidates(atoms + tags, min_support=10)
    assert "len in [901, 976)" in candidates.descriptions
    assert not any(
        d.startswith(tuple(a.description + " and" for a in ranges)) for d in candidates.descriptions
    )
    assert not any(d.endswith(tuple("and " + a.description for a in ranges)) for d in candidates.descriptions)
