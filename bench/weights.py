"""``deltaeval weights`` against a raw sequential read of the same two safetensors files.

Targets (issue 12): on a pair of >= 500 MB safetensors files, deltaeval's throughput is >= 70% of
a raw sequential read of both files in the same run, and its peak RSS is <= 2 x the largest
tensor (as the float32 array a reader returns) + 300 MB.

The pair: the SmolLM2-135M fp32 safetensors that ``deltaeval compat muscle`` converts once
(``~/.cache/deltaeval/models/*/model.safetensors``, 538 MB, 272 tensors) and a copy written here
with every tensor moved (Gaussian noise of 0.1% of each tensor's RMS: the worst case, where every
matrix gets a spectrum). Without that file (or with ``--generate``), two files of the same
size are generated. ``--quick``: a generated pair of about 100 MB each.

Page cache: both files are read once before anything is timed, so the raw read and deltaeval both
read from memory (the busy-machine figures are CPU-bound, not disk-bound); the raw read is timed
before and after deltaeval and the faster is used. ``--cold`` first times both once more with the
two files evicted from the page cache (``posix_fadvise`` DONTNEED). deltaeval runs in a child process
(``python -m deltaeval weights OLD NEW --json FILE --quiet``); its CPU time comes from
``os.wait4``, its peak RSS from its ``VmHWM`` (see :func:`_deltaeval`). ``compare_weights`` is
also timed alone, in a child whose imports are done (the command's start-up, about half a CPU-second
of imports, excluded). ``--every-spectrum`` also times the command without the spectrum screen.

    python bench/weights.py            # SmolLM2 fp32 vs a perturbed copy (or a generated pair)
    python bench/weights.py --quick    # a generated ~100 MB pair
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CHUNK = 8 << 20
TARGET_RATIO = 0.70
RSS_ALLOWANCE = 300 << 20


def _smollm2() -> Path | None:
    found = sorted((Path.home() / ".cache" / "deltaeval" / "models").glob("*/model.safetensors"))
    return found[0] if found else None


def _perturbed_copy(source: Path, target: Path, seed: int) -> None:
    from safetensors import safe_open
    from safetensors.numpy import save_file

    rng = np.random.default_rng(seed)
    out = {}
    with safe_open(str(source), framework="np") as f:
        for name in f.keys():  # noqa: SIM118 (safe_open has no __iter__)
            x = f.get_tensor(name)
            rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) or 1.0
            noise = rng.standard_normal(x.shape, dtype=np.float32) * np.float32(1e-3 * rms)
            out[name] = (x + noise).astype(x.dtype)
    save_file(out, str(target))


def _generated_pair(folder: Path, megabytes: int, seed: int) -> tuple[Path, Path]:
    """A Llama-shaped float32 model of about ``megabytes`` and a copy with every tensor moved."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(seed)
    hidden, vocab = 576, 49152
    per_layer = 4 * hidden * hidden + 3 * hidden * 1536 + 2 * hidden
    layers = max(1, (megabytes * 2**20 // 4 - vocab * hidden) // per_layer)
    old: dict[str, np.ndarray] = {"model.embed_tokens.weight": rng.normal(0, 0.02, (vocab, hidden))}
    for i in range(layers):
        p = f"model.layers.{i}."
        for m in "qkvo":
            old[f"{p}self_attn.{m}_proj.weight"] = rng.normal(0, 0.05, (hidden, hidden))
        old[f"{p}mlp.gate_proj.weight"] = rng.normal(0, 0.05, (1536, hidden))
        old[f"{p}mlp.up_proj.weight"] = rng.normal(0, 0.05, (1536, hidden))
        old[f"{p}mlp.down_proj.weight"] = rng.normal(0, 0.05, (hidden, 1536))
        old[f"{p}input_layernorm.weight"] = np.ones(hidden)
        old[f"{p}post_attention_layernorm.weight"] = np.ones(hidden)
    old = {k: v.astype(np.float32) for k, v in old.items()}
    save_file(old, str(folder / "old.safetensors"))
    new = {
        k: (v + rng.normal(0, 1e-3 * float(np.sqrt(np.mean(v**2))), v.shape)).astype(np.float32)
        for k, v in old.items()
    }
    save_file(new, str(folder / "new.safetensors"))
    return folder / "old.safetensors", folder / "new.safetensors"


def _raw_read(paths: list[Path]) -> tuple[float, float]:
    """Seconds (wall, CPU) to read every byte of ``paths`` in 8 MB chunks."""
    wall, cpu = time.perf_counter(), time.process_time()
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    for path in paths:
        with path.open("rb", buffering=0) as handle:
            while handle.readinto(view):
                pass
    return time.perf_counter() - wall, time.process_time() - cpu


def _evict(paths: list[Path]) -> None:
    """Drop these files' pages from the page cache (``posix_fadvise`` DONTNEED: these files only)."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def _largest_tensor_bytes(path: Path) -> int:
    """The largest tensor of a safetensors file as a float32 array (what a reader returns)."""
    with path.open("rb") as handle:
        header = json.loads(handle.read(int.from_bytes(handle.read(8), "little")))
    sizes = [int(np.prod(v["shape"], dtype=np.int64)) for k, v in header.items() if k != "__metadata__"]
    return 4 * max(sizes)


def _vm_hwm(pid: int) -> int:
    """The peak resident memory of a running process's own address space (``VmHWM``), in bytes."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _deltaeval(old: Path, new: Path, report: Path, *extra: str) -> tuple[float, float, int, int]:
    """(wall s, CPU s, peak RSS bytes, exit code) of ``deltaeval weights OLD NEW`` in a child.

    CPU time comes from ``os.wait4``; the peak RSS from the child's ``VmHWM``, read every 20 ms
    while it runs: ``wait4``'s ``ru_maxrss`` would count this (large) parent, whose pages the
    child holds until it execs (Linux keeps the larger figure across ``execve``).
    """
    args = [
        sys.executable,
        "-m",
        "deltaeval",
        "weights",
        str(old),
        str(new),
        "--json",
        str(report),
        "--quiet",
        *extra,
    ]
    start = time.perf_counter()
    child = subprocess.Popen(args)
    peak = 0
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid == child.pid:
            break
        peak = max(peak, _vm_hwm(child.pid))
        time.sleep(0.02)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, peak, child.returncode


_IN_PROCESS = """
import json, sys, time
from deltaeval.weights.api import compare_weights
wall, cpu = time.perf_counter(), time.process_time()
compare_weights(sys.argv[1], sys.argv[2])
print(json.dumps([time.perf_counter() - wall, time.process_time() - cpu]))
"""


def _in_process(old: Path, new: Path) -> tuple[float, float]:
    """(wall s, CPU s) of ``compare_weights`` alone in a child whose imports are done (no start-up)."""
    out = subprocess.run(
        [sys.executable, "-c", _IN_PROCESS, str(old), str(new)], capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(f"compare_weights failed: {out.stderr.strip()[-500:]}")
    wall, cpu = json.loads(out.stdout.strip().splitlines()[-1])
    return wall, cpu


def _methods(report: dict) -> str:
    """How the matrices' spectra were computed, counted (``exact``, ``randomized``, ``screened``)."""
    counts: dict[str, int] = {}
    for t in report["tensors"]:
        method = (t.get("spectrum") or {}).get("method")
        if method:
            counts[method] = counts.get(method, 0) + 1
    return ", ".join(f"{n} {m}" for m, n in sorted(counts.items())) or "none"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a generated pair of about 100 MB each")
    parser.add_argument(
        "--generate", action="store_true", help="generated files even where SmolLM2 is at hand"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--cold", action="store_true", help="also time both from a cold page cache (these two files evicted)"
    )
    parser.add_argument(
        "--every-spectrum",
        action="store_true",
        help="also time deltaeval weights --every-spectrum (no screen: a spectrum for every matrix)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="deltaeval-bench-weights-") as tmp:
        folder = Path(tmp)
        smollm2 = None if (args.quick or args.generate) else _smollm2()
        t = time.perf_counter()
        if smollm2 is not None:
            old, new = smollm2, folder / "perturbed.safetensors"
            _perturbed_copy(smollm2, new, args.seed)
            what = f"SmolLM2-135M fp32 ({smollm2}) vs a copy with every tensor moved (noise 0.1% of RMS)"
        else:
            old, new = _generated_pair(folder, 100 if args.quick else 540, args.seed)
            what = "a generated Llama-shaped fp32 pair, every tensor moved (noise 0.1% of RMS)"
        print(f"pair: {what}; prepared in {time.perf_counter() - t:.1f} s")
        paths = [old, new]
        total = sum(p.stat().st_size for p in paths)
        largest = _largest_tensor_bytes(old)
        print(f"files: {old.stat().st_size / 2**20:,.1f} MB + {new.stat().st_size / 2**20:,.1f} MB;"
              f" largest tensor {largest / 2**20:,.1f} MB as float32")  # fmt: skip
        cold = None
        if args.cold:
            _evict(paths)
            cold_raw = _raw_read(paths)
            _evict(paths)
            cold = (cold_raw, _deltaeval(old, new, folder / "cold.json"))
        _raw_read(paths)  # page cache warmed: every timing below reads from memory
        load_start = os.getloadavg()[0]
        raw_before = _raw_read(paths)
        wall, cpu, rss, code = _deltaeval(old, new, folder / "report.json")
        api = _in_process(old, new)
        raw_after = _raw_read(paths)
        if code != 0:
            print(f"deltaeval weights exited with {code}")
            return 1
        report = json.loads((folder / "report.json").read_text())
        every = None
        if args.every_spectrum:
            every = _deltaeval(old, new, folder / "every.json", "--every-spectrum")
            every_report = json.loads((folder / "every.json").read_text())
    raw_wall, raw_cpu = min(raw_before, raw_after)
    ratio = raw_wall / wall
    budget = 2 * largest + RSS_ALLOWANCE
    print(
        f"load average (1 min): {load_start:.2f} at the start of the timings,"
        f" {os.getloadavg()[0]:.2f} at the end, on {os.cpu_count()} cores"
    )
    print(
        f"raw sequential read (8 MB chunks, page cache warm): {raw_wall:.2f} s wall, {raw_cpu:.2f} s CPU,"
        f" {total / raw_wall / 2**20:,.0f} MB/s (before {raw_before[0]:.2f} s, after {raw_after[0]:.2f} s)"
    )
    print(
        f"deltaeval weights: {wall:.2f} s wall, {cpu:.2f} s CPU, {total / wall / 2**20:,.0f} MB/s,"
        f" peak RSS {rss / 2**20:,.0f} MB; {report['matching']['matched']} tensors matched;"
        f" summary: {report['summary']['text']}"
    )
    print(f"spectra: {_methods(report)}")
    print(
        f"compare_weights alone (imports done, no process start-up): {api[0]:.2f} s wall, {api[1]:.2f} s CPU,"
        f" {total / api[0] / 2**20:,.0f} MB/s: {100 * raw_wall / api[0]:.1f}% of the raw read"
    )
    print(
        f"throughput ratio {100 * ratio:.1f}% (target >= {100 * TARGET_RATIO:.0f}%):"
        f" {'PASS' if ratio >= TARGET_RATIO else 'FAIL'}; raw read wall / deltaeval CPU"
        f" {100 * raw_wall / cpu:.1f}%"
    )
    if every is not None:
        e_wall, e_cpu, e_rss, _ = every
        print(
            f"deltaeval weights --every-spectrum: {e_wall:.2f} s wall, {e_cpu:.2f} s CPU, peak RSS"
            f" {e_rss / 2**20:,.0f} MB, ratio {100 * raw_wall / e_wall:.1f}%;"
            f" spectra: {_methods(every_report)}; summary: {every_report['summary']['text']}"
        )
    if cold is not None:
        (cold_wall, _), (d_wall, d_cpu, d_rss, _) = cold
        print(
            f"cold page cache (posix_fadvise DONTNEED on both files first): raw read {cold_wall:.2f} s wall"
            f" ({total / cold_wall / 2**20:,.0f} MB/s), deltaeval {d_wall:.2f} s wall, {d_cpu:.2f} s CPU,"
            f" peak RSS {d_rss / 2**20:,.0f} MB: ratio {100 * cold_wall / d_wall:.1f}%"
        )
    print(
        f"peak RSS {rss / 2**20:,.0f} MB against 2 x {largest / 2**20:,.1f} MB + 300 MB"
        f" = {budget / 2**20:,.0f} MB: {'PASS' if rss <= budget else 'FAIL'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
