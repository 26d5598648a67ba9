"""Files that hold one JSON object (not a list of records): reading, and telling their format.

LLM Comparator files, inspect_ai ``.json`` logs and promptfoo results files are each one JSON
object. :func:`read_document` reads one with errors that name the file and line;
:func:`document_format` tells which of those formats a file is (None: not a known document).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from deltaeval.errors import InputError
from deltaeval.io import reading
from deltaeval.io.reading import MAX_DEPTH, read_text


def _text(path: Path) -> str:
    """The file's text, taken from format detection's read when it is there."""
    key = reading._file_key(path)
    text = reading._PEEKED.pop(key, None) if key is not None else None
    return read_text(path) if text is None else text


def _parse(text: str, path: Path) -> Any:
    try:
        value = reading._loads(text)
    except RecursionError:
        raise reading._too_deep(path, None) from None
    except json.JSONDecodeError as err:
        raise InputError(
            f"malformed JSON on line {err.lineno}: {err.msg} (column {err.colno})",
            hint="fix the JSON there (the file must hold one complete JSON object; was it cut short?)",
            path=path,
            line=err.lineno,
        ) from None
    if isinstance(value, dict | list) and reading._nesting_exceeds(value, MAX_DEPTH):
        raise reading._too_deep(path, None)
    return value


def read_document(path: Path, fmt: str) -> dict[str, Any]:
    """The JSON object a whole file holds; an InputError naming the line of malformed JSON."""
    value = _parse(_text(path), path)
    if not isinstance(value, dict):
        kind = "a list" if isinstance(value, list) else type(value).__name__
        raise InputError(
            f"the file holds {kind}, not the JSON object a {fmt} file is",
            hint=f"check that this is a {fmt} file, or pass another --format",
            path=path,
        )
    return value


def parse_bytes(data: bytes, path: Path, member: str) -> Any:
    """One JSON member of an archive (e.g. an inspect_ai ``.eval`` zip), with errors naming it."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(
            f"{member} is not UTF-8 text (byte {err.start})",
            hint="check that the archive is intact",
            path=path,
        ) from None
    try:
        return _parse(text, path)
    except InputError as err:
        raise InputError(f"{member}: {err.message}", hint=err.hint, path=path) from None


def _kind(document: Mapping[str, Any]) -> str | None:
    examples, models = document.get("examples"), document.get("models")
    if isinstance(examples, list) and isinstance(models, list):
        return "llm_comparator"
    if isinstance(document.get("eval"), dict) and ("samples" in document or "status" in document):
        return "inspect"
    results = document.get("results")
    if isinstance(results, dict) and ("results" in results or "table" in results):
        return "promptfoo"
    return None


def _starts_with_brace(path: Path) -> bool:
    """Whether the first character after a BOM and white space is ``{`` (reading a little only)."""
    try:
        with path.open("rb") as handle:
            chunk = handle.read(4096).removeprefix(b"\xef\xbb\xbf")
            while chunk and not chunk.strip(b" \t\r\n"):
                chunk = handle.read(4096)
    except OSError:
        return False
    return chunk.lstrip(b" \t\r\n")[:1] == b"{"


def document_format(path: Path) -> str | None:
    """The format of a file holding one JSON object, or None when it holds something else.

    A file that starts with ``{`` but is not valid JSON, and is not JSON Lines either, raises the
    JSON error (the line where it breaks), so that a cut-short document is reported as such.
    """
    if not _starts_with_brace(path):
        return None  # a JSON list or JSON Lines of arrays: not read whole here
    key = reading._file_key(path)
    try:
        text = read_text(path)
    except InputError:
        return None
    try:
        value = _parse(text, path)
    except InputError as broken:
        first = next((line for line in text.split("\n") if line.strip()), "")
        try:
            reading._loads(first)
        except (ValueError, RecursionError):
            raise broken from None  # not JSON Lines either: report where the document breaks
        return None  # JSON Lines: the record readers take it
    if not isinstance(value, dict):
        return None
    kind = _kind(value)
    if kind is not None and key is not None:
        reading._PEEKED.clear()
        reading._PEEKED[key] = text  # the loader that follows reads it from here
    return kind
