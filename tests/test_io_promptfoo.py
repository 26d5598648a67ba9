"""promptfoo results files (``promptfoo eval -o results.json``) as runs, one per provider.

The files are built from promptfoo's documented output (``OutputFile`` holding an
``EvaluateSummaryV3``, results version 3, as promptfoo 0.120 declares it in its type definitions);
when a ``promptfoo`` command is at hand (``$DELTAEVAL_PROMPTFOO`` or on the PATH), one more test
has promptfoo itself write the file, with its offline ``echo`` provider and a local JS provider
(checked with promptfoo 0.120.0 from npm on Node 20).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from deltaeval.cli import main
from deltaeval.errors import InputError
from deltaeval.io import ColumnMapping, detect_format, load_run, load_runs
from deltaeval.types import stable_id

QUESTIONS = [
    {"question": "2+2?", "topic": "math", "expected": "4"},
    {"question": "Capital of France?", "topic": "geo", "expected": "Paris"},
    {"question": "Say hi", "topic": "misc", "expected": "hi"},
]


def _result(provider: str, test_idx: int, output: str | None, **extra: Any) -> dict[str, Any]:
    test_vars = QUESTIONS[test_idx]
    passed = output is not None and test_vars["expected"] in output
    return {
        "id": f"r-{provider}-{test_idx}",
        "promptIdx": 0,
        "testIdx": test_idx,
        "testCase": {"vars": test_vars, "assert": [{"type": "contains", "value": test_vars["expected"]}]},
        "promptId": "p0",
        "provider": {"id": "openai:chat:gpt-x", "label": provider},
        "prompt": {
            "raw": f"Answer briefly: {test_vars['question']}",
            "label": "Answer briefly: {{question}}",
        },
        "vars": test_vars,
        "response": {"output": output, "tokenUsage": {"total": 9, "prompt": 7, "completion": 2}}
        if output is not None
        else {"error": "429 rate limited"},
        "error": None if passed else "Expected output to contain " + test_vars["expected"],
        "failureReason": 0 if passed else 1,
        "success": passed,
        "score": 1 if passed else 0,
        "latencyMs": 250,
        "namedScores": {},
        "cost": 0.0001,
        "gradingResult": {"pass": passed, "score": 1 if passed else 0, "reason": "", "componentResults": []},
        **extra,
    }


def _document(results: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "evalId": "eval-abc-2026-01-01T00:00:00",
        "results": {
            "version": 3,
            "timestamp": "2026-01-01T00:00:00.000Z",
            "prompts": [{"raw": "Answer briefly: {{question}}", "label": "Answer briefly: {{question}}"}],
            "results": results,
            "stats": {"successes": 3, "failures": 3, "errors": 0, "tokenUsage": {}},
        },
        "config": {"providers": ["openai:chat:gpt-x"]},
        "shareableUrl": None,
        "metadata": {"promptfooVersion": "0.120.0", "exportedAt": "2026-01-01T00:00:00.000Z"},
    }


def _write(path: Path, document: Any) -> Path:
    path.write_text(
        document if isinstance(document, str) else json.dumps(document, indent=2), encoding="utf-8"
    )
    return path


def _two_providers(tmp_path: Path) -> Path:
    results = [
        _result("v1", 0, "4"),
        _result("v2", 0, "5"),
        _result("v1", 1, "Lyon"),
        _result("v2", 1, "Paris"),
        _result("v1", 2, "<script>alert(1)</script> hi"),
        _result("v2", 2, None, failureReason=2, error="429 rate limited", success=False, score=0),
    ]
    return _write(tmp_path / "results.json", _document(results))


def test_one_run_per_provider_paired_by_vars(tmp_path: Path) -> None:
    path = _two_providers(tmp_path)
    assert detect_format(path) == "promptfoo"
    old, new = load_runs(path)
    assert (old.name, new.name) == ("v1", "v2")
    assert old.model == "openai:chat:gpt-x" and old.params["results_version"] == 3
    ids = [stable_id(json.dumps(q, sort_keys=True, ensure_ascii=False)) for q in QUESTIONS]
    assert old.ids == ids and new.ids == ids
    example = old.examples[1]
    assert example.input == "Answer briefly: Capital of France?"
    assert example.reference == "Paris"
    assert dict(example.tags) == {"topic": "geo"}  # the question is free text, the expected answer a role
    assert [o.correct for o in old.outputs] == [True, False, True]
    assert [o.score for o in new.outputs] == [0.0, 1.0, 0.0]
    assert (old.outputs[0].tokens, old.outputs[0].prompt_tokens, old.outputs[0].latency_s) == (2, 7, 0.25)
    failed = new.outputs[2]
    assert failed.error == "429 rate limited" and failed.correct is None and failed.text is None
    assert old.outputs[1].error is None  # a failed assertion is a wrong answer, not an error
    assert load_run(f"{path}::v2").ids == ids


def test_cli_import_and_compare_a_promptfoo_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _two_providers(tmp_path)
    store = str(tmp_path / "s.sqlite")
    assert main(["import", str(path), "--name", "pf-", "--store", store]) == 0
    assert "imported 'pf-v1': 3 examples" in capsys.readouterr().out
    out = tmp_path / "report.json"
    assert main(["compare", f"{path}::v1", f"{path}::v2", "--json", str(out), "--no-behaviour"]) in (0, 1)
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["flips"]["negative"] == 2 and report["flips"]["positive"] == 1


def test_several_prompts_give_one_run_per_provider_and_prompt(tmp_path: Path) -> None:
    short = _result("v1", 0, "4")
    long = _result("v1", 0, "four", prompt={"raw": "Think, then answer: 2+2?", "label": "think"})
    runs = load_runs(_write(tmp_path / "r.json", _document([short, long])))
    assert [r.name for r in runs] == ["v1 [Answer briefly: {{question}}]", "v1 [think]"]
    tagged = load_run(tmp_path / "r.json::v1 [think]", mapping=ColumnMapping(tags=("question",)))
    assert dict(tagged.examples[0].tags) == {"question": "2+2?"}


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"results": {"version": 1, "table": {}}}, "'results.results' is not a list (results version 1)"),
        ({"results": {"version": 3, "results": []}}, "'results.results' is empty"),
        ({"results": {"version": 3, "results": [{"vars": {}}]}}, "results.results[0] has no 'provider'"),
        ('{"evalId": "x", "results": {"version": 3, "results": [', "malformed JSON on line 1"),
    ],
)
def test_bad_files_are_one_line_errors_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], document: Any, expected: str
) -> None:
    path = _write(tmp_path / "results.json", document)
    with pytest.raises(InputError, match="fix: "):
        load_runs(path, format="promptfoo")
    assert main(["import", str(path), "--format", "promptfoo", "--store", str(tmp_path / "s.sqlite")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"error: {path}") and expected in err


PROMPTFOO = os.environ.get("DELTAEVAL_PROMPTFOO") or shutil.which("promptfoo")

CONFIG = """
prompts:
  - "Answer briefly: {{question}}"
providers:
  - id: echo
    label: v1
  - id: file://provider.js
    label: v2
tests:
  - vars: {question: "2+2?", topic: math}
    assert: [{type: contains, value: "2+2"}]
  - vars: {question: "Capital of France?", topic: geo}
    assert: [{type: contains, value: "Paris"}]
"""

PROVIDER_JS = """
class Provider {
  id() { return 'local-v2'; }
  async callApi(prompt) {
    const output = prompt.includes('France') ? 'Paris' : 'no idea';
    return { output, tokenUsage: { total: 3, prompt: 2, completion: 1 } };
  }
}
module.exports = Provider;
"""


@pytest.mark.skipif(PROMPTFOO is None, reason="promptfoo is not installed (npm install -g promptfoo)")
def test_real_promptfoo_results_file(tmp_path: Path) -> None:
    (tmp_path / "promptfooconfig.yaml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "provider.js").write_text(PROVIDER_JS, encoding="utf-8")
    env = {
        **os.environ,
        "PROMPTFOO_DISABLE_TELEMETRY": "1",
        "PROMPTFOO_DISABLE_UPDATE": "1",
        "HOME": str(tmp_path),
    }
    done = subprocess.run(
        [
            str(PROMPTFOO),
            "eval",
            "-c",
            "promptfooconfig.yaml",
            "-o",
            "results.json",
            "--no-cache",
            "--no-table",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = tmp_path / "results.json"
    assert out.exists(), done.stdout[-2000:] + done.stderr[-2000:]
    assert detect_format(out) == "promptfoo"
    v1, v2 = load_runs(out)
    assert (v1.name, v2.name) == ("v1", "v2")
    assert v1.ids == v2.ids and len(v1) == 2
    assert [o.text for o in v1.outputs] == ["Answer briefly: 2+2?", "Answer briefly: Capital of France?"]
    assert [o.correct for o in v1.outputs] == [True, False]
    assert [o.text for o in v2.outputs] == ["no idea", "Paris"]
    assert [o.correct for o in v2.outputs] == [False, True]
    assert [dict(e.tags) for e in v1.examples] == [{"topic": "math"}, {"topic": "geo"}]


def test_runs_and_examples_follow_the_config_not_the_completion_order(tmp_path: Path) -> None:
    results = [
        _result("v2", 2, "hi"),
        _result("v1", 1, "Paris"),
        _result("v2", 0, "4"),
        _result("v1", 0, "4"),
    ]
    document = _document(results)
    document["config"]["providers"] = [{"id": "openai:chat:gpt-x", "label": "v1"}, {"id": "x", "label": "v2"}]
    v1, v2 = load_runs(_write(tmp_path / "results.json", document))
    assert (v1.name, v2.name) == ("v1", "v2")
    assert [e.input for e in v2.examples] == ["Answer briefly: 2+2?", "Answer briefly: Say hi"]
