"""The batched fused extractor (``fused.extract_many``) gives, output by output, the values of
the per-axis reference functions, to the bit: texts that take each of its side paths (capitals
in text with and without letters outside ASCII, "n't", hedge phrases, long sentences, many
pieces, batches longer than one batch), and its numpy helpers against plain
Python."""

from __future__ import annotations

import math
import random
from functools import reduce
from operator import add

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deltaeval.behaviour import AXES, compute_axes
from deltaeval.behaviour import fused as F
from deltaeval.behaviour.axes import BUILTIN_NAMES
from deltaeval.behaviour.reference import lexical_diversity
from deltaeval.behaviour.sentiment import lexicon

pytest.importorskip("vaderSentiment")

LONG_SENTENCE = " ".join(["good", "very", "bad", "not", "happy", "the", "table"] * 30) + "."
EDGE_TEXTS = [
    "",
    "   \n\t ",
    "!!! ??? ...",
    "A’B is GREAT but not bad.",
    "ÉCOLE est TRÈS bien! Good? Is it GOOD??",
    "A中B is a good day. 中文 GOOD",
    "I don’t think so, it’s NOT good. We can’t help with that, I’m sorry.",
    "I DON'T like it. It isn't BAD. Kind of nice, sort of great, more or less fine.",
    "As far as I know, it depends. To my knowledge it could be good. I would say so!",
    "Please consult a doctor. This is not financial advice. As an AI, I cannot provide that.",
    LONG_SENTENCE,
    LONG_SENTENCE.upper() + " but fine",
    "\n".join(f"- item {i} is good" for i in range(400)),
    "# Title\n\n1. First **good** step\n2. Second\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n> quote",
    "Code:\n\n```python\nx = 1  # GREAT\n```\n\n    indented = True\n\nDone `well` 🙂 — nice.",
    "Visit https://example.org or [docs](http://a.b). 2024 and 3.5 are numbers 42.",
    "WOW!!!! This is AMAZING!!! Really?? Yes?!",
    "café naïve’s İstanbul ÇOK GÜZEL. sorry, I apologize",
]
QUESTIONS = ["What is good?", "", None, "How do I help you?"]


def rows_of_reference(texts: list[str], questions: list[str | None]) -> np.ndarray:
    rows = np.empty((len(texts), len(BUILTIN_NAMES)))
    for i, (text, question) in enumerate(zip(texts, questions, strict=True)):
        for j, name in enumerate(BUILTIN_NAMES):
            spec = AXES[name]
            if spec.uses_input:
                rows[i, j] = spec.fn(text, question) if question else math.nan
            else:
                rows[i, j] = spec.fn(text)
    return rows


def assert_same(got: np.ndarray, expected: np.ndarray, texts: list[str]) -> None:
    same = (got == expected) | (np.isnan(got) & np.isnan(expected))
    bad = [(texts[i][:60], BUILTIN_NAMES[j]) for i, j in zip(*np.nonzero(~same), strict=True)]
    assert not bad, bad[:5]


def test_edge_texts_batched_equal_the_reference() -> None:
    texts = EDGE_TEXTS * 3
    questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(len(texts))]
    expected = rows_of_reference(texts, questions)
    assert_same(F.extract_many(texts, questions, lexicon()), expected, texts)
    one_by_one = np.array([F.extract(t, q, lexicon()) for t, q in zip(texts, questions, strict=True)])
    assert_same(one_by_one, expected, texts)
    without = F.extract_many(texts, questions, None)
    sentiment = BUILTIN_NAMES.index("sentiment")
    assert np.isnan(without[:, sentiment]).all()
    keep = [j for j in range(len(BUILTIN_NAMES)) if j != sentiment]
    assert_same(without[:, keep], expected[:, keep], texts)


def test_more_outputs_than_one_batch() -> None:
    rng = random.Random(3)
    texts = [
        rng.choice(EDGE_TEXTS[3:]) + " " + " ".join(rng.choices(["good", "bad", "AI", "x"], k=9))
        for _ in range(F.BATCH * 2 + 7)
    ]
    values = compute_axes(texts, inputs=["What is good?"] * len(texts))
    expected = rows_of_reference(texts, ["What is good?"] * len(texts))
    assert_same(np.column_stack([values[name] for name in BUILTIN_NAMES]), expected, texts)


WORDS = ["good", "GREAT", "not", "very", "but", "kind", "of", "don't", "I", "sorry", "AI", "É", "ÇOK", "x"]
SEPARATORS = [" ", " ", ". ", "! ", "? ", "\n", "\n\n", "\n- ", "\n1. ", "’", "\u00a0"]


@st.composite
def texts(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), max_size=80))
    return "".join(word + separator for word, separator in parts)


@settings(max_examples=60, deadline=None)
@given(batch=st.lists(texts(), min_size=1, max_size=12))
def test_random_batches_equal_the_reference(batch: list[str]) -> None:
    questions = ["What is good?"] * len(batch)
    assert_same(F.extract_many(batch, questions, lexicon()), rows_of_reference(batch, questions), batch)


def test_sequential_sums_add_in_order() -> None:
    rng = np.random.default_rng(0)
    sizes = rng.integers(0, F._RUN_LIMIT + 40, size=500)
    sizes[:3] = [0, F._RUN_LIMIT, F._RUN_LIMIT + 1]
    values = rng.normal(size=int(sizes.sum())) * rng.choice([0.0, 1.0, 1e-9, 1e9], size=int(sizes.sum()))
    got = F._sequential_sums(values, sizes)
    starts = np.cumsum(sizes) - sizes
    expected = [reduce(add, values[a : a + n].tolist(), 0.0) for a, n in zip(starts, sizes, strict=True)]
    assert got.tolist() == expected


def test_batched_mattr_equals_the_reference() -> None:
    rng = random.Random(5)
    lists = [
        [f"w{rng.randrange(v)}" for _ in range(n)]
        for n, v in [(0, 1), (1, 1), (50, 3), (51, 3), (700, 40)] * 3
    ]
    vocabulary = {w: i for i, w in enumerate(sorted({w for ws in lists for w in ws}))}
    ids = np.array([vocabulary[w] for ws in lists for w in ws], dtype=np.intp)
    got = F._mattr_batch(ids, [len(ws) for ws in lists], len(vocabulary))
    for value, ws in zip(got, lists, strict=True):
        expected = lexical_diversity(" ".join(ws))
        assert value == expected or (math.isnan(value) and math.isnan(expected))
