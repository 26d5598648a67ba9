"""The lazy public API: every exported name resolves, and importing submodules hides none."""

from __future__ import annotations

import importlib
import subprocess
import sys

import deltaeval


def test_every_exported_name_resolves() -> None:
    for name in deltaeval.__all__:
        assert getattr(deltaeval, name) is not None, name


def test_importing_every_submodule_keeps_the_functions_callable() -> None:
    # a submodule named like an exported function would replace it on the package once imported
    code = (
        "import pkgutil, importlib, deltaeval\n"
        "for m in pkgutil.walk_packages(deltaeval.__path__, 'deltaeval.'):\n"
        "    if not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)\n"
        "for name in ('compare', 'judge', 'get_judge', 'compare_behaviour', 'load_run', 'load_runs',"
        " 'load_dataset', 'get_backend', 'run_model'):\n"
        "    assert callable(getattr(deltaeval, name)), name\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_compare_is_the_function_after_importing_its_module() -> None:
    importlib.import_module("deltaeval.comparison")
    report = deltaeval.compare(
        deltaeval.Run(
            "a",
            (deltaeval.Example(id="1", input="x"),),
            (deltaeval.Output("1", text="y", correct=True),),
        ),
        deltaeval.Run(
            "b",
            (deltaeval.Example(id="1", input="x"),),
            (deltaeval.Output("1", text="y", correct=False),),
        ),
        n_boot=10,
    )
    assert report.flips["negative"] == 1
