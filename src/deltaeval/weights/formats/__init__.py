"""Streaming checkpoint readers: one module per format, one interface for all.

``open_checkpoint(path)`` detects the format (magic bytes, extension, folder layout) and returns a
:class:`Checkpoint`: ``tensors()`` lists metadata only (cheap, file order) and ``read(name)`` returns one
tensor as a C-contiguous float array (float64 when stored as float64, float32 otherwise; quantized
types dequantized). A reader never holds more than one tensor's data beyond the file's memory map.

Heavy dependencies (safetensors, gguf, onnx, srsly, torch) are imported inside the format that needs
them; a missing one is a one-line :class:`~deltaeval.errors.InputError` naming the extra to install.
"""

from __future__ import annotations

import importlib
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, runtime_checkable

import numpy as np

from deltaeval.errors import FormatError, InputError

FORMATS = ("safetensors", "gguf", "torch", "onnx", "spacy", "npz")

_EXTENSIONS = {
    ".safetensors": "safetensors",
    ".gguf": "gguf",
    ".pt": "torch",
    ".pth": "torch",
    ".bin": "torch",
    ".ckpt": "torch",
    ".onnx": "onnx",
    ".npz": "npz",
}

_SHARD = re.compile(
    r".+-\d+-of-\d+\.\w+"
)  # model-00001-of-00003.safetensors, pytorch_model-00001-of-00002.bin

_SUPPORTED = (
    ".safetensors, .gguf, .pt/.pth/.bin/.ckpt (PyTorch state dict), .onnx, .npz, or a spaCy pipeline folder"
)


@dataclass(frozen=True)
class TensorMeta:
    """One tensor as the file describes it, before any data is read."""

    name: str  # the name as the file gives it (anonymous ONNX names included)
    shape: tuple[int, ...]  # the shape read() returns
    dtype: str  # stored type as the file names it: "F32", "BF16", "Q4_1", "int8", ...
    nbytes: int  # stored size in bytes

    @property
    def size(self) -> int:
        """Number of entries."""
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1


@runtime_checkable
class Checkpoint(Protocol):
    """A checkpoint read one tensor at a time."""

    path: Path
    format: str

    def tensors(self) -> list[TensorMeta]: ...

    def read(self, name: str) -> np.ndarray: ...

    def close(self) -> None: ...

    def __enter__(self) -> Checkpoint: ...

    def __exit__(self, *exc: object) -> None: ...


class BaseCheckpoint:
    """Shared plumbing: metadata by name, context manager, unknown-name errors."""

    format = ""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._metas: dict[str, TensorMeta] = {}

    def tensors(self) -> list[TensorMeta]:
        return list(self._metas.values())

    def meta(self, name: str) -> TensorMeta:
        """The metadata of one tensor; unknown names are an :class:`InputError`."""
        try:
            return self._metas[name]
        except KeyError:
            raise InputError(
                f"no tensor named {name!r} in this {self.format} checkpoint",
                hint="list the names with tensors()",
                path=self.path,
            ) from None

    def read(self, name: str) -> np.ndarray:  # pragma: no cover - every reader overrides it
        raise NotImplementedError

    def close(self) -> None:
        """Release the file; reading afterwards is an error."""

    def __enter__(self) -> BaseCheckpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[TensorMeta]:
        return iter(self.tensors())

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.format} {str(self.path)!r}: {len(self._metas)} tensors>"


def as_float(array: np.ndarray) -> np.ndarray:
    """``array`` C-contiguous, float64 if it is float64, else float32 (no copy when it already is)."""
    dtype = np.float64 if array.dtype == np.float64 else np.float32
    return np.asarray(array, dtype=dtype, order="C")


def require(
    module: str, extra: str, path: Path, *, package: str | None = None, hint: str | None = None
) -> ModuleType:
    """Import an optional dependency, or raise a one-line error naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        name = package or module
        raise InputError(
            f"reading this file needs the {name!r} package, which is not installed",
            hint=hint or f"pip install 'deltaeval[{extra}]' (or pip install {name})",
            path=path,
        ) from None


def corrupt(path: Path, what: str, error: BaseException | str) -> InputError:
    """The error for a file that is truncated or not what its format says it is."""
    detail = " ".join(str(error).split())
    if len(detail) > 200:
        detail = detail[:200] + "..."
    return InputError(
        f"cannot read this {what} file: it is truncated or corrupt ({detail})",
        hint="copy or export the file again; check that it is complete",
        path=path,
    )


def _zip_names(path: Path) -> list[str] | None:
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return None


def _looks_like_safetensors(head: bytes, size: int) -> bool:
    if len(head) < 9:
        return False
    length = int.from_bytes(head[:8], "little")
    return 0 < length <= size - 8 and head[8:9] == b"{"


def _detect_file(path: Path) -> str | None:
    with path.open("rb") as handle:
        head = handle.read(16)
    size = path.stat().st_size
    if head[:4] == b"GGUF":
        return "gguf"
    if head[:4] == b"PK\x03\x04":
        names = _zip_names(path)
        if names is not None and names and any(n.endswith("data.pkl") for n in names):
            return "torch"
        if names is not None and names and all(n.endswith(".npy") for n in names):
            return "npz"
        return _EXTENSIONS.get(path.suffix.lower())
    if _looks_like_safetensors(head, size):
        return "safetensors"
    if head[:1] == b"\x80" and path.suffix.lower() in (".pt", ".pth", ".bin", ".ckpt"):
        return "torch"  # a legacy (non-zip) torch.save pickle
    return _EXTENSIONS.get(path.suffix.lower())


def _spacy_folder(path: Path) -> Path | None:
    """The pipeline folder itself, or the single versioned folder inside an installed package."""
    if (path / "config.cfg").is_file() and (path / "meta.json").is_file():
        return path
    inner = [p for p in sorted(path.iterdir()) if p.is_dir() and (p / "config.cfg").is_file()]
    if len(inner) == 1 and (inner[0] / "meta.json").is_file():
        return inner[0]
    return None


def _detect_folder(path: Path) -> tuple[str, list[Path]]:
    spacy = _spacy_folder(path)
    if spacy is not None:
        return "spacy", [spacy]
    index = path / "model.safetensors.index.json"
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        except (ValueError, KeyError, TypeError) as error:
            raise corrupt(index, "safetensors index", error) from None
        return "safetensors", [path / name for name in dict.fromkeys(weight_map.values())]
    for fmt, patterns in (
        ("safetensors", ("*.safetensors",)),
        ("gguf", ("*.gguf",)),
        ("torch", ("pytorch_model*.bin", "*.pt", "*.pth", "*.ckpt")),
        ("onnx", ("*.onnx",)),
        ("npz", ("*.npz",)),
    ):
        found = sorted({p for pattern in patterns for p in path.glob(pattern) if p.is_file()})
        if len(found) == 1 or (found and all(_SHARD.fullmatch(p.name) for p in found)):
            return fmt, found
        if found:
            raise FormatError(
                f"this folder holds {len(found)} {fmt} files: {', '.join(p.name for p in found[:4])}",
                hint="name the file to compare",
                path=path,
            )
    raise FormatError(
        "no checkpoint found in this folder",
        hint=f"give a file or folder with one of: {_SUPPORTED}",
        path=path,
    )


def detect_format(path: str | Path) -> str:
    """The format of a checkpoint file or folder (see :data:`FORMATS`); unknown is a :class:`FormatError`."""
    return _locate(Path(path), None)[0]


def _locate(path: Path, format: str | None) -> tuple[str, list[Path]]:
    if format is not None and format not in FORMATS:
        raise FormatError(
            f"unknown checkpoint format {format!r}",
            hint=f"use one of: {', '.join(FORMATS)}",
            path=path,
        )
    if not path.exists():
        raise InputError("no such file or folder", hint="check the path", path=path)
    if path.is_dir():
        if format == "spacy":
            inner = _spacy_folder(path)
            if inner is None:
                raise FormatError(
                    "not a spaCy pipeline folder (no config.cfg and meta.json)",
                    hint="give the pipeline folder (the one holding config.cfg)",
                    path=path,
                )
            return "spacy", [inner]
        detected, files = _detect_folder(path)
        if format is not None and detected != format:
            raise FormatError(
                f"this folder holds a {detected} checkpoint, not {format}",
                hint=f"drop the format or name the {format} file",
                path=path,
            )
        return detected, files
    if path.stat().st_size == 0:
        raise InputError("the file is empty", hint="copy or export the checkpoint again", path=path)
    if format is not None:
        return format, [path]
    detected = _detect_file(path)
    if detected is None:
        raise FormatError(
            "unknown checkpoint format",
            hint=f"give one of: {_SUPPORTED}",
            path=path,
        )
    return detected, [path]


def _reader(fmt: str) -> Any:
    module = importlib.import_module(f"deltaeval.weights.formats.{fmt}")
    return module.open_file


def open_checkpoint(path: str | Path, *, trust: bool = False, format: str | None = None) -> Checkpoint:
    """Open a checkpoint file or folder for reading one tensor at a time.

    Parameters
    ----------
    path:
        A file (.safetensors, .gguf, .pt/.pth/.bin/.ckpt, .onnx, .npz) or a folder: a Hugging Face model
        folder (one or several safetensors shards, or a PyTorch state dict), a folder with one GGUF/ONNX/npz
        file, or a spaCy pipeline folder (or an installed spaCy package's folder).
    trust:
        Allow PyTorch pickles that need more than tensors (arbitrary code can run when unpickling).
    format:
        One of :data:`FORMATS`, to skip detection.

    Returns
    -------
    Checkpoint
        Use it as a context manager; ``tensors()`` then ``read(name)``.

    Raises
    ------
    InputError
        Missing, empty, truncated or unreadable files; :class:`FormatError` for unknown formats.
    """
    path = Path(path)
    fmt, files = _locate(path, format)
    open_file = _reader(fmt)
    if len(files) == 1:
        return open_file(files[0], trust=trust)
    return Sharded(path, fmt, [open_file(f, trust=trust) for f in files])


class Sharded(BaseCheckpoint):
    """Several files of one format read as one checkpoint (e.g. sharded safetensors)."""

    def __init__(self, path: Path, fmt: str, parts: list[Checkpoint]) -> None:
        super().__init__(path)
        self.format = fmt
        self.parts = parts
        self._owner: dict[str, Checkpoint] = {}
        for part in parts:
            for meta in part.tensors():
                if meta.name in self._owner:
                    self.close()
                    raise InputError(
                        f"tensor {meta.name!r} occurs in two shards ({self._owner[meta.name].path.name}, "
                        f"{part.path.name})",
                        hint="give one shard set; remove stray copies from the folder",
                        path=path,
                    )
                self._owner[meta.name] = part
                self._metas[meta.name] = meta

    def read(self, name: str) -> np.ndarray:
        self.meta(name)
        return self._owner[name].read(name)

    def close(self) -> None:
        for part in self.parts:
            part.close()


__all__ = [
    "FORMATS",
    "BaseCheckpoint",
    "Checkpoint",
    "TensorMeta",
    "detect_format",
    "open_checkpoint",
]
