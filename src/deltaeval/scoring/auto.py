"""The scorer ``compare`` uses when runs carry no correctness and none is given: chosen from the
references and outputs by a fixed rule, and named in the report with the reason.

The rule, first match wins (error outputs are left out; ``|||`` alternatives count one by one):

1. an example without a reference: **no scorer** (flips need every example scored);
2. every reference is a number (``42``, ``1,000``, ``-3.5``, ``50%``, GSM8K's ``… #### 42``):
   ``numeric`` — the answer's final number must equal it, so a digit elsewhere in the text
   does not count;
3. every reference is an option letter (``B``, ``(c)``): ``choice``;
4. the references are long texts (median above ``LONG_REFERENCE_WORDS`` words): **no scorer** —
   whether a free text matches a reference text needs a chosen measure (``rouge_l`` with a
   threshold, a custom function) or a judge, not a default;
5. every output is no longer, in words, than its longest reference: the outputs are labels,
   ``exact`` (normalized exact match);
6. otherwise the outputs are free text: ``answer`` — the reference must be the answer the output
   gives (whole words; a number read as a number, not as any digit in the text); ``contains``
   (whole words) where ``answer`` is not registered.
"""

from __future__ import annotations

import functools
import re
import statistics
import unicodedata
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from deltaeval.scoring.base import score_run, split_alternatives
from deltaeval.scoring.choice import DEFAULT_LETTERS
from deltaeval.scoring.numeric import extract_number
from deltaeval.types import Run

#: References longer than this (median, in words) get no automatic scorer.
LONG_REFERENCE_WORDS = 10

_PLAIN_NUMBER = re.compile(r"[-+\u2212]?\$?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:/\d+)?\s?%?")
_LETTER_DECORATION = " \t()[]{}*.:"


@dataclass(frozen=True)
class ScorerChoice:
    """The scorer chosen (``name``; None when no scorer fits) and why, in plain words."""

    name: str | None
    reason: str


def is_number(text: str) -> bool:
    """Whether ``text`` is a number alone (or GSM8K style: a number after the last ``####``)."""
    text = unicodedata.normalize("NFKC", text).strip()
    if "####" in text:
        return extract_number(text.rpartition("####")[2]) is not None
    plain = any(c.isdigit() for c in text) and _PLAIN_NUMBER.fullmatch(text) is not None
    return plain and extract_number(text) is not None


def is_option_letter(text: str) -> bool:
    """Whether ``text`` is one option letter (``B``, ``(c)``, ``**D**``)."""
    core = text.strip(_LETTER_DECORATION)
    return len(core) == 1 and core.upper() in DEFAULT_LETTERS


def _words(text: str) -> int:
    return len(text.split())


def choose_scorer(pairs: Sequence[tuple[str | None, str | None]]) -> ScorerChoice:
    """The scorer for outputs without correctness, from ``(reference, output text)`` pairs.

    ``pairs`` holds every scored output of both runs (error outputs left out). See the module
    docstring for the rule.

    Examples
    --------
    >>> choose_scorer([("42", "The answer is 42."), ("7", "7 days")]).name
    'numeric'
    >>> choose_scorer([("Paris", "Paris."), ("Rome", "Milan")]).name
    'exact'
    >>> choose_scorer([("Paris", "It is Paris."), ("Rome", "Rome, I think")]).name
    'answer'
    """
    missing = sum(reference is None or not reference.strip() for reference, _ in pairs)
    if not pairs or missing:
        return decide_scorer(len(pairs), missing, (), lambda: 0.0, lambda: False)
    alternatives = [(split_alternatives(ref or ""), text or "") for ref, text in pairs]

    @functools.cache
    def longest() -> list[int]:
        return [longest_words(alts) for alts, _ in alternatives]

    return decide_scorer(
        len(pairs),
        0,
        {alt for alts, _ in alternatives for alt in alts},
        lambda: statistics.median(longest()),
        lambda: all(_words(text) <= most for (_, text), most in zip(alternatives, longest(), strict=True)),
    )


def longest_words(alternatives: Sequence[str]) -> int:
    """The words of the longest of a reference's alternatives."""
    return max(_words(alt) for alt in alternatives)


def decide_scorer(
    n: int,
    missing: int,
    alternatives: Collection[str],
    median_longest: Callable[[], float],
    labels: Callable[[], bool],
) -> ScorerChoice:
    """The rule of :func:`choose_scorer` on what it reads of ``n`` (reference, output) pairs:
    ``missing`` references, every distinct alternative of the references, the median over the
    pairs of their longest alternative's words, and whether every output has no more words than
    its longest alternative (the last two asked only when needed)."""
    if not n:
        return ScorerChoice(None, "no output to score")
    if missing:
        what = "the examples have no references"
        if missing < n:
            what = f"{missing} of {n} outputs have no reference to be scored against"
        return ScorerChoice(None, what)
    if all(is_number(alt) for alt in alternatives):
        return ScorerChoice("numeric", "every reference is a number")
    if all(is_option_letter(alt) for alt in alternatives):
        return ScorerChoice("choice", "every reference is an option letter")
    median = median_longest()
    if median > LONG_REFERENCE_WORDS:
        return ScorerChoice(
            None,
            f"the references are long texts, median {median:g} words, which no default scorer "
            "matches fairly: choose one, e.g. --scorer rouge_l",
        )
    if labels():
        return ScorerChoice("exact", "every output is a label no longer than its reference")
    return free_text_choice()


def free_text_choice() -> ScorerChoice:
    """The scorer for free-text outputs: ``answer`` where registered, else ``contains``."""
    from deltaeval.scoring import SCORERS

    if "answer" in SCORERS:
        return ScorerChoice("answer", "the outputs are free text: the reference must be the answer they give")
    return ScorerChoice("contains", "the outputs are free text: the reference must occur in them as words")


def _has(runs: Sequence[Run], field: str) -> bool:
    return any(run.filled(field) for run in runs)


def score_by_default(old: Run, new: Run) -> tuple[Run, Run, ScorerChoice | None]:
    """Score two runs that carry no correctness with the scorer :func:`choose_scorer` picks.

    Returns the runs (scored when a scorer fits) and the choice; the choice is None when either
    run already carries correctness (nothing to choose). Runs that carry scores but no
    correctness are left as they are (a scorer would replace their scores).
    """
    if _has((old, new), "correct"):
        return old, new, None
    if _has((old, new), "score"):
        return (
            old,
            new,
            ScorerChoice(None, "the runs carry scores: pass --threshold T to count score >= T as right"),
        )
    from deltaeval.scoring.columnar import choose_scorer_columns

    choice = choose_scorer_columns((old, new))
    if choice is None:  # runs held as rows
        pairs = [
            (example.reference, output.text)
            for run in (old, new)
            for example, output in zip(run.examples, run.outputs, strict=True)
            if output.error is None
        ]
        choice = choose_scorer(pairs)
    if choice.name is None:
        return old, new, choice
    from deltaeval.scoring import get_scorer

    scorer = get_scorer(choice.name)
    return score_run(old, scorer), score_run(new, scorer), choice
