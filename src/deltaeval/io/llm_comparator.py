"""LLM Comparator JSON (PAIR-code/llm-comparator): read as two runs and their judgments.

The file is one object: ``metadata`` (``source_path``, ``custom_fields_schema``), ``models`` (two
entries with a ``name``: model A, then model B) and ``examples``, each with ``input_text``,
``tags`` (a list of strings), ``output_text_a``, ``output_text_b``, ``score`` (the judge's
preference, positive when A is better, from -1.5 to 1.5), ``individual_rater_scores`` (one
``{score, rating_label, is_flipped, rationale}`` per judge call; ``score`` is relative to A,
``rating_label`` is as the judge saw the pair, ``is_flipped`` says B was shown first) and
``custom_fields``.

Model A is read as the new run and B as the old one (LLM Comparator's own demos put the newer
model first), so the runs come back as ``[B, A]``: old, then new. Example ids come from a custom
field ``id`` when there is one (deltaeval writes it), else from the input text. Tags come from
``tag:NAME`` custom fields (deltaeval writes them), else the ``tags`` list becomes the tag
``category`` (several joined by ``", "``), and ``category`` custom fields become tags too. The
per-model custom fields ``score``, ``correct`` and ``error`` fill the outputs' fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from deltaeval.errors import InputError
from deltaeval.io.base import ColumnMapping, build_run, parse_bool, parse_float, text_or_none
from deltaeval.io.json_document import read_document
from deltaeval.io.reading import describe_columns
from deltaeval.io.records import reject_mapping
from deltaeval.types import Example, Judgment, Output, Run, stable_id

FMT = "llm_comparator"
#: LLM Comparator's score range: A much better (1.5) to B much better (-1.5).
MAX_SCORE = 1.5
#: deltaeval's verdict levels (relative to the output shown first) on LLM Comparator's scale.
LEVEL_SCORES = {"A>>B": 1.5, "A>B": 1.0, "A=B": 0.0, "B>A": -1.0, "B>>A": -1.5}
#: Prefix of the custom fields that carry deltaeval's tags (``tag:category``).
TAG_PREFIX = "tag:"
#: Judge name of judgments read from a file that does not name its judge.
DEFAULT_JUDGE = "llm_comparator"
REQUIRED = ("input_text", "output_text_a", "output_text_b")


def _where(index: int, field: str | None = None) -> str:
    return f"examples[{index}]" + (f".{field}" if field else "")


def _chunks_text(value: Any, where: str, path: Path) -> str | None:
    """A text, or the text of a list of sequence chunks (``{"data", "type"}``; images shown as such)."""
    if value is None or isinstance(value, str):
        return text_or_none(value)
    if isinstance(value, list):
        parts = []
        for chunk in value:
            if isinstance(chunk, Mapping) and chunk.get("type", "text") == "text":
                parts.append(str(chunk.get("data", "")))
            elif isinstance(chunk, Mapping):
                parts.append(f"[{chunk.get('type')}]")
            else:
                parts.append(str(chunk))
        return text_or_none("".join(parts))
    raise InputError(
        f"{where} is {type(value).__name__}, not text",
        hint="give the text as a string (or a list of {data, type} chunks)",
        path=path,
    )


def _models(document: Mapping[str, Any], path: Path) -> tuple[str, str]:
    """The names of model A and model B."""
    models = document.get("models")
    if not isinstance(models, list) or len(models) != 2:
        count = f"{len(models)} entries" if isinstance(models, list) else "no list"
        raise InputError(
            f"'models' holds {count}; an LLM Comparator file compares exactly two models (A, then B)",
            hint='give "models": [{"name": "A\'s name"}, {"name": "B\'s name"}]',
            path=path,
        )
    names = []
    for i, model in enumerate(models):
        name = text_or_none(model.get("name")) if isinstance(model, Mapping) else None
        if name is None:
            raise InputError(
                f"models[{i}] has no 'name'",
                hint='give each model a name: {"name": "gemma-1.1"}',
                path=path,
            )
        names.append(name.strip())
    if names[0] == names[1]:
        raise InputError(
            f"both models are named {names[0]!r}",
            hint="give the two models different names in 'models' (they become the runs' names)",
            path=path,
        )
    return names[0], names[1]


def _examples(document: Mapping[str, Any], path: Path) -> list[Mapping[str, Any]]:
    examples = document.get("examples")
    if not isinstance(examples, list):
        raise InputError(
            "'examples' is not a list", hint="give the examples as a JSON list of objects", path=path
        )
    if not examples:
        raise InputError("'examples' is empty", hint="check that the export finished", path=path)
    for i, example in enumerate(examples):
        if not isinstance(example, Mapping):
            raise InputError(
                f"{_where(i)} is {type(example).__name__}, not an object",
                hint="every example is an object with input_text, output_text_a, output_text_b",
                path=path,
            )
        missing = [field for field in REQUIRED if field not in example]
        if missing:
            raise InputError(
                f"{_where(i)} has no {', '.join(repr(m) for m in missing)}; its fields are: "
                + describe_columns(list(example)),
                hint="every example needs input_text, output_text_a and output_text_b",
                path=path,
            )
    return examples


def _schema(document: Mapping[str, Any]) -> dict[str, str]:
    """Custom field name -> type, from ``metadata.custom_fields_schema`` (missing: none)."""
    metadata = document.get("metadata")
    fields = metadata.get("custom_fields_schema") if isinstance(metadata, Mapping) else None
    if not isinstance(fields, list):
        return {}
    return {
        str(f["name"]): str(f.get("type", ""))
        for f in fields
        if isinstance(f, Mapping) and isinstance(f.get("name"), str)
    }


def _custom(example: Mapping[str, Any]) -> Mapping[str, Any]:
    custom = example.get("custom_fields")
    return custom if isinstance(custom, Mapping) else {}


def _tag_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    return text_or_none(value)


def _tags(
    example: Mapping[str, Any], schema: Mapping[str, str], wanted: Sequence[str], i: int, path: Path
) -> dict[str, str]:
    custom = _custom(example)
    tags: dict[str, str] = {}
    ours = [name for name in schema if name.startswith(TAG_PREFIX)]
    if ours:
        for name in ours:
            value = _tag_text(custom.get(name))
            if value is not None:
                tags[name[len(TAG_PREFIX) :]] = value
    else:
        listed = example.get("tags") or []
        if not isinstance(listed, list):
            raise InputError(
                f"{_where(i, 'tags')} is {type(listed).__name__}, not a list",
                hint='give the tags as a list of strings, e.g. ["Math"]',
                path=path,
            )
        values = [str(t) for t in listed if text_or_none(t) is not None]
        if values:
            tags["category"] = ", ".join(values)
        for name, kind in schema.items():
            value = _tag_text(custom.get(name))
            if kind == "category" and value is not None:
                tags[name] = value
    for name in wanted:
        value = _tag_text(custom.get(name))
        if value is not None:
            tags[name] = value
    return tags


def _per_model(custom: Mapping[str, Any], name: str, side: int, i: int, path: Path) -> Any:
    """Side ``side`` (0: A, 1: B) of a per-model custom field, None when absent."""
    values = custom.get(name)
    if values is None:
        return None
    if not isinstance(values, list) or len(values) != 2:
        raise InputError(
            f"{_where(i, 'custom_fields.' + name)} is not a list of two values (A, B)",
            hint="per-model custom fields hold one value per model: [value_a, value_b]",
            path=path,
        )
    return values[side]


def _output(example: Mapping[str, Any], example_id: str, side: int, i: int, path: Path) -> Output:
    custom = _custom(example)
    where = _where(i, "custom_fields")
    text_field = "output_text_a" if side == 0 else "output_text_b"
    return Output(
        example_id=example_id,
        text=_chunks_text(example.get(text_field), _where(i, text_field), path),
        score=parse_float(
            _per_model(custom, "score", side, i, path), path=path, line=None, column=where + ".score"
        ),
        correct=parse_bool(
            _per_model(custom, "correct", side, i, path), path=path, line=None, column=where + ".correct"
        ),
        error=text_or_none(_per_model(custom, "error", side, i, path)),
    )


def _example(
    example: Mapping[str, Any], schema: Mapping[str, str], wanted: Sequence[str], i: int, path: Path
) -> Example:
    text = _chunks_text(example.get("input_text"), _where(i, "input_text"), path) or ""
    custom = _custom(example)
    given = text_or_none(custom.get("id"))
    return Example(
        id=given if given is not None else stable_id(text),
        input=text,
        reference=text_or_none(custom.get("reference")),
        tags=_tags(example, schema, wanted, i, path),
    )


def _wanted_tags(
    examples: Sequence[Mapping[str, Any]], mapping: ColumnMapping, path: Path
) -> tuple[str, ...]:
    """The custom fields named with ``--tag``, checked to exist."""
    known: dict[str, None] = {}
    for example in examples:
        known.update(dict.fromkeys(_custom(example)))
    for name in mapping.tags:
        if name not in known:
            raise InputError(
                f"custom field {name!r} (given as a tag) not found; the custom fields are: "
                + describe_columns(list(known)),
                hint="name one of the examples' custom_fields with --tag",
                path=path,
            )
    return tuple(mapping.tags)


def load(path: Path, *, mapping: ColumnMapping, strict: bool) -> list[Run]:
    """Two runs from an LLM Comparator file: model B (old), then model A (new)."""
    reject_mapping(mapping, FMT, path=path)
    document = read_document(path, FMT)
    name_a, name_b = _models(document, path)
    examples = _examples(document, path)
    schema = _schema(document)
    wanted = _wanted_tags(examples, mapping, path)
    rows = [_example(example, schema, wanted, i, path) for i, example in enumerate(examples)]
    runs = []
    for side, name in ((1, name_b), (0, name_a)):
        triples = [
            (row, _output(example, row.id, side, i, path), i + 1)
            for i, (row, example) in enumerate(zip(rows, examples, strict=True))
        ]
        runs.append(
            build_run(
                name,
                triples,
                path=path,
                strict=strict,
                model=name,
                params={"llm_comparator_model": "A" if side == 0 else "B"},
                source=str(path),
                notes=[
                    f"model {'A' if side == 0 else 'B'} of the file: the {'new' if side == 0 else 'old'} run"
                ],
            )
        )
    return runs


# -- judgments ---------------------------------------------------------------------------------


def label_for(value: float) -> str | float:
    """A score relative to the output shown first, as a deltaeval label: one of the five levels
    when it is one (±1.5, ±1, 0), else the probability that the first output is better."""
    for label, score in LEVEL_SCORES.items():
        if value == score:
            return label
    return min(max((value / MAX_SCORE + 1.0) / 2.0, 0.0), 1.0)


def _rater_judgment(
    rater: Any, example_id: str, runs: tuple[str, str], judge: str, i: int, k: int, path: Path
) -> Judgment:
    """One rating as a judgment of (old = B, new = A); ``runs`` is (name_a, name_b)."""
    where = _where(i, f"individual_rater_scores[{k}]")
    if not isinstance(rater, Mapping):
        raise InputError(
            f"{where} is {type(rater).__name__}, not an object",
            hint="each rating is an object with score, rating_label, is_flipped, rationale",
            path=path,
        )
    name_a, name_b = runs
    flipped = bool(rater.get("is_flipped"))
    custom = rater.get("custom_fields")
    judge_name = text_or_none(custom.get("judge")) if isinstance(custom, Mapping) else None
    score = parse_float(rater.get("score"), path=path, line=None, column=where + ".score")
    label: str | float | None = rater.get("rating_label")
    if not isinstance(label, str) or label not in LEVEL_SCORES:  # LLM Comparator's own wording
        label = None
        if score is not None:
            label = label_for(0.0 - score if flipped else score)  # relative to the output shown first
    return Judgment(
        example_id=example_id,
        judge=judge_name or judge,
        run_a=name_b,  # deltaeval's convention: run_a is the old run
        run_b=name_a,
        order="ab" if flipped else "ba",  # not flipped: A (the new run, run_b) was shown first
        label=label,
        raw=text_or_none(rater.get("rating_label")),
        explanation=text_or_none(rater.get("rationale")),
        error=None if label is not None else "no score in the LLM Comparator file",
    )


def _numbered(judgments: list[Judgment]) -> list[Judgment]:
    """Repeated ratings of one example in one order (LLM Comparator repeats each call) kept apart:
    the second becomes judge ``NAME#2`` and so on, as the store keeps one per judge and order."""
    seen: dict[tuple[str, str, str], int] = {}
    numbered = []
    for j in judgments:
        key = (j.judge, j.example_id, j.order)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            j = Judgment.from_dict({**j.to_dict(), "judge": f"{j.judge}#{seen[key]}"})
        numbered.append(j)
    return numbered


def read_judgments(path: Path) -> list[Judgment]:
    """The ratings of an LLM Comparator file as judgments of the pair (old = B, new = A).

    Each of ``individual_rater_scores`` is one judgment; an example with a ``score`` but no
    ratings gives one judgment from its score (as A shown first). The judge is the rating's
    ``custom_fields.judge`` when given, else ``llm_comparator``.
    """
    document = read_document(path, FMT)
    runs = _models(document, path)
    schema = _schema(document)
    judgments: list[Judgment] = []
    for i, example in enumerate(_examples(document, path)):
        example_id = _example(example, schema, (), i, path).id
        raters = example.get("individual_rater_scores") or []
        if not isinstance(raters, list):
            raise InputError(
                f"{_where(i, 'individual_rater_scores')} is not a list",
                hint="give the ratings as a list of objects (or an empty list)",
                path=path,
            )
        if not raters:
            score = parse_float(example.get("score"), path=path, line=None, column=_where(i, "score"))
            if score is not None:
                raters = [{"score": score, "is_flipped": False}]
        judgments.extend(
            _rater_judgment(rater, example_id, runs, DEFAULT_JUDGE, i, k, path)
            for k, rater in enumerate(raters)
        )
    return _numbered(judgments)


def renamed(judgments: Sequence[Judgment], names: Mapping[str, str]) -> list[Judgment]:
    """``judgments`` with their runs renamed as the runs were (``--name`` on import)."""
    return [
        Judgment.from_dict(
            {**j.to_dict(), "run_a": names.get(j.run_a, j.run_a), "run_b": names.get(j.run_b, j.run_b)}
        )
        for j in judgments
    ]
