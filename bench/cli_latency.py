"""Benchmark: what a user times at the command line, each figure beside a baseline from the same run.

Times, as separate processes (wall clock, the median of ``--repeat`` runs, after one untimed
warm-up run that also writes the bytecode caches), and with their CPU time (user + system of
the child, which other work on a shared machine inflates less than wall time):

* ``deltaeval --help`` against a bare ``python -c pass`` (target: <= 0.3 s wall);
* ``deltaeval gate`` on the report below (every flip check) against the same bare interpreter
  (no target: it should cost about what ``--help`` does);
* ``deltaeval compare OLD NEW --no-behaviour --json FILE`` of two 805-example AlpacaEval
  annotation files (oasst-sft-llama-33b against oasst-rlhf-llama-33b) against a bare
  ``python -c`` that only parses both files with ``json`` (target: <= 3x that baseline);
* the same ``compare`` with the default behaviour section (TF-IDF similarity) (target: <= 5 s
  wall on an idle 2-core machine; its ratio to the ``--no-behaviour`` run is printed beside it).

Prints the load average before and after (a busy machine's figures are not idle figures) and
PASS/FAIL per target; exit code 1 on any FAIL. ``--quick``: 3 repetitions, and one of the
behaviour run.

Run from the repository root: ``python bench/cli_latency.py [--quick] [--data FOLDER]``. The
data folder is ``$DELTAEVAL_DATA/alpaca_eval``, else ``../shared/data/alpaca_eval`` (see
``bench/_alpaca.py``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _alpaca import DEFAULT_DATA

OLD_MODEL = "oasst-sft-llama-33b"
NEW_MODEL = "oasst-rlhf-llama-33b"
HELP_TARGET_S = 0.3
NO_BEHAVIOUR_TARGET_RATIO = 3.0
BEHAVIOUR_TARGET_S = 5.0


def _command() -> list[str]:
    """The ``deltaeval`` console script beside this interpreter, else ``python -m deltaeval``."""
    script = Path(sys.executable).with_name("deltaeval")
    if script.exists():
        return [str(script)]
    found = shutil.which("deltaeval")
    return [found] if found else [sys.executable, "-m", "deltaeval"]


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: bytecode cached, not recompiled each run
    env["COLUMNS"] = "120"
    return env


def _time(argv: list[str], repeat: int, cwd: Path) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds (user + system) of ``argv`` over ``repeat`` runs."""
    env = _environment()
    subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    walls, cpus = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(process.pid, 0)
        walls.append(time.perf_counter() - start)
        stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
        if process.stderr:
            process.stderr.close()
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} exited {process.returncode}: {stderr.strip()[-500:]}")
        cpus.append(usage.ru_utime + usage.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _row(label: str, wall: float, cpu: float) -> None:
    print(f"  {label:<44} {wall:7.3f} s wall  {cpu:7.3f} s CPU")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the alpaca_eval data folder")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per command (median)")
    parser.add_argument("--behaviour-repeat", type=int, default=3, help="timed runs with behaviour")
    parser.add_argument("--quick", action="store_true", help="3 runs per command, 1 with behaviour")
    args = parser.parse_args()
    repeat = 3 if args.quick else args.repeat
    behaviour_repeat = 1 if args.quick else args.behaviour_repeat
    old = args.data / OLD_MODEL / "annotations.json"
    new = args.data / NEW_MODEL / "annotations.json"
    for path in (old, new):
        if not path.exists():
            raise SystemExit(f"missing {path}: pass --data FOLDER or set $DELTAEVAL_DATA")
    deltaeval = _command()
    failed = False
    print(f"cores: {os.cpu_count()}; load average (1, 5, 15 min) before: {_load()}")
    print(f"median of {repeat} runs ({behaviour_repeat} with behaviour), after one warm-up run each\n")
    with tempfile.TemporaryDirectory() as folder:
        cwd = Path(folder)
        bare = _time([sys.executable, "-c", "pass"], repeat, cwd)
        help_ = _time([*deltaeval, "--help"], repeat, cwd)
        print("deltaeval --help")
        _row("baseline: python -c pass", *bare)
        _row("deltaeval --help", *help_)
        ok = help_[0] <= HELP_TARGET_S
        failed |= not ok
        print(
            f"  {'PASS' if ok else 'FAIL'} {help_[0]:.3f} s <= {HELP_TARGET_S} s "
            f"({help_[0] - bare[0]:.3f} s over the bare interpreter)\n"
        )

        parse = f"import json; json.load(open({str(old)!r})); json.load(open({str(new)!r}))"
        baseline = _time([sys.executable, "-c", parse], repeat, cwd)
        compare = [*deltaeval, "compare", str(old), str(new), "--json", str(cwd / "report.json")]
        plain = _time([*compare, "--no-behaviour"], repeat, cwd)
        ratio = plain[0] / baseline[0]
        print("deltaeval compare of two 805-example AlpacaEval annotation files, --no-behaviour")
        _row("baseline: python -c (json.load both files)", *baseline)
        _row("deltaeval compare --no-behaviour", *plain)
        ok = ratio <= NO_BEHAVIOUR_TARGET_RATIO
        failed |= not ok
        print(
            f"  {'PASS' if ok else 'FAIL'} {ratio:.1f}x the baseline (wall) <= {NO_BEHAVIOUR_TARGET_RATIO}x; "
            f"CPU {plain[1] / max(baseline[1], 1e-9):.1f}x\n"
        )

        checks = ["--max-nfr", "1", "--max-accuracy-drop", "1", "--max-p", "1"]
        gate = _time([*deltaeval, "gate", str(cwd / "report.json"), *checks], repeat, cwd)
        print("deltaeval gate on that report (--max-nfr, --max-accuracy-drop, --max-p)")
        _row("baseline: python -c pass", *bare)
        _row("beside it: deltaeval --help", *help_)
        _row("deltaeval gate", *gate)
        print(f"  {gate[0] - bare[0]:.3f} s over the bare interpreter\n")

        behaviour = _time(compare, behaviour_repeat, cwd)
        print("deltaeval compare with the default behaviour section (TF-IDF similarity)")
        _row("beside it: the same compare --no-behaviour", *plain)
        _row("deltaeval compare (behaviour)", *behaviour)
        ok = behaviour[0] <= BEHAVIOUR_TARGET_S
        failed |= not ok
        print(
            f"  {'PASS' if ok else 'FAIL'} {behaviour[0]:.2f} s <= {BEHAVIOUR_TARGET_S} s (the target is for "
            f"an idle 2-core machine; {behaviour[0] / plain[0]:.1f}x the --no-behaviour run)\n"
        )
    print(f"load average after: {_load()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
