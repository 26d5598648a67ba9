"""GGUF files (llama.cpp) through the ``gguf`` package, dequantized one tensor at a time.

Tensors come back in Hugging Face orientation: GGUF lists dimensions fastest-first, so the shape is
reversed to row-major (``[in, out]`` becomes ``(out, in)``, as a ``torch.nn.Linear`` stores it). For Llama-
style models llama.cpp's converter reorders the rows of ``attn_q``/``attn_k`` (rotary halves interleaved per
head); ``read`` undoes that, so ``blk.N.attn_q.weight`` compares with Hugging Face ``q_proj``. The names stay
the file's own; :func:`hf_name` gives the Hugging Face name to match with.

The header is parsed here (``gguf.GGUFReader`` builds a numpy view per vocabulary entry: seconds and
~150 MB for a 49k vocabulary); the ``gguf`` package dequantizes. Each tensor is read with one positioned
read and dequantized a few MB of rows at a time, so resident memory holds about one tensor.
"""

from __future__ import annotations

import mmap
import re
import struct
from pathlib import Path
from typing import Any

import numpy as np

from deltaeval.errors import InputError
from deltaeval.weights.formats import BaseCheckpoint, TensorMeta, as_float, corrupt, require

# architectures whose converter permutes attn_q/attn_k rows (convert_hf_to_gguf.py LlamaModel.permute)
PERMUTED_ARCHITECTURES = frozenset({"llama", "mistral"})
_CHUNK_BYTES = 4 << 20

_TOP = {
    "token_embd": "model.embed_tokens",
    "output_norm": "model.norm",
    "output": "lm_head",
}
_BLOCK = {
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
}
_BLOCK_NAME = re.compile(r"blk\.(\d+)\.(\w+)\.(weight|bias)")
_TOP_NAME = re.compile(r"(\w+)\.(weight|bias)")


def hf_name(name: str) -> str | None:
    """The Hugging Face (Llama) name of a GGUF tensor, or ``None`` when there is none.

    >>> hf_name("blk.0.attn_q.weight")
    'model.layers.0.self_attn.q_proj.weight'
    >>> hf_name("output_norm.weight")
    'model.norm.weight'
    """
    match = _BLOCK_NAME.fullmatch(name)
    if match:
        layer, part, kind = match.groups()
        module = _BLOCK.get(part)
        return f"model.layers.{layer}.{module}.{kind}" if module else None
    match = _TOP_NAME.fullmatch(name)
    if match and match.group(1) in _TOP:
        return f"{_TOP[match.group(1)]}.{match.group(2)}"
    return None


def unpermute(weights: np.ndarray, heads: int) -> np.ndarray:
    """Undo llama.cpp's q/k row permutation (the inverse of convert_hf_to_gguf's ``permute``)."""
    rows = weights.shape[0]
    if heads <= 0 or rows % (2 * heads):
        return weights
    half = rows // heads // 2
    restored = weights.reshape(heads, half, 2, *weights.shape[1:]).swapaxes(1, 2)
    return restored.reshape(weights.shape)


_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9
_PLAIN = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I8": "i1", "I16": "<i2", "I32": "<i4", "I64": "<i8"}


class _Header:
    """A GGUF header walked with ``struct`` over a memory map of the file's first bytes."""

    def __init__(self, view: mmap.mmap) -> None:
        self.view = view
        self.pos = 0

    def take(self, fmt: str) -> Any:
        if self.pos + struct.calcsize(fmt) > len(self.view):
            raise ValueError(f"the header stops short at byte {len(self.view)}")
        (value,) = struct.unpack_from(fmt, self.view, self.pos)
        self.pos += struct.calcsize(fmt)
        return value

    def string(self) -> str:
        length = self.take("<Q")
        if length > len(self.view) - self.pos:
            raise ValueError("a string runs past the end of the file")
        text = bytes(self.view[self.pos : self.pos + length]).decode("utf-8", errors="replace")
        self.pos += length
        return text

    def value(self, kind: int, keep: bool) -> Any:
        if kind in _SCALARS:
            return self.take(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind != _ARRAY:
            raise ValueError(f"unknown metadata value type {kind}")
        item, count = self.take("<I"), self.take("<Q")
        if item in _SCALARS:  # skip fixed-size arrays in one step
            size = struct.calcsize(_SCALARS[item]) * count
            values = struct.unpack_from(f"<{count}{_SCALARS[item][1]}", self.view, self.pos) if keep else None
            self.pos += size
            return list(values) if values is not None else None
        for _ in range(count):
            self.value(item, False)
        return None


def parse_header(path: Path) -> tuple[dict[str, Any], list[tuple[str, tuple[int, ...], int, int]], int]:
    """Metadata (scalars and numeric arrays), tensor infos ``(name, dims, type, offset)`` and data start."""
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
        header = _Header(view)
        if header.take("<4s") != b"GGUF":
            raise ValueError("no GGUF magic")
        version = header.take("<I")
        if version not in (2, 3):
            raise ValueError(f"GGUF version {version} (big-endian or unsupported)")
        n_tensors, n_kv = header.take("<Q"), header.take("<Q")
        metadata: dict[str, Any] = {}
        for _ in range(n_kv):
            key = header.string()
            value = header.value(header.take("<I"), True)
            if value is not None:
                metadata[key] = value
        infos = []
        for _ in range(n_tensors):
            name = header.string()
            dims = tuple(header.take("<Q") for _ in range(header.take("<I")))
            infos.append((name, dims, header.take("<I"), header.take("<Q")))
        alignment = int(metadata.get("general.alignment", 32)) or 32
        start = header.pos + (-header.pos % alignment)
    return metadata, infos, start


class GGUFCheckpoint(BaseCheckpoint):
    """One ``.gguf`` file."""

    format = "gguf"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        module = require("gguf", "weights", path)
        self._quants = module.quants
        qtypes, sizes = module.GGMLQuantizationType, module.GGML_QUANT_SIZES
        try:
            metadata, infos, start = parse_header(path)
        except (ValueError, struct.error, OSError) as error:
            raise corrupt(path, "GGUF", error) from None
        self.architecture = str(metadata.get("general.architecture", ""))
        heads = metadata.get(f"{self.architecture}.attention.head_count")
        kv_heads = metadata.get(f"{self.architecture}.attention.head_count_kv", heads)
        self._heads = {
            "attn_q": heads if isinstance(heads, int) else 0,
            "attn_k": kv_heads if isinstance(kv_heads, int) else 0,
        }
        self._layout: dict[str, tuple[Any, int, int]] = {}
        size = path.stat().st_size
        for name, dims, raw_type, offset in infos:
            try:
                qtype = qtypes(raw_type)
                block, type_size = sizes[qtype]
            except (ValueError, KeyError):
                raise corrupt(path, "GGUF", f"tensor {name!r} has unknown type {raw_type}") from None
            count = int(np.prod(dims, dtype=np.int64)) if dims else 1
            row_bytes = (dims[0] if dims else 1) * type_size // block
            nbytes = count * type_size // block
            if start + offset + nbytes > size:
                raise corrupt(path, "GGUF", f"tensor {name!r} runs past the end of the file")
            shape = tuple(int(d) for d in reversed(dims))
            self._metas[name] = TensorMeta(name, shape, qtype.name, nbytes)
            self._layout[name] = (qtype, start + offset, row_bytes)
        self._handle: Any = path.open("rb")

    @staticmethod
    def hf_name(name: str) -> str | None:
        """See :func:`hf_name`."""
        return hf_name(name)

    def read(self, name: str) -> np.ndarray:
        meta = self.meta(name)
        if self._handle is None:
            raise InputError("the checkpoint is closed", hint="read before close()", path=self.path)
        qtype, offset, row_bytes = self._layout[name]
        raw = np.empty(meta.nbytes, dtype=np.uint8)
        try:
            self._handle.seek(offset)
            got = self._handle.readinto(memoryview(raw)) if meta.nbytes else 0
        except OSError as error:
            raise corrupt(self.path, "GGUF", error) from None
        if got != meta.nbytes:
            raise corrupt(self.path, "GGUF", f"tensor {name!r} runs past the end of the file")
        if meta.dtype in _PLAIN:
            values = raw.view(_PLAIN[meta.dtype]).reshape(meta.shape)
        else:
            values = self._dequantize(raw.reshape(-1, row_bytes), qtype, meta)
        part = name.split(".")[2] if name.startswith("blk.") and name.count(".") >= 3 else ""
        if part in self._heads and self.architecture in PERMUTED_ARCHITECTURES and values.ndim >= 1:
            values = unpermute(values, self._heads[part])
        return as_float(values)

    def _dequantize(self, rows: np.ndarray, qtype: Any, meta: TensorMeta) -> np.ndarray:
        """Dequantize a few MB of rows at a time into one float32 array (bounded temporaries)."""
        width = meta.shape[-1] if meta.shape else 1
        out = np.empty((rows.shape[0], width), dtype=np.float32)
        step = max(1, _CHUNK_BYTES // max(1, rows.shape[1]))
        try:
            for begin in range(0, rows.shape[0], step):
                chunk = self._quants.dequantize(rows[begin : begin + step], qtype)
                out[begin : begin + step] = chunk.reshape(-1, width)
        except NotImplementedError:
            raise InputError(
                f"tensor {meta.name!r} uses the GGUF type {meta.dtype}, which the installed gguf package "
                "cannot dequantize",
                hint="pip install -U gguf",
                path=self.path,
            ) from None
        return out.reshape(meta.shape)

    def close(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle is not None:
            handle.close()
            self._handle = None


def open_file(path: Path, *, trust: bool = False) -> GGUFCheckpoint:
    """Open one GGUF file (``trust`` is unused: GGUF holds no code)."""
    return GGUFCheckpoint(path)
