"""Low-level readers shared by the importers: file checks, JSON / JSONL records, CSV rows.

Every problem becomes an :class:`~deltaeval.errors.InputError` that names the file and, where
there is one, the 1-based line; no raw ``json``/``csv``/``OSError`` escapes from here.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from deltaeval.errors import InputError

#: A record read from a file: the 1-based line where it starts (or row number), and its fields.
Record = tuple[int | None, dict[str, Any]]

JSONL_SUFFIXES = (".jsonl", ".ndjson")
JSON_SUFFIXES = (".json",)
CSV_SUFFIXES = (".csv", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")

_WHITESPACE = re.compile(r"[ \t\n\r]*")

#: How deep lists and objects may nest in a record: deeper values (JSON allows about 1,000 levels
#: before Python's recursion limit) would exhaust the recursion limit further on.
MAX_DEPTH = 200

#: Largest text that format detection hands on to the reading that follows (see ``peek_record``).
_HANDOVER_MAX_CHARS = 64 * 1024 * 1024
#: The text detection read, by (path, size, mtime, inode): at most one, taken by ``read_records``.
_PEEKED: dict[tuple[str, int, int, int], str] = {}


def check_file(path: Path) -> None:
    """Raise InputError unless ``path`` is an existing, non-empty regular file."""
    if not path.exists():
        raise InputError("file not found", hint="check the path (and the current directory)", path=path)
    if not path.is_file():
        raise InputError("not a file", hint="give the path of a file, not a folder", path=path)
    try:
        size = path.stat().st_size
    except OSError as err:
        raise InputError(
            f"cannot read the file: {err.strerror}", hint="check its permissions", path=path
        ) from None
    if size == 0:
        raise InputError("file is empty", hint="check that the export finished", path=path)


def read_text(path: Path) -> str:
    """The whole file as text (UTF-8, a BOM dropped); empty or whitespace-only is an error."""
    check_file(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(
            f"not UTF-8 text (byte {err.start})", hint="save the file as UTF-8", path=path
        ) from None
    except OSError as err:
        raise InputError(
            f"cannot read the file: {err.strerror}", hint="check its permissions", path=path
        ) from None
    if not text.strip():
        raise InputError("file is empty", hint="check that the export finished", path=path)
    return text


def _int_or_digits(digits: str) -> int | str:
    """An integer, or its digits as text when it is too long for ``int()`` (an id of 5,000 digits)."""
    try:
        return int(digits)
    except ValueError:
        return digits


_DECODER = json.JSONDecoder()
_DIGITS_DECODER = json.JSONDecoder(parse_int=_int_or_digits)


def _loads(text: str) -> Any:
    """``json.loads``, reading an integer too long for ``int()`` as its digits."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except ValueError:
        return json.loads(text, parse_int=_int_or_digits)


def _raw_decode(text: str, index: int) -> tuple[Any, int]:
    """``JSONDecoder.raw_decode``, reading an integer too long for ``int()`` as its digits."""
    try:
        return _DECODER.raw_decode(text, index)
    except json.JSONDecodeError:
        raise
    except ValueError:
        return _DIGITS_DECODER.raw_decode(text, index)


def _too_deep(path: Path, line: int | None) -> InputError:
    return InputError(
        f"the record on line {line} is nested more than {MAX_DEPTH} levels deep",
        hint=f"flatten it: lists and objects may nest up to {MAX_DEPTH} levels",
        path=path,
        line=line,
    )


def _nesting_exceeds(value: Any, limit: int) -> bool:
    """Whether lists/objects in ``value`` nest more than ``limit`` levels (checked without recursion)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def _check_depth(value: Any, source: str, path: Path, line: int | None) -> None:
    """Raise InputError when ``value`` (parsed from ``source``) nests deeper than MAX_DEPTH."""
    if source.count("[") + source.count("{") > MAX_DEPTH and _nesting_exceeds(value, MAX_DEPTH):
        raise _too_deep(path, line)


def json_cell(text: str) -> Any:
    """The list or object a cell holds as JSON text (tags, chat messages in a CSV), or None when
    the text is not JSON that can be read (malformed, or nested more than MAX_DEPTH levels)."""
    try:
        value = _loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict | list) or _nesting_exceeds(value, MAX_DEPTH):
        return None
    return value


def _json_error(err: json.JSONDecodeError, path: Path, line: int | None = None) -> InputError:
    return InputError(
        f"malformed JSON on line {line or err.lineno}: {err.msg} (column {err.colno})",
        hint="fix or remove that line; every line must be one complete JSON object",
        path=path,
        line=line or err.lineno,
    )


def iter_jsonl(text: str, path: Path) -> Iterator[tuple[int, Any]]:
    """Yield (line number, parsed value) for each non-blank line of JSONL text."""
    for number, raw in enumerate(text.split("\n"), start=1):
        stripped = raw.strip()
        if not stripped:
            continue
        try:
            value = _loads(stripped)
        except RecursionError:
            raise _too_deep(path, number) from None
        except json.JSONDecodeError as err:
            raise InputError(
                f"malformed JSON on line {number}: {err.msg} (column {err.colno})",
                hint="fix or remove that line; every line must be one complete JSON object",
                path=path,
                line=number,
            ) from None
        _check_depth(value, stripped, path, number)
        yield number, value


def iter_json_array(text: str, path: Path) -> Iterator[tuple[int, Any]]:
    """Yield (line where it starts, value) for each element of a top-level JSON list."""
    index = _skip_ws(text, 0)
    if index >= len(text) or text[index] != "[":
        raise InputError(
            "expected a JSON list of records",
            hint="give a JSON list of objects, or one JSON object per line (JSONL)",
            path=path,
        )
    index = _skip_ws(text, index + 1)
    line, counted = 1, 0
    if index < len(text) and text[index] == "]":
        _check_trailing(text, index + 1, path)
        return
    while True:
        line += text.count("\n", counted, index)
        counted = index
        start = index
        try:
            value, index = _raw_decode(text, index)
        except RecursionError:
            raise _too_deep(path, line) from None
        except json.JSONDecodeError as err:
            raise _json_error(err, path) from None
        _check_depth(value, text[start:index], path, line)
        yield line, value
        index = _skip_ws(text, index)
        if index < len(text) and text[index] == ",":
            index = _skip_ws(text, index + 1)
            continue
        if index < len(text) and text[index] == "]":
            _check_trailing(text, index + 1, path)
            return
        where = text.count("\n", 0, index) + 1
        raise InputError(
            f"malformed JSON on line {where}: expected ',' or ']' between list elements",
            hint="fix the JSON (a missing comma or an unclosed list?)",
            path=path,
            line=where,
        )


def _skip_ws(text: str, index: int) -> int:
    match = _WHITESPACE.match(text, index)
    return match.end() if match else index


def _check_trailing(text: str, index: int, path: Path) -> None:
    index = _skip_ws(text, index)
    if index < len(text):
        where = text.count("\n", 0, index) + 1
        raise InputError(
            f"malformed JSON on line {where}: extra data after the closing ']'",
            hint="a JSON file holds one list; remove what follows it",
            path=path,
            line=where,
        )


def _file_key(path: Path) -> tuple[str, int, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (str(path.absolute()), stat.st_size, stat.st_mtime_ns, stat.st_ino)


def _looks_like_json_list(path: Path, text: str) -> bool:
    if path.suffix.lower() in JSONL_SUFFIXES:
        return False
    return text.lstrip().startswith("[")


def _object_or_error(value: Any, line: int | None, path: Path) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    kind = {list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )
    raise InputError(
        f"record on line {line} is {kind}, not a JSON object",
        hint='every record must be an object like {"id": ..., "output": ...}',
        path=path,
        line=line,
    )


def read_records(path: Path) -> list[Record]:
    """All records of a JSONL file or of a JSON list file, each with its starting line.

    A ``.jsonl``/``.ndjson`` file is read line by line; any other file is read as a JSON list
    when it starts with ``[``, and as JSONL otherwise.
    """
    key = _file_key(path)
    text = _PEEKED.pop(key, None) if key is not None else None
    if text is None:
        text = read_text(path)
    if _looks_like_json_list(path, text):
        values = list(iter_json_array(text, path))
    else:
        try:
            values = list(iter_jsonl(text, path))
        except InputError:
            _single_object_check(path, text)
            raise
    records = [(line, _object_or_error(value, line, path)) for line, value in values]
    if not records:
        raise InputError("no records found", hint="check that the file is not empty", path=path)
    return records


def _single_object_check(path: Path, text: str) -> None:
    """Explain a pretty-printed single JSON object better than 'malformed line 1'."""
    if path.suffix.lower() not in JSON_SUFFIXES:
        return
    try:
        whole = _loads(text)
    except (ValueError, RecursionError):
        return
    if isinstance(whole, dict):
        raise InputError(
            "file holds one JSON object, not a list of records",
            hint="give a JSON list of objects, or one JSON object per line (JSONL)",
            path=path,
        )


def peek_record(path: Path) -> dict[str, Any] | None:
    """The first record of a JSON/JSONL file, or None when it cannot be read (for detection).

    A ``.jsonl``/``.ndjson`` file is read only up to its first record."""
    if path.suffix.lower() in JSONL_SUFFIXES:
        return _peek_jsonl(path)
    key = _file_key(path)  # before reading: a file changed after it no longer matches
    try:
        text = read_text(path)
    except InputError:
        return None
    _PEEKED.clear()
    if key is not None and len(text) <= _HANDOVER_MAX_CHARS:
        _PEEKED[key] = text  # the whole file is read: the reading that usually follows takes it
    try:
        if _looks_like_json_list(path, text):
            for _, value in iter_json_array(text, path):
                return value if isinstance(value, dict) else None
            return None
        for raw in text.split("\n"):
            if raw.strip():
                value = _loads(raw)
                return value if isinstance(value, dict) else None
    except (InputError, ValueError, RecursionError):
        return None
    return None


def _peek_jsonl(path: Path) -> dict[str, Any] | None:
    """The first record of a JSONL file, reading no further than its line."""
    try:
        check_file(path)
        with path.open(encoding="utf-8-sig") as handle:
            for raw in handle:
                if raw.strip():
                    value = _loads(raw)
                    return value if isinstance(value, dict) else None
    except (InputError, OSError, ValueError, RecursionError):
        return None
    return None


def columns_of(records: Sequence[Record]) -> list[str]:
    """The union of the records' keys, in order of first appearance."""
    seen: dict[str, None] = {}
    for _, record in records:
        for key in record:
            seen.setdefault(key, None)
    return list(seen)


# -- CSV ---------------------------------------------------------------------------------------


def _delimiter(path: Path) -> str:
    return "\t" if path.suffix.lower() == ".tsv" else ","


def _raise_field_limit() -> None:
    # Model outputs can be longer than the csv module's default 128 KiB field limit.
    limit = sys.maxsize
    while True:
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:
            limit //= 2


class CsvTable(NamedTuple):
    """A CSV file read: its header, its rows (each with the line where it starts), and notes."""

    header: list[str]
    rows: list[Record]
    notes: tuple[str, ...] = ()


def read_csv(path: Path, *, strict: bool = False) -> CsvTable:
    """The header and the rows of a CSV file; each row with the physical line where it starts.

    The header is line 1. Blank lines are skipped. A row with more cells than the header is an
    error; one with fewer is padded with empty cells and reported in the notes (an error under
    ``strict``). Quoting is read strictly: an unclosed quote, which would swallow every later
    row into one cell, is an error naming the line where its row starts.
    """
    check_file(path)
    _raise_field_limit()
    rows: list[Record] = []
    notes: list[str] = []
    header: list[str] | None = None
    previous_end = 0
    reader = None
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, delimiter=_delimiter(path), strict=True)
            for cells in reader:
                start, previous_end = previous_end + 1, reader.line_num
                if not cells or (header is not None and all(not c.strip() for c in cells)):
                    continue
                if header is None:
                    header = _check_header(cells, path, start)
                    continue
                if len(cells) > len(header):
                    raise InputError(
                        f"row on line {start} has {len(cells)} cells but the header has {len(header)}",
                        hint="quote cells that contain commas or line breaks",
                        path=path,
                        line=start,
                    )
                if len(cells) < len(header):
                    notes.append(_short_row(header, cells, path=path, line=start, strict=strict))
                    cells = cells + [""] * (len(header) - len(cells))
                rows.append((start, dict(zip(header, cells, strict=True))))
    except UnicodeDecodeError as err:
        raise InputError(
            f"not UTF-8 text (byte {err.start})", hint="save the file as UTF-8", path=path
        ) from None
    except csv.Error as err:
        raise _csv_error(err, path, start=previous_end + 1, at=reader.line_num if reader else 1) from None
    except OSError as err:
        raise InputError(
            f"cannot read the file: {err.strerror}", hint="check its permissions", path=path
        ) from None
    if header is None:
        raise InputError("file is empty", hint="check that the export finished", path=path)
    return CsvTable(header, rows, tuple(notes))


def _short_row(header: list[str], cells: list[str], *, path: Path, line: int, strict: bool) -> str:
    """The note on a row with fewer cells than the header; an InputError under ``strict``."""
    missing = describe_columns(header[len(cells) :])
    text = f"row on line {line} has {len(cells)} cells but the header has {len(header)}"
    if strict:
        raise InputError(
            f"{text}; {missing} would be empty",
            hint="fill in the missing cells (or end the row with empty ones: ',,'), or drop --strict",
            path=path,
            line=line,
        )
    return f"{text}: {missing} read as empty"


def _csv_error(err: csv.Error, path: Path, *, start: int, at: int) -> InputError:
    """An InputError for a quoting problem in the row starting on line ``start`` (seen on ``at``)."""
    if "unexpected end of data" in str(err):
        return InputError(
            f"unclosed quote in the row starting on line {start}: its quoted cell runs to the end "
            f"of the file (line {at}), taking in every row after it",
            hint='close the quote; a quote inside a quoted cell is written twice ("")',
            path=path,
            line=start,
        )
    where = f"line {at}" + (f" (in the row starting on line {start})" if at != start else "")
    return InputError(
        f"malformed CSV on {where}: {err}",
        hint='end a quoted cell right before the separator, and write a quote inside it twice ("")',
        path=path,
        line=at,
    )


def _check_header(cells: list[str], path: Path, line: int) -> list[str]:
    header = [c.strip() for c in cells]
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise InputError(
                f"column {name!r} appears twice in the header",
                hint="give every column a unique name",
                path=path,
                line=line,
            )
        seen.add(name)
    return header


def peek_csv_header(path: Path) -> list[str] | None:
    """The header of a CSV file, or None when it cannot be read (for detection)."""
    try:
        check_file(path)
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for cells in csv.reader(handle, delimiter=_delimiter(path)):
                if cells:
                    return [c.strip() for c in cells]
    except (InputError, OSError, UnicodeDecodeError, csv.Error):
        return None
    return None


# -- columns -----------------------------------------------------------------------------------


def find_column(columns: Sequence[str], name: str) -> str | None:
    """``name`` if it is a column; else the unique column equal to it ignoring case."""
    if name in columns:
        return name
    matches = [c for c in columns if c.lower() == name.lower()]
    return matches[0] if len(matches) == 1 else None


def require_column(
    columns: Sequence[str],
    name: str,
    *,
    role: str,
    path: Path,
    line: int | None = None,
) -> str:
    """The column a user named for ``role``; an InputError listing the columns if it is absent."""
    found = find_column(columns, name)
    if found is None:
        raise InputError(
            f"column {name!r} (given for {role}) not found; the columns are: " + describe_columns(columns),
            hint=f"name one of the existing columns ({_flag(role)} COLUMN)",
            path=path,
            line=line,
        )
    return found


def _flag(role: str) -> str:
    """The command-line option that names the column of ``role``."""
    return "--tag" if role == "a tag" else f"--{role}"


def describe_columns(columns: Sequence[str], limit: int = 30) -> str:
    """A short listing of column names for error messages."""
    if not columns:
        return "(none)"
    shown = ", ".join(repr(c) for c in columns[:limit])
    if len(columns) > limit:
        shown += f", … ({len(columns) - limit} more)"
    return shown


def stringify_tags(value: Mapping[str, Any]) -> dict[str, str]:
    """Tags from a JSON object: keys and values as text, missing values left out."""
    tags: dict[str, str] = {}
    for key, item in value.items():
        if item is None or (isinstance(item, str) and not item.strip()):
            continue
        if isinstance(item, bool):
            tags[str(key)] = "true" if item else "false"
        elif isinstance(item, float) and item.is_integer():
            tags[str(key)] = str(int(item))
        elif isinstance(item, list | dict):
            tags[str(key)] = json.dumps(item, ensure_ascii=False, sort_keys=True)
        else:
            tags[str(key)] = str(item)
    return tags
