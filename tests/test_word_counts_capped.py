"""Capped word counts of columnar outputs (the behaviour section's "are the outputs text?" test)
count a prefix of each text where it decides, and equal ``min(len(text.split()), cap)``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa

from deltaeval.alignment import align
from deltaeval.columnar import PREFIX_CHARS_PER_WORD, _capped_word_counts
from deltaeval.comparison import _text_outputs
from deltaeval.io import load_run

LONG = PREFIX_CHARS_PER_WORD * 6

TEXTS = [
    "",
    "   ",
    "one",
    "  a  b\tc\n",
    "a\x1cb\x85c\u3000d\u2003e\u00a0f g h",  # Python's whitespace beyond ASCII
    "word " * 50,
    "x" * (LONG + 10) + " tail",  # one long word across the prefix's end, then one more
    " " * (LONG - 2) + "a b c d e f g",  # the words start just before the prefix ends
    "\u00e9" * (LONG - 1) + " b c d e f g h",  # non-ASCII characters before the cut
    "a " * 3 + " " * LONG + "b c",  # few words in the prefix, more after it
    ("token " * 2000).strip(),
]


def test_capped_counts_are_str_split_capped() -> None:
    for cap in (1, 3, 6, 7):
        got = _capped_word_counts(pa.array(TEXTS), cap)
        assert got.tolist() == [min(len(t.split()), cap) for t in TEXTS], cap
    chunked = pa.chunked_array([TEXTS[:4], TEXTS[4:]])
    assert _capped_word_counts(chunked, 6).tolist() == [min(len(t.split()), 6) for t in TEXTS]


def test_text_outputs_decided_as_with_full_counts(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for trial in range(12):
        extra = ["a b", "a b c d e f g h i j"][: trial % 3]
        texts = [TEXTS[i] for i in rng.integers(0, len(TEXTS), 9)] + extra
        paths = []
        for side in ("o", "n"):
            path = tmp_path / f"{side}{trial}.jsonl"
            lines = (json.dumps({"id": f"e{i}", "output": t}) for i, t in enumerate(texts))
            path.write_text("".join(line + "\n" for line in lines))
            paths.append(path)
        alignment = align(load_run(paths[0]), load_run(paths[1]))
        full = alignment.output_word_counts()
        capped = alignment.output_word_counts(cap=6)
        assert capped.tolist() == np.minimum(full, 6).tolist()
        assert _text_outputs(alignment) is (bool(len(full)) and float(np.median(full)) >= 3)
