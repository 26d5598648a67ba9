"""Prompt and judge templates are bounded: runaway loops, repetition and output end in one clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deltaeval.backends.base import GenerationParams, render_user_message
from deltaeval.cli import main
from deltaeval.errors import UsageError
from deltaeval.judging import get_judge
from deltaeval.judging.base import Pair
from deltaeval.sandbox import MAX_TEMPLATE_WORK
from deltaeval.store import Store
from deltaeval.types import Example

MODEL = '''
def answer(prompt, params):
    """Echo the prompt's first words."""
    return " ".join(prompt.split()[:5])
'''


def setup_files(tmp_path: Path) -> list[str]:
    model = tmp_path / "echo_model.py"
    model.write_text(MODEL)
    data = tmp_path / "questions.jsonl"
    rows = [{"id": f"q{i}", "input": f"What is twice {i}?"} for i in range(3)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    store = tmp_path / "store.sqlite"
    return ["run", "--model", f"python:{model}:answer", "--data", str(data), "--store", str(store)]


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        # the two templates: an OverflowError traceback, and a string grown without bound
        ("{% for i in range(10**9) %}x{% endfor %}", "a range's length reaches 1,000,000,000"),
        ("{{ 'a' * 10**10 }}", "a repetition's length reaches 10,000,000,000"),
        # loops that print nothing, and output built a chunk at a time
        (
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            "its loops pass 1,000,000 steps",
        ),
        ("{% for i in range(5000) %}{{ 'y' * 1000 }}{% endfor %}", "its output passes 1,000,000 characters"),
        # doubling a string, padding, format widths, huge numbers, recursion
        (
            "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
            "{% endfor %}{{ ns.s }}",
            "a value's length reaches",
        ),
        ("{{ input.ljust(10**10) }}", "a padding width reaches 10,000,000,000"),
        ("{{ input|center(10**10) }}", "a padding width reaches"),
        ("{{ '%1000000000d' % 1 }}", "a format field width reaches 1,000,000,000"),
        ("{{ '{:>1000000000}'.format(input) }}", "a format field width reaches"),
        ("{{ (['x' * 900000] * 1000)|join }}", "the joined length reaches 900,000,000"),
        ("{{ 10**(10**10) }}", "an integer of more than"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "RecursionError"),
    ],
)
def test_runaway_prompt_templates_are_one_line_errors(tmp_path, capsys, template: str, reason: str) -> None:
    args = setup_files(tmp_path)
    assert main([*args, "--name", "r", "--template", template]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in captured.err + captured.out
    assert err.startswith("error: the prompt template fails on example 'q0': ")
    assert reason in err
    assert f"at most {MAX_TEMPLATE_WORK:,} characters" in err  # the fix names the bound


def test_template_errors_of_other_kinds_are_usage_errors(tmp_path, capsys) -> None:
    args = setup_files(tmp_path)
    assert main([*args, "--name", "r", "--template", "{{ 1/0 }}"]) == 2
    err = capsys.readouterr().err
    assert "ZeroDivisionError: division by zero" in err and "Traceback" not in err


def test_templates_within_the_bound_render_as_before(tmp_path, capsys) -> None:
    args = setup_files(tmp_path)
    template = (
        "[{{ id }}] {{ input|upper }} {{ '%5s'|format('x') }} {{ ['a', 'b']|join(', ') }} {{ 'q' ~ id }}"
    )
    assert main([*args, "--name", "r", "--template", template]) == 0
    capsys.readouterr()
    with Store(tmp_path / "store.sqlite") as db:
        run = db.load_run("r")
    assert run.outputs[0].text == "[q0] WHAT IS TWICE 0?"
    example = Example(id="x", input="hi", tags={"topic": "math"})
    text = render_user_message(example, GenerationParams(template="{% for i in range(999) %}ab{% endfor %}"))
    assert text == "ab" * 999
    assert len(render_user_message(example, GenerationParams(template="{{ 'x' * 999999 }}"))) == 999_999


def test_a_long_input_may_be_quoted_a_few_times() -> None:
    """The bound grows with the variables: a 600,000-character input can appear three times."""
    example = Example(id="long", input="w" * 600_000)
    text = render_user_message(example, GenerationParams(template="{{ input }}\n{{ input }}\n{{ input }}"))
    assert len(text) == 1_800_002
    bound = 4 * (600_000 + len("long"))  # four times the variables (input and id)
    with pytest.raises(UsageError, match=f"its output passes {bound:,} characters"):
        render_user_message(
            example, GenerationParams(template="{% for i in range(5) %}{{ input }}{% endfor %}")
        )


def test_judge_templates_are_bounded_too() -> None:
    judge = get_judge("openai:judge@http://127.0.0.1:1/v1", template="{{ output_a * 10**10 }}")
    pair = Pair(Example(id="e1", input="hi"), "one", "two", "old", "new")
    with pytest.raises(UsageError, match=r"the judge template fails on example 'e1': a repetition's length"):
        judge.render(pair)
    judge = get_judge(
        "openai:judge@http://127.0.0.1:1/v1", template="{% for i in range(10**9) %}{% endfor %}"
    )
    with pytest.raises(UsageError, match="a range's length reaches 1,000,000,000"):
        judge.render(pair)
