"""Derived runs: a compatible model's outputs as an ordinary Run, its recipe in the run's params.

Every ``deltaeval compat`` method ends here: it builds the examples and outputs of a new run and
saves it under a name, with the recipe that made it recorded in ``run.params["compat"]``::

    {"method": "selection", "parameters": {...}, "sources": {"old": {"name", "content_hash"}, ...},
     "split_seed": 0, "calibration_ids_hash": "…", "deltaeval_version": "0.1.0"}

so ``deltaeval compare OLD NAME``, ``gate`` and every report work on it unchanged and
``deltaeval show NAME`` says how it was made.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from deltaeval.errors import InputError
from deltaeval.types import Example, Output, Run

#: The key of ``Run.params`` that holds a derived run's recipe.
RECIPE_KEY = "compat"


def ids_hash(ids: Iterable[str]) -> str:
    """SHA-256 (hex) of a set of example ids, independent of their order."""
    digest = hashlib.sha256()
    for example_id in sorted(set(ids)):
        digest.update(example_id.encode("utf-8", "surrogatepass"))
        digest.update(b"\n")
    return digest.hexdigest()


@dataclass(frozen=True)
class Recipe:
    """How a derived run was made.

    ``method`` names the compat method (``selection``, ``pct``, ``muscle``); ``parameters`` its
    settings (JSON-ready); ``sources`` the runs it was made from, by role (``old``, ``new``…);
    ``split_seed`` and ``calibration_ids_hash`` identify the calibration split (None when the
    method tuned nothing on examples of these runs).
    """

    method: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    sources: Mapping[str, Run] = field(default_factory=dict)
    split_seed: int | None = None
    calibration_ids_hash: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready recipe stored in ``run.params["compat"]``."""
        from deltaeval import __version__

        return {
            "method": self.method,
            "parameters": json.loads(json.dumps(dict(self.parameters), sort_keys=True, default=str)),
            "sources": {
                role: {"name": run.name, "model": run.model, "content_hash": run.content_hash}
                for role, run in self.sources.items()
            },
            "split_seed": self.split_seed,
            "calibration_ids_hash": self.calibration_ids_hash,
            "deltaeval_version": __version__,
        }


def derived_run(
    name: str,
    examples: Sequence[Example],
    outputs: Sequence[Output],
    recipe: Recipe,
    *,
    model: str | None = None,
    notes: Sequence[str] = (),
) -> Run:
    """A new run of ``outputs`` on ``examples`` whose params hold ``recipe`` (see module doc).

    ``model`` defaults to ``compat:METHOD(source names)``.
    """
    if not name or name.strip() != name:
        raise InputError(f"invalid run name {name!r}", hint="give --name a name without spaces at the ends")
    sources = ",".join(run.name for run in recipe.sources.values())
    return Run(
        name=name,
        examples=tuple(examples),
        outputs=tuple(outputs),
        model=model or f"compat:{recipe.method}({sources})",
        params={RECIPE_KEY: recipe.to_dict()},
        source=f"deltaeval compat {recipe.method}",
        notes=tuple(notes),
    )


def recipe_of(run: Run) -> dict[str, Any] | None:
    """The recipe a derived run records, or None for a run not made by ``deltaeval compat``."""
    recipe = run.params.get(RECIPE_KEY) if isinstance(run.params, Mapping) else None
    return dict(recipe) if isinstance(recipe, Mapping) else None


def save_run(run: Run, store: Any = None, *, overwrite: bool = False) -> Run:
    """Save ``run`` in ``store`` (a Store, a path, or None for the default store); returns it."""
    from deltaeval.store import Store

    if isinstance(store, Store):
        store.save_run(run, overwrite=overwrite)
        return run
    with Store(store) as db:
        db.save_run(run, overwrite=overwrite)
    return run


def summarize(old: Run, new: Run, compat: Run, *, scorer: Any = None, level: float = 0.95) -> dict[str, Any]:
    """Accuracy and NFR (with their intervals) of the plain and the compatible new model against
    the old one, and the paired compatible-vs-plain accuracy difference (Tango) with McNemar's p.

    Every figure comes from :func:`deltaeval.compare` on the same examples (``n`` included).
    """
    from deltaeval.comparison import compare

    def flips(a: Run, b: Run) -> dict[str, Any]:
        data = compare(a, b, scorer=scorer, confidence_level=level, behaviour=False).data
        if data["flips"] is None:
            raise InputError(
                "the runs have no correctness to count flips with",
                hint="give the evaluation data a reference column (or choose a --scorer)",
            )
        return {"flips": data["flips"], "accuracy": data["accuracy"], "scorer": data.get("scorer")}

    def side(run: Run, figures: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": run.name,
            "accuracy": figures["accuracy"]["new"],
            "accuracy_ci": figures["accuracy"]["new_ci"],
            "nfr": figures["flips"]["nfr"],
            "nfr_ci": figures["flips"]["nfr_ci"],
            "negative_flips": figures["flips"]["negative"],
        }

    plain, compatible, paired = flips(old, new), flips(old, compat), flips(new, compat)
    nfr_plain, nfr_compat = plain["flips"]["nfr"], compatible["flips"]["nfr"]
    return {
        "n": plain["flips"]["n"],
        "level": level,
        "old_accuracy": plain["accuracy"]["old"],
        "old_accuracy_ci": plain["accuracy"]["old_ci"],
        "plain": side(new, plain),
        "compat": side(compat, compatible),
        "nfr_relative_reduction": (1 - nfr_compat / nfr_plain) if nfr_plain else None,
        "compat_minus_plain_accuracy": paired["accuracy"]["delta"],
        "compat_minus_plain_accuracy_ci": paired["accuracy"]["delta_ci"],
        "compat_vs_plain_mcnemar_p": paired["flips"]["mcnemar_p"],
    }
