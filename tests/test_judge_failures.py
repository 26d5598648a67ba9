"""A judge that fails reports no verdict: `deltaeval judge` / `rank` through a real local server.

The input of the report that prompted this: ``deltaeval judge j1.jsonl j2.jsonl --judge …`` on 4
examples whose every judge request ended without a verdict printed ``Verdict: NO SIGNIFICANT
DIFFERENCE`` and exited 0, and ``gate --min-win-rate`` then said only "win rate undefined". The
server (tests/openai_server.py) answers each request by its last user message: the judge's
rendered prompt (a table of answers built with ``LLMJudge.render``), else an echo without a
verdict.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openai_server import OpenAIServer, reply_text

from deltaeval import cli
from deltaeval.backends import get_backend
from deltaeval.cli import main
from deltaeval.judging import DEFAULT_MAX_TOKENS, REASK, LLMJudge, Pair, parse_verdict
from deltaeval.judging.validity import DEFAULT_MIN_VALID, EXIT_JUDGING_FAILED, INSUFFICIENT
from deltaeval.types import Example


def write_runs(tmp_path: Path, n: int, names: tuple[str, ...] = ("j1", "j2")) -> list[Path]:
    """One JSONL file per run over the same ``n`` questions (ids, inputs and outputs only)."""
    paths = []
    for name in names:
        rows = [{"id": f"q{i}", "input": f"Question {i}?", "output": f"{name} answer {i}"} for i in range(n)]
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        paths.append(path)
    return paths


def new_wins(n: int, with_verdict: range) -> dict[str, str]:
    """Server answers: for the examples in ``with_verdict``, a verdict for j2 in both orders."""
    probe = LLMJudge(get_backend("openai:judge@http://127.0.0.1:1/v1"))  # renders, never sends
    answers = {}
    for i in with_verdict:
        example = Example(id=f"q{i}", input=f"Question {i}?")
        old, new = f"j1 answer {i}", f"j2 answer {i}"
        answers[probe.render(Pair(example, old, new))] = "B is more helpful.\n[[B>A]]"
        answers[probe.render(Pair(example, new, old))] = "A is more helpful.\n[[A>B]]"
    return answers


def judge_args(paths: list[Path], url: str, tmp_path: Path, *extra: str) -> list[str]:
    out = [f"--{s}" for s in ("json", "md", "html")]
    files = [str(tmp_path / f"report.{s}") for s in ("json", "md", "html")]
    args = [
        "judge",
        *map(str, paths),
        "--judge",
        f"openai:judge@{url}",
        "--store",
        str(tmp_path / "s.sqlite"),
    ]
    args += ["--n-boot", "200"]
    for flag, file in zip(out, files, strict=True):
        args += [flag, file]
    return args + list(extra)


def read_reports(tmp_path: Path) -> tuple[dict, str, str]:
    return (
        json.loads((tmp_path / "report.json").read_text(encoding="utf-8")),
        (tmp_path / "report.md").read_text(encoding="utf-8"),
        (tmp_path / "report.html").read_text(encoding="utf-8"),
    )


def gate(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["gate", str(tmp_path / "report.json"), *args])
    return code, " ".join(capsys.readouterr().out.split())  # as one line, however the terminal wraps


def test_the_echo_server_never_gives_a_verdict() -> None:
    """Precondition of the failure tests: neither a first reply nor a re-ask's reply parses."""
    assert parse_verdict(reply_text(REASK)) is None
    assert (
        parse_verdict(reply_text("Which answer is better? Explain briefly, then give your verdict label."))
        is None
    )


def test_a_judge_without_a_verdict_fails_first_and_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = write_runs(tmp_path, 4)
    with OpenAIServer(answers={}) as server:
        code = main(judge_args(paths, server.url, tmp_path))
        log = server.log
    captured = capsys.readouterr()
    assert code == EXIT_JUDGING_FAILED == 3
    # 4 examples x 2 orders, each asked once and re-asked twice, every request short
    assert len(log) == 8 * 3
    assert {r["request"]["max_tokens"] for r in log} == {DEFAULT_MAX_TOKENS}
    assert DEFAULT_MAX_TOKENS <= 256

    printed = captured.out
    assert printed.lstrip().startswith("JUDGING FAILED: 0 of 8 judge requests gave a verdict")
    assert "NO SIGNIFICANT DIFFERENCE" not in printed and "INSUFFICIENT JUDGMENTS" in printed
    assert "error: judging failed: 0 of 8 judge requests gave a verdict" in captured.err

    report, md, html = read_reports(tmp_path)  # every report is still written
    validity = report["preference"]["validity"]
    assert validity["status"] == "failed"
    assert (validity["n_requests"], validity["n_valid_requests"], validity["n_valid_examples"]) == (8, 0, 0)
    assert validity["errors"] == ["no verdict found in the judge's reply after 3 attempt(s)"]
    assert report["preference"]["win_rate"]["verdict"] == INSUFFICIENT
    assert md.startswith("> **Judging failed:** 0 of 8 judge requests gave a verdict")
    body = html[html.index("<main>") :]
    assert body.index("Judging failed:") < body.index("<header>")

    code, out = gate(tmp_path, capsys, "--min-win-rate", "0.5")
    assert code == 1
    assert "FAIL no win rate to gate on" in out and "judging failed: 0 of 8 judge requests" in out


def test_http_errors_on_every_call_fail_the_judging(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = write_runs(tmp_path, 4)
    with OpenAIServer(fault_rate=1.0, fault_kinds=("400",)) as server:
        code = main(judge_args(paths, server.url, tmp_path))
    assert code == EXIT_JUDGING_FAILED
    report, _, _ = read_reports(tmp_path)
    validity = report["preference"]["validity"]
    assert validity["status"] == "failed" and validity["n_failed_requests"] == 8
    assert "400" in validity["errors"][0] and "400" in validity["message"]


def test_most_calls_failing_is_a_failure_even_with_some_verdicts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = write_runs(tmp_path, 12)
    with OpenAIServer(answers=new_wins(12, range(5))) as server:  # 10 of 24 requests give a verdict
        code = main(judge_args(paths, server.url, tmp_path, "--max-retries", "0"))
    assert code == EXIT_JUDGING_FAILED
    report, md, _ = read_reports(tmp_path)
    validity = report["preference"]["validity"]
    assert (validity["status"], validity["n_valid_requests"], validity["n_requests"]) == ("failed", 10, 24)
    assert report["preference"]["win_rate"]["wins"] == 5  # the figures are kept; the verdict is not drawn
    assert report["preference"]["win_rate"]["verdict"] == INSUFFICIENT
    assert md.startswith("> **Judging failed:** 10 of 24 judge requests gave a verdict")


def test_enough_valid_verdicts_still_give_a_verdict_and_the_cache_still_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = write_runs(tmp_path, 12)
    # 10 of 12 examples get verdicts (20 of 24 requests): at the default minimum of 10
    with OpenAIServer(answers=new_wins(12, range(10))) as server:
        code = main(judge_args(paths, server.url, tmp_path, "--max-retries", "1"))
        first = len(server.log)
        assert main(judge_args(paths, server.url, tmp_path, "--max-retries", "1")) == 0
        again = server.log[first:]
    assert code == 0
    assert first == 24 + 4  # the 4 requests without a verdict were re-asked once
    assert again == []  # every call, with a verdict or not, answered from the cache
    report, md, html = read_reports(tmp_path)
    validity = report["preference"]["validity"]
    assert validity["status"] == "ok" and validity["message"] is None
    assert (validity["n_valid_examples"], validity["min_valid"]) == (10, DEFAULT_MIN_VALID)
    assert report["preference"]["win_rate"]["verdict"] == "new better"
    assert not md.startswith(">") and "Judging failed" not in html and "Insufficient judgments" not in html
    assert gate(tmp_path, capsys, "--min-win-rate", "0.5")[0] == 0


def test_below_min_valid_the_verdict_is_insufficient(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = write_runs(tmp_path, 6)
    with OpenAIServer(answers=new_wins(6, range(6))) as server:
        code = main(judge_args(paths, server.url, tmp_path))
    assert code == 0  # the judging worked; there is too little of it for a verdict
    printed = capsys.readouterr().out
    assert printed.lstrip().startswith("INSUFFICIENT JUDGMENTS: 6 example(s) with a verdict")
    report, md, html = read_reports(tmp_path)
    validity = report["preference"]["validity"]
    assert (validity["status"], validity["n_valid_examples"]) == ("insufficient", 6)
    assert report["settings"]["min_valid"] == DEFAULT_MIN_VALID
    assert report["preference"]["win_rate"]["verdict"] == INSUFFICIENT
    assert report["preference"]["win_rate"]["wins"] == 6
    assert md.startswith("> **Insufficient judgments:** 6 example(s) with a verdict")
    assert html.index("Insufficient judgments:") < html.index("<header>")
    code, out = gate(tmp_path, capsys, "--min-win-rate", "0.5")
    assert code == 1 and "insufficient judgments: 6 example(s) with a verdict, fewer than the minimum" in out

    # a lower stated minimum gives the verdict (6 wins of 6: sign test p = 0.031)
    with OpenAIServer(answers=new_wins(6, range(6))) as server:
        assert main(judge_args(paths, server.url, tmp_path, "--min-valid", "5")) == 0
    report, md, _ = read_reports(tmp_path)
    assert report["preference"]["validity"]["status"] == "ok"
    assert report["preference"]["win_rate"]["verdict"] == "new better"
    assert gate(tmp_path, capsys, "--min-win-rate", "0.5")[0] == 0


def test_min_valid_must_be_positive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = write_runs(tmp_path, 2)
    assert main(judge_args(paths, "http://127.0.0.1:1/v1", tmp_path, "--min-valid", "0")) == 2
    assert "minimum of valid judgments" in capsys.readouterr().err


def test_rank_with_a_judge_that_never_gives_a_verdict_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = write_runs(tmp_path, 3, names=("r1", "r2", "r3"))
    with OpenAIServer(answers={}) as server:
        args = ["rank", *map(str, paths), "--judge", f"openai:judge@{server.url}", "--max-retries", "0"]
        code = main([*args, "--store", str(tmp_path / "s.sqlite")])
    assert code == EXIT_JUDGING_FAILED
    assert "judging failed: 0 of 18 judge requests gave a verdict" in capsys.readouterr().err


def test_behaviour_with_a_failing_judge_exits_3_and_keeps_its_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = write_runs(tmp_path, 4)
    with OpenAIServer(answers={}) as server:
        args = ["behaviour", *map(str, paths), "--judge", f"openai:judge@{server.url}", "--max-retries", "0"]
        args += ["--similarity", "none", "--n-boot", "50", "--json", str(tmp_path / "b.json")]
        code = main([*args, "--store", str(tmp_path / "s.sqlite")])
    assert code == EXIT_JUDGING_FAILED
    assert capsys.readouterr().out.lstrip().startswith("JUDGING FAILED: 0 of 8 judge requests")
    report = json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))
    assert report["preference"]["validity"]["status"] == "failed" and "behaviour" in report


def test_cli_defaults_match_the_library() -> None:
    assert cli.JUDGE_MAX_TOKENS == DEFAULT_MAX_TOKENS
    assert cli.MIN_VALID == DEFAULT_MIN_VALID
    assert cli.EXIT_JUDGING_FAILED == EXIT_JUDGING_FAILED
