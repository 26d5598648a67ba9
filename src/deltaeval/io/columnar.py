"""Large generic files read straight into columns (pyarrow), without one Python object per row.

Used when pyarrow is installed (``pip install 'deltaeval[parquet]'``) and the file is plain: every
column holds scalars (text, whole numbers, booleans; numbers with a fraction only as scores), ids
are present and unique, and nothing needs the per-row reader's repairs (lone surrogates, JSON in
cells, chat messages, error columns). The run it builds reads exactly as the per-row reader
(:func:`deltaeval.io.records.generic_run`) would read it — the same roles, tags, notes and content
hash. Any other file returns None here and is read row by row, which also gives the precise
error for a malformed one.
"""

from __future__ import annotations

import re
import statistics
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from deltaeval.columnar import ColumnarRun, RunColumns, TagColumn, blank_to_null, is_blank
from deltaeval.io.auto_tags import MAX_NUMBER_VALUES, MAX_TAG_CHARS, choose_columns
from deltaeval.io.base import ColumnMapping
from deltaeval.io.reading import JSONL_SUFFIXES
from deltaeval.io.records import resolve_roles

if TYPE_CHECKING:
    import pyarrow as pa

#: A JSON escape of half a UTF-16 surrogate pair standing alone (the per-row reader repairs it).
_SURROGATE_ESCAPE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"  # a high half alone
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"  # a low half alone
)
_CHUNK = 1 << 24
#: Opening brackets on one line above which a file is read row by row (pyarrow's parser
#: overflows its stack at some thousands of nested levels).
MAX_BRACKETS = 2000


class NotPlain(Exception):
    """The file needs the per-row reader."""


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.compute
        import pyarrow.json
    except ImportError:
        return None
    return pyarrow


def _needs_per_row(path: Path) -> bool:
    """Whether the file holds a lone surrogate escape, or a line with more than
    :data:`MAX_BRACKETS` opening brackets (maybe nested that deep: pyarrow's parser would exhaust
    its stack; nested cells need the per-row reader anyway, which refuses depths over MAX_DEPTH)."""
    with path.open("rb") as handle:
        carry = b""
        while chunk := handle.read(_CHUNK):
            window = carry + chunk
            end = window.rfind(b"\n") + 1 if len(chunk) == _CHUNK else len(window)
            lines, carry = window[:end], window[end:]
            if (b"\\ud" in lines or b"\\uD" in lines) and _SURROGATE_ESCAPE.search(lines):
                return True
            if _most_brackets(lines) > MAX_BRACKETS:
                return True
        return False


def _most_brackets(lines: bytes) -> int:
    """The most opening brackets (``{`` or ``[``) on one line of ``lines``; only lines longer than
    :data:`MAX_BRACKETS` bytes are counted (a shorter one cannot hold more)."""
    ends = np.flatnonzero(np.frombuffer(lines, dtype=np.uint8) == ord("\n"))
    starts = np.concatenate(([0], ends + 1))
    stops = np.concatenate((ends, [len(lines)]))
    long = np.flatnonzero(stops - starts > MAX_BRACKETS)
    return max(
        (
            lines.count(b"{", starts[i], stops[i]) + lines.count(b"[", starts[i], stops[i])
            for i in long.tolist()
        ),
        default=0,
    )


def read_jsonl_columnar(path: Path, *, mapping: ColumnMapping, strict: bool) -> ColumnarRun | None:
    """The run of a plain JSONL file, read into columns; None when pyarrow is missing or the file
    needs the per-row reader."""
    pa = _pyarrow()
    if pa is None or path.suffix.lower() not in JSONL_SUFFIXES:
        return None
    try:
        with path.open("rb") as handle:
            if handle.read(3) == b"\xef\xbb\xbf":
                return None
        if _needs_per_row(path):
            return None
        table = pa.json.read_json(path)
        table.validate(full=True)
    except (pa.ArrowException, OSError, ValueError):
        return None
    return run_from_table(table, path=path, name=path.stem, mapping=mapping)


def run_from_table(table: pa.Table, *, path: Path, name: str, mapping: ColumnMapping) -> ColumnarRun | None:
    """A :class:`ColumnarRun` of a plain table, or None when it needs the per-row reader."""
    try:
        return _run_from_table(table, path=path, name=name, mapping=mapping)
    except NotPlain:
        return None


def _kind(array: pa.Array) -> str:
    import pyarrow as pa

    t = array.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_null(t):
        return "null"
    raise NotPlain


def _combined(array: Any) -> pa.Array:
    """One array of a (maybe chunked) column."""
    return array.combine_chunks() if hasattr(array, "combine_chunks") else array


def _text(array: pa.Array | None) -> pa.Array | None:
    """A text role's cells as the per-row reader reads them: blank and null are None."""
    import pyarrow as pa

    if array is None:
        return None
    array = _combined(array)
    kind = _kind(array)
    if kind == "null":
        return pa.nulls(len(array), pa.string())
    if kind == "int":
        return array.cast(pa.string())
    if kind != "string":
        raise NotPlain
    return blank_to_null(array.cast(pa.string()))


def _score(array: pa.Array | None) -> pa.Array | None:
    import pyarrow as pa

    if array is None:
        return None
    array = _combined(array)
    kind = _kind(array)
    if kind not in ("int", "float", "null"):
        raise NotPlain
    return array.cast(pa.float64())


def _correct(array: pa.Array | None) -> pa.Array | None:
    import pyarrow as pa
    import pyarrow.compute as pc

    if array is None:
        return None
    array = _combined(array)
    kind = _kind(array)
    if kind in ("bool", "null"):
        return array.cast(pa.bool_())
    if (
        kind in ("int", "float")
        and pc.all(pc.is_in(array.drop_null(), pa.array([0, 1]).cast(array.type))).as_py()
    ):
        return array.cast(pa.bool_())
    raise NotPlain


def _filled(array: pa.Array) -> pa.Array:
    """The cells the per-row reader counts as filled (not null, NaN or blank)."""
    import pyarrow.compute as pc

    kind = _kind(array)
    if kind == "string":
        return array.filter(pc.invert(pc.fill_null(is_blank(array), True)))
    return array.drop_null()


def _why_not_tag(values: pa.Array) -> str | None:
    """:func:`deltaeval.io.auto_tags.why_not_tag` on filled cells held as a column."""
    import pyarrow.compute as pc

    kind = _kind(values)
    if kind == "bool":
        return None
    if kind in ("int", "float"):
        if kind == "float" and not pc.all(pc.equal(pc.floor(values), values)).as_py():
            return "numbers with a fractional part"
        if kind == "float":
            raise NotPlain  # whole numbers written 2 or 2.0 read differently per row
        distinct = pc.count_distinct(values).as_py()
        return f"numbers with {distinct} distinct values" if distinct > MAX_NUMBER_VALUES else None
    unique = pc.unique(values).to_pylist()
    if any(v.lstrip()[:1] in ("[", "{") for v in unique):
        raise NotPlain  # maybe JSON in a cell: the per-row reader decides
    from deltaeval.io.auto_tags import _is_number, why_not_tag

    if all(_is_number(t) for t in unique):
        return why_not_tag([float(t) for t in unique])
    median = statistics.median(pc.utf8_length(values).to_numpy(zero_copy_only=False).tolist())
    if median > MAX_TAG_CHARS:
        return f"free text (median {median:.0f} characters)"
    return None


def _tag_column(array: pa.Array) -> TagColumn:
    """A tag's values as codes; each value as ``str()`` of the cell, as the per-row reader writes it."""
    import pyarrow.compute as pc

    array = _combined(array)
    kind = _kind(array)
    if kind == "float":
        raise NotPlain
    if kind == "string":
        array = blank_to_null(array)
    encoded = pc.dictionary_encode(array)
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int32)
    return TagColumn(codes=codes, values=tuple(str(v) for v in encoded.dictionary.to_pylist()))


def _unique(ids: pa.Array) -> bool:
    """Whether no id repeats (ids in ascending order are, without hashing them)."""
    import pyarrow.compute as pc

    if len(ids) < 2 or pc.all(pc.less(ids.slice(0, len(ids) - 1), ids.slice(1))).as_py():
        return True
    return pc.count_distinct(ids).as_py() == len(ids)


def _run_from_table(table: pa.Table, *, path: Path, name: str, mapping: ColumnMapping) -> ColumnarRun:
    import pyarrow as pa
    import pyarrow.compute as pc

    if table.num_rows == 0:
        raise NotPlain
    columns = list(table.schema.names)
    if len(set(columns)) != len(columns):
        raise NotPlain
    cells = {c: table.column(c) for c in columns}  # chunked; the columns a role uses are combined
    for array in cells.values():
        if _kind(array) == "float" and pc.any(pc.invert(pc.is_finite(array))).as_py():
            raise NotPlain  # NaN or infinity: the per-row reader's rules (and messages)
    roles = resolve_roles(columns, mapping, path=path)
    if roles.tags_field is not None or roles.extras or roles.id is None:
        raise NotPlain
    input_columns = [c for c in (roles.input, *roles.input_fallbacks) if c is not None]
    if any(c.lower() == "messages" or _kind(cells[c]) not in ("string", "null") for c in input_columns):
        raise NotPlain
    ids = cells[roles.id]
    if _kind(ids) not in ("string", "int") or ids.null_count:
        raise NotPlain
    ids = _text(ids)
    if ids.null_count or not _unique(ids):
        raise NotPlain  # hashed ids or repeated ids: the per-row reader's rules
    texts = [_text(cells[c]) for c in input_columns]
    inputs = (texts[0] if len(texts) == 1 else pc.coalesce(*texts)) if texts else None
    notes: list[str] = []
    if mapping.tags:
        tag_names = list(roles.tags)
    else:
        taken = roles.taken()
        chosen = choose_columns(
            [c for c in columns if c not in taken], lambda column: _filled(cells[column]), _why_not_tag
        )
        tag_names = list(chosen.columns)
        notes.extend(chosen.notes)
    tags: dict[str, TagColumn] = {}
    for column in tag_names:
        tags.update({column: _tag_column(cells[column])})
    run_columns = RunColumns(
        ids=ids,
        input=inputs,
        reference=_text(cells[roles.reference]) if roles.reference else None,
        text=_text(cells[roles.output]) if roles.output else None,
        score=_score(cells[roles.score]) if roles.score else None,
        correct=_correct(cells[roles.correct]) if roles.correct else None,
        tags=tags,
    )
    if pa.types.is_null(run_columns.ids.type):
        raise NotPlain
    return ColumnarRun(name=name, columns=run_columns, source=str(path), notes=tuple(notes))
