"""The HTML report's example viewer: its data (inert JSON) and, in real headless Chromium, its
filters, search, sorting, keyboard, permalinks, word differences, charts and untrusted text.

The browser tests drive the system Chromium (``/usr/bin/chromium``) through Playwright (the
``dev`` extra); they skip, saying why, when either is missing. One browser serves them all and
they load the page three times.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deltaeval import compare
from deltaeval.report.charts import charts_for
from deltaeval.report.viewer import data_blob, rows_from_report

PLANTED_HTML = "<img src=x onerror=\"window.__pwned=1;alert('x')\">"
PLANTED_SCRIPT = "</script><script>window.__pwned=2;alert('y')</script>"
NEEDLE = "zebracorn"
N = 40
NEGATIVE = {3, 7, 11, 15, 19, 23, 27}  # old right, new wrong
POSITIVE = {2, 6, 10, 14, 18}  # old wrong, new right
WRONG = {1, 5, 9}  # both wrong (the rest are both right)
CATEGORIES = ("math", "code", "chat")


def _ident(i: int) -> str:
    return f"q{i:03d}"


def _write_runs(folder: Path) -> tuple[Path, Path]:
    """Two runs of N examples with known flips; example 4 carries planted HTML, 12 the needle."""
    old_lines, new_lines = [], []
    for i in range(N):
        old_right = i not in POSITIVE and i not in WRONG
        new_right = i not in NEGATIVE and i not in WRONG
        words = " ".join(f"w{i}x{k}" for k in range(8 + i % 5))
        old_text = f"The answer is {i}. {words}"
        new_text = f"The result is {i}. {words} and more words here" if i % 2 else old_text
        if i == 4:
            old_text, new_text = f"{old_text} {PLANTED_HTML}", f"{new_text} {PLANTED_SCRIPT}"
        if i == 12:
            new_text = f"{new_text} the {NEEDLE} appears"
        base = {"id": _ident(i), "input": f"Question {i}?", "reference": str(i)}
        base["category"] = CATEGORIES[i % 3]
        old_lines.append({**base, "output": old_text, "correct": old_right})
        new_lines.append({**base, "output": new_text, "correct": new_right})
    paths = folder / "old.jsonl", folder / "new.jsonl"
    for path, lines in zip(paths, (old_lines, new_lines), strict=True):
        path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return paths


@pytest.fixture(scope="module")
def page_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], list[dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("viewer")
    old, new = _write_runs(folder)
    report = compare(old, new, by="category", n_boot=50, similarity="none")
    page = folder / "report.html"
    page.write_text(report.to_html(), encoding="utf-8")
    return page, report.data, report.examples(10_000)


# --------------------------------------------------------------------------- the data, no browser


def test_viewer_rows_hold_every_example_flips_first(page_file: Any) -> None:
    _, _, rows = page_file
    assert len(rows) == N
    kinds = {r["id"]: r["k"] for r in rows}
    assert {i for i in range(N) if kinds[_ident(i)] == "negative"} == NEGATIVE
    assert {i for i in range(N) if kinds[_ident(i)] == "positive"} == POSITIVE
    assert {i for i in range(N) if kinds[_ident(i)] == "both wrong"} == WRONG
    changed = {r["id"] for r in rows if r["c"]}
    assert changed == {_ident(i) for i in range(N) if i % 2 or i in (4, 12)}
    assert all("length_words" in r["a"] for r in rows)


def test_viewer_keeps_flips_first_when_capped(tmp_path: Path) -> None:
    report = compare(*_write_runs(tmp_path), n_boot=0, behaviour=False)
    rows = report.examples(len(NEGATIVE) + 2)
    assert {r["id"] for r in rows} >= {_ident(i) for i in NEGATIVE}
    assert [r["i"] for r in rows] == sorted(r["i"] for r in rows)  # in the runs' order
    html = report.to_html(max_examples=5)
    assert f"The page holds 5 of {N} examples" in html


def test_cli_html_examples_sets_how_many_the_page_holds(tmp_path: Path) -> None:
    from deltaeval.cli import main

    old, new = _write_runs(tmp_path)
    page = tmp_path / "r.html"
    args = ["compare", str(old), str(new), "--no-behaviour", "--n-boot", "0", "--quiet", "--html", str(page)]
    assert main([*args, "--html-examples", "9"]) == 0
    assert f"The page holds 9 of {N} examples" in page.read_text(encoding="utf-8")


def test_data_blob_is_inert_and_round_trips() -> None:
    value = {"rows": [{"o": PLANTED_HTML, "n": PLANTED_SCRIPT + " <!-- & \u2028"}]}
    blob = data_blob(value)
    assert not set(blob) & {"<", ">", "&", "\u2028"}
    assert json.loads(blob) == value


def test_judged_report_rows_carry_verdicts() -> None:
    example = {"id": "e1", "input": "x", "old_output": "a", "new_output": "b", "tags": {"t": "1"}}
    report = {
        "examples": {"negative_flips": [{**example, "reference": "a"}], "positive_flips": []},
        "preference": {"examples": {"wins": [{**example, "id": "e2", "outcome": 1.0}], "losses": [example]}},
    }
    rows = rows_from_report(report)
    assert [(r["id"], r["k"], r.get("v")) for r in rows] == [
        ("e1", "negative", "old better"),
        ("e2", "", "new better"),
    ]


# --------------------------------------------------------------------------- real Chromium

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright not installed: pip install -e '.[dev]'"
    )
    if CHROMIUM is None:
        pytest.skip("chromium not installed: apt-get install chromium")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def _open(browser: Any, url: str) -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    dialogs: list[str] = []

    def dismiss(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.goto(url)
    page.wait_for_selector("#vlist .vrow")
    return page, dialogs


def _count(page: Any) -> str:
    return page.inner_text("#vf-count")


def test_filters_search_sort_and_keys(browser: Any, page_file: Any) -> None:
    path, data, rows = page_file
    page, dialogs = _open(browser, path.as_uri())
    assert _count(page) == f"{N} of {N} shown"
    assert page.locator("#vlist .vrow:not([hidden])").count() < N + 1  # only the rows on screen

    page.select_option("#vf-type", "k:negative")
    assert _count(page) == f"{len(NEGATIVE)} of {N} shown"
    shown = page.eval_on_selector_all("#vlist .vrow:not([hidden])", "els => els.map(e => e.dataset.id)")
    assert sorted(shown) == sorted(_ident(i) for i in NEGATIVE)
    page.select_option("#vf-tag", label=f"category = math ({sum(1 for i in range(N) if i % 3 == 0)})")
    expected = sum(1 for i in NEGATIVE if i % 3 == 0)
    assert _count(page) == f"{expected} of {N} shown"
    page.select_option("#vf-type", "c:1")
    page.select_option("#vf-tag", "")
    assert _count(page) == f"{sum(1 for r in rows if r['c'])} of {N} shown"
    page.select_option("#vf-type", "")

    # behaviour-axis range: the examples whose length in words grew by at least 3
    page.fill("input[data-axis='length_words'][data-side='min']", "3")
    grew = sum(1 for r in rows if r["a"]["length_words"] >= 3)
    assert 0 < grew < N
    assert _count(page) == f"{grew} of {N} shown"
    page.fill("input[data-axis='length_words'][data-side='min']", "")

    page.focus("#vlist")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "vf-q"
    page.keyboard.type(NEEDLE.upper())
    assert _count(page) == f"1 of {N} shown"
    assert page.get_attribute("#vlist .vrow:not([hidden])", "data-id") == _ident(12)
    page.fill("#vf-q", "")
    page.keyboard.press("Escape")

    page.click("#vhead .vcell:text-is('id')")
    page.click("#vhead .vcell:text-is('id')")  # descending
    assert page.get_attribute("#vlist .vrow[data-pos='0']", "data-id") == _ident(N - 1)
    page.click("#vhead .vcell:text-is('#')")  # back to the runs' order
    assert page.get_attribute("#vlist .vrow[data-pos='0']", "data-id") == _ident(0)

    page.focus("#vlist")
    for key in ("j", "j", "ArrowDown", "j", "k"):
        page.keyboard.press(key)
    assert page.get_attribute("#vlist .vrow.sel", "data-id") == _ident(2)
    page.keyboard.press("Enter")
    assert page.is_visible("#vdetail")
    assert page.inner_text("#vd-id") == _ident(2)
    assert page.evaluate("location.hash") == f"#ex-{_ident(2)}"
    page.keyboard.press("j")  # the open example follows the selection
    assert page.inner_text("#vd-id") == _ident(3)
    assert page.inner_text("#vd-old .del") == "answer"  # word-level differences
    assert page.inner_text("#vd-new .ins").startswith("result")
    page.keyboard.press("Escape")
    assert not page.is_visible("#vdetail")

    # the charts: deltaeval's SVG, one point mark per estimate
    charts = charts_for(data)
    assert charts
    assert page.locator("svg.deltaeval-chart").count() == len(charts)
    marks = page.eval_on_selector_all(
        "svg.deltaeval-chart", "els => els.map(e => e.querySelectorAll('.point').length)"
    )
    assert marks == [c.marks for c in charts]
    assert dialogs == []
    page.close()


def test_permalink_opens_its_example_and_untrusted_text_stays_inert(browser: Any, page_file: Any) -> None:
    path, _, _ = page_file
    page, dialogs = _open(browser, f"{path.as_uri()}#ex-{_ident(4)}")
    assert page.is_visible("#vdetail")
    assert page.inner_text("#vd-id") == _ident(4)
    assert PLANTED_HTML in page.inner_text("#vd-old")
    assert PLANTED_SCRIPT in page.inner_text("#vd-new")
    assert page.get_attribute("#vlist .vrow.sel", "data-id") == _ident(4)
    assert page.locator("img").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("document.querySelectorAll('script').length") == 2  # the data and the script

    page.evaluate(f"location.hash = '#ex-{_ident(12)}'")  # a link followed inside the page
    page.wait_for_function(f"document.getElementById('vd-id').textContent === '{_ident(12)}'")
    assert NEEDLE in page.inner_text("#vd-new")
    assert dialogs == []
    assert page.evaluate("window.__pwned") is None
    page.close()


def test_report_read_back_browses_its_listed_examples(page_file: Any) -> None:
    """A JSON report rendered later (no alignment) browses the flips it lists."""
    from deltaeval.report import render_html

    _, data, _ = page_file
    html = render_html(json.loads(json.dumps(data)))
    listed = len(NEGATIVE) + len(POSITIVE)
    assert f"The page holds {listed} of {N} examples (the examples the JSON report lists)." in html


def _prefers(question: str, a: str, b: str) -> str:
    """New ("The result is") preferred, except on every third question (old, "The answer is")."""
    if a == b:
        return "A=B"
    wanted = "The answer is" if int(question.split()[1].rstrip("?")) % 3 == 0 else "The result is"
    return "A>B" if a.startswith(wanted) else "B>A"


def test_judged_report_filters_by_verdict(browser: Any, tmp_path: Path) -> None:
    """A real judging (both orders): its strongest wins and losses, filtered by the verdict."""
    from deltaeval.judging import CallableJudge, judge

    old, new = _write_runs(tmp_path)
    report = judge(old, new, CallableJudge(_prefers, name="j"), n_boot=50, max_examples=4)
    examples = report.data["preference"]["examples"]
    wins, losses = len(examples["wins"]), len(examples["losses"])
    assert wins == 4 and losses > 0
    page_path = tmp_path / "judged.html"
    page_path.write_text(report.to_html(), encoding="utf-8")
    page, dialogs = _open(browser, page_path.as_uri())
    assert _count(page) == f"{wins + losses} of {wins + losses} shown"
    page.select_option("#vf-verdict", "new better")
    assert _count(page) == f"{wins} of {wins + losses} shown"
    page.select_option("#vf-verdict", "old better")
    assert _count(page) == f"{losses} of {wins + losses} shown"
    assert dialogs == []
    page.close()
