"""Turn a command-line run reference (a file, ``FILE::RUN``, or a stored run name) into a Run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from deltaeval.errors import InputError
from deltaeval.io import load_run
from deltaeval.io.base import ColumnMapping
from deltaeval.types import Run

if TYPE_CHECKING:  # comparing two files loads no store (nor sqlite3)
    from deltaeval.store import Store


def is_file_reference(ref: str) -> bool:
    """True when ``ref`` names an existing file (optionally ``FILE::RUN``)."""
    return Path(ref.split("::", 1)[0]).is_file()


def resolve_run(
    ref: str,
    store: Store | None,
    *,
    format: str | None = None,
    mapping: ColumnMapping | None = None,
    strict: bool = False,
) -> Run:
    """A run from a file path (imported on the fly) or from the store by name.

    Files win over stored names when both exist.
    """
    if is_file_reference(ref):
        return load_run(ref, format=format, mapping=mapping, strict=strict)
    if store is not None and store.has_run(ref):
        return store.load_run(ref)
    known = [info.name for info in store.list_runs()] if store is not None else []
    raise InputError(
        f"{ref!r} is neither a file nor a stored run",
        hint="give a path to a results file, or one of the stored runs: "
        + (", ".join(known[:20]) if known else "(none yet: `deltaeval import FILE --name NAME`)"),
    )
