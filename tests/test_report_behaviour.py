"""The ``behaviour`` section in the terminal, Markdown and HTML reports, for a compare report and
for a behaviour-only report (with and without a judge's preference section)."""

from __future__ import annotations

import copy
import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console
from test_report import build_report
from test_report_html import _chromium, _script_count

import deltaeval
from deltaeval.alignment import align
from deltaeval.behaviour.section import behaviour_section
from deltaeval.jsonable import run_block
from deltaeval.judging import CallableJudge, judge
from deltaeval.report import _format as fmt
from deltaeval.report import render_html, render_markdown, render_terminal
from deltaeval.report.behaviour_markdown import MAX_AXES as MD_AXES
from deltaeval.report.behaviour_terminal import MAX_AXES as TERMINAL_AXES
from deltaeval.report.markdown import GITHUB_COMMENT_LIMIT
from deltaeval.types import Example, Output, Run

N = 40
SCRIPT = "<script>alert(1)</script>"
MARKUP = "[bold red]x[/]"
TOPICS = ["rivers", "bread", "stars", "trains", "music", "chess", "tea", "bees"]
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def old_text(i: int) -> str:
    topic = TOPICS[i % len(TOPICS)]
    return f"{MARKUP} {SCRIPT} {topic} are interesting. I think {topic} matter to many people. Maybe so."


def new_text(i: int) -> str:
    """Longer, with a bullet list (the planted difference)."""
    topic = TOPICS[i % len(TOPICS)]
    items = "\n".join(f"- Point {j} about {topic}: notable and well known." for j in range(2 + i % 4))
    return f"{SCRIPT} {MARKUP} Here is an overview of {topic}:\n{items}\nIn summary, {topic} are worth it."


def make_runs() -> tuple[Run, Run]:
    examples = tuple(
        Example(id=f"q{i}", input=f"Tell me about {TOPICS[i % 8]}, number {i}.") for i in range(N)
    )
    old = Run(
        "v1", examples, tuple(Output(e.id, text=old_text(i), correct=True) for i, e in enumerate(examples))
    )
    new = Run(
        "v2",
        examples,
        tuple(Output(e.id, text=new_text(i), correct=i % 4 != 0) for i, e in enumerate(examples)),
    )
    return old, new


def prefers_new(question: str, a: str, b: str) -> str:
    """New preferred except on every fifth example."""
    index = int(re.search(r"number (\d+)", question).group(1))  # type: ignore[union-attr]
    new_first = a.startswith(SCRIPT)
    wants_new = index % 5 != 0
    return "A>B" if new_first == wants_new else "B>A"


@pytest.fixture(scope="module")
def runs() -> tuple[Run, Run]:
    return make_runs()


@pytest.fixture(scope="module")
def section(runs: tuple[Run, Run]) -> dict[str, Any]:
    return behaviour_section(align(*runs), n_boot=200)


@pytest.fixture(scope="module")
def preference_section(runs: tuple[Run, Run]) -> dict[str, Any]:
    preference = np.where(np.arange(N) % 5 == 0, 0.0, 1.0)
    return behaviour_section(
        align(*runs), n_boot=200, preference=preference, preference_source="judge: j (both orders)"
    )


@pytest.fixture(scope="module")
def compare_data(runs: tuple[Run, Run]) -> dict[str, Any]:
    return deltaeval.compare(*runs, n_boot=50).data


@pytest.fixture(scope="module")
def judged(runs: tuple[Run, Run]) -> dict[str, Any]:
    return judge(*runs, CallableJudge(prefers_new, name="j"), n_boot=50).data["preference"]


@pytest.fixture
def compare_report(compare_data: dict[str, Any], section: dict[str, Any]) -> dict[str, Any]:
    return {**copy.deepcopy(compare_data), "behaviour": copy.deepcopy(section)}


def _behaviour_only(
    runs: tuple[Run, Run], compare_data: dict[str, Any], section: dict[str, Any]
) -> dict[str, Any]:
    """A `deltaeval behaviour` report: no flips, no accuracy."""
    return {
        "schema": compare_data["schema"],
        "schema_version": compare_data["schema_version"],
        "deltaeval_version": compare_data["deltaeval_version"],
        "old": run_block(runs[0]),
        "new": run_block(runs[1]),
        "settings": {"seed": 0, "n_boot": 200, "confidence_level": 0.95, "alpha": 0.05},
        "alignment": copy.deepcopy(compare_data["alignment"]),
        "behaviour": copy.deepcopy(section),
    }


@pytest.fixture
def behaviour_report(
    runs: tuple[Run, Run], compare_data: dict[str, Any], section: dict[str, Any]
) -> dict[str, Any]:
    return _behaviour_only(runs, compare_data, section)


@pytest.fixture
def judged_report(
    runs: tuple[Run, Run],
    compare_data: dict[str, Any],
    preference_section: dict[str, Any],
    judged: dict[str, Any],
) -> dict[str, Any]:
    """A behaviour report with a judge's preferences: a preference section, no flips."""
    return {**_behaviour_only(runs, compare_data, preference_section), "preference": copy.deepcopy(judged)}


def with_proposed(report: dict[str, Any]) -> dict[str, Any]:
    """Add a proposed axis, the proposed block and a (hostile) cluster description by hand."""
    b = report["behaviour"]
    row = copy.deepcopy(next(a for a in b["axes"] if a["name"] == "bullet_items"))
    row.update(
        name="formality",
        kind="proposed",
        family="proposed",
        description="high: formal / low: casual",
        unit="judge score (+1 new higher, -1 old higher)",
        high="formal <b>register</b>",
        low="casual [red]chat[/red]",
        q_value=1e-9,  # the most significant axis: first in every table
    )
    row["example"] = {**row["example"], "value_old": 0.0, "value_new": 1.0}
    b["axes"].insert(1, row)
    b["n_axes"] += 1
    b["n_passing"] += 1
    b["multiple_testing_families"] = ["built-in", "proposed"]
    b["proposed"] = {
        "proposer": "openai:proposer",
        "judge": "openai:judge",
        "rounds": 1,
        "merge_method": "tokens",
        "n_proposed": 2,
        "kept": ["formality"],
        "axes": [
            {"name": "formality", "high": "formal <b>register</b>", "low": "casual", "support": 3,
             "kept": True, "new_higher": 31, "old_higher": 2, "equal": 5, "order_dependent": 2, "flips": 1,
             "unparsed": 0, "errors": 0},
            {"name": "politeness", "high": "polite", "low": "curt", "support": 1, "kept": False,
             "new_higher": 0, "old_higher": 0, "equal": 0, "order_dependent": 40, "flips": 0, "unparsed": 0,
             "errors": 0},
        ],
        "combined": None,
        "scoring": "judge in both orders; +1 new higher, -1 old higher, 0 equal or order-dependent",
        "notes": ["one proposal was a near-duplicate"],
    }  # fmt: skip
    b["changes"]["clusters"][0]["description"] = "<img src=x onerror=alert(1)> [red]lists[/red]"
    return report


# --------------------------------------------------------------------------- shared formatting


@pytest.mark.parametrize(
    ("values", "expected"),
    [((748.7, 1079.5), 0), ((0.41, 0.3, 0.5), 3), ((4.0, 10348.0), 0), ((None,), 0), ((0.00001,), 4)],
)
def test_decimals_for(values: tuple[Any, ...], expected: int) -> None:
    assert fmt.decimals_for(*values) == expected


def test_fixed_and_arrow() -> None:
    assert fmt.fixed(1079.52, 0) == "1,080"
    assert fmt.fixed(0.41, 2, sign=True) == "+0.41"
    assert fmt.fixed(None, 2) == fmt.MISSING
    assert fmt.fixed_ci([263.2, 399.4], 0) == "[+263, +399]"
    assert fmt.fixed_ci(None, 0) == fmt.MISSING
    assert [fmt.arrow(d) for d in ("up", "down", "none", None)] == ["↑", "↓", "–", "–"]


def test_the_planted_axis_passes(section: dict[str, Any]) -> None:
    bullets = next(a for a in section["axes"] if a["name"] == "bullet_items")
    assert bullets["direction"] == "up" and bullets["passes"]
    assert section["n_axes"] > TERMINAL_AXES  # the terminal must cut the table


# --------------------------------------------------------------------------- terminal


def _terminal(report: dict[str, Any], width: int = 120) -> str:
    console = Console(record=True, width=width, file=io.StringIO(), color_system=None)
    render_terminal(report, console)
    return console.export_text()


def _axes_rows(text: str, section: dict[str, Any]) -> list[str]:
    """The rows of the terminal's axes table (between its title and its caption)."""
    start = text.index("Behaviour ·")
    end = min(text.find(mark, start) % len(text) for mark in ("more changed axes", "axes unchanged"))
    names = {a["name"] for a in section["axes"]}
    return [line for line in text[start:end].splitlines() if line.split() and line.split()[0] in names]


def test_terminal_compare_report_has_the_behaviour_section(compare_report: dict[str, Any]) -> None:
    text = _terminal(compare_report)
    section = compare_report["behaviour"]
    assert "Verdict: accuracy regressed" in text and "Negative flips" in text
    assert text.index("First 5 of") < text.index("Behaviour ·")
    assert f"{section['n_passing']} of {section['n_axes']} axes changed" in text
    rows = _axes_rows(text, section)
    # only axes that changed, most significant first; the others are named in the caption
    changed = sorted(
        (a for a in section["axes"] if a["passes"]),
        key=lambda a: (a["q_value"], -abs(a["effect_size"] or 0), a["name"]),
    )
    assert section["n_passing"] > TERMINAL_AXES and len(rows) == TERMINAL_AXES
    assert [r.split()[0] for r in rows] == [a["name"] for a in changed[:TERMINAL_AXES]]
    assert all(r.rstrip().endswith("✓") for r in rows)
    n_combined = len(section["combined"]["axes"])
    flat = " ".join(text.split())  # long lines wrap
    assert f"{section['n_passing'] - TERMINAL_AXES} more changed axes in the JSON and HTML reports" in flat
    unchanged = section["n_axes"] - section["n_passing"]
    assert f"{unchanged} other axes unchanged: " in flat
    assert f"All axes together ({n_combined} axes" in flat and "of 40 pairs (chance 50.0%)" in flat
    assert "Where the outputs changed most" in text and "TF-IDF" in text
    assert "Example pairs of the first 3 axes that changed" in text
    assert "pref." not in text  # no preferences, no preference column


def test_terminal_prints_markup_in_outputs_literally(behaviour_report: dict[str, Any]) -> None:
    text = _terminal(with_proposed(behaviour_report))
    assert "[bold red]x[/]" in text
    assert SCRIPT in text
    assert "[red]lists[/red]" in text  # a cluster description
    assert "\x1b" not in text


def test_terminal_behaviour_only_report(behaviour_report: dict[str, Any]) -> None:
    text = _terminal(behaviour_report)
    section = behaviour_report["behaviour"]
    assert text.startswith("deltaeval behaviour v1 → v2   n=40 · 95% intervals (200 paired bootstrap")
    assert f"Behaviour: {section['n_passing']} of {section['n_axes']} axes changed" in text
    assert "Verdict" not in text and "Negative flips" not in text and "Accuracy" not in text
    assert len(_axes_rows(text, section)) == TERMINAL_AXES


def test_terminal_judged_report_has_preference_then_behaviour(judged_report: dict[str, Any]) -> None:
    text = _terminal(judged_report)
    assert text.startswith("deltaeval judge v1 → v2")
    assert "NEW BETTER" in text
    assert text.index("Pairwise preference") < text.index("Behaviour ·")
    flat = " ".join(text.split())
    assert "preferences: judge: j (both orders) (40)" in flat
    assert "pref." in text and "predict the preferred output in" in flat


def test_terminal_proposed_axes_and_narrow_console(behaviour_report: dict[str, Any]) -> None:
    text = _terminal(with_proposed(behaviour_report))
    assert "formality †" in text and "†: proposed by an LLM" in " ".join(text.split())
    assert "Proposed axes" in text and "politeness" in text
    assert re.search(r"formality\s+✓\s+31\s+2\s+5\s+2", text)
    assert "note: one proposal was a near-duplicate" in text
    narrow = _terminal(behaviour_report, width=80)
    rows = _axes_rows(narrow, behaviour_report["behaviour"])
    assert len(rows) == TERMINAL_AXES and any(r.rstrip().endswith("✓") for r in rows)
    assert "Effect sizes and intervals: a wider terminal or the HTML report." in " ".join(narrow.split())
    header = next(line for line in narrow.splitlines() if line.startswith("axis "))
    assert "old → new" in header and "effect" not in header


# --------------------------------------------------------------------------- Markdown


def _check_tables(md: str) -> None:
    """Every table row has as many cells as its header."""
    for block in re.split(r"\n\n", md):
        rows = [line for line in block.splitlines() if line.startswith("| ")]
        if rows:
            assert len({len(_UNESCAPED_PIPE.findall(row)) for row in rows}) == 1, block


def test_markdown_compare_report_has_the_behaviour_section(compare_report: dict[str, Any]) -> None:
    md = render_markdown(compare_report)
    section = compare_report["behaviour"]
    assert md.startswith("### v1 → v2: Accuracy regressed · NFR 25.0%, upper bound 38.7%")
    assert md.index("**NFR**") < md.index("#### Regressions") < md.index("#### Behaviour")
    assert re.search(r"^\| \*\*bullet\\_items\*\* \| ↑ \| .* \| ✓ \|$", md, flags=re.M)
    # the changed axes in the table; the unchanged ones folded in <details> below it
    axis_rows = [line for line in md.splitlines() if re.match(r"^\| .* \| [↑↓–] \| ", line)]
    changed = [row for row in axis_rows if row.endswith("| ✓ |")]
    assert section["n_passing"] <= MD_AXES and len(changed) == section["n_passing"]
    assert axis_rows[: len(changed)] == changed  # no unchanged axis before a changed one
    unchanged = section["n_axes"] - section["n_passing"]
    assert f"<summary>{unchanged} other axes unchanged</summary>" in md
    assert md.index("| ✓ |") < md.index("other axes unchanged</summary>")
    assert "##### Where the outputs changed most" in md
    assert "<summary>Example pairs of the first 5 axes that changed" in md
    assert md.count("<details>") == md.count("</details>") == 3  # flips, unchanged axes, pairs
    assert len(md) <= GITHUB_COMMENT_LIMIT
    _check_tables(md)


def test_markdown_escapes_model_text(behaviour_report: dict[str, Any]) -> None:
    md = render_markdown(with_proposed(behaviour_report))
    assert "<script>" not in md and "<img" not in md and "<b>" not in md
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in md
    assert "\\[bold red\\]x\\[/\\]" in md
    assert "&lt;img src=x onerror=alert(1)&gt; \\[red\\]lists\\[/red\\]" in md
    _check_tables(md)


def test_markdown_behaviour_only_and_proposed(behaviour_report: dict[str, Any]) -> None:
    md = render_markdown(with_proposed(behaviour_report))
    section = behaviour_report["behaviour"]
    assert md.startswith(
        f"### Behaviour: {section['n_passing']} of {section['n_axes']} axes changed: v1 → v2"
    )
    assert "NFR" not in md and "Accuracy" not in md
    assert "| **formality †** | ↑ |" in md
    assert "##### Proposed axes" in md and "| formality | ✓ | 31 | 2 | 5 | 2 |" in md
    assert "*Note: one proposal was a near-duplicate*" in md
    assert "| Description |" in md


def test_markdown_judged_report_has_preference_then_behaviour(judged_report: dict[str, Any]) -> None:
    md = render_markdown(judged_report)
    assert md.startswith("### New better: v2 vs v1")
    assert md.index("#### Pairwise preference") < md.index("#### Behaviour")
    assert "| Pref. | 95% CI |" in md and "predict the preferred output in" in md
    _check_tables(md)


# --------------------------------------------------------------------------- HTML


def _behaviour_html(html: str) -> str:
    return html[html.index('<section aria-label="Behaviour" id="behaviour">') :].split("</section>")[0]


def test_html_compare_report_has_every_axis_and_example(compare_report: dict[str, Any]) -> None:
    html = render_html(compare_report)
    section = compare_report["behaviour"]
    part = _behaviour_html(html)
    assert html.index('id="negative-flips"') < html.index('id="behaviour"')
    assert part.count('<span class="axis-name">') == section["n_axes"] + sum(
        1 for a in section["axes"] if a["example"]
    )
    # the changed axes in the open table, the others in a folded one
    table = part[part.index('<table class="sortable behaviour-axes">') : part.index("</table>")]
    assert table.count("<tr") == section["n_passing"] + 1
    folded = part[part.index('<details class="unchanged-axes">') :]
    folded = folded[: folded.index("</table>")]
    assert folded.count("<tr") == section["n_axes"] - section["n_passing"] + 1
    assert re.search(r'bullet_items</span>.*?<td class="dir up">↑</td>.*?✓</span>', table, flags=re.S)
    assert part.count('<details class="flip behaviour-example">') == sum(
        1 for a in section["axes"] if a["example"]
    ) + len([c for c in section["changes"]["clusters"] if c["examples"]])
    assert '<div class="pair">' in part and "Example pair per changed axis" in part
    assert "Pref. coef" not in part


def test_html_escapes_model_text_and_loads_nothing(behaviour_report: dict[str, Any]) -> None:
    html = render_html(with_proposed(behaviour_report))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert" not in html and "<img" not in html and "<b>register" not in html
    assert "&lt;img src=x onerror=alert(1)&gt; [red]lists[/red]" in html
    assert _script_count(html) == 1
    assert 'src="http' not in html and 'href="http' not in html
    clean = render_html(behaviour_report | {"behaviour": {**behaviour_report["behaviour"], "changes": None}})
    lowered = clean.lower()
    for needle in ("http://", "https://", "src=", "href=", "@import", "url(", "<link", "<img"):
        assert needle not in lowered, needle


def test_html_behaviour_only_and_proposed(behaviour_report: dict[str, Any]) -> None:
    report = with_proposed(behaviour_report)
    section = report["behaviour"]
    html = render_html(report)
    changed = f"{section['n_passing']} of {section['n_axes']} axes changed"
    assert f"<title>deltaeval: v1 → v2 ({changed})</title>" in html
    assert f'<span class="badge neutral">{changed}</span>' in html
    assert "behaviour of the outputs · 40 examples" in html
    assert "<h2>Summary</h2>" not in html and 'id="negative-flips"' not in html
    assert '<span class="axis-name">formality</span> <span class="chip"' in html
    assert "high: formal &lt;b&gt;register&lt;/b&gt; · low: casual [red]chat[/red]" in html
    assert "<h3>Proposed axes</h3>" in html and "Note: one proposal was a near-duplicate" in html


def test_html_judged_report_has_preference_then_behaviour(judged_report: dict[str, Any]) -> None:
    html = render_html(judged_report)
    assert '<span class="badge good">New better</span>' in html
    assert html.index('id="preference"') < html.index('id="behaviour"')
    assert "Pref. coef" in _behaviour_html(html)
    assert "predict the preferred output in" in html


@pytest.mark.parametrize(
    "section",
    [
        {},
        {"n": 3, "n_axes": 1, "n_passing": 0, "combined": None, "proposed": None, "changes": None,
         "axes": [{"name": "x", "direction": "none", "example": None, "preference": None}], "notes": ["few"]},
        {"axes": None, "changes": {"clusters": None}, "proposed": {"axes": None}},
    ],
)  # fmt: skip
def test_a_sparse_section_still_renders(section: dict[str, Any]) -> None:
    report = {"old": {"name": "v1"}, "new": {"name": "v2"}, "settings": {}, "behaviour": section}
    assert "Behaviour ·" in _terminal(report)
    assert "#### Behaviour" in render_markdown(report)
    assert 'id="behaviour"' in render_html(report)


def test_reports_without_behaviour_have_no_behaviour_section() -> None:
    report = build_report()
    assert 'id="behaviour"' not in render_html(report)
    assert "Behaviour" not in render_markdown(report)
    assert "Behaviour" not in _terminal(report)


def test_chromium_shows_the_behaviour_section(judged_report: dict[str, Any], tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(with_proposed(judged_report)), encoding="utf-8")
    result = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    part = _behaviour_html(dom)
    table = part[part.index("behaviour-axes") : part.index("</table>")]
    assert table.count("<tr") == judged_report["behaviour"]["n_passing"] + 1
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in part
    assert _script_count(dom) == 1 and "<img" not in dom.lower()
