"""The start-up work changes no figure: each faster path gives what the code it replaced gave.

``linear_quantiles`` against ``np.quantile`` (bit for bit, signed zeros included), ``visible``'s
layout-only shortcut against the regex path, and ``Run.content_hash`` (one reused encoder)
against the ``json.dumps`` line per record it was defined by (hashes are stored, so they must
not move); and the file text that format detection hands to the reading.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from deltaeval.io.reading import peek_record, read_records
from deltaeval.stats import linear_quantiles, percentile_interval
from deltaeval.textsafe import _CARRIAGE_RETURN, _UNSAFE, _escape, visible
from deltaeval.types import Example, Output, Run


def _arrays() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    arrays = [np.array([0.5]), np.array([-0.0, 0.0]), np.array([0.0, -0.0, -0.0]), np.arange(10.0)]
    for trial in range(3000):
        n = int(rng.integers(1, 5)) if trial % 5 == 0 else int(rng.integers(2, 1200))
        kind = trial % 4
        if kind == 0:
            arrays.append(rng.normal(size=n))
        elif kind == 1:
            arrays.append(rng.integers(-3, 4, size=n).astype(float))  # ties
        elif kind == 2:
            arrays.append(rng.choice([-1.0, -0.0, 0.0, 1.0], size=n))  # signed zeros
        else:
            arrays.append(np.round(rng.normal(size=n), 2) * 1e-3)
    return arrays


def test_linear_quantiles_are_numpys_floats_bit_for_bit() -> None:
    rng = np.random.default_rng(3)
    for values in _arrays():
        for q in (0.025, 0.005, 0.05, 0.0, 0.5, float(rng.random())):
            qs = (q, 1.0 - q)
            expected = [float(v) for v in np.quantile(values, qs)]
            assert [repr(v) for v in linear_quantiles(values, qs)] == [repr(v) for v in expected]


def test_percentile_interval_keeps_numpys_figures() -> None:
    samples = np.random.default_rng(1).normal(size=1000)
    samples[:100] = np.nan
    finite = samples[np.isfinite(samples)]
    alpha = (1.0 - 0.95) / 2.0
    low, high = np.quantile(finite, [alpha, 1.0 - alpha])
    assert percentile_interval(samples, 0.95) == (float(low), float(high))
    assert percentile_interval(np.full(10, np.nan), 0.95) is None


def _regex_visible(text: str) -> str:
    """``visible`` as it was: the two regex passes whenever the text is not all printable."""
    if text.isprintable():
        return text
    return _UNSAFE.sub(_escape, _CARRIAGE_RETURN.sub("\n", text))


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        "a model's answer\n\n1. first\n\t- nested",
        "caf\u00e9 \u4e2d\u6587\n\U0001f600 emoji\n",
        "line\r\nwindows\rold mac\n",
        "zero\u200dwidth joiner\n and \u200c non-joiner",
        "no-break\u00a0space\nand private \ue000 use",
        "escape \x1b[2J\nclears",
        "bidi \u202e override\n",
        "soft\u00adhyphen\n",
        "lone \ud800 surrogate\n",
        "line\u2028separator",
        "",
        "\n\t\n",
    ],
)
def test_visible_layout_shortcut_matches_the_regex_path(text: str) -> None:
    assert visible(text) == _regex_visible(text)


def _hash_as_defined(run: Run) -> str:
    """SHA-256 of one ``json.dumps(record, sort_keys=True, default=str)`` line per example."""
    digest = hashlib.sha256()
    for example, output in zip(run.examples, run.outputs, strict=True):
        record = [
            example.id,
            example.input,
            example.reference,
            dict(sorted(example.tags.items())),
            output.text,
            output.score,
            output.correct,
            output.error,
        ]
        digest.update(json.dumps(record, sort_keys=True, default=str).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def test_content_hash_is_unchanged() -> None:
    examples = (
        Example("q1", "What is 2+2?", "4", {"zeta": "z", "alpha": "a", "mid": "m"}),
        Example("q2", [{"role": "user", "content": "caf\u00e9 \u4e2d\u6587"}], None, {}),
        Example("q3", {"feature": 1.5, "other": [1, 2]}, "yes", {"b": "1", "a": "2"}),
    )
    outputs = (
        Output("q1", "4", score=1.0, correct=True),
        Output("q2", None, error="timeout"),
        Output("q3", "yes \U0001f600\n", score=0.25, correct=False),
    )
    run = Run(name="r", examples=examples, outputs=outputs)
    assert run.content_hash == _hash_as_defined(run)


def test_detection_hands_its_text_to_the_reading(tmp_path: Path) -> None:
    """Format detection reads a JSON list file whole; the reading that follows takes that text
    instead of reading the file again, unless the file changed in between."""
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps([{"instruction": "q1", "output": "a"}, {"instruction": "q2", "output": "b"}]))
    assert peek_record(path) == {"instruction": "q1", "output": "a"}
    assert [r for _, r in read_records(path)] == [
        {"instruction": "q1", "output": "a"},
        {"instruction": "q2", "output": "b"},
    ]
    assert read_records(path)[1] == (1, {"instruction": "q2", "output": "b"})  # read again, same
    peek_record(path)
    path.write_text(json.dumps([{"instruction": "changed"}], indent=2))
    assert read_records(path) == [(2, {"instruction": "changed"})]
