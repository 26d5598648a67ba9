"""Generic Parquet through a ColumnMapping (needs pyarrow: ``pip install 'deltaeval[parquet]'``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deltaeval.errors import InputError
from deltaeval.io.base import ColumnMapping
from deltaeval.io.reading import Record, check_file
from deltaeval.io.records import generic_run
from deltaeval.types import Run


def read_parquet(path: Path) -> tuple[list[str], list[Record]]:
    """The column names and rows (numbered from 1) of a Parquet file."""
    table = read_table(path)
    rows: list[dict[str, Any]] = table.to_pylist()
    return list(table.schema.names), [(number, row) for number, row in enumerate(rows, start=1)]


def read_table(path: Path) -> Any:
    """The Parquet file as a pyarrow Table."""
    check_file(path)
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError(
            "reading Parquet needs pyarrow, which is not installed",
            hint="pip install 'deltaeval[parquet]'",
            path=path,
        ) from None
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError, ValueError) as err:
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(
            f"cannot read as Parquet: {message}",
            hint="check that the file is a complete Parquet file, or pass --format",
            path=path,
        ) from None


def load(path: Path, *, mapping: ColumnMapping, strict: bool) -> list[Run]:
    """One run from a Parquet file; errors name the row (1-based). A plain file is read into
    columns (:mod:`deltaeval.io.columnar`)."""
    from deltaeval.io.columnar import run_from_table

    table = read_table(path)
    columnar = run_from_table(table, path=path, name=path.stem, mapping=mapping)
    if columnar is not None:
        return [columnar]
    rows = [(number, row) for number, row in enumerate(table.to_pylist(), start=1)]
    columns = list(table.schema.names)
    del table
    run = generic_run(rows, columns, path=path, name=path.stem, mapping=mapping, strict=strict, unit="row")
    return [run]
