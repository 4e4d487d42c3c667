"""A one-line progress bar for long runs, drawn only on a terminal.

The bar shows points done and total, elapsed time, rate and an estimate of the time
left, redrawn in place with a carriage return::

    [##########--------------]  14/32 points  2.1 s  6.7 points/s  ~2.7 s left

It draws nothing when its stream is not a terminal (a pipe, a file, CI logs) or when
disabled, so logs stay clean. Lines printed by others to the same terminal go through
:meth:`Progress.clear` first, so that they do not mix with the bar.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from typing import TextIO

#: Width of the bar itself, in characters.
BAR_WIDTH = 24
#: Least time between two redraws, in seconds (the last point is always drawn).
MIN_INTERVAL = 0.1


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}:{secs:02d}"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def render(
    done: int,
    total: int,
    elapsed: float,
    *,
    timed: int | None = None,
    unit: str = "points",
) -> str:
    """The text of the bar for ``done`` of ``total`` after ``elapsed`` seconds.

    ``timed`` steps (default ``done``) were done in ``elapsed``; the rate and the time
    left come from them (a resumed run's earlier steps took no time here).
    """
    timed = done if timed is None else timed
    fraction = done / total if total > 0 else 1.0
    filled = round(BAR_WIDTH * min(max(fraction, 0.0), 1.0))
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    width = len(str(total))
    text = f"[{bar}] {done:>{width}}/{total} {unit}  {_duration(elapsed)}"
    if timed > 0 and elapsed > 0:
        rate = timed / elapsed
        text += f"  {rate:.3g} {unit}/s"
        if done < total:
            text += f"  ~{_duration((total - done) / rate)} left"
    return text


class Progress:
    """Progress of ``total`` steps on ``stream``, drawn only if it is a terminal.

    Args:
        total: number of steps (points) of the whole run.
        stream: where to draw, normally ``sys.stderr``.
        done: steps already done before this run started (a resumed run); they count
            toward the bar but not toward the rate.
        enabled: set to false to draw nothing whatever the stream (``--quiet``).
        unit: name of a step.
        clock: time source, for tests.

    Raises:
        ValueError: if ``total`` or ``done`` is negative or ``done > total``.
    """

    def __init__(
        self,
        total: int,
        stream: TextIO,
        *,
        done: int = 0,
        enabled: bool = True,
        unit: str = "points",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if total < 0 or not 0 <= done <= total:
            raise ValueError(
                f"done = {done}, total = {total} are out of range; "
                "allowed: 0 <= done <= total"
            )
        self.total = total
        self.done = done
        self.stream = stream
        self.unit = unit
        self._clock = clock
        self._start = clock()
        self._first = done
        self._last_draw = -float("inf")
        self._shown = False
        isatty = getattr(stream, "isatty", None)
        self.enabled = bool(enabled and callable(isatty) and isatty())

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (BrokenPipeError, OSError, ValueError):
            self.enabled = False  # the terminal went away; the run goes on

    def text(self) -> str:
        """The current bar (the rate counts only steps done in this run)."""
        elapsed = self._clock() - self._start
        return render(
            self.done,
            self.total,
            elapsed,
            timed=self.done - self._first,
            unit=self.unit,
        )

    def draw(self, *, force: bool = False) -> None:
        """Redraw the bar, at most every :data:`MIN_INTERVAL` seconds unless forced."""
        if not self.enabled:
            return
        now = self._clock()
        if not force and now - self._last_draw < MIN_INTERVAL:
            return
        self._last_draw = now
        # Never wider than the terminal: a wrapped line cannot be redrawn in place.
        columns = shutil.get_terminal_size(fallback=(80, 24)).columns
        self._write("\r\033[K" + self.text()[: max(columns - 1, 10)])
        self._shown = True

    def update(self, steps: int = 1) -> None:
        """Count ``steps`` more steps done and redraw."""
        self.done = min(self.done + steps, self.total)
        self.draw(force=self.done == self.total)

    def clear(self) -> None:
        """Erase the bar so that a line can be printed; the next update redraws it."""
        if self.enabled and self._shown:
            self._write("\r\033[K")
            self._shown = False
            self._last_draw = -float("inf")

    def close(self) -> None:
        """Draw the final state and end the line."""
        if self.enabled:
            self.draw(force=True)
            self._write("\n")
            self._shown = False
            self.enabled = False

    def __enter__(self) -> Progress:
        self.draw(force=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
