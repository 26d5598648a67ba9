"""The input features slice discovery bins: built-in behaviour axes applied to the inputs, a few
cheap flags (code, a programming topic, question, digits, a date, the script), and clusters of
the inputs (:mod:`deltaeval.slices.clusters`)."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from deltaeval.analysis.slice_discovery import Atom, boolean_atoms, categorical_atoms, numeric_atoms
from deltaeval.analysis.vectorize import words
from deltaeval.behaviour import reference as R

#: Code-like text: a keyword that starts a definition at the start of a line, braces or
#: semicolons ending a line, an HTML/XML tag (besides a code fence, checked first).
CODE_KEYWORD_RE = re.compile(r"^\s*(?:def|class|import|from|function|public|private|SELECT|#include)\b", re.M)
CODE_PUNCT_RE = re.compile(r"[{};][ \t]*$|</?[a-z]+[^>]*>", re.M)
MONTH_RE = re.compile(
    r"\b(?:january|february|march|april|june|july|august|september|october|november|december)\b"
)
YEAR_OR_DATE_RE = re.compile(r"\b(?:1[5-9]\d\d|20\d\d)\b|\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b")
DIGIT_RE = re.compile(r"\d")
#: Programming languages and tools whose names are rarely anything else (any case).
_TECH = (
    r"python|javascript|typescript|c\+\+|c#|sql|mysql|postgres(?:ql)?|sqlite|regex(?:es)?|"
    r"regular expressions?|html|css|json|yaml|bash|powershell|php|perl|kotlin|scala|haskell|matlab|"
    r"golang|lua|luau|gdscript|node\.js|npm|github|numpy|jupyter|\w+\.js|"
    r"programming|programmers?|coding|pseudo-?code|source code|algorithms?|data structures?|"
    r"shell scripts?|recursive functions?|compilers?"
)
#: Names that are words too (Java the island, Ruby, Rust, Swift, Go, C, R, LaTeX the material):
#: only with their usual capitals; most only next to a code word ("Java solution", "C program",
#: "R package", "strings in Java").
_CODE_NOUNS = (
    r"program(?:s|ming)?|code|function|script|language|compiler|package|library|solution|class|method"
)
_CASED = (
    r"TypeScript|LaTeX|LATEX|"
    rf"(?:C|R|Go|Rust|Swift|Java|Ruby)\s+\(?(?:{_CODE_NOUNS})s?\b|"
    rf"(?:{_CODE_NOUNS}|strings?|arrays?|lists?|objects?|loops?|classes|exceptions?|threads?)s?"
    r"\s+(?:in|using|with)\s+(?:C|R|Go|Rust|Swift|Java|Ruby)"
)
#: A code word after a verb of writing code or a word that points at code ("write a function",
#: "implement a program that", "the given code", "code snippet").
_TASK = (
    r"(?:write|writing|implement|implementing|define|create|develop|debug|refactor|optimi[sz]e|fix)"
    r"\s+(?:(?:a|an|the|this|some|me|me a|me an|my)\s+)?(?:[\w-]+\s+)?"
    r"(?:function|program|code|class|method|query|script that|script to)s?\b|"
    r"(?:this|the given|the following|your|my|sample|example|to)\s+code\b|"
    r"code\s+(?:snippets?|blocks?|generation|review|editor|base)\b|"
    r"function\s+(?:that|which)\s+(?:takes|returns|accepts|computes|checks|prints)\b"
)
PROGRAMMING_RE = re.compile(rf"\b(?:{_TECH})(?![\w+#])|\b(?:{_TASK})", re.I)
PROGRAMMING_CASED_RE = re.compile(rf"\b(?:{_CASED})(?![\w+#])")
#: A word of every match of :data:`PROGRAMMING_RE` (as :func:`~deltaeval.analysis.vectorize.words`
#: splits it: "c++" is "c", "node.js" is "node js"): texts without one skip that slower search.
PROGRAMMING_WORDS = frozenset(
    """
python javascript typescript c sql mysql postgres postgresql sqlite regex regexes regular html css
json yaml bash powershell php perl kotlin scala haskell matlab golang lua luau gdscript node npm
github numpy jupyter js programming programmer programmers coding pseudocode code codes algorithm
algorithms structure structures script scripts function functions compiler compilers program
programs class classes method methods query querys
""".split()  # noqa: SIM905 (one list of words, readable)
)
#: The input axes offered, with the label and unit of their description.
NUMERIC_AXES = {"length_chars": ("input length", "characters"), "length_words": ("input words", "")}


#: Every byte but the ASCII letters: deleting them leaves the letters to count.
_NOT_ASCII_LETTERS = bytes(b for b in range(256) if not chr(b).isascii() or not chr(b).isalpha())


def script(text: str) -> str:
    """The script of most of the letters of ``text`` (the first word of their Unicode names).

    ASCII letters count as Latin at once; each distinct other letter is looked up once.
    """
    text = text[:2000]
    counts: dict[str, int] = {}
    latin = len(text.encode("ascii", "ignore").translate(None, _NOT_ASCII_LETTERS))
    if latin:
        counts["LATIN"] = latin
    if not text.isascii():
        for ch, k in Counter(ch for ch in text if ord(ch) > 127).items():
            if ch.isalpha():
                name = unicodedata.name(ch, "")
                key = name.split(" ", 1)[0] if name else "OTHER"
                counts[key] = counts.get(key, 0) + k
    if not counts:
        return "none"
    best = max(sorted(counts), key=counts.__getitem__)
    return best.title()


def has_code(text: str) -> bool:
    """Whether ``text`` holds code: a fence, a definition keyword, a line ending in ``{};``, a tag."""
    if "```" in text or CODE_KEYWORD_RE.search(text):
        return True
    return any(c in text for c in "{};<") and CODE_PUNCT_RE.search(text) is not None


def about_programming(text: str) -> bool:
    """Whether ``text`` is about programming: it names a programming language or tool (Python,
    SQL, C++, regex, HTML…; the names that are words too — Java, Ruby, Go, C, R — only with their
    capitals, the short ones only next to a code word: "C program", "R package"), or a coding task
    ("write a function", "implement a program", "the given code", "code snippet", "algorithm").

    It holds whether or not the text holds any code (:func:`has_code` is that); "the function of
    the liver", "a script for a video" and "the Enigma code" are not about programming.
    """
    if not PROGRAMMING_WORDS.isdisjoint(words(text)) and PROGRAMMING_RE.search(text) is not None:
        return True
    return PROGRAMMING_CASED_RE.search(text) is not None


def names_date(text: str) -> bool:
    """Whether ``text`` names a year (1500–2099), a month (not May: the verb), or a date like 3/14/2015."""
    if DIGIT_RE.search(text) and YEAR_OR_DATE_RE.search(text):
        return True
    return MONTH_RE.search(text.lower()) is not None


def _axis(fn: Callable[[str], float], texts: Sequence[str], needs: str | None = None) -> np.ndarray:
    """``fn`` of every text; 0 without ``needs`` in the text (where the axis is 0 anyway)."""
    return np.fromiter(
        (fn(t) if needs is None or needs in t else 0.0 for t in texts), dtype=float, count=len(texts)
    )


def input_axes(texts: Sequence[str]) -> dict[str, np.ndarray]:
    """The built-in behaviour axes the candidates use, applied to the inputs (their reference
    functions; the axes that need a ``?`` or a backtick are 0 without one, and not computed)."""
    return {
        "length_chars": _axis(R.length_chars, texts),
        "length_words": _axis(R.length_words, texts),
        "questions": _axis(R.questions, texts, "?"),
        "code_blocks": _axis(R.code_blocks, texts, "`"),
        "inline_code": _axis(R.inline_code, texts, "`"),
    }


def input_flags(
    texts: Sequence[str], axes: Mapping[str, np.ndarray] | None = None
) -> dict[str, tuple[np.ndarray, str, str]]:
    """name → (one bool per text, description when true, description when false) of the input
    flags: code, a programming topic, a question, digits, a date. ``axes``: :func:`input_axes`
    of the same texts, when already computed."""
    axes = input_axes(texts) if axes is None else axes
    code = (axes["code_blocks"] > 0) | (axes["inline_code"] > 0)
    code |= np.fromiter(map(has_code, texts), dtype=bool, count=len(texts))
    return {
        "has_code": (code, "input has code", "input has no code"),
        "programming": (
            np.fromiter(map(about_programming, texts), dtype=bool, count=len(texts)),
            "input is about programming (names a language or a coding task)",
            "input is not about programming",
        ),
        "question": (axes["questions"] > 0, "input asks a question (?)", "input asks no question (?)"),
        "digits": (
            np.fromiter((DIGIT_RE.search(t) is not None for t in texts), dtype=bool, count=len(texts)),
            "input has digits",
            "input has no digits",
        ),
        "date": (
            np.fromiter(map(names_date, texts), dtype=bool, count=len(texts)),
            "input mentions a date, month or year",
            "input mentions no date",
        ),
    }


def input_atoms(
    inputs: Sequence[str],
    tags: Mapping[str, Sequence[str | None]] | None = None,
    *,
    clusters: bool = True,
    vectors: ArrayLike | None = None,
    seed: int = 0,
) -> list[Atom]:
    """The candidate atoms of the examples: tag values, binned input axes, input flags, and (with
    ``clusters``) clusters of the inputs — of their TF-IDF rows, or of ``vectors`` (one embedding
    row per input) when given; ``seed`` seeds the clustering
    (:func:`deltaeval.slices.clusters.input_clusters`)."""
    texts = [t or "" for t in inputs]
    atoms: list[Atom] = []
    for tag, values in sorted((tags or {}).items()):
        atoms += categorical_atoms(f"tag:{tag}", values, tag)
    axes = input_axes(texts)
    for name, (label, unit) in NUMERIC_AXES.items():
        atoms += numeric_atoms(name, axes[name], label, unit)
    for name, (values, yes, no) in input_flags(texts, axes).items():
        atoms += boolean_atoms(name, values, yes, no)
    atoms += categorical_atoms("script", [script(t) for t in texts], "input script")
    if clusters and texts:
        from deltaeval.slices.clusters import cluster_atoms, input_clusters

        atoms += cluster_atoms(input_clusters(texts, vectors=vectors, seed=seed))
    return atoms
