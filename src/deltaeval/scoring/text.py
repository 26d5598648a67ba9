"""Text scorers: normalized exact match, containment, and regular expressions."""

from __future__ import annotations

import re
import unicodedata

from deltaeval.errors import ScorerError
from deltaeval.scoring.base import Scorer, ScoreResult, bad_reference, split_alternatives
from deltaeval.types import Example

_ARTICLES = frozenset({"a", "an", "the"})


def _is_punctuation(char: str) -> bool:
    return unicodedata.category(char).startswith("P")


def _strip_punctuation(text: str) -> str:
    start, end = 0, len(text)
    while start < end and (text[start].isspace() or _is_punctuation(text[start])):
        start += 1
    while end > start and (text[end - 1].isspace() or _is_punctuation(text[end - 1])):
        end -= 1
    return text[start:end]


def normalize_answer(text: str) -> str:
    """Normalize a short answer for comparison, in the manner of SQuAD.

    Unicode NFKC, casefold, collapse whitespace, strip surrounding punctuation, and drop the
    articles *a*, *an*, *the* (unless nothing else is left). Idempotent.

    Examples
    --------
    >>> normalize_answer("  The  Eiffel Tower. ")
    'eiffel tower'
    >>> normalize_answer("(A)")
    'a'
    """
    previous = None
    for _ in range(10):  # reaches a fixed point after one or two rounds in practice
        if text == previous:
            break
        previous = text
        text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
        text = _strip_punctuation(" ".join(text.split()))
        words = text.split(" ")
        kept = [word for word in words if word not in _ARTICLES]
        if kept:
            text = _strip_punctuation(" ".join(kept))
    return text


def occurs_as_words(needle: str, text: str) -> bool:
    """True when ``needle`` occurs in ``text`` as whole words: not inside a longer word, and a
    number not inside a longer number (``"7"`` is not in ``"17"``, ``"7,982"`` or ``"7.5"``).

    Examples
    --------
    >>> occurs_as_words("cat", "the cat sat"), occurs_as_words("7", "7,982 moons")
    (True, False)
    """
    pattern = rf"(?<!\w)(?<!\d[.,]){re.escape(needle)}(?!\w)(?![.,]\d)"
    return re.search(pattern, text) is not None


def _prepare(text: str, normalize: bool) -> str:
    return normalize_answer(text) if normalize else text.strip()


class ExactMatch(Scorer):
    """Correct when the prediction equals the reference (or one of its ``|||`` alternatives).

    Parameters
    ----------
    normalize:
        Compare after :func:`normalize_answer` (default); when False, only surrounding
        whitespace is ignored.

    Examples
    --------
    >>> ExactMatch().score("The Beatles.", "beatles|||the fab four", Example("1"))
    ScoreResult(score=1.0, correct=True)
    """

    name = "exact"
    continuous = False

    def __init__(self, normalize: bool = True) -> None:
        if not isinstance(normalize, bool):
            raise ScorerError(f"exact: normalize must be true or false, not {normalize!r}")
        self.normalize = normalize

    def _score(self, prediction: str, reference: str | None, example: Example) -> ScoreResult:
        assert reference is not None
        predicted = _prepare(prediction, self.normalize)
        return ScoreResult.binary(
            any(predicted == _prepare(alt, self.normalize) for alt in split_alternatives(reference))
        )


class Contains(Scorer):
    """Correct when the reference (or one of its ``|||`` alternatives) occurs in the prediction.

    Both are normalized first (see :func:`normalize_answer`), and the reference must occur as
    whole words (see :func:`occurs_as_words`): ``"cat"`` is found in ``"The cat sat."`` but not
    in ``"concatenate"``, and ``"7"`` not in ``"7,982"``. Numbers are compared as text
    (``"1000"`` is not found in ``"1,000"``); the ``answer`` scorer compares them as numbers.

    Parameters
    ----------
    normalize:
        Normalize both texts first (default); when False, compare them as given.
    """

    name = "contains"
    continuous = False

    def __init__(self, normalize: bool = True) -> None:
        if not isinstance(normalize, bool):
            raise ScorerError(f"contains: normalize must be true or false, not {normalize!r}")
        self.normalize = normalize

    def _score(self, prediction: str, reference: str | None, example: Example) -> ScoreResult:
        assert reference is not None
        predicted = _prepare(prediction, self.normalize)
        alternatives = [_prepare(alt, self.normalize) for alt in split_alternatives(reference)]
        alternatives = [alt for alt in alternatives if alt]
        if not alternatives:
            raise bad_reference(self.name, example, reference, "text to look for (it is blank)")
        return ScoreResult.binary(any(occurs_as_words(alt, predicted) for alt in alternatives))


class RegexMatch(Scorer):
    """Correct when a regular expression matches the prediction (``re.search``).

    Without a group the reference is not needed. With a group, the first group's text is
    compared with the reference (or one of its ``|||`` alternatives), both normalized.

    Parameters
    ----------
    pattern:
        The regular expression (Python syntax), compiled here; use ``(?i)`` to ignore case.
    normalize:
        Normalize the group and the reference before comparing them (default).

    Examples
    --------
    >>> RegexMatch(r"Final: (\\w+)").score("Final: Paris", "paris", Example("1")).correct
    True
    """

    name = "regex"
    continuous = False

    def __init__(self, pattern: str, normalize: bool = True) -> None:
        if not isinstance(pattern, str) or not pattern:
            raise ScorerError(
                "regex: the pattern must be a non-empty string",
                hint="give the scorer as regex:PATTERN",
            )
        if not isinstance(normalize, bool):
            raise ScorerError(f"regex: normalize must be true or false, not {normalize!r}")
        try:
            self._compiled = re.compile(pattern)
        except re.error as error:
            raise ScorerError(
                f"regex: cannot compile pattern {pattern!r}: {error}",
                hint="fix the regular expression (Python re syntax)",
            ) from error
        self.pattern = pattern
        self.normalize = normalize
        self.needs_reference = self._compiled.groups > 0

    def _score(self, prediction: str, reference: str | None, example: Example) -> ScoreResult:
        match = self._compiled.search(prediction)
        if match is None:
            return ScoreResult.binary(False)
        if self._compiled.groups == 0:
            return ScoreResult.binary(True)
        assert reference is not None
        group = match.group(1)
        if group is None:
            return ScoreResult.binary(False)
        predicted = _prepare(group, self.normalize)
        return ScoreResult.binary(
            any(predicted == _prepare(alt, self.normalize) for alt in split_alternatives(reference))
        )
