import asyncio

import pytest

from streamer.worker import _ready, _StoppedWaiting


async def test_ready_returns_once_the_awaited_stream_is_done() -> None:
    after, stop = asyncio.Event(), asyncio.Event()
    waiting = asyncio.ensure_future(_ready(after, stop))
    await asyncio.sleep(0)
    assert not waiting.done()
    after.set()
    await waiting


async def test_a_stop_while_waiting_ends_the_stream_without_processing() -> None:
    after, stop = asyncio.Event(), asyncio.Event()
    stop.set()
    with pytest.raises(_StoppedWaiting):
        await _ready(after, stop)
