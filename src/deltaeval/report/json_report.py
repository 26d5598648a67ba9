"""The JSON report on disk: deterministic dumps, writing, and checked loading."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from deltaeval.atomic_write import write_text_atomic
from deltaeval.errors import InputError

SCHEMA = "deltaeval.report"
SCHEMA_VERSION = 1
#: The report of ``compare`` with more than two runs (deltaeval.lineage.api.SCHEMA), same version.
LINEAGE_SCHEMA = "deltaeval.lineage"


def _plain(value: Any) -> Any:
    """A copy of ``value`` that ``json.dumps(allow_nan=False)`` accepts.

    NaN and infinities become ``None`` (the schema's "not defined"); tuples become lists;
    numpy scalars and arrays become Python values via ``tolist()``.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | bool):
        return value
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return _plain(tolist())
    return value


def dumps_report(report: Mapping[str, Any]) -> str:
    """Serialize a report deterministically: sorted keys, 2-space indent, UTF-8 text.

    The same report always gives the same string; NaN is written as ``null``.
    """
    return json.dumps(_plain(report), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_report(report: Mapping[str, Any], path: str | Path) -> Path:
    """Write ``report`` as JSON to ``path`` atomically (parent folders are created); return the path."""
    return write_text_atomic(path, dumps_report(report))


def _undefined_number(name: str) -> None:
    # NaN / Infinity are not JSON; read them as "not defined".
    return None


def load_report(path: str | Path, *, lineage: bool = False) -> dict[str, Any]:
    """Read a JSON report and check that it is a ``deltaeval.report`` of schema version 1.

    ``lineage``: a ``deltaeval.lineage`` report (``compare v1 v2 v3 …``, version 1) is read too.

    Raises
    ------
    InputError
        When the file is missing or unreadable, is not valid JSON, or is not a report of a
        schema version this deltaeval understands.
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(
            "report file not found",
            path=source,
            hint="check the path, or write one with `deltaeval compare OLD NEW --json FILE`",
        ) from None
    except IsADirectoryError:
        raise InputError(
            "expected a report file but found a folder", path=source, hint="give the JSON file"
        ) from None
    except UnicodeDecodeError as error:
        raise InputError(
            f"report is not UTF-8 text (byte {error.start})",
            path=source,
            hint="give the JSON file written by `deltaeval compare --json`",
        ) from None
    except OSError as error:
        raise InputError(
            f"cannot read report: {error.strerror or error}",
            path=source,
            hint="check the file's permissions",
        ) from None

    try:
        data = json.loads(text, parse_constant=_undefined_number)
    except json.JSONDecodeError as error:
        raise InputError(
            f"invalid JSON at column {error.colno}: {error.msg}",
            path=source,
            line=error.lineno,
            hint="the file is damaged or not a report; write it again with `deltaeval compare --json`",
        ) from None

    if not isinstance(data, dict):
        raise InputError(
            f"expected a JSON object, found {type(data).__name__}",
            path=source,
            hint="give the JSON file written by `deltaeval compare --json`",
        )
    schema = data.get("schema")
    if lineage and schema == LINEAGE_SCHEMA:
        schema = SCHEMA  # the same version check below
    if schema != SCHEMA:
        raise InputError(
            f"not a deltaeval report: schema is {schema!r}, expected {SCHEMA!r}",
            path=source,
            hint="give the JSON file written by `deltaeval compare --json`",
        )
    version = data.get("schema_version")
    if type(version) is not int or version != SCHEMA_VERSION:
        raise InputError(
            f"unsupported report schema_version {version!r}; this deltaeval reads version {SCHEMA_VERSION}",
            path=source,
            hint="use the deltaeval version that wrote the report, or write it again",
        )
    return data
