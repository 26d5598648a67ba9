"""``deltaeval export``: write a comparison in another tool's format (``llm-comparator``).

Keep this module light: heavy imports go inside the command functions (``deltaeval --help``
imports this module).
"""

from __future__ import annotations

import typer

from deltaeval.cli_group import command_group

#: The ``deltaeval export`` group (registered in ``deltaeval.cli``). Defined before the import of
#: ``deltaeval.cli`` below, so either module may be imported first.
export_app = command_group(
    "export", "Write a comparison of two runs in another tool's format (LLM Comparator JSON)."
)

from pathlib import Path  # noqa: E402
from typing import Annotated  # noqa: E402

from deltaeval.cli import (  # noqa: E402  (shared options; see the note on export_app)
    FormatOpt,
    QuietOpt,
    StoreOpt,
    StrictOpt,
    _console,
    _store,
    _store_exists,
)
from deltaeval.plural import plural  # noqa: E402
from deltaeval.textsafe import visible  # noqa: E402


@export_app.command("llm-comparator")
def llm_comparator_cmd(
    old: Annotated[
        str,
        typer.Argument(metavar="OLD", help="Old run (model B): a results file, FILE::RUN, or a stored run."),
    ],
    new: Annotated[
        str,
        typer.Argument(metavar="NEW", help="New run (model A): a results file, FILE::RUN, or a stored run."),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", metavar="FILE", help="The LLM Comparator JSON to write.")
    ],
    judge: Annotated[
        list[str] | None,
        typer.Option(
            "--judge",
            metavar="NAME",
            help="Only the stored judgments of this judge (repeatable; default: every judge of the pair).",
        ),
    ] = None,
    format: FormatOpt = None,
    strict: StrictOpt = False,
    store: StoreOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Write OLD and NEW as an LLM Comparator file, with the stored judgments of the pair.

    NEW is model A and OLD model B, so a positive score means the new output was preferred. Each
    stored judgment (deltaeval judge OLD NEW) becomes one rating; `deltaeval import FILE` reads
    the file back as the two runs and their judgments.
    """
    from deltaeval.io.llm_comparator_export import pair_judgments, write_comparison
    from deltaeval.resolve import resolve_run

    db = _store(store, create=False) if _store_exists(store) else None  # judgments live in the store
    try:
        old_run = resolve_run(old, db, format=format, strict=strict)
        new_run = resolve_run(new, db, format=format, strict=strict)
        judgments = pair_judgments(db.load_judgments() if db is not None else [], old_run.name, new_run.name)
    finally:
        if db is not None:
            db.close()
    if judge:
        judgments = [j for j in judgments if j.judge in set(judge)]
    write_comparison(out, old_run, new_run, judgments, strict=strict)
    console = _console(quiet)
    line = f"wrote {out}: {new_run.name!r} (A) vs {old_run.name!r} (B), {plural(len(judgments), 'judgment')}"
    console.print(visible(line), markup=False)
