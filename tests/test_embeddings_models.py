"""Built-in embedding models on a few real texts (skipped, with the reason, when not installed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deltaeval.embeddings.api import compare_embeddings
from deltaeval.embeddings.models import BUILT_IN, load_builtin
from deltaeval.embeddings.retrieval import RetrievalTask

QUERIES = [
    "How do I bake bread at home?",
    "What is the capital of France?",
    "Explain photosynthesis simply.",
    "Give me tips for running a marathon.",
    "How does a car engine work?",
    "Write a haiku about autumn leaves.",
]
ANSWERS = [
    "Mix flour, water, yeast and salt, knead, let it rise, then bake at 220 C for 30 minutes.",
    "Paris is the capital of France.",
    "Plants use sunlight to turn water and carbon dioxide into sugar and oxygen.",
    "Train gradually, increase your long run each week, and rest before race day.",
    "Fuel burns in the cylinders, pushing pistons that turn the crankshaft.",
    "Red leaves drifting down / the cold wind carries them far / autumn says goodbye",
]


def _need(spec: str) -> None:
    reason = BUILT_IN[spec].unavailable()
    if reason is not None:
        pytest.skip(f"{spec}: {reason}")


def _task() -> RetrievalTask:
    ids = [str(i) for i in range(len(QUERIES))]
    return RetrievalTask(ids, QUERIES, list(ids), ANSWERS, [[i] for i in range(len(ids))], source="six pairs")


def test_minilm_and_paraphrase_l3_on_real_texts(tmp_path: Path) -> None:
    _need("minilm-int8")
    _need("paraphrase-minilm-l3")
    report = compare_embeddings(
        "minilm-int8", "paraphrase-minilm-l3", _task(), cache_dir=tmp_path, n_boot=200
    )
    section = report["embeddings"]
    assert section["dims"] == {"old": 384, "new": 384}
    # both models find these answers from their own queries
    assert section["retrieval"]["old->old"]["recall@1"]["value"] >= 5 / 6
    assert section["retrieval"]["new->new"]["recall@1"]["value"] >= 5 / 6
    assert "paraphrase-MiniLM-L3-v2" in report["new"]["model"]
    cached = sorted(p.name for p in tmp_path.iterdir())
    assert len(cached) == 4 and all(name.endswith(".npy") for name in cached)
    # a rerun reads the cache: the same report, the models named alike
    assert (
        compare_embeddings("minilm-int8", "paraphrase-minilm-l3", _task(), cache_dir=tmp_path, n_boot=200)
        == report
    )


def test_e5_prefixes_queries_and_passages() -> None:
    _need("e5-small")
    model = load_builtin("e5-small")
    as_query = model.embed(QUERIES[:2], "query")
    as_passage = model.embed(QUERIES[:2], "passage")
    assert as_query.shape == (2, 384)
    assert np.allclose(np.linalg.norm(as_query, axis=1), 1.0, atol=1e-4)
    # "query: " and "passage: " prefixes give different vectors for the same text
    assert not np.allclose(as_query, as_passage, atol=1e-3)
