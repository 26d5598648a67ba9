"""The ``answer`` scorer: the reference must be the answer the output gives, not any digit in it.

Short-answer questions put to a chatty model ("How many months are in one year?") come back as
sentences with numbers in them. ``contains`` finds ``"7"`` in ``"7,982 moons"``;
``answer`` reads numbers as numbers (digits or words) and, by default, wants the reference to be
the only number the output states apart from those it repeats from the question.
"""

from __future__ import annotations

import math
import re
import unicodedata

from deltaeval.errors import ScorerError
from deltaeval.scoring.base import Scorer, ScoreResult, bad_reference, split_alternatives
from deltaeval.scoring.numeric import ANSWER_MARKER, find_numbers, parse_number
from deltaeval.scoring.text import normalize_answer, occurs_as_words
from deltaeval.types import Example, input_text

#: How :class:`AnswerMatch` reads the numbers of an output (see its docstring).
NUMBER_MODES = ("only", "first", "any")

_UNIT_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen"
)
_TENS_WORDS = "twenty thirty forty fifty sixty seventy eighty ninety"
_UNITS = {word: value for value, word in enumerate(_UNIT_WORDS.split())}
_TENS = {word: 10 * value for value, word in enumerate(_TENS_WORDS.split(), 2)}
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_WORD = re.compile(r"(?<![^\W\d_])[A-Za-z]+(?![^\W\d_])")
_JOIN = re.compile(r"[ \t-]*|[ \t]+and[ \t]+")
#: "one" as a pronoun, not a number: "no one", "the one", "one of them", "one another"
_PRONOUN_ONE = re.compile(
    r"(?i)(?:\b(?:no|the|each|every|any|this|that|which)\s+one\b|\bone(?=\s+(?:of|another|who)\b))"
)


#: the kinds of number word that may follow each kind within one number ("twenty one", "two hundred")
_FOLLOWS = {
    "unit": ("tens", "scale"),
    "teen": ("scale",),
    "tens": ("scale",),
    "scale": ("unit", "teen", "tens", "scale"),
}


def _kind(word: str) -> str:
    if word in _SCALES:
        return "scale"
    if word in _TENS:
        return "tens"
    if word in _UNITS:
        return "unit" if _UNITS[word] < 10 else "teen"
    return ""


def _word_numbers(text: str) -> list[tuple[int, int, float, bool]]:
    """Numbers written in words: (start, end, value, starts with a scale word such as *million*)."""
    found: list[tuple[int, int, float, bool]] = []
    start = end = -1
    total = current = 0
    last = ""  # the kind of the previous word of the number being read
    scale_first = False
    for match in _WORD.finditer(text):
        word = match.group().lower()
        kind = _kind(word)
        joined = bool(last) and _JOIN.fullmatch(text[end : match.start()]) is not None
        if word == "and" and last == "scale" and joined:
            continue  # "one hundred and five"
        if last and not (kind and joined and last in _FOLLOWS[kind]):
            found.append((start, end, float(total + current), scale_first))
            last = ""
        if not kind:
            continue
        if not last:
            start, total, current, scale_first = match.start(), 0, 0, kind == "scale"
        if word == "hundred":
            current = (current or 1) * 100
        elif kind == "scale":
            total, current = total + (current or 1) * _SCALES[word], 0
        else:
            current += _UNITS.get(word, _TENS.get(word, 0))
        last, end = kind, match.end()
    if last:
        found.append((start, end, float(total + current), scale_first))
    return found


def stated_numbers(text: str) -> list[float]:
    """The numbers ``text`` states, in order: in digits (``7,982``, ``1.5``), in words
    (``twelve``, ``one thousand``), or both (``1.5 million``).

    Examples
    --------
    >>> stated_numbers("One year has twelve months, not 7,982 or 1.5 million.")
    [1.0, 12.0, 7982.0, 1500000.0]
    """
    text = unicodedata.normalize("NFKC", text)
    numbers = {start: (end, value) for start, end, value in find_numbers(text)}
    ends = {end: start for start, (end, _) in numbers.items()}
    pronouns = {match.end() for match in _PRONOUN_ONE.finditer(text)}
    for start, end, value, scale_first in _word_numbers(text):
        if end in pronouns and text[start:end].lower() == "one":
            continue
        digits_end = len(text[:start].rstrip(" \t"))
        if scale_first and digits_end in ends and digits_end < start:
            head = ends.pop(digits_end)  # "1.5 million": digits, a space, then a scale word
            numbers[head] = (end, numbers[head][1] * value)
        else:
            numbers[start] = (end, value)
    return [numbers[start][1] for start in sorted(numbers)]


def reference_number(reference: str) -> float | None:
    """The value of a reference that is one number, in digits or words (``"1,000"``, ``"seven"``)."""
    value = parse_number(reference)
    if value is not None:
        return value
    words = _word_numbers(reference.strip())
    if len(words) == 1 and words[0][0] == 0 and words[0][1] == len(reference.strip()):
        return words[0][2]
    return None


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


class AnswerMatch(Scorer):
    """Correct when the output gives the reference (or one of its alternatives) as its answer.

    A reference that is a number (``"12"``, ``"1,000"``, ``"seven"``) is compared, as a number,
    with the numbers the output states in digits or words: ``"7"`` is not found in ``"7,982"``
    or ``"17"``, and ``"1000"`` is found in ``"1,000"`` and ``"one thousand"``. Numbers that the
    question itself holds (the example's input) are echoes, not answers, and are passed over
    (the reference itself always counts); so is "one" as a pronoun ("one of them", "no one").
    Any other reference must occur in the output as whole words, after
    :func:`~deltaeval.scoring.normalize_answer` (as with ``contains``).

    Parameters
    ----------
    numbers:
        Which numbers of the output count, for a numeric reference:

        - ``"only"`` (default): the output states the reference and no other number — so
          ``"12 months * 12 months per year = 120 months"`` is wrong for 12;
        - ``"first"``: the first number the output states is the reference;
        - ``"any"``: the output states the reference somewhere.

        With ``"only"`` and ``"first"``, an output that declares its answer ("the answer is 3",
        "answer: 3") is read by the first number after the last declaration alone.

    Notes
    -----
    When the question holds the reference (``"What is 81 divided by 9?"``), repeating the
    question counts as stating it; choose such questions with care.

    Examples
    --------
    >>> AnswerMatch().score("There are 7,982 moons.", "7", Example("1")).correct
    False
    >>> AnswerMatch().score("One kilometer is 1,000 meters.", "1000",
    ...                     Example("2", input="How many meters are in one kilometer?")).correct
    True
    """

    name = "answer"
    continuous = False

    def __init__(self, numbers: str = "only") -> None:
        if numbers not in NUMBER_MODES:
            raise ScorerError(
                f"answer: numbers must be one of {', '.join(NUMBER_MODES)}, not {numbers!r}",
                hint="only: the reference is the one number stated; first: the first number; any: anywhere",
            )
        self.numbers = numbers

    def _number_found(self, target: float, prediction: str, question: list[float]) -> bool:
        stated = stated_numbers(prediction)
        if not any(_same(value, target) for value in stated):
            return False
        if self.numbers == "any":
            return True
        for marker in reversed(list(ANSWER_MARKER.finditer(prediction))):
            declared = stated_numbers(prediction[marker.end() :])
            if declared:  # "the answer is 3": that number is the answer
                return _same(declared[0], target)
        # the numbers the output adds to the question's (the reference always counts)
        answers = [v for v in stated if _same(v, target) or not any(_same(v, q) for q in question)]
        if self.numbers == "first":
            return _same(answers[0], target)
        return all(_same(value, target) for value in answers)

    def _score(self, prediction: str, reference: str | None, example: Example) -> ScoreResult:
        assert reference is not None
        alternatives = [alt for alt in split_alternatives(reference) if normalize_answer(alt)]
        if not alternatives:
            raise bad_reference(self.name, example, reference, "answer to look for (it is blank)")
        question: list[float] | None = None
        predicted = normalize_answer(prediction)
        for alternative in alternatives:
            target = reference_number(alternative)
            if target is None:
                if occurs_as_words(normalize_answer(alternative), predicted):
                    return ScoreResult.binary(True)
                continue
            if question is None:
                question = stated_numbers(input_text(example.input))
            if self._number_found(target, prediction, question):
                return ScoreResult.binary(True)
        return ScoreResult.binary(False)
