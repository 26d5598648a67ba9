"""Per-example scorers, for runs that come without per-example correctness.

>>> from deltaeval.scoring import get_scorer, score_run
>>> scorer = get_scorer("numeric")
>>> scorer.score("So the total is $1,234.50.", "#### 1234.5", Example("q1"))
ScoreResult(score=1.0, correct=True)

Specs understood by :func:`get_scorer`: a registered name (see ``SCORERS``: ``exact``,
``numeric``, ``choice``, ``regex``, ``contains``, ``answer``, ``rouge_l``), ``regex:PATTERN``, or a
function of yours as ``module:function``, ``python:module:function`` or
``path/to/file.py:function``. Add your own names with :func:`register_scorer`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from deltaeval.errors import ScorerError
from deltaeval.scoring.answer import AnswerMatch, stated_numbers
from deltaeval.scoring.base import Scorer, ScoreResult, score_run, split_alternatives
from deltaeval.scoring.check import check_scorer
from deltaeval.scoring.choice import ChoiceMatch, extract_choice
from deltaeval.scoring.custom import PYTHON_PREFIX, CustomScorer, load_function
from deltaeval.scoring.numeric import NumericMatch, extract_number, find_numbers
from deltaeval.scoring.rouge import RougeL
from deltaeval.scoring.text import Contains, ExactMatch, RegexMatch, normalize_answer, occurs_as_words
from deltaeval.types import Example

__all__ = [
    "ALIASES",
    "SCORERS",
    "AnswerMatch",
    "ChoiceMatch",
    "Contains",
    "CustomScorer",
    "ExactMatch",
    "Example",
    "NumericMatch",
    "RegexMatch",
    "RougeL",
    "ScoreResult",
    "Scorer",
    "check_scorer",
    "extract_choice",
    "extract_number",
    "find_numbers",
    "get_scorer",
    "load_function",
    "normalize_answer",
    "occurs_as_words",
    "register_scorer",
    "score_run",
    "split_alternatives",
    "stated_numbers",
]

#: A function (or class) that builds a scorer from keyword options.
ScorerFactory = Callable[..., Scorer]

#: The registered scorers, by name. Add to it with :func:`register_scorer`.
SCORERS: dict[str, ScorerFactory] = {
    "exact": ExactMatch,
    "numeric": NumericMatch,
    "choice": ChoiceMatch,
    "regex": RegexMatch,
    "contains": Contains,
    "answer": AnswerMatch,
    "rouge_l": RougeL,
}

#: Other spellings of registered names (looked up after lower-casing and ``-`` → ``_``).
ALIASES: dict[str, str] = {"rougel": "rouge_l", "rouge": "rouge_l"}

_REGEX_PREFIX = "regex:"


def register_scorer(name: str, factory: ScorerFactory, *, replace: bool = False) -> None:
    """Register ``factory`` (a Scorer subclass, or a function returning a Scorer) as ``name``.

    Raises
    ------
    ScorerError
        When the name is empty, holds ``:`` (reserved for ``regex:`` and
        ``module:function``), or is taken and ``replace`` is False.
    """
    if not isinstance(name, str) or not name.strip() or ":" in name:
        raise ScorerError(
            f"cannot register a scorer as {name!r}",
            hint="use a short name without ':'",
        )
    if not callable(factory):
        raise ScorerError(f"cannot register scorer {name!r}: {factory!r} is not callable")
    if name in SCORERS and not replace:
        raise ScorerError(
            f"a scorer named {name!r} is already registered",
            hint="choose another name, or pass replace=True",
        )
    SCORERS[name] = factory


def _lookup(spec: str) -> str | None:
    if spec in SCORERS:
        return spec
    key = spec.lower().replace("-", "_")
    key = ALIASES.get(key, key)
    return key if key in SCORERS else None


def _build(name: str, factory: ScorerFactory, options: dict[str, Any]) -> Scorer:
    try:
        inspect.signature(factory).bind(**options)
    except TypeError:
        try:
            accepted = ", ".join(
                p.name
                for p in inspect.signature(factory).parameters.values()
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            )
        except (TypeError, ValueError):
            accepted = ""
        given = ", ".join(sorted(options)) or "none"
        raise ScorerError(
            f"scorer {name!r} cannot take the options given ({given})",
            hint=f"its options are: {accepted or 'none'}",
        ) from None
    except ValueError:  # no signature to check against: let the factory decide
        pass
    scorer = factory(**options)
    if not isinstance(scorer, Scorer):
        raise ScorerError(
            f"the factory registered as {name!r} returned {type(scorer).__name__}, not a Scorer",
            hint="make it return a deltaeval.scoring.Scorer",
        )
    return scorer


def get_scorer(spec: str, **options: Any) -> Scorer:
    """Build the scorer that ``spec`` names, with keyword ``options`` for its constructor.

    Parameters
    ----------
    spec:
        A registered name (``exact``, ``numeric``, ``choice``, ``regex``, ``contains``,
        ``answer``, ``rouge_l``; also ``rouge-l`` / ``rougeL``), ``regex:PATTERN``, or a custom function
        as ``module:function``, ``python:module:function`` or ``path/to/file.py:function``.
    **options:
        Constructor parameters, e.g. ``threshold=0.3`` or ``rel_tol=1e-4``.

    Raises
    ------
    ScorerError
        When the name is unknown (listing the known ones), an option does not apply, or the
        scorer's parameters are invalid.

    Examples
    --------
    >>> get_scorer("rouge-l", threshold=0.4)
    RougeL(threshold=0.4, use_stemmer=True)
    >>> get_scorer(r"regex:^\\d+$")
    RegexMatch(pattern='^\\\\d+$', normalize=True)
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ScorerError(
            f"a scorer spec must be a non-empty string, not {spec!r}",
            hint="known scorers: " + ", ".join(sorted(SCORERS)),
        )
    spec = spec.strip()
    name = _lookup(spec)
    if name is not None:
        return _build(name, SCORERS[name], options)
    if spec.lower().startswith(_REGEX_PREFIX):
        if "pattern" in options:
            raise ScorerError(
                "the regex pattern is given twice (in the spec and as an option)",
                hint="give it once, as regex:PATTERN",
            )
        return _build("regex", SCORERS["regex"], {"pattern": spec[len(_REGEX_PREFIX) :], **options})
    if ":" in spec.removeprefix(PYTHON_PREFIX):
        return _build(spec, CustomScorer, {"function": spec, **options})
    raise ScorerError(
        f"unknown scorer {spec!r}; known scorers: {', '.join(sorted(SCORERS))}",
        hint="or give regex:PATTERN, or your own function as module:function",
    )
