"""all-MiniLM-L6-v2's fp32 forward pass in numpy against the torch and int8 ONNX routes."""

from __future__ import annotations

import numpy as np
import pytest

from deltaeval.embeddings import bert_numpy

TEXTS = ["How do I bake bread at home?", "Paris is the capital of France.", "word " * 300, ""]


@pytest.fixture(scope="module")
def numpy_vectors() -> np.ndarray:
    reason = bert_numpy.unavailable()
    if reason is not None:
        pytest.skip(f"numpy MiniLM: {reason}")
    return bert_numpy.NumpyMiniLM().embed(TEXTS)


def test_equal_to_the_torch_route(numpy_vectors: np.ndarray) -> None:
    pytest.importorskip("torch", reason="the torch route needs torch (e.g. pip install torch==2.13.0)")
    from deltaeval.behaviour.embedding import load_minilm, minilm_unavailable

    if minilm_unavailable("torch") is not None:
        pytest.skip(minilm_unavailable("torch"))
    torch_vectors = load_minilm("torch", threads=1).encode(TEXTS)
    assert np.abs(numpy_vectors - torch_vectors).max() < 1e-5


def test_close_to_the_int8_route(numpy_vectors: np.ndarray) -> None:
    from deltaeval.behaviour.embedding import load_minilm, minilm_unavailable

    if minilm_unavailable("onnx") is not None:
        pytest.skip(minilm_unavailable("onnx"))
    int8 = load_minilm("onnx", threads=1).encode(TEXTS)
    assert np.allclose(np.linalg.norm(numpy_vectors, axis=1), 1.0, atol=1e-5)
    # int8 quantization moves each vector a little (cosine 0.996-1.0 on MiniLM's own checks)
    assert (numpy_vectors * int8).sum(axis=1).min() > 0.99
