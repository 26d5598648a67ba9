"""JSON, terminal and Markdown renderings of the JSON report (docs/report-schema.md)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from deltaeval.errors import InputError
from deltaeval.report import _format as fmt
from deltaeval.report import (
    dumps_report,
    load_report,
    render_markdown,
    render_terminal,
    write_report,
)
from deltaeval.report.markdown import GITHUB_COMMENT_LIMIT

HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{ 7*7 }}",
]


def _flip(i: int, *, old_right: bool, category: str, text: str | None = None) -> dict[str, Any]:
    """One entry of ``examples.negative_flips`` / ``positive_flips``."""
    right, wrong = f"answer {i}", f"wrong {i}"
    return {
        "id": f"id{i}",
        "input": text if text is not None else f"Question {i}: what is {i} + {i}?",
        "reference": right,
        "old_output": right if old_right else wrong,
        "new_output": wrong if old_right else right,
        "old_score": 1.0 if old_right else 0.0,
        "new_score": 0.0 if old_right else 1.0,
        "old_error": None,
        "new_error": None,
        "tags": {"category": category, "lang": "en"},
    }


def build_report(
    *,
    n_negative: int = 12,
    n_positive_shown: int = 3,
    hostile: bool = False,
    continuous: bool = True,
) -> dict[str, Any]:
    """A report dict that follows docs/report-schema.md, version 1, key for key."""
    categories = ["math", "code", "writing"]
    negatives = [_flip(i, old_right=True, category=categories[i % 3]) for i in range(n_negative)]
    if hostile and negatives:
        negatives[0]["old_output"] = HOSTILE[0]
        negatives[0]["new_output"] = HOSTILE[1]
        negatives[0]["input"] = HOSTILE[2] + " | a|b\nsecond line ``` fence"
        negatives[0]["tags"] = {"category": "<b>bold</b>", "lang": "[red]en[/red]"}
    positives = [_flip(100 + i, old_right=False, category=categories[i % 3]) for i in range(n_positive_shown)]
    run = {"model": "", "n": 200, "content_hash": "ab" * 32}
    report: dict[str, Any] = {
        "schema": "deltaeval.report",
        "schema_version": 1,
        "deltaeval_version": "0.1.0",
        "old": {**run, "name": "v1", "source": "runs/v1.jsonl", "created_at": "2026-11-22T10:00:00+00:00"},
        "new": {
            **run,
            "name": "v2",
            "source": "runs/v2.jsonl",
            "n": 198,
            "created_at": "2026-11-23T10:00:00+00:00",
        },
        "settings": {
            "scorer": "exact",
            "seed": 0,
            "n_boot": 1000,
            "confidence_level": 0.95,
            "epsilon": 0.0,
            "by": ["category"],
            "alpha": 0.05,
            "strict": False,
        },
        "alignment": {
            "n_old": 200,
            "n_new": 198,
            "n_shared": 198,
            "missing_in_new": ["id198", "id199"],
            "n_missing_in_new": 2,
            "missing_in_old": [],
            "n_missing_in_old": 0,
            "duplicates_old": [],
            "duplicates_new": ["id7"],
            "errors_old": 0,
            "errors_new": 3,
        },
        "accuracy": {
            "n": 198,
            "old": 0.8131,
            "old_ci": [0.7576, 0.8687],
            "new": 0.7677,
            "new_ci": [0.7071, 0.8232],
            "delta": -0.0455,
            "delta_ci": [-0.0808, -0.0101],
        },
        "flips": {
            "n": 198,
            "both_correct": 140,
            "both_wrong": 37,
            "negative": 21,
            "positive": 12,
            "nfr": 0.1061,
            "nfr_ci": [0.0657, 0.1515],
            "pfr": 0.0606,
            "pfr_ci": [0.0303, 0.0960],
            "churn": 0.2020,
            "churn_ci": [0.1465, 0.2576],
            "nfr_mc": 0.1869,
            "nfr_mc_ci": [0.1364, 0.2424],
            "btc": 0.8696,
            "btc_ci": [0.8160, 0.9187],
            "bec": 0.3913,
            "bec_ci": None,
            "mcnemar_p": 0.0219,
            "verdict": "regressed",
        },
        "continuous": {
            "n": 198,
            "epsilon": 0.05,
            "old_mean": 0.6112,
            "new_mean": 0.5873,
            "mean_delta": -0.0239,
            "mean_delta_ci": [-0.0410, -0.0071],
            "gains": 30,
            "losses": 45,
            "ties": 123,
            "gain_rate": 0.1515,
            "gain_rate_ci": [0.1010, 0.2020],
            "loss_rate": 0.2273,
            "loss_rate_ci": [0.1717, 0.2879],
            "mean_gain": 0.1234,
            "mean_loss": -0.1876,
            "wilcoxon_p": 0.0087,
        }
        if continuous
        else None,
        "slices": [
            {
                "tag": "category",
                "method": "benjamini-hochberg",
                "alpha": 0.05,
                "rows": [
                    _slice_row("math", 70, 0.8, 0.6571, regressed=True, q=0.0123, neg=12, pos=2),
                    _slice_row("code", 64, 0.7813, 0.8438, improved=True, q=0.0412, neg=2, pos=6),
                    _slice_row("writing", 64, 0.8594, 0.8125, q=0.41, neg=7, pos=4),
                ],
            },
            {
                "tag": "lang",
                "method": "benjamini-hochberg",
                "alpha": 0.05,
                "rows": [
                    _slice_row("en", 150, 0.82, 0.78, q=0.09, neg=16, pos=10),
                    _slice_row("de", 48, 0.7917, 0.7292, q=0.31, neg=5, pos=2),
                ],
            },
        ],
        "examples": {
            "negative_flips": negatives,
            "positive_flips": positives,
            "n_positive_flips": 12,
        },
    }
    report["flips"]["negative"] = n_negative
    return report


def _slice_row(
    value: str,
    n: int,
    old: float,
    new: float,
    *,
    q: float,
    neg: int,
    pos: int,
    regressed: bool = False,
    improved: bool = False,
) -> dict[str, Any]:
    delta = round(new - old, 4)
    return {
        "value": value,
        "n": n,
        "accuracy_old": old,
        "accuracy_new": new,
        "delta": delta,
        "delta_ci": [round(delta - 0.05, 4), round(delta + 0.05, 4)],
        "negative": neg,
        "positive": pos,
        "nfr": round(neg / n, 4),
        "nfr_ci": [round(neg / n / 2, 4), round(neg / n * 1.5, 4)],
        "pfr": round(pos / n, 4),
        "pfr_ci": [0.0, round(pos / n * 1.5, 4)],
        "mcnemar_p": q / 2,
        "q_value": q,
        "regressed": regressed,
        "improved": improved,
    }


@pytest.fixture
def report() -> dict[str, Any]:
    return build_report()


@pytest.fixture
def hostile_report() -> dict[str, Any]:
    return build_report(hostile=True)


# --------------------------------------------------------------------------- JSON


def test_dumps_is_deterministic_sorted_and_round_trips(report: dict[str, Any], tmp_path: Path) -> None:
    text = dumps_report(report)
    assert text.endswith("}\n")
    assert text == dumps_report(json.loads(text))
    assert json.loads(text) == report
    top_keys = re.findall(r'^  "([a-z_]+)":', text, flags=re.MULTILINE)
    assert top_keys == sorted(top_keys)
    assert "\n  " in text  # indent=2

    path = write_report(report, tmp_path / "out" / "report.json")
    assert path.read_bytes() == text.encode("utf-8")
    loaded = load_report(path)
    assert loaded == report
    again = write_report(loaded, tmp_path / "again.json")
    assert again.read_bytes() == path.read_bytes()


def test_dumps_keeps_unicode_and_writes_nan_as_null(report: dict[str, Any]) -> None:
    report["old"]["name"] = "modèle → v1"
    report["accuracy"]["old"] = float("nan")
    report["flips"]["btc_ci"] = (float("nan"), float("inf"))
    text = dumps_report(report)
    assert "modèle → v1" in text
    assert "NaN" not in text and "Infinity" not in text
    data = json.loads(text)
    assert data["accuracy"]["old"] is None
    assert data["flips"]["btc_ci"] == [None, None]
    assert report["flips"]["btc_ci"][0] != report["flips"]["btc_ci"][0]  # input left as it was


def test_dumps_accepts_numpy_values(report: dict[str, Any]) -> None:
    np = pytest.importorskip("numpy")
    report["flips"]["negative"] = np.int64(12)
    report["accuracy"]["old"] = np.float64("nan")
    report["accuracy"]["old_ci"] = np.array([0.5, 0.75])
    data = json.loads(dumps_report(report))
    assert data["flips"]["negative"] == 12
    assert data["accuracy"]["old"] is None
    assert data["accuracy"]["old_ci"] == [0.5, 0.75]


def test_load_report_reads_nan_literals_as_null(report: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(dumps_report(report).replace('"mcnemar_p": 0.0219', '"mcnemar_p": NaN'))
    assert load_report(path)["flips"]["mcnemar_p"] is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        ('{"schema": "deltaeval.report", "schema_version": 1,', "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"schema": "something.else", "schema_version": 1}', "not a deltaeval report"),
        ('{"schema": "deltaeval.report", "schema_version": 2}', "schema_version 2"),
        ('{"schema": "deltaeval.report"}', "schema_version None"),
        ('{"schema": "deltaeval.report", "schema_version": "1"}', "schema_version '1'"),
    ],
)
def test_load_report_errors_name_the_file(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "report.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_report(path)
    error = caught.value
    assert message in str(error)
    assert str(path) in str(error)
    assert error.path == str(path)
    assert error.hint


def test_load_report_invalid_json_gives_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "schema": "deltaeval.report",\n  oops\n}\n', encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_report(path)
    assert caught.value.line == 3
    assert f"{path}:3:" in str(caught.value)


def test_load_report_rejects_a_folder_and_non_utf8(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="folder"):
        load_report(tmp_path)
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"schema": "d\xe9"}')
    with pytest.raises(InputError, match="UTF-8"):
        load_report(path)


# --------------------------------------------------------------------------- formatting


@pytest.mark.parametrize(
    ("func", "value", "expected"),
    [
        (fmt.pct, 0.1061, "10.6%"),
        (fmt.pct, None, "—"),
        (fmt.pct, float("nan"), "—"),
        (fmt.pct_ci, [0.0657, 0.1515], "[6.6%, 15.2%]"),
        (fmt.pct_ci, None, "—"),
        (fmt.pct_ci, [None, 0.2], "—"),
        (fmt.pp, -0.0455, "-4.5 pp"),
        (fmt.pp_ci, [-0.0808, 0.0101], "[-8.1, +1.0] pp"),
        (fmt.pval, 0.0219, "0.022"),
        (fmt.pval, 0.00001, "<0.0001"),
        (fmt.pval, 1.0, "1"),
        (fmt.level, 0.95, "95%"),
        (fmt.level, 0.995, "99.5%"),
        (fmt.count, 1000, "1,000"),
        (fmt.method_name, "benjamini-hochberg", "Benjamini–Hochberg"),
        (fmt.text_of, [{"role": "user", "content": "hi"}], "user: hi"),
        (fmt.text_of, {"x": 1.5}, '{"x": 1.5}'),
    ],
)
def test_format_helpers(func: Any, value: Any, expected: str) -> None:
    assert func(value) == expected


# --------------------------------------------------------------------------- terminal


def _terminal_text(report: dict[str, Any], **kwargs: Any) -> str:
    console = Console(record=True, width=130, file=io.StringIO(), color_system=None)
    render_terminal(report, console, **kwargs)
    return console.export_text()


def test_terminal_summary_has_the_numbers(report: dict[str, Any]) -> None:
    text = _terminal_text(report)
    for expected in [
        "v1 → v2",
        "n=198",
        "95%",
        "Verdict: accuracy regressed",
        "81.3%",
        "76.8%",
        "-4.5 pp",
        "[-8.1, -1.0] pp",
        "NFR",
        "10.6%",
        "[6.6%, 15.2%]",
        "PFR",
        "Churn",
        "NFR_mc",
        "BTC",
        "BEC",
        "McNemar p",
        "0.022",
        "Continuous score",
        "0.0087",
        "Slices by category",
        "Slices by lang",
        "Benjamini–Hochberg at alpha 0.05",
        "▼ regressed",
        "▲ improved",
        "First 5 of 12 negative flips",
        "id198",
        "3 outputs of v2 ended in an error",
        "1 duplicate id in v2",
    ]:
        assert expected in text, expected
    assert "12 regressions (NFR 10.6%, ≤ 9.6% at one-sided 95%)" in " ".join(text.split())
    assert "id5" not in text  # only the first five flips


def test_terminal_treats_model_text_as_plain_text(report: dict[str, Any]) -> None:
    flip = report["examples"]["negative_flips"][0]
    flip["old_output"] = "[bold]loud[/bold] [/] [link=http://x]y[/link]"
    flip["new_output"] = "\x1b[31mred\x1b[0m"
    report["slices"][0]["rows"][0]["value"] = "[red]math"
    report["old"]["name"] = "[blink]v1"
    text = _terminal_text(report)
    assert "[bold]loud[/bold] [/]" in text
    assert "[red]math" in text
    assert "[blink]v1" in text
    assert "\x1b" not in text
    assert "\\x1b[31mred" in text


def test_terminal_without_optional_blocks(report: dict[str, Any]) -> None:
    report["continuous"] = None
    report["slices"] = []
    report["examples"]["negative_flips"] = []
    report["alignment"] = {
        "n_old": 198,
        "n_new": 198,
        "n_shared": 198,
        "missing_in_new": [],
        "n_missing_in_new": 0,
        "missing_in_old": [],
        "n_missing_in_old": 0,
        "duplicates_old": [],
        "duplicates_new": [],
        "errors_old": 0,
        "errors_new": 0,
    }
    report["flips"]["verdict"] = "no significant change"
    text = _terminal_text(report, max_examples=3)
    assert "Verdict: accuracy: no significant change (-4.5 pp" in text
    assert "Continuous" not in text
    assert "Slices" not in text
    assert "warning" not in text
    assert "negative flips" not in text.lower().replace("negative flips (nfr)", "")


def test_terminal_max_examples(report: dict[str, Any]) -> None:
    text = _terminal_text(report, max_examples=2)
    assert "First 2 of 12 negative flips" in text
    assert "id2 " not in text


# --------------------------------------------------------------------------- Markdown


_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def _table_lines(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("| ")]


def test_markdown_has_verdict_summary_and_slices(report: dict[str, Any]) -> None:
    md = render_markdown(report)
    first = md.splitlines()[0]
    assert first == "### v1 → v2: Accuracy regressed · NFR 10.6%, upper bound 9.6%"
    assert "**Verdict:** accuracy regressed (-4.5 pp \\[-8.1, -1.0\\] pp, exact McNemar p = 0.022)" in md
    assert "| Metric | Value | 95% CI |" in md
    assert "| **NFR**: negative flips (old right, new wrong) | **10.6%** (12) | [6.6%, 15.2%] |" in md
    assert "| McNemar p (exact, two-sided) | 0.022 |  |" in md
    assert "#### Slices by category" in md
    assert "| math | 70 | 80.0% → 65.7% | -14.3 pp |" in md
    assert "**regressed**" in md and "**improved**" in md
    assert "Benjamini–Hochberg at alpha 0.05" in md
    assert "#### Continuous score" in md
    assert "> **Warning:** 2 ids of v1 missing in v2" in md
    assert "<details>" in md and md.count("<details>") == md.count("</details>") == 1
    assert "#### Regressions: 12 negative flips (old right, new wrong)" in md
    assert "Full texts of the first 10 of 12 negative flips" in md
    assert "**11. id10**" not in md
    # every table row has as many cells as its header
    for table in re.split(r"\n\n", md):
        rows = _table_lines(table)
        if rows:
            widths = {len(_UNESCAPED_PIPE.findall(row)) for row in rows}
            assert len(widths) == 1, table


def test_markdown_makes_model_text_inert(hostile_report: dict[str, Any]) -> None:
    report = hostile_report
    report["slices"][0]["rows"][2]["value"] = "a|b <script>x</script>\nnext & line"
    report["examples"]["negative_flips"][1]["old_output"] = "ping @octocat [link](http://x) *em*"
    md = render_markdown(report)
    assert "<script>" not in md
    assert "<img" not in md
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in md
    assert "&lt;b&gt;bold&lt;/b&gt;" in md
    row = next(line for line in _table_lines(md) if "a\\|b &lt;script" in line)
    assert "a\\|b &lt;script&gt;x&lt;/script&gt; next &amp; line" in row
    assert len(_UNESCAPED_PIPE.findall(row)) == 10
    assert "@octocat" not in md and "@\u2060octocat" in md
    assert "\\[link\\](http://x) \\*em\\*" in md
    # the multi-line input holding a ``` run is fenced with four backticks
    assert "\n````text\n{{ 7*7 }} | a|b\nsecond line ``` fence\n````\n" in md


def test_markdown_fence_outlasts_backtick_runs(report: dict[str, Any]) -> None:
    text = "line one\n`````\nstill inside ```` here\n" + "x" * 200
    report["examples"]["negative_flips"][0]["new_output"] = text
    md = render_markdown(report)
    assert "\n``````text\n" + text + "\n``````\n" in md


def test_markdown_text_of_chat_input(report: dict[str, Any]) -> None:
    report["examples"]["negative_flips"][0]["input"] = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "2+2?"},
    ]
    md = render_markdown(report)
    assert "system: Be brief.\n\nuser: 2+2?" in md


def test_markdown_stays_under_the_github_limit() -> None:
    report = build_report(n_negative=400)
    for flip in report["examples"]["negative_flips"]:
        flip["old_output"] = "long old answer " * 300
        flip["new_output"] = "long new answer\n" * 300
    report["slices"][0]["rows"] = [
        _slice_row(f"value {i}", 10, 0.5, 0.4, q=0.5, neg=2, pos=1) for i in range(3000)
    ]
    md = render_markdown(report, max_examples=400)
    assert len(md) <= GITHUB_COMMENT_LIMIT
    assert "left out to stay under GitHub's 65,536-character limit" in md
    assert "Showing 25 of 3,000 values" in md
    assert md.count("<details>") == md.count("</details>") == 1
    assert md.rstrip().endswith("</sub>")


def test_markdown_without_optional_blocks(report: dict[str, Any]) -> None:
    report["continuous"] = None
    report["slices"] = []
    report["examples"]["negative_flips"] = []
    report["flips"]["verdict"] = "improved"
    md = render_markdown(report)
    assert md.startswith("### v1 → v2: Accuracy improved · NFR 10.6%")
    assert "<details>" not in md
    assert "Continuous" not in md
    assert "Slices" not in md


def test_errors_are_shown_in_terminal_and_markdown(report: dict[str, Any]) -> None:
    flip = report["examples"]["negative_flips"][0]
    flip["new_output"] = None
    flip["new_error"] = "timeout <after> 30 s"
    assert "[error] timeout <after> 30 s" in _terminal_text(report)
    assert "**New (v2):** error: timeout &lt;after&gt; 30 s" in render_markdown(report)
