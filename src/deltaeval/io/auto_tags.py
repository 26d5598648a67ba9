"""Which leftover columns of a generic file (JSONL, CSV, Parquet) become example tags by themselves.

Every column with no other role becomes a tag when its filled cells look like categories:

- text, whole numbers or booleans;
- not free text: the median text is at most :data:`MAX_TAG_CHARS` characters;
- not nested: no cell holds a list or an object (in a CSV: JSON text of one);
- whole numbers take at most :data:`MAX_NUMBER_VALUES` distinct values (``digit``, ``difficulty``);
  numbers with a fractional part (``confidence``, ``latency``) are measurements, never tags.

Columns named like a role (``answer``, ``label``, ``prompt`` …), like a field of an output
(``tokens``, ``error``, ``confidence``, ``finish_reason`` …) or ``model`` are left alone.
Each column left out for its values gets a run note, so ``--by COLUMN`` can say why it is not a
tag. ``--tag COLUMN`` (repeatable) replaces the automatic choice with exactly the columns named.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from deltaeval.errors import UsageError
from deltaeval.io.base import (
    CORRECT_COLUMNS,
    ID_COLUMNS,
    INPUT_COLUMNS,
    OUTPUT_COLUMNS,
    REFERENCE_COLUMNS,
    SCORE_COLUMNS,
    TAGS_COLUMNS,
    is_missing,
)
from deltaeval.io.reading import Record, json_cell
from deltaeval.types import Output, Run

#: Text whose median length is above this many characters is free text, not a category.
MAX_TAG_CHARS = 100
#: Whole numbers with more distinct values than this are counts or ids, not categories.
MAX_NUMBER_VALUES = 20
#: Names that never become tags by themselves: the usual names of every role, the fields of an
#: output, and the model (a property of the run, not of the example).
RESERVED_NAMES = frozenset(
    name.lower()
    for name in (
        *ID_COLUMNS,
        *INPUT_COLUMNS,
        *OUTPUT_COLUMNS,
        *REFERENCE_COLUMNS,
        *SCORE_COLUMNS,
        *CORRECT_COLUMNS,
        *TAGS_COLUMNS,
        *(f.name for f in dataclasses.fields(Output)),
        "model",
    )
)

_NOTE_PREFIX = "column {column!r} is not a tag: "


class AutoTags(NamedTuple):
    """The columns kept as tags, and one note for each column left out for its values."""

    columns: tuple[str, ...]
    notes: tuple[str, ...]


def choose_tags(records: Sequence[Record], columns: Sequence[str]) -> AutoTags:
    """The ``columns`` (those with no other role) whose values make them tags."""
    return choose_columns(
        columns,
        lambda column: [record[column] for _, record in records if not is_missing(record.get(column))],
        why_not_tag,
    )


def choose_columns(
    columns: Sequence[str],
    filled: Callable[[str], Sequence[Any]],
    why_not: Callable[[Any], str | None],
) -> AutoTags:
    """The rule's loop for any storage: ``filled(column)`` gives a column's filled cells and
    ``why_not(cells)`` why they make no tag (None when they do); reserved names are skipped."""
    kept: list[str] = []
    notes: list[str] = []
    for column in columns:
        if column.strip().lower() in RESERVED_NAMES:
            continue
        values = filled(column)
        if len(values) == 0:
            continue
        why = why_not(values)
        if why is None:
            kept.append(column)
        else:
            notes.append(skipped_note(column, why))
    return AutoTags(tuple(kept), tuple(notes))


def why_not_tag(values: Sequence[Any]) -> str | None:
    """Why filled cells ``values`` do not make a tag (see the module's rule), or None."""
    if any(_is_nested(v) for v in values):
        return "lists or objects"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        if any(isinstance(v, float) and not v.is_integer() for v in values):
            return "numbers with a fractional part"
        distinct = len(set(values))
        if distinct > MAX_NUMBER_VALUES:
            return f"numbers with {distinct} distinct values"
        return None
    texts = [v for v in values if isinstance(v, str)]
    if texts and len(texts) == len(values) and all(_is_number(t) for t in texts):
        return why_not_tag([float(t) for t in texts])
    if texts:
        median = statistics.median(len(t) for t in texts)
        if median > MAX_TAG_CHARS:
            return f"free text (median {median:.0f} characters)"
    return None


def _is_nested(value: Any) -> bool:
    if isinstance(value, list | tuple | dict):
        return True
    return isinstance(value, str) and value.lstrip()[:1] in ("[", "{") and json_cell(value) is not None


def _is_number(text: str) -> bool:
    try:
        number = float(text)
    except ValueError:
        return False
    return number == number and abs(number) != float("inf")


def skipped_note(column: str, why: str) -> str:
    """The run note for a column left out of the tags."""
    return _NOTE_PREFIX.format(column=column) + f"{why}; --tag {column} keeps it"


def skipped_reason(notes: Sequence[str], column: str) -> str | None:
    """Why ``column`` was left out of the tags, from a run's notes (None: no such note)."""
    prefix = _NOTE_PREFIX.format(column=column)
    for note in notes:
        if note.startswith(prefix):
            return note[len(prefix) :].split("; --tag ", 1)[0]
    return None


def unknown_tag_error(tag: str, present: Sequence[str], runs: Sequence[Run]) -> UsageError:
    """The error for ``--by TAG`` when no example has that tag; lists the tags there are."""
    listed = ", ".join(present) or "none"
    why = next((r for run in runs if (r := skipped_reason(run.notes, tag)) is not None), None)
    if why is not None:
        return UsageError(
            f"no example has the tag {tag!r}: column {tag!r} is not a tag, it holds {why}; "
            f"tags present: {listed}",
            hint=f"slice by it anyway with --tag {tag}; with --tag, only the columns named are tags",
        )
    return UsageError(
        f"no example has the tag {tag!r}; tags present: {listed}",
        hint="columns with no other role become tags when they hold short text, whole numbers or booleans; "
        "--tag COLUMN picks the tag columns yourself, and only those",
    )
