"""Retrieval tasks: query texts, gallery texts and which gallery items each query should find.

Two ways to give one:

- **paired texts** (``load_pairs``): one file of records, query ``i`` relevant to gallery item ``i``.
  A JSON list, JSONL or CSV whose records have a query column (``query``, ``instruction``,
  ``question`` or ``input``) and a gallery column (``gallery``, ``passage``, ``document``,
  ``answer``, ``output``), optionally ``id``. An AlpacaEval ``model_outputs.json`` is such a file
  (instructions as queries, the model's answers as the gallery).
- **queries and gallery** (``load_queries_gallery``): a gallery file (``id``, ``text``) and a query
  file (``id``, ``text``, ``relevant``: a gallery id, a JSON list of them, or ids separated by ``;``).
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deltaeval.errors import InputError

QUERY_COLUMNS = ("query", "instruction", "question", "input")
GALLERY_COLUMNS = ("gallery", "passage", "document", "answer", "output")


@dataclass(frozen=True)
class RetrievalTask:
    """Queries, gallery and relevance (gallery row indices per query)."""

    query_ids: list[str]
    query_texts: list[str]
    gallery_ids: list[str]
    gallery_texts: list[str]
    relevant: list[list[int]]
    source: str = ""
    notes: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        """The task as the JSON report records it."""
        return {
            "source": self.source,
            "n_queries": len(self.query_ids),
            "n_gallery": len(self.gallery_ids),
            "texts_hash": texts_hash([*self.query_texts, "\0", *self.gallery_texts]),
        }


def texts_hash(texts: Sequence[str]) -> str:
    """sha256 of the texts in order (cache keys, reports)."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\0\1")
    return digest.hexdigest()


def _records(path: Path) -> list[tuple[int | None, dict[str, Any]]]:
    """(line, record) pairs of a JSON list, JSONL or CSV file."""
    if not path.is_file():
        raise InputError("file not found", path=path, hint="give an existing JSON, JSONL or CSV file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read: {exc}", path=path, hint="give a UTF-8 text file") from exc
    if not text.strip():
        raise InputError("the file is empty", path=path, hint="give at least one record")
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        return [(i + 2, dict(row)) for i, row in enumerate(reader)]
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"invalid JSON: {exc.msg}", path=path, line=exc.lineno, hint="fix the JSON"
            ) from exc
        out = [(None, r) for r in data]
    else:
        out = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                out.append((number, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise InputError(
                    f"invalid JSON: {exc.msg}", path=path, line=number, hint="fix the line"
                ) from exc
    for line, record in out:
        if not isinstance(record, dict):
            raise InputError(
                "a record is not an object", path=path, line=line, hint="one JSON object per record"
            )
    if not out:
        raise InputError("the file holds no records", path=path, hint="give at least one record")
    return out


def _column(record: dict[str, Any], names: Sequence[str], path: Path, line: int | None, what: str) -> str:
    for name in names:
        value = record.get(name)
        if isinstance(value, str):
            return value
    raise InputError(
        f"no {what} text (looked for {', '.join(names)})",
        path=path,
        line=line,
        hint=f"give each record a text field named one of: {', '.join(names)}",
    )


def _cut(text: str, max_chars: int | None) -> str:
    return text if max_chars is None else text[:max_chars]


def load_pairs(path: str | Path, *, max_chars: int | None = None, limit: int | None = None) -> RetrievalTask:
    """Paired texts: query ``i`` is relevant to gallery item ``i`` only. ``max_chars`` cuts every
    text; ``limit`` keeps the first ``limit`` pairs."""
    path = Path(path)
    records = _records(path)[:limit] if limit else _records(path)
    qids, qtexts, gtexts = [], [], []
    for row, (line, record) in enumerate(records):
        qtexts.append(_cut(_column(record, QUERY_COLUMNS, path, line, "query"), max_chars))
        gtexts.append(_cut(_column(record, GALLERY_COLUMNS, path, line, "gallery"), max_chars))
        qids.append(str(record.get("id", row)))
    return RetrievalTask(
        query_ids=qids,
        query_texts=qtexts,
        gallery_ids=list(qids),
        gallery_texts=gtexts,
        relevant=[[i] for i in range(len(qids))],
        source=f"{path.name}: {len(qids)} paired texts"
        + (f", cut at {max_chars} characters" if max_chars else ""),
    )


def _relevant_ids(value: Any, path: Path, line: int | None) -> list[str]:
    if isinstance(value, list):
        ids = [str(v) for v in value]
    elif isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                ids = [str(v) for v in json.loads(text)]
            except (json.JSONDecodeError, TypeError) as exc:
                raise InputError("relevant is not a JSON list", path=path, line=line, hint="fix it") from exc
        else:
            ids = [part.strip() for part in text.split(";") if part.strip()]
    elif isinstance(value, int | float) and not isinstance(value, bool):
        ids = [str(value)]
    else:
        ids = []
    if not ids:
        raise InputError(
            "a query has no relevant gallery id",
            path=path,
            line=line,
            hint="give each query a 'relevant' field: a gallery id, a list of ids, or ids separated by ';'",
        )
    return ids


def load_queries_gallery(
    queries: str | Path, gallery: str | Path, *, max_chars: int | None = None, limit: int | None = None
) -> RetrievalTask:
    """A gallery file (``id``, ``text``) and a query file (``id``, ``text``, ``relevant``)."""
    qpath, gpath = Path(queries), Path(gallery)
    gids, gtexts, index = [], [], {}
    for line, record in _records(gpath):
        gid = str(record.get("id", "")).strip()
        if not gid:
            raise InputError(
                "a gallery record has no id", path=gpath, line=line, hint="give every record an id"
            )
        if gid in index:
            raise InputError(f"duplicate gallery id {gid!r}", path=gpath, line=line, hint="make ids unique")
        index[gid] = len(gids)
        gids.append(gid)
        gtexts.append(_cut(_column(record, ("text", *GALLERY_COLUMNS), gpath, line, "gallery"), max_chars))
    qids, qtexts, relevant = [], [], []
    records = _records(qpath)
    for row, (line, record) in enumerate(records[:limit] if limit else records):
        qids.append(str(record.get("id", row)))
        qtexts.append(_cut(_column(record, ("text", *QUERY_COLUMNS), qpath, line, "query"), max_chars))
        rows = []
        for gid in _relevant_ids(record.get("relevant"), qpath, line):
            if gid not in index:
                raise InputError(
                    f"relevant id {gid!r} is not in the gallery {gpath.name}",
                    path=qpath,
                    line=line,
                    hint="use ids of the gallery file",
                )
            rows.append(index[gid])
        relevant.append(sorted(set(rows)))
    return RetrievalTask(
        query_ids=qids,
        query_texts=qtexts,
        gallery_ids=gids,
        gallery_texts=gtexts,
        relevant=relevant,
        source=f"{qpath.name} ({len(qids)} queries) against {gpath.name} ({len(gids)} items)"
        + (f", cut at {max_chars} characters" if max_chars else ""),
    )


def paired_rows(n: int, source: str) -> RetrievalTask:
    """A task with no texts: ``n`` queries, query ``i`` relevant to gallery row ``i``."""
    ids = [str(i) for i in range(n)]
    return RetrievalTask(
        query_ids=ids,
        query_texts=[],
        gallery_ids=list(ids),
        gallery_texts=[],
        relevant=[[i] for i in range(n)],
        source=source,
    )
