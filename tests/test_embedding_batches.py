"""MiniLM batches texts by length under a token budget (long texts alone, short ones together)
and the vectors do not depend on how the texts are batched."""

from __future__ import annotations

import numpy as np
import pytest

from deltaeval.behaviour.embedding import BATCH_TOKENS, _length_batches, load_minilm, minilm_unavailable


def test_batches_cover_every_text_once_within_the_budget() -> None:
    rng = np.random.default_rng(0)
    lengths = np.concatenate([rng.integers(1, 40, 50), np.full(9, 256), rng.integers(40, 256, 30)])
    batches = _length_batches(lengths, 8, BATCH_TOKENS)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(lengths)))
    assert np.all(np.diff(lengths[flat]) >= 0)  # shortest first
    for batch in batches:
        assert 1 <= len(batch) <= 8
        assert len(batch) == 1 or len(batch) * lengths[batch].max() <= BATCH_TOKENS
    assert all(len(b) == 1 for b in batches if lengths[b].max() == 256)
    assert [len(b) for b in _length_batches(lengths, 8)] == [8] * 11 + [1]  # no budget: by count


@pytest.mark.skipif(minilm_unavailable("onnx") is not None, reason=str(minilm_unavailable("onnx")))
def test_vectors_do_not_depend_on_the_batches() -> None:
    model = load_minilm("onnx", threads=1)
    texts = ["Short.", "A somewhat longer answer about tests.", " ".join(["word"] * 400), "", "Yes!"] * 3
    default = model.encode(texts)
    one_by_one = model.encode(texts, batch_size=1)
    by_count = model.encode(texts, batch_size=8, batch_tokens=10**9)
    np.testing.assert_allclose(default, one_by_one, atol=1e-6)
    np.testing.assert_allclose(default, by_count, atol=1e-6)
