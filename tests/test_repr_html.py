"""Reports inline in a notebook: ``_repr_html_`` of compare, judge and behaviour results."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

import deltaeval
from deltaeval.judging import CallableJudge
from deltaeval.types import Example, Output, Run

PLANTED = "<script>window.pwned = 1</script><img src=x onerror=alert(1)>"


class _Elements(HTMLParser):
    """Every start tag (name, attributes) and the text inside each <script>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.script_types: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")
            self.script_types.append((dict(attrs).get("type") or "").lower())

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def _parse(markup: str) -> _Elements:
    parser = _Elements()
    parser.feed(markup)
    parser.close()
    return parser


def _runs(planted: str) -> tuple[Run, Run]:
    n = 24
    examples = tuple(
        Example(f"e{i}", f"question {i}", "yes", {"category": "a" if i % 2 else "b"}) for i in range(n)
    )
    old = tuple(
        Output(f"e{i}", f"yes, because reason number {i} holds here" if i % 3 else "no", correct=i % 3 != 0)
        for i in range(n)
    )
    new = tuple(
        Output(
            f"e{i}",
            planted + " yes" if i == 0 else f"no, the answer is different for case {i}",
            correct=i == 0,
        )
        for i in range(n)
    )
    return Run("v1", examples, old), Run("v2", examples, new)


def _frame(report: object) -> tuple[_Elements, _Elements]:
    """The fragment's elements, and those of the page inside its frame."""
    fragment = report._repr_html_()  # type: ignore[attr-defined]
    outer = _parse(fragment)
    assert [tag for tag, _ in outer.tags] == ["iframe"]  # one element, no script of its own
    attrs = outer.tags[0][1]
    assert attrs["sandbox"] == "allow-scripts"  # the page's script runs, cut off from the notebook
    inner = _parse(attrs["srcdoc"] or "")
    return outer, inner


def _assert_inert(inner: _Elements, clean: _Elements) -> None:
    # the planted markup made no element: no script beyond the page's own, no image, no handler
    assert len(inner.scripts) == len(clean.scripts)
    assert not any(tag == "img" or "onerror" in attrs for tag, attrs in inner.tags)
    for kind, script in zip(inner.script_types, inner.scripts, strict=True):
        if kind.endswith("json"):  # data for the page's script: must still be one JSON value
            json.loads(script)
        else:
            assert "pwned" not in script
    # nothing from the network
    for _, attrs in inner.tags:
        for name in ("src", "href"):
            assert not (attrs.get(name) or "").startswith(("http:", "https:", "//"))


def test_compare_report_shows_inline_and_planted_script_stays_text() -> None:
    old, new = _runs(PLANTED)
    report = deltaeval.compare(old, new, n_boot=50, behaviour=False)
    _, inner = _frame(report)
    _, clean = _frame(deltaeval.compare(*_runs("harmless"), n_boot=50, behaviour=False))
    _assert_inert(inner, clean)
    page = report._repr_html_()
    assert "window.pwned" in page  # shown, as text (escaped twice: in the page, then in srcdoc)
    assert "&amp;lt;script&amp;gt;window.pwned" in page


@pytest.mark.parametrize("kind", ["judge", "behaviour"])
def test_judge_and_behaviour_results_show_inline(kind: str) -> None:
    def prefers_longer(_input: str, a: str, b: str) -> str:
        return "A>B" if len(a) > len(b) else "B>A" if len(b) > len(a) else "A=B"

    def result(planted: str) -> object:
        old, new = _runs(planted)
        if kind == "judge":
            return deltaeval.judge(old, new, CallableJudge(prefers_longer, name="longer"), n_boot=50)
        return deltaeval.compare_behaviour(old, new, n_boot=50, similarity="none")

    report = result(PLANTED)
    _, inner = _frame(report)
    _, clean = _frame(result("harmless"))
    _assert_inert(inner, clean)
    if kind == "judge":  # the strongest win quotes the planted output, as text
        assert "&amp;lt;script&amp;gt;window.pwned" in report._repr_html_()  # type: ignore[attr-defined]
