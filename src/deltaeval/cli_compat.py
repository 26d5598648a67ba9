"""``deltaeval compat``: one sub-command per method of making a compatible v2.

Each sub-command writes a new run to the store (named, its recipe in the run's params), so
``deltaeval compare OLD NAME`` and ``gate`` work on it unchanged. Keep this module light: heavy
imports go inside the command functions (``deltaeval --help`` imports this module).
"""

from __future__ import annotations

import typer

#: The ``deltaeval compat`` group (registered in ``deltaeval.cli``). Defined before the import of
#: ``deltaeval.cli`` below, so either module may be imported first.
compat_app = typer.Typer(
    name="compat",
    help="Make a compatible v2: fewer regressions than the plain update, as a new stored run.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

from pathlib import Path  # noqa: E402
from typing import Annotated  # noqa: E402

from deltaeval.cli import (  # noqa: E402  (shared options; see the note on compat_app)
    FormatOpt,
    JsonOutOpt,
    LevelOpt,
    OverwriteOpt,
    QuietOpt,
    StoreOpt,
    _console,
    _store,
)
from deltaeval.textsafe import visible  # noqa: E402

NameOpt = Annotated[
    str, typer.Option("--name", metavar="NAME", help="Name of the run to write to the store.")
]
SplitSeedOpt = Annotated[int, typer.Option("--seed", metavar="N", help="Seed of the calibration split.")]
CalibrationFractionOpt = Annotated[
    float,
    typer.Option(
        "--calibration-fraction",
        metavar="F",
        help="Share of the examples used for tuning; the rest is the held-out evaluation split.",
    ),
]

OldArg = Annotated[
    str, typer.Argument(metavar="OLD", help="Old run: a results file, FILE::RUN, or a stored run name.")
]
NewArg = Annotated[
    str, typer.Argument(metavar="NEW", help="New run: a results file, FILE::RUN, or a stored run name.")
]


def _resolve_pair(old: str, new: str, db: object, format: str | None) -> tuple:
    """Both runs, from files or the store."""
    from deltaeval.resolve import resolve_run

    return resolve_run(old, db, format=format), resolve_run(new, db, format=format)  # type: ignore[arg-type]


def _load_pair(
    old: str, new: str, store: Path | None, format: str | None, *, name: str, overwrite: bool
) -> tuple:
    """Both runs (files or stored names; the store is only read here, never created), after
    checking that ``name`` is free, so a command fails before its work, not after."""
    from deltaeval.store import store_path

    if not store_path(store).exists():
        return _resolve_pair(old, new, None, format)
    with _store(store, create=False) as db:
        if db.has_run(name) and not overwrite:
            from deltaeval.errors import StoreError

            raise StoreError(
                f"a run named {name!r} is already stored",
                path=db.path,
                hint="choose another --name, or pass --overwrite",
            )
        return _resolve_pair(old, new, db, format)


def _write_json(data: dict, target: Path) -> None:
    import json

    from deltaeval.atomic_write import write_text_atomic

    write_text_atomic(target, json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


@compat_app.command("select")
def select_cmd(
    old: OldArg,
    new: NewArg,
    name: NameOpt,
    max_nfr: Annotated[
        float | None,
        typer.Option("--max-nfr", metavar="X", help="Most accurate rule with NFR <= X on calibration."),
    ] = None,
    min_accuracy: Annotated[
        float | None,
        typer.Option(
            "--min-accuracy", metavar="Y", help="Fewest negative flips with accuracy >= Y on calibration."
        ),
    ] = None,
    max_accuracy_drop: Annotated[
        float | None,
        typer.Option(
            "--max-accuracy-drop",
            metavar="D",
            help="Fewest negative flips with accuracy >= the new run's minus D on calibration (default 0).",
        ),
    ] = None,
    calibration_fraction: CalibrationFractionOpt = 0.5,
    seed: SplitSeedOpt = 0,
    signal: Annotated[
        str,
        typer.Option(
            "--signal",
            metavar="FIELD",
            help="What the rule reads: confidence (probabilities), logprob (LLM), score (judge/verifier).",
        ),
    ] = "confidence",
    scorer: Annotated[
        str | None,
        typer.Option("--scorer", metavar="SCORER", help="Score both runs first (exact, numeric, choice…)."),
    ] = None,
    level: LevelOpt = 0.95,
    json_out: JsonOutOpt = None,
    format: FormatOpt = None,
    overwrite: OverwriteOpt = False,
    store: StoreOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Keep the old output where the new model is unsure and the old one sure (no training).

    The rule is fitted on a calibration split (--calibration-fraction, --seed) and reported on
    the held-out rest; the run NAME holds the chosen outputs of the held-out examples only.
    Without --max-nfr/--min-accuracy/--max-accuracy-drop it keeps the new run's calibration accuracy.
    """
    from deltaeval.compat.selection import select
    from deltaeval.compat.selection_terminal import render_selection

    console = _console(quiet)
    old_run, new_run = _load_pair(old, new, store, format, name=name, overwrite=overwrite)
    result = select(
        old_run,
        new_run,
        name=name,
        signal=signal,
        max_nfr=max_nfr,
        min_accuracy=min_accuracy,
        max_accuracy_drop=max_accuracy_drop,
        calibration_fraction=calibration_fraction,
        seed=seed,
        scorer=scorer,
        level=level,
    )
    with _store(store) as db:
        db.save_run(result.run, overwrite=overwrite)
    data = result.to_dict()
    render_selection(data, console)
    if json_out is not None:
        _write_json(data, json_out)
        console.print(f"wrote {visible(str(json_out))}", markup=False)


__all__ = [
    "CalibrationFractionOpt",
    "LevelOpt",
    "NameOpt",
    "NewArg",
    "OldArg",
    "OverwriteOpt",
    "QuietOpt",
    "SplitSeedOpt",
    "StoreOpt",
    "compat_app",
]
