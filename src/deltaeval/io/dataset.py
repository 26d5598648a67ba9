"""Datasets of examples to run models on: JSONL/JSON/CSV/Parquet with id, input, reference, tags."""

from __future__ import annotations

from pathlib import Path

from deltaeval.errors import DuplicateIdError, InputError
from deltaeval.io.base import ColumnMapping
from deltaeval.io.parquet import read_parquet
from deltaeval.io.reading import check_file, columns_of, read_csv, read_records
from deltaeval.io.records import generic_run
from deltaeval.types import Example


def load_dataset(
    path: str | Path, *, mapping: ColumnMapping | None = None, strict: bool = True
) -> list[Example]:
    """The examples of a dataset file.

    Columns: ``id`` (else a hash of the input), ``input`` (text, or chat ``messages``),
    optional ``reference`` and tags (other columns, ``--tag COL``, a JSONL ``tags`` object). Ids must be
    unique unless ``strict`` is False (then the first occurrence is kept).
    """
    path = Path(path)
    check_file(path)
    suffix = path.suffix.lower()
    unit, header_line = "line", None
    if suffix in {".csv", ".tsv"}:
        columns, records, _ = read_csv(path)
        header_line = 1
    elif suffix in {".parquet", ".pq"}:
        columns, records = read_parquet(path)
        unit = "row"
    else:
        records = read_records(path)
        columns = columns_of(records)
    try:
        run = generic_run(
            records,
            columns,
            path=path,
            name=path.stem,
            mapping=mapping or ColumnMapping(),
            strict=strict,
            unit=unit,
            header_line=header_line,
            require_output=False,
        )
    except DuplicateIdError as err:
        raise DuplicateIdError(
            err.message, hint="give every example a unique id", path=path, line=err.line
        ) from None
    if all(e.input is None for e in run.examples):
        raise InputError(
            "the dataset has no input column",
            hint="name it with --input COLUMN (usual names: input, prompt, question, instruction, messages)",
            path=path,
        )
    return list(run.examples)
