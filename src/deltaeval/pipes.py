"""Standard output that survives a reader who stops reading (``deltaeval compare … | head``).

When the reader of a pipe exits, the next write to it raises ``BrokenPipeError``. A command that
is printing its terminal report at that moment would stop there, before writing its ``--json`` /
``--md`` / ``--html`` files or returning its exit code (a CI gate's answer). :class:`PipeSafeStdout`
wraps ``sys.stdout``: from the first broken write on, everything printed goes to ``os.devnull``
(file descriptor 1 is pointed there too, so the interpreter's last flush raises nothing) and the
command runs to its end.
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO


class PipeSafeStdout:
    """A text stream that forwards to ``stream`` until a write or flush meets a broken pipe."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.broken = False

    def _divert(self) -> None:
        """Send this and every later write to ``os.devnull``."""
        self.broken = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):  # no file descriptor to point elsewhere
            pass
        self._stream = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115  (lives until exit)

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._divert()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._divert()

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding … of the wrapped stream
        return getattr(self._stream, name)


def protect_stdout() -> PipeSafeStdout | None:
    """Wrap the process's own standard output (not one a test harness put in its place)."""
    if sys.stdout is None or sys.stdout is not sys.__stdout__:
        return None
    safe = PipeSafeStdout(sys.stdout)
    sys.stdout = safe  # type: ignore[assignment]
    return safe
