"""Retrieval tasks from files: paired texts (JSON list, CSV) and queries against a gallery."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deltaeval.embeddings.retrieval import load_pairs, load_queries_gallery
from deltaeval.errors import InputError


def test_alpaca_style_json_list_cut_and_limited(tmp_path: Path) -> None:
    path = tmp_path / "model_outputs.json"
    records = [{"instruction": f"instruction {i}", "output": "x" * 50, "generator": "m"} for i in range(5)]
    path.write_text(json.dumps(records))
    task = load_pairs(path, max_chars=10, limit=3)
    assert task.query_texts == ["instructio"] * 3
    assert task.gallery_texts == ["x" * 10] * 3
    assert task.relevant == [[0], [1], [2]]
    assert "cut at 10 characters" in task.source


def test_csv_queries_with_several_relevant_items(tmp_path: Path) -> None:
    gallery = tmp_path / "gallery.csv"
    gallery.write_text("id,text\na,apples\nb,bananas\nc,cherries\n")
    queries = tmp_path / "queries.csv"
    queries.write_text('id,text,relevant\nq1,fruit,a;c\nq2,yellow,b\nq3,red,"[""c""]"\n')
    task = load_queries_gallery(queries, gallery)
    assert task.relevant == [[0, 2], [1], [2]]
    assert task.gallery_ids == ["a", "b", "c"]


def test_missing_text_column_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"query": "a", "answer": "b"}\n{"query": "c"}\n')
    with pytest.raises(InputError, match=r"pairs.jsonl:2: no gallery text"):
        load_pairs(path)


def test_duplicate_gallery_id(tmp_path: Path) -> None:
    gallery = tmp_path / "g.jsonl"
    gallery.write_text('{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n')
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"id": "q", "text": "x", "relevant": "a"}\n')
    with pytest.raises(InputError, match="duplicate gallery id 'a'"):
        load_queries_gallery(queries, gallery)
