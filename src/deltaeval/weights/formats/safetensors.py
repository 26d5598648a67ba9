"""safetensors files through the ``safetensors`` package, one tensor at a time.

Types numpy has (F64/F32/F16, integers, BOOL) come from ``safe_open(framework="np")``; BF16 and the
8-bit floats (which numpy lacks) are read as raw bytes from a memory map and widened to float32, so no
PyTorch is needed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from deltaeval.errors import InputError
from deltaeval.weights.formats import BaseCheckpoint, TensorMeta, as_float, corrupt, require

_ITEMSIZE = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1,
    "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1,
}  # fmt: skip
_RAW = ("BF16", "F8_E4M3", "F8_E5M2")


def _e4m3_table() -> np.ndarray:
    """float32 value of every F8_E4M3 (fn: no infinities, NaN at 0x7F/0xFF) byte."""
    codes = np.arange(256, dtype=np.int32)
    sign = np.where(codes & 0x80, -1.0, 1.0)
    exponent = (codes >> 3) & 0xF
    mantissa = codes & 0x7
    normal = (1 + mantissa / 8.0) * np.exp2(exponent - 7.0)
    subnormal = (mantissa / 8.0) * 2.0**-6
    values = sign * np.where(exponent == 0, subnormal, normal)
    values[(codes & 0x7F) == 0x7F] = np.nan
    return values.astype(np.float32)


def widen(raw: np.ndarray, dtype: str) -> np.ndarray:
    """Raw BF16 (uint16) or 8-bit float (uint8) codes as float32."""
    if dtype == "BF16":
        return (raw.astype(np.uint32) << 16).view(np.float32)
    if dtype == "F8_E5M2":
        return (raw.astype(np.uint16) << 8).view(np.float16).astype(np.float32)
    return _e4m3_table()[raw]


def read_header(path: Path) -> tuple[int, dict[str, Any]]:
    """The data section's offset and the parsed JSON header of a safetensors file."""
    try:
        with path.open("rb") as handle:
            length = int.from_bytes(handle.read(8), "little")
            header = json.loads(handle.read(length))
    except (OSError, ValueError) as error:
        raise corrupt(path, "safetensors", error) from None
    if not isinstance(header, dict):
        raise corrupt(path, "safetensors", "the header is not a JSON object")
    return 8 + length, header


class SafetensorsCheckpoint(BaseCheckpoint):
    """One ``.safetensors`` file."""

    format = "safetensors"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        module = require("safetensors", "weights", path)
        try:
            self._file: Any = module.safe_open(str(path), framework="np")
        except Exception as error:  # SafetensorError and friends: truncated or not safetensors
            raise corrupt(path, "safetensors", error) from None
        self._start, header = read_header(path)
        self._offsets: dict[str, int] = {}
        self._stored: dict[str, str] = {}
        for name in self._file.keys():  # noqa: SIM118 - a safe_open handle, not a dict
            entry = header[name]
            begin, end = entry["data_offsets"]
            dtype = str(entry["dtype"])
            shape = tuple(int(s) for s in entry["shape"])
            self._offsets[name] = self._start + int(begin)
            self._stored[name] = dtype
            self._metas[name] = TensorMeta(name, shape, dtype, int(end) - int(begin))
        # file order: the order of the data in the file (the header's JSON keys are sorted)
        self._metas = dict(sorted(self._metas.items(), key=lambda item: self._offsets[item[0]]))
        self.metadata: dict[str, str] = dict(header.get("__metadata__") or {})

    def read(self, name: str) -> np.ndarray:
        meta = self.meta(name)
        if self._file is None:
            raise InputError("the checkpoint is closed", hint="read before close()", path=self.path)
        dtype = self._stored[name]
        try:
            if dtype in _RAW:
                if meta.size == 0:
                    return np.zeros(meta.shape, dtype=np.float32)
                raw_type = np.uint16 if _ITEMSIZE[dtype] == 2 else np.uint8
                raw = np.memmap(
                    self.path, dtype=raw_type, mode="r", offset=self._offsets[name], shape=meta.size
                )
                return as_float(widen(np.asarray(raw), dtype).reshape(meta.shape))
            return as_float(self._file.get_tensor(name))
        except (OSError, ValueError, TypeError) as error:
            raise corrupt(self.path, "safetensors", error) from None

    def close(self) -> None:
        handle = getattr(self, "_file", None)
        if handle is not None:
            handle.__exit__(None, None, None)
            self._file = None


def open_file(path: Path, *, trust: bool = False) -> SafetensorsCheckpoint:
    """Open one safetensors file (``trust`` is unused: safetensors holds no code)."""
    return SafetensorsCheckpoint(path)
