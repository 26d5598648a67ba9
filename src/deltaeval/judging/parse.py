"""Reading a verdict out of a judge's text, tolerantly.

A judge is asked to end with one of ``[[A>>B]]``, ``[[A>B]]``, ``[[A=B]]``, ``[[B>A]]``,
``[[B>>A]]``. Models drift from the format, so :func:`parse_verdict` also accepts, in this order
of preference (the **last** match in the text wins, since a judge often restates the options
before deciding):

1. a bracketed verdict with any spacing or case: ``[[ a > b ]]``, ``[[B<<A]]`` (mirrored forms
   are turned around), or an MT-Bench style ``[[A]]`` / ``[[B]]`` / ``[[C]]`` (C: a tie);
2. a verdict after the word "verdict": ``Verdict: A>B``, ``final verdict is **B>>A**``,
   ``verdict = tie``;
3. a text that is nothing but a verdict: ``A>B``, ``a=b``, ``tie``.

Anything else is unparseable (``None``); the LLM judge then asks again (see ``judging.llm``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from deltaeval.analysis.preference import VERDICT_LABELS

_CANONICAL = set(VERDICT_LABELS)
_MIRROR = {"B<<A": "A>>B", "B<A": "A>B", "B=A": "A=B", "A<B": "B>A", "A<<B": "B>>A"}
_RELATION = r"(>>|<<|≫|≪|>|<|=)"
_PAIR = rf"([AB])\s*{_RELATION}\s*([AB])"
_BRACKETED = re.compile(rf"\[\[\s*(?:{_PAIR}|([ABC]|tie))\s*\]\]", re.IGNORECASE)
_AFTER_VERDICT = re.compile(rf"verdict\s*(?:is|:|=|-)?\s*[*_`\"'(\[]*\s*(?:{_PAIR}|(tie)\b)", re.IGNORECASE)
_WHOLE = re.compile(rf"^\W*(?:{_PAIR}|(tie))\W*$", re.IGNORECASE)
_SINGLE = {"A": "A>B", "B": "B>A", "C": "A=B", "TIE": "A=B"}


@dataclass(frozen=True)
class ParsedVerdict:
    """A verdict found in a judge's text: the canonical label and the reasoning before it."""

    label: str
    explanation: str


def normalize_label(text: str) -> str | None:
    """The canonical five-level label of ``text`` (``'b < a'`` → ``'A>B'``), or None.

    Accepts any case and spacing, the mirrored forms (``B<A``), ``≫``/``≪`` for ``>>``/``<<``,
    and ``tie`` for ``A=B``. A comparison of a side with itself (``A>A``) is not a verdict.
    """
    flat = re.sub(r"\s+", "", str(text)).upper().replace("≫", ">>").replace("≪", "<<")
    if flat == "TIE":
        return "A=B"
    flat = _MIRROR.get(flat, flat)
    return flat if flat in _CANONICAL else None


def _from_match(match: re.Match[str]) -> str | None:
    left, relation, right, single = match.group(1), match.group(2), match.group(3), match.group(4)
    if single is not None:
        return _SINGLE.get(single.upper())
    return normalize_label(f"{left}{relation}{right}")


def parse_verdict(text: str | None) -> ParsedVerdict | None:
    """The verdict in a judge's reply, or None when there is none (see the module docstring).

    Examples
    --------
    >>> parse_verdict("B is clearer. [[ b > a ]]").label
    'B>A'
    >>> parse_verdict("Verdict: A>>B").label
    'A>>B'
    >>> parse_verdict("Both answers are fine.") is None
    True
    """
    if not text:
        return None
    for pattern in (_BRACKETED, _AFTER_VERDICT):
        found = [(m, label) for m in pattern.finditer(text) if (label := _from_match(m)) is not None]
        if found:
            match, label = found[-1]
            return ParsedVerdict(label=label, explanation=_explanation(text, match.start(), match.end()))
    whole = _WHOLE.match(text.strip())
    if whole is not None:
        label = _from_match(whole)
        if label is not None:
            return ParsedVerdict(label=label, explanation="")
    return None


def _explanation(text: str, start: int, end: int) -> str:
    """The judge's reasoning: the text around the verdict, with a trailing 'verdict:' cue dropped."""
    before = re.sub(r"(?:final\s+)?verdict\s*(?:is|:)?\s*[*_`\"'(\[]*\s*$", "", text[:start], flags=re.I)
    after = text[end:].strip()
    parts = [before.strip(), after]
    return "\n\n".join(p for p in parts if p).strip()


def label_from_value(value: Any) -> str | float | None:
    """A judge's answer as a Judgment label: a five-level label or a probability in [0, 1].

    Strings are parsed tolerantly (``"a > b"``, ``"[[B>>A]]"``, ``"Verdict: tie"``) and numeric
    strings read as numbers; numbers must lie in [0, 1] (the probability that the output shown
    first is better). Returns None when nothing usable is found (NaN included); raises
    ``ValueError`` for a number outside [0, 1].
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
        if math.isnan(number):
            return None
        if not 0.0 <= number <= 1.0:
            raise ValueError(f"probability {value!r} is outside [0, 1]")
        return number
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item) and getattr(value, "ndim", None) == 0:
        return label_from_value(item())
    text = str(value).strip()
    try:
        return label_from_value(float(text))
    except ValueError as exc:
        if "outside" in str(exc):
            raise
    parsed = parse_verdict(text)
    return parsed.label if parsed is not None else None
