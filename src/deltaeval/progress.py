"""Progress of long work, always on stderr: a bar on a terminal, plain lines everywhere else.

One interface, three modes, picked by :func:`make_progress`:

* ``bar`` — stderr is a terminal: a rich progress bar with count, percent, rate, elapsed and ETA.
  Every reporter in the process shares one bar display, so nested work (a behaviour stage that
  calls a model) adds a row instead of fighting for the screen.
* ``lines`` — stderr is a pipe or a CI log: one line when a task starts, one every
  :data:`INTERVAL_ENV` seconds (default :data:`DEFAULT_INTERVAL`) while it runs — also while a
  single slow call is in flight — and one when it ends::

      generating v1-no-system: 12/72 (17%) · 0.8/s · ETA 1m15s

* ``off`` — ``--quiet``: nothing.

Stdout is never written to: reports and ``--json`` output stay clean.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any, Literal

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress
from rich.text import Text

from deltaeval.errors import UsageError
from deltaeval.textsafe import visible

Mode = Literal["bar", "lines", "off"]

#: Environment variable: seconds between two plain progress lines of a task.
INTERVAL_ENV = "DELTAEVAL_PROGRESS_INTERVAL"
#: Seconds between two plain progress lines when :data:`INTERVAL_ENV` is not set.
DEFAULT_INTERVAL = 5.0


def progress_interval() -> float:
    """Seconds between plain progress lines: :data:`INTERVAL_ENV`, else :data:`DEFAULT_INTERVAL`."""
    raw = os.environ.get(INTERVAL_ENV, "").strip()
    if not raw:
        return DEFAULT_INTERVAL
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise UsageError(
            f"the environment variable {INTERVAL_ENV}={raw!r} is not a number of seconds",
            hint=f"set it to seconds between progress lines, e.g. {INTERVAL_ENV}=10, or unset it",
        )
    return value


def format_duration(seconds: float) -> str:
    """``0.4s``, ``45s``, ``1m15s``, ``2h03m``."""
    if seconds < 9.95:
        return f"{max(0.0, seconds):.1f}s"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def format_rate(per_second: float) -> str:
    """Items per second, or per minute when slower than one every ten seconds."""
    if per_second >= 1:
        return f"{per_second:,.1f}/s"
    if per_second >= 0.1:
        return f"{per_second:.2g}/s"
    return f"{per_second * 60:.2g}/min"


@dataclass
class _Task:
    description: str
    total: int | None
    completed: int
    started: float
    first: int  # completed when added (e.g. cached answers): not counted in the rate
    last_line: float
    finished: bool = False
    bar_id: Any = None

    def line(self, now: float, *, final: bool = False) -> str:
        """``desc: done/total (pct%) · rate · ETA`` (a stage: ``desc · elapsed``); ``final``: the last."""
        elapsed = now - self.started
        if self.total is None:
            parts = [self.description + (f": {self.completed} done" if self.completed else "")]
        else:
            pct = 100 * self.completed / self.total if self.total else 100.0
            parts = [f"{self.description}: {self.completed}/{self.total} ({pct:.0f}%)"]
        rate = (self.completed - self.first) / elapsed if elapsed > 0 else 0.0
        if self.total is not None and rate > 0:
            parts.append(format_rate(rate))
        if final:
            complete = self.total is None or self.completed >= self.total
            parts.append(f"{'done in' if complete else 'ended after'} {format_duration(elapsed)}")
        elif self.total is not None and rate > 0:
            parts.append(f"ETA {format_duration((self.total - self.completed) / rate)}")
        elif elapsed > 0:
            parts.append(f"{format_duration(elapsed)} elapsed")
        elif self.total is None:
            parts[0] += " …"
        return " · ".join(parts)


class _Rate(TextColumn):
    """Items per second over the task's elapsed time."""

    def __init__(self) -> None:
        super().__init__("")

    def render(self, task):  # type: ignore[no-untyped-def]
        if task.fields.get("stage"):
            return Text("")
        speed = task.completed / task.elapsed if task.elapsed else 0.0
        return Text(format_rate(speed), style="progress.data.speed")


# One rich display per process, shared by every reporter in bar mode (nested work adds rows).
_BAR_LOCK = threading.Lock()
_BAR: RichProgress | None = None
_BAR_USERS = 0


def _acquire_bar(console: Console) -> RichProgress:
    global _BAR, _BAR_USERS
    with _BAR_LOCK:
        if _BAR is None:
            _BAR = RichProgress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TaskProgressColumn(),
                _Rate(),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            )
            _BAR.start()
        _BAR_USERS += 1
        return _BAR


def _release_bar() -> None:
    global _BAR, _BAR_USERS
    with _BAR_LOCK:
        _BAR_USERS -= 1
        if _BAR_USERS == 0 and _BAR is not None:
            _BAR.stop()
            _BAR = None


class Progress:
    """Tasks with a count (or none: a stage) reported as a bar, as plain lines, or not at all.

    Use as a context manager (or :meth:`start`/:meth:`stop`; :meth:`add_task` starts it too).
    Thread-safe: tasks may advance from worker threads.

    Parameters
    ----------
    mode:
        ``"bar"``, ``"lines"`` or ``"off"`` (see the module docstring); :func:`make_progress`
        chooses it from the console.
    console:
        Where the bar or the lines go (default: stderr).
    interval:
        Seconds between plain lines of a task (default: :func:`progress_interval`).
    clock, ticker:
        The time source, and whether a background thread writes a line for a task that has not
        advanced for ``interval`` seconds (both for tests).
    """

    def __init__(
        self,
        mode: Mode,
        *,
        console: Console | None = None,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        ticker: bool = True,
    ) -> None:
        self.mode: Mode = mode
        self._console = console or Console(stderr=True)
        self.interval = progress_interval() if interval is None else interval
        self._clock = clock
        self._use_ticker = ticker and mode == "lines"
        self._lock = threading.RLock()
        self._tasks: list[_Task] = []
        self._bar: RichProgress | None = None
        self._started = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start showing progress (again a no-op once started)."""
        with self._lock:
            if self._started or self.mode == "off":
                return
            self._started = True
            if self.mode == "bar":
                self._bar = _acquire_bar(self._console)
            elif self._use_ticker:
                self._stopping.clear()
                self._thread = threading.Thread(
                    target=self._tick_loop, name="deltaeval-progress", daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        """Stop: every task still running gets its last line; safe to call more than once."""
        thread = self._thread
        if thread is not None:
            self._stopping.set()
            thread.join()
            self._thread = None
        with self._lock:
            if not self._started:
                return
            self._started = False
            now = self._clock()
            for task in self._tasks:
                if not task.finished:
                    self._finish(task, now)
            if self._bar is not None:
                self._bar = None
                _release_bar()

    def __enter__(self) -> Progress:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- tasks -------------------------------------------------------------------------------

    def add_task(self, description: str, total: int | None = None, completed: int = 0) -> int:
        """A new task (``total=None``: a stage without a count); returns its id for :meth:`advance`.

        ``description`` is shown as plain text (control characters made visible, no markup).
        """
        text = visible(description)
        with self._lock:
            self.start()
            now = self._clock()
            task = _Task(text, total, completed, now, completed, now)
            self._tasks.append(task)
            if self.mode == "bar" and self._bar is not None:
                task.bar_id = self._bar.add_task(
                    escape(text), total=total, completed=completed, stage=total is None
                )
            if self.mode == "lines":
                if total is not None and completed >= total:
                    self._finish(task, now)
                else:
                    self._write(task.line(now))
            return len(self._tasks) - 1

    def advance(self, task_id: int, n: int = 1) -> None:
        """Count ``n`` more items done; the task's last line comes when it reaches its total."""
        with self._lock:
            task = self._tasks[task_id]
            if task.finished:
                return
            task.completed += n
            if self._bar is not None:
                self._bar.advance(task.bar_id, n)
            if self.mode != "lines":
                return
            now = self._clock()
            if task.total is not None and task.completed >= task.total:
                self._finish(task, now)
            elif now - task.last_line >= self.interval:
                task.last_line = now
                self._write(task.line(now))

    def finish(self, task_id: int) -> None:
        """End a task now (a stage, or work that stopped before its total)."""
        with self._lock:
            task = self._tasks[task_id]
            if not task.finished:
                self._finish(task, self._clock())

    @contextmanager
    def stage(self, description: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
        """A task for the ``with`` block; yields its ``advance(n)`` and ends it on exit."""
        task = self.add_task(description, total=total)
        try:
            yield lambda n=1: self.advance(task, n)
        finally:
            self.finish(task)

    def hook(self, description: str) -> Callable[[int], Callable[[int], None]]:
        """A progress hook as the judging protocol takes it: called with the total, returns
        ``advance(n)`` (each call adds a task)."""

        def start(total: int) -> Callable[[int], None]:
            task = self.add_task(description, total=total)
            return lambda n: self.advance(task, n)

        return start

    # -- internals ---------------------------------------------------------------------------

    def _finish(self, task: _Task, now: float) -> None:
        task.finished = True
        if self._bar is not None:
            done = max(task.completed, task.total or 1)
            if task.total is None or task.completed >= task.total:
                self._bar.update(task.bar_id, total=done, completed=done)
            else:
                self._bar.stop_task(task.bar_id)
        if self.mode == "lines":
            self._write(task.line(now, final=True))

    def _write(self, line: str) -> None:
        stream: IO[str] = self._console.file if self._console is not None else sys.stderr
        try:
            stream.write(line + "\n")
            stream.flush()
        except (OSError, ValueError):  # a closed pipe must not end the work
            pass

    def _tick_loop(self) -> None:
        wait = min(max(self.interval / 4, 0.05), 1.0)
        while not self._stopping.wait(wait):
            with self._lock:
                now = self._clock()
                for task in self._tasks:
                    if not task.finished and now - task.last_line >= self.interval:
                        task.last_line = now
                        self._write(task.line(now))


def make_progress(console: Console | None = None, *, quiet: bool = False) -> Progress:
    """Progress on ``console`` (default: stderr): a bar on a terminal, plain lines elsewhere,
    nothing when ``quiet`` (or the console is quiet)."""
    console = console or Console(stderr=True)
    if quiet or console.quiet:
        return Progress("off", console=console, interval=0.0)
    return Progress("bar" if console.is_terminal else "lines", console=console)
