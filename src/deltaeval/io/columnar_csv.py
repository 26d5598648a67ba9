"""Large plain CSV (TSV) files read straight into columns (pyarrow), as the per-row reader reads them.

:func:`read_csv_columnar` reads the file with ``pyarrow.csv`` — every column as text, no type
inference, no cell read as null — drops the rows whose every cell is blank (as
:func:`deltaeval.io.reading.read_csv` skips them), reads the score and correct columns as
:func:`~deltaeval.io.base.parse_float` and :func:`~deltaeval.io.base.parse_bool` read a cell, and
builds the run with :func:`deltaeval.io.columnar.run_from_table`. It returns None, and the file is
read row by row (which also gives the precise error or note), whenever the two readers could
differ:

- a quote that neither opens a cell (at the start of a cell), closes one (before a separator, a
  line end or the end of the file) nor is half of a doubled quote: Python's strict reader refuses
  text after a closing quote (``"a"b``) and reads a quote inside an unquoted cell as it is, where
  pyarrow reads on; or a quote left open at the end of the file;
- a row with fewer or more cells than the header, a header pyarrow reads otherwise, a header
  name that repeats, text that is not UTF-8, a file with no rows;
- a score that is not a finite number, a correct cell that is not a boolean;
- whatever :mod:`deltaeval.io.columnar` leaves to the per-row reader (blank or repeated ids, a
  ``tags`` or ``messages`` column, output fields such as ``error`` or ``tokens``);
- a missing column (the per-row reader reports the file's first problem, whichever it is).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from deltaeval.columnar import ColumnarRun, blank_to_null, is_blank
from deltaeval.errors import DeltaEvalError
from deltaeval.io.base import ColumnMapping, parse_bool, parse_float
from deltaeval.io.columnar import run_from_table
from deltaeval.io.reading import _delimiter
from deltaeval.io.records import resolve_roles

if TYPE_CHECKING:
    import pyarrow as pa

_BOM = b"\xef\xbb\xbf"
_QUOTE = ord('"')
#: Bytes scanned at once for quotes (bounds the positions array: at most 8 bytes per byte read).
_CHUNK = 1 << 22
#: A number as ``float()`` reads it and pyarrow's cast to float64 reads it alike (correctly rounded).
_DECIMAL = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"


class _NotPlain(Exception):
    """The file needs the per-row reader."""


def _pyarrow_csv() -> Any:
    try:
        import pyarrow
        import pyarrow.compute
        import pyarrow.csv
    except ImportError:
        return None
    return pyarrow


def quotes_agree(path: Path, delimiter: str, *, chunk: int = _CHUNK) -> int | None:
    """The number of quotes (``"``) in the file when every one opens a cell, closes one or is half
    of a doubled quote inside a quoted cell; None when one does not (or a quote is left open).

    Read from the start, the quotes alternate between opening (the 1st, 3rd …) and closing. An
    opening quote must follow the start of the file, a separator, a line end or a closing quote
    (then the two are a doubled quote); a closing quote must come before a separator, a line end,
    an opening quote or the end of the file. Under that rule Python's strict ``csv`` reader and
    pyarrow's read every cell alike; a quote inside an unquoted cell (``a"b``) breaks it, though
    both would read it, and sends the file to the per-row reader. The file is scanned ``chunk``
    bytes at a time.
    """
    edges = np.zeros(256, dtype=bool)
    for byte in (delimiter.encode(), b"\n", b"\r", b'"'):
        edges[byte[0]] = True
    count, previous, pending = 0, ord("\n"), False
    with path.open("rb") as handle:
        if handle.read(len(_BOM)) != _BOM:
            handle.seek(0)
        while block := handle.read(chunk):
            data = np.frombuffer(block, dtype=np.uint8)
            if pending and not edges[data[0]]:
                return None
            quotes = np.flatnonzero(data == _QUOTE)
            pending = False
            if len(quotes):
                opening = (count + np.arange(len(quotes))) % 2 == 0
                before = np.where(quotes > 0, data[quotes - 1], previous)
                if not edges[before[opening]].all():
                    return None
                inside = quotes + 1 < len(data)
                after = data[quotes[~opening & inside] + 1]
                if not edges[after].all():
                    return None
                pending = not opening[-1] and not inside[-1]
                count += len(quotes)
            previous = int(data[-1])
    return count if count % 2 == 0 else None


def _header(path: Path, delimiter: str) -> list[str] | None:
    """The header's cells as Python's csv reader reads them (not stripped), or None."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for cells in csv.reader(handle, delimiter=delimiter, strict=True):
                if cells:
                    return cells
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    return None


def read_csv_columnar(path: Path, *, mapping: ColumnMapping, strict: bool) -> ColumnarRun | None:
    """The run of a plain CSV (or ``.tsv``) file, read into columns; None when pyarrow is missing
    or the file needs the per-row reader (see the module's list). ``strict`` changes nothing here:
    a file it would affect (short rows, repeated ids) is read row by row."""
    pa = _pyarrow_csv()
    if pa is None:
        return None
    delimiter = _delimiter(path)
    raw = _header(path, delimiter)
    if raw is None:
        return None
    names = [c.strip() for c in raw]
    if len(set(names)) != len(names):
        return None
    try:
        roles = resolve_roles(names, mapping, path=path, line=1)
        quotes = quotes_agree(path, delimiter)
        if quotes is None:
            return None
        table = pa.csv.read_csv(
            path,
            parse_options=pa.csv.ParseOptions(delimiter=delimiter, newlines_in_values=quotes > 0),
            convert_options=pa.csv.ConvertOptions(
                column_types={name: pa.string() for name in raw},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        if table.schema.names != raw or any(not pa.types.is_string(t) for t in table.schema.types):
            return None
        table = _without_blank_rows(table.rename_columns(names))
        if roles.score is not None:
            table = _replace(table, roles.score, _scores(table.column(roles.score), path=path))
        if roles.correct is not None:
            table = _replace(table, roles.correct, _booleans(table.column(roles.correct), path=path))
    except (_NotPlain, DeltaEvalError, pa.ArrowException, OSError, ValueError):
        return None
    return run_from_table(table, path=path, name=path.stem, mapping=mapping)


def _replace(table: pa.Table, name: str, array: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, array)


def _without_blank_rows(table: pa.Table) -> pa.Table:
    """``table`` without the rows whose every cell is blank (the per-row reader skips them)."""
    import pyarrow.compute as pc

    blank = None
    for column in table.columns:
        cells = is_blank(column)
        blank = cells if blank is None else pc.and_(blank, cells)
        if not pc.any(blank).as_py():
            return table
    return table if blank is None else table.filter(pc.invert(blank))


def _distinct(array: pa.Array, read: Any, kind: Any) -> pa.Array:
    """``read(cell)`` of every cell, computed once per distinct cell."""
    import pyarrow as pa

    encoded = array.dictionary_encode()
    values = pa.array([read(v) for v in encoded.dictionary.to_pylist()], kind)
    return values.take(encoded.indices)


def _scores(column: pa.ChunkedArray, *, path: Path) -> pa.Array:
    """The score cells as :func:`~deltaeval.io.base.parse_float` reads them (blank: null); raises
    _NotPlain where it would raise."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cells = blank_to_null(column.combine_chunks())
    if pc.all(pc.match_substring_regex(cells, _DECIMAL)).as_py() is not False:
        numbers = pc.cast(cells, pa.float64())
    else:

        def read(cell: str | None) -> float | None:
            return parse_float(cell, path=path, line=None, column="score")

        try:
            numbers = _distinct(cells, read, pa.float64())
        except DeltaEvalError:
            raise _NotPlain from None
    if pc.all(pc.is_finite(numbers)).as_py() is False:
        raise _NotPlain  # infinite: the per-row reader's error
    return numbers


def _booleans(column: pa.ChunkedArray, *, path: Path) -> pa.Array:
    """The correct cells as :func:`~deltaeval.io.base.parse_bool` reads them (blank: null); raises
    _NotPlain where it would raise."""
    import pyarrow as pa

    def read(cell: str) -> bool | None:
        return parse_bool(cell, path=path, line=None, column="correct")

    try:
        return _distinct(column.combine_chunks(), read, pa.bool_())
    except DeltaEvalError:
        raise _NotPlain from None
