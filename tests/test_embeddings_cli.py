"""``deltaeval embeddings`` end to end on precomputed ``.npy`` embeddings, and its bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from deltaeval.cli import main


def _save(folder: Path, queries: np.ndarray, gallery: np.ndarray) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "queries.npy", queries.astype(np.float32))
    np.save(folder / "gallery.npy", gallery.astype(np.float32))
    return folder


@pytest.fixture
def spaces(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Old and new embeddings (the new a rotation of the old) of 40 paired texts, and the texts."""
    rng = np.random.default_rng(0)
    gallery = rng.normal(size=(40, 16))
    queries = gallery + 0.5 * rng.normal(size=gallery.shape)
    rot = np.linalg.qr(rng.normal(size=(16, 16)))[0]
    old = _save(tmp_path / "old", queries, gallery)
    new = _save(tmp_path / "new", queries @ rot, gallery @ rot)
    pairs = tmp_path / "a<script>x.jsonl"
    with pairs.open("w") as handle:
        for i in range(40):
            handle.write(
                json.dumps({"id": f"q{i}", "query": f"question {i}", "answer": f"answer {i}"}) + "\n"
            )
    return old, new, pairs


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert err.startswith("error: ")
    return err


def test_npy_pair_end_to_end(spaces: tuple[Path, Path, Path], tmp_path: Path, capsys) -> None:
    old, new, pairs = spaces
    out = tmp_path / "out"
    args = ["embeddings", str(old), str(new), "--pairs", str(pairs), "--n-boot", "200"]
    files = ["--json", str(out / "r.json"), "--md", str(out / "r.md"), "--html", str(out / "r.html")]
    assert main([*args, *files]) == 0
    terminal = capsys.readouterr().out
    assert "verdict: incompatible" in terminal and "procrustes" in terminal
    report = json.loads((out / "r.json").read_text())
    assert report["schema"] == "deltaeval.embeddings" and report["schema_version"] == 1
    section = report["embeddings"]
    assert section["n_queries"] == 40 and section["verdict"]["label"] == "incompatible"
    assert section["maps"]["maps"][0]["recovery"]["value"] == pytest.approx(1.0)
    html = (out / "r.html").read_text()
    assert "<script>" not in html and "a&lt;script&gt;x.jsonl" in html
    assert "Verdict: incompatible" in (out / "r.md").read_text()
    # the same inputs and seed give the same JSON
    assert main([*args, "--json", str(out / "again.json")]) == 0
    assert (out / "again.json").read_text() == (out / "r.json").read_text()


def test_paired_rows_without_texts(spaces: tuple[Path, Path, Path], capsys) -> None:
    old, _, _ = spaces
    spec = f"{old / 'queries.npy'},{old / 'gallery.npy'}"
    assert main(["embeddings", spec, str(old), "--n-boot", "200", "--no-map"]) == 0
    assert "verdict: compatible" in capsys.readouterr().out


def test_mismatched_rows(spaces: tuple[Path, Path, Path], tmp_path: Path, capsys) -> None:
    old, _, pairs = spaces
    short = _save(tmp_path / "short", np.ones((39, 16)), np.ones((40, 16)))
    assert main(["embeddings", str(old), str(short), "--pairs", str(pairs)]) == 2
    assert "39 rows for 40 queries" in _error(capsys)


def test_unknown_relevant_id(spaces: tuple[Path, Path, Path], tmp_path: Path, capsys) -> None:
    old, new, _ = spaces
    gallery = tmp_path / "gallery.jsonl"
    gallery.write_text("".join(json.dumps({"id": f"g{i}", "text": f"t{i}"}) + "\n" for i in range(40)))
    queries = tmp_path / "queries.jsonl"
    lines = [json.dumps({"id": f"q{i}", "text": f"q{i}", "relevant": f"g{i}"}) for i in range(39)]
    lines.append(json.dumps({"id": "q39", "text": "q39", "relevant": "g1;nope"}))
    queries.write_text("\n".join(lines) + "\n")
    args = ["embeddings", str(old), str(new), "--queries", str(queries), "--gallery", str(gallery)]
    assert main(args) == 2
    err = _error(capsys)
    assert "queries.jsonl:40" in err and "'nope'" in err


def test_empty_file(spaces: tuple[Path, Path, Path], tmp_path: Path, capsys) -> None:
    old, new, _ = spaces
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["embeddings", str(old), str(new), "--pairs", str(empty)]) == 2
    assert "empty" in _error(capsys)


def test_dimension_mismatch_without_a_map(spaces: tuple[Path, Path, Path], tmp_path: Path, capsys) -> None:
    old, _, pairs = spaces
    wide = _save(tmp_path / "wide", np.ones((40, 8)), np.ones((40, 8)))
    assert main(["embeddings", str(old), str(wide), "--pairs", str(pairs), "--no-map"]) == 2
    assert "without a map" in _error(capsys)


def test_pickled_npy_is_refused(spaces: tuple[Path, Path, Path], tmp_path: Path, capsys) -> None:
    old, _, pairs = spaces
    bad = tmp_path / "bad"
    bad.mkdir()
    np.save(bad / "queries.npy", np.array([{"a": 1}] * 40, dtype=object), allow_pickle=True)
    np.save(bad / "gallery.npy", np.ones((40, 16)))
    assert main(["embeddings", str(old), str(bad), "--pairs", str(pairs)]) == 2
    assert "queries.npy" in _error(capsys)


def test_unknown_model(spaces: tuple[Path, Path, Path], capsys) -> None:
    old, _, pairs = spaces
    assert main(["embeddings", str(old), "no-such-model", "--pairs", str(pairs)]) == 2
    assert "unknown embedding model 'no-such-model'" in _error(capsys)
