"""Where the code is in an output: fenced and indented code blocks, and code spans.

The format axes (paragraphs, list items, headers, bold, tables, links, markdown density) read
only an output's *prose*: its lines outside code blocks, with code spans blanked out, so that
a ``# comment``, ``**kwargs``, ``__init__`` or ``- x`` inside code is not markdown. The code
axes (``code_blocks``, ``inline_code``) count the code itself.

fenced code block (CommonMark, at any indentation)
    Opens at a line starting with 3 or more backticks or tildes (after a backtick fence, no
    further backtick on the line); closes at a line of the same character, at least as many,
    and nothing else; an unclosed block runs to the end of the text. Its two fence lines are
    markdown (``markdown_density`` counts them); the lines between are code.
indented code block (CommonMark)
    Opens at a line indented by 4 or more columns (a tab reaches the next multiple of 4)
    beyond the content of the list item it belongs to (0 outside lists), when that line follows
    a blank line, a header, a closed fenced block or the start of the text — it cannot
    interrupt a paragraph, so ``- item`` followed by ``    - nested`` is a nested list. It goes
    on over the lines indented as much (blank lines between them included).
code span
    A run of backticks and the next run of exactly as many on the same line, with text
    between (:data:`~.patterns.INLINE_CODE_RE`).
"""

from __future__ import annotations

from collections.abc import Sequence

from deltaeval.behaviour import patterns as P
from deltaeval.behaviour.text import lines

#: Kinds of line: prose, a fence opening or closing a fenced block, code.
PROSE, OPEN, CLOSE, CODE = 0, 1, 2, 3


def _width(prefix: str) -> int:
    """Columns a line's leading blanks take (tab stops every 4 columns)."""
    return len(prefix.expandtabs(4)) if "\t" in prefix else len(prefix)


def line_kinds(text_lines: Sequence[str], *, indented: bool = True) -> list[int]:
    """The kind of every line: :data:`PROSE`, :data:`OPEN`, :data:`CLOSE` or :data:`CODE`.

    ``indented=False`` skips indented code blocks: only for text in which no line is indented
    by 4 columns (no four spaces and no tab anywhere), where it gives the same kinds.
    """
    kinds = [PROSE] * len(text_lines)
    fence = ""  # the fence that closes the open fenced block ("" when none is open)
    columns: list[int] = []  # content columns of the open list items, innermost last
    may_indent = True  # whether an indented code block may open at the next line
    code_base = -1  # the list column an open indented code block is indented from (-1: none)
    for i, line in enumerate(text_lines):
        body = line.lstrip(" \t")
        if fence:
            end = body.rstrip()
            if end.startswith(fence) and not end.strip(fence[0]):
                kinds[i] = CLOSE
                fence = ""
                may_indent = True
            else:
                kinds[i] = CODE
            continue
        if not body.strip():
            may_indent = True
            continue
        indent = 0
        if indented:
            indent = _width(line[: len(line) - len(body)])
            if code_base >= 0 and indent >= code_base + 4:
                kinds[i] = CODE
                continue
            if may_indent:
                while columns and columns[-1] > indent:
                    columns.pop()
                base = columns[-1] if columns else 0
                if indent >= base + 4:
                    kinds[i] = CODE
                    code_base = base
                    continue
            code_base = -1
        may_indent = False
        first = body[0]
        if first in P.FENCE_CHARS:
            run = len(body) - len(body.lstrip(first))
            if run >= 3 and (first == "~" or "`" not in body[run:]):
                kinds[i] = OPEN
                fence = first * run
        elif first == "#":
            may_indent = P.HEADER_RE.match(line) is not None
        elif indented:
            item = P.LIST_ITEM_RE.match(line)
            if item is not None:
                while columns and columns[-1] > indent:
                    columns.pop()
                marker = _width(line[: item.start(1)])
                content = _width(line[: item.end()])
                columns.append(content if content - marker <= 4 else marker + 1)
    return kinds


def code_kinds(text: str, text_lines: Sequence[str]) -> list[int] | None:
    """:func:`line_kinds` of ``text`` (split into ``text_lines``), or None when a quick look
    shows that no line can be in a code block (every line is prose)."""
    indented = "    " in text or "\t" in text
    if indented or "```" in text or "~~~" in text:
        return line_kinds(text_lines, indented=indented)
    return None


def prose_lines(text: str) -> list[str]:
    """The lines of ``text`` outside code blocks (fence lines left out too)."""
    text_lines = lines(text)
    return [line for line, kind in zip(text_lines, line_kinds(text_lines), strict=True) if kind == PROSE]


def blank_code_spans(text: str) -> tuple[str, int]:
    """``text`` with every code span replaced by a space, and the number of spans."""
    return P.INLINE_CODE_RE.subn(" ", text)


def prose(text: str) -> str:
    """The prose lines of ``text`` joined by ``\\n``, with code spans blanked out."""
    return blank_code_spans("\n".join(prose_lines(text)))[0]
