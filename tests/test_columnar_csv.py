"""Plain CSV files read into columns read exactly as the per-row CSV reader reads them; any other
file is read row by row, with the per-row reader's notes and errors."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from deltaeval import compare
from deltaeval.columnar import ColumnarRun
from deltaeval.errors import DeltaEvalError
from deltaeval.io import load_run
from deltaeval.io.base import ColumnMapping
from deltaeval.io.columnar_csv import quotes_agree
from deltaeval.io.reading import read_csv
from deltaeval.io.records import generic_run
from deltaeval.types import Run

pytest.importorskip("pyarrow")

HEADER = ["id", "question", "prediction", "gold", "correct", "score", "topic", "level", "note", "ratio"]
#: Every spelling of a boolean the per-row reader accepts, and blank cells.
BOOLEANS = ["true", "false", "True", "FALSE", "t", "F", "yes", "No", " Y ", "n", "1", "0", "1.0", "0.0"]
BOOLEANS += ["", "  "]
#: Scores pyarrow reads (plain decimals) and ones only float() reads (whitespace, underscores …).
SCORES = ["1", "0.5", "", "-0", ".5", "1.", "+2", "1e-3", "9007199254740993", "0.1000000000000000055511"]
SCORES += ["2.2250738585072011e-308"]
ODD_SCORES = [" 2 ", "1_000", "\u00a03\u00a0", "\u0663"]  # float() strips, drops "_", reads Arabic-Indic
TEXTS = [
    "plain",
    "a, with commas, inside",
    'she said "hi", twice ""',
    "two\nlines",
    "windows\r\nline",
    "  padded  ",
    "caf\u00e9 \u2603 \U0001f600",
    "",
    "   ",
    "tab\there",
    "NA",
    "null",
]


def _per_row(path: Path, mapping: ColumnMapping | None = None, strict: bool = False) -> Run:
    """The run as the per-row CSV reader builds it."""
    table = read_csv(path, strict=strict)
    return generic_run(
        table.rows,
        table.header,
        path=path,
        name=path.stem,
        mapping=mapping or ColumnMapping(),
        strict=strict,
        header_line=1,
        notes=table.notes,
    )


def _rows(n: int, scores: list[str] = SCORES) -> list[list[str]]:
    rows = []
    for i in range(n):
        rows.append(
            [
                f"{i:03d}" if i % 5 else f"{i}.0",  # numeric-looking ids stay text
                f"Question {i}: {TEXTS[i % len(TEXTS)]}",
                TEXTS[(i * 7) % len(TEXTS)],
                TEXTS[(i * 3) % len(TEXTS)] if i % 4 else "42",
                BOOLEANS[i % len(BOOLEANS)],
                scores[i % len(scores)],
                ["math", "code", "", " prose "][i % 4],
                str(i % 3) if i % 6 else "",
                "a long free-text remark that is no category at all, " * 3,
                f"{i / 7:.4f}",
            ]
        )
    return rows


def _write(path: Path, rows: list[list[str]], *, bom: bool = False, **writer: Any) -> Path:
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        csv.writer(handle, **writer).writerows(rows)
    return path


def assert_same(path: Path, mapping: ColumnMapping | None = None) -> ColumnarRun:
    """The loaded run is columnar and equal to the per-row reader's run in every field."""
    run = load_run(path, mapping=mapping)
    assert isinstance(run, ColumnarRun)
    expected = _per_row(path, mapping).replace(created_at=run.created_at)
    assert run.ids == expected.ids
    assert run.examples == expected.examples
    assert run.outputs == expected.outputs
    assert run.notes == expected.notes
    assert run.content_hash == expected.content_hash
    assert run == expected
    return run


@pytest.mark.parametrize(
    "writer",
    [
        {},  # quoted only where needed, "\r\n" line ends
        {"lineterminator": "\n"},
        {"quoting": csv.QUOTE_ALL},  # every cell quoted (pandas' quoting=1)
        {"quoting": csv.QUOTE_ALL, "lineterminator": "\n"},
        {"delimiter": "\t"},
    ],
)
@pytest.mark.parametrize("bom", [False, True])
def test_plain_csv_reads_as_the_per_row_reader(tmp_path: Path, writer: dict[str, Any], bom: bool) -> None:
    suffix = ".tsv" if writer.get("delimiter") == "\t" else ".csv"
    path = _write(tmp_path / f"run{suffix}", [HEADER, *_rows(120)], bom=bom, **writer)
    run = assert_same(path)
    assert run.has_correctness is False and run.columns.correct is not None  # blank cells: None
    assert {o.correct for o in run.outputs} == {True, False, None}
    assert run.columns.tags.keys() == {"topic", "level"}  # note (free text) and ratio are not tags
    assert any("'note' is not a tag" in note for note in run.notes)
    assert run.example_at(4) == run.examples[4] and run.output_at(4) == run.outputs[4]


def test_scores_only_float_reads_and_user_tags(tmp_path: Path) -> None:
    path = _write(tmp_path / "odd.csv", [HEADER, *_rows(40, SCORES + ODD_SCORES)])
    run = assert_same(path)
    assert {o.score for o in run.outputs} >= {2.0, 1000.0, 3.0}
    assert_same(path, ColumnMapping(output="gold", reference="prediction", tags=("note", "topic")))


def test_blank_lines_and_blank_rows_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_text(
        '\n\n"id",output,correct\r\n\r\na,"x,\n y",yes\n , ,\n\t,,\nb,,no\r\n\nc,z,\n', encoding="utf-8"
    )
    run = assert_same(path)
    assert run.ids == ["a", "b", "c"]
    assert [o.text for o in run.outputs] == ["x,\n y", None, "z"]


@pytest.mark.parametrize(
    "data",
    [
        b'id,output\ra,"x\ry"\rb,"p\nq"\r',  # old Mac line ends, line breaks inside quotes
        b'id,output\r\na,"x\r"\r\nb,"\r\n"\r\nc,"\n\r"\n',  # a lone CR in a quoted cell
        b'id,output\na,"x\x00y"\nb,\x00\n',  # NUL characters
        b'\xef\xbb\xbf"id",output\na,b\n"",""\nc,d\n\n\r\n',  # a quote after the BOM, a row of ""
    ],
)
def test_odd_but_plain_files(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "odd.csv"
    path.write_bytes(data)
    assert_same(path)


def test_header_names_are_stripped(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text('" id ",output ,Correct\nq1,x,1\nq2,y,0\n', encoding="utf-8")
    run = assert_same(path)
    assert [o.correct for o in run.outputs] == [True, False]


def test_reports_from_csv_columns_equal_reports_from_rows(tmp_path: Path) -> None:
    old_rows, new_rows = _rows(300), _rows(310)
    for row in old_rows + new_rows:  # every example judged
        row[4] = row[4] if row[4].strip() else "yes"
    for row in new_rows[::3]:
        row[4] = "no"
    old_path = _write(tmp_path / "old.csv", [HEADER, *old_rows])
    new_path = _write(tmp_path / "new.csv", [HEADER, *[r for r in new_rows if r[0] != "002"]])
    old, new = assert_same(old_path), assert_same(new_path)
    slow_old = _per_row(old_path).replace(created_at=old.created_at)
    slow_new = _per_row(new_path).replace(created_at=new.created_at)
    for by in ((), ("topic",), ("topic", "level")):
        fast = compare(old, new, by=by, behaviour=False, n_boot=50)
        slow = compare(slow_old, slow_new, by=by, behaviour=False, n_boot=50)
        assert fast.to_json() == slow.to_json()
        assert fast.to_markdown() == slow.to_markdown()


@pytest.mark.parametrize(
    "text",
    [
        'id,output,correct\nq0,a"b,1\nq1,x,0\n',  # a quote inside an unquoted cell: both read it as is
        "id,output,correct\nq0,a\nq1,x,0\n",  # a short row: a note
        "id,output,correct\nq0,a,1\nq0,b,0\n",  # a repeated id: a note
        "id,input,output,correct\n ,hello,a,1\nq1,hi,b,0\n",  # a blank id: hashed from the input
        "id,output,correct\nq0,a,1\n   \nq1,b,0\n",  # a whitespace-only line (one cell)
        'id,output,correct,tags\nq0,a,1,"{""k"": 1}"\n',  # a tags column
        "id,output,correct,error\nq0,a,1,\nq1,,,timeout\n",  # an error column
        'id,messages,output\nq0,"[{""role"": ""user"", ""content"": ""hi""}]",a\n',  # chat messages
    ],
)
def test_files_that_need_the_per_row_reader_read_as_before(tmp_path: Path, text: str) -> None:
    path = tmp_path / "run.csv"
    path.write_text(text, encoding="utf-8")
    run = load_run(path)
    assert not isinstance(run, ColumnarRun)
    expected = _per_row(path).replace(created_at=run.created_at)
    assert run == expected and run.notes == expected.notes


@pytest.mark.parametrize(
    ("data", "strict"),
    [
        (b'id,input,output\nq0,"a,b\nq1,x,y\nq2,z,w\n', False),  # an unclosed quote
        (b'id,input,output\nq0,"a"b,x\nq1,y,z\n', False),  # text after a closing quote
        (b'id,input,output\nq0,"a,b\nq1,"x,y\nq2,z,w\n', False),  # a later quote closes q0's cell
        (b'id,output,score\nq0,"x\ny",1\nq1,x,nan\n', False),
        (b"id,output,score\nq0,x,1\nq1,x,inf\n", False),
        (b"id,output,score\nq0,x,1\nq1,x,1e400\n", False),
        (b"id,output,score\nq0,x,1\nq1,x,high\n", False),
        (b"id,output,correct\nq0,x,1\nq1,x,perhaps\n", False),
        (b"id,output,correct\nq0,x,2\n", False),
        (b"id,output\nq0,caf\xe9\n", False),  # not UTF-8
        (b"id,output\nq0,\xed\xa0\x80\n", False),  # a surrogate, encoded
        (b"id,output,correct\nq0,a\nq1,x,0\n", True),  # a short row under --strict
        (b"id,output,correct\nq0,a,1\nq0,b,0\n", True),  # a repeated id under --strict
        (b"id,output,correct\nq0,a,1,extra\n", False),
        (b"id,output,output\nq0,a,b\n", False),
        (b" id ,output,id\nq0,a,b\n", False),  # the same name once stripped
        (b"id,output\n", False),
        (b"\n\n", False),
        (b"id,notes\nq0,a\n", False),  # no output column
        (b'id,notes\nq0,"a\n', False),  # no output column and an unclosed quote: the quote first
    ],
)
def test_errors_are_the_per_row_readers(tmp_path: Path, data: bytes, strict: bool) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(data)
    with pytest.raises(DeltaEvalError) as expected:
        _per_row(path, strict=strict)
    with pytest.raises(DeltaEvalError) as got:
        load_run(path, strict=strict)
    assert type(got.value) is type(expected.value)
    assert str(got.value) == str(expected.value)


def test_unknown_mapped_column_names_line_1(tmp_path: Path) -> None:
    path = _write(tmp_path / "m.csv", [["id", "output"], ["a", "x"]])
    with pytest.raises(DeltaEvalError, match="'points'") as info:
        load_run(path, mapping=ColumnMapping(score="points"))
    assert info.value.line == 1


@pytest.mark.parametrize(
    ("text", "agree"),
    [
        ("", True),
        ("a,b\n", True),
        ('"a","b"\n"c,d","e""f"\n', True),
        ('"",""""\r\n"x\ny",z', True),
        ('a,"b"c\n', False),  # text after a closing quote
        ('a,b"c\n', False),  # a quote inside an unquoted cell
        ('a,"b\n', False),  # left open
        ('a,"b"""\n', True),
        ('a,"b""""c"\n', True),
        ('a,"b"""c"\n', False),
        ('a,"b" \n', False),
        ('\ufeff"a",b\n', True),
        ('"a"\r"b"\r', True),
    ],
)
def test_quotes_agree(tmp_path: Path, text: str, agree: bool) -> None:
    path = tmp_path / "q.csv"
    path.write_bytes(text.encode("utf-8"))
    whole = quotes_agree(path, ",")
    assert (whole is not None) is agree
    if agree:
        assert whole == text.count('"')
    for chunk in range(1, 9):  # a quote's neighbour in another chunk is found there
        assert quotes_agree(path, ",", chunk=chunk) == whole, chunk
