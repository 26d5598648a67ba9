"""Numeric answers, GSM8K style: the final number of the prediction against the reference's."""

from __future__ import annotations

import math
import re
import unicodedata
from numbers import Real

from deltaeval.errors import ScorerError
from deltaeval.scoring.base import Scorer, ScoreResult, bad_reference, split_alternatives
from deltaeval.types import Example

# A number: optional sign and dollar sign (either order), digits with optional thousands
# commas and decimals (or a bare ".5"), an optional "/denominator", an optional "%".
# It may not start in the middle of a word or another number ("x2", "1.2.3", "10-20" → 20).
_NUMBER = re.compile(
    r"(?<![A-Za-z0-9_.])"
    r"(?:(?P<sign>[-+\u2212])\$?|\$(?P<sign2>[-+\u2212])?)?"
    r"(?P<body>(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|\.\d+)"
    r"(?:/(?P<den>\d+)(?![\d/]))?"
    r"(?:\s?%)?"
)
_HASHES = "####"
_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
#: "the answer is", "answer:", "answer =": what follows states the answer
ANSWER_MARKER = re.compile(r"\banswer\b\s*(?:is\b|:|=)", re.IGNORECASE)


def _value(match: re.Match[str]) -> float | None:
    value = float(match["body"].replace(",", ""))
    if match["den"] is not None:
        denominator = float(match["den"])
        if denominator == 0:
            return None
        value /= denominator
    sign = match["sign"] or match["sign2"]
    return -value if sign in ("-", "\u2212") else value


def _numbers(text: str) -> list[float]:
    values = (_value(match) for match in _NUMBER.finditer(text))
    return [value for value in values if value is not None]


def find_numbers(text: str) -> list[tuple[int, int, float]]:
    """Every number written in digits in ``text``, as :func:`extract_number` reads them, in order.

    Each is ``(start, end, value)``, with offsets in ``text`` after Unicode NFKC (the same as
    in ``text`` when it is already NFKC-normalized).

    Examples
    --------
    >>> find_numbers("7,982 moons, 17 planets")
    [(0, 5, 7982.0), (13, 15, 17.0)]
    """
    text = unicodedata.normalize("NFKC", text).replace("\u2044", "/")
    found = ((match.start(), match.end(), _value(match)) for match in _NUMBER.finditer(text))
    return [(start, end, value) for start, end, value in found if value is not None]


def parse_number(text: str) -> float | None:
    """The value of ``text`` when it is one number written in digits (``"1,000"``, ``"-3.5"``,
    ``"$5"``), else ``None``.

    Examples
    --------
    >>> parse_number(" 1,000 "), parse_number("7 days")
    (1000.0, None)
    """
    match = _NUMBER.fullmatch(unicodedata.normalize("NFKC", text).replace("\u2044", "/").strip())
    return None if match is None else _value(match)


def extract_number(text: str) -> float | None:
    """The final answer of a text as a number, or ``None`` when it holds none.

    In order of preference: the first number after the last ``####``; the first number in
    the last ``\\boxed{...}``; the first number after the last "answer is" / "answer:";
    the last number in the text. Understands ``1,234``, signs, decimals, ``$``, ``%``
    (dropped: ``50%`` is 50) and fractions such as ``3/4``.

    Examples
    --------
    >>> extract_number("So she pays $1,234.50 in total. The answer is $1,234.50.")
    1234.5
    >>> extract_number("6 * 12 = 72\\n#### 72")
    72.0
    """
    text = unicodedata.normalize("NFKC", text).replace("\u2044", "/")
    if _HASHES in text:
        after = _numbers(text.rpartition(_HASHES)[2])
        if after:
            return after[0]
    boxed = _BOXED.findall(text)
    if boxed:
        inside = _numbers(boxed[-1])
        if inside:
            return inside[0]
    for marker in reversed(list(ANSWER_MARKER.finditer(text))):
        after = _numbers(text[marker.end() :])
        if after:
            return after[0]
    numbers = _numbers(text)
    return numbers[-1] if numbers else None


def _tolerance(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ScorerError(f"numeric: {name} must be a finite number, not {value!r}")
    if value < 0:
        raise ScorerError(f"numeric: {name} must not be negative, not {value!r}")
    return float(value)


class NumericMatch(Scorer):
    """Correct when the prediction's final number equals the reference's number.

    See :func:`extract_number` for how the number is found; the reference may be plain
    (``"42"``), GSM8K style (``"... #### 42"``), or list ``|||`` alternatives.

    Parameters
    ----------
    rel_tol, abs_tol:
        Tolerances of the comparison, as in :func:`math.isclose`.
    """

    name = "numeric"
    continuous = False

    def __init__(self, rel_tol: float = 1e-6, abs_tol: float = 1e-9) -> None:
        self.rel_tol = _tolerance("rel_tol", rel_tol)
        self.abs_tol = _tolerance("abs_tol", abs_tol)

    def _score(self, prediction: str, reference: str | None, example: Example) -> ScoreResult:
        assert reference is not None
        targets = []
        for alternative in split_alternatives(reference):
            target = extract_number(alternative)
            if target is None:
                raise bad_reference(self.name, example, reference, "number")
            targets.append(target)
        predicted = extract_number(prediction)
        if predicted is None:
            return ScoreResult.binary(False)
        return ScoreResult.binary(
            any(
                math.isclose(predicted, target, rel_tol=self.rel_tol, abs_tol=self.abs_tol)
                for target in targets
            )
        )
