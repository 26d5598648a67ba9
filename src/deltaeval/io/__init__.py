"""Importers: files of many formats to :class:`~deltaeval.types.Run` objects.

>>> runs = load_runs("answers.csv")                     # doctest: +SKIP
>>> run = load_run("vibes.csv::gpt-4o")                 # one run of a multi-run file  # doctest: +SKIP

Formats (``FORMATS``): generic ``jsonl``, ``csv`` and ``parquet`` through a
:class:`ColumnMapping`; AlpacaEval ``alpaca_outputs`` and ``alpaca_annotations``; Arena-Hard
``arena_hard``; lm-evaluation-harness ``lm_eval``; ``wide_csv`` (one column per model); LLM
Comparator ``llm_comparator`` (two runs, and judgments: :func:`load_judgments`); inspect_ai logs
``inspect``; and promptfoo results files ``promptfoo`` (one run per provider).
Every problem is raised as an :class:`~deltaeval.errors.InputError` naming the file and line.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from deltaeval.errors import FormatError, InputError
from deltaeval.io import (
    alpaca_eval,
    arena_hard,
    inspect_log,
    llm_comparator,
    lm_eval,
    parquet,
    promptfoo,
    wide_csv,
)
from deltaeval.io import csv as csv_format
from deltaeval.io import jsonl as jsonl_format
from deltaeval.io.base import (
    CORRECT_COLUMNS,
    ID_COLUMNS,
    OUTPUT_COLUMNS,
    REFERENCE_COLUMNS,
    SCORE_COLUMNS,
    ColumnMapping,
)
from deltaeval.io.json_document import document_format
from deltaeval.io.reading import (
    CSV_SUFFIXES,
    JSON_SUFFIXES,
    JSONL_SUFFIXES,
    PARQUET_SUFFIXES,
    check_file,
    peek_csv_header,
    peek_record,
)
from deltaeval.plural import plural
from deltaeval.types import Judgment, Run

__all__ = [
    "FORMATS",
    "FORMAT_DESCRIPTIONS",
    "ColumnMapping",
    "detect_format",
    "load_judgments",
    "load_run",
    "load_runs",
    "split_source",
]

Loader = Callable[..., list[Run]]

_LOADERS: dict[str, Loader] = {
    "jsonl": jsonl_format.load,
    "csv": csv_format.load,
    "parquet": parquet.load,
    "alpaca_outputs": alpaca_eval.load_outputs,
    "alpaca_annotations": alpaca_eval.load_annotations,
    "arena_hard": arena_hard.load,
    "lm_eval": lm_eval.load,
    "wide_csv": wide_csv.load,
    "llm_comparator": llm_comparator.load,
    "inspect": inspect_log.load,
    "promptfoo": promptfoo.load,
}

#: The format names accepted by ``format=`` (and ``--format``).
FORMATS: tuple[str, ...] = tuple(_LOADERS)

#: One line per format, as ``deltaeval formats`` lists them.
FORMAT_DESCRIPTIONS: dict[str, str] = {
    "jsonl": "JSON Lines, one example per line (id, input, output, reference, score, correct, tags)",
    "csv": "CSV or TSV with a header, one example per row (columns as for jsonl)",
    "parquet": "Parquet table, one example per row (columns as for jsonl)",
    "alpaca_outputs": "AlpacaEval model_outputs.json (instruction, output, generator)",
    "alpaca_annotations": "AlpacaEval annotations.json against a baseline (score = preference − 1)",
    "arena_hard": "Arena-Hard model_answer/*.jsonl (v0.1 choices/turns and v2 messages)",
    "lm_eval": "lm-evaluation-harness --log_samples JSONL (acc, exact_match … become score/correct)",
    "wide_csv": "a question column and one column per model (VibeCheck style): one run per model",
    "llm_comparator": "LLM Comparator JSON (models A and B, examples): two runs and the judge's ratings",
    "inspect": "inspect_ai eval log (.eval archive or .json): one run per log (target, score, metadata)",
    "promptfoo": "promptfoo results file (promptfoo eval -o results.json): one run per provider",
}

_ALIASES = {
    "json": "jsonl",
    "ndjson": "jsonl",
    "tsv": "csv",
    "pq": "parquet",
    "vibecheck": "wide_csv",
    "wide": "wide_csv",
    "alpaca_eval": "alpaca_outputs",
    "lm_eval_harness": "lm_eval",
    "lm_evaluation_harness": "lm_eval",
    "llm-comparator": "llm_comparator",
    "llmcomparator": "llm_comparator",
    "inspect_ai": "inspect",
    "eval": "inspect",
}

SELECTOR = "::"


def _format_name(format: str, path: Path) -> str:
    key = format.strip().lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in _LOADERS:
        raise FormatError(
            f"unknown format {format!r}",
            hint="use one of: " + ", ".join(FORMATS),
            path=path,
        )
    return key


def _is_wide(header: list[str]) -> bool:
    lowered = [c.lower() for c in header]
    if not any(c in wide_csv.QUESTION_COLUMNS for c in lowered):
        return False
    if any(c in (*OUTPUT_COLUMNS, *SCORE_COLUMNS, *CORRECT_COLUMNS) for c in lowered):
        return False
    others = [
        c
        for c in lowered
        if c not in (*wide_csv.QUESTION_COLUMNS, *ID_COLUMNS, *REFERENCE_COLUMNS) and c.strip()
    ]
    return len(others) >= 2


def _record_format(record: dict[str, Any] | None) -> str:
    if record is None:
        return "jsonl"
    if "output_1" in record and "preference" in record:
        return "alpaca_annotations"
    if {"instruction", "output", "generator"} <= record.keys():
        return "alpaca_outputs"
    if "choices" in record and ("question_id" in record or "model_id" in record):
        return "arena_hard"
    if {"uid", "messages", "model"} <= record.keys():
        return "arena_hard"
    if "doc_id" in record and ("resps" in record or "filtered_resps" in record):
        return "lm_eval"
    return "jsonl"


def detect_format(path: str | Path) -> str:
    """The format of a file, from its suffix and its first record or header.

    Raises InputError for a missing or empty file and FormatError when the format cannot be
    told (pass ``format=`` / ``--format`` then).
    """
    path = Path(path)
    check_file(path)
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    if suffix in CSV_SUFFIXES:
        header = peek_csv_header(path)
        return "wide_csv" if header is not None and _is_wide(header) else "csv"
    if suffix in inspect_log.SUFFIXES:
        return "inspect"
    if suffix in JSON_SUFFIXES:
        return document_format(path) or _record_format(peek_record(path))
    if suffix in JSONL_SUFFIXES:
        return _record_format(peek_record(path))
    try:
        with path.open("rb") as handle:
            head = handle.read(64)
    except OSError as err:
        raise InputError(
            f"cannot read the file: {err.strerror}", hint="check its permissions", path=path
        ) from None
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK\x03\x04") and inspect_log.is_eval_archive(path):
        return "inspect"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"["):
        return document_format(path) or _record_format(peek_record(path))
    raise FormatError(
        f"cannot tell the format of a {suffix or 'suffix-less'} file",
        hint="pass --format (format=) with one of: " + ", ".join(FORMATS),
        path=path,
    )


def load_runs(
    path: str | Path,
    *,
    format: str | None = None,
    name: str | None = None,
    mapping: ColumnMapping | None = None,
    strict: bool = False,
) -> list[Run]:
    """All runs in a file: one for most formats, one per model for a wide CSV.

    Parameters
    ----------
    path:
        The file to read.
    format:
        One of ``FORMATS``; detected from the file when None.
    name:
        The run's name (default: the file stem, or the model named in the file). Only for a
        file that holds one run.
    mapping:
        Which column holds what, for the generic formats and the wide CSV (lm_eval: ``score``
        names the metric; other formats take tag columns only).
    strict:
        Make a repeated example id an error instead of keeping its first occurrence.

    Returns
    -------
    list[Run]
    """
    path = Path(path)
    fmt = _format_name(format, path) if format is not None else detect_format(path)
    check_file(path)
    try:
        runs = _LOADERS[fmt](path, mapping=mapping or ColumnMapping(), strict=strict)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as err:
        raise FormatError(
            f"cannot read as {fmt}: {type(err).__name__}: {err}",
            hint="check that the file is a valid " + fmt + " file, or pass another --format",
            path=path,
        ) from None
    # a file's run is as old as the file: the same file gives the same run, byte for byte
    modified = datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(timespec="seconds")
    runs = [run.replace(created_at=modified) for run in runs]
    if name is not None:
        if len(runs) != 1:
            raise InputError(
                f"name {name!r} given, but the file holds {plural(len(runs), 'run')}: "
                + ", ".join(repr(r.name) for r in runs),
                hint=f"pick one run with {path}{SELECTOR}RUN",
                path=path,
            )
        runs = [runs[0].replace(name=name)]
    return runs


def load_judgments(path: str | Path, *, format: str | None = None) -> list[Judgment]:
    """The judgments a results file carries beside its runs (LLM Comparator's ratings); [] when
    its format carries none. Their ``run_a``/``run_b`` are the names :func:`load_runs` gives."""
    path = Path(path)
    fmt = _format_name(format, path) if format is not None else document_format(path)
    if fmt != "llm_comparator":  # the only format with judgments is a JSON document: others are not read
        return []
    return llm_comparator.read_judgments(path)


def split_source(source: str | Path) -> tuple[Path, str | None]:
    """Split ``PATH::RUN`` into the path and the run name (None when no run is named).

    A path that exists as given is never split.
    """
    text = str(source)
    if SELECTOR not in text or Path(text).exists():
        return Path(text), None
    file, run = text.rsplit(SELECTOR, 1)
    if not run.strip():
        raise InputError(
            f"no run name after {SELECTOR!r} in {text!r}",
            hint=f"write PATH{SELECTOR}RUN, or just PATH",
            path=file,
        )
    return Path(file), run


def load_run(
    source: str | Path,
    *,
    format: str | None = None,
    name: str | None = None,
    mapping: ColumnMapping | None = None,
    strict: bool = False,
) -> Run:
    """Exactly one run, from ``PATH`` or ``PATH::RUN`` (to pick a run of a multi-run file).

    ``name`` renames the chosen run. Raises InputError when the file holds several runs and
    none is picked, or when the picked run does not exist; both list the runs there are.
    Other parameters as in :func:`load_runs`.
    """
    path, wanted = split_source(source)
    runs = load_runs(path, format=format, mapping=mapping, strict=strict)
    names = ", ".join(repr(r.name) for r in runs)
    if wanted is not None:
        matches = [r for r in runs if r.name == wanted] or [
            r for r in runs if r.name.lower() == wanted.lower()
        ]
        if len(matches) != 1:
            raise InputError(
                f"no run named {wanted!r} in the file; its runs are: {names}",
                hint=f"write {path}{SELECTOR}RUN with one of those names",
                path=path,
            )
        run = matches[0]
    elif len(runs) == 1:
        run = runs[0]
    else:
        example = f"{path}{SELECTOR}{runs[0].name}"
        raise InputError(
            f"the file holds {len(runs)} runs: {names}",
            hint=f"pick one as PATH{SELECTOR}RUN, e.g. {example}",
            path=path,
        )
    return run.replace(name=name) if name is not None else run
