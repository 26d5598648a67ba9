"""The examples the HTML report's interactive viewer browses, as one inert JSON blob.

The viewer (``templates/viewer.html.j2`` and ``templates/viewer.js``) lists examples in a
windowed table (only the rows on screen exist in the page), filters them by flip type, tag,
judge verdict and behaviour-axis change, searches their text, sorts by any column and shows the
old and new outputs side by side with word-level differences. Its data is one
``<script type="application/json">`` element parsed once; :func:`data_blob` writes it with
``<``, ``>`` and ``&`` as ``\\u003c``-style escapes, so no example text can end the element, and
the page's script inserts every text with ``textContent`` (never as HTML).

Where the rows come from:

* a fresh comparison (:func:`rows_from_alignment`): every paired example up to ``limit``
  (negative flips first, then positive flips, then the others in the old run's order), with its
  quadrant, whether the output changed, and its change on the behaviour section's axes;
* a JSON report read back (:func:`rows_from_report`): the examples the report lists (its
  negative and positive flips, capped as the JSON caps them, and a judging's strongest wins and
  losses with their verdicts).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from deltaeval.report import _format as fmt
from deltaeval.textsafe import visible

#: Examples the viewer embeds by default. At 10,000 examples of ~1 KB of text each the page is
#: ~11 MB and paints first in well under the 1.5 s target (bench/viewer.py, bench/README.md); the JSON
#: report keeps its own caps (1,000 negative flips, ``--max-examples`` positive flips).
DEFAULT_MAX_EXAMPLES = 10_000
#: Behaviour axes carried per example (the changed ones first, then the length in words).
MAX_AXES = 6
#: Distinct ``tag=value`` choices offered by the tag filter.
MAX_TAG_CHOICES = 500

KINDS = ("negative", "positive", "both right", "both wrong")
_VERDICTS = {1.0: "new better", 0.5: "tie", 0.0: "old better"}

#: A viewer row (short keys keep 10,000 rows small): ``i`` position, ``id``, ``k`` flip type
#: (one of :data:`KINDS`, or ``""`` without correctness), ``c`` output changed (true/false/null),
#: ``t`` tags, ``in`` input, ``ref`` reference, ``o``/``n`` outputs (no ``n`` when it equals ``o``),
#: ``oe``/``ne`` errors,
#: ``os``/``ns`` scores, ``v`` judge verdict, ``a`` {axis: new - old}.
Row = dict[str, Any]


def _text(value: Any) -> str:
    return visible(fmt.text_of(value))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(f"{float(value):.4g}")


def _row(
    index: int,
    ident: Any,
    kind: str,
    changed: bool | None,
    tags: Any,
    inp: Any,
    reference: Any,
    old: Any,
    new: Any,
    extra: Mapping[str, Any],
) -> Row:
    row: Row = {
        "i": index,
        "id": _text(ident),
        "k": kind,
        "c": changed,
        "t": {visible(str(k)): _text(v) for k, v in sorted(tags.items())}
        if isinstance(tags, Mapping)
        else {},
        "in": _text(inp),
        "o": _text(old),
        "n": _text(new),
    }
    if row["n"] == row["o"]:
        del row["n"]  # an unchanged output is stored once (the page's script restores it)
    if reference is not None:
        row["ref"] = _text(fmt.reference(reference))
    for key, value in extra.items():
        if key in ("oe", "ne", "v") and value is not None:
            row[key] = _text(value)
        elif key in ("os", "ns") and _number(value) is not None:
            row[key] = _number(value)
        elif key == "a" and value:
            row[key] = value
    return row


def _outputs_differ(old: Any, new: Any) -> bool | None:
    if old is None and new is None:
        return None
    return not (isinstance(old, str) and isinstance(new, str) and old.strip() == new.strip())


def rows_from_report(report: Mapping[str, Any]) -> list[Row]:
    """The examples a JSON report lists: its flips, and a judging's strongest wins and losses."""
    rows: list[Row] = []
    by_id: dict[str, Row] = {}
    examples = report.get("examples") or {}
    for kind, key in (("negative", "negative_flips"), ("positive", "positive_flips")):
        for flip in examples.get(key) or []:
            if not isinstance(flip, Mapping):
                continue
            extra = {k: flip.get(f) for k, f in (("oe", "old_error"), ("ne", "new_error"))}
            extra |= {"os": flip.get("old_score"), "ns": flip.get("new_score")}
            row = _row(
                len(rows),
                flip.get("id"),
                kind,
                _outputs_differ(flip.get("old_output"), flip.get("new_output")),
                flip.get("tags"),
                flip.get("input"),
                flip.get("reference"),
                flip.get("old_output"),
                flip.get("new_output"),
                extra,
            )
            rows.append(row)
            by_id.setdefault(row["id"], row)
    preference = report.get("preference")
    judged = (preference.get("examples") or {}) if isinstance(preference, Mapping) else {}
    for key in ("losses", "wins"):
        for example in judged.get(key) or []:
            if not isinstance(example, Mapping):
                continue
            outcome = example.get("outcome")
            verdict = _VERDICTS.get(float(outcome)) if isinstance(outcome, int | float) else None
            verdict = verdict or ("new better" if key == "wins" else "old better")
            known = by_id.get(_text(example.get("id")))
            if known is not None:
                known["v"] = verdict
                continue
            row = _row(
                len(rows),
                example.get("id"),
                "",
                _outputs_differ(example.get("old_output"), example.get("new_output")),
                example.get("tags"),
                example.get("input"),
                None,
                example.get("old_output"),
                example.get("new_output"),
                {"v": verdict},
            )
            rows.append(row)
            by_id[row["id"]] = row
    return rows


def _axes_to_carry(report: Mapping[str, Any], axis_values: Mapping[str, Any]) -> list[str]:
    """The behaviour axes whose per-example change the viewer filters on."""
    old = axis_values.get("old") or {}
    new = axis_values.get("new") or {}
    listed = [a for a in (report.get("behaviour") or {}).get("axes") or [] if isinstance(a, Mapping)]
    changed = [str(a.get("name")) for a in listed if a.get("passes")]
    names = [*changed, "length_words", *(str(a.get("name")) for a in listed)]
    out: list[str] = []
    for name in names:
        if name in old and name in new and name not in out:
            out.append(name)
    return out[:MAX_AXES]


def rows_from_alignment(
    alignment: Any,
    report: Mapping[str, Any],
    *,
    correct: tuple[np.ndarray, np.ndarray] | None,
    same: np.ndarray | None,
    axis_values: Mapping[str, Any] | None = None,
    limit: int = DEFAULT_MAX_EXAMPLES,
) -> list[Row]:
    """Every paired example of a comparison (up to ``limit``: flips first) as viewer rows.

    ``correct`` is (old, new) correctness, None without correctness; ``same`` whether each
    output stayed the same (None without texts); ``axis_values`` the behaviour section's
    per-example values ({"old": {axis: array}, "new": {...}}).
    """
    n = int(alignment.n)
    if correct is None:
        kinds = np.full(n, "", dtype=object)
        order = np.arange(n)
    else:
        old_ok, new_ok = (np.asarray(c, dtype=bool) for c in correct)
        kinds = np.select(
            [old_ok & ~new_ok, ~old_ok & new_ok, old_ok & new_ok], list(KINDS[:3]), default=KINDS[3]
        ).astype(object)
        rank = np.select([old_ok & ~new_ok, ~old_ok & new_ok], [0, 1], default=2)
        order = np.argsort(rank, kind="stable")
    chosen = np.sort(order[: max(0, limit)])
    axes = _axes_to_carry(report, axis_values or {})
    deltas = {
        name: np.asarray(axis_values["new"][name], dtype=float)
        - np.asarray(axis_values["old"][name], dtype=float)
        for name in axes
    }
    rows = []
    for i in chosen.tolist():
        example, old, new = alignment.row(i)
        change = {name: _number(values[i]) for name, values in deltas.items()}
        rows.append(
            _row(
                i,
                example.id,
                str(kinds[i]),
                None if same is None else not bool(same[i]),
                example.tags,
                example.input,
                example.reference,
                old.text,
                new.text,
                {
                    "oe": old.error,
                    "ne": new.error,
                    "os": old.score,
                    "ns": new.score,
                    "a": {k: v for k, v in change.items() if v is not None},
                },
            )
        )
    return rows


def tag_choices(rows: Sequence[Row]) -> list[list[Any]]:
    """The tag filter's choices, ``[key, value, count]`` (the most frequent first, capped)."""
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        for pair in row["t"].items():
            counts[pair] = counts.get(pair, 0) + 1
    ranked = sorted(counts, key=lambda pair: (-counts[pair], pair))[:MAX_TAG_CHOICES]
    return [[key, value, counts[key, value]] for key, value in ranked]


def payload(
    report: Mapping[str, Any],
    rows: Sequence[Row],
    *,
    total: int | None = None,
) -> dict[str, Any]:
    """What the page's script reads: the rows, the run names, the filters' choices."""
    axes = list(dict.fromkeys(name for row in rows for name in row.get("a", {})))  # changed ones first
    return {
        "old": _text((report.get("old") or {}).get("name") or "old"),
        "new": _text((report.get("new") or {}).get("name") or "new"),
        "total": len(rows) if total is None else int(total),
        "kinds": [k for k in KINDS if any(r["k"] == k for r in rows)],
        "changed": any(r["c"] is not None for r in rows),
        "tags": tag_choices(rows),
        "verdicts": [v for v in ("new better", "tie", "old better") if any(r.get("v") == v for r in rows)],
        "axes": axes,
        "rows": list(rows),
    }


_INERT = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def data_blob(data: Mapping[str, Any]) -> str:
    """``data`` as JSON that is inert inside ``<script type="application/json">``.

    ``<``, ``>`` and ``&`` are written as JSON ``\\u`` escapes (``</script>`` and ``<!--`` cannot
    occur), so the blob needs no HTML escaping and parses back to the same value.
    """
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).translate(_INERT)


#: A source of viewer rows kept by a fresh Report (called only when the HTML is written).
RowSource = Callable[[int], list[Row]]
