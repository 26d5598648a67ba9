"""PyTorch checkpoints (``torch.save`` state dicts), loaded with ``weights_only=True``.

A file whose pickle needs anything beyond tensors and plain containers is refused unless ``trust=True``
(unpickling can run arbitrary code). Zip-format files are memory-mapped (``mmap=True``) so the state dict
costs no memory until a tensor is read; legacy (pre-1.6) files cannot be mapped and are loaded whole.
Wrapped checkpoints (``{"state_dict": ...}``, ``{"model": ...}``) are unwrapped; other nested dicts are
flattened with dots; non-tensor entries (epoch, config, optimizer scalars) are skipped and counted.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from deltaeval.errors import InputError
from deltaeval.weights.formats import BaseCheckpoint, TensorMeta, as_float, corrupt, require

_WRAPPERS = ("state_dict", "model_state_dict", "model", "module")
_TORCH_HINT = (
    "pip install 'deltaeval[hf]' or 'deltaeval[train]' (install torch first; CPU wheel: pip install torch)"
)


def _flatten(tree: Any, prefix: str, counter: list[int]) -> Iterator[tuple[str, Any]]:
    import torch

    if isinstance(tree, torch.Tensor):
        yield prefix, tree
    elif isinstance(tree, Mapping):
        for key, value in tree.items():
            yield from _flatten(value, f"{prefix}.{key}" if prefix else str(key), counter)
    elif isinstance(tree, (list, tuple)) and any(isinstance(v, (torch.Tensor, Mapping)) for v in tree):
        for index, value in enumerate(tree):
            yield from _flatten(value, f"{prefix}.{index}" if prefix else str(index), counter)
    else:
        counter[0] += 1


def _unwrap(tree: Any) -> tuple[Any, int]:
    """The state dict inside a training checkpoint, and how many sibling entries were left out."""
    if isinstance(tree, Mapping):
        for key in _WRAPPERS:
            inner = tree.get(key)
            if isinstance(inner, Mapping) and inner:
                return inner, len(tree) - 1
    return tree, 0


class TorchCheckpoint(BaseCheckpoint):
    """One ``torch.save`` file holding a state dict."""

    format = "torch"

    def __init__(self, path: Path, *, trust: bool = False) -> None:
        super().__init__(path)
        torch = require("torch", "hf", path, hint=_TORCH_HINT)
        tree = self._load(torch, trust)
        state, left_out = _unwrap(tree)
        counter = [left_out]
        self._tensors: dict[str, Any] = {}
        for name, tensor in _flatten(state, "", counter):
            self._tensors[name] = tensor
            shape = tuple(int(s) for s in tensor.shape)
            dtype = str(tensor.dtype).removeprefix("torch.")
            self._metas[name] = TensorMeta(name, shape, dtype, int(tensor.numel()) * tensor.element_size())
        self.skipped = counter[0]
        if not self._metas:
            raise InputError(
                "this PyTorch file holds no tensors",
                hint="give a state dict saved with torch.save(model.state_dict(), path)",
                path=path,
            )

    def _load(self, torch: Any, trust: bool) -> Any:
        for mmap in (True, False):
            try:
                return torch.load(self.path, map_location="cpu", weights_only=True, mmap=mmap)
            except pickle.UnpicklingError as error:
                if not trust:
                    found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(error))
                    what = f" (it unpickles {found.group(1)})" if found else ""
                    raise InputError(
                        f"this PyTorch file needs pickled Python objects beyond tensors{what}; "
                        "unpickling them can run arbitrary code",
                        hint="pass --trust (trust=True) only if you trust where the file came from, or save "
                        "the state dict alone (torch.save(model.state_dict(), path)) or as safetensors",
                        path=self.path,
                    ) from None
                try:
                    return torch.load(self.path, map_location="cpu", weights_only=False, mmap=mmap)
                except RuntimeError as retry:
                    if mmap and "mmap" in str(retry):
                        continue
                    raise corrupt(self.path, "PyTorch", retry) from None
                except Exception as retry:  # anything the trusted pickle raises
                    raise InputError(
                        f"this PyTorch pickle cannot be loaded even with --trust: {retry}",
                        hint="install the code it refers to, or save the state dict alone",
                        path=self.path,
                    ) from None
            except RuntimeError as error:
                if mmap and "mmap" in str(error):
                    continue  # a legacy (non-zip) file: load it without a memory map
                raise corrupt(self.path, "PyTorch", error) from None
            except (EOFError, OSError, ValueError, AttributeError, KeyError) as error:
                raise corrupt(self.path, "PyTorch", error) from None
        raise corrupt(self.path, "PyTorch", "cannot be loaded")  # pragma: no cover - the loop returns

    def read(self, name: str) -> np.ndarray:
        self.meta(name)
        if not self._tensors:
            raise InputError("the checkpoint is closed", hint="read before close()", path=self.path)
        tensor = self._tensors[name].detach()
        try:
            if tensor.is_floating_point() and tensor.element_size() == 8:
                return as_float(tensor.numpy())
            return as_float(tensor.float().numpy())
        except (RuntimeError, TypeError) as error:  # sparse, quantized or meta tensors
            raise InputError(
                f"tensor {name!r} ({tensor.layout}, {tensor.dtype}) cannot be read as a dense array: {error}",
                hint="save dense, dequantized weights (e.g. model.state_dict() after dequantize())",
                path=self.path,
            ) from None

    def close(self) -> None:
        self._tensors = {}


def open_file(path: Path, *, trust: bool = False) -> TorchCheckpoint:
    """Open one PyTorch state-dict file; ``trust`` allows pickles beyond tensors."""
    return TorchCheckpoint(path, trust=trust)
