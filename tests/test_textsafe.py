"""Untrusted text never reaches a terminal, Markdown or HTML reader raw (terminal injection).

Runs whose outputs, inputs, names, tags, notes and error texts carry escape sequences (clear
screen, window title, hyperlinks), C1 controls and bidi overrides are stored in a real SQLite
store and shown by `deltaeval runs`, `show`, `compare`, `judge` and `rank` on a forced terminal:
every ESC in what they print is an SGR style sequence that rich wrote, no C1, OSC or bidi
character appears, and the data's characters are shown as ``\\x1b``/``\\u202e`` escapes.
"""

from __future__ import annotations

import json
import re
import unicodedata
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from deltaeval.backends import GenerationParams
from deltaeval.backends.callable import CallableBackend
from deltaeval.cli import main
from deltaeval.runner import run_model
from deltaeval.store import Store
from deltaeval.textsafe import visible, visible_data
from deltaeval.types import Example, Output, Run

CLEAR = "\x1b[2J"
TITLE = "\x1b]0;pwned\x07"
LINK = "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\"
C1 = "\x9b31m\x9d0;t\x9c"
BIDI = "\u202eevil\u202c\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
PAYLOAD = CLEAR + TITLE + LINK + C1 + BIDI

OLD = "old" + TITLE + "\u202e"
NEW = "new\x9b2J\u2066"
TAG = "cat\u202e"

#: Rich's own styling: Select Graphic Rendition, ``ESC [ ... m``.
SGR = re.compile(r"\x1b\[[0-9;]*m")
#: What must never appear raw: C0 (but tab and newline), DEL, C1, bidi and other invisible controls.
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


def assert_inert(text: str) -> None:
    """Every ESC is rich's SGR styling; no other control, C1 or bidi character is there."""
    rest = SGR.sub("", text)
    assert "\x1b" not in rest, repr(rest[max(rest.find("\x1b") - 40, 0) :][:120])
    found = RAW.search(rest)
    assert found is None, repr(rest[max(found.start() - 40, 0) :][:120])


# --------------------------------------------------------------------------- the function


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain text, ünïcödé, 中文, עברית", "plain text, ünïcödé, 中文, עברית"),
        ("a\x1b[31mb\n", "a\\x1b[31mb\n"),
        (TITLE, "\\x1b]0;pwned\\x07"),
        (C1, "\\x9b31m\\x9d0;t\\x9c"),
        ("\u202eabc\u202c", "\\u202eabc\\u202c"),
        ("\u2066\u2067\u2068\u2069\u200e\u200f\u061c", "\\u2066\\u2067\\u2068\\u2069\\u200e\\u200f\\u061c"),
        ("zero\u200bwidth\ufeff", "zero\\u200bwidth\\ufeff"),
        ("tag \U000e0041\U000e0042", "tag \\U000e0041\\U000e0042"),
        ("line\u2028para\u2029", "line\\u2028para\\u2029"),
        ("lone \ud800 surrogate", "lone \\ud800 surrogate"),
        ("nul \x00 bs \x08 del \x7f", "nul \\x00 bs \\x08 del \\x7f"),
        ("a\r\nb\rc\td", "a\nb\nc\td"),
        ("family 👨\u200d👩\u200d👧, ZWNJ \u200c kept", "family 👨\u200d👩\u200d👧, ZWNJ \u200c kept"),
    ],
)
def test_visible(text: str, shown: str) -> None:
    assert visible(text) == shown
    assert visible(shown) == shown  # idempotent: an escape is plain text


def test_visible_covers_every_control_format_and_separator_character() -> None:
    kept = set("\t\n\u200c\u200d")
    for code in range(0x110000):
        ch = chr(code)
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") and ch not in kept:
            assert visible(ch) != ch, hex(code)
        elif unicodedata.category(ch) != "Cn":  # an assigned character of another kind is kept
            assert visible(ch) == ch, hex(code)


def test_visible_data_copies_a_report_with_every_string_visible() -> None:
    report = {"old": {"name": OLD}, "rows": [{TAG: PAYLOAD, "n": 3, "ok": True, "p": None}], "ci": (0.1, 0.2)}
    safe = visible_data(report)
    assert safe == {
        "old": {"name": visible(OLD)},
        "rows": [{visible(TAG): visible(PAYLOAD), "n": 3, "ok": True, "p": None}],
        "ci": (0.1, 0.2),
    }
    assert report["old"]["name"] == OLD  # the report itself is left as it was
    assert_inert(json.dumps(safe, ensure_ascii=False))


# --------------------------------------------------------------------------- the commands


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich writes as to a colour terminal, 200 columns wide (no cell is cut or folded)."""
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("NO_COLOR", raising=False)


def _run(name: str, texts: list[str | None], errors: list[str | None]) -> Run:
    examples = tuple(
        Example(
            id=f"ex{i:02d}\x1b[1m",
            input=f"Q{i} {CLEAR}{TITLE}" + ("\n" + PAYLOAD if i == 0 else ""),
            reference="4",
            tags={TAG: ("\u202emath" + C1) if i % 2 == 0 else "geo"},
        )
        for i in range(len(texts))
    )
    outputs = tuple(
        Output(example_id=e.id, text=t, error=err, correct=(t == "4") if err is None else False)
        for e, t, err in zip(examples, texts, errors, strict=True)
    )
    return Run(
        name=name,
        examples=examples,
        outputs=outputs,
        model="m" + LINK,
        params={"system": "be" + CLEAR},
        source="src" + C1,
        notes=("note " + BIDI + TITLE,),
    )


def store_runs(path: Path, n: int = 12) -> None:
    """Old is right everywhere; new answers with the payload (or an error carrying it) on half."""
    old = _run(OLD, ["4"] * n, [None] * n)
    new_texts: list[str | None] = [
        (f"{TITLE}{PAYLOAD} long answer {i}" if i < n // 2 else "4") for i in range(n)
    ]
    new_errors: list[str | None] = [None] * n
    new_texts[1], new_errors[1] = None, "\x9b2J boom " + PAYLOAD
    with Store(path) as db:
        db.save_run(old)
        db.save_run(_run(NEW, new_texts, new_errors))


def test_runs_and_show_print_stored_escape_sequences_visibly(
    tmp_path: Path, terminal: None, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "s.sqlite"
    store_runs(store)
    assert main(["runs", "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "\x1b[" in out  # a real colour terminal: rich styled the header
    assert_inert(out)
    plain = SGR.sub("", out)
    assert visible(OLD) in plain and visible(NEW) in plain
    assert visible("m" + LINK)[:30] in plain and visible("src" + C1) in plain

    assert main(["show", NEW, "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert_inert(out)
    plain = SGR.sub("", out)
    for shown in (
        f"run {visible(NEW)}",
        visible("src" + C1),
        visible("be" + CLEAR),  # params
        f"tags: {visible(TAG)}",
        visible("note " + BIDI + TITLE),
        visible("ex00\x1b[1m"),  # an id
        "ERROR: \\x9b2J boom \\x1b[2J",  # an error text
        visible(TITLE)[:20],  # an output
    ):
        assert shown in plain, shown

    # an error message that quotes the run name asked for
    assert main(["show", "nope" + TITLE + "\u202e", "--store", str(store)]) == 2
    err = capsys.readouterr().err
    assert_inert(err)
    assert "nope\\x1b]0;pwned\\x07\\u202e" in err and visible(OLD) in err


def test_compare_terminal_markdown_and_html_show_escape_sequences_visibly(
    tmp_path: Path, terminal: None, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "s.sqlite"
    store_runs(store)
    md, html = tmp_path / "r.md", tmp_path / "r.html"
    args = ["compare", OLD, NEW, "--by", TAG, "--store", str(store), "--n-boot", "200"]
    assert main([*args, "--md", str(md), "--html", str(html)]) == 0
    out = capsys.readouterr().out
    assert "\x1b[" in out
    assert_inert(out)
    plain = SGR.sub("", out)
    assert f"deltaeval {visible(OLD)} → {visible(NEW)}" in plain
    assert f"Slices by {visible(TAG)}" in plain
    assert visible("\u202emath" + C1) in plain  # a tag value
    assert visible("ex00\x1b[1m") in plain and visible(TITLE) in plain  # an id and an output
    assert "[error] \\x9b2J boom" in plain  # an error text

    text = md.read_text(encoding="utf-8")
    assert_inert(text)
    unescaped = re.sub(r"\\([\\`*_\[\]|~])", r"\1", text)  # Markdown's backslash escapes undone
    for shown in (visible(OLD), visible(NEW), visible(TAG), visible(PAYLOAD), "\\x9b2J boom"):
        assert shown in text or shown in unescaped, shown  # in a fenced block, or inline

    page = html.read_text(encoding="utf-8")
    assert_inert(page)
    for shown in (visible(OLD), visible(NEW), visible(TAG), visible(PAYLOAD), "\\x9b2J boom"):
        assert shown.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in page, shown


JUDGE = '''
def judge(question, a, b):
    """Prefers the longer answer; its verdicts explain themselves with escape sequences."""
    label = "A>B" if len(a) > len(b) else ("B>A" if len(b) > len(a) else "A=B")
    return {"label": label, "explanation": "because " + PAYLOAD}
'''


def test_judge_and_rank_show_escape_sequences_visibly(
    tmp_path: Path, terminal: None, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "s.sqlite"
    store_runs(store)
    judge = tmp_path / "my_judge.py"
    judge.write_text(f"PAYLOAD = {PAYLOAD!r}\n{JUDGE}", encoding="utf-8")
    md, html, report = tmp_path / "j.md", tmp_path / "j.html", tmp_path / "j.json"
    args = ["judge", OLD, NEW, "--judge", f"python:{judge}:judge", "--store", str(store)]
    args += ["--by", TAG, "--n-boot", "200", "--md", str(md), "--html", str(html), "--json", str(report)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Pairwise preference" in out
    assert_inert(out)
    plain = SGR.sub("", out)
    assert visible(OLD) in plain and visible(NEW) in plain and "because \\x1b[2J" in plain
    for path in (md, html):
        text = path.read_text(encoding="utf-8")
        assert_inert(text)
        assert "because \\x1b[2J" in text or "because \\\\x1b\\[2J" in text

    rank = ["rank", OLD, NEW, "--judge", f"python:{judge}:judge", "--store", str(store), "--n-boot", "20"]
    assert main(rank) == 0
    out = capsys.readouterr().out
    assert "Bradley–Terry" in out
    assert_inert(out)
    assert visible(OLD) in SGR.sub("", out)


def test_the_progress_bar_shows_a_run_name_visibly(tmp_path: Path) -> None:
    console = Console(file=StringIO(), force_terminal=True, color_system="standard", width=200)
    examples = [Example(id=str(i), input=f"q{i}") for i in range(3)]
    with Store(tmp_path / "s.sqlite") as db:
        run_model(
            CallableBackend(str.upper), examples, GenerationParams(), name=OLD, store=db, console=console
        )
    out = console.file.getvalue()
    assert "\\x1b]0;pwned\\x07\\u202e" in out
    assert "\x1b]" not in out and "\u202e" not in out  # rich's live display writes only CSI sequences
