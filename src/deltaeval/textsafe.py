"""Untrusted text made safe to display: the one place that decides what a reader may not see raw.

Model outputs, inputs, run names, tags and error messages may hold terminal escape sequences
(``ESC [2J`` clears the screen, ``ESC ]0;…`` sets the window title, ``ESC ]8;;URL`` makes a
live link), C1 controls (``\\x9b`` is a one-byte CSI) and invisible formatting characters (bidi
overrides such as U+202E reorder what is shown; zero-width and tag characters hide text).
:func:`visible` writes each of them as a Python-style escape (``\\x1b``, ``\\u202e``,
``\\U000e0041``), so that it is shown, not obeyed, in the terminal, Markdown and HTML alike.
Newlines and tabs stay as layout (a ``\\r\\n`` or lone ``\\r`` becomes ``\\n``); each renderer
flattens them where its format needs one line. Backslashes are left as they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Every character of the Unicode categories Cc (controls), Cf (format), Cs (surrogates), Zl and Zp
# (line and paragraph separators), except tab and newline (layout) and the zero-width (non-)joiners
# U+200C/U+200D that scripts and emoji sequences need. tests/test_textsafe.py checks this class
# against the running Python's Unicode database.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\xad"
    "\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b\u200e\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f"
    "\ud800-\udfff\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f]"
)
_CARRIAGE_RETURN = re.compile("\r\n?")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def visible(text: str) -> str:
    """``text`` with every control, format and bidi character written as a visible escape.

    >>> visible("red \\x1b[31mtext\\u202e")
    'red \\\\x1b[31mtext\\\\u202e'
    """
    if text.isprintable():  # the common case: nothing to do (tab and newline are not printable)
        return text
    if "\r" not in text and text.replace("\n", "").replace("\t", "").isprintable():
        return text  # only layout (a model's answer in lines): two copies beat a regex scan
    return _UNSAFE.sub(_escape, _CARRIAGE_RETURN.sub("\n", text))


def visible_data(value: Any) -> Any:
    """A copy of a JSON-like value (a report) with :func:`visible` applied to every string.

    Mapping keys are strings too (a tag value, a run name). Numbers, booleans and ``None``
    are kept as they are.
    """
    if isinstance(value, str):
        return visible(value)
    if isinstance(value, Mapping):
        return {visible(k) if isinstance(k, str) else k: visible_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [visible_data(v) for v in value]
    if isinstance(value, tuple):
        return tuple(visible_data(v) for v in value)
    return value
