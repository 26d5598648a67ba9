"""Generic records (JSONL, CSV, Parquet rows, JSON lists) to a Run, through a ColumnMapping."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deltaeval.errors import DeltaEvalError, InputError
from deltaeval.io.auto_tags import choose_tags
from deltaeval.io.base import (
    CORRECT_COLUMNS,
    ID_COLUMNS,
    INPUT_COLUMNS,
    OUTPUT_COLUMNS,
    REFERENCE_COLUMNS,
    SCORE_COLUMNS,
    TAGS_COLUMNS,
    ColumnMapping,
    build_run,
    example_id_for,
    is_missing,
    parse_bool,
    parse_float,
    pick_column,
    tags_from,
    text_or_none,
)
from deltaeval.io.reading import (
    Record,
    columns_of,
    describe_columns,
    json_cell,
    require_column,
    stringify_tags,
)
from deltaeval.references import join_alternatives
from deltaeval.types import Example, Input, Output, Run, input_text

#: Optional Output fields read from columns of the same name when present.
FLOAT_FIELDS = ("confidence", "logprob", "latency_s")


@dataclass(frozen=True)
class Roles:
    """The column chosen for each role (None: the file has no such column)."""

    id: str | None
    input: str | None
    output: str | None
    reference: str | None
    score: str | None
    correct: str | None
    tags: tuple[str, ...]
    tags_field: str | None
    extras: tuple[str, ...]
    input_fallbacks: tuple[str, ...] = ()

    def taken(self) -> set[str]:
        """Every column the reader uses for something other than a tag column."""
        single = (self.id, self.input, self.output, self.reference, self.score, self.correct, self.tags_field)
        return {c for c in single if c is not None} | set(self.extras) | set(self.input_fallbacks)


def resolve_roles(
    columns: Sequence[str],
    mapping: ColumnMapping,
    *,
    path: Path,
    line: int | None = None,
    require_output: bool = True,
) -> Roles:
    """Choose a column for each role: the user's choice (which must exist), else a usual name.

    A column is used for one role only. Raises InputError when a named column is missing, when
    there is neither an id nor an input column, or (with ``require_output``) when there is no
    output, score or correct column.
    """
    chosen: dict[str, str | None] = {}
    for role, column in mapping.explicit().items():
        chosen[role] = require_column(columns, column, role=role, path=path, line=line)
    tags = tuple(require_column(columns, c, role="a tag", path=path, line=line) for c in mapping.tags)
    candidates = {
        "id": ID_COLUMNS,
        "input": INPUT_COLUMNS,
        "output": OUTPUT_COLUMNS,
        "reference": REFERENCE_COLUMNS,
        "score": SCORE_COLUMNS,
        "correct": CORRECT_COLUMNS,
    }
    used = set(chosen.values()) | set(tags)
    for role, names in candidates.items():
        if role in chosen:
            continue
        free = [c for c in columns if c not in used]
        picked = pick_column(free, None, names)
        chosen[role] = picked
        if picked is not None:
            used.add(picked)
    if chosen["id"] is None and chosen["input"] is None:
        raise InputError(
            "found neither an id nor an input column; the columns are: " + describe_columns(columns),
            hint="add an 'id' column, or name the id or input column (--id COLUMN / --input COLUMN)",
            path=path,
            line=line,
        )
    if require_output and not (chosen["output"] or chosen["score"] or chosen["correct"]):
        raise InputError(
            "found no output, score or correct column; the columns are: " + describe_columns(columns),
            hint="name the output column with --output COLUMN (or --score / --correct); "
            "usual names: " + ", ".join(OUTPUT_COLUMNS),
            path=path,
            line=line,
        )
    free = [c for c in columns if c not in used]
    tags_field = pick_column(free, None, TAGS_COLUMNS)
    if tags_field is not None:
        used.add(tags_field)
    extras = tuple(c for c in ("tokens", "error", *FLOAT_FIELDS) if c in columns and c not in used)
    # Records of one file may carry their input under different usual names (e.g. "prompt" in
    # some, "messages" in others): try the other free input columns when the chosen one is empty.
    fallbacks: tuple[str, ...] = ()
    if mapping.input is None:
        lowered = {c.lower(): c for c in columns if c not in used}
        fallbacks = tuple(lowered[n] for n in INPUT_COLUMNS if n in lowered)
    return Roles(
        id=chosen["id"],
        input=chosen["input"],
        output=chosen["output"],
        reference=chosen["reference"],
        score=chosen["score"],
        correct=chosen["correct"],
        tags=tags,
        tags_field=tags_field,
        extras=extras,
        input_fallbacks=fallbacks,
    )


def input_value(value: Any, column: str | None = None) -> Input:
    """An example input from a cell: text, chat messages, a feature row or an object."""
    if is_missing(value):
        return None
    if isinstance(value, str):
        if column is not None and column.lower() == "messages" and value.lstrip().startswith("["):
            parsed = json_cell(value)
            if isinstance(parsed, list) and all(isinstance(m, dict) for m in parsed):
                return parsed
        return value
    if isinstance(value, dict):
        return value
    if isinstance(value, list | tuple):
        items = list(value)
        if all(isinstance(m, dict) for m in items):
            return items
        if all(isinstance(x, int | float) and not isinstance(x, bool) for x in items):
            return [float(x) for x in items]
        return json.dumps(items, ensure_ascii=False, default=str)
    return text_or_none(value)


def tags_of(record: Mapping[str, Any], roles: Roles) -> dict[str, str]:
    """Tags from the auto-detected ``tags`` field and the user's tag columns."""
    tags: dict[str, str] = {}
    if roles.tags_field is not None:
        tags.update(_field_tags(record.get(roles.tags_field), roles.tags_field))
    tags.update(tags_for(record, roles.tags))
    return tags


def _field_tags(value: Any, column: str) -> dict[str, str]:
    if is_missing(value):
        return {}
    if isinstance(value, str) and value.lstrip().startswith("{"):
        parsed = json_cell(value)
        if parsed is None:
            return {column: value}
        value = parsed
    if isinstance(value, dict):
        return stringify_tags(value)
    if isinstance(value, list | tuple):
        return {column: ",".join(str(v) for v in value)}
    return {column: str(value)}


def reference_value(value: Any, *, path: Path, line: int | None, column: str) -> str | None:
    """A reference cell: text, or a list of acceptable answers (joined as alternatives)."""
    if not isinstance(value, list | tuple):
        return text_or_none(value)
    if any(isinstance(item, list | tuple | dict) for item in value):
        raise InputError(
            f"column {column!r} holds a list with nested lists or objects",
            hint='give several acceptable answers as a list of strings, e.g. ["1000", "1,000"]',
            path=path,
            line=line,
        )
    return join_alternatives(text for item in value if (text := text_or_none(item)) is not None)


def parse_int(value: Any, *, path: Path, line: int | None, column: str) -> int | None:
    """A token count: a whole number, or None when empty."""
    number = parse_float(value, path=path, line=line, column=column)
    if number is None:
        return None
    if not number.is_integer() or number < 0:
        raise InputError(
            f"column {column!r} holds {value!r}, which is not a whole number",
            hint="give token counts as non-negative integers",
            path=path,
            line=line,
        )
    return int(number)


def record_pair(
    record: Mapping[str, Any],
    roles: Roles,
    *,
    path: Path,
    line: int | None,
    unit: str = "line",
) -> tuple[Example, Output]:
    """One record as an (Example, Output) pair."""
    value = input_value(record.get(roles.input), roles.input) if roles.input else None
    for column in roles.input_fallbacks:
        if value is not None:
            break
        value = input_value(record.get(column), column)
    raw_id = record.get(roles.id) if roles.id else None
    if is_missing(raw_id) and value is None:
        missing = " and ".join(repr(c) for c in (roles.id, roles.input) if c) or "id and input"
        raise InputError(
            f"{unit} {line} has no value in {missing}, so it has no id",
            hint="give every record an id or an input",
            path=path,
            line=line,
        )
    example = Example(
        id=example_id_for(raw_id, input_text(value)),
        input=value,
        reference=(
            reference_value(record.get(roles.reference), path=path, line=line, column=roles.reference)
            if roles.reference
            else None
        ),
        tags=tags_of(record, roles),
    )
    extras: dict[str, Any] = {}
    for column in roles.extras:
        cell = record.get(column)
        if column == "tokens":
            extras["tokens"] = parse_int(cell, path=path, line=line, column=column)
        elif column == "error":
            extras["error"] = text_or_none(cell)
        else:
            extras[column] = parse_float(cell, path=path, line=line, column=column)
    output = Output(
        example_id=example.id,
        text=text_or_none(record.get(roles.output)) if roles.output else None,
        score=(
            parse_float(record.get(roles.score), path=path, line=line, column=roles.score)
            if roles.score
            else None
        ),
        correct=(
            parse_bool(record.get(roles.correct), path=path, line=line, column=roles.correct)
            if roles.correct
            else None
        ),
        **extras,
    )
    return example, output


def generic_run(
    records: Sequence[Record],
    columns: Sequence[str],
    *,
    path: Path,
    name: str,
    mapping: ColumnMapping,
    strict: bool,
    unit: str = "line",
    header_line: int | None = None,
    require_output: bool = True,
    notes: Sequence[str] = (),
) -> Run:
    """Build one run from generic records with the roles chosen by :func:`resolve_roles`.

    Without ``require_output`` the records may be a bare dataset (ids, inputs, references).
    ``notes`` (from reading the file) come first among the run's notes.
    """
    roles = resolve_roles(columns, mapping, path=path, line=header_line, require_output=require_output)
    if not mapping.tags:
        taken = roles.taken()
        auto = choose_tags(records, [c for c in columns if c not in taken])
        roles = dataclasses.replace(roles, tags=auto.columns)
        notes = (*notes, *auto.notes)

    def pairs() -> Iterable[tuple[Example, Output, int | None]]:
        for line, record in records:
            try:
                example, output = record_pair(record, roles, path=path, line=line, unit=unit)
            except DeltaEvalError as err:
                raise _with_unit(err, unit, line) from None
            yield example, output, line

    return build_run(name, pairs(), path=path, strict=strict, source=str(path), notes=notes)


def _with_unit(err: DeltaEvalError, unit: str, line: int | None) -> DeltaEvalError:
    """Name the row in the message when ``line`` is a row number rather than a file line."""
    if unit == "line" or line is None or f"{unit} {line}" in err.message:
        return err
    return type(err)(f"{unit} {line}: {err.message}", hint=err.hint, path=err.path, line=line)


def reject_mapping(mapping: ColumnMapping, fmt: str, *, path: Path, allowed: Sequence[str] = ()) -> None:
    """Formats with fixed fields take no column mapping (tags aside): say so, not ignore it."""
    named = sorted(role for role in mapping.explicit() if role not in allowed)
    if named:
        raise InputError(
            f"the {fmt} format has fixed fields; a column mapping for {', '.join(named)} does not apply",
            hint="drop those column options, or pass --format jsonl/csv to map columns yourself",
            path=path,
        )


def extra_tags(records: Sequence[Record], mapping: ColumnMapping, *, path: Path) -> tuple[str, ...]:
    """The user's tag fields for a fixed-field format, checked to exist in the records."""
    if not mapping.tags:
        return ()
    columns = columns_of(records)
    return tuple(require_column(columns, c, role="a tag", path=path) for c in mapping.tags)


def tags_for(record: Mapping[str, Any], columns: Sequence[str]) -> dict[str, str]:
    """Tags from the named fields of one record (objects expanded)."""
    tags: dict[str, str] = {}
    for column in columns:
        value = record.get(column)
        if isinstance(value, dict):
            tags.update(stringify_tags(value))
        else:
            tags.update(tags_from(record, [column]))
    return tags


def required_field(record: Mapping[str, Any], field: str, fmt: str, *, path: Path, line: int | None) -> Any:
    """``record[field]``, or an InputError naming the fields the record does have."""
    if field not in record:
        raise InputError(
            f"record on line {line} has no {field!r} field, which the {fmt} format needs; "
            "its fields are: " + describe_columns(list(record)),
            hint=f"check that this is a {fmt} file, or pass another --format",
            path=path,
            line=line,
        )
    return record[field]
