"""Charts of a report (report/charts.py) and the chart files beside the Markdown report."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from deltaeval.cli import main
from deltaeval.report.charts import MAX_ROWS, charts_for

sys.path.insert(0, str(Path(__file__).parent))
from test_cli import write_runs

SVG = "{http://www.w3.org/2000/svg}"


def _slice_row(value: str, n: int, nfr: float, pfr: float) -> dict:
    return {
        "value": value,
        "n": n,
        "nfr": nfr,
        "nfr_ci": [max(0.0, nfr - 0.03), nfr + 0.05],
        "pfr": pfr,
        "pfr_ci": [max(0.0, pfr - 0.02), pfr + 0.04],
    }


def _report(k: int = 3, tag: str = "category") -> dict:
    rows = [_slice_row(f"s{i}", 10 + i, 0.01 * i, 0.02) for i in range(k)]
    return {
        "schema": "deltaeval.report",
        "settings": {"confidence_level": 0.95},
        "slices": [{"tag": tag, "rows": rows}],
    }


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def _by_class(root: ET.Element, cls: str) -> list[ET.Element]:
    return [e for e in root.iter() if cls in (e.get("class") or "").split()]


def _scale(root: ET.Element, fmt) -> tuple[float, float]:
    """(offset, slope) of the x axis, read from the grid's tick labels."""
    ticks = [(float(t.get("x")), t.text) for g in _by_class(root, "grid") for t in g.iter(SVG + "text")]
    (x0, a), (x1, b) = ticks[0], ticks[-1]
    va, vb = fmt(a), fmt(b)
    slope = (x1 - x0) / (vb - va)
    return x0 - slope * va, slope


def _pct(text: str) -> float:
    return float(text.rstrip("%")) / 100


@pytest.mark.parametrize("k", [2, 7, 25])
def test_flip_chart_marks_per_slice(k: int) -> None:
    (chart,) = charts_for(_report(k))
    root = _parse(chart.svg)
    assert chart.name == "flips_by_category" and chart.marks == 2 * k
    assert len(_by_class(root, "point")) == 2 * k
    assert len(_by_class(root, "nfr")) == 2 * k  # a point and a whisker per slice
    assert len(_by_class(root, "whisker")) == 2 * k
    assert len(_by_class(root, "row")) == k
    assert root.get("role") == "img" and root.get("aria-label") == "Flip rates by category"
    assert root.find(SVG + "title").text == "Flip rates by category"


def test_whiskers_at_interval_endpoints() -> None:
    report = _report(4)
    (chart,) = charts_for(report)
    root = _parse(chart.svg)
    offset, slope = _scale(root, _pct)
    rows = report["slices"][0]["rows"]
    for key in ("nfr", "pfr"):
        whiskers = [w for w in _by_class(root, "whisker") if key in w.get("class").split()]
        points = [p for p in _by_class(root, "point") if key in p.get("class").split()]
        for row, whisker, point in zip(rows, whiskers, points, strict=True):
            low, high = row[f"{key}_ci"]
            assert float(whisker.get("x1")) == pytest.approx(offset + slope * low, abs=0.06)
            assert float(whisker.get("x2")) == pytest.approx(offset + slope * high, abs=0.06)
            x = float(point.get("cx") or float(point.get("x")) + 3.5)
            assert x == pytest.approx(offset + slope * row[key], abs=0.06)
    assert not _by_class(root, "clipped")


def test_whiskers_clipped_to_the_axis_and_chance_line() -> None:
    rows = [
        {"value": "a", "n": 10, "win_rate": 0.6, "win_rate_ci": [-0.2, 1.3], "significant": False},
        {"value": "b", "n": 12, "win_rate": 0.4, "win_rate_ci": [0.3, 0.5], "significant": True},
    ]
    report = {"preference": {"by_tag": [{"tag": "lang", "rows": rows}]}}
    (chart,) = charts_for(report)
    root = _parse(chart.svg)
    assert chart.name == "win_rate_by_lang" and chart.marks == 2
    offset, slope = _scale(root, _pct)
    clipped = _by_class(root, "clipped")
    assert len(clipped) == 1
    assert float(clipped[0].get("x1")) == pytest.approx(offset)  # 0%: the axis's left end
    assert float(clipped[0].get("x2")) == pytest.approx(offset + slope)  # 100%
    (reference,) = _by_class(root, "reference")
    assert float(reference.get("x1")) == pytest.approx(offset + slope * 0.5, abs=0.06)


def test_untrusted_labels_stay_text() -> None:
    tag = 'x<script>alert("t")</script>&amp'
    report = _report(2, tag=tag)
    report["slices"][0]["rows"][0]["value"] = "<script>alert(1)</script> & \x1b[31m"
    (chart,) = charts_for(report)
    root = _parse(chart.svg)  # well-formed XML
    assert not [e for e in root.iter() if e.tag.endswith("script")]
    assert "<script" not in chart.svg
    assert root.get("aria-label") == f"Flip rates by {tag}"
    labels = [t.text for t in root.iter(SVG + "title")]
    assert "<script>alert(1)</script> & \\x1b[31m" in labels
    assert chart.name == "flips_by_x_script_alert_t_script_amp"  # a safe file name


def test_deterministic_bytes() -> None:
    report = _report(5)
    report["behaviour"] = {
        "axes": [
            {"name": "length_words", "auroc": 0.64, "auroc_interval": [0.61, 0.67], "passes": True},
            {"name": "hedges", "auroc": 0.48, "auroc_interval": [0.44, 0.52], "passes": False},
        ]
    }
    first = [(c.name, c.svg) for c in charts_for(report)]
    again = [(c.name, c.svg) for c in charts_for(json.loads(json.dumps(report)))]
    assert first == again and [n for n, _ in first] == ["flips_by_category", "behaviour_axes"]


def test_behaviour_axes_and_ranking() -> None:
    axes = [
        {
            "name": f"axis{i}",
            "auroc": 0.5 + 0.01 * i,
            "auroc_interval": [0.45, 0.55 + 0.01 * i],
            "passes": i % 2 == 0,
        }
        for i in range(30)
    ]
    (chart,) = charts_for({"behaviour": {"axes": axes}})
    root = _parse(chart.svg)
    assert chart.marks == MAX_ROWS and len(_by_class(root, "whisker")) == MAX_ROWS
    assert "Showing the 25 most separable of 30 axes." in chart.svg
    (reference,) = _by_class(root, "reference")
    offset, slope = _scale(root, float)
    assert float(reference.get("x1")) == pytest.approx(offset + slope * 0.5, abs=0.06)

    ranking = {
        "schema": "deltaeval.ranking",
        "settings": {"confidence_level": 0.9},
        "runs": [
            {"name": "b", "rating": 1040.0, "ci": [1010.0, 1070.0]},
            {"name": "a", "rating": 1000.0, "ci": [975.0, 1022.0]},
            {"name": "c", "rating": 930.0, "ci": None},
        ],
    }
    (chart,) = charts_for(ranking)
    root = _parse(chart.svg)
    assert chart.name == "ranking" and chart.marks == 3 and len(_by_class(root, "whisker")) == 2
    offset, slope = _scale(root, float)
    whisker = _by_class(root, "whisker")[0]
    assert float(whisker.get("x1")) == pytest.approx(offset + slope * 1010, abs=0.06)
    assert not _by_class(root, "reference")  # ratings have no zero that means something


def test_forty_slices_capped_to_the_largest() -> None:
    report = _report(40)
    (chart,) = charts_for(report)
    root = _parse(chart.svg)
    assert len(_by_class(root, "row")) == MAX_ROWS
    assert "Showing the 25 largest of 40 slices (by examples)." in chart.svg
    labels = [t.find(SVG + "title").text for t in _by_class(root, "label")]
    assert labels == [f"s{i}" for i in range(15, 40)]  # n = 10 + i: the largest, in report order


def test_nothing_to_chart() -> None:
    assert charts_for({"schema": "deltaeval.report", "slices": []}) == []


def test_cli_compare_writes_linked_charts(tmp_path: Path) -> None:
    old, new = write_runs(tmp_path)
    md = tmp_path / "out" / "report.md"
    args = ["compare", str(old), str(new), "--scorer", "exact", "--by", "category", "--no-behaviour", "-q"]
    assert main([*args, "--markdown", str(md)]) == 0
    svg = tmp_path / "out" / "report.charts" / "flips_by_category.svg"
    assert "![Flip rates by category](report.charts/flips_by_category.svg)" in md.read_text()
    root = _parse(svg.read_text())
    assert len(_by_class(root, "point")) == 6  # NFR and PFR of three slices

    other = tmp_path / "elsewhere"
    assert main([*args, "--md", str(tmp_path / "r2.md"), "--charts", str(other)]) == 0
    assert (other / "flips_by_category.svg").read_bytes() == svg.read_bytes()
    assert "](elsewhere/flips_by_category.svg)" in (tmp_path / "r2.md").read_text()

    assert main([*args, "--md", str(tmp_path / "r3.md"), "--no-charts"]) == 0
    assert not (tmp_path / "r3.charts").exists()
    assert "Charts" not in (tmp_path / "r3.md").read_text()


def test_cli_judge_charts_win_rate_per_tag(tmp_path: Path) -> None:
    from test_cli_judge import JUDGE_CODE
    from test_cli_judge import write_runs as write_text_runs

    old, new = write_text_runs(tmp_path)
    judge_file = tmp_path / "my_judge.py"
    judge_file.write_text(JUDGE_CODE, encoding="utf-8")
    md = tmp_path / "judge.md"
    args = ["judge", str(old), str(new), "--judge", f"python:{judge_file}:prefer_longer", "--tag", "category"]
    args += ["--by", "category", "--store", str(tmp_path / "s.sqlite"), "--n-boot", "50", "-q"]
    assert main([*args, "--json", str(tmp_path / "judge.json"), "--md", str(md)]) == 0
    report = json.loads((tmp_path / "judge.json").read_text(encoding="utf-8"))
    rows = report["preference"]["by_tag"][0]["rows"]
    svg = (tmp_path / "judge.charts" / "win_rate_by_category.svg").read_text(encoding="utf-8")
    root = _parse(svg)
    assert len(_by_class(root, "point")) == len(rows) == 2
    offset, slope = _scale(root, _pct)
    for row, whisker in zip(rows, _by_class(root, "whisker"), strict=True):
        assert float(whisker.get("x1")) == pytest.approx(offset + slope * row["win_rate_ci"][0], abs=0.06)
        assert float(whisker.get("x2")) == pytest.approx(offset + slope * row["win_rate_ci"][1], abs=0.06)
    assert "![Judge win rate of new by category](judge.charts/win_rate_by_category.svg)" in md.read_text()


def test_cli_rank_charts(tmp_path: Path) -> None:
    paths = []
    for name, words in (("short", 1), ("medium", 3), ("long", 6)):
        rows = [{"id": f"q{i}", "input": f"q {i}", "output": " ".join(["w"] * words)} for i in range(12)]
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        paths.append(str(path))
    judge_file = tmp_path / "lj.py"
    judge_file.write_text(
        "def j(q, a, b):\n    longer = len(a) > len(b)\n"
        "    return 'A>B' if longer != q.endswith('1') else 'B>A'\n",
        encoding="utf-8",
    )
    args = ["rank", *paths, "--judge", f"python:{judge_file}:j", "--store", str(tmp_path / "s.sqlite")]
    out = tmp_path / "rank.json"
    assert main([*args, "--n-boot", "20", "--json", str(out), "--charts", str(tmp_path / "c"), "-q"]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    root = _parse((tmp_path / "c" / "ranking.svg").read_text(encoding="utf-8"))
    labels = [t.find(SVG + "title").text for t in _by_class(root, "label")]
    assert labels == [r["name"] for r in data["runs"]] == ["long", "medium", "short"]
    assert len(_by_class(root, "point")) == 3 and len(_by_class(root, "whisker")) == 3


def test_long_and_wide_labels_are_cut_and_markdown_alt_text_is_inert() -> None:
    from deltaeval.report.chart_files import markdown_block

    report = _report(2, tag="](javascript:alert(1)) <img src=x>")
    report["slices"][0]["rows"][0]["value"] = "语" * 40
    report["slices"][0]["rows"][1]["value"] = "a" * 40
    (chart,) = charts_for(report)
    root = _parse(chart.svg)
    shown = ["".join(t.itertext())[len(t.find(SVG + "title").text) :] for t in _by_class(root, "label")]
    assert shown == ["语" * 13 + "…", "a" * 27 + "…"]  # 28 columns: a wide character counts two
    block = markdown_block([chart], "report.charts")
    assert "<img" not in block and "\\](javascript" in block
    assert block.endswith("](report.charts/flips_by_javascript_alert_1_img_src_x.svg)")
