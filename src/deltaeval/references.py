"""References with several acceptable answers: stored joined by a separator, shown as "a, b or c".

A data file lists the alternatives as a JSON list (``"reference": ["1000", "1,000"]``); inside a
run they are one string joined by :data:`ALTERNATIVES_SEPARATOR`, which the scorers split again.
"""

from __future__ import annotations

from collections.abc import Iterable

#: Separates alternative references in one reference string: ``"Paris|||Paris, France"``.
ALTERNATIVES_SEPARATOR = "|||"


def split_alternatives(reference: str) -> list[str]:
    """The alternatives listed in a reference (``"a|||b"`` → ``["a", "b"]``), stripped.

    Blank alternatives are dropped; a reference with no non-blank alternative gives ``[""]``.
    """
    parts = [part.strip() for part in reference.split(ALTERNATIVES_SEPARATOR)]
    return [part for part in parts if part] or [""]


def join_alternatives(alternatives: Iterable[str]) -> str | None:
    """One reference string from acceptable answers (blank ones dropped); None when none is left."""
    kept = [text.strip() for text in alternatives if text.strip()]
    return ALTERNATIVES_SEPARATOR.join(kept) if kept else None


def reference_text(reference: str | None) -> str | None:
    """A reference as people read it: ``"1000|||1,000"`` → ``"1000 or 1,000"``, three as "a, b or c".

    >>> reference_text("7|||seven|||VII")
    '7, seven or VII'
    """
    if reference is None or ALTERNATIVES_SEPARATOR not in reference:
        return reference
    parts = split_alternatives(reference)
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " or " + parts[-1]
