"""The settings every ``deltaeval`` sub-command group shares (typer only: start-up stays light)."""

from __future__ import annotations

import typer


def command_group(name: str, help: str) -> typer.Typer:
    """A typer group for ``deltaeval NAME …``: help when called bare, no shell-completion commands,
    plain tracebacks (the CLI maps deltaeval's errors to one line), no rich markup, and no
    suggestions of its own (click already suggests close command names)."""
    return typer.Typer(
        name=name,
        help=help,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        suggest_commands=False,
    )
