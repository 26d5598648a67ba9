"""Fast paths of the built-in axes: lexical diversity (MATTR) from integer word ids with numpy
equals the per-output reference at every length, and the work splits into balanced chunks
whose worker results equal the serial ones."""

from __future__ import annotations

import doctest
import itertools
import math
import random
from collections import Counter

import numpy as np
import pytest

from deltaeval.behaviour import axes as axes_module
from deltaeval.behaviour import compute_axes, default_axis_names
from deltaeval.behaviour.axes import CHUNKS_PER_PROCESS, MIN_CHUNK, chunk_ranges
from deltaeval.behaviour.fused import _mattr
from deltaeval.behaviour.reference import MATTR_WINDOW, lexical_diversity


@pytest.mark.parametrize("vocabulary", [1, 3, 40, 400])
def test_mattr_equals_the_reference_at_every_length(vocabulary: int) -> None:
    rng = random.Random(vocabulary)
    lengths = [*range(0, 2 * MATTR_WINDOW + 3), 517, 3001]
    for n in lengths:
        ws = [f"w{rng.randrange(vocabulary)}" for _ in range(n)]
        got = _mattr(ws, Counter(ws))
        expected = lexical_diversity(" ".join(ws))
        assert got == expected or (math.isnan(got) and math.isnan(expected)), (n, vocabulary)


def test_chunks_cover_every_output_once_and_balance() -> None:
    for n in (1, 99, 100, 101, 1999, 2000, 12_345, 100_000):
        for processes in (1, 2, 3):
            ranges = chunk_ranges(n, processes, 2000)
            assert ranges[0][0] == 0 and ranges[-1][1] == n
            assert all(a < b for a, b in ranges)
            assert all(b == c for (_, b), (c, _) in itertools.pairwise(ranges))
            sizes = [b - a for a, b in ranges]
            assert max(sizes) <= 2000
            if n >= CHUNKS_PER_PROCESS * processes * MIN_CHUNK:
                assert len(ranges) >= CHUNKS_PER_PROCESS * processes
    assert chunk_ranges(60, 2, 20) == [(0, 20), (20, 40), (40, 60)]  # chunk_size is a ceiling


def test_workers_equal_serial_with_the_default_chunks() -> None:
    rng = random.Random(3)
    words = [
        "the",
        "cat",
        "sat",
        "on",
        "a",
        "mat",
        "and",
        "I",
        "think",
        "it",
        "might",
        "be",
        "great",
        "or",
        "terrible",
    ]
    texts = [
        "\n\n".join(
            " ".join(rng.choices(words, k=rng.randint(5, 90))) + "." for _ in range(rng.randint(1, 4))
        )
        for _ in range(1234)
    ]
    texts[7] = None  # an error output
    inputs = ["Is the cat on the mat?"] * len(texts)
    names = default_axis_names(with_inputs=True)
    serial = compute_axes(texts, inputs, names)
    parallel = compute_axes(texts, inputs, names, workers=2)
    for name in names:
        np.testing.assert_array_equal(serial[name], parallel[name])


def test_doctests() -> None:
    assert doctest.testmod(axes_module).failed == 0


def _phrases() -> list[str]:
    """One sentence for every branch of the refusal and disclaimer patterns."""
    verbs = ["help", "assist", "provide", "comply", "write", "do that"]
    negations = ["cannot", "can't", "can not", "won't", "will not", "am unable to", "are not able to"]
    out = [f"{s} {n} {v} with this." for s in ("I", "We") for n in negations for v in verbs]
    out += [
        f"{s} {n} {v} now."
        for s in ("I'm", "We're", "I’m")
        for n in ("unable to", "not able to")
        for v in verbs
    ]
    out += [
        "I must decline.",
        "I have to refuse that.",
        "As an AI, I think so.",
        "As a large language model.",
    ]
    out += ["As a language model, no.", "I'm just an AI.", "I am only an AI here."]
    pros = ["professional", "doctor", "financial advisor", "healthcare provider", "therapist", "lawyer"]
    out += [
        f"Please consult {w}{q} {p}."
        for w in ("a", "with an", "your")
        for q in ("", " licensed")
        for p in pros
    ]
    out += [
        f"Seek {a} {b}."
        for a in ("professional", "medical", "legal")
        for b in ("help", "advice", "attention")
    ]
    out += [f"This is not {k} advice." for k in ("financial", "legal", "medical", "investment")]
    out += [
        "It is not a substitute for care.",
        "For general informational purposes only.",
        "For informational purposes.",
    ]
    out += [f"{s} not a {p}." for s in ("I'm", "I am") for p in pros]
    out += [
        "Please note that it rains.",
        "It is important to note this.",
        "It's important to remember.",
        "It does not constitute help.",
    ]
    return out


def test_refusal_and_disclaimer_quick_tests_miss_no_match() -> None:
    from deltaeval.behaviour import AXES
    from deltaeval.behaviour.fused import FUSED_NAMES, extract

    refusals, disclaimers = FUSED_NAMES.index("refusals"), FUSED_NAMES.index("disclaimers")
    found = 0
    for phrase in _phrases():
        for text in (phrase, f"Sure. {phrase} Then more words follow here.", phrase.upper()):
            values = extract(text)
            assert values[refusals] == AXES["refusals"].fn(text), text
            assert values[disclaimers] == AXES["disclaimers"].fn(text), text
            found += values[refusals] + values[disclaimers] > 0
    assert found == 3 * len(_phrases())  # every phrase is a refusal or a disclaimer
