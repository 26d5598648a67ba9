"""Checkpoint readers: every format behind one interface, real model files where installed.

Synthetic files are written by the tests; real ones (SmolLM2 GGUF, MiniLM safetensors/ONNX, spaCy
en_core_web_sm 3.6/3.8) come from installed packages and the tests skip, saying why, when they are absent.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from deltaeval.errors import FormatError, InputError
from deltaeval.weights.formats import FORMATS, Checkpoint, TensorMeta, detect_format, open_checkpoint


def _all(checkpoint: Checkpoint) -> dict[str, np.ndarray]:
    return {meta.name: checkpoint.read(meta.name) for meta in checkpoint.tensors()}


def _check_contract(checkpoint: Checkpoint) -> None:
    """What every reader promises: metadata shape = read shape, float32/64, C-contiguous."""
    assert checkpoint.format in FORMATS
    for meta in checkpoint.tensors():
        assert isinstance(meta, TensorMeta)
        array = checkpoint.read(meta.name)
        assert array.shape == meta.shape, meta.name
        assert array.dtype in (np.float32, np.float64), meta.name
        assert array.flags.c_contiguous, meta.name


def _safetensors_file(path: Path, tensors: dict[str, tuple[str, list[int], bytes]]) -> Path:
    """A safetensors file written byte by byte (any dtype, BF16 included)."""
    header: dict[str, object] = {"__metadata__": {"format": "np"}}
    offset = 0
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(d for _, _, d in tensors.values()))
    return path


def _bf16(values: np.ndarray) -> bytes:
    return (values.astype(np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()


# ---------------------------------------------------------------- npz


def test_npz_reads_each_array_as_float_in_file_order(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    arrays = {
        "layer.0.weight": rng.normal(size=(5, 3)).astype(np.float32),
        "layer.0.bias": rng.normal(size=5),  # float64 stays float64
        "half": np.arange(4, dtype=np.float16),
        "fortran": np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)),
        "counts": np.arange(3, dtype=np.int64),
        "scalar": np.float32(2.5),
    }
    for save in (np.savez, np.savez_compressed):
        path = tmp_path / f"{save.__name__}.npz"
        save(path, **arrays)
        assert detect_format(path) == "npz"
        with open_checkpoint(path) as checkpoint:
            _check_contract(checkpoint)
            assert [m.name for m in checkpoint.tensors()] == list(arrays)
            metas = {m.name: m for m in checkpoint.tensors()}
            assert metas["layer.0.weight"] == TensorMeta("layer.0.weight", (5, 3), "float32", 60)
            got = _all(checkpoint)
        assert got["layer.0.bias"].dtype == np.float64
        assert got["half"].dtype == np.float32 and got["counts"].dtype == np.float32
        for name, array in arrays.items():
            np.testing.assert_array_equal(got[name], np.asarray(array, dtype=got[name].dtype))


def test_npz_with_pickled_objects_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "objects.npz"
    np.savez(path, ok=np.ones(2), bad=np.array([{"a": 1}], dtype=object))
    with pytest.raises(InputError, match=r"objects\.npz.*Python objects.*fix:"):
        open_checkpoint(path)


# ---------------------------------------------------------------- safetensors


def test_safetensors_numpy_types_and_bf16_without_torch(tmp_path: Path) -> None:
    pytest.importorskip("safetensors", reason="the safetensors reader needs the safetensors package")
    values = np.array([[1.5, -2.0, 3.25], [0.1, 1e-3, -7.0]], dtype=np.float32)
    e5m2 = np.array([0x3C, 0xBC, 0x00, 0x40], dtype=np.uint8)  # 1, -1, 0, 2 as F8_E5M2
    e4m3 = np.array([0x38, 0xB8, 0x01, 0x7E], dtype=np.uint8)  # 1, -1, 2**-9, 448 as F8_E4M3
    path = _safetensors_file(
        tmp_path / "mixed.safetensors",
        {
            "w.f32": ("F32", [2, 3], values.tobytes()),
            "w.bf16": ("BF16", [2, 3], _bf16(values)),
            "w.f16": ("F16", [3], np.array([1, 2, 3], np.float16).tobytes()),
            "w.f64": ("F64", [2], np.array([1.0, 2.0]).tobytes()),
            "w.e5m2": ("F8_E5M2", [4], e5m2.tobytes()),
            "w.e4m3": ("F8_E4M3", [2, 2], e4m3.tobytes()),
            "w.i64": ("I64", [2], np.array([3, 4], np.int64).tobytes()),
        },
    )
    assert detect_format(path) == "safetensors"
    with open_checkpoint(path) as checkpoint:
        _check_contract(checkpoint)
        metas = {m.name: m for m in checkpoint.tensors()}
        assert metas["w.bf16"] == TensorMeta("w.bf16", (2, 3), "BF16", 12)
        got = _all(checkpoint)
    np.testing.assert_array_equal(got["w.f32"], values)
    # BF16 keeps 8 bits of mantissa: truncation error below 2**-7 relative
    np.testing.assert_allclose(got["w.bf16"], values, rtol=2**-7)
    assert got["w.bf16"][0, 0] == 1.5
    assert got["w.f64"].dtype == np.float64
    np.testing.assert_array_equal(got["w.e5m2"], [1, -1, 0, 2])
    np.testing.assert_array_equal(got["w.e4m3"], [[1, -1], [2.0**-9, 448]])
    np.testing.assert_array_equal(got["w.i64"], [3, 4])


def test_safetensors_written_by_the_library_and_sharded_folders(tmp_path: Path) -> None:
    numpy_io = pytest.importorskip("safetensors.numpy", reason="needs the safetensors package")
    rng = np.random.default_rng(1)
    first = {"a.weight": rng.normal(size=(4, 4)).astype(np.float32)}
    second = {"b.weight": rng.normal(size=(2, 8)).astype(np.float16)}
    numpy_io.save_file(first, str(tmp_path / "model-00001-of-00002.safetensors"))
    numpy_io.save_file(second, str(tmp_path / "model-00002-of-00002.safetensors"))
    index = {
        "weight_map": {
            "a.weight": "model-00001-of-00002.safetensors",
            "b.weight": "model-00002-of-00002.safetensors",
        }
    }
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    with open_checkpoint(tmp_path) as checkpoint:
        assert checkpoint.format == "safetensors"
        _check_contract(checkpoint)
        got = _all(checkpoint)
    np.testing.assert_array_equal(got["a.weight"], first["a.weight"])
    np.testing.assert_array_equal(got["b.weight"], second["b.weight"].astype(np.float32))


# ---------------------------------------------------------------- bad input


def test_missing_empty_and_unknown_files_are_one_line_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nowhere\.safetensors: no such file.*fix: check the path"):
        open_checkpoint(tmp_path / "nowhere.safetensors")
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.safetensors: the file is empty"):
        open_checkpoint(empty)
    unknown = tmp_path / "notes.txt"
    unknown.write_text("not weights\n")
    with pytest.raises(FormatError, match=r"notes\.txt: unknown checkpoint format.*fix: give one of"):
        open_checkpoint(unknown)
    with pytest.raises(FormatError, match=r"unknown checkpoint format 'keras'"):
        open_checkpoint(unknown, format="keras")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "README.md").write_text("no weights here\n")
    with pytest.raises(FormatError, match=r"folder: no checkpoint found in this folder"):
        open_checkpoint(folder)
    for error in (FormatError, InputError):
        try:
            open_checkpoint(unknown)
        except error as caught:
            assert "\n" not in str(caught)


def test_truncated_npz_is_an_input_error(tmp_path: Path) -> None:
    whole = tmp_path / "whole.npz"
    np.savez(whole, w=np.ones((64, 64), np.float32))
    data = whole.read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(data[: len(data) // 2])
    pattern = r"cut\.npz: cannot read this npz file: it is truncated or corrupt"
    with pytest.raises(InputError, match=pattern), open_checkpoint(cut) as checkpoint:
        _all(checkpoint)


def test_truncated_safetensors_is_an_input_error(tmp_path: Path) -> None:
    pytest.importorskip("safetensors", reason="needs the safetensors package")
    whole = _safetensors_file(
        tmp_path / "whole.safetensors", {"w": ("F32", [16, 16], np.ones(256, np.float32).tobytes())}
    )
    data = whole.read_bytes()
    for keep, name in ((len(data) - 100, "data.safetensors"), (40, "header.safetensors")):
        cut = tmp_path / name
        cut.write_bytes(data[:keep])
        with pytest.raises(InputError, match=rf"{name}: .*truncated or corrupt.*fix:"):
            open_checkpoint(cut, format="safetensors")
        with pytest.raises(InputError, match=rf"{name}: "):
            open_checkpoint(cut)  # detection alone must not let it through either
