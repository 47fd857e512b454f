import asyncio
from collections.abc import AsyncIterator

import pytest

from streamer.aio import prefetch, prefetch_many


async def numbers(n: int, produced: list[int]) -> AsyncIterator[int]:
    for i in range(n):
        produced.append(i)
        yield i


async def test_prefetch_yields_everything_in_order() -> None:
    produced: list[int] = []
    assert [i async for i in prefetch(numbers(10, produced), 2)] == list(range(10))


async def test_prefetch_runs_at_most_size_ahead() -> None:
    produced: list[int] = []
    stream = prefetch(numbers(100, produced), 2)
    first = await anext(stream)
    for _ in range(5):  # let the pump run as far as it can
        await asyncio.sleep(0)
    # one consumed + two queued + one blocked in put() = at most size + 2 produced
    assert first == 0
    assert len(produced) <= 4
    await stream.aclose()


async def test_prefetch_propagates_errors() -> None:
    async def failing() -> AsyncIterator[int]:
        yield 1
        raise ValueError("boom")

    seen: list[int] = []

    async def consume() -> None:
        async for item in prefetch(failing(), 2):
            seen.append(item)

    with pytest.raises(ValueError, match="boom"):
        await consume()
    assert seen == [1]


async def test_prefetch_closes_source_when_consumer_stops_early() -> None:
    closed = asyncio.Event()

    async def endless() -> AsyncIterator[int]:
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    async for item in prefetch(endless(), 1):
        if item == 3:
            break
    await asyncio.wait_for(closed.wait(), 1)


async def test_prefetch_fetches_ahead_while_waiting_for_after() -> None:
    produced: list[int] = []
    ready = asyncio.Event()
    stream = prefetch(numbers(100, produced), 3, after=ready.wait)
    first = asyncio.ensure_future(anext(stream))
    for _ in range(10):
        await asyncio.sleep(0)
    assert not first.done()  # nothing handed out before `after` is done...
    assert 3 <= len(produced) <= 5  # ...but the pump filled its queue meanwhile
    ready.set()
    assert await first == 0
    await stream.aclose()


async def test_prefetch_many_hands_out_what_piled_up_in_order() -> None:
    produced: list[int] = []
    stream = prefetch_many(numbers(10, produced), 3)
    first = await anext(stream)
    for _ in range(10):  # the consumer is busy: the pump fills the queue
        await asyncio.sleep(0)
    rest = [group async for group in stream]
    assert [*first, *[i for group in rest for i in group]] == list(range(10))
    assert max(len(group) for group in rest) > 1


async def test_prefetch_many_raises_after_the_items_before_the_error() -> None:
    async def failing() -> AsyncIterator[int]:
        yield 1
        raise RuntimeError("boom")

    seen: list[int] = []

    async def consume() -> None:
        async for group in prefetch_many(failing(), 2):
            seen.extend(group)

    with pytest.raises(RuntimeError, match="boom"):
        await consume()
    assert seen == [1]
