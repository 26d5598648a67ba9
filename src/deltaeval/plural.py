"""Counted nouns in messages: ``plural(1, "example")`` → ``1 example``, ``plural(3, …)`` → ``3 examples``."""

from __future__ import annotations


def plural(count: float, word: str, many: str | None = None) -> str:
    """``count`` and ``word``, the word in the plural unless ``count`` is 1.

    ``many`` is the plural when adding "s" is wrong (``plural(2, "battery", "batteries")``).
    Whole numbers get thousands separators.

    Examples
    --------
    >>> plural(1, "example"), plural(0, "example"), plural(1200, "run")
    ('1 example', '0 examples', '1,200 runs')
    >>> plural(2, "axis", "axes")
    '2 axes'
    """
    number = f"{int(count):,}" if float(count).is_integer() else f"{count:g}"
    return f"{number} {word if count == 1 else (many or word + 's')}"
