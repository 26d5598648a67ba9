"""``deltaeval demo``: a real model update, fully offline, ending in the compare report.

The default demo is a prompt update on the embedded SmolLM2-135M-Instruct (llama.cpp in process):
v1 answers the project's prompt set with no system prompt, v2 is told to answer in one short
sentence. Both runs go through the cached runner into a store, then compare → report, scored by
the ``answer`` scorer (the reference must be the answer given; numbers are read as numbers).

The classic demo (``--classic``) trains two versions of a handwritten-digit classifier on
scikit-learn's bundled digits data (v1: logistic regression; v2: histogram gradient boosting),
writes each version's test predictions as a JSONL results file, imports both into a store, and
compares them; then it builds a compatible v2 (``deltaeval compat select``: v1's answer where v2
is unsure and v1 sure, fitted on half the test digits) and says, on the other half, how many
regressions it removed and what accuracy it kept.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from rich.console import Console

from deltaeval.atomic_write import write_text_atomic
from deltaeval.comparison import Report, compare
from deltaeval.io import load_run
from deltaeval.io.base import ColumnMapping
from deltaeval.plural import plural
from deltaeval.store import DB_NAME, Store
from deltaeval.types import Run

SHADES = " .:-=+*#%@"


def digit_picture(pixels: np.ndarray) -> str:
    """An 8×8 digit image (values 0–16) drawn with characters, one text line per row."""
    levels = np.clip((pixels.reshape(8, 8) / 16 * (len(SHADES) - 1)).round().astype(int), 0, 9)
    return "\n".join("".join(SHADES[v] * 2 for v in row) for row in levels)


def _write_predictions(path: Path, ids, images, labels, predicted, confidence) -> None:
    lines = []
    for i, image, label, pred, conf in zip(ids, images, labels, predicted, confidence, strict=True):
        record = {
            "id": i,
            "input": digit_picture(image),
            "output": str(pred),
            "reference": str(label),
            "confidence": round(float(conf), 4),
            "digit": str(label),
        }
        lines.append(json.dumps(record) + "\n")
    write_text_atomic(path, "".join(lines))


def train_digit_models(seed: int = 0) -> dict[str, object]:
    """Train v1 and v2 on digits; return ids, test images/labels and both versions' predictions."""
    from sklearn.datasets import load_digits
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    digits = load_digits()
    ids = np.array([f"digit-{i:04d}" for i in range(len(digits.target))])
    x_train, x_test, y_train, y_test, _, id_test = train_test_split(
        digits.data, digits.target, ids, test_size=0.4, random_state=seed, stratify=digits.target
    )
    v1 = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.05))
    v2 = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, random_state=seed)
    result: dict[str, object] = {"ids": id_test, "images": x_test, "labels": y_test}
    for name, model in (("v1", v1), ("v2", v2)):
        model.fit(x_train, y_train)
        proba = model.predict_proba(x_test)
        result[name] = (model.classes_[proba.argmax(axis=1)], proba.max(axis=1))
    return result


DEMO_MODEL = "smollm2"
DEMO_SYSTEM_V2 = "Answer in one short sentence."
DEMO_MAX_TOKENS = 64
#: the answer must be the reference, numbers read as numbers (see deltaeval.scoring.answer)
DEMO_SCORER = "answer"


def demo_prompts_path() -> Path:
    """The bundled prompt set: arithmetic, capitals, unit conversions, short facts, instructions."""
    from importlib.resources import files

    return Path(str(files("deltaeval") / "data" / "demo_prompts.jsonl"))


def _finish(report: Report, out: Path, console: Console, started: float) -> None:
    report.print(console)
    for suffix in ("json", "md", "html"):
        report.save(out / f"report.{suffix}")
    console.print(
        f"\nreports: {out / 'report.html'} (open in a browser), {out / 'report.md'}, "
        f"{out / 'report.json'}  [{time.perf_counter() - started:.1f} s]"
    )
    from deltaeval.report._decision import nfr_upper_bound

    bound = nfr_upper_bound(report.data)
    gate = f"deltaeval gate {out / 'report.json'} --max-nfr 0.02"
    outcome = (
        "exits 1 unless the NFR's one-sided upper bound is at most 2%"
        if bound is None
        else f"{'passes' if bound <= 0.02 else 'exits 1 (fails)'}: the NFR's upper bound is {bound:.1%}"
    )
    runs = f"deltaeval runs --store {out / DB_NAME}"
    for line in ("next:", f"  {gate}   # a CI gate; here it {outcome}", f"  {runs}   # the stored runs"):
        console.print(line, markup=False, soft_wrap=True)


def run_llm_demo(
    out: Path,
    *,
    console: Console | None = None,
    quiet: bool = False,
    model: str = DEMO_MODEL,
    limit: int | None = None,
    threads: int | None = None,
) -> Report:
    """Prompt update on SmolLM2-135M-Instruct: no system prompt → "answer in one short sentence".

    ``model`` swaps in another model spec, ``limit`` keeps the first prompts only (for tests) and
    ``threads`` sets llama.cpp's CPU threads (default: :func:`deltaeval.threads.cpu_threads`). Progress
    goes to stderr.
    """
    from deltaeval.backends import GenerationParams, get_backend
    from deltaeval.io.dataset import load_dataset
    from deltaeval.runner import run_model

    console = console or Console()
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    dataset = out / "prompts.jsonl"
    write_text_atomic(dataset, demo_prompts_path().read_text(encoding="utf-8"))
    examples = load_dataset(dataset)[:limit]
    console.print(
        f"[bold]deltaeval demo[/]: {model} on {plural(len(examples), 'prompt')}, "
        f"v1 no system prompt → v2 system prompt {DEMO_SYSTEM_V2!r}"
    )
    versions = {
        "v1-no-system": GenerationParams(max_tokens=DEMO_MAX_TOKENS, temperature=0.0),
        "v2-one-sentence": GenerationParams(
            max_tokens=DEMO_MAX_TOKENS, temperature=0.0, system=DEMO_SYSTEM_V2
        ),
    }
    runs = []
    with Store(out / DB_NAME) as store, get_backend(model, threads=threads) as backend:
        for name, params in versions.items():
            run, stats = run_model(
                backend,
                examples,
                params,
                name=name,
                store=store,
                source=str(dataset),
                quiet=quiet,
                overwrite=True,
            )
            console.print(
                f"run {name}: {plural(stats.total, 'prompt')} · {stats.cached} cached"
                f" · {stats.called} generated"
                f" · {plural(stats.errors, 'error')} · {stats.seconds:.1f} s"
            )
            runs.append(run)
    report = compare(runs[0], runs[1], scorer=DEMO_SCORER, by="category")
    _finish(report, out, console, started)
    return report


def run_classic_demo(out: Path, *, console: Console | None = None, seed: int = 0) -> Report:
    """Train, write, import, compare and report; returns the report (files land in ``out``)."""
    console = console or Console()
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    console.print("[bold]deltaeval demo[/]: digits classifier, v1 logistic regression → v2 gradient boosting")
    with console.status("training both versions on scikit-learn's bundled digits data…"):
        trained = train_digit_models(seed)
    files = {}
    for name in ("v1", "v2"):
        predicted, confidence = trained[name]  # type: ignore[misc]
        files[name] = out / f"digits-{name}.jsonl"
        _write_predictions(
            files[name], trained["ids"], trained["images"], trained["labels"], predicted, confidence
        )
        console.print(f"wrote {files[name]}")
    mapping = ColumnMapping(tags=("digit",))
    with Store(out / DB_NAME) as store:
        for name, path in files.items():
            store.save_run(load_run(path, name=f"digits-{name}", mapping=mapping), overwrite=True)
        old, new = store.load_run("digits-v1"), store.load_run("digits-v2")
    console.print(f"imported runs digits-v1 and digits-v2 into {out / DB_NAME}")
    report = compare(old, new, scorer="exact", by="digit", seed=seed)
    _finish(report, out, console, started)
    _compatible_v2(old, new, out, console, seed)
    return report


COMPATIBLE_RUN = "digits-v2-compatible"


def _compatible_v2(old: Run, new: Run, out: Path, console: Console, seed: int) -> None:
    """Build a compatible v2 by selection (no training) and say what it removed and what it kept.

    The rule (keep v1's answer where v2 is unsure and v1 sure, never giving up v2's calibration
    accuracy) is fitted on half of the test digits and measured on the other half, stored as run
    ``digits-v2-compatible``.
    """
    from deltaeval.compat.selection import select

    result = select(old, new, name=COMPATIBLE_RUN, seed=seed)
    with Store(out / DB_NAME) as store:
        store.save_run(result.run, overwrite=True)  # type: ignore[arg-type]
    plain, chosen = result.plain_new, result.chosen.evaluation
    removed = plain["negative_flips"] - chosen["negative_flips"]

    def acc(figures: dict) -> str:
        low, high = figures["accuracy_ci"]
        return f"{figures['accuracy']:.1%} [{low:.1%}, {high:.1%}]"

    lines = (
        f"\ncompatible v2 ({COMPATIBLE_RUN}): keep v1's answer where v2 is unsure and v1 sure, "
        f"rule fitted on {plural(result.n_calibration, 'test digit')}, measured on the other "
        f"{result.n_evaluation}:",
        f"  regressions: {plain['negative_flips']} with plain v2 → {chosen['negative_flips']} "
        f"({removed} removed; v1's answer kept on {chosen['use_old_rate']:.1%} of digits)",
        f"  accuracy: plain v2 {acc(plain)} → compatible v2 {acc(chosen)}",
        f"  deltaeval compare digits-v1 {COMPATIBLE_RUN} --store {out / DB_NAME}   # its full report",
    )
    for line in lines:
        console.print(line, markup=False, soft_wrap=True)
