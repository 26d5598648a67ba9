"""safetensors files, one tensor at a time.

The ``safetensors`` package (``safe_open(framework="np")``) validates the file when it is opened; each
tensor is then read with one positioned read into a fresh array rather than through a memory map, so the
resident memory holds one tensor, not every page read so far. BF16 and the 8-bit floats (which numpy
lacks) are widened to float32 without PyTorch.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

from deltaeval.errors import InputError
from deltaeval.weights.formats import BaseCheckpoint, TensorMeta, as_float, corrupt, require

_NUMPY = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "F8_E4M3": "u1", "F8_E5M2": "u1",
    "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
    "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?",
}  # fmt: skip
_WIDENED = ("BF16", "F8_E4M3", "F8_E5M2")


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
        self._handle = path.open("rb")
        self._slabs: list[np.ndarray] = []
        self._slab_lock = threading.Lock()
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
        if dtype not in _NUMPY:
            raise InputError(
                f"tensor {name!r} has the safetensors type {dtype}, which deltaeval cannot read",
                hint="convert the checkpoint to F32, F16 or BF16",
                path=self.path,
            )
        numpy_type = np.dtype(_NUMPY[dtype])
        raw = self._slab(meta.size * numpy_type.itemsize)[: meta.size * numpy_type.itemsize].view(numpy_type)
        if raw.nbytes != meta.nbytes:
            raise corrupt(
                self.path, "safetensors", f"tensor {name!r}: {meta.nbytes} bytes for shape {meta.shape}"
            )
        try:
            self._handle.seek(self._offsets[name])
            got = self._handle.readinto(memoryview(raw).cast("B")) if raw.nbytes else 0
        except OSError as error:
            raise corrupt(self.path, "safetensors", error) from None
        if got != raw.nbytes:
            raise corrupt(self.path, "safetensors", f"tensor {name!r} runs past the end of the file")
        values = widen(raw, dtype) if dtype in _WIDENED else raw
        return as_float(values.reshape(meta.shape))

    def _slab(self, nbytes: int) -> np.ndarray:
        """Bytes to read a tensor into: a slab of an earlier read that nothing refers to any more
        (the smallest that fits), else a new one. At most one free slab is kept, so the memory held
        beyond the caller's arrays is one tensor's at most; the reads skip the page faults of fresh
        memory."""
        with self._slab_lock:
            # free: referenced only by the list, the loop variable and getrefcount's argument (views
            # of a slab refer to it directly: numpy points a view of a view at the owner)
            free = [slab for slab in self._slabs if sys.getrefcount(slab) <= 3]
            fitting = [slab for slab in free if slab.nbytes >= nbytes]
            chosen = min(fitting, key=lambda slab: slab.nbytes) if fitting else None
            keep = [slab for slab in self._slabs if not any(slab is f for f in free)]
            if chosen is None:
                chosen = np.empty(max(nbytes, 1), dtype=np.uint8)
            else:
                free = [slab for slab in free if slab is not chosen]
            largest_free = max(free, key=lambda slab: slab.nbytes) if free else None
            self._slabs = [*keep, chosen] + ([largest_free] if largest_free is not None else [])
            del free, fitting, keep, largest_free
            return chosen

    def close(self) -> None:
        self._slabs = []
        handle = getattr(self, "_file", None)
        if handle is not None:
            handle.__exit__(None, None, None)
            self._file = None
            self._handle.close()


def open_file(path: Path, *, trust: bool = False) -> SafetensorsCheckpoint:
    """Open one safetensors file (``trust`` is unused: safetensors holds no code)."""
    return SafetensorsCheckpoint(path)
