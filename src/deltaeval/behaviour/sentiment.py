"""Sentiment from VADER's lexicon (shipped, MIT-licensed, by the ``vaderSentiment`` package).

Both sentiment axes give the mean, over the output's sentences (see :mod:`.text`), of a
compound score in [-1, 1]. Averaging sentence scores keeps long outputs from saturating at ±1,
which a single compound over a 300-word answer does.

``sentiment`` (in the default set) is deltaeval's own fast scorer over VADER's word lexicon.
It applies VADER's published rules in simplified form: a word's lexicon valence, ±0.733 when
the word is in capitals in a sentence that mixes capitals with other words, ±0.293 per booster
or dampener among the three preceding words (±0.733 more when that word is in capitals; scaled
1, 0.95, 0.9 by distance), ×(−0.74) when one of the three preceding words is a negation, ×0.5
before and ×1.5 after a "but", "kind" ignored before "of", then emphasis for ``!`` (0.292
each, up to 4) and repeated ``?`` (0.18 each up to 3, else 0.96), and VADER's normalisation
``s / sqrt(s² + 15)``. It skips VADER's idioms, emoticons, emoji descriptions and a few special
cases, so it approximates rather than reproduces the package: ``bench/axes.py`` and
``bench/behaviour_alpaca.py`` print how closely the two agree (Pearson r 0.99 on real
AlpacaEval outputs).

``sentiment_vader`` (opt-in; several times slower than the whole fused default set) calls the
package's ``SentimentIntensityAnalyzer`` on each sentence.

Without ``vaderSentiment`` installed both axes are unavailable; :func:`vader_missing_reason`
says why and how to fix it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import lru_cache, reduce
from importlib import resources
from itertools import compress, repeat
from operator import add, is_not
from typing import Any

from deltaeval.behaviour.text import WORD_RE, normalise, sentences, split_words

VADER_PACKAGE = "vaderSentiment"
LEXICON_FILE = "vader_lexicon.txt"

BOOST = 0.293
CAPS_BOOST = 0.733
NEGATION_FACTOR = -0.74
BUT_BEFORE, BUT_AFTER = 0.5, 1.5
EXCLAMATION_STEP, EXCLAMATION_MAX = 0.292, 4
QUESTION_STEP, QUESTION_MAX, QUESTION_CAP = 0.18, 3, 0.96
NORMALISATION_ALPHA = 15.0
DISTANCE_SCALES = (1.0, 0.95, 0.9)

_INTENSIFIERS = split_words(
    """absolutely amazingly awfully completely considerably decidedly deeply enormously
    entirely especially exceptionally extremely fabulously fully greatly highly hugely
    incredibly intensely majorly more most particularly purely quite really remarkably
    so substantially thoroughly totally tremendously truly unbelievably unusually
    utterly very"""
)
_DAMPENERS = split_words(
    """almost barely hardly kinda less little marginally occasionally partly scarcely slightly
    somewhat"""
)
#: Booster (+) and dampener (−) words and the increment they add to the next sentiment word.
BOOSTERS: dict[str, float] = {w: BOOST for w in _INTENSIFIERS} | {w: -BOOST for w in _DAMPENERS}
#: Words that reverse the sentiment of a word up to three places after them (and any word
#: ending in ``n't``).
NEGATIONS = frozenset(
    split_words(
        """not no never none nobody nothing neither nor nowhere cannot without rarely seldom
    despite aint"""
    )
)
#: Words that bring a rule into play (a sentence without them, or capitals, just sums valences).
RULE_WORDS = frozenset(BOOSTERS) | NEGATIONS | {"but", "kind"}


def in_order(values: Iterable[float]) -> float:
    """The sum of ``values`` added one after the other from 0.0 (on every Python version: the
    built-in ``sum`` of floats compensates rounding from Python 3.12 on), as the fused path of
    the axes adds them."""
    return reduce(add, values, 0.0)


def vader_missing_reason() -> str | None:
    """None when ``vaderSentiment`` can be imported, else a sentence saying how to get it."""
    try:
        import vaderSentiment  # noqa: F401
    except ImportError:
        return "needs the vaderSentiment package (a dependency of deltaeval: pip install vaderSentiment)"
    return None


@lru_cache(maxsize=1)
def lexicon() -> dict[str, float]:
    """VADER's word lexicon: lower-case word → mean valence (−4 … 4); emoticons left out."""
    text = (resources.files(VADER_PACKAGE) / LEXICON_FILE).read_text(encoding="utf-8")
    table: dict[str, float] = {}
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) >= 2 and WORD_RE.fullmatch(fields[0]) and fields[0] == fields[0].lower():
            value = float(fields[1])
            if value != 0.0:  # none is 0 today; a 0 entry would change nothing but emphasis
                table[fields[0]] = value
    return table


def is_caps(word: str) -> bool:
    """Whether a word is written in capitals: upper-case with at least two letters ("OK",
    "I'M"; not "I" or "A1")."""
    if not word.isupper():
        return False
    if word.isalpha():
        return len(word) > 1
    return sum(map(str.isalpha, word)) > 1


def caps_flags(original: list[str]) -> list[bool] | None:
    """Which words are in capitals, when a sentence mixes words in capitals with others
    (only then do capitals add emphasis); None otherwise."""
    flags = list(map(is_caps, original))
    return flags if any(flags) and not all(flags) else None


def is_plain(low: list[str]) -> bool:
    """Whether no rule word (booster, negation, "but", "kind", a word with "n't") occurs, so
    that a sentence without capitals scores the plain sum of its valences."""
    return RULE_WORDS.isdisjoint(low) and "n't" not in " ".join(low)


def rule_total(low: list[str], valences: list[float | None], caps: list[bool] | None) -> float:
    """Sum of a sentence's word valences after capitals, boosters, negation and "but"."""
    but_at = low.index("but") if "but" in low else -1
    total = 0.0
    for i in compress(range(len(valences)), map(is_not, valences, repeat(None))):
        valence = valences[i]
        word = low[i]
        if word in BOOSTERS or (word == "kind" and i + 1 < len(low) and low[i + 1] == "of"):
            continue
        sign = 1.0 if valence >= 0 else -1.0
        if caps is not None and caps[i]:
            valence += sign * CAPS_BOOST
        negated = False
        for distance, scale in enumerate(DISTANCE_SCALES, start=1):
            j = i - distance
            if j < 0:
                break
            before = low[j]
            boost = BOOSTERS.get(before)
            if boost is not None:
                if caps is not None and caps[j]:
                    boost += CAPS_BOOST if boost > 0 else -CAPS_BOOST
                valence += sign * boost * scale
            if before in NEGATIONS or before.endswith("n't"):
                negated = True
        if negated:
            valence *= NEGATION_FACTOR
        if but_at >= 0:
            if i < but_at:
                valence *= BUT_BEFORE
            elif i > but_at:
                valence *= BUT_AFTER
        total += valence
    return total


def compound(total: float, exclamations: int, questions: int) -> float:
    """VADER's compound score of a valence sum, after ``!`` and ``?`` emphasis."""
    if total != 0.0:
        emphasis = min(exclamations, EXCLAMATION_MAX) * EXCLAMATION_STEP
        if questions > 1:
            emphasis += questions * QUESTION_STEP if questions <= QUESTION_MAX else QUESTION_CAP
        total += emphasis if total > 0 else -emphasis
    score = total / math.sqrt(total * total + NORMALISATION_ALPHA)
    return min(1.0, max(-1.0, score))


def sentence_compound(
    low: list[str],
    original: list[str] | None,
    exclamations: int,
    questions: int,
    table: dict[str, float],
) -> float:
    """Compound score of one sentence from its words (``low`` normalised; ``original`` the same
    words as written, or None to ignore capitals) and its ``!`` and ``?`` counts."""
    caps = caps_flags(original) if original is not None else None
    valences = list(map(table.get, low))
    if caps is None and is_plain(low):
        total = in_order(filter(None, valences))
    else:
        total = rule_total(low, valences, caps)
    return compound(total, exclamations, questions)


def sentence_sentiment(sentence: str, table: dict[str, float]) -> float:
    """Fast compound score of one sentence as written.

    Words are looked up normalised; capitals are read from the words as written (when the
    two tokenisations differ in length, an exotic case, capitals are ignored).
    """
    low = WORD_RE.findall(normalise(sentence))
    original: list[str] | None = WORD_RE.findall(sentence.replace("\u2019", "'"))
    if len(original) != len(low):
        original = None
    return sentence_compound(low, original, sentence.count("!"), sentence.count("?"), table)


def sentiment_fast(text: str) -> float:
    """Mean fast compound score over the sentences of ``text``; NaN when it has none."""
    table = lexicon()
    parts = sentences(text)
    if not parts:
        return math.nan
    return in_order(sentence_sentiment(part, table) for part in parts) / len(parts)


@lru_cache(maxsize=1)
def _analyzer() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def sentiment_vader(text: str) -> float:
    """Mean over sentences of the ``vaderSentiment`` package's compound score; NaN when none."""
    parts = sentences(text)
    if not parts:
        return math.nan
    analyzer = _analyzer()
    return sum(analyzer.polarity_scores(part)["compound"] for part in parts) / len(parts)
