"""AlpacaEval files: ``model_outputs.json`` and ``annotations.json``.

Both are JSON lists of records keyed by ``instruction``; the example id is a stable hash of the
instruction, so the same instruction gets the same id in every file. A file holding several
generators gives one run per generator, named after it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from deltaeval.errors import InputError
from deltaeval.io.base import ColumnMapping, build_run, parse_float, text_or_none
from deltaeval.io.reading import read_records
from deltaeval.io.records import extra_tags, reject_mapping, required_field, tags_for
from deltaeval.plural import plural
from deltaeval.types import Example, Output, Run, stable_id

NO_PREFERENCE = "no preference (judge returned null)"

Triple = tuple[Example, Output, int | None]


def _instruction(record: dict[str, Any], fmt: str, path: Path, line: int | None) -> str:
    value = text_or_none(required_field(record, "instruction", fmt, path=path, line=line))
    if value is None:
        raise InputError(
            f"record on line {line} has an empty 'instruction'",
            hint="every AlpacaEval record needs its instruction (it is the example's id)",
            path=path,
            line=line,
        )
    return value


def _example(record: dict[str, Any], instruction: str, tag_columns: tuple[str, ...]) -> Example:
    tags: dict[str, str] = {}
    dataset = text_or_none(record.get("dataset"))
    if dataset is not None:
        tags["dataset"] = dataset
    tags.update(tags_for(record, tag_columns))
    return Example(id=stable_id(instruction), input=instruction, tags=tags)


def _group(groups: dict[str | None, list[Triple]], key: Any, triple: Triple) -> None:
    groups.setdefault(text_or_none(key), []).append(triple)


def load_outputs(path: Path, *, mapping: ColumnMapping, strict: bool) -> list[Run]:
    """Runs from an AlpacaEval ``model_outputs.json`` (one run per ``generator``)."""
    fmt = "alpaca_outputs"
    reject_mapping(mapping, fmt, path=path)
    records = read_records(path)
    tag_columns = extra_tags(records, mapping, path=path)
    groups: dict[str | None, list[Triple]] = {}
    for line, record in records:
        instruction = _instruction(record, fmt, path, line)
        text = required_field(record, "output", fmt, path=path, line=line)
        example = _example(record, instruction, tag_columns)
        output = Output(example_id=example.id, text=text_or_none(text))
        _group(groups, record.get("generator"), (example, output, line))
    return [
        build_run(
            generator or path.stem,
            triples,
            path=path,
            strict=strict,
            model=generator or "",
            source=str(path),
        )
        for generator, triples in groups.items()
    ]


def parse_preference(value: Any, *, path: Path, line: int | None) -> tuple[float | None, bool]:
    """An AlpacaEval preference in [1, 2] (1: baseline wins, 2: model wins, 1.5: draw).

    Returns (preference, was_zero). Null or NaN is None (the judge gave no verdict); 0, which
    AlpacaEval also uses for a draw, is read as 1.5.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None, False
    if isinstance(value, str) and value.strip().lower() in {"", "nan", "null", "none"}:
        return None, False
    number = parse_float(value, path=path, line=line, column="preference")
    if number is None:
        return None, False
    if number == 0:
        return 1.5, True
    if not 1 - 1e-6 <= number <= 2 + 1e-6:
        raise InputError(
            f"'preference' on line {line} is {value!r}, outside [1, 2]",
            hint="AlpacaEval preferences are 1 (baseline wins) to 2 (model wins); "
            "check that this is an annotations file",
            path=path,
            line=line,
        )
    return min(max(number, 1.0), 2.0), False


def load_annotations(path: Path, *, mapping: ColumnMapping, strict: bool) -> list[Run]:
    """Runs from an AlpacaEval ``annotations.json`` (one run per ``generator_2``).

    ``output_2`` is the model's answer and ``output_1`` the baseline's. ``score`` is
    ``preference - 1`` (0: baseline wins, 1: model wins) and ``correct`` is ``preference > 1.5``;
    a null preference leaves both empty and sets the output's ``error``. The baseline and the
    annotator go into ``Run.params``.
    """
    fmt = "alpaca_annotations"
    reject_mapping(mapping, fmt, path=path)
    records = read_records(path)
    tag_columns = extra_tags(records, mapping, path=path)
    groups: dict[str | None, list[Triple]] = {}
    params: dict[str | None, dict[str, set[str]]] = {}
    zeros: dict[str | None, int] = {}
    for line, record in records:
        instruction = _instruction(record, fmt, path, line)
        text = required_field(record, "output_2", fmt, path=path, line=line)
        raw = required_field(record, "preference", fmt, path=path, line=line)
        preference, was_zero = parse_preference(raw, path=path, line=line)
        example = _example(record, instruction, tag_columns)
        if preference is None:
            output = Output(example_id=example.id, text=text_or_none(text), error=NO_PREFERENCE)
        else:
            output = Output(
                example_id=example.id,
                text=text_or_none(text),
                score=preference - 1.0,
                correct=preference > 1.5,
            )
        key = text_or_none(record.get("generator_2"))
        _group(groups, key, (example, output, line))
        seen = params.setdefault(key, {"baseline": set(), "annotator": set()})
        for param, field in (("baseline", "generator_1"), ("annotator", "annotator")):
            value = text_or_none(record.get(field))
            if value is not None:
                seen[param].add(value)
        zeros[key] = zeros.get(key, 0) + int(was_zero)
    runs = []
    for generator, triples in groups.items():
        run_params, notes = _params(params[generator], zeros[generator])
        runs.append(
            build_run(
                generator or path.stem,
                triples,
                path=path,
                strict=strict,
                model=generator or "",
                params=run_params,
                source=str(path),
                notes=notes,
            )
        )
    return runs


def _params(seen: dict[str, set[str]], zeros: int) -> tuple[dict[str, str | None], list[str]]:
    params: dict[str, str | None] = {}
    notes: list[str] = []
    for param, values in seen.items():
        ordered = sorted(values)
        params[param] = ", ".join(ordered) if ordered else None
        if len(ordered) > 1:
            notes.append(f"several {param}s in one run: {', '.join(ordered)}")
    if zeros:
        notes.append(f"{plural(zeros, 'preference')} of 0 (AlpacaEval's draw code) read as 1.5")
    return params, notes
