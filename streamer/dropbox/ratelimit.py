"""Per-team rate gate: one 429 pauses every request of that team, then eases back in.

Dropbox rate-limits a team link as a whole, and rate-limited calls still count against the
limit, so after a 429 the worst thing is for the team's other tasks to keep knocking. The gate:

* limits how many requests of the team are in flight (``max_concurrency``);
* on ``pause(retry_after)`` holds back *every* new request until Retry-After (+ jitter, so
  several processes do not come back in lock-step) has passed, and drops concurrency to 1;
* adds one slot back per successful request (additive increase) until ``max_concurrency``.

Time comes from the injected clock, so tests run an hour of pauses in a millisecond.
"""

from __future__ import annotations

import asyncio
import random
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

    def paused(self) -> bool:
        return self._clock.monotonic() < self._paused_until

    def pause(self, retry_after: float) -> float:
        """Hold back all new requests for ``retry_after`` seconds plus jitter; returns the pause.

        Several 429s arriving together extend the pause to the latest deadline; they do not add up.
        """
        retry_after = max(0.0, retry_after)
        jitter = self._rng.uniform(0.0, max(self._min_jitter, retry_after * self._jitter_fraction))
        until = self._clock.monotonic() + retry_after + jitter
        self._paused_until = max(self._paused_until, until)
        self._limit = 1
        self.pauses += 1
        return until - self._clock.monotonic()

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
            if self._active < self._limit:
                self._active += 1
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
