"""Plain per-output implementations of the built-in axes: one function per axis.

Each function tokenises, splits and scans the text on its own, the straightforward way. They
define what every axis means (with :mod:`.text` and :mod:`.patterns`), serve as
``AXES[name].fn``, and are the baseline of ``bench/axes.py``; :mod:`.fused` computes the same
values in one shared pass, and the tests hold the two equal.

Units: counts are per output; rates are per 100 words (0 for an output without words); NaN
where an axis is undefined (no words, no sentence, no line, no input).

The format axes read the output's prose only (:mod:`.code`): a ``# comment`` or ``**kwargs``
inside a code block or code span is not markdown.
"""

from __future__ import annotations

import math
from collections import Counter

from deltaeval.behaviour import patterns as P
from deltaeval.behaviour.code import CODE, OPEN, PROSE, blank_code_spans, line_kinds, prose, prose_lines
from deltaeval.behaviour.text import (
    HAS_WORD_RE,
    STOPWORDS,
    WORD_RE,
    is_blank,
    lines,
    normalise,
    sentence_end,
    sentences,
    syllables,
    tokens,
    words,
)

MATTR_WINDOW = 50
FK_SENTENCE, FK_SYLLABLE, FK_CONSTANT = 0.39, 11.8, 15.59


def per_100_words(count: float, n_words: int) -> float:
    """``count`` per 100 words; 0 when there are no words."""
    return 100.0 * count / n_words if n_words else 0.0


def word_sequence(text: str) -> str:
    """The output's words joined by single spaces (what phrase lists are matched on)."""
    return " ".join(words(text))


def length_words(text: str) -> float:
    return float(len(words(text)))


def length_tokens(text: str) -> float:
    return float(len(tokens(text)))


def length_chars(text: str) -> float:
    return float(len(text.strip()))


def sentence_count(text: str) -> float:
    return float(len(sentences(text)))


def avg_sentence_words(text: str) -> float:
    parts = sentences(text)
    return len(words(text)) / len(parts) if parts else math.nan


def paragraphs(text: str) -> float:
    """Runs of consecutive non-blank prose lines that hold a letter or digit (a code block
    ends a paragraph and is none)."""
    count, block = 0, []
    text_lines = lines(text)
    for line, kind in zip([*text_lines, ""], [*line_kinds(text_lines), PROSE], strict=True):
        if is_blank(line) or kind != PROSE:
            if block and HAS_WORD_RE.search("\n".join(block)):
                count += 1
            block = []
        else:
            block.append(line)
    return float(count)


def _count_lines(text: str, pattern) -> int:
    return sum(1 for line in prose_lines(text) if pattern.match(line))


def bullet_items(text: str) -> float:
    return float(_count_lines(text, P.BULLET_RE))


def numbered_items(text: str) -> float:
    return float(_count_lines(text, P.NUMBERED_RE))


def headers(text: str) -> float:
    return float(_count_lines(text, P.HEADER_RE))


def code_blocks(text: str) -> float:
    """Fenced code blocks (an unclosed one runs to the end of the text)."""
    return float(line_kinds(lines(text)).count(OPEN))


def bold(text: str) -> float:
    return float(len(P.BOLD_RE.findall(prose(text))))


def inline_code(text: str) -> float:
    """Code spans outside code blocks."""
    return float(blank_code_spans("\n".join(prose_lines(text)))[1])


def _is_table_delimiter(line: str) -> bool:
    return "|" in line and "---" in line and not line.strip(P.TABLE_DELIMITER_CHARS)


def tables(text: str) -> float:
    """Markdown tables, counted by their delimiter rows (``|---|---|``)."""
    return float(sum(1 for line in prose_lines(text) if _is_table_delimiter(line)))


def links(text: str) -> float:
    return float(len(P.LINK_RE.findall(prose(text))))


def markdown_density(text: str) -> float:
    """Share of the non-blank lines outside code (code fences included) that are bullets,
    numbered items, headers, code fences, block quotes (``>``) or table rows (``|``)."""
    text_lines = lines(text)
    kinds = line_kinds(text_lines)
    fences = sum(1 for kind in kinds if kind not in (PROSE, CODE))
    nonblank = [
        line for line, kind in zip(text_lines, kinds, strict=True) if kind == PROSE and not is_blank(line)
    ]
    if not nonblank and not fences:
        return math.nan
    marked = fences
    for line in nonblank:
        if (
            P.BULLET_RE.match(line)
            or P.NUMBERED_RE.match(line)
            or P.HEADER_RE.match(line)
            or line.lstrip(" \t").startswith((">", "|"))
        ):
            marked += 1
    return marked / (len(nonblank) + fences)


def questions(text: str) -> float:
    return float(sum(1 for s in sentences(text) if sentence_end(s) == "?"))


def exclamations(text: str) -> float:
    return float(sum(1 for s in sentences(text) if sentence_end(s) == "!"))


def emoji(text: str) -> float:
    return float(len(P.EMOJI_RE.findall(text)))


def first_person(text: str) -> float:
    ws = words(text)
    return per_100_words(sum(1 for w in ws if w in P.FIRST_PERSON), len(ws))


def second_person(text: str) -> float:
    ws = words(text)
    return per_100_words(sum(1 for w in ws if w in P.SECOND_PERSON), len(ws))


def hedges(text: str) -> float:
    ws = words(text)
    return per_100_words(len(P.HEDGE_RE.findall(" ".join(ws))), len(ws))


def apologies(text: str) -> float:
    return float(sum(1 for w in words(text) if w in P.APOLOGY_WORDS))


def refusals(text: str) -> float:
    return float(len(P.REFUSAL_RE.findall(word_sequence(text))))


def disclaimers(text: str) -> float:
    return float(len(P.DISCLAIMER_RE.findall(word_sequence(text))))


def numbers(text: str) -> float:
    """Words made only of digits, per 100 words (``3.5`` and ``1,000`` are two, ``2024`` one)."""
    ws = words(text)
    return per_100_words(sum(1 for w in ws if w.isdigit()), len(ws))


def readability_grade(text: str) -> float:
    """Flesch–Kincaid grade: 0.39 words/sentence + 11.8 syllables/word − 15.59."""
    ws = words(text)
    parts = sentences(text)
    if not ws or not parts:
        return math.nan
    syl = sum(syllables(w) for w in ws)
    return FK_SENTENCE * len(ws) / len(parts) + FK_SYLLABLE * syl / len(ws) - FK_CONSTANT


def lexical_diversity(text: str) -> float:
    """Moving-average type-token ratio (MATTR): the mean, over every window of 50 consecutive
    words, of distinct words / 50; the plain type-token ratio for outputs of 50 words or fewer."""
    ws = words(text)
    n = len(ws)
    if n == 0:
        return math.nan
    if n <= MATTR_WINDOW:
        return len(set(ws)) / n
    window = Counter(ws[:MATTR_WINDOW])
    total = len(window)
    for start in range(1, n - MATTR_WINDOW + 1):
        leaving, entering = ws[start - 1], ws[start + MATTR_WINDOW - 1]
        window[leaving] -= 1
        if window[leaving] == 0:
            del window[leaving]
        window[entering] += 1
        total += len(window)
    return total / (MATTR_WINDOW * (n - MATTR_WINDOW + 1))


def restates_question(text: str, input_text: str) -> float:
    """Share of the first sentence's distinct content words (stop words left out) that occur
    among the input's words; NaN without a first sentence, content words or input words."""
    parts = sentences(text)
    if not parts:
        return math.nan
    content = set(WORD_RE.findall(normalise(parts[0]))) - STOPWORDS
    source = set(words(input_text)) if input_text else set()
    if not content or not source:
        return math.nan
    return len(content & source) / len(content)
