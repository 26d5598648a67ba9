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

from typing import Annotated  # noqa: E402

from deltaeval.cli import (  # noqa: E402  (shared options; see the note on compat_app)
    LevelOpt,
    OverwriteOpt,
    QuietOpt,
    StoreOpt,
)

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

__all__ = [
    "CalibrationFractionOpt",
    "LevelOpt",
    "NameOpt",
    "OverwriteOpt",
    "QuietOpt",
    "SplitSeedOpt",
    "StoreOpt",
    "compat_app",
]
