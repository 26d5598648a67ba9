"""NumPy ``.npz`` archives: one array per member, never unpickled.

Members stored without compression are read in place with one positioned read (no memory map, so resident
memory holds one array at a time); compressed members are decompressed one at a time on ``read``.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import numpy as np

from deltaeval.errors import InputError
from deltaeval.weights.formats import BaseCheckpoint, TensorMeta, as_float, corrupt

_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # zip local file header: 30 bytes


class NpzCheckpoint(BaseCheckpoint):
    """A ``.npz`` file read one array at a time (``allow_pickle=False``)."""

    format = "npz"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._layout: dict[str, tuple[zipfile.ZipInfo, np.dtype, bool, int | None]] = {}
        try:
            self._zip: zipfile.ZipFile | None = zipfile.ZipFile(path)
            for info in self._zip.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                self._add(info)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error) as error:
            self.close()
            raise corrupt(path, "npz", error) from None

    def _add(self, info: zipfile.ZipInfo) -> None:
        assert self._zip is not None
        name = info.filename[: -len(".npy")]
        with self._zip.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
            header_len = member.tell() if hasattr(member, "tell") else None
        if dtype.hasobject:
            raise InputError(
                f"array {name!r} holds Python objects (it would need unpickling)",
                hint="save numeric arrays only (np.savez with numeric dtypes)",
                path=self.path,
            )
        offset = None
        if info.compress_type == zipfile.ZIP_STORED and header_len is not None:
            offset = self._data_offset(info) + header_len
        shape = tuple(int(s) for s in shape)
        self._layout[name] = (info, dtype, bool(fortran), offset)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        self._metas[name] = TensorMeta(name, shape, dtype.name, nbytes)

    def _data_offset(self, info: zipfile.ZipInfo) -> int:
        with self.path.open("rb") as handle:
            handle.seek(info.header_offset)
            fields = _LOCAL_HEADER.unpack(handle.read(_LOCAL_HEADER.size))
        name_len, extra_len = fields[-2], fields[-1]
        return info.header_offset + _LOCAL_HEADER.size + name_len + extra_len

    def read(self, name: str) -> np.ndarray:
        meta = self.meta(name)
        if self._zip is None:
            raise InputError("the checkpoint is closed", hint="read before close()", path=self.path)
        info, dtype, fortran, offset = self._layout[name]
        order = "F" if fortran else "C"
        try:
            if offset is not None:
                array = np.empty(meta.shape, dtype=dtype, order=order)
                flat = memoryview(array.reshape(-1, order="A")).cast("B")
                with self.path.open("rb") as handle:
                    handle.seek(offset)
                    got = handle.readinto(flat) if meta.nbytes else 0
                if got != meta.nbytes:
                    raise ValueError(f"array {name!r} runs past the end of the file")
            else:
                with self._zip.open(info) as member:
                    array = np.lib.format.read_array(member, allow_pickle=False)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
            raise corrupt(self.path, "npz", error) from None
        return as_float(np.asarray(array))

    def close(self) -> None:
        zf = getattr(self, "_zip", None)
        if zf is not None:
            zf.close()
            self._zip = None


def open_file(path: Path, *, trust: bool = False) -> NpzCheckpoint:
    """Open one ``.npz`` file (``trust`` is unused: npz arrays are never unpickled)."""
    return NpzCheckpoint(path)
