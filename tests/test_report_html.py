"""The self-contained HTML report: content, escaping of model text, and a real headless Chromium."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest
from test_report import HOSTILE, build_report

from deltaeval.report import render_html
from deltaeval.report.html import CONTENT_SECURITY_POLICY, TEMPLATE, _environment

CHROMIUM = shutil.which("chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture
def report() -> dict[str, Any]:
    return build_report()


@pytest.fixture
def hostile_report() -> dict[str, Any]:
    return build_report(hostile=True)


def _script_count(html: str) -> int:
    """Executable scripts (the viewer's data element, ``type="application/json"``, runs nothing)."""
    scripts = re.findall(r"<script\b[^>]*>", html, flags=re.IGNORECASE)
    return sum('type="application/json"' not in tag.lower() for tag in scripts)


def test_template_is_autoescaped() -> None:
    env = _environment()
    assert callable(env.autoescape)
    assert env.autoescape(TEMPLATE) is True


def test_html_is_a_self_contained_page(report: dict[str, Any]) -> None:
    html = render_html(report)
    assert html.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in html
    assert (
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
        in CONTENT_SECURITY_POLICY
    )
    csp_meta = f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
    assert csp_meta.replace("'", "&#39;") in html
    assert "<title>deltaeval: v1 → v2 (Accuracy regressed · NFR 10.6%, upper bound 9.6%)</title>" in html
    lowered = html.lower()
    for needle in ("http://", "https://", "src=", "href=", "@import", "url(", "<link", "<img"):
        assert needle not in lowered, needle
    assert _script_count(html) == 1
    for danger in ("innerhtml", "outerhtml", "insertadjacenthtml", "document.write", "eval("):
        assert danger not in lowered, danger


def test_html_holds_the_summary(report: dict[str, Any]) -> None:
    html = render_html(report)
    for expected in [
        "Regressed",
        "95% confidence intervals",
        "81.3%",
        "[75.8%, 86.9%]",
        "-4.5 pp",
        "[-8.1, -1.0] pp",
        "Negative flips (NFR)",
        "10.6%",
        "[6.6%, 15.2%]",
        "Positive flips (PFR)",
        "[3.0%, 9.6%]",
        "Churn",
        "20.2%",
        "NFR<sub>mc</sub>",
        "18.7%",
        "BTC",
        "87.0%",
        "BEC",
        "39.1%",
        "McNemar p",
        "0.022",
        "Continuous score",
        "0.0087",
        "By category",
        "By lang",
        "Benjamini–Hochberg at alpha 0.05",
        "white-space: pre-wrap",
        "2 ids of v1 missing in v2 (not compared): id198, id199",
        "3 outputs of v2 ended in an error",
        # a run's time says what it is: not the import time (the store keeps that)
        '2026-11-22T10:00:00+00:00 <span class="muted">(the source file\'s modification time',
    ]:
        assert expected in html, expected
    assert html.count('<tr class="regressed">') == 1
    assert html.count('<tr class="improved">') == 1


def test_html_shows_every_negative_flip_and_the_positive_ones() -> None:
    report = build_report(n_negative=40, n_positive_shown=5)
    html = render_html(report)
    assert html.count('<article class="flip negative">') == 40
    assert html.count('<article class="flip positive">') == 5
    for flip in report["examples"]["negative_flips"] + report["examples"]["positive_flips"]:
        assert f'<span class="flip-id">{flip["id"]}</span>' in html
        assert f'<div class="text">{flip["old_output"]}</div>' in html
        assert f'<div class="text">{flip["new_output"]}</div>' in html
    assert "The report holds 5 of 12 positive flips." in html


def test_html_escapes_hostile_text(hostile_report: dict[str, Any]) -> None:
    hostile_report["old"]["name"] = "<i>v1</i>"
    hostile_report["slices"][0]["rows"][0]["value"] = '<svg onload="alert(2)">'
    hostile_report["examples"]["negative_flips"][1]["reference"] = "</textarea></div></main>"
    html = render_html(hostile_report)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "{{ 7*7 }}" in html
    assert "&lt;i&gt;v1&lt;/i&gt;" in html
    assert "&lt;svg onload=&#34;alert(2)&#34;&gt;" in html
    assert "&lt;/textarea&gt;&lt;/div&gt;&lt;/main&gt;" in html
    for raw in [*HOSTILE[:2], "<i>v1", "<svg on", "</textarea>", "<img", "<b>bold"]:
        assert raw not in html, raw
    assert html.count("<svg") == html.count('<svg class="deltaeval-chart"')  # only the charts' own
    assert _script_count(html) == _script_count(render_html(build_report()))


def test_html_without_optional_blocks(report: dict[str, Any]) -> None:
    report["continuous"] = None
    report["slices"] = []
    report["examples"] = {"negative_flips": [], "positive_flips": [], "n_positive_flips": 0}
    report["flips"]["verdict"] = "improved"
    html = render_html(report)
    assert '<span class="badge good">Accuracy improved · NFR 10.6%, upper bound 9.6%</span>' in html
    assert "Continuous score" not in html
    assert "<h2>Slices</h2>" not in html
    assert "No negative flips." in html
    assert "No positive flips." in html


def test_html_shows_errors_chat_input_and_missing_reference(report: dict[str, Any]) -> None:
    flip = report["examples"]["negative_flips"][0]
    flip["input"] = [{"role": "user", "content": "Hi <there>"}]
    flip["reference"] = None
    flip["new_output"] = None
    flip["new_error"] = "timeout after 30 s"
    html = render_html(report)
    assert "user: Hi &lt;there&gt;" in html
    assert '<div class="text empty">(none)</div>' in html
    assert '<div class="text error">error: timeout after 30 s</div>' in html


# --------------------------------------------------------------------------- real browser


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if CHROMIUM is None:
        pytest.skip("chromium not installed: apt-get install chromium")
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_chromium_parses_hostile_text_as_text(hostile_report: dict[str, Any], tmp_path: Path) -> None:
    expected_scripts = _script_count(render_html(build_report()))
    page = tmp_path / "report.html"
    page.write_text(render_html(hostile_report), encoding="utf-8")
    result = _chromium(tmp_path, "--dump-dom", page.as_uri())
    dom = result.stdout
    assert result.returncode == 0, result.stderr[-2000:]
    assert "</html>" in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert "&lt;img src=x onerror=alert(1)&gt;" in dom
    assert "{{ 7*7 }}" in dom
    assert _script_count(dom) == expected_scripts
    assert "<img" not in dom.lower()
    assert dom.count('<article class="flip negative">') == 12


def test_chromium_screenshot_is_a_png(report: dict[str, Any], tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    shot = tmp_path / "report.png"
    result = _chromium(tmp_path, "--window-size=1280,2000", f"--screenshot={shot}", page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 2000)
    assert len(data) > 20_000  # a rendered page, not a blank one
