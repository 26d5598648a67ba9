"""Shared pieces of the importers: column mapping, row-to-record conversion, id checks."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deltaeval.errors import DuplicateIdError, InputError
from deltaeval.surrogates import has_lone_surrogate, without_surrogates
from deltaeval.types import Example, Output, Run, input_text, stable_id

ID_COLUMNS = ("id", "example_id", "question_id", "uid", "idx", "doc_id")
INPUT_COLUMNS = ("input", "prompt", "question", "instruction", "messages", "text")
OUTPUT_COLUMNS = ("output", "prediction", "pred", "response", "completion", "generation", "answer")
REFERENCE_COLUMNS = ("reference", "target", "gold", "expected", "label", "ground_truth")
SCORE_COLUMNS = ("score",)
CORRECT_COLUMNS = ("correct", "is_correct")
TAGS_COLUMNS = ("tags",)


@dataclass(frozen=True)
class ColumnMapping:
    """Which column holds what. ``None`` means: look for the usual names (see ``*_COLUMNS``).

    ``tags`` are the columns whose values become example tags (``--tag COL``); empty means: every
    column with no other role whose values look like categories (:mod:`deltaeval.io.auto_tags`).
    """

    id: str | None = None
    input: str | None = None
    output: str | None = None
    reference: str | None = None
    score: str | None = None
    correct: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)

    def explicit(self) -> dict[str, str]:
        """The columns the user named, by role."""
        named = {
            "id": self.id,
            "input": self.input,
            "output": self.output,
            "reference": self.reference,
            "score": self.score,
            "correct": self.correct,
        }
        return {role: col for role, col in named.items() if col is not None}


def is_missing(value: Any) -> bool:
    """None, NaN, or an empty string."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def parse_bool(value: Any, *, path: str | Path, line: int | None, column: str) -> bool | None:
    """Read a correctness cell: true/false, yes/no, 1/0, 1.0/0.0; empty is None."""
    if is_missing(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        if value in (0, 1):
            return bool(value)
    elif isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"true", "t", "yes", "y", "1", "1.0"}:
            return True
        if lowered in {"false", "f", "no", "n", "0", "0.0"}:
            return False
    raise InputError(
        f"column {column!r} holds {value!r}, which is not a boolean",
        hint="use true/false, yes/no or 1/0",
        path=path,
        line=line,
    )


def parse_float(value: Any, *, path: str | Path, line: int | None, column: str) -> float | None:
    """Read a score cell; empty is None; NaN or text is an error."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(
            f"column {column!r} holds {value!r}, which is not a number",
            hint="give numeric scores, or leave the cell empty",
            path=path,
            line=line,
        ) from None
    if math.isnan(number) or math.isinf(number):
        raise InputError(
            f"column {column!r} holds {value!r}",
            hint="replace NaN/inf scores with a number, or leave the cell empty",
            path=path,
            line=line,
        )
    return number


def build_run(
    name: str,
    records: Iterable[tuple[Example, Output, int | None]],
    *,
    path: str | Path,
    strict: bool,
    **fields: Any,
) -> Run:
    """Assemble a run from (example, output, line) triples, checking ids.

    A repeated id is an error under ``strict``; otherwise the first occurrence is kept and the
    repeat is listed in ``Run.duplicate_ids`` and ``Run.notes``. Lone surrogates (half characters
    from JSON escapes such as ``"\\ud800"``, which no UTF-8 file or store can hold) are replaced by
    U+FFFD with a note, and are an error under ``strict``. An empty file is always an error.
    """
    examples: list[Example] = []
    outputs: list[Output] = []
    first_line: dict[str, int | None] = {}
    duplicates: list[str] = []
    notes: list[str] = list(fields.pop("notes", ()))
    for example, output, line in records:
        texts = (example.id, example.input, example.reference, dict(example.tags), output.text, output.error)
        if has_lone_surrogate(texts):
            example, output = _replace_surrogates(example, output, path=path, line=line, strict=strict)
            notes.append(f"line {line}: lone surrogate (half a UTF-16 pair) replaced by U+FFFD")
        if example.id in first_line:
            where = f"line {first_line[example.id]}" if first_line[example.id] else "earlier"
            if strict:
                raise DuplicateIdError(
                    f"example id {example.id!r} occurs again (first at {where})",
                    hint="give every example a unique id, or drop --strict to keep the first",
                    path=path,
                    line=line,
                )
            duplicates.append(example.id)
            notes.append(f"duplicate id {example.id!r} at line {line} ignored (first at {where})")
            continue
        first_line[example.id] = line
        examples.append(example)
        outputs.append(output)
    if not examples:
        raise InputError("no examples found", hint="check that the file is not empty", path=path)
    return Run(
        name=name,
        examples=tuple(examples),
        outputs=tuple(outputs),
        duplicate_ids=tuple(duplicates),
        notes=tuple(notes),
        **fields,
    )


def _replace_surrogates(
    example: Example, output: Output, *, path: str | Path, line: int | None, strict: bool
) -> tuple[Example, Output]:
    """``example`` and ``output`` with lone surrogates replaced by U+FFFD; an error under ``strict``."""
    if strict:
        raise InputError(
            f'record on line {line} holds a lone surrogate (half a UTF-16 pair, e.g. JSON "\\ud800")',
            hint="repair the text cut in the middle of a character, or drop --strict to read it as U+FFFD",
            path=path,
            line=line,
        )
    return without_surrogates(example), without_surrogates(output)


def pick_column(columns: Sequence[str], explicit: str | None, candidates: Sequence[str]) -> str | None:
    """The explicit column if given, else the first candidate present (case-insensitive)."""
    if explicit is not None:
        return explicit
    lowered = {c.lower(): c for c in columns}
    for candidate in candidates:
        if candidate in lowered:
            return lowered[candidate]
    return None


def example_id_for(value: Any, fallback_text: str) -> str:
    """The example id: the given value as text, or a stable hash of the input text."""
    if is_missing(value):
        return stable_id(fallback_text)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def text_or_none(value: Any) -> str | None:
    if is_missing(value):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | dict):
        return input_text(value)  # type: ignore[arg-type]
    return str(value)


def tags_from(row: Mapping[str, Any], columns: Sequence[str]) -> dict[str, str]:
    return {c: str(row[c]) for c in columns if not is_missing(row.get(c))}
