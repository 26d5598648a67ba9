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
