import asyncio

import pytest

from streamer.streams.gate import MemberGate, StoppedWaiting


async def _spin() -> None:
    for _ in range(5):  # let every ready callback run (no timing involved)
        await asyncio.sleep(0)


async def test_a_member_opens_once_the_members_stream_committed_it() -> None:
    committed: dict[str, bytes] = {}
    gate = MemberGate(committed, asyncio.Event())
    waiting = asyncio.ensure_future(gate.wait("dbmid:b"))
    committed["dbmid:a"] = b"{}"
    gate.advanced()
    await _spin()
    assert not waiting.done()  # another member's commit does not open it
    committed["dbmid:b"] = b"{}"
    gate.advanced()
    await _spin()
    assert waiting.done()
    await waiting
    assert gate.is_open("dbmid:a")
    assert not gate.is_open("dbmid:c")


async def test_the_end_of_the_members_listing_opens_every_member() -> None:
    gate = MemberGate({}, asyncio.Event())
    member = asyncio.ensure_future(gate.wait("dbmid:never-listed"))
    complete = asyncio.ensure_future(gate.wait_complete())
    gate.advanced()
    await _spin()
    assert not member.done()
    assert not complete.done()
    gate.finish()
    await asyncio.gather(member, complete)
    assert gate.complete
    assert gate.is_open("dbmid:anyone")


async def test_a_stop_while_waiting_ends_the_stream_without_processing() -> None:
    stop = asyncio.Event()
    gate = MemberGate({}, stop)
    waiting = asyncio.ensure_future(gate.wait("dbmid:a"))
    await _spin()
    stop.set()
    with pytest.raises(StoppedWaiting):
        await waiting
    with pytest.raises(StoppedWaiting):
        await gate.wait_complete()


async def test_an_open_member_needs_no_wait_even_after_a_stop() -> None:
    stop = asyncio.Event()
    stop.set()
    gate = MemberGate({"dbmid:a": b"{}"}, stop)
    await gate.wait("dbmid:a")
