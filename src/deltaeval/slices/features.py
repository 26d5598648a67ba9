"""The input features slice discovery bins: built-in behaviour axes applied to the inputs, and a
few cheap flags (code, question, digits, a date, the script)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

import numpy as np

from deltaeval.analysis.slice_discovery import Atom, boolean_atoms, categorical_atoms, numeric_atoms
from deltaeval.behaviour.axes import compute_axes

#: Code-like text outside fences: a keyword that starts a definition, braces or semicolons ending
#: a line, an HTML/XML tag, an include.
CODE_RE = re.compile(
    r"```|^\s*(?:def|class|import|from|function|public|private|SELECT|#include)\b|[{};]\s*$|</?[a-z]+[^>]*>",
    re.MULTILINE,
)
MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
DATE_RE = re.compile(
    rf"\b(?:1[5-9]\d\d|20\d\d)\b|\b(?:{MONTHS})\b|\b\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}}\b", re.IGNORECASE
)
DIGIT_RE = re.compile(r"\d")
#: The input axes offered, with the label and unit of their description.
NUMERIC_AXES = {"length_chars": ("input length", "characters"), "length_words": ("input words", "")}


def script(text: str) -> str:
    """The script of most of the letters of ``text`` (the first word of their Unicode names)."""
    counts: dict[str, int] = {}
    for ch in text[:2000]:
        if ch.isalpha():
            name = unicodedata.name(ch, "")
            key = name.split(" ", 1)[0] if name else "OTHER"
            counts[key] = counts.get(key, 0) + 1
    if not counts:
        return "none"
    best = max(sorted(counts), key=counts.__getitem__)
    return best.title()


def input_atoms(inputs: Sequence[str], tags: Mapping[str, Sequence[str | None]] | None = None) -> list[Atom]:
    """The candidate atoms of the examples: tag values, binned input axes, input flags."""
    texts = [t or "" for t in inputs]
    atoms: list[Atom] = []
    for tag, values in sorted((tags or {}).items()):
        atoms += categorical_atoms(f"tag:{tag}", values, tag)
    axes = compute_axes(texts, names=[*NUMERIC_AXES, "questions", "code_blocks", "inline_code"])
    for name, (label, unit) in NUMERIC_AXES.items():
        atoms += numeric_atoms(name, axes[name], label, unit)
    code = (axes["code_blocks"] > 0) | (axes["inline_code"] > 0)
    code |= np.fromiter((CODE_RE.search(t) is not None for t in texts), dtype=bool, count=len(texts))
    flags = {
        "has_code": (code, "input has code", "input has no code"),
        "question": (axes["questions"] > 0, "input asks a question (?)", "input asks no question (?)"),
        "digits": (
            np.fromiter((DIGIT_RE.search(t) is not None for t in texts), dtype=bool, count=len(texts)),
            "input has digits",
            "input has no digits",
        ),
        "date": (
            np.fromiter((DATE_RE.search(t) is not None for t in texts), dtype=bool, count=len(texts)),
            "input mentions a date, month or year",
            "input mentions no date",
        ),
    }
    for name, (values, yes, no) in flags.items():
        atoms += boolean_atoms(name, values, yes, no)
    atoms += categorical_atoms("script", [script(t) for t in texts], "input script")
    return atoms
