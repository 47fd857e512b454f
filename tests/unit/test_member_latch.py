import asyncio

import pytest

from streamer.streams.latch import MemberLatch, StoppedWaiting


async def _spin() -> None:
    for _ in range(5):  # let every ready callback run (no timing involved)
        await asyncio.sleep(0)


async def test_a_member_opens_once_the_members_stream_committed_it() -> None:
    committed: dict[str, bytes] = {}
    latch = MemberLatch(committed, asyncio.Event())
    waiting = asyncio.ensure_future(latch.wait("dbmid:b"))
    committed["dbmid:a"] = b"{}"
    latch.advanced()
    await _spin()
    assert not waiting.done()  # another member's commit does not open it
    committed["dbmid:b"] = b"{}"
    latch.advanced()
    await _spin()
    assert waiting.done()
    await waiting
    assert latch.is_open("dbmid:a")
    assert not latch.is_open("dbmid:c")


async def test_the_end_of_the_members_listing_opens_every_member() -> None:
    latch = MemberLatch({}, asyncio.Event())
    member = asyncio.ensure_future(latch.wait("dbmid:never-listed"))
    complete = asyncio.ensure_future(latch.wait_complete())
    latch.advanced()
    await _spin()
    assert not member.done()
    assert not complete.done()
    latch.finish()
    await asyncio.gather(member, complete)
    assert latch.complete
    assert latch.is_open("dbmid:anyone")


async def test_a_stop_while_waiting_ends_the_stream_without_processing() -> None:
    stop = asyncio.Event()
    latch = MemberLatch({}, stop)
    waiting = asyncio.ensure_future(latch.wait("dbmid:a"))
    await _spin()
    stop.set()
    with pytest.raises(StoppedWaiting):
        await waiting
    with pytest.raises(StoppedWaiting):
        await latch.wait_complete()


async def test_an_open_member_needs_no_wait_even_after_a_stop() -> None:
    stop = asyncio.Event()
    stop.set()
    latch = MemberLatch({"dbmid:a": b"{}"}, stop)
    await latch.wait("dbmid:a")
