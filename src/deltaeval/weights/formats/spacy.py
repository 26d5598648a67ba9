"""spaCy pipeline folders: each trained component's thinc weights, read with ``srsly`` (no spaCy import).

A pipeline folder holds ``meta.json``, ``config.cfg`` and one folder per component; a trained component's
``model`` file is thinc's msgpack serialisation: ``nodes`` (index, layer name), ``params`` (one dict of
arrays per node) and ``shims``. Tensors are named ``<component>/<node index>:<layer name>/<param>``, e.g.
``ner/36:hashembed/E``. Only the active pipeline (``meta.json`` → ``pipeline``) is read: disabled components
are left out and named in ``disabled``; shim payloads (wrapped PyTorch/TensorFlow models) and non-array
params are skipped and counted in ``skipped``.
A component's file is decoded once when the folder is opened (for the metadata) and again when one of its
arrays is read; the last component read is kept, so reading in file order decodes each file twice.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from deltaeval.errors import InputError
from deltaeval.weights.formats import BaseCheckpoint, TensorMeta, as_float, corrupt, require


class SpacyCheckpoint(BaseCheckpoint):
    """A spaCy pipeline folder (the one holding ``config.cfg`` and ``meta.json``)."""

    format = "spacy"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._srsly = require("srsly", "weights", path)
        try:
            meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise corrupt(path / "meta.json", "spaCy meta.json", error) from None
        self.name = f"{meta.get('lang', '')}_{meta.get('name', '')}-{meta.get('version', '')}"
        pipeline = [str(c) for c in meta.get("pipeline") or meta.get("components") or []]
        self.disabled = [str(c) for c in meta.get("disabled") or []]
        self.skipped = 0
        self._where: dict[str, tuple[str, int, str]] = {}  # tensor name -> (component, node position, param)
        self._cache: tuple[str, list[dict[str, Any]]] | None = None
        for component in pipeline:
            if component in self.disabled:
                continue
            model = path / component / "model"
            if not model.is_file():
                continue  # rule-based components (attribute_ruler, lemmatizer) have no weights
            self._scan(component, self._decode(component))

    def _decode(self, component: str) -> dict[str, Any]:
        model = self.path / component / "model"
        try:
            data = self._srsly.msgpack_loads(model.read_bytes())
        except Exception as error:  # msgpack raises several unrelated types on truncated input
            raise corrupt(model, "spaCy component model", error) from None
        if not isinstance(data, dict) or not isinstance(data.get("params"), list):
            raise corrupt(model, "spaCy component model", "no thinc 'params' list in it")
        return data

    def _scan(self, component: str, data: dict[str, Any]) -> None:
        nodes = data.get("nodes") or [{} for _ in data["params"]]
        for position, (node, params) in enumerate(zip(nodes, data["params"], strict=False)):
            for param, value in (params or {}).items():
                if not isinstance(value, np.ndarray):
                    self.skipped += 1
                    continue
                label = f"{node.get('index', position)}:{node.get('name', 'node')}"
                name = f"{component}/{label}/{param}"
                shape = tuple(int(s) for s in value.shape)
                self._metas[name] = TensorMeta(name, shape, value.dtype.name, int(value.nbytes))
                self._where[name] = (component, position, str(param))
        self.skipped += sum(1 for shim in data.get("shims") or [] if shim)

    def read(self, name: str) -> np.ndarray:
        self.meta(name)
        component, position, param = self._where[name]
        if self._cache is None or self._cache[0] != component:
            self._cache = None
            self._cache = (component, self._decode(component)["params"])
        try:
            value = self._cache[1][position][param]
        except (IndexError, KeyError, TypeError):
            raise InputError(
                f"array {name!r} is gone from {component}/model since the folder was opened",
                hint="do not change the pipeline folder while comparing it",
                path=self.path,
            ) from None
        return as_float(np.asarray(value))

    def close(self) -> None:
        self._cache = None


def open_file(path: Path, *, trust: bool = False) -> SpacyCheckpoint:
    """Open a spaCy pipeline folder (``trust`` is unused: thinc's msgpack holds no code)."""
    return SpacyCheckpoint(path)
