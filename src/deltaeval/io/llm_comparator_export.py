"""Write a comparison of two runs as LLM Comparator JSON (the format :mod:`.llm_comparator` reads).

Model A is the new run and model B the old one, so a positive score means the new run's output
was preferred (LLM Comparator's demos put the newer model first). Each judgment of the pair
becomes one of ``individual_rater_scores`` (``is_flipped`` when the old output was shown first;
``score`` relative to A; ``rating_label`` the verdict as the judge saw it; the judge's name in
its ``custom_fields``); an example's ``score`` is the mean of its ratings (LLM Comparator's
convention), null when it has none. The example id, reference, tags (``tag:NAME``) and the
outputs' task scores, correctness and errors travel as custom fields, so the file reads back
into the same runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from deltaeval import __version__
from deltaeval.alignment import Alignment, align
from deltaeval.atomic_write import write_text_atomic
from deltaeval.errors import UsageError
from deltaeval.io.llm_comparator import LEVEL_SCORES, MAX_SCORE, TAG_PREFIX
from deltaeval.types import Judgment, Output, Run, input_text


def _first_score(j: Judgment) -> float | None:
    """The verdict on LLM Comparator's scale, relative to the output shown first."""
    if j.label is None:
        return None
    if isinstance(j.label, str):
        return LEVEL_SCORES.get(j.label)
    return (2.0 * float(j.label) - 1.0) * MAX_SCORE


def rating(j: Judgment, run_a: str) -> dict[str, Any] | None:
    """One judgment as an LLM Comparator rating of model A (``run_a``); None without a verdict."""
    first = _first_score(j)
    if first is None:
        return None
    a_first = j.shown_first == run_a
    return {
        "score": first if a_first else 0.0 - first,  # not -first: a tie stays 0.0, not -0.0
        "rating_label": j.label if isinstance(j.label, str) else None,
        "is_flipped": not a_first,
        "rationale": j.explanation or "",
        "custom_fields": {"judge": j.judge},
    }


def pair_judgments(judgments: Iterable[Judgment], old: str, new: str) -> list[Judgment]:
    """The judgments of the pair (old, new), in either orientation."""
    return [j for j in judgments if {j.run_a, j.run_b} == {old, new} and old != new]


def _schema(alignment: Alignment, tag_names: Sequence[str]) -> list[dict[str, str]]:
    outputs = [*alignment.old, *alignment.new]
    fields = [{"name": "id", "type": "string"}]
    if any(e.reference is not None for e in alignment.examples):
        fields.append({"name": "reference", "type": "text"})
    fields.extend({"name": TAG_PREFIX + name, "type": "category"} for name in tag_names)
    per_model = (("score", "per_model_number"), ("correct", "per_model_boolean"), ("error", "per_model_text"))
    fields.extend(
        {"name": name, "type": kind}
        for name, kind in per_model
        if any(getattr(o, name) is not None for o in outputs)
    )
    return fields


def _per_model(name: str, a: Output, b: Output) -> list[Any]:
    return [getattr(a, name), getattr(b, name)]


def comparison_document(
    old: Run, new: Run, judgments: Iterable[Judgment] = (), *, strict: bool = False
) -> dict:
    """The LLM Comparator document of ``old`` (model B) and ``new`` (model A) on their shared examples."""
    if old.name == new.name:
        raise UsageError(
            f"both runs are named {old.name!r}; the file names its two models after them",
            hint="import one of them under another name (deltaeval import FILE --name NAME)",
        )
    alignment = align(old, new, strict=strict)
    ratings: dict[str, list[dict[str, Any]]] = {}
    for j in pair_judgments(judgments, old.name, new.name):
        item = rating(j, new.name)
        if item is not None:
            ratings.setdefault(j.example_id, []).append(item)
    tag_names = sorted({name for e in alignment.examples for name in e.tags})
    schema = _schema(alignment, tag_names)
    custom_names = {f["name"] for f in schema}
    single_tag = len(tag_names) == 1
    examples = []
    for i in range(alignment.n):
        example, out_old, out_new = alignment.row(i)
        custom: dict[str, Any] = {"id": example.id}
        if "reference" in custom_names:
            custom["reference"] = example.reference
        for name in tag_names:
            custom[TAG_PREFIX + name] = example.tags.get(name)
        for name in ("score", "correct", "error"):
            if name in custom_names:
                custom[name] = _per_model(name, out_new, out_old)
        rated = ratings.get(example.id, [])
        examples.append(
            {
                "input_text": input_text(example.input),
                "tags": [v if single_tag else f"{k}={v}" for k, v in sorted(example.tags.items())],
                "output_text_a": out_new.text or "",
                "output_text_b": out_old.text or "",
                "score": sum(r["score"] for r in rated) / len(rated) if rated else None,
                "individual_rater_scores": rated,
                "custom_fields": custom,
            }
        )
    return {
        "metadata": {
            "source_path": f"deltaeval {__version__}: {old.name} (B, old) vs {new.name} (A, new)",
            "custom_fields_schema": schema,
        },
        "models": [{"name": new.name}, {"name": old.name}],
        "examples": examples,
    }


def write_comparison(
    path: str | Path, old: Run, new: Run, judgments: Iterable[Judgment] = (), *, strict: bool = False
) -> Path:
    """Write the LLM Comparator file of ``old`` and ``new`` (atomically); returns its path."""
    document = comparison_document(old, new, judgments, strict=strict)
    return write_text_atomic(Path(path), json.dumps(document, ensure_ascii=False, indent=1) + "\n")
