"""One error hierarchy. Every error names what went wrong, where, and how to fix it.

The CLI prints ``str(error)`` on one line and exits with code 2.
"""

from __future__ import annotations

from pathlib import Path


class DeltaEvalError(Exception):
    """Base class of every error deltaeval raises on purpose.

    Parameters
    ----------
    message:
        What went wrong, naming the file, line or field where possible.
    hint:
        What the user can do about it.
    path, line:
        Where it happened, when it came from a file (``line`` is 1-based).
    """

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        path: str | Path | None = None,
        line: int | None = None,
    ) -> None:
        self.message = message
        self.hint = hint
        self.path = str(path) if path is not None else None
        self.line = line
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path + (f":{self.line}" if self.line is not None else "") + ": "
        text = where + self.message
        if self.hint:
            text += f" (fix: {self.hint})"
        return " ".join(text.split())


class InputError(DeltaEvalError):
    """A file or value given by the user cannot be read or does not make sense."""


class FormatError(InputError):
    """A file's format is unknown, or the format could not be detected."""


class DuplicateIdError(InputError):
    """The same example id occurs twice in one run."""


class AlignmentError(InputError):
    """Two runs cannot be paired (no shared ids, or missing ids under ``strict``)."""


class ScorerError(DeltaEvalError):
    """A scorer is unknown, misconfigured, or cannot score an example."""


class StoreError(DeltaEvalError):
    """The run store cannot be opened, or a run is missing or already exists."""


class UsageError(DeltaEvalError):
    """Options given together that do not make sense."""


class JudgingFailedError(DeltaEvalError):
    """Most judge requests gave no verdict, so there is nothing to conclude (the CLI exits 3)."""
