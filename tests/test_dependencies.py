"""Every declared core dependency is imported somewhere in the package (none declared for nothing)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: distribution name → the module it is imported as, where the two differ
MODULES = {"scikit-learn": "sklearn", "rouge-score": "rouge_score", "vadersentiment": "vaderSentiment"}


def test_every_core_dependency_is_used() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "src").rglob("*.py"))
    unused = []
    for requirement in project["dependencies"]:
        name = re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].strip()
        module = MODULES.get(name.lower(), name.replace("-", "_"))
        if not re.search(rf"^\s*(from|import)\s+{re.escape(module)}\b", source, re.MULTILINE):
            unused.append(name)
    assert not unused, f"declared but never imported: {unused}"
