"""Tag values are grouped without sorting the strings: the same result as ``np.unique``."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from deltaeval.analysis.flips import N_CELLS
from deltaeval.analysis.slices import factorize, slice_counts


def reference(values: object) -> tuple[list[str], np.ndarray]:
    """What slices did before: sort the values with ``np.unique``."""
    labels, inverse = np.unique(np.asarray(values), return_inverse=True)
    return [str(v) for v in labels], inverse.ravel()


def assert_same(values: object) -> None:
    labels, codes = factorize(values)
    expected_labels, expected_codes = reference(values)
    assert labels == expected_labels
    assert np.array_equal(codes, expected_codes)


def test_string_arrays_of_every_width_and_alphabet() -> None:
    rng = np.random.default_rng(0)
    for pool in (
        ["a", "b", "c"],  # U1: one 4-byte word per string
        ["ab", "a", "", "ba"],  # U2: one 8-byte word, an empty string
        ["tag-00", "tag-01", "tag-10", "tag-02"],  # U6: three 8-byte words
        ["math", "géométrie", "日本語", "emoji 🙂", "(none)"],  # non-ASCII code points
    ):
        values = np.array(pool)[rng.integers(0, len(pool), 5000)]
        assert_same(values)
        assert_same(values.tolist())
        assert_same(values.astype(object))
        assert_same(tuple(values.tolist()))


def test_many_distinct_values_fall_back_to_sorting() -> None:
    # 5,000 values in 65,536 hash buckets: some share a bucket, so the exact check sends the
    # array to np.unique; the result is the same either way
    values = np.array([f"example-{i}" for i in np.random.default_rng(1).integers(0, 5000, 20000)])
    assert_same(values)


def test_other_inputs_keep_numpy_semantics() -> None:
    assert_same([3, 10, 2, 3])  # integers sort numerically
    assert_same(np.array([b"ab", b"a", b"ab"]))  # bytes
    assert_same(np.array([], dtype="U3"))
    assert_same([])
    assert_same(np.array(["x", "y", "z", "y"])[::2])  # not contiguous


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="ab é\x01", max_size=4), min_size=1, max_size=60))
def test_any_list_of_strings(values: list[str]) -> None:
    # numpy's fixed-width strings drop trailing NULs; none are drawn here
    assert_same(values)
    assert_same(np.array(values))


def test_slice_counts_table_matches_the_sorted_grouping() -> None:
    rng = np.random.default_rng(2)
    tags = np.array(["b", "a", "c", "a"])[rng.integers(0, 4, 1000)]
    codes = rng.integers(0, N_CELLS, 1000)
    labels, table = slice_counts(codes, tags)
    assert labels == ["a", "b", "c"]
    for i, label in enumerate(labels):
        assert np.array_equal(table[i], np.bincount(codes[tags == label], minlength=N_CELLS))
    assert table.dtype == np.int64
