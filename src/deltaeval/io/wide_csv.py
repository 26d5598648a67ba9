"""Wide CSV (VibeCheck style): a question column and one answer column per model.

Columns: the question (``question``/``prompt``/``input``/``instruction``), optionally an id and
a reference column, the user's tag columns, and every other column is a model's answers, except
columns that hold metadata, which are kept as tags (and named in each run's notes):

- a metadata name (``category``, ``preference``, ``a_type`` … see :data:`METADATA_NAMES`);
- numbers only, or a few distinct short labels, when other columns hold free text (a model's
  answers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from deltaeval.errors import InputError
from deltaeval.io.base import (
    ID_COLUMNS,
    REFERENCE_COLUMNS,
    ColumnMapping,
    build_run,
    example_id_for,
    is_missing,
    pick_column,
    text_or_none,
)
from deltaeval.io.reading import describe_columns, read_csv, require_column
from deltaeval.io.records import reject_mapping, tags_for
from deltaeval.types import Example, Output, Run

FMT = "wide_csv"
QUESTION_COLUMNS = ("question", "prompt", "input", "instruction")
EMPTY_CELL = "no output (empty cell)"
#: column names that hold metadata, never a model's answers (VibeCheck's and common ones)
METADATA_NAMES = frozenset(
    {
        "category",
        "categories",
        "topic",
        "domain",
        "task",
        "subject",
        "source",
        "dataset",
        "split",
        "language",
        "difficulty",
        "type",
        "preference",
        "winner",
        "judge",
        "annotator",
        "model_a",
        "model_b",
        "a_type",
        "b_type",
    }
)
#: name endings that mark metadata (``a_type``, ``conversation_id`` …)
METADATA_SUFFIXES = ("_type", "_category", "_id")
#: at most this many distinct values (and at most one per four rows) make a column categorical
MAX_CATEGORIES = 10
#: a column's values are looked at only when it has at least this many filled cells
MIN_GUESS_VALUES = 8
#: a categorical value is a label: at most this many characters and words
MAX_LABEL_CHARS = 40
MAX_LABEL_WORDS = 3


def split_columns(
    header: Sequence[str], mapping: ColumnMapping, *, path: Path
) -> tuple[str | None, str, str | None, tuple[str, ...], list[str]]:
    """(id, question, reference, tag columns, model columns) of a wide CSV header."""
    explicit = {
        role: require_column(header, column, role=role, path=path, line=1)
        for role, column in mapping.explicit().items()
    }
    tags = tuple(require_column(header, c, role="a tag", path=path, line=1) for c in mapping.tags)
    used = set(explicit.values()) | set(tags)
    question = explicit.get("input") or pick_column(
        [c for c in header if c not in used], None, QUESTION_COLUMNS
    )
    if question is None:
        raise InputError(
            "found no question column; the columns are: " + describe_columns(header),
            hint="add a 'question' column, or name the question column with --input COLUMN",
            path=path,
            line=1,
        )
    used.add(question)
    id_column = explicit.get("id") or pick_column([c for c in header if c not in used], None, ID_COLUMNS)
    if id_column is not None:
        used.add(id_column)
    reference = explicit.get("reference") or pick_column(
        [c for c in header if c not in used], None, REFERENCE_COLUMNS
    )
    if reference is not None:
        used.add(reference)
    models = [c for c in header if c not in used]
    if not models:
        raise InputError(
            "found no model columns (every column other than the question, id, reference and "
            "tags is one model's answers); the columns are: " + describe_columns(header),
            hint="add one column per model, or pass --format csv for one run per file",
            path=path,
            line=1,
        )
    return id_column, question, reference, tags, models


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _looks_categorical(values: list[str]) -> str | None:
    """Why a column's values look like metadata (numbers, or few distinct short labels), or None."""
    if len(values) < MIN_GUESS_VALUES:
        return None  # too few filled cells to tell
    if all(_is_number(v) for v in values):
        return "numbers"
    labels = set(values)
    if any(len(v) > MAX_LABEL_CHARS or len(v.split()) > MAX_LABEL_WORDS for v in labels):
        return None  # sentences: a model's answers, however repetitive (a model that always refuses)
    if len(labels) <= min(MAX_CATEGORIES, len(values) // 4):
        return f"{len(labels)} distinct value{'s' if len(labels) != 1 else ''}"
    return None


def metadata_columns(
    candidates: Sequence[str], rows: Sequence[tuple[int, Mapping[str, Any]]]
) -> dict[str, str]:
    """The candidate model columns that hold metadata instead, each with the reason.

    A metadata name always counts; numbers or few distinct values count only when other
    columns hold free text. No column is taken when every candidate would be.
    """
    found: dict[str, str] = {}
    for column in candidates:
        name = column.strip().lower()
        if name in METADATA_NAMES or name.endswith(METADATA_SUFFIXES):
            found[column] = "a metadata name"
    rest = [c for c in candidates if c not in found]
    guessed: dict[str, str] = {}
    for column in rest:
        values = [str(row[column]).strip() for _, row in rows if not is_missing(row.get(column))]
        reason = _looks_categorical(values)
        if reason is not None:
            guessed[column] = reason
    if len(guessed) < len(rest):
        found.update(guessed)
    return found if len(found) < len(candidates) else {}


def load(path: Path, *, mapping: ColumnMapping, strict: bool) -> list[Run]:
    """One run per model column of a wide CSV, each named after its column header."""
    reject_mapping(mapping, FMT, path=path, allowed=("id", "input", "reference"))
    header, rows, notes = read_csv(path, strict=strict)
    id_column, question, reference, tag_columns, models = split_columns(header, mapping, path=path)
    metadata = metadata_columns(models, rows)
    if metadata:
        models = [c for c in models if c not in metadata]
        tag_columns = (*tag_columns, *metadata)
        kept = ", ".join(f"{c!r} ({why})" for c, why in metadata.items())
        notes = (f"kept as tags, not model runs: {kept}; name tag columns yourself with --tag COLUMN", *notes)
    examples: list[tuple[Example, int]] = []
    for line, row in rows:
        text = text_or_none(row.get(question))
        raw_id = row.get(id_column) if id_column else None
        if is_missing(raw_id) and text is None:
            raise InputError(
                f"row on line {line} has neither an id nor a question",
                hint="fill in the question (or an id) of every row",
                path=path,
                line=line,
            )
        example = Example(
            id=example_id_for(raw_id, text or ""),
            input=text,
            reference=text_or_none(row.get(reference)) if reference else None,
            tags=tags_for(row, tag_columns),
        )
        examples.append((example, line))
    runs = []
    for model in models:
        triples = []
        for (example, line), (_, row) in zip(examples, rows, strict=True):
            answer = text_or_none(row.get(model))
            output = Output(
                example_id=example.id,
                text=answer,
                error=EMPTY_CELL if answer is None else None,
            )
            triples.append((example, output, line))
        runs.append(
            build_run(model, triples, path=path, strict=strict, model=model, source=str(path), notes=notes)
        )
    return runs
