"""Every built-in axis of one output in one pass (the fast path of ``compute_axes``).

Gives the same values as the per-axis functions of :mod:`.reference` (tests hold them equal)
while sharing the work between axes: one pass over the lines for the markdown axes (code
blocks are looked for only when a quick look finds a fence or an indented line), one
sentence cut, one word list (for ASCII text, found with ``bytes.translate`` and ``str.split``
rather than a regex), one word count table for the word-list axes, per-word syllable counts
cached across outputs, and quick substring tests before any pattern that rarely matches.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from itertools import repeat
from operator import mul

import numpy as np

from deltaeval.behaviour import patterns as P
from deltaeval.behaviour.code import CODE, OPEN, PROSE, blank_code_spans, code_kinds
from deltaeval.behaviour.reference import FK_CONSTANT, FK_SENTENCE, FK_SYLLABLE, MATTR_WINDOW, per_100_words
from deltaeval.behaviour.sentiment import RULE_WORDS, caps_flags, compound, rule_total
from deltaeval.behaviour.text import (
    CURLY_APOSTROPHE,
    HAS_WORD_RE,
    LIST_NUMBER_RE,
    SENTENCE_CLOSERS,
    SENTENCE_CUT_RE,
    STOPWORDS,
    WORD_RE,
    normalise,
    strip_list_numbers,
    syllables,
    words,
)

#: Output order of :func:`extract` (the built-in axes).
FUSED_NAMES = (
    "length_words",
    "length_tokens",
    "length_chars",
    "sentences",
    "avg_sentence_words",
    "paragraphs",
    "bullet_items",
    "numbered_items",
    "headers",
    "bold",
    "code_blocks",
    "inline_code",
    "tables",
    "links",
    "markdown_density",
    "questions",
    "exclamations",
    "emoji",
    "first_person",
    "second_person",
    "hedges",
    "apologies",
    "refusals",
    "disclaimers",
    "numbers",
    "readability_grade",
    "lexical_diversity",
    "sentiment",
    "restates_question",
)

_WORD_BYTES = bytes(c if chr(c) in "abcdefghijklmnopqrstuvwxyz0123456789'\n" else 0x20 for c in range(256))
#: The ASCII characters ``str.isspace`` (and the regex ``\s``) call whitespace.
_ASCII_SPACE_BYTES = bytes(c for c in range(128) if chr(c).isspace())
#: Two capitals in a run of capitals, digits and apostrophes: every word in capitals holds one.
_CAPS_HINT_RE = re.compile(r"[A-Z][A-Z0-9']*[A-Z]")
#: An apostrophe that is not between two letters or digits (it separates words).
_LOOSE_APOSTROPHE_RE = re.compile(r"'(?:(?![a-z0-9])|(?<![a-z0-9]'))")
_BULLET_STARTS = "-*+\u2022"
#: First characters of the markdown line kinds (digits for numbered items; non-ASCII digits are
#: tested apart).
_MARK_STARTS = _BULLET_STARTS + "#>|0123456789"
_HEDGE_PHRASES = tuple(
    (phrase.split()[-1], " " + "  ".join(phrase.split()) + " ") for phrase in P.HEDGE_PHRASES
)
_CACHE_LIMIT = 500_000
#: Every match of ``REFUSAL_RE`` (``DISCLAIMER_RE``) in the words joined by spaces holds one of
#: these: substring tests that spare the pattern's scan of outputs that cannot match.
_REFUSAL_HINTS = (
    "cannot ",
    "can't ",
    "can not ",
    "won't ",
    "will not ",
    "unable to ",
    "not able to ",
    "decline",
    "refuse",
    "an ai",
    "language model",
)
_DISCLAIMER_HINTS = (
    "consult ",
    "seek ",
    "advice",
    "not a ",
    "informational purposes",
    "please note that",
    "important to ",
    "not constitute",
)


class _SyllableCache(dict):
    def __missing__(self, word: str) -> int:
        if len(self) > _CACHE_LIMIT:
            self.clear()
        value = self[word] = syllables(word)
        return value


_SYLLABLES = _SyllableCache()


def _ascii_word_text(low: bytes) -> str:
    """Lower-case ASCII text with every character that is not part of a word made a space
    (line breaks kept), so that ``str.split`` gives its words."""
    out = low.translate(_WORD_BYTES).decode("ascii")
    if "'" in out:
        out = _LOOSE_APOSTROPHE_RE.sub(" ", out)
    return out


def _mattr(ws: list[str], counts: Counter[str]) -> float:
    n = len(ws)
    if n == 0:
        return math.nan
    if n <= MATTR_WINDOW:
        return len(counts) / n
    # Every window holds MATTR_WINDOW positions; a position adds a new distinct word to a window
    # unless the previous occurrence of its word is in that window too. So the sum over windows
    # of their distinct words is windows * MATTR_WINDOW minus, for each repeated occurrence,
    # the number of windows holding both it and the previous occurrence. Sorting the keys
    # word id * n + position puts each occurrence right after the previous one of its word.
    windows = n - MATTR_WINDOW + 1
    ids = {word: i for i, word in enumerate(counts)}
    keys = np.fromiter(map(ids.__getitem__, ws), np.int64, n) * n + np.arange(n)
    keys.sort()
    word, position = np.divmod(keys, n)
    repeat_of = word[1:] == word[:-1]
    later = position[1:][repeat_of]
    earlier = position[:-1][repeat_of]
    near = later - earlier < MATTR_WINDOW
    later, earlier = later[near], earlier[near]
    low = np.maximum(later - (MATTR_WINDOW - 1), 0)
    high = np.minimum(earlier, n - MATTR_WINDOW)
    shared = int(np.maximum(high - low + 1, 0).sum())
    return (windows * MATTR_WINDOW - shared) / (MATTR_WINDOW * windows)


def extract(text: str, input_text: str | None = None, table: dict[str, float] | None = None) -> list[float]:
    """The built-in axes of one output, in :data:`FUSED_NAMES` order.

    ``table`` is the sentiment lexicon (None leaves ``sentiment`` NaN); without
    ``input_text``, ``restates_question`` is NaN.
    """
    nan = math.nan

    # Lines: markdown structure, blank lines, paragraphs, in the prose (code blocks left out).
    bullets = numbered = headers = fences = blocks = quotes = pipes = delimiters = 0
    nonblank = paragraphs = 0
    block_has_word = False
    text_lines = text.split("\n")
    kinds = code_kinds(text, text_lines)
    for line, kind in zip(text_lines, kinds or repeat(PROSE), strict=False):
        if kind or not line.strip():
            if block_has_word:
                paragraphs += 1
            block_has_word = False
            if kind and kind != CODE:
                nonblank += 1
                fences += 1
                blocks += kind == OPEN
            continue
        nonblank += 1
        if not block_has_word and HAS_WORD_RE.search(line):
            block_has_word = True
        start = line.lstrip(" \t")
        first_char = start[0]
        if first_char in _MARK_STARTS or (first_char > "\x7f" and first_char.isdigit()):
            if first_char in _BULLET_STARTS:
                if P.BULLET_RE.match(line):
                    bullets += 1
            elif first_char == "#":
                if P.HEADER_RE.match(line):
                    headers += 1
            elif first_char == ">":
                quotes += 1
            elif first_char == "|":
                pipes += 1
            elif P.NUMBERED_RE.match(line):
                numbered += 1
        if "|" in line and "---" in line and not line.strip(P.TABLE_DELIMITER_CHARS):
            delimiters += 1
    if block_has_word:
        paragraphs += 1
    if kinds is None:
        prose = text
    else:
        prose = "\n".join([line for line, kind in zip(text_lines, kinds, strict=True) if kind == PROSE])
    spans = 0
    if "`" in prose:
        prose, spans = blank_code_spans(prose)

    # Sentences and words (code included).
    has_numbers = numbered or (kinds is not None and LIST_NUMBER_RE.search(text) is not None)
    stripped = strip_list_numbers(text) if has_numbers else text
    ascii_text = stripped.isascii()
    bounds: list[tuple[int, int]] = []
    position = 0
    for match in SENTENCE_CUT_RE.finditer(stripped):
        bounds.append((position, match.start() + 1))
        position = match.end()
    bounds.append((position, len(stripped)))
    raw_pieces = "\n".join([stripped[a:b] for a, b in bounds]).split("\n")
    if ascii_text:
        low_bytes = stripped.lower().encode("ascii")
        nonspace = len(low_bytes.translate(None, _ASCII_SPACE_BYTES))
        word_text = _ascii_word_text(low_bytes)
        word_pieces = "\n".join([word_text[a:b] for a, b in bounds]).split("\n")
    else:
        nonspace = len("".join(normalise(stripped).split()))
        word_pieces = raw_pieces

    ws: list[str] = []
    n_sentences = n_questions = n_exclaims = 0
    first: list[str] | None = None
    mood = 0.0
    get = table.get if table is not None else None
    caps_possible = not ascii_text or _CAPS_HINT_RE.search(stripped) is not None
    for raw, piece in zip(raw_pieces, word_pieces, strict=True):
        low = piece.split() if ascii_text else WORD_RE.findall(normalise(piece))
        if not low:
            continue
        n_sentences += 1
        ws += low
        if first is None:
            first = low
        end = raw.rstrip(SENTENCE_CLOSERS)[-1:]
        if end == "?":
            n_questions += 1
        elif end == "!":
            n_exclaims += 1
        if get is not None:
            valences = list(map(get, low))
            if any(valences):
                caps = None
                if caps_possible and (not ascii_text or _CAPS_HINT_RE.search(raw)):
                    original = WORD_RE.findall(raw.replace(CURLY_APOSTROPHE, "'"))
                    if len(original) == len(low):
                        caps = caps_flags(original)
                if (
                    caps is None
                    and RULE_WORDS.isdisjoint(low)
                    and "n't" not in (piece if ascii_text else " ".join(low))
                ):
                    total = sum(filter(None, valences), 0.0)
                else:
                    total = rule_total(low, valences, caps)
                mood += compound(total, raw.count("!"), raw.count("?"))

    n_words = len(ws)
    counts = Counter(ws)
    keyset = counts.keys()
    joined = " ".join(ws)
    word_chars = len(joined) - n_words + 1 if n_words else 0
    n_tokens = n_words + nonspace - word_chars

    hedge_count = sum(map(counts.__getitem__, keyset & P.HEDGE_WORDS))
    phrases = [pattern for last, pattern in _HEDGE_PHRASES if last in counts]
    if phrases:
        spaced = " " + "  ".join(ws) + " "
        hedge_count += sum(map(spaced.count, phrases))
    refusal_count = (
        len(P.REFUSAL_RE.findall(joined))
        if P.may_refuse(keyset) and any(map(joined.__contains__, _REFUSAL_HINTS))
        else 0
    )
    disclaimer_count = (
        len(P.DISCLAIMER_RE.findall(joined))
        if P.may_disclaim(keyset) and any(map(joined.__contains__, _DISCLAIMER_HINTS))
        else 0
    )

    if n_words and n_sentences:
        syl = sum(map(mul, map(_SYLLABLES.__getitem__, keyset), counts.values()))
        grade = FK_SENTENCE * n_words / n_sentences + FK_SYLLABLE * syl / n_words - FK_CONSTANT
    else:
        grade = nan
    restate = nan
    if input_text and first is not None:
        content = set(first) - STOPWORDS
        source = set(words(input_text))
        if content and source:
            restate = len(content & source) / len(content)

    return [
        float(n_words),
        float(n_tokens),
        float(len(text.strip())),
        float(n_sentences),
        n_words / n_sentences if n_sentences else nan,
        float(paragraphs),
        float(bullets),
        float(numbered),
        float(headers),
        float(len(P.BOLD_RE.findall(prose))) if ("**" in prose or "__" in prose) else 0.0,
        float(blocks),
        float(spans),
        float(delimiters),
        float(len(P.LINK_RE.findall(prose)))
        if ("](" in prose or "http" in prose or "www." in prose)
        else 0.0,
        (bullets + numbered + headers + fences + quotes + pipes) / nonblank if nonblank else nan,
        float(n_questions),
        float(n_exclaims),
        0.0 if text.isascii() else float(len(P.EMOJI_RE.findall(text))),
        per_100_words(sum(map(counts.__getitem__, keyset & P.FIRST_PERSON)), n_words),
        per_100_words(sum(map(counts.__getitem__, keyset & P.SECOND_PERSON)), n_words),
        per_100_words(hedge_count, n_words),
        float(sum(map(counts.__getitem__, keyset & P.APOLOGY_WORDS))),
        float(refusal_count),
        float(disclaimer_count),
        per_100_words(sum(map(counts.__getitem__, filter(str.isdigit, keyset))), n_words),
        grade,
        _mattr(ws, counts),
        mood / n_sentences if (table is not None and n_sentences) else nan,
        restate,
    ]
