"""Generic CSV through a ColumnMapping (one row per example; the header is line 1)."""

from __future__ import annotations

from pathlib import Path

from deltaeval.io.base import ColumnMapping
from deltaeval.io.reading import read_csv
from deltaeval.io.records import generic_run
from deltaeval.types import Run


def load(path: Path, *, mapping: ColumnMapping, strict: bool) -> list[Run]:
    """One run from a CSV file (``.tsv``: tab-separated); errors name the row's physical line.

    Rows with fewer cells than the header become notes (errors under ``strict``). A plain file is
    read into columns when pyarrow is installed (:mod:`deltaeval.io.columnar_csv`), with the same
    result; any other file is read row by row.
    """
    from deltaeval.io.columnar_csv import read_csv_columnar

    columnar = read_csv_columnar(path, mapping=mapping, strict=strict)
    if columnar is not None:
        return [columnar]
    table = read_csv(path, strict=strict)
    run = generic_run(
        table.rows,
        table.header,
        path=path,
        name=path.stem,
        mapping=mapping,
        strict=strict,
        header_line=1,
        notes=table.notes,
    )
    return [run]
