"""The adaptive rate gate against a token-bucket limit (the simulator's), on a manual clock."""

import random

import pytest

from streamer.clock import ManualClock
from streamer.dropbox.ratelimit import RateGate
from streamer.simulator.faults import TokenBucket


async def hammer(gate: RateGate, bucket: TokenBucket, clock: ManualClock, requests: int) -> int:
    """Send ``requests`` successful requests as fast as the gate lets; return the 429s."""
    rejected = ok = 0
    while ok < requests:
        async with gate.slot() as slot:
            retry_after = bucket.take()
        if retry_after:
            rejected += 1
            gate.pause(retry_after)
        else:
            ok += 1
            gate.note_success(slot)
        await clock.sleep(0.001)  # the request's own time
    return rejected


@pytest.mark.parametrize("rate", [5.0, 20.0, 80.0])
async def test_under_a_steady_limit_the_gate_uses_it_with_few_429s(rate: float) -> None:
    clock = ManualClock()
    gate = RateGate(clock, 4, rng=random.Random(1), adaptive=True)
    bucket = TokenBucket(clock, rate=rate, burst=0)
    started = clock.monotonic()
    requests = int(rate * 60)  # a minute's worth
    rejected = await hammer(gate, bucket, clock, requests)
    used = requests / (clock.monotonic() - started) / rate
    assert used >= 0.9
    assert rejected / (requests + rejected) <= 0.02


async def test_without_a_429_the_gate_does_not_pace() -> None:
    clock = ManualClock()
    gate = RateGate(clock, 4, adaptive=True)
    for _ in range(100):
        async with gate.slot():
            pass
    assert gate.pace is None
    assert clock.slept == []


async def test_the_pace_finds_a_raised_limit_again() -> None:
    clock = ManualClock()
    gate = RateGate(clock, 4, rng=random.Random(2), adaptive=True)
    await hammer(gate, TokenBucket(clock, rate=10.0, burst=0), clock, 300)
    slow = gate.pace
    assert slow is not None
    await hammer(gate, TokenBucket(clock, rate=40.0, burst=0), clock, 3000)
    assert gate.pace is not None
    assert gate.pace > 2 * slow


def test_the_non_adaptive_gate_never_paces() -> None:
    gate = RateGate(ManualClock(), 4)
    gate.pause(1)
    assert gate.pace is None
