"""Format axes ignore code: fenced and indented code blocks and code spans are not markdown,
while the code axes still count the code. Values are checked on both the reference and the
fused path, and the code lines against a CommonMark parser (markdown-it-py, which rich uses)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from deltaeval.behaviour import AXES, BUILTIN_NAMES, compute_axes
from deltaeval.behaviour.code import PROSE, line_kinds
from deltaeval.behaviour.fused import extract

FORMAT_AXES = ("bold", "headers", "bullet_items", "numbered_items", "tables", "links", "inline_code")

#: Python code holding what the format axes used to count in it: ``__init__`` and ``**kwargs``
#: (bold), ``# comments`` at the start of a line (headers), ``- `` and ``1. `` docstring lines.
PYTHON = '''# A config object
class Config:
    def __init__(self, **kwargs):
        """Keep the options.

        - kwargs: any options
        1. stored as given
        """
        super().__init__()
        self.options = {**kwargs, **DEFAULTS}


# Usage
config = Config(debug=True)
'''

PROSE_PART = """## Options

Pass **any** option you need:

- `debug`: log every step
1. Create the object.
"""

ANSWER = f"{PROSE_PART}\n```python\n{PYTHON}```\n\nThat is all."


def values(text: str, names: tuple[str, ...] = (*FORMAT_AXES, "code_blocks", "paragraphs")) -> dict:
    """The axes of ``text`` by the fused path, after checking the reference functions agree."""
    fused = compute_axes([text], names=list(names))
    out = {}
    for name in names:
        reference = AXES[name].fn(text)
        value = fused[name][0]
        assert value == reference or (math.isnan(value) and math.isnan(reference)), (name, value, reference)
        out[name] = value
    return out


def test_python_constructs_count_when_they_are_prose() -> None:
    # The same lines, flush left and outside any code block, are markdown: what the format
    # axes used to count in the fenced block.
    got = values("\n".join(line.strip() for line in PYTHON.split("\n")))
    assert (got["bold"], got["headers"], got["bullet_items"], got["numbered_items"]) == (3, 2, 1, 1)


def test_fenced_code_is_not_markdown() -> None:
    got = values(f"```python\n{PYTHON}```\n")
    assert got == {name: 0 for name in FORMAT_AXES} | {"code_blocks": 1, "paragraphs": 0}


def test_answer_with_code_counts_only_its_prose() -> None:
    got = values(ANSWER)
    assert got["bold"] == 1  # **any**
    assert got["headers"] == 1  # ## Options
    assert got["bullet_items"] == 1
    assert got["numbered_items"] == 1
    assert got["inline_code"] == 1  # `debug`
    assert got["code_blocks"] == 1
    assert got["paragraphs"] == 4  # header, "Pass…", the list, "That is all."
    # Prose lines: 5 non-blank, 3 of them marked (header, bullet, numbered item), and 2 fences.
    density = values(ANSWER, ("markdown_density",))["markdown_density"]
    assert density == pytest.approx((3 + 2) / (5 + 2))
    assert values(PROSE_PART + "\nThat is all.", FORMAT_AXES)["headers"] == 1


def test_code_presence_and_volume_still_see_the_code() -> None:
    fenced = f"Intro.\n\n```python\n{PYTHON}```\n"
    got = compute_axes([fenced, "Intro."], names=["code_blocks", "length_words", "length_tokens"])
    assert got["code_blocks"].tolist() == [1, 0]
    assert got["length_words"][0] > got["length_words"][1] + 20  # the code's words are words
    assert got["length_tokens"][0] > got["length_tokens"][1] + 40


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Unterminated fence: code to the end of the text.
        ("Intro **a**\n```\n# x\n**b** c **d**\n- y", {"bold": 1, "headers": 0, "bullet_items": 0}),
        # A longer fence is closed only by one as long; a ``` inside ~~~ is code.
        ("````\n```\n# in\n```\n````\n# out", {"headers": 1, "code_blocks": 1}),
        ("~~~\n```\n# in\n~~~\n# out\n", {"headers": 1, "code_blocks": 1}),
        ("~~~md\n| a |\n|---|\n[x](http://a.b)\n~~~", {"tables": 0, "links": 0, "code_blocks": 1}),
        # A fence inside a list item.
        ("1. Install:\n   ```bash\n   # root\n   - x\n   ```\n2. Run.", {"numbered_items": 2, "headers": 0}),
        # Backtick fences hold no backtick on the opening line: this one is prose.
        ("```a` and **b**", {"bold": 1, "code_blocks": 0, "inline_code": 0}),
        # Code spans inside code blocks are code, not inline code.
        ("```\nx = `y`\n```\nUse `z`.", {"inline_code": 1, "code_blocks": 1}),
    ],
)
def test_fenced_blocks(text: str, expected: dict[str, float]) -> None:
    got = values(text)
    assert {name: got[name] for name in expected} == expected


def indent(code: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line else line for line in code.split("\n"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Indented code after a blank line: every construct of the Python code is ignored.
        (
            f"Like this:\n\n{indent(PYTHON)}",
            {"bold": 0, "headers": 0, "bullet_items": 0, "numbered_items": 0},
        ),
        (f"Like this:\n\n{indent(PYTHON, chr(9))}", {"bold": 0, "headers": 0, "bullet_items": 0}),
        ("# Title\n    # code right after a header", {"headers": 1}),
        # Without a blank line an indented line continues the paragraph: still prose.
        ("Steps:\n    - one\n    - two", {"bullet_items": 2}),
        # Nested lists indented by 4 inside a list item are lists, not code.
        ("1. **Install**\n\n    - run `pip`\n    - check\n2. Use", {"bullet_items": 2, "numbered_items": 2}),
        ("- item\n\n    more text with **bold**", {"bold": 1}),
        # Code inside a list item is indented 4 beyond the item's text.
        (
            "- item\n\n      # code in the item\n      **x**\n- next",
            {"headers": 0, "bold": 0, "bullet_items": 2},
        ),
        # A blank line inside indented code does not end it; a line indented less does.
        ("Run:\n\n    a = **b**\n\n    # c\nBack to **prose**.", {"bold": 1, "headers": 0, "paragraphs": 2}),
    ],
)
def test_indented_code(text: str, expected: dict[str, float]) -> None:
    got = values(text)
    assert {name: got[name] for name in expected} == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Call `__init__` with `**kwargs` or `**extra**`.", {"bold": 0, "inline_code": 3}),
        ("See `[docs](https://example.org)` and `www.example.org`.", {"links": 0, "inline_code": 2}),
        ("**bold `code` here** and [`name`](https://example.org)", {"bold": 1, "links": 1, "inline_code": 2}),
        ("``a ` b`` then `c`", {"inline_code": 2}),
        ("An unmatched ` backtick and **bold**", {"bold": 1, "inline_code": 0}),
    ],
)
def test_code_spans(text: str, expected: dict[str, float]) -> None:
    got = values(text)
    assert {name: got[name] for name in expected} == expected


# --- code lines agree with a CommonMark parser ---------------------------------------------------

CASES = [
    ANSWER,
    f"Like this:\n\n{indent(PYTHON)}\nAfter.",
    f"Like this:\n\n{indent(PYTHON, chr(9))}",
    "1. **Install**\n\n    - run `pip`\n    - check\n\n2. Use:\n\n       code in item 2\n\nText\n\n    code",
    "- item\n\n      code in the item\n\n  text in the item\n\n    not code: the item's text",
    "1. Install:\n   ```bash\n   pip install x\n   ```\n2. Run.",
    "Intro\n```\nunterminated\n\n# x",
    "````\n```\nin\n```\n````\nout\n~~~\n```\nin\n~~~",
    "```a`b\nx\n```\ncode to the end",
    "# Title\n    code after a header\n\nText\n    continues the paragraph",
    "```\nx\n```\n    code after a fence\n  \tcode with a tab\nend",
    "    code at the start\n\n\n    still code\nprose",
]


def commonmark_code_lines(text: str) -> set[int]:
    """Non-blank lines inside fenced or indented code blocks, by markdown-it-py (CommonMark)."""
    text_lines = text.split("\n")
    found: set[int] = set()
    for token in MarkdownIt("commonmark").parse(text):
        if token.type in ("fence", "code_block") and token.map is not None:
            found.update(i for i in range(*token.map) if text_lines[i].strip())
    return found


@pytest.mark.parametrize("text", CASES)
def test_code_lines_agree_with_commonmark(text: str) -> None:
    text_lines = text.split("\n")
    kinds = line_kinds(text_lines)
    ours = {i for i, kind in enumerate(kinds) if kind != PROSE and text_lines[i].strip()}
    assert ours == commonmark_code_lines(text)


# --- the fused pass gives the reference values on code-heavy text --------------------------------

PIECES = [
    "word",
    "**bold**",
    "__init__",
    "**kwargs",
    "`code`",
    "``a ` b``",
    "`",
    "# hash",
    "- dash",
    "1. one",
    "| a |",
    "|---|---|",
    "[x](http://a.b)",
    "www.c.d",
    "```",
    "```py",
    "````",
    "~~~",
    "```a`",
]
SEPARATORS = [
    "\n",
    "\n\n",
    "\n    ",
    "\n\n    ",
    "\n\t",
    "\n\n\t",
    "\n  ",
    "\n\n      ",
    " ",
    "\n1. ",
    "\n- ",
]


@st.composite
def code_heavy(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.tuples(st.sampled_from(PIECES), st.sampled_from(SEPARATORS)), max_size=25))
    return "".join(p + s for p, s in parts)


@settings(max_examples=300, deadline=None)
@given(text=code_heavy())
def test_fused_equals_reference_on_code(text: str) -> None:
    fused = extract(text, "What is the code?", None)
    for name, value in zip(BUILTIN_NAMES, fused, strict=True):
        spec = AXES[name]
        if name == "sentiment":
            continue
        reference = spec.fn(text, "What is the code?") if spec.uses_input else spec.fn(text)
        assert value == reference or (math.isnan(value) and math.isnan(reference)), (name, text)


@settings(max_examples=300, deadline=None)
@given(text=code_heavy())
def test_quick_path_gives_the_same_kinds(text: str) -> None:
    # Without four spaces or a tab no line is indented code, so the quick path may skip it.
    text = text.replace("\t", "   ")
    while "    " in text:
        text = text.replace("    ", "   ")
    text_lines = text.split("\n")
    assert line_kinds(text_lines, indented=False) == line_kinds(text_lines)
