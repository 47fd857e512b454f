"""The backfill progress line: time covered across windows, throttled redraws, silent off a TTY."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from streamer.progress import BackfillProgress

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_fraction_is_the_share_of_time_covered_in_all_windows() -> None:
    progress = BackfillProgress(io.StringIO())
    progress.add("acme", T0, T0 + DAY)
    progress.add("acme", T0 + DAY, T0 + 2 * DAY)
    assert progress.fraction == 0.0
    progress.advanced("acme", T0, events=10, newest=T0 + DAY / 2)
    assert progress.fraction == 0.25
    progress.advanced("acme", T0, events=0, newest=T0 + DAY / 4)  # never goes back
    assert progress.fraction == 0.25
    progress.finished("acme", T0 + DAY)
    assert progress.fraction == 0.75
    assert progress.events == 10


def test_on_a_terminal_the_line_redraws_at_most_ten_times_a_second_and_ends_with_newline() -> None:
    out, ticks = Terminal(), Ticks()
    progress = BackfillProgress(out, clock=ticks)
    progress.add("acme", T0, T0 + DAY)
    for i in range(1, 11):
        progress.advanced("acme", T0, events=1, newest=T0 + DAY * i / 10)
        ticks.now += 0.02  # 50 pages a second
    progress.close()
    progress.close()  # once only
    progress.advanced("acme", T0, events=1, newest=None)  # nothing drawn after close
    text = out.getvalue()
    assert text.count("\n") == 1
    assert text.count("\r") == 3  # first page, one after 0.1 s, and the final redraw
    assert text.endswith("\n")
    assert text.rstrip("\n").split("\r")[-1].startswith("backfill [" + "#" * 30 + "] 100.0%")
    assert " 10 events " in text.split("\r")[-1]


def test_silent_when_not_a_terminal() -> None:
    out = io.StringIO()
    progress = BackfillProgress(out)
    progress.add("acme", T0, T0 + DAY)
    progress.advanced("acme", T0, events=5, newest=T0 + DAY)
    progress.close()
    assert out.getvalue() == ""
