"""GitHub Actions job summaries: find the file (``$GITHUB_STEP_SUMMARY``) and append Markdown to it.

GitHub gives each step its own summary file and shows at most 1 MiB of it; a step whose file is
larger gets an error instead of its summary. So text is appended (never overwriting what an
earlier command of the step wrote), and a shorter version is used, or nothing is written, when
the whole would pass the limit.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deltaeval.errors import InputError, UsageError
from deltaeval.surrogates import replace_lone_surrogates

if TYPE_CHECKING:
    from deltaeval.gate import GateCheck

#: The variable GitHub Actions sets to the step's summary file.
SUMMARY_ENV = "GITHUB_STEP_SUMMARY"
#: The most a step summary may hold (GitHub refuses a larger one).
STEP_SUMMARY_LIMIT = 1024 * 1024


def summary_path(github: bool | None, environ: Mapping[str, str] | None = None) -> Path | None:
    """The summary file to append to, or None.

    ``github`` True: the file ``$GITHUB_STEP_SUMMARY`` names (a UsageError when it is unset);
    False: none; None (automatic): that file when the variable is set, else none.
    """
    value = (os.environ if environ is None else environ).get(SUMMARY_ENV, "")
    if github is False:
        return None
    if not value:
        if github:
            raise UsageError(
                f"--github writes the job summary to ${SUMMARY_ENV}, which is not set",
                hint=f"run inside GitHub Actions, set {SUMMARY_ENV}=FILE, or leave out --github",
            )
        return None
    return Path(value)


def _encoded(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return replace_lone_surrogates(text).encode("utf-8")


def append_summary(path: Path, versions: Sequence[str], limit: int = STEP_SUMMARY_LIMIT) -> int | None:
    """Append the first of ``versions`` (longest first) that keeps the file within ``limit`` bytes.

    The file is created when missing; an existing one keeps its content, and the new text starts
    after a blank line. Returns the index of the version written, or None when none fits.
    Raises InputError naming the file when it cannot be written.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        size = 0
    except OSError as exc:
        raise _write_error(path, exc) from None
    separator = b"\n\n" if size else b""
    for index, text in enumerate(versions):
        data = separator + _encoded(text.rstrip("\n") + "\n")
        if size + len(data) <= limit:
            try:
                with path.open("ab") as stream:
                    stream.write(data)
            except OSError as exc:
                raise _write_error(path, exc) from None
            return index
    return None


def _write_error(path: Path, exc: OSError) -> InputError:
    return InputError(
        f"cannot append to the job summary file {str(path)!r}: {exc.strerror or exc}",
        hint=f"check ${SUMMARY_ENV} names a writable file in an existing folder",
    )


def append_gate_summary(path: Path, report: Mapping[str, Any], checks: Sequence[GateCheck]) -> bool:
    """Append the gate's verdict and the comparison's Markdown summary to ``path``.

    When the file has no room left for both, the verdict alone is appended (saying so); returns
    False when not even that fits (nothing is written).
    """
    from deltaeval.report.gate_markdown import render_gate_markdown

    full = render_gate_markdown(report, checks)
    short = render_gate_markdown(report, checks, with_report=False)
    short += (
        "\n*The comparison's summary is left out: this step's summary would pass GitHub's 1 MiB limit.*\n"
    )
    return append_summary(path, [full, short]) is not None
