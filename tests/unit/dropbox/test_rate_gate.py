import asyncio
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamer.clock import ManualClock
from streamer.dropbox.ratelimit import RateGate


class InFlight:
    def __init__(self) -> None:
        self.now = 0
        self.peak = 0

    def enter(self) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)

    def leave(self) -> None:
        self.now -= 1


async def test_concurrency_is_limited_to_max_concurrency() -> None:
    gate = RateGate(ManualClock(), max_concurrency=8)
    flight = InFlight()

    async def request() -> None:
        async with gate.slot():
            flight.enter()
            for _ in range(5):
                await asyncio.sleep(0)
            flight.leave()

    await asyncio.gather(*(request() for _ in range(40)))
    assert flight.peak == 8
    assert gate.active == 0


async def test_pause_holds_back_every_request_until_retry_after_has_passed() -> None:
    clock = ManualClock()
    gate = RateGate(clock, max_concurrency=4, rng=random.Random(1))
    gate.pause(30)
    resume = gate.paused_until
    assert resume >= clock.monotonic() + 30
    started: list[float] = []

    async def request() -> None:
        async with gate.slot():
            started.append(clock.monotonic())

    await asyncio.gather(*(request() for _ in range(6)))
    assert len(started) == 6
    assert min(started) >= resume


async def test_after_a_pause_concurrency_comes_back_one_slot_per_success() -> None:
    clock = ManualClock()
    gate = RateGate(clock, max_concurrency=4, rng=random.Random(1))
    gate.pause(10)
    assert gate.limit == 1
    flight = InFlight()
    peaks: list[int] = []

    async def request() -> None:
        async with gate.slot():
            flight.enter()
            peaks.append(flight.now)
            for _ in range(3):
                await asyncio.sleep(0)
            flight.leave()
            gate.note_success()

    await asyncio.gather(*(request() for _ in range(12)))
    assert peaks[0] == 1
    assert max(peaks[:2]) <= 2  # not back to full width at once
    assert flight.peak == 4
    assert gate.limit == 4  # capped at max_concurrency


def test_additive_increase_stops_at_max_concurrency() -> None:
    gate = RateGate(ManualClock(), max_concurrency=3)
    gate.pause(1)
    limits = []
    for _ in range(5):
        gate.note_success()
        limits.append(gate.limit)
    assert limits == [2, 3, 3, 3, 3]


async def test_successes_of_requests_admitted_before_a_pause_do_not_restore_width() -> None:
    gate = RateGate(ManualClock(), max_concurrency=4)
    async with gate.slot() as before:
        gate.pause(10)
    gate.note_success(before)
    assert gate.limit == 1
    async with gate.slot() as after:
        pass
    gate.note_success(after)
    assert gate.limit == 2


def test_overlapping_pauses_extend_to_the_latest_deadline_without_adding_up() -> None:
    clock = ManualClock()
    gate = RateGate(clock, rng=random.Random(2), min_jitter=0.0, jitter_fraction=0.0)
    gate.pause(20)
    gate.pause(20)
    gate.pause(5)
    assert gate.paused_until == pytest.approx(clock.monotonic() + 20)
    clock.advance(10)
    gate.pause(20)
    assert gate.paused_until == pytest.approx(clock.monotonic() + 20)


@given(retry_after=st.floats(min_value=0, max_value=3600), seed=st.integers())
def test_pause_jitter_is_bounded(retry_after: float, seed: int) -> None:
    clock = ManualClock()
    gate = RateGate(clock, rng=random.Random(seed))
    paused = gate.pause(retry_after)
    assert retry_after <= paused <= retry_after + max(0.25, retry_after * 0.1) + 1e-9


async def test_slot_reports_the_time_waited() -> None:
    clock = ManualClock()
    gate = RateGate(clock, rng=random.Random(0), min_jitter=0.0, jitter_fraction=0.0)
    async with gate.slot() as slot:
        assert slot.waited == 0
    gate.pause(7)
    async with gate.slot() as slot:
        assert slot.waited == pytest.approx(7)
    assert gate.total_wait == pytest.approx(7)


async def test_a_cancelled_waiter_does_not_leak_a_slot() -> None:
    gate = RateGate(ManualClock(), max_concurrency=1)
    release = asyncio.Event()

    async def holder() -> None:
        async with gate.slot():
            await release.wait()

    async def waiter() -> None:
        async with gate.slot():
            pass

    hold = asyncio.create_task(holder())
    await asyncio.sleep(0)
    blocked = asyncio.create_task(waiter())
    await asyncio.sleep(0)
    blocked.cancel()
    await asyncio.gather(blocked, return_exceptions=True)
    release.set()
    await hold
    assert gate.active == 0
    async with gate.slot():
        assert gate.active == 1
