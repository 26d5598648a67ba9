"""Every format reads in the order a ship decision needs: the verdict with the figures a gate
checks, the regressions side by side, the slices, then behaviour (changed axes only, the rest
folded); references with alternatives read "a or b"; cluster terms are words, not noise."""

from __future__ import annotations

import copy
import io
import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

import deltaeval
from deltaeval.analysis.changes import cluster_terms
from deltaeval.cli import main
from deltaeval.gate import evaluate_gate
from deltaeval.report import render_html, render_markdown, render_terminal
from deltaeval.report._decision import badge, nfr_upper_bound
from deltaeval.store import Store
from deltaeval.types import Example, Output, Run

N = 60
#: Old right and new wrong on these (3 negative flips), the other way on these (2 positive).
NEGATIVE = (0, 7, 14)
POSITIVE = (3, 10)
OLD_WRONG = (3, 10, 20, 40)
TOPICS = ("rivers", "bread", "stars", "trains")


def _texts(i: int) -> tuple[str, str]:
    topic = TOPICS[i % len(TOPICS)]
    old = f"{topic.title()} are interesting. I think {topic} matter to many people. Maybe so."
    items = "\n".join(f"- Point {j} about {topic}: notable and well known." for j in range(2 + i % 3))
    new = f"Here is an overview of {topic}:\n{items}\nIn summary, {topic} are worth it."
    return old, new


def make_runs() -> tuple[Run, Run]:
    """Accuracy unchanged (3 negative, 2 positive flips: McNemar p = 1) while an NFR gate at 2%
    fails; the new outputs are longer bullet lists (behaviour axes that change)."""
    examples = tuple(
        Example(
            id=f"q{i}",
            input=f"How many grams are in a kilogram? ({i})",
            reference="1000|||1,000" if i in NEGATIVE else "7|||seven",
            tags={"category": ("math", "geo", "misc")[i % 3]},
        )
        for i in range(N)
    )
    old_outputs, new_outputs = [], []
    for i, example in enumerate(examples):
        old_text, new_text = _texts(i)
        old_right = i not in OLD_WRONG
        new_right = (old_right and i not in NEGATIVE) or i in POSITIVE
        old_outputs.append(Output(example.id, text=old_text, correct=old_right))
        new_outputs.append(Output(example.id, text=new_text, correct=new_right))
    return Run("v1", examples, tuple(old_outputs)), Run("v2", examples, tuple(new_outputs))


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    old, new = make_runs()
    return deltaeval.compare(old, new, by="category", n_boot=200, behaviour=True).data


def _terminal(report: dict[str, Any], width: int = 140) -> str:
    console = Console(record=True, width=width, file=io.StringIO(), color_system=None)
    render_terminal(report, console)
    return console.export_text()


def _flat(text: str) -> str:
    return " ".join(text.split())


# --------------------------------------------------------------------------- the verdict and the gate


def test_the_badge_states_the_bound_the_gate_checks(report: dict[str, Any]) -> None:
    flips = report["flips"]
    assert (flips["negative"], flips["positive"], flips["verdict"]) == (3, 2, "no significant change")
    [check] = evaluate_gate(report, max_nfr=0.02)
    assert not check.passed
    bound = nfr_upper_bound(report)
    assert bound is not None and f"{bound:.2%}" in check.description  # one figure, both places
    shown = f"{bound:.1%}"
    assert badge(report) == f"Accuracy: no significant change · NFR 5.0%, upper bound {shown}"
    verdict = f"3 regressions (NFR 5.0%, ≤ {shown} at one-sided 95%)"
    assert verdict in _flat(_terminal(report))
    assert verdict in render_markdown(report)
    html = render_html(report)
    assert f'<span class="badge neutral">{badge(report)}</span>' in html
    assert verdict in html
    assert "NO SIGNIFICANT CHANGE" not in _terminal(report)


# --------------------------------------------------------------------------- section order


def test_terminal_order(report: dict[str, Any]) -> None:
    text = _terminal(report)
    marks = ["Verdict: accuracy: no significant change", "negative flips (old right, new wrong)"]
    marks += ["Slices by category", "Behaviour ·"]
    positions = [text.index(mark) for mark in marks]
    assert positions == sorted(positions), dict(zip(marks, positions, strict=True))
    assert text.splitlines()[1].startswith("Verdict:")  # right under the runs line


def test_markdown_order(report: dict[str, Any]) -> None:
    md = render_markdown(report)
    assert md.startswith("### v1 → v2: Accuracy: no significant change · NFR 5.0%, upper bound")
    marks = [
        "**Verdict:**",
        "#### Regressions: 3 negative flips",
        "#### Slices by category",
        "#### Behaviour",
    ]
    positions = [md.index(mark) for mark in marks]
    assert positions == sorted(positions), dict(zip(marks, positions, strict=True))


def test_html_order(report: dict[str, Any]) -> None:
    html = render_html(report)
    marks = ['class="verdict"', 'id="negative-flips"', 'aria-label="Slices"', 'id="behaviour"']
    marks += ['id="positive-flips"']
    positions = [html.index(mark) for mark in marks]
    assert positions == sorted(positions), dict(zip(marks, positions, strict=True))
    assert html.index("<h2>Summary</h2>") < html.index('id="negative-flips"')


def test_html_folds_negative_flips_past_the_first_ten(report: dict[str, Any]) -> None:
    many = copy.deepcopy(report)
    flip = many["examples"]["negative_flips"][0]
    many["examples"]["negative_flips"] = [{**flip, "id": f"n{i}"} for i in range(25)]
    many["flips"]["negative"] = 25
    html = render_html(many)
    assert html.count('<article class="flip negative">') == 25  # all of them, the filter finds any
    head, folded = html.split('<details class="more-flips" data-more="negative">')
    assert head.count('<article class="flip negative">') == 10
    assert "Show the other 15 negative flips" in folded
    assert html.index('<details class="more-flips"') < html.index('aria-label="Slices"')


# --------------------------------------------------------------------------- behaviour: changed axes only


def _separable_first(report: dict[str, Any]) -> dict[str, Any]:
    """The demo's case: the section lists the unchanged axes first (most separable, say), so a
    top-10 by section order showed only axes that did not change."""
    out = copy.deepcopy(report)
    axes = out["behaviour"]["axes"]
    out["behaviour"]["axes"] = [a for a in axes if not a["passes"]] + [a for a in axes if a["passes"]]
    return out


def test_terminal_shows_significant_axes_first_and_names_the_rest(report: dict[str, Any]) -> None:
    shuffled = _separable_first(report)
    section = shuffled["behaviour"]
    changed = {a["name"] for a in section["axes"] if a["passes"]}
    unchanged = {a["name"] for a in section["axes"] if not a["passes"]}
    assert changed and len(unchanged) > 10
    text = _terminal(shuffled)
    table = text[text.index("Behaviour ·") :]
    names = changed | unchanged
    rows = [line.split()[0] for line in table.splitlines() if line.split() and line.split()[0] in names]
    shown = rows[: min(len(changed), 10)]
    assert set(shown) <= changed and len(shown) == min(len(changed), 10)
    qs = {a["name"]: a["q_value"] for a in section["axes"]}
    assert [qs[name] for name in shown] == sorted(qs[name] for name in shown)
    assert f"{len(unchanged)} other axes unchanged: " in _flat(text)


def test_markdown_folds_the_unchanged_axes(report: dict[str, Any]) -> None:
    shuffled = _separable_first(report)
    section = shuffled["behaviour"]
    n_unchanged = sum(not a["passes"] for a in section["axes"])
    md = render_markdown(shuffled)
    block = md[md.index("#### Behaviour") :]
    open_part, folded = block.split(f"<details>\n<summary>{n_unchanged} other axes unchanged</summary>", 1)
    folded = folded[: folded.index("</details>")]
    axis_row = re.compile(r"^\| .* \| [↑↓–] \| ", flags=re.M)
    assert len(axis_row.findall(open_part)) == section["n_passing"]
    assert all(line.endswith("| ✓ |") for line in open_part.splitlines() if axis_row.match(line))
    assert len(axis_row.findall(folded)) == n_unchanged


def test_html_folds_the_unchanged_axes(report: dict[str, Any]) -> None:
    shuffled = _separable_first(report)
    section = shuffled["behaviour"]
    html = render_html(shuffled)
    part = html[html.index('id="behaviour"') :]
    open_table = part[: part.index("</table>")]
    assert open_table.count('<tr class="passes">') == section["n_passing"]
    assert open_table.count("<tr") == section["n_passing"] + 1
    folded = part[part.index('<details class="unchanged-axes">') :]
    assert folded.index("</table>") < folded.index("</details>")
    n_unchanged = section["n_axes"] - section["n_passing"]
    assert folded[: folded.index("</table>")].count('<tr class="">') == n_unchanged


# --------------------------------------------------------------------------- references


def test_references_with_alternatives_read_or(report: dict[str, Any]) -> None:
    assert report["examples"]["negative_flips"][0]["reference"] == "1000|||1,000"  # the JSON keeps it
    for text in (_terminal(report, width=200), render_markdown(report), render_html(report)):
        assert "1000 or 1,000" in text
        assert "|||" not in text and "\\|\\|\\|" not in text


def test_show_prints_references_with_or(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, _ = make_runs()
    store = tmp_path / "store.sqlite"
    with Store(store) as db:
        db.save_run(old)
    assert main(["show", "v1", "--limit", "3", "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "1000 or 1,000" in out and "7 or seven" in out and "|||" not in out


# --------------------------------------------------------------------------- Markdown slice tables


def _slice_tables(md: str) -> list[list[str]]:
    blocks = re.findall(r"#### Slices by [^\n]*\n\n((?:\|[^\n]*\n?)+)", md)
    return [[line for line in block.splitlines() if line.startswith("|")] for block in blocks]


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]


def test_markdown_slice_table_has_no_empty_column(report: dict[str, Any]) -> None:
    tables = _slice_tables(render_markdown(report))
    assert tables
    for lines in tables:
        header, rows = _cells(lines[0]), [_cells(line) for line in lines[2:]]
        assert all(header), header  # every column is named
        for column in range(len(header)):
            assert any(row[column] for row in rows), header[column]  # and holds something
    flagged = copy.deepcopy(report)
    flagged["slices"][0]["rows"][0]["regressed"] = True
    [lines] = _slice_tables(render_markdown(flagged))
    assert _cells(lines[0])[-1] == "Flag" and _cells(lines[2])[-1] == "**regressed**"


# --------------------------------------------------------------------------- cluster terms


def test_cluster_terms_keep_accents_and_drop_noise() -> None:
    spanish = [
        "La pregunta específica está en el libro, es una pregunta específica.",
        "Es una respuesta específica: el libro está aquí.",
        "El libro específica es la respuesta, especfica.",
    ]
    english = ["The weather is nice today.", "Tomorrow the weather will be cold.", "It is what it is."]
    terms = cluster_terms(spanish + english, [0, 0, 0, 1, 1, 1])
    words = [term for term, _ in terms[0]]
    assert "específica" in words  # the accented word stays whole
    assert "especfica" not in words  # in one output only: not a term of the cluster
    assert not {"el", "es", "la", "en"} & set(words)  # too short to say anything
    assert words[:2] == ["específica", "libro"]
    english_words = [term for term, _ in terms[1]]
    assert english_words == ["weather"]  # stop words ("the", "is", "it", "what") left out
