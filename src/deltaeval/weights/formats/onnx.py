"""ONNX initializers through the ``onnx`` package, with int8 weights dequantized by following the graph.

The tensors are the graph's floating-point and 8-bit integer initializers, under their own names (anonymous
ones such as ``val_49_q`` included) and in their stored orientation (a MatMul weight is ``[in, out]``, the
transpose of ``torch.nn.Linear``). An 8-bit initializer comes back as float after the graph's own
dequantization, found by following its consumers:

- ``DequantizeLinear(x, scale, zero_point)`` (per tensor, per axis, or blocked);
- ``Cast(x → float)`` then an optional ``Sub(zero point)`` then ``Mul(scale)`` (as dynamic-quantization
  exporters write it: the scale is per channel, broadcast by the Mul);
- the weight input of ``QLinearMatMul`` / ``QLinearConv`` with its scale and zero point.

The scale and zero-point initializers folded into a weight are not listed as tensors of their own
(``folded`` names them); integer initializers that are no weights (shapes, indices) are skipped and counted
in ``skipped``. Initializers stored in external data files are read one at a time when asked for; those
stored inside the model file are held by the loaded protobuf.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deltaeval.errors import InputError
from deltaeval.weights.formats import BaseCheckpoint, TensorMeta, as_float, corrupt, require

_FLOAT_TYPES = {"FLOAT", "FLOAT16", "DOUBLE", "BFLOAT16"}
_QUANTIZED_TYPES = {"INT8", "UINT8"}
_ITEMSIZE = {"FLOAT": 4, "FLOAT16": 2, "DOUBLE": 8, "BFLOAT16": 2, "INT8": 1, "UINT8": 1}


@dataclass(frozen=True)
class _Dequant:
    """How one 8-bit initializer becomes float: ``(x - zero_point) * scale`` with numpy broadcasting."""

    scale: str
    zero_point: str | None = None
    axis: int | None = None  # DequantizeLinear: the axis a 1-D scale runs along (None: broadcast as is)
    block_size: int = 0


class OnnxCheckpoint(BaseCheckpoint):
    """One ``.onnx`` model file's initializers."""

    format = "onnx"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        onnx = require("onnx", "weights", path)
        self._helper = onnx.numpy_helper
        try:
            model = onnx.load(str(path), load_external_data=False)
        except Exception as error:  # DecodeError and friends: truncated or not an ONNX model
            raise corrupt(path, "ONNX", error) from None
        graph = model.graph
        type_name = onnx.TensorProto.DataType.Name
        self._inits: dict[str, Any] = {init.name: init for init in graph.initializer}
        self._constants: dict[str, Any] = {}
        for node in graph.node:
            if node.op_type == "Constant":
                for attribute in node.attribute:
                    if attribute.name == "value":
                        self._constants[node.output[0]] = attribute.t
        self._dequant: dict[str, _Dequant] = {}
        consumers: dict[str, list[Any]] = {}
        for node in graph.node:
            for name in node.input:
                consumers.setdefault(name, []).append(node)
        for name, init in self._inits.items():
            if type_name(init.data_type) in _QUANTIZED_TYPES:
                plan = self._follow(name, consumers)
                if plan is not None:
                    self._dequant[name] = plan
        self.folded: dict[str, list[str]] = {
            name: [n for n in (plan.scale, plan.zero_point) if n is not None]
            for name, plan in self._dequant.items()
        }
        hidden = {n for names in self.folded.values() for n in names}
        self.skipped = 0
        for name, init in self._inits.items():
            stored = type_name(init.data_type)
            if name in hidden:
                continue
            if stored not in _FLOAT_TYPES and stored not in _QUANTIZED_TYPES:
                self.skipped += 1
                continue
            shape = tuple(int(d) for d in init.dims)
            nbytes = int(np.prod(shape, dtype=np.int64)) * _ITEMSIZE[stored]
            self._metas[name] = TensorMeta(name, shape, stored.lower(), nbytes)

    # ------------------------------------------------------------------ graph following

    def _known(self, name: str) -> bool:
        return name in self._inits or name in self._constants

    def _follow(self, name: str, consumers: dict[str, list[Any]]) -> _Dequant | None:
        """The dequantization the graph applies to an 8-bit initializer, or None when none is found."""
        for node in consumers.get(name, []):
            inputs = list(node.input)
            if node.op_type == "DequantizeLinear" and inputs[0] == name and self._known(inputs[1]):
                zero = inputs[2] if len(inputs) > 2 and inputs[2] and self._known(inputs[2]) else None
                attributes = {a.name: a.i for a in node.attribute}
                return _Dequant(
                    inputs[1], zero, int(attributes.get("axis", 1)), int(attributes.get("block_size", 0))
                )
            qlinear = node.op_type in ("QLinearMatMul", "QLinearConv") and len(inputs) > 5
            if qlinear and inputs[3] == name and self._known(inputs[4]):
                zero = inputs[5] if inputs[5] and self._known(inputs[5]) else None
                return _Dequant(inputs[4], zero, 0 if node.op_type == "QLinearConv" else None)
            if node.op_type == "Cast":
                plan = self._cast_chain(node.output[0], consumers)
                if plan is not None:
                    return plan
        return None

    def _cast_chain(self, value: str, consumers: dict[str, list[Any]]) -> _Dequant | None:
        """Cast output → optional Sub(zero point) → Mul(scale)."""
        zero = None
        nodes = consumers.get(value, [])
        if len(nodes) == 1 and nodes[0].op_type == "Sub" and nodes[0].input[0] == value:
            zero = self._through_cast(nodes[0].input[1], consumers)
            if zero is None:
                return None
            value = nodes[0].output[0]
            nodes = consumers.get(value, [])
        if len(nodes) != 1 or nodes[0].op_type != "Mul":
            return None
        others = [x for x in nodes[0].input if x != value]
        if len(others) != 1 or not self._known(others[0]):
            return None
        return _Dequant(others[0], zero, None)

    def _through_cast(self, name: str, consumers: dict[str, list[Any]]) -> str | None:
        """An initializer given directly, or through a Cast node (as zero points often are)."""
        if self._known(name):
            return name
        for init in self._inits:
            for node in consumers.get(init, []):
                if node.op_type == "Cast" and node.output[0] == name:
                    return init
        return None

    # ------------------------------------------------------------------ reading

    def _array(self, name: str) -> np.ndarray:
        tensor = self._inits.get(name)
        if tensor is None:
            return self._helper.to_array(self._constants[name])
        base = self.path.parent.resolve()
        for entry in tensor.external_data:
            if entry.key == "location":
                target = (base / entry.value).resolve()
                if not target.is_relative_to(base):
                    raise InputError(
                        f"initializer {name!r} points outside the model's folder ({entry.value!r})",
                        hint="keep external data files beside the .onnx file",
                        path=self.path,
                    )
                if not target.is_file():
                    raise InputError(
                        f"initializer {name!r}: external data file {entry.value!r} is missing",
                        hint="copy the model's external data files beside the .onnx file",
                        path=self.path,
                    )
        try:
            return self._helper.to_array(tensor, base_dir=str(base))
        except (ValueError, OSError, TypeError) as error:
            raise corrupt(self.path, "ONNX", error) from None

    def read(self, name: str) -> np.ndarray:
        meta = self.meta(name)
        if not self._inits:
            raise InputError("the checkpoint is closed", hint="read before close()", path=self.path)
        plan = self._dequant.get(name)
        values = self._array(name)
        if plan is None:
            return as_float(values.reshape(meta.shape))
        values = values.astype(np.float32)
        scale = self._array(plan.scale).astype(np.float32)
        zero = self._array(plan.zero_point).astype(np.float32) if plan.zero_point else None
        if plan.axis is not None and scale.ndim >= 1 and scale.size > 1:
            axis = plan.axis % values.ndim
            if plan.block_size and scale.ndim == values.ndim:
                scale = np.repeat(scale, plan.block_size, axis=axis)[tuple(slice(0, n) for n in values.shape)]
                if zero is not None:
                    zero = np.repeat(zero, plan.block_size, axis=axis)[
                        tuple(slice(0, n) for n in values.shape)
                    ]
            elif scale.ndim == 1:
                view = [1] * values.ndim
                view[axis] = -1
                scale = scale.reshape(view)
                zero = zero.reshape(view) if zero is not None else None
        try:
            if zero is not None:
                values -= zero
            values *= scale
        except ValueError as error:
            raise corrupt(
                self.path, "ONNX", f"the scale of {name!r} does not fit its shape: {error}"
            ) from None
        return as_float(values)

    def close(self) -> None:
        self._inits = {}
        self._constants = {}


def open_file(path: Path, *, trust: bool = False) -> OnnxCheckpoint:
    """Open one ONNX model (``trust`` is unused: initializers are plain data)."""
    return OnnxCheckpoint(path)
