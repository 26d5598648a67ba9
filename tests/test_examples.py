"""The example files the README's walkthrough reads are the demo's recorded outputs, unedited."""

from __future__ import annotations

import json
from pathlib import Path

from demo_outputs import RECORDED

from deltaeval.demo import demo_prompts_path
from deltaeval.io import load_run

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_examples_are_the_demos_two_versions() -> None:
    prompts = [json.loads(line) for line in demo_prompts_path().read_text(encoding="utf-8").splitlines()]
    for version, column in (("v1", 0), ("v2", 2)):
        path = EXAMPLES / f"smollm2-{version}.jsonl"
        records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        assert [r["id"] for r in records] == [p["id"] for p in prompts]
        for record, prompt in zip(records, prompts, strict=True):
            assert record["input"] == prompt["input"]
            assert record["reference"] == prompt["reference"]
            assert record["category"] == prompt["tags"]["category"]
            assert record["output"] == RECORDED[prompt["id"]][column]
        run = load_run(path)
        assert {e.tags["category"] for e in run.examples} == {p["tags"]["category"] for p in prompts}
