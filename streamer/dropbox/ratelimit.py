"""Per-team rate gate: one 429 pauses every request of that team, then eases back in.

Dropbox rate-limits a team link as a whole, and rate-limited calls still count against the
limit, so after a 429 the worst thing is for the team's other tasks to keep knocking. The gate:

* limits how many requests of the team are in flight (``max_concurrency``);
* on ``pause(retry_after)`` holds back *every* new request until Retry-After (+ jitter, so
  several processes do not come back in lock-step) has passed, and drops concurrency to 1;
* adds one slot back per successful request (additive increase) until ``max_concurrency``.

With ``adaptive=True`` (what the worker uses) the gate also learns the team's rate: the limit
is not published and a 429 costs a whole Retry-After of idleness, so after the first 429 it
spaces requests at half the rate that was let through (requests admitted over the last
``window`` seconds, the limiter's saved-up burst included) and raises the pace quickly (30x
``increase``) until the second 429, where what got through is the real rate. From then on
every 429 cuts the pace to ``decrease`` times the lower of the pace and that rate, and each
second without one raises it by ``increase`` (a fraction), to find a raised limit again. Under a
steady limit this keeps the team just below it: few 429s, little idle time.

Time comes from the injected clock, so tests run an hour of pauses in a millisecond.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from streamer.clock import Clock


@dataclass
class Slot:
    """One admitted request: how long it waited, and the pause epoch it was admitted in."""

    waited: float
    epoch: int


class RateGate:
    def __init__(
        self,
        clock: Clock,
        max_concurrency: int = 8,
        rng: random.Random | None = None,
        *,
        jitter_fraction: float = 0.1,
        min_jitter: float = 0.25,
        adaptive: bool = False,
        window: float = 5.0,
        decrease: float = 0.85,
        increase: float = 0.01,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self._clock = clock
        self._rng = rng or random.Random()
        self.max_concurrency = max_concurrency
        self._limit = max_concurrency
        self._active = 0
        self._paused_until = clock.monotonic()
        self._jitter_fraction = jitter_fraction
        self._min_jitter = min_jitter
        self._waiters: list[asyncio.Future[None]] = []
        self.total_wait = 0.0  # seconds spent waiting here, all requests together
        self.pauses = 0
        self._adaptive = adaptive
        self._window = window
        self._decrease = decrease
        self._increase = increase
        self._pace: float | None = None  # requests/s; None: unpaced (no 429 seen yet)
        self._probing = False  # between the first and the second 429: raise the pace faster
        self._probe_factor = 30.0
        self._paced_since = 0.0  # when the pace was last set (for the increase)
        self._next_start = clock.monotonic()
        self._admitted: deque[float] = deque()  # admission times within the window
        self._first_admitted: float | None = None

    @property
    def limit(self) -> int:
        """Current concurrency allowance (1 right after a pause, up to ``max_concurrency``)."""
        return self._limit

    @property
    def active(self) -> int:
        return self._active

    @property
    def paused_until(self) -> float:
        """Monotonic time before which no new request starts."""
        return self._paused_until

    @property
    def pace(self) -> float | None:
        """Requests per second the gate spaces requests at (adaptive, after a 429), or None."""
        if self._pace is None:
            return None
        rate = self._increase * (self._probe_factor if self._probing else 1.0)
        grown = (self._clock.monotonic() - self._paced_since) * rate
        return self._pace * (1.0 + max(0.0, grown))

    def paused(self) -> bool:
        return self._clock.monotonic() < self._paused_until

    def pause(self, retry_after: float) -> float:
        """Hold back all new requests for ``retry_after`` seconds plus jitter; returns the pause.

        Several 429s arriving together extend the pause to the latest deadline; they do not add up.
        """
        retry_after = max(0.0, retry_after)
        jitter = self._rng.uniform(0.0, max(self._min_jitter, retry_after * self._jitter_fraction))
        now = self._clock.monotonic()
        until = now + retry_after + jitter
        already = now < self._paused_until  # a 429 of a request sent before the pause began
        self._paused_until = max(self._paused_until, until)
        self._limit = 1
        self.pauses += 1
        if self._adaptive and not already:
            self._learn(now)
        return until - now

    def _learn(self, now: float) -> None:
        """A 429: pace below what got through lately (a first estimate), or slow the pace."""
        self._forget(now)
        # at least a second: a burst let through in milliseconds says nothing of the rate
        span = max(1.0, min(self._window, now - (self._first_admitted or now)))
        seen = len(self._admitted) / span if span > 0 else None
        current = self.pace
        if current is None:
            # What got through includes the burst the limiter had saved up: start at half
            # that and probe upwards quickly; the next 429 then measures the real rate.
            pace = 0.5 * seen if seen else 1.0
            self._probing = True
        else:
            pace = current * self._decrease
            if seen:
                pace = min(pace, seen * self._decrease)
            self._probing = False
        self._pace = max(pace, 0.1)
        self._paced_since = now

    def _forget(self, now: float) -> None:
        while self._admitted and self._admitted[0] <= now - self._window:
            self._admitted.popleft()

    def note_success(self, slot: Slot | None = None) -> None:
        """A request succeeded: allow one more concurrent request (additive increase).

        Successes of requests admitted before the latest pause say nothing about the limit
        now, so passing their ``slot`` makes them not count.
        """
        if slot is not None and slot.epoch != self.pauses:
            return
        if self._limit < self.max_concurrency:
            self._limit += 1
            self._wake()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[Slot]:
        """Wait for the pause to end and a free slot."""
        waited = await self._acquire()
        try:
            yield Slot(waited=waited, epoch=self.pauses)
        finally:
            self._active -= 1
            self._wake()

    async def _acquire(self) -> float:
        started = self._clock.monotonic()
        while True:
            now = self._clock.monotonic()
            if now < self._paused_until:
                await self._clock.sleep(self._paused_until - now)
                continue
            pace = self.pace if self._adaptive else None
            if pace is not None and now < self._next_start:
                await self._clock.sleep(self._next_start - now)
                continue
            if self._active < self._limit:
                self._active += 1
                if self._adaptive:
                    self._admit(now, pace)
                waited = self._clock.monotonic() - started
                self.total_wait += waited
                return waited
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(future)
            try:
                await future
            finally:
                if future in self._waiters:
                    self._waiters.remove(future)

    def _admit(self, now: float, pace: float | None) -> None:
        if pace is not None:
            self._next_start = max(now, self._next_start) + 1.0 / pace
        if self._first_admitted is None:
            self._first_admitted = now
        self._admitted.append(now)
        self._forget(now)

    def _wake(self) -> None:
        # wake everyone; each re-checks pause and capacity (a handful of tasks per team)
        waiters, self._waiters = self._waiters, []
        for future in waiters:
            if not future.done():
                future.set_result(None)

    def __repr__(self) -> str:
        return (
            f"RateGate(limit={self._limit}/{self.max_concurrency}, active={self._active}, "
            f"paused={self.paused()})"
        )
