"""Generic JSONL (or a JSON list of records) through a ColumnMapping."""

from __future__ import annotations

from pathlib import Path

from deltaeval.io.base import ColumnMapping
from deltaeval.io.reading import columns_of, read_records
from deltaeval.io.records import generic_run
from deltaeval.types import Run


def load(path: Path, *, mapping: ColumnMapping, strict: bool) -> list[Run]:
    """One run from a JSONL file (one object per line) or a JSON list of objects.

    Roles come from ``mapping``, else from the usual column names; a ``tags`` object becomes
    the example's tags and ``messages`` (chat messages) is accepted as the input. A plain
    JSONL file is read into columns when pyarrow is installed (:mod:`deltaeval.io.columnar`).
    """
    from deltaeval.io.columnar import read_jsonl_columnar

    columnar = read_jsonl_columnar(path, mapping=mapping, strict=strict)
    if columnar is not None:
        return [columnar]
    records = read_records(path)
    run = generic_run(records, columns_of(records), path=path, name=path.stem, mapping=mapping, strict=strict)
    return [run]
