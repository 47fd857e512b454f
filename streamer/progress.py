"""A progress line for ``streamer run --backfill`` on a terminal; silent anywhere else.

Progress is simulated time covered: each backfill window reports the newest event time it has
committed (and its end once finished), so the line moves with the pages, not only when whole
windows finish. It redraws at most ``MAX_REDRAWS_PER_SECOND`` times a second and ends with a
newline in ``close()``. A plain ``\\r`` line on stderr needs no dependency (tqdm and rich would
do the same here, and neither is needed anywhere else).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import TextIO

MAX_REDRAWS_PER_SECOND = 10
WIDTH = 30


class BackfillProgress:
    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        enabled: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._out = stream or sys.stderr
        self.enabled = self._out.isatty() if enabled is None else enabled
        self._clock = clock
        self._started = clock()
        self._drawn_at: float | None = None
        self._windows: dict[tuple[str, datetime], tuple[datetime, datetime]] = {}
        self._done: dict[tuple[str, datetime], float] = {}  # seconds of the window covered
        self.events = 0
        self._closed = False

    def add(self, team: str, start: datetime, end: datetime) -> None:
        self._windows[(team, start)] = (start, end)
        self._done[(team, start)] = 0.0

    def advanced(self, team: str, start: datetime, *, events: int, newest: datetime | None) -> None:
        """A page of the window starting at ``start`` was committed."""
        self.events += events
        window = self._windows[(team, start)]
        if newest is not None:
            covered = min((newest - window[0]).total_seconds(), _span(window))
            self._done[(team, start)] = max(self._done[(team, start)], covered)
        self._draw()

    def finished(self, team: str, start: datetime) -> None:
        self._done[(team, start)] = _span(self._windows[(team, start)])
        self._draw()

    @property
    def fraction(self) -> float:
        total = sum(_span(w) for w in self._windows.values())
        return sum(self._done.values()) / total if total > 0 else 1.0

    def line(self) -> str:
        fraction = self.fraction
        filled = round(WIDTH * fraction)
        bar = "#" * filled + "." * (WIDTH - filled)
        elapsed = self._clock() - self._started
        return f"backfill [{bar}] {fraction:6.1%}  {self.events} events  {elapsed:.0f} s"

    def close(self) -> None:
        """Draw the last state and end the line (once; later calls do nothing)."""
        if self.enabled and self._windows and not self._closed:
            self._draw(force=True)
            self._out.write("\n")
            self._out.flush()
        self._closed = True

    def _draw(self, *, force: bool = False) -> None:
        if not self.enabled or self._closed:
            return
        now = self._clock()
        recently = self._drawn_at is not None and now - self._drawn_at < 1 / MAX_REDRAWS_PER_SECOND
        if recently and not force:
            return
        self._drawn_at = now
        self._out.write("\r" + self.line() + "\x1b[K")
        self._out.flush()


def _span(window: tuple[datetime, datetime]) -> float:
    return max(0.0, (window[1] - window[0]).total_seconds())
