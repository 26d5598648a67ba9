"""Lone UTF-16 surrogates: half characters that JSON ``\\udXXX`` escapes can smuggle into text.

They cannot be written as UTF-8 (to the store or to a report), so deltaeval replaces each one
with U+FFFD, the replacement character, wherever text enters or leaves.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, TypeVar

Record = TypeVar("Record")

#: One lone surrogate code point (a valid pair is decoded into one character and never matches).
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def has_lone_surrogate(value: Any) -> bool:
    """True when ``value`` (text, or lists/dicts of text) holds a lone surrogate."""
    if isinstance(value, str):
        return not value.isascii() and LONE_SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(has_lone_surrogate(k) or has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_lone_surrogate(v) for v in value)
    return False


def replace_lone_surrogates(value: Any) -> Any:
    """A copy of ``value`` with every lone surrogate replaced by U+FFFD (other values as they are)."""
    if isinstance(value, str):
        return value if value.isascii() else LONE_SURROGATE.sub(REPLACEMENT, value)
    if isinstance(value, dict):
        return {replace_lone_surrogates(k): replace_lone_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [replace_lone_surrogates(v) for v in value]
    if isinstance(value, tuple):
        return tuple(replace_lone_surrogates(v) for v in value)
    return value


def without_surrogates(record: Record) -> Record:
    """A copy of a dataclass record (an Example, Output or Judgment) whose text fields have every
    lone surrogate replaced by U+FFFD."""
    fields = dataclasses.fields(record)  # type: ignore[arg-type]
    changes = {f.name: replace_lone_surrogates(getattr(record, f.name)) for f in fields if f.init}
    return dataclasses.replace(record, **changes)  # type: ignore[type-var]
