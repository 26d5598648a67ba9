"""lm-evaluation-harness ``--log_samples`` files (``samples_<task>_<timestamp>.jsonl``).

Each record is one document: ``doc_id``, ``doc``, ``target``, ``arguments``, ``resps``,
``filtered_resps``, ``filter``, ``metrics`` and one field per metric (``"acc": 1.0``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deltaeval.errors import InputError
from deltaeval.io.base import ColumnMapping, build_run, parse_float, text_or_none
from deltaeval.io.reading import Record, describe_columns, read_records
from deltaeval.io.records import extra_tags, reject_mapping, required_field, tags_for
from deltaeval.types import Example, Output, Run

FMT = "lm_eval"
#: Metrics used as the score, in order of preference, when none is named.
PREFERRED_METRICS = ("acc", "exact_match", "acc_norm", "f1", "em")
#: Fields of a sample record that are never metrics.
NOT_METRICS = frozenset(
    {
        "doc_id",
        "doc",
        "target",
        "arguments",
        "resps",
        "filtered_resps",
        "filter",
        "metrics",
        "doc_hash",
        "prompt_hash",
        "target_hash",
    }
)
_SAMPLES_NAME = re.compile(r"^samples_(?P<task>.+?)_(?P<stamp>\d{4}-\d{2}-\d{2}T[0-9:.\-]+)$")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf", re.IGNORECASE)


def task_from_filename(path: Path) -> str | None:
    """The task of a ``samples_<task>_<timestamp>.jsonl`` file name, else None."""
    match = _SAMPLES_NAME.match(path.stem)
    return match.group("task") if match else None


def prompt_of(record: dict[str, Any]) -> str | None:
    """The first argument's prompt string; the document as JSON when there is none."""
    arguments = record.get("arguments")
    first: Any = None
    if isinstance(arguments, list) and arguments:
        first = arguments[0]
        if isinstance(first, list | tuple):
            first = first[0] if first else None
    elif isinstance(arguments, dict) and arguments:
        key = "gen_args_0" if "gen_args_0" in arguments else next(iter(arguments))
        group = arguments[key]
        if isinstance(group, dict):
            first = group.get("arg_0", next(iter(group.values()), None))
        elif isinstance(group, list | tuple) and group:
            first = group[0]
    if isinstance(first, str):
        return first
    doc = record.get("doc")
    if doc is None:
        return None
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, default=str)


def _loglikelihood(item: Any) -> tuple[float, bool | None] | None:
    """A ``[logprob, is_greedy]`` pair (possibly written as text), else None."""
    if isinstance(item, list | tuple) and len(item) == 1:
        item = item[0]
    if isinstance(item, list | tuple) and len(item) == 2:
        number = _number(item[0])
        if number is None:
            return None
        greedy = item[1]
        if isinstance(greedy, str):
            greedy = {"true": True, "false": False}.get(greedy.strip().lower())
        return number, greedy if isinstance(greedy, bool) else None
    if isinstance(item, str):
        text = item.strip()
        if not (text[:1] in "([" and text[-1:] in ")]"):
            return None
        parts = [p.strip().strip("'\"") for p in text[1:-1].split(",")]
        if len(parts) != 2:
            return None
        return _loglikelihood(parts)
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        return float(value)
    return None


def response_text(record: dict[str, Any]) -> str | None:
    """The model's answer: the generated text, or the argmax choice index for multiple choice.

    For one ``[logprob, is_greedy]`` pair (a single continuation) the text is whether the
    continuation was the greedy one (``"True"``/``"False"``).
    """
    responses = record.get("filtered_resps", record.get("resps"))
    if not isinstance(responses, list):
        return text_or_none(responses)
    if not responses:
        return None
    pairs = [_loglikelihood(item) for item in responses]
    if all(p is not None for p in pairs):
        if len(pairs) == 1:
            greedy = pairs[0][1]  # type: ignore[index]
            return None if greedy is None else str(greedy)
        logprobs = [p[0] for p in pairs]  # type: ignore[index]
        return str(max(range(len(logprobs)), key=logprobs.__getitem__))
    first = responses[0]
    while isinstance(first, list | tuple) and first:
        first = first[0]
    return None if isinstance(first, list | tuple) else text_or_none(first)


def _metric_names(record: dict[str, Any]) -> list[str]:
    listed = record.get("metrics")
    names = [m for m in listed if isinstance(m, str)] if isinstance(listed, list) else []
    return [*names, *(k for k in record if k not in NOT_METRICS and k not in names)]


def choose_metric(records: Sequence[Record], named: str | None, path: Path) -> str | None:
    """The metric to use as score: the named one (must occur), else a preferred one."""
    if named is not None:
        if any(named in record for _, record in records):
            return named
        available = sorted({m for _, r in records[:50] for m in _metric_names(r) if m in r})
        raise InputError(
            f"metric {named!r} (given for score) not found; the metrics are: " + describe_columns(available),
            hint="name one of the file's metrics for score",
            path=path,
        )
    for _, record in records:
        names = _metric_names(record)
        numeric = [m for m in names if isinstance(record.get(m), bool) or _number(record.get(m)) is not None]
        for metric in PREFERRED_METRICS:
            if metric in numeric:
                return metric
        listed = record.get("metrics")
        if isinstance(listed, list):
            for metric in listed:
                if metric in numeric:
                    return str(metric)
        return None
    return None


def _keep_first_filter(records: list[Record]) -> tuple[list[Record], list[str]]:
    """When a document appears under several filters, keep only the first filter seen."""
    first_filter: dict[str, Any] = {}
    for _, record in records:
        first_filter.setdefault(str(record.get("doc_id")), record.get("filter"))
    kept: list[Record] = []
    dropped: dict[str, None] = {}
    for line, record in records:
        if record.get("filter") == first_filter[str(record.get("doc_id"))]:
            kept.append((line, record))
        else:
            dropped.setdefault(str(record.get("filter")), None)
    notes = []
    if dropped:
        kept_names = sorted({str(f) for f in first_filter.values()})
        notes.append(
            f"kept {'filter' if len(kept_names) == 1 else 'filters'} {', '.join(kept_names)}; dropped records"
            f" of {'filter' if len(dropped) == 1 else 'filters'} " + ", ".join(dropped)
        )
    return kept, notes


def load(path: Path, *, mapping: ColumnMapping, strict: bool) -> list[Run]:
    """One run from an lm-eval samples file.

    ``mapping.score`` picks the metric; otherwise the first of ``acc``, ``exact_match``,
    ``acc_norm``, ``f1``, ``em`` present is used (else the first numeric metric listed in
    ``metrics``). ``correct`` is ``score >= 0.5`` when every score is 0 or 1.
    """
    reject_mapping(mapping, FMT, path=path, allowed=("score",))
    records = read_records(path)
    for line, record in records:
        required_field(record, "doc_id", FMT, path=path, line=line)
    tag_columns = extra_tags(records, mapping, path=path)
    records, notes = _keep_first_filter(records)
    metric = choose_metric(records, mapping.score, path)
    if metric is None:
        notes.append(
            "no numeric metric found (looked for " + ", ".join(PREFERRED_METRICS) + "); outputs have no score"
        )
    elif mapping.score is None and metric not in PREFERRED_METRICS:
        notes.append(f"score is the metric {metric!r}")
    task = task_from_filename(path)
    rows: list[tuple[Example, Output, int | None]] = []
    scores: list[float | None] = []
    for line, record in records:
        example_id = text_or_none(record["doc_id"])
        if example_id is None:
            raise InputError(
                f"record on line {line} has an empty 'doc_id'",
                hint="every sample needs its doc_id",
                path=path,
                line=line,
            )
        tags = {"task": task} if task else {}
        tags.update(tags_for(record, tag_columns))
        target = record.get("target")
        example = Example(
            id=example_id,
            input=prompt_of(record),
            reference=text_or_none(target),
            tags=tags,
        )
        score = None
        if metric is not None:
            score = _metric_value(record.get(metric), metric, path, line)
        scores.append(score)
        rows.append((example, Output(example_id=example_id, text=response_text(record)), line))
    binary = any(s is not None for s in scores) and all(s in (0.0, 1.0) for s in scores if s is not None)
    triples = [
        (
            example,
            Output(
                example_id=output.example_id,
                text=output.text,
                score=score,
                correct=(score >= 0.5) if binary and score is not None else None,
            ),
            line,
        )
        for (example, output, line), score in zip(rows, scores, strict=True)
    ]
    params = {"metric": metric} if metric else {}
    if task:
        params["task"] = task
    return [
        build_run(
            path.stem,
            triples,
            path=path,
            strict=strict,
            params=params,
            source=str(path),
            notes=notes,
        )
    ]


def _metric_value(value: Any, metric: str, path: Path, line: int | None) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, list | dict):
        raise InputError(
            f"metric {metric!r} on line {line} is {type(value).__name__}, not a number",
            hint="this metric is aggregated over the corpus; name a per-sample metric for score",
            path=path,
            line=line,
        )
    return parse_float(value, path=path, line=line, column=metric)
