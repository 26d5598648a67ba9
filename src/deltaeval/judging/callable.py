"""A Python function as a pairwise judge: ``python:MODULE:FUNCTION`` or ``python:file.py:FUNCTION``.

The function is called as ``fn(input, output_a, output_b)`` (``input`` as text; chat messages
are joined into ``role: content`` lines) and returns one of:

- a verdict label, read tolerantly (``"A>B"``, ``"b >> a"``, ``"[[A=B]]"``, ``"Verdict: tie"``);
- a number in [0, 1]: the probability that ``output_a`` (shown first) is better;
- a dict with ``label`` (or ``probability``) and optionally ``explanation``;
- a ``(label, explanation)`` tuple.

An exception, or an answer that is none of these, becomes that pair's error judgment. Calls are
local and cheap, so they are not cached.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from deltaeval.errors import UsageError
from deltaeval.judging.base import Judge, JudgmentCallback, Pair, judgment_for
from deltaeval.judging.parse import label_from_value
from deltaeval.types import Judgment, input_text

MAX_ERROR_CHARS = 500


def _read_answer(value: Any) -> tuple[str | float | None, str | None, str | None]:
    """(label, explanation, error) of what the function returned."""
    explanation: Any = None
    if isinstance(value, Mapping):
        unknown = sorted(str(k) for k in value if k not in {"label", "probability", "explanation"})
        if unknown:
            return None, None, f"the judge function returned unknown keys {', '.join(unknown)}"
        explanation = value.get("explanation")
        value = value.get("label", value.get("probability"))
    elif isinstance(value, tuple) and len(value) == 2:
        value, explanation = value
    try:
        label = label_from_value(value)
    except ValueError as exc:
        return None, None, f"the judge function returned {exc}"
    if label is None:
        shown = repr(value)[:200]
        return (
            None,
            None,
            (
                f"the judge function returned {shown}, which is no verdict "
                "(return a label such as 'A>B', or a probability in [0, 1])"
            ),
        )
    return label, None if explanation is None else str(explanation), None


class CallableJudge(Judge):
    """A Python function ``fn(input, output_a, output_b)`` as a judge (see the module docstring)."""

    kind = "python"

    def __init__(self, fn: Callable[..., Any], *, name: str | None = None) -> None:
        if not callable(fn):
            raise UsageError(f"{fn!r} is not callable", hint="give a function (input, output_a, output_b)")
        qualified = f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', type(fn).__name__)}"
        super().__init__(name or f"python:{qualified}")
        self.fn = fn

    def judge(
        self,
        pairs: Sequence[Pair],
        *,
        store: Any = None,
        on_judgment: JudgmentCallback | None = None,
    ) -> list[Judgment]:
        results: list[Judgment] = []
        for i, pair in enumerate(Pair.of(p) for p in pairs):
            started = time.perf_counter()
            try:
                value = self.fn(input_text(pair.example.input), pair.output_a, pair.output_b)
            except Exception as exc:  # a failing judge must not lose the other verdicts
                label, explanation, error = None, None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
                raw = None
            else:
                label, explanation, error = _read_answer(value)
                raw = value if isinstance(value, str) else None
            judgment = judgment_for(
                pair,
                self.name,
                label=label,
                raw=raw,
                explanation=explanation,
                error=error,
                latency_s=time.perf_counter() - started,
            )
            results.append(judgment)
            if on_judgment is not None:
                on_judgment(i, judgment)
        return results


def from_spec(rest: str) -> CallableJudge:
    """The judge of a spec ``python:MODULE:FUNCTION`` (``rest`` is ``MODULE:FUNCTION``)."""
    from deltaeval.backends.callable import load_callable

    return CallableJudge(load_callable(rest), name=f"python:{rest}")
