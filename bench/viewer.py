"""The HTML report's example viewer with many examples, in headless Chromium.

Generates two runs of N examples (default 10,000; ``--quick``: 1,000) with sentence-length
inputs and outputs (the new output an edit of the old one in half the examples), compares them
(``deltaeval.compare``, behaviour section on), writes the HTML report and opens it in the system
Chromium through Playwright (``/usr/bin/chromium``, no browser download). It prints, beside the
targets:

* the page's size (and the viewer's JSON blob in it);
* time to first paint: the Performance API's ``first-contentful-paint`` entry;
* time until the viewer is ready (its ``deltaeval-viewer-ready`` mark: the data parsed, the
  filters built and the first rows on screen);
* time to a filtered view after a filter change: measured in the page with ``performance.now()``
  around the change event (the filter runs synchronously) and the next animation frame, for the
  flip-type filter, a tag filter and the first search (which builds the search index);

and the load average (the machine is shared: figures move with it).

``python bench/viewer.py [--quick] [--n N] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

TARGET_PAINT_MS = 1500.0
TARGET_FILTER_MS = 200.0
CHROMIUM = "/usr/bin/chromium"
_TEXT = (
    "the model answer returns a value because each step of the method keeps its result and then "
    "checks whether the output matches what the user asked for in plain words here with care"
)
WORDS = _TEXT.split(" ")
CATEGORIES = ("math", "code", "chat", "reasoning", "extraction", "writing", "safety", "other")

_FILTER_JS = """([id, value]) => new Promise((done) => {
  const control = document.getElementById(id);
  for (const other of ["vf-type", "vf-tag", "vf-q"]) {  // each filter timed from the whole list
    const c = document.getElementById(other);
    c.value = "";
    c.dispatchEvent(new Event(c.tagName === "INPUT" ? "input" : "change"));
  }
  const start = performance.now();
  control.value = value;
  control.dispatchEvent(new Event(control.tagName === "INPUT" ? "input" : "change"));
  const count = () => document.getElementById("vf-count").textContent;
  requestAnimationFrame(() => done([performance.now() - start, count()]));
})"""


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def write_runs(folder: Path, n: int, seed: int = 0) -> tuple[Path, Path]:
    """Two JSONL runs of ``n`` examples: ~25-word inputs, ~60-word outputs, two tags, correctness."""
    rng = random.Random(seed)
    paths = folder / "old.jsonl", folder / "new.jsonl"
    with paths[0].open("w", encoding="utf-8") as old, paths[1].open("w", encoding="utf-8") as new:
        for i in range(n):
            old_text = " ".join(_sentence(rng, rng.randrange(8, 16)) for _ in range(5))
            words = old_text.split(" ")
            if rng.random() < 0.5:  # the new run rewrites a few words and adds a sentence
                for _ in range(rng.randrange(1, 6)):
                    words[rng.randrange(len(words))] = rng.choice(WORDS)
                words += _sentence(rng, rng.randrange(4, 12)).split(" ")
            old_right = rng.random() < 0.8
            new_right = (rng.random() >= 0.1) if old_right else (rng.random() < 0.5)
            base = {
                "id": f"ex{i:06d}",
                "input": f"Question {i}: " + _sentence(rng, 24),
                "reference": str(i),
                "category": CATEGORIES[rng.randrange(len(CATEGORIES))],
                "language": rng.choice(("en", "de", "fr")),
            }
            old.write(json.dumps({**base, "output": old_text, "correct": old_right}) + "\n")
            new.write(json.dumps({**base, "output": " ".join(words), "correct": new_right}) + "\n")
    return paths


def _check(ok: bool) -> str:
    return "pass" if ok else "FAIL"


def measure(page_path: Path) -> dict[str, float | str]:
    """Open the page in Chromium and time its first paint, the viewer's start and three filters."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(page_path.as_uri(), wait_until="load")
        page.wait_for_function("performance.getEntriesByName('deltaeval-viewer-ready').length > 0")
        page.wait_for_function("performance.getEntriesByName('first-contentful-paint').length > 0")
        figures: dict[str, float | str] = {
            "fcp_ms": page.evaluate("performance.getEntriesByName('first-contentful-paint')[0].startTime"),
            "ready_ms": page.evaluate("performance.getEntriesByName('deltaeval-viewer-ready')[0].startTime"),
        }
        for name, control, value in (
            ("type", "vf-type", "k:negative"),
            ("tag", "vf-tag", "0"),
            ("search", "vf-q", "plain words"),
        ):
            elapsed, count = page.evaluate(_FILTER_JS, [control, value])
            figures[f"{name}_ms"], figures[f"{name}_count"] = elapsed, count
        browser.close()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 examples")
    parser.add_argument("--n", type=int, default=None, help="examples (default 10,000)")
    parser.add_argument("--keep", type=Path, default=None, help="keep the runs and the page in this folder")
    args = parser.parse_args(argv)
    n = args.n or (1_000 if args.quick else 10_000)
    if not Path(CHROMIUM).exists():
        print(f"skipped: {CHROMIUM} not found (apt-get install chromium)")
        return 0
    try:
        import playwright  # noqa: F401
    except ImportError:
        print("skipped: playwright not installed (pip install -e '.[dev]')")
        return 0
    from deltaeval import compare

    folder = Path(tempfile.mkdtemp(prefix="deltaeval-viewer-")) if args.keep is None else args.keep
    folder.mkdir(parents=True, exist_ok=True)
    try:
        old, new = write_runs(folder, n)
        start = time.perf_counter()
        report = compare(old, new, by="category", n_boot=200)
        compared = time.perf_counter() - start
        start = time.perf_counter()
        html = report.to_html()
        rendered = time.perf_counter() - start
        page = folder / "report.html"
        page.write_text(html, encoding="utf-8")
        size = page.stat().st_size
        blob = html.split('<script type="application/json" id="viewer-data">', 1)[1].split("</script>", 1)[0]
        figures = measure(page)
        load = os.getloadavg()
        print(
            f"deltaeval viewer bench: {n:,} examples, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
        )
        print(f"  compare {compared:.1f} s, HTML rendered in {rendered:.2f} s (Python; not a target)")
        print(f"  page size          {size / 1e6:8.2f} MB (viewer data {len(blob.encode()) / 1e6:.2f} MB)")
        fcp, ready = float(figures["fcp_ms"]), float(figures["ready_ms"])
        print(
            f"  first paint (FCP)  {fcp:8.0f} ms   target < {TARGET_PAINT_MS:.0f} ms"
            f"  {_check(fcp < TARGET_PAINT_MS)}"
        )
        print(f"  viewer ready       {ready:8.0f} ms   (data parsed, first rows on screen)")
        ok = fcp < TARGET_PAINT_MS
        for name, label in (
            ("type", "filter: negative"),
            ("tag", "filter: a tag"),
            ("search", "first search"),
        ):
            ms = float(figures[f"{name}_ms"])
            ok = ok and ms < TARGET_FILTER_MS
            print(
                f"  {label:18s} {ms:8.1f} ms   target < {TARGET_FILTER_MS:.0f} ms"
                f"  {_check(ms < TARGET_FILTER_MS)}"
                f"   ({figures[f'{name}_count']})"
            )
        return 0 if ok else 1
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
