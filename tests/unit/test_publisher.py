"""Publisher against a producer that stops answering: every attempt is bounded, a failed
producer is replaced (once, for every caller) and closed even when its flush would never end,
a transaction is never aborted by waiting on the broker, and past ``outage_limit`` the caller
gets ``KafkaUnavailableError``.

The fake producer follows aiokafka's surface as the publisher uses it; "hang" means a future
that never completes, which is what aiokafka gives while a partition leader is unreachable.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, LeaderNotAvailableError

from streamer.clock import SystemClock
from streamer.config import KafkaSettings
from streamer.errors import KafkaUnavailableError
from streamer.kafka.publisher import OutRecord, Publisher

REQUEST_TIMEOUT = 0.05
LIMIT = 0.4
EVENTS = [OutRecord("events", b"k", b"e1"), OutRecord("events", b"k", b"e2")]
STATE = [OutRecord("state", b"acme/members/m", b"{}")]


class Batch:
    def __init__(self) -> None:
        self.values: list[bytes | None] = []

    def append(self, *, timestamp: Any, key: bytes, value: bytes | None, headers: Any) -> object:
        self.values.append(value)
        return object()

    def record_count(self) -> int:
        return len(self.values)


class Sender:
    def __init__(self) -> None:
        self.sender_task = asyncio.ensure_future(asyncio.Event().wait())  # aiokafka's loop


class FakeProducer:
    """``hang``: "send" (acknowledgements never come), "commit" (the transaction never
    ends), "start" (bootstrap never answers), "refuse" (connection refused), "lose" (batches
    fail, yet a commit succeeds: aiokafka when a partition has no leader), or None."""

    def __init__(self, log: list[FakeProducer], hang: str | None) -> None:
        self.hang = hang
        self.sent: list[bytes | None] = []
        self.calls: list[str] = []
        self.stopped = False
        self._sender = Sender()
        log.append(self)

    def _future(self) -> asyncio.Future[object]:
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        if self.hang == "lose":  # the batch expired without a partition leader
            future.set_exception(LeaderNotAvailableError())
        elif self.hang != "send":
            future.set_result(None)
        return future

    async def start(self) -> None:
        if self.hang == "refuse":
            raise KafkaConnectionError("refused")
        if self.hang == "start":
            await asyncio.Event().wait()

    async def stop(self) -> None:
        self.calls.append("stop")
        if self.hang == "send":  # stop() flushes first: that waits as long as the sender runs
            await asyncio.wait({self._sender.sender_task})
        self._sender.sender_task.cancel()
        self.stopped = True

    async def send(self, topic: str, *, value: bytes | None, **_: Any) -> asyncio.Future[object]:
        self.sent.append(value)
        return self._future()

    async def partitions_for(self, topic: str) -> set[int]:
        return {0}

    def create_batch(self) -> Batch:
        return Batch()

    async def send_batch(self, batch: Batch, topic: str, **_: Any) -> asyncio.Future[object]:
        self.sent += batch.values
        return self._future()

    async def begin_transaction(self) -> None:
        self.calls.append("begin")

    async def commit_transaction(self) -> None:
        self.calls.append("commit")
        if self.hang in ("commit", "send"):  # commit flushes: it waits for the acks
            await asyncio.Event().wait()

    async def abort_transaction(self) -> None:
        self.calls.append("abort")
        await asyncio.Event().wait()  # what aiokafka does when the broker is gone


def publisher(delivery: str, behaviours: list[str | None]) -> tuple[Publisher, list[FakeProducer]]:
    """A publisher whose n-th producer behaves as ``behaviours[n]`` (the last one repeats)."""
    settings = KafkaSettings(
        delivery=delivery,  # type: ignore[arg-type]
        request_timeout=REQUEST_TIMEOUT,
        outage_limit=LIMIT,
    )
    made: list[FakeProducer] = []
    pub = Publisher(settings, clock=SystemClock())

    def new_producer() -> FakeProducer:
        return FakeProducer(made, behaviours[min(len(made), len(behaviours) - 1)])

    pub._new_producer = new_producer  # type: ignore[method-assign,assignment]
    pub._rng.uniform = lambda a, b: 0.01  # type: ignore[method-assign]  # short back-off
    return pub, made


@pytest.mark.parametrize(
    ("delivery", "hang"),
    [("at_least_once", "send"), ("exactly_once", "send"), ("exactly_once", "commit")],
)
async def test_an_unanswered_commit_gives_up_after_the_outage_limit(
    delivery: str, hang: str
) -> None:
    pub, made = publisher(delivery, [hang])
    await pub.start()
    started = time.monotonic()
    with pytest.raises(KafkaUnavailableError, match="unavailable for more than"):
        await pub.commit(EVENTS, STATE)
    took = time.monotonic() - started
    await pub.stop()

    assert LIMIT <= took < LIMIT + 10 * REQUEST_TIMEOUT
    assert len(made) >= 2, "a failed producer is replaced"
    assert all(p.stopped for p in made), "every producer is closed, flush or no flush"
    assert not any("abort" in p.calls for p in made), "no abort waits on a broker that is gone"


@pytest.mark.parametrize("delivery", ["at_least_once", "exactly_once"])
async def test_a_commit_outlives_a_hanging_producer_and_starts_a_new_one(delivery: str) -> None:
    pub, made = publisher(delivery, [None, "refuse", None])
    await pub.start()
    await pub.commit(EVENTS, STATE)  # works
    made[0].hang = "send"  # the broker goes away
    await pub.commit(EVENTS, STATE)  # hangs, cannot connect, then works
    await pub.stop()

    first, hung = made[0].sent[:3], made[0].sent[3:]
    assert first == [b"e1", b"e2", b"{}"]
    assert hung[:2] == [b"e1", b"e2"]
    if delivery == "at_least_once":
        assert hung == [b"e1", b"e2"], "no checkpoint before its events are acknowledged"
    assert made[1].sent == []  # never connected
    assert made[2].sent == [b"e1", b"e2", b"{}"], "the whole batch again, events first"
    assert all(p.stopped for p in made)


async def test_concurrent_commits_replace_a_failed_producer_once() -> None:
    pub, made = publisher("at_least_once", [None])
    await pub.start()
    await pub.commit(EVENTS, STATE)
    made[0].hang = "send"
    await asyncio.gather(*(pub.commit(EVENTS, STATE) for _ in range(4)))
    await pub.stop()

    assert len(made) == 2
    assert made[1].sent.count(b"e1") == 4


async def test_a_start_that_never_answers_counts_as_unavailable() -> None:
    pub, made = publisher("at_least_once", ["start"])
    with pytest.raises(KafkaUnavailableError, match=r"\(connect: TimeoutError\)"):
        await pub.start()
    assert len(made) >= 2
    assert all(p.stopped for p in made)


@pytest.mark.parametrize("delivery", ["at_least_once", "exactly_once"])
async def test_a_commit_is_not_done_while_a_record_of_it_failed(delivery: str) -> None:
    pub, made = publisher(delivery, ["lose", None])
    await pub.start()
    await pub.commit(EVENTS, STATE)
    await pub.stop()

    assert made[0].calls.count("commit") == 0, "no transaction committed with a failed batch"
    assert made[1].sent == [b"e1", b"e2", b"{}"], "the whole batch again on a new producer"
