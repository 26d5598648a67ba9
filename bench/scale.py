"""Benchmark: ``deltaeval compare`` end to end at scale, against reading the same files with pyarrow.

Two cases, each generated in a temporary folder:

* **rows**: two JSONL runs of ``--rows`` examples (1,000,000; ``--quick``: 100,000) with ``id``,
  ``input``, ``output``, ``reference``, ``correct`` and a ``category`` tag (20 values). The old
  run is right on ~80%; the new one turns ~11% of the examples from right to wrong and ~13%
  from wrong to right. ``deltaeval compare OLD NEW --no-behaviour --by category --json R``.
  ``--format csv``: the same rows written as CSV (``csv.writer``; the baseline reads them with
  ``pyarrow.csv.read_csv``). ``--unscored``: without the ``correct`` column, so that deltaeval
  chooses its default scorer (``numeric``) and scores every output.
* **texts**: two JSONL runs of ``--texts`` outputs of ~2 KB each (100,000; ``--quick``: 5,000),
  no correctness, compared with the default behaviour section (``--json R``).

Each command runs in a subprocess; its wall time, CPU time (user + system) and peak RSS come
from ``os.wait4`` (that child's own resource usage), and the JSON report's size is read from disk.
The baseline, measured in the same run and the same way, is a subprocess that reads both files
with ``pyarrow.json.read_json`` (pyarrow's multithreaded reader). Each figure is printed beside
its baseline with their ratio, with the machine's load average (figures on a busy machine vary:
read the ratios). Targets: rows ≤ 3× the baseline's wall time, peak RSS < 1 GB, report < 5 MB;
texts ≤ 60 s with the behaviour section. Exits 1 when a target is missed.

Run from the repository root:
``python bench/scale.py [--quick] [--rows N] [--texts N] [--format jsonl|csv] [--unscored] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

TAGS = 20
TARGET_RATIO = 3.0
TARGET_RSS = 1 << 30  # 1 GiB
TARGET_REPORT = 5 * 1000 * 1000  # 5 MB
TARGET_TEXT_SECONDS = 60.0
TARGET_TEXTS = 100_000
WORDS = (
    "the model answer returns a value because each step of the method keeps its result and "
    "then checks whether the output matches what the user asked for in plain words here"
)

_WORD_LIST = WORDS.split(" ")


@dataclass(frozen=True)
class Measure:
    """What one subprocess used."""

    wall_s: float
    cpu_s: float
    peak_rss: int  # bytes
    returncode: int
    stderr: str


def measure(command: list[str]) -> Measure:
    """Run ``command`` and return its wall time, CPU time and peak RSS (os.wait4 on that child)."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measure(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss=usage.ru_maxrss * 1024,  # KiB on Linux
        returncode=proc.returncode,
        stderr=err.decode("utf-8", "replace")[-2000:],
    )


ROW_FIELDS = ("id", "input", "output", "reference", "correct", "category")


def write_rows(folder: Path, n: int, seed: int, fmt: str = "jsonl", scored: bool = True) -> tuple[Path, Path]:
    """Two runs of ``n`` short-answer examples with a tag and (``scored``) correctness (JSONL or CSV)."""
    rng = random.Random(seed)
    old_path, new_path = folder / f"old.{fmt}", folder / f"new.{fmt}"
    fields = [f for f in ROW_FIELDS if scored or f != "correct"]
    with old_path.open("w", newline="") as old, new_path.open("w", newline="") as new:
        writers = {old: csv.writer(old), new: csv.writer(new)} if fmt == "csv" else {}
        for writer in writers.values():
            writer.writerow(fields)
        for i in range(n):
            answer = str(rng.randrange(1000))
            tag = f"tag-{rng.randrange(TAGS):02d}"
            old_right = rng.random() < 0.8
            u = rng.random()
            new_right = (u >= 0.14) if old_right else (u < 0.52)
            question = f"What is {i} plus {answer}? Answer with the number only."
            for handle, right in ((old, old_right), (new, new_right)):
                output = answer if right else str(rng.randrange(1000, 2000))
                record = {
                    "id": f"ex{i:07d}",
                    "input": question,
                    "output": output,
                    "reference": answer,
                    "correct": right,
                    "category": tag,
                }
                if writers:
                    writers[handle].writerow(record[f] for f in fields)
                else:
                    handle.write(json.dumps({f: record[f] for f in fields}) + "\n")
    return old_path, new_path


def _text(rng: random.Random, chars: int) -> str:
    words: list[str] = []
    size = 0
    while size < chars:
        word = rng.choice(_WORD_LIST)
        words.append(word)
        size += len(word) + 1
    return " ".join(words)


def write_texts(folder: Path, n: int, seed: int) -> tuple[Path, Path]:
    """Two runs of ``n`` outputs of ~2 KB each (no correctness); new changes about half."""
    rng = random.Random(seed)
    old_path, new_path = folder / "old_text.jsonl", folder / "new_text.jsonl"
    with old_path.open("w") as old, new_path.open("w") as new:
        for i in range(n):
            prompt = f"Explain topic {i} in a few paragraphs."
            text = _text(rng, 2000)
            changed = text if rng.random() < 0.5 else _text(rng, rng.randrange(1500, 2600))
            for handle, output in ((old, text), (new, changed)):
                handle.write(json.dumps({"id": f"t{i:06d}", "input": prompt, "output": output}) + "\n")
    return old_path, new_path


def baseline_command(paths: tuple[Path, Path], fmt: str = "jsonl") -> list[str]:
    """A subprocess that only reads both files with pyarrow.json.read_json (pyarrow.csv.read_csv)."""
    module = "pyarrow.csv as pa_format" if fmt == "csv" else "pyarrow.json as pa_format"
    reader = "read_csv" if fmt == "csv" else "read_json"
    code = f"import sys, {module}\nfor p in sys.argv[1:]:\n    pa_format.{reader}(p)\n"
    return [sys.executable, "-c", code, *map(str, paths)]


def compare_command(paths: tuple[Path, Path], report: Path, *extra: str) -> list[str]:
    exe = shutil.which("deltaeval")
    head = [exe] if exe else [sys.executable, "-m", "deltaeval"]
    return [*head, "compare", str(paths[0]), str(paths[1]), "--json", str(report), "--quiet", *extra]


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def _row(label: str, value: str, baseline: str, ratio: str, verdict: str = "") -> None:
    print(f"  {label:<22}{value:>14}{baseline:>14}{ratio:>10}  {verdict}")


def _check(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def run_rows(folder: Path, n: int, seed: int, fmt: str = "jsonl", scored: bool = True) -> bool:
    t0 = time.perf_counter()
    paths = write_rows(folder, n, seed, fmt, scored)
    size = sum(p.stat().st_size for p in paths)
    took = time.perf_counter() - t0
    what = "" if scored else ", no correct column (deltaeval's default scorer)"
    print(f"\nrows: 2 x {n:,} examples, {_mb(size)} of {fmt.upper()}{what} (generated in {took:.1f} s)")
    base = measure(baseline_command(paths, fmt))
    report = folder / "report.json"
    run = measure(compare_command(paths, report, "--no-behaviour", "--by", "category"))
    if run.returncode != 0 or base.returncode != 0:
        print(run.stderr or base.stderr)
        return False
    report_size = report.stat().st_size
    flips = json.loads(report.read_text())["flips"]
    _row("", "deltaeval", "pyarrow read", "ratio")
    ratio = run.wall_s / base.wall_s
    _row(
        "wall time",
        f"{run.wall_s:.2f} s",
        f"{base.wall_s:.2f} s",
        f"{ratio:.1f}x",
        f"{_check(ratio <= TARGET_RATIO)} (target <= {TARGET_RATIO:g}x)",
    )
    _row("CPU time", f"{run.cpu_s:.2f} s", f"{base.cpu_s:.2f} s", f"{run.cpu_s / base.cpu_s:.1f}x")
    rss_ok = run.peak_rss < TARGET_RSS
    _row(
        "peak RSS",
        _mb(run.peak_rss),
        _mb(base.peak_rss),
        f"{run.peak_rss / base.peak_rss:.1f}x",
        f"{_check(rss_ok)} (target < 1 GB)",
    )
    report_ok = report_size < TARGET_REPORT
    _row("JSON report", _mb(report_size), "", "", f"{_check(report_ok)} (target < 5 MB)")
    print(f"  ({flips['negative']:,} negative and {flips['positive']:,} positive flips)")
    return ratio <= TARGET_RATIO and rss_ok and report_ok


def run_texts(folder: Path, n: int, seed: int) -> bool:
    t0 = time.perf_counter()
    paths = write_texts(folder, n, seed)
    size = sum(p.stat().st_size for p in paths)
    print(f"\ntexts: 2 x {n:,} outputs of ~2 KB, {_mb(size)} (generated in {time.perf_counter() - t0:.1f} s)")
    base = measure(baseline_command(paths))
    report = folder / "report_text.json"
    run = measure(compare_command(paths, report))
    if run.returncode != 0 or base.returncode != 0:
        print(run.stderr or base.stderr)
        return False
    behaviour = "behaviour" in json.loads(report.read_text())
    ok = behaviour and (run.wall_s <= TARGET_TEXT_SECONDS or n != TARGET_TEXTS)
    _row("", "deltaeval", "pyarrow read", "ratio")
    _row(
        "wall time",
        f"{run.wall_s:.2f} s",
        f"{base.wall_s:.2f} s",
        f"{run.wall_s / base.wall_s:.1f}x",
        f"{_check(ok)} (target <= {TARGET_TEXT_SECONDS:g} s with behaviour)"
        if n == TARGET_TEXTS
        else f"(the target, <= {TARGET_TEXT_SECONDS:g} s, is for {TARGET_TEXTS:,} outputs)",
    )
    _row("CPU time", f"{run.cpu_s:.2f} s", f"{base.cpu_s:.2f} s", f"{run.cpu_s / base.cpu_s:.1f}x")
    _row("peak RSS", _mb(run.peak_rss), _mb(base.peak_rss), f"{run.peak_rss / base.peak_rss:.1f}x")
    _row("JSON report", _mb(report.stat().st_size), "", "", "" if behaviour else "no behaviour section!")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows and 5,000 texts")
    parser.add_argument("--rows", type=int, default=None, help="examples per run (default 1,000,000)")
    parser.add_argument("--texts", type=int, default=None, help="text outputs per run (default 100,000)")
    parser.add_argument("--skip", choices=("rows", "texts"), action="append", default=[])
    parser.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="the rows' file format")
    parser.add_argument("--unscored", action="store_true", help="rows without the correct column")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, default=None, help="generate into DIR and keep the files")
    args = parser.parse_args(argv)
    rows = args.rows or (100_000 if args.quick else 1_000_000)
    texts = args.texts or (5_000 if args.quick else 100_000)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"deltaeval compare at scale; {os.cpu_count()} CPUs, load average {load} (1, 5, 15 min)")
    ok = True
    with tempfile.TemporaryDirectory(prefix="deltaeval-scale-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if "rows" not in args.skip:
            ok &= run_rows(folder, rows, args.seed, args.format, not args.unscored)
        if "texts" not in args.skip:
            ok &= run_texts(folder, texts, args.seed)
    print(f"\nload average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
