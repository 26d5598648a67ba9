"""Pairwise judging: judges behind one interface, the both-orders protocol, panels, adaptive stops.

A judge spec selects a judge:

- any model spec (``openai:MODEL@URL``, ``gguf:PATH``, ``smollm2``, ``hf:PATH``): an
  :class:`LLMJudge` on that backend;
- ``python:MODULE:FUNCTION`` or ``python:file.py:FUNCTION``: a :class:`CallableJudge`,
  ``fn(input, output_a, output_b)`` returning a label or a probability;
- ``recorded:PATH``, or the path of an existing file: a :class:`RecordedJudge` over AlpacaEval
  annotations, Arena-Hard judgments, or a CSV/JSONL table with ``preference=COLUMN``.

In Python::

    from deltaeval.judging import get_judge, judge
    report = judge(old_run, new_run, ["openai:judge@http://127.0.0.1:8000/v1"], store=store)
    report.data["preference"]["win_rate"]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deltaeval.errors import UsageError
from deltaeval.judging.base import Judge, JudgmentCallback, Pair
from deltaeval.judging.callable import CallableJudge
from deltaeval.judging.check import check_judge
from deltaeval.judging.llm import DEFAULT_MAX_TOKENS, DEFAULT_SYSTEM, DEFAULT_TEMPLATE, REASK, LLMJudge
from deltaeval.judging.parse import normalize_label, parse_verdict
from deltaeval.judging.protocol import JudgingResult, Prices, judge_runs
from deltaeval.judging.recorded import RecordedJudge, RecordedJudgments, read_judgments, recorded_judge_for

RECORDED_PREFIX = "recorded:"


def get_judge(
    spec: str,
    *,
    runs: tuple[str, str] | None = None,
    preference: str | None = None,
    id_column: str | None = None,
    template: str | None = None,
    system: str | None = None,
    max_retries: int = 2,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    temperature: float = 0.0,
    notes: list[str] | None = None,
    **backend_options: Any,
) -> Judge:
    """Build the judge a spec names (see the module docstring).

    Parameters
    ----------
    runs:
        For a recorded judge: the names of the two runs compared (run a, run b), so that a file
        naming other runs can be mapped onto them (``recorded_judge_for``).
    preference, id_column:
        For a recorded judge over a generic CSV/JSONL: the preference and id columns.
    template, system, max_retries, max_tokens, temperature:
        For an LLM judge: the user-message template, the system prompt (default
        :data:`DEFAULT_SYSTEM`), the re-asks after a reply without a verdict, and decoding.
    notes:
        A list that receives a line for anything worth telling the user (name mappings).
    backend_options:
        Options for the LLM judge's backend (``concurrency``, ``timeout``, ``api_key_env`` …).
    """
    if is_recorded_spec(spec):
        recorded = read_judgments(_recorded_path(spec), preference=preference, id_column=id_column)
        if runs is None:
            return RecordedJudge(recorded.judgments, inputs=recorded.inputs, source=recorded.path)
        judge, note = recorded_judge_for(recorded, *runs)
        if note and notes is not None:
            notes.append(note)
        return judge
    if preference is not None:
        raise UsageError("--preference applies to a recorded judgment file", hint="give --judge FILE with it")
    if spec.startswith("python:"):
        from deltaeval.judging.callable import from_spec

        return from_spec(spec[len("python:") :])
    from deltaeval.backends import get_backend

    backend = get_backend(spec, **backend_options)
    return LLMJudge(
        backend,
        template=template,
        system=DEFAULT_SYSTEM if system is None else system,
        max_retries=max_retries,
        max_tokens=max_tokens,
        temperature=temperature,
    )


def is_recorded_spec(spec: str) -> bool:
    """Whether a judge spec names recorded judgments (``recorded:PATH`` or an existing file)."""
    if spec.startswith(RECORDED_PREFIX):
        return True
    return ":" not in spec.split("/")[0] and Path(spec).is_file()


def _recorded_path(spec: str) -> str:
    return spec[len(RECORDED_PREFIX) :] if spec.startswith(RECORDED_PREFIX) else spec


def recorded_judges(
    specs: list[str], *, preference: str | None = None, id_column: str | None = None
) -> list[RecordedJudge]:
    """One RecordedJudge per judge name over several judgment files (e.g. one file per model).

    Files by the same judge (AlpacaEval's annotator, Arena-Hard's judge) form one judge, so that
    ``--baseline`` can compare two models each judged against the baseline in its own file.
    """
    by_judge: dict[str, list[Any]] = {}
    inputs: dict[str, str] = {}
    paths: dict[str, dict[str, None]] = {}
    for spec in specs:
        recorded = read_judgments(_recorded_path(spec), preference=preference, id_column=id_column)
        inputs.update(recorded.inputs)
        for j in recorded.judgments:
            by_judge.setdefault(j.judge, []).append(j)
            paths.setdefault(j.judge, {})[recorded.path] = None
    return [
        RecordedJudge(items, name=name, inputs=inputs, source=", ".join(paths[name]))
        for name, items in by_judge.items()
    ]


def judge(old: Any, new: Any, judges: Any, **options: Any) -> Any:
    """Judge ``new`` against ``old`` and build the report; see :func:`deltaeval.judging.report.judge`."""
    from deltaeval.judging.report import judge as _judge

    return _judge(old, new, judges, **options)


__all__ = [
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_SYSTEM",
    "DEFAULT_TEMPLATE",
    "REASK",
    "CallableJudge",
    "Judge",
    "JudgingResult",
    "JudgmentCallback",
    "LLMJudge",
    "Pair",
    "Prices",
    "RecordedJudge",
    "RecordedJudgments",
    "check_judge",
    "get_judge",
    "is_recorded_spec",
    "judge",
    "judge_runs",
    "normalize_label",
    "parse_verdict",
    "read_judgments",
    "recorded_judge_for",
    "recorded_judges",
]
