"""Every built-in axis of many outputs in one pass (the fast path of ``compute_axes``).

Gives the same values as the per-axis functions of :mod:`.reference` (tests hold them equal)
while sharing the work between axes and between outputs. Per output, in Python: one pass over
the lines for the markdown axes (code blocks are looked for only when a quick look finds a
fence or an indented line), one sentence cut, one word list (for ASCII text, found with
``bytes.translate`` and ``str.split`` rather than a regex), quick substring tests before any
pattern that rarely matches, and VADER's rules in the few sentences that need them. Per batch
of outputs, with numpy: every word's id in a table of the words seen so far (with each word's
syllables, sentiment valence and word-list memberships), from which the word-list counts,
syllables, lexical diversity (MATTR) and the sentences' valence sums and compound scores of
all the outputs come at once.

Sums of floats are added in order, as :mod:`.sentiment` does (word by word across all the
sentences at once, and ``functools.reduce``), so the values are the same to the bit.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import reduce
from itertools import chain, repeat
from operator import add

import numpy as np
from numpy.typing import NDArray

from deltaeval.behaviour import patterns as P
from deltaeval.behaviour.code import CODE, OPEN, PROSE, blank_code_spans, code_kinds
from deltaeval.behaviour.reference import FK_CONSTANT, FK_SENTENCE, FK_SYLLABLE, MATTR_WINDOW, per_100_words
from deltaeval.behaviour.sentiment import (
    EXCLAMATION_MAX,
    EXCLAMATION_STEP,
    NORMALISATION_ALPHA,
    QUESTION_CAP,
    QUESTION_MAX,
    QUESTION_STEP,
    RULE_WORDS,
    caps_flags,
    rule_total,
)
from deltaeval.behaviour.text import (
    CURLY_APOSTROPHE,
    HAS_WORD_RE,
    LIST_NUMBER_RE,
    SENTENCE_CLOSERS,
    SENTENCE_CUT_RE,
    STOPWORDS,
    WORD_RE,
    normalise,
    split_words,
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
#: The words of the hedge phrases, each with a bit of its own.
_HEDGE_WORD_BITS = {
    word: 1 << i
    for i, word in enumerate(dict.fromkeys(word for phrase in P.HEDGE_PHRASES for word in phrase.split()))
}
assert len(_HEDGE_WORD_BITS) < 62
#: Each hedge phrase as (the bits of its words, the phrase as it reads in the words joined by two
#: spaces, with one more at either end).
_HEDGE_PHRASES = tuple(
    (sum({_HEDGE_WORD_BITS[word] for word in phrase.split()}), " " + "  ".join(phrase.split()) + " ")
    for phrase in P.HEDGE_PHRASES
)
#: Words remembered by the word table before it starts afresh.
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


#: ``SENTENCE_CUT_RE`` with its ``.``, ``!`` or ``?`` captured: the same cuts, and ``split``
#: returns the punctuation (which stays in the piece before) between the pieces.
_CUT_RE = re.compile("([.!?])" + SENTENCE_CUT_RE.pattern.removeprefix("[.!?]"))
assert SENTENCE_CUT_RE.pattern.startswith("[.!?]"), "_CUT_RE needs SENTENCE_CUT_RE's new form"
_PIECE_ENDS = {".": ".\n", "!": "!\n", "?": "?\n"}
#: A line that may count for :func:`_line_marks`: it opens (after blanks) with a character of
#: ``_MARK_STARTS``, a digit, or one a table delimiter row can open with.
_MARK_LINE_RE = re.compile(r"[ \t]*[-*+\u2022#>|\d:\r]")
#: Two or more line breaks in a row: a blank line, once every line is stripped.
_BLANK_RUN_RE = re.compile(r"\n\n+")
#: A character of a word (``[^\W_]``) outside ASCII.
_NON_ASCII_WORD_CHAR_RE = re.compile(r"[^\W_\x00-\x7f]")
#: Outputs whose words are looked up and counted together (bounds the batch's arrays).
BATCH = 256
#: Pieces longer than this many words have their valences added in Python.
_RUN_LIMIT = 256

#: Words that refusal and disclaimer phrases need, each with a bit of its own: every match of
#: ``REFUSAL_RE`` holds (i, we, i'm or we're) with (cannot, can't, won't, unable, decline,
#: refuse, or not with can, will or able), or an with ai, or as with language and model; every
#: match of ``DISCLAIMER_RE`` holds consult, seek, substitute, informational or constitute, or
#: not with advice, i'm or am, or please with note and that, or important with note or remember
#: (tests/test_axes_parallel.py checks every branch of both patterns).
_CUE_BITS = {
    word: 1 << i
    for i, word in enumerate(
        split_words(
            """i we i'm we're cannot can't won't unable decline refuse not can will able an ai as
            language model consult seek substitute informational constitute advice am please note
            that important remember"""
        )
    )
}


def _cues(*names: str) -> int:
    return sum(_CUE_BITS[name] for name in names)


_SPEAKER = _cues("i", "we", "i'm", "we're")
_CANNOT = _cues("cannot", "can't", "won't", "unable", "decline", "refuse")
_ABLE = _cues("can", "will", "able")
_NOT_BIT, _AN_AI, _AS_LANGUAGE_MODEL = _cues("not"), _cues("an", "ai"), _cues("as", "language", "model")
_DISCLAIMER_WORDS = _cues("consult", "seek", "substitute", "informational", "constitute")
_NOT_WITH = _cues("advice", "i'm", "am")
_PLEASE_NOTE_THAT = _cues("please", "note", "that")
_IMPORTANT, _NOTE_REMEMBER = _cues("important"), _cues("note", "remember")


def _may_refuse(cues: int) -> bool:
    """Whether words with these cue bits can hold a refusal phrase."""
    return bool(
        (cues & _SPEAKER and (cues & _CANNOT or (cues & _NOT_BIT and cues & _ABLE)))
        or cues & _AN_AI == _AN_AI
        or cues & _AS_LANGUAGE_MODEL == _AS_LANGUAGE_MODEL
    )


def _may_disclaim(cues: int) -> bool:
    """Whether words with these cue bits can hold a disclaimer phrase."""
    return bool(
        cues & _DISCLAIMER_WORDS
        or (cues & _NOT_BIT and cues & _NOT_WITH)
        or cues & _PLEASE_NOTE_THAT == _PLEASE_NOTE_THAT
        or (cues & _IMPORTANT and cues & _NOTE_REMEMBER)
    )


# What _WordTable knows of a word besides its syllables and valence: its word lists, whether
# it brings a sentiment rule into play, and its bits among the hedge-phrase and cue words.
_FIRST, _SECOND, _HEDGE, _APOLOGY, _DIGIT, _RULE, _HEDGE_WORD, _CUE = range(8)
_KIND_SIZE = 8


def _word_kind(word: str) -> tuple[int, ...]:
    return (
        word in P.FIRST_PERSON,
        word in P.SECOND_PERSON,
        word in P.HEDGE_WORDS,
        word in P.APOLOGY_WORDS,
        word.isdigit(),
        word in RULE_WORDS or "n't" in word,
        _HEDGE_WORD_BITS.get(word, 0),
        _CUE_BITS.get(word, 0),
    )


class _WordIds(dict):
    """Word → id; a word not seen before gets a new id, its attributes written first."""

    def __init__(self, owner: _WordTable) -> None:
        super().__init__()
        self.owner = owner

    def __missing__(self, word: str) -> int:
        return self.owner.add(word)


class _WordTable:
    """Every word seen so far with an integer id, and per id what the axes need to know of the
    word, in numpy arrays that a batch's id array indexes at once: its syllables, its sentiment
    valence (0: none) and its *kind*, one of the few distinct tuples of :func:`_word_kind`
    (most words have kind 0, all zeros), so that one ``bincount`` of the outputs' kinds gives
    every word-list count of every output."""

    def __init__(self, table: dict[str, float] | None) -> None:
        self.table = table
        self.ids = _WordIds(self)
        self.syllables = np.zeros(1024, dtype=np.intp)
        self.valences = np.zeros(1024)
        self.kinds = np.zeros(1024, dtype=np.intp)
        self.kind_ids: dict[tuple[int, ...], int] = {(0,) * _KIND_SIZE: 0}
        self.kind_rows = np.zeros((1, _KIND_SIZE), dtype=np.int64)
        self.size = 0
        self.lock = threading.Lock()

    def __len__(self) -> int:
        return self.size

    def add(self, word: str) -> int:
        with self.lock:
            found = self.ids.get(word)
            if found is not None:
                return found
            i = self.size
            if i == len(self.valences):
                self.syllables = np.concatenate([self.syllables, np.zeros_like(self.syllables)])
                self.valences = np.concatenate([self.valences, np.zeros_like(self.valences)])
                self.kinds = np.concatenate([self.kinds, np.zeros_like(self.kinds)])
            kind = _word_kind(word)
            k = self.kind_ids.get(kind)
            if k is None:
                k = self.kind_ids[kind] = len(self.kind_rows)
                self.kind_rows = np.vstack([self.kind_rows, np.array(kind, dtype=np.int64)])
            self.kinds[i] = k
            self.syllables[i] = syllables(word)
            if self.table is not None:
                self.valences[i] = self.table.get(word, 0.0)
            self.size = i + 1
            self.ids[word] = i  # only now: another thread sees the id once its row is written
            return i


_WORDS = _WordTable(None)


def _word_table(table: dict[str, float] | None) -> _WordTable:
    """The word table for the sentiment lexicon ``table`` (None: any, valences unused)."""
    global _WORDS
    known = _WORDS
    if (table is not None and known.table is not table) or len(known) > _CACHE_LIMIT:
        known = _WORDS = _WordTable(table if table is not None else known.table)
    return known


def _ascii_word_text(low: bytes) -> str:
    """Lower-case ASCII text with every character that is not part of a word made a space
    (line breaks kept), so that ``str.split`` gives its words."""
    out = low.translate(_WORD_BYTES).decode("ascii")
    if "'" in out:
        out = _LOOSE_APOSTROPHE_RE.sub(" ", out)
    return out


def _mattr(ws: list[str], counts: Counter[str]) -> float:
    """MATTR of one word list (``counts``: its word counts)."""
    ids = {word: i for i, word in enumerate(counts)}
    ids_array = np.fromiter(map(ids.__getitem__, ws), np.intp, len(ws))
    return _mattr_batch(ids_array, [len(ws)], len(ids))[0]


def _mattr_batch(ids: NDArray[np.intp], sizes: list[int], vocabulary: int) -> list[float]:
    """MATTR of several word lists given one after the other as integer word ids (equal words,
    equal ids below ``vocabulary``), ``sizes`` words each.

    Every window holds MATTR_WINDOW positions; a position adds a new distinct word to a window
    unless the previous occurrence of its word is in that window too. So the sum over windows
    of their distinct words is windows * MATTR_WINDOW minus, for each repeated occurrence, the
    number of windows holding both it and the previous occurrence. Sorting the keys (list,
    word id) then position (in the high and low bits of one integer) puts each occurrence right
    after the previous one of its word in its list.
    """
    window = MATTR_WINDOW
    n_lists = len(sizes)
    total = len(ids)
    if not total:
        return [math.nan] * n_lists
    lengths = np.array(sizes)
    starts = np.cumsum(lengths) - lengths
    owner = np.repeat(np.arange(n_lists), lengths)
    word_key = owner * vocabulary + ids
    bits = total.bit_length()
    if (n_lists * vocabulary) << bits < 1 << 62:
        keys = (word_key << bits) | np.arange(total)
        keys.sort()
        word = keys >> bits
        position = keys & ((1 << bits) - 1)
    else:  # too large for one int64 key
        position = np.lexsort((np.arange(total), word_key))
        word = word_key[position]
    repeat_of = word[1:] == word[:-1]
    later = position[1:][repeat_of]
    earlier = position[:-1][repeat_of]
    where = owner[later]
    n = lengths[where]
    later = later - starts[where]
    earlier = earlier - starts[where]
    low = np.maximum(later - (window - 1), 0)
    high = np.minimum(earlier, n - window)
    shared = np.bincount(where, weights=np.maximum(high - low + 1, 0), minlength=n_lists).tolist()
    repeats = np.bincount(where, minlength=n_lists).tolist()
    values = []
    for size, common, repeated in zip(sizes, shared, repeats, strict=True):
        if size == 0:
            values.append(math.nan)
        elif size <= window:
            values.append((size - repeated) / size)
        else:
            windows = size - window + 1
            values.append((windows * window - int(common)) / (window * windows))
    return values


def _sequential_sums(values: NDArray[np.float64], sizes: NDArray[np.intp]) -> NDArray[np.float64]:
    """The sum of each run of ``values`` (``sizes`` long each, one after the other), added in
    order from 0.0 as ``functools.reduce(operator.add, run, 0.0)`` does: with the runs longest
    first, the c-th value of every run at least c + 1 long is added at once, for c = 0, 1, …;
    runs longer than :data:`_RUN_LIMIT` in Python."""
    n_runs = len(sizes)
    sums = np.zeros(n_runs)
    if not n_runs or not len(values):
        return sums
    starts = np.cumsum(sizes) - sizes
    order = np.argsort(-sizes, kind="stable")
    ordered_starts = starts[order]
    longest = int(sizes[order[0]])
    # how many runs are longer than c, for every c up to the limit
    longer = np.searchsorted(-sizes[order], -np.arange(min(longest, _RUN_LIMIT)), side="left")
    acc = np.zeros(n_runs)
    for c, n in enumerate(longer.tolist()):
        acc[:n] += values[ordered_starts[:n] + c]
    sums[order] = acc
    if longest > _RUN_LIMIT:
        for k in np.flatnonzero(sizes > _RUN_LIMIT).tolist():
            sums[k] = reduce(add, values[starts[k] : starts[k] + sizes[k]].tolist(), 0.0)
    return sums


def _compounds(
    totals: NDArray[np.float64], exclamations: NDArray[np.intp], questions: NDArray[np.intp]
) -> NDArray[np.float64]:
    """:func:`.sentiment.compound` of every piece at once: the same operations element by
    element, so the same values."""
    total = totals
    emphasis = np.minimum(exclamations, EXCLAMATION_MAX) * EXCLAMATION_STEP
    many = questions > 1
    if many.any():
        extra = np.where(questions <= QUESTION_MAX, questions * QUESTION_STEP, QUESTION_CAP)
        emphasis = np.where(many, emphasis + extra, emphasis)
    total = np.where(total > 0, total + emphasis, np.where(total < 0, total - emphasis, total))
    score = total / np.sqrt(total * total + NORMALISATION_ALPHA)
    return np.minimum(1.0, np.maximum(-1.0, score))


def _line_marks(lines: Iterable[str]) -> tuple[int, int, int, int, int, int]:
    """Bullet items, numbered items, headers, quote lines, table rows (lines that open with
    ``|``) and table delimiter rows among ``lines`` (prose lines; blank ones are skipped)."""
    bullets = numbered = headers = quotes = pipes = delimiters = 0
    for line in lines:
        start = line.lstrip(" \t")
        if not start.strip():
            continue
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
    return bullets, numbered, headers, quotes, pipes, delimiters


class _Batch:
    """What the outputs of a batch leave for the batch-wide step."""

    def __init__(self) -> None:
        self.words: list[str] = []  # every output's words, one output after the other
        self.sizes: list[int] = []  # words per output
        self.word_lists: list[list[str]] = []
        self.pieces: list[int] = []  # words per piece, every output's pieces in turn
        self.piece_counts: list[int] = []  # pieces per output
        self.exclamations: list[int] = []  # per piece
        self.questions: list[int] = []
        self.caps: dict[int, list[bool]] = {}  # piece (index in ``pieces``) → its words in capitals


def extract(text: str, input_text: str | None = None, table: dict[str, float] | None = None) -> list[float]:
    """The built-in axes of one output, in :data:`FUSED_NAMES` order.

    ``table`` is the sentiment lexicon (None leaves ``sentiment`` NaN); without
    ``input_text``, ``restates_question`` is NaN.
    """
    return extract_many([text], [input_text], table)[0].tolist()


def extract_many(
    texts: Sequence[str], inputs: Sequence[str | None] | None = None, table: dict[str, float] | None = None
) -> NDArray[np.float64]:
    """The built-in axes of every output (one row each, in :data:`FUSED_NAMES` order), the
    values of :func:`extract` for each; ``inputs`` aligned with ``texts`` or None."""
    rows = np.empty((len(texts), len(FUSED_NAMES)))
    for start in range(0, len(texts), BATCH):
        stop = min(start + BATCH, len(texts))
        batch = _Batch()
        known = _word_table(table)
        part = [
            _scan(text, inputs[i] if inputs is not None else None, table, batch)
            for i, text in zip(range(start, stop), texts[start:stop], strict=True)
        ]
        _finish(part, batch, known, table)
        rows[start:stop] = part
    return rows


def _scan(text: str, input_text: str | None, table: dict[str, float] | None, batch: _Batch) -> list[float]:
    """One output's axes, the word-list, syllable, MATTR and sentiment ones left for
    :func:`_finish` (its words and pieces go to ``batch``)."""
    nan = math.nan

    # Lines: markdown structure, blank lines, paragraphs, in the prose (code blocks left out).
    fences = blocks = 0
    text_lines = text.split("\n")
    kinds = code_kinds(text, text_lines)
    if kinds is None:  # no code: every line is prose
        stripped_lines = list(map(str.strip, text_lines))
        nonblank = len(text_lines) - stripped_lines.count("")
        # paragraphs: runs of non-blank lines that hold a word
        runs = _BLANK_RUN_RE.split("\n".join(stripped_lines))
        paragraphs = sum(map(bool, map(HAS_WORD_RE.search, runs)))
        prose_lines: Iterable[str] = text_lines
    else:
        nonblank = paragraphs = 0
        block_has_word = False
        prose_lines = []
        for line, kind in zip(text_lines, kinds, strict=True):
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
            prose_lines.append(line)
            if not block_has_word and HAS_WORD_RE.search(line):
                block_has_word = True
        if block_has_word:
            paragraphs += 1
    bullets, numbered, headers, quotes, pipes, delimiters = _line_marks(
        filter(_MARK_LINE_RE.match, prose_lines)
    )
    if kinds is None:
        prose = text
    else:
        prose = "\n".join([line for line, kind in zip(text_lines, kinds, strict=True) if kind == PROSE])
    spans = 0
    if "`" in prose:
        prose, spans = blank_code_spans(prose)

    # Sentences and words (code included): the text's pieces are cut at line breaks and
    # sentence ends; a sentence is a piece that holds a word.
    has_numbers = numbered or (kinds is not None and LIST_NUMBER_RE.search(text) is not None)
    stripped = strip_list_numbers(text) if has_numbers else text
    ascii_text = stripped.isascii()
    parts = _CUT_RE.split(stripped)
    parts[1::2] = map(_PIECE_ENDS.__getitem__, parts[1::2])
    cut_text = "".join(parts)
    raw_pieces = cut_text.split("\n")
    if ascii_text:
        nonspace = len(stripped.encode("ascii").translate(None, _ASCII_SPACE_BYTES))
        # cutting before or after the translation gives the same words: it is character by
        # character, and an apostrophe at a piece's edge is loose either way
        word_text = _ascii_word_text(cut_text.lower().encode("ascii"))
        piece_words = list(map(str.split, word_text.split("\n")))
    else:
        nonspace = len("".join(normalise(stripped).split()))
        word_text = ""
        piece_words = list(map(WORD_RE.findall, normalise(cut_text).split("\n")))
    lengths = list(map(len, piece_words))
    ws = list(chain.from_iterable(piece_words))
    sentence_pieces = [k for k, length in enumerate(lengths) if length]
    n_sentences = len(sentence_pieces)
    n_words = len(ws)
    first = piece_words[sentence_pieces[0]] if sentence_pieces else None
    n_questions = n_exclaims = 0
    emphatic = "?" in stripped or "!" in stripped
    if emphatic:
        ends = [raw_pieces[k].rstrip(SENTENCE_CLOSERS)[-1:] for k in sentence_pieces]
        n_questions = ends.count("?")
        n_exclaims = ends.count("!")

    if table is not None:
        base = len(batch.pieces)
        batch.pieces += lengths
        batch.piece_counts.append(len(lengths))
        if emphatic:
            batch.exclamations += map(str.count, raw_pieces, repeat("!"))
            batch.questions += map(str.count, raw_pieces, repeat("?"))
        else:
            zeros = [0] * len(lengths)
            batch.exclamations += zeros
            batch.questions += zeros
        # The pieces with words in capitals (those with a rule word are found in _finish).
        # Every word in capitals holds a _CAPS_HINT_RE match when every word is ASCII (in text
        # whose only characters outside ASCII are not word characters, such as emoji and
        # typographic punctuation, once ’ is read as ').
        ascii_words = ascii_text or _NON_ASCII_WORD_CHAR_RE.search(stripped) is None
        hinted = stripped if ascii_text else stripped.replace(CURLY_APOSTROPHE, "'")
        if not ascii_words or _CAPS_HINT_RE.search(hinted) is not None:
            for k in sentence_pieces:
                raw = raw_pieces[k].replace(CURLY_APOSTROPHE, "'") if not ascii_text else raw_pieces[k]
                if not ascii_words or _CAPS_HINT_RE.search(raw):
                    original = WORD_RE.findall(raw)
                    if len(original) == lengths[k]:
                        caps = caps_flags(original)
                        if caps is not None:
                            batch.caps[base + k] = caps

    batch.words += ws
    batch.sizes.append(n_words)
    batch.word_lists.append(ws)
    n_tokens = n_words + nonspace - sum(map(len, ws))
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
        0.0,  # first_person
        0.0,  # second_person
        0.0,  # hedges
        0.0,  # apologies
        0.0,  # refusals
        0.0,  # disclaimers
        0.0,  # numbers
        float(n_sentences),  # readability_grade: the sentences until _finish
        0.0,  # lexical_diversity
        nan,  # sentiment
        restate,
    ]


_FIRST_COLUMN, _SECOND_COLUMN, _HEDGES_COLUMN, _APOLOGIES_COLUMN = 18, 19, 20, 21
_REFUSALS_COLUMN, _DISCLAIMERS_COLUMN = 22, 23
_NUMBERS_COLUMN, _GRADE_COLUMN, _MATTR_COLUMN, _SENTIMENT_COLUMN = 24, 25, 26, 27


def _finish(
    rows: list[list[float]], batch: _Batch, known: _WordTable, table: dict[str, float] | None
) -> None:
    """Fill in the batch's word-list counts, readability, MATTR and sentiment."""
    n_outputs = len(rows)
    ids = np.fromiter(map(known.ids.__getitem__, batch.words), np.intp, len(batch.words))
    sizes = np.array(batch.sizes, dtype=np.intp)
    owner = np.repeat(np.arange(n_outputs), sizes)
    n_kinds = len(known.kind_rows)
    word_kinds = known.kinds[ids]
    by_kind = np.bincount(owner * n_kinds + word_kinds, minlength=n_outputs * n_kinds)
    by_kind = by_kind.reshape(n_outputs, n_kinds)
    counts = (by_kind @ known.kind_rows).tolist()
    # the hedge-phrase and cue words present: each bit belongs to one word, so to one kind, and
    # the sum over the kinds present is the OR
    bits = (np.minimum(by_kind, 1) @ known.kind_rows[:, [_HEDGE_WORD, _CUE]]).tolist()
    syllable_sums = np.bincount(owner, weights=known.syllables[ids], minlength=n_outputs).tolist()
    mattr = _mattr_batch(ids, batch.sizes, len(known))
    moods: list[float] | None = None
    if table is not None:
        sizes_of_pieces = np.array(batch.pieces, dtype=np.intp)
        valences = known.valences[ids]
        totals = _sequential_sums(valences, sizes_of_pieces)
        # VADER's rules in the pieces that hold a valence and a rule word (or "n't") or capitals
        piece_of_word = np.repeat(np.arange(len(sizes_of_pieces)), sizes_of_pieces)
        scored = set(piece_of_word[valences != 0.0].tolist())
        ruled = set(piece_of_word[known.kind_rows[word_kinds, _RULE] != 0].tolist())
        special = sorted((ruled | batch.caps.keys()) & scored)
        if special:
            starts = (np.cumsum(sizes_of_pieces) - sizes_of_pieces).tolist()
            get = table.get
            for k in special:
                low = batch.words[starts[k] : starts[k] + batch.pieces[k]]
                totals[k] = rule_total(low, list(map(get, low)), batch.caps.get(k))
        scores = _compounds(totals, np.array(batch.exclamations), np.array(batch.questions)).tolist()
        moods = []
        start = 0
        for count in batch.piece_counts:
            moods.append(reduce(add, scores[start : start + count], 0.0))
            start += count
    for r, row in enumerate(rows):
        n_words = batch.sizes[r]
        n_sentences = int(row[_GRADE_COLUMN])
        first, second, hedge_count, apologies, digits = counts[r][:5]
        present, cues = bits[r]
        refuse, disclaim = _may_refuse(cues), _may_disclaim(cues)
        if refuse or disclaim:
            joined = " ".join(batch.word_lists[r])
            if refuse and any(map(joined.__contains__, _REFUSAL_HINTS)):
                row[_REFUSALS_COLUMN] = float(len(P.REFUSAL_RE.findall(joined)))
            if disclaim and any(map(joined.__contains__, _DISCLAIMER_HINTS)):
                row[_DISCLAIMERS_COLUMN] = float(len(P.DISCLAIMER_RE.findall(joined)))
        phrases = [pattern for words_bits, pattern in _HEDGE_PHRASES if present & words_bits == words_bits]
        if phrases:  # a phrase whose words are all in the output
            spaced = " " + "  ".join(batch.word_lists[r]) + " "
            hedge_count += sum(map(spaced.count, phrases))
        row[_FIRST_COLUMN] = per_100_words(first, n_words)
        row[_SECOND_COLUMN] = per_100_words(second, n_words)
        row[_HEDGES_COLUMN] = per_100_words(hedge_count, n_words)
        row[_APOLOGIES_COLUMN] = float(apologies)
        row[_NUMBERS_COLUMN] = per_100_words(digits, n_words)
        if n_words and n_sentences:
            syl = int(syllable_sums[r])
            row[_GRADE_COLUMN] = (
                FK_SENTENCE * n_words / n_sentences + FK_SYLLABLE * syl / n_words - FK_CONSTANT
            )
        else:
            row[_GRADE_COLUMN] = math.nan
        row[_MATTR_COLUMN] = mattr[r]
        if moods is not None and n_sentences:
            row[_SENTIMENT_COLUMN] = moods[r] / n_sentences
