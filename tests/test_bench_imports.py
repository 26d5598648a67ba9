"""Every name the benchmarks import from deltaeval exists.

The benchmarks import deltaeval inside their functions, so a name that moved (``summarize`` from
``compat.muscle`` to ``compat.runs``) breaks a benchmark only when someone runs it; this test reads
their imports instead of running them.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _deltaeval_imports() -> list[tuple[str, int, str, str]]:
    found = []
    for path in sorted(BENCH.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module.split(".")[0] == "deltaeval":
                    found += [(path.name, node.lineno, node.module, alias.name) for alias in node.names]
            elif isinstance(node, ast.Import):
                found += [
                    (path.name, node.lineno, alias.name, "")
                    for alias in node.names
                    if alias.name.split(".")[0] == "deltaeval"
                ]
    return found


def test_the_benchmarks_import_names_that_exist() -> None:
    imports = _deltaeval_imports()
    assert len(imports) > 20  # the benchmarks do import deltaeval
    missing = []
    for file, line, module_name, name in imports:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if (err.name or "").split(".")[0] == "deltaeval":
                missing.append(f"bench/{file}:{line}: no module {module_name}")
            continue  # an optional dependency (torch, …) is not installed here
        if name and not hasattr(module, name):
            try:
                importlib.import_module(f"{module_name}.{name}")
            except ModuleNotFoundError:
                missing.append(f"bench/{file}:{line}: {module_name} has no {name}")
    assert not missing, "\n".join(missing)
