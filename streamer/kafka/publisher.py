"""The one Kafka producer: batches of events plus the state they advance.

``commit(events, state)`` is the only write path, and it keeps the invariant that a checkpoint
never moves ahead of the events it covers:

- ``at_least_once``: the events are sent and acknowledged (acks=all, idempotent producer)
  before the state records are sent. A crash in between re-emits those events on restart,
  with the same ``event_id``.
- ``exactly_once``: events and state go in one Kafka transaction; ``read_committed``
  consumers see both or neither.

When Kafka is unreachable, ``commit`` retries the whole batch with capped backoff until
``kafka.outage_limit`` has passed, then raises ``KafkaUnavailableError``. Callers wait on it,
which is the backpressure: fetching pauses while Kafka is down, and nothing is dropped.

No producer call is awaited without a bound (aiokafka waits for an unreachable leader
forever): an attempt (start, transaction, sends, acknowledgements) that outlasts
``ATTEMPT_TIMEOUTS`` request timeouts counts as failed. A failed
producer is replaced, once for all the streams sharing it. A transaction is never aborted by
waiting on the broker (an outage can leave that wait pending forever): the replacement producer
takes over the transactional id, and Kafka aborts what its predecessor left open.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, ProducerFenced

from streamer.clock import Clock
from streamer.config import KafkaSettings
from streamer.errors import KafkaUnavailableError
from streamer.kafka.connection import client_kwargs
from streamer.kafka.partitioning import partition_for
from streamer.metrics import Metrics

log = structlog.get_logger(__name__)

ATTEMPT_TIMEOUTS = 3
"""One commit attempt or producer start may take this many ``kafka.request_timeout``s (less
when the outage limit comes first)."""

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class OutRecord:
    topic: str
    key: bytes
    value: bytes | None  # None is a tombstone (deletes the key in a compacted topic)
    headers: Headers = field(default_factory=list)


class Publisher:
    def __init__(
        self, settings: KafkaSettings, *, clock: Clock, metrics: Metrics | None = None
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._metrics = metrics
        self._producer: AIOKafkaProducer | None = None
        self._tx_lock = asyncio.Lock()  # one open transaction at a time per producer
        self._connect_lock = asyncio.Lock()  # one replacement producer for every caller
        self._rng = random.Random()

    @property
    def connected(self) -> bool:
        return self._producer is not None

    @property
    def transactional(self) -> bool:
        return self._settings.delivery == "exactly_once"

    async def start(self) -> None:
        await self._ready(self._clock.monotonic() + self._settings.outage_limit)

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await self._close(producer)

    async def commit(self, events: Sequence[OutRecord], state: Sequence[OutRecord]) -> None:
        if not events and not state:
            return
        deadline = self._clock.monotonic() + self._settings.outage_limit
        started = self._clock.monotonic()
        # one open transaction at a time per producer; plain sends run side by side
        slot = self._tx_lock if self.transactional else contextlib.nullcontext()
        while True:
            try:
                async with slot:
                    producer = await self._ready(deadline)
                    try:
                        async with asyncio.timeout(self._attempt_timeout(deadline)):
                            if self.transactional:
                                await self._commit_transaction(producer, events, state)
                            else:
                                await self._send_all(producer, events)
                                await self._send_all(producer, state, remember=False)
                    except (KafkaError, TimeoutError):
                        await self._replace(producer)
                        raise
                break
            except ProducerFenced:
                raise KafkaUnavailableError(
                    "another worker took over this transactional id "
                    f"({self._transactional_id()}); run one worker per kafka.transactional_id"
                ) from None
            except (KafkaError, TimeoutError) as exc:
                if self._metrics:
                    self._metrics.publish_errors.labels(type(exc).__name__).inc()
                await self._wait_or_give_up(exc, deadline, "publish")
        if self._metrics:
            self._metrics.publish_latency.observe(self._clock.monotonic() - started)

    @staticmethod
    async def _commit_transaction(
        producer: AIOKafkaProducer, events: Sequence[OutRecord], state: Sequence[OutRecord]
    ) -> None:
        # Not ``producer.transaction()``: on an error it awaits an abort with no bound. A failed
        # attempt replaces the producer instead, which aborts the open transaction.
        await producer.begin_transaction()
        futures = await Publisher._enqueue(producer, events)
        futures += await Publisher._enqueue(producer, state, remember=False)
        # Every record acknowledged before the commit: a batch whose partition has no leader
        # (a broker shutting down) fails on its own once it expires, and aiokafka would still
        # commit the transaction without it: events lost, or a checkpoint without its events.
        await asyncio.gather(*futures)
        await producer.commit_transaction()

    @staticmethod
    async def _send_all(
        producer: AIOKafkaProducer, records: Sequence[OutRecord], *, remember: bool = True
    ) -> None:
        if records:
            futures = await Publisher._enqueue(producer, records, remember=remember)
            await asyncio.gather(*futures)

    @staticmethod
    async def _enqueue(
        producer: AIOKafkaProducer, records: Sequence[OutRecord], *, remember: bool = True
    ) -> list[asyncio.Future[object]]:
        """Queue ``records`` in order, one record batch per topic-partition at a time.

        aiokafka's batch API costs about a third of a per-record ``send()``. Partitions are
        chosen exactly as ``send()`` would (its default partitioner is the Java client's
        murmur2 of the key): a key always lands in the same partition, in order.
        ``remember``: keep the keys' hashes for the next commits (``partition_for``).
        """
        futures: list[asyncio.Future[object]] = []
        partitions: dict[str, list[int]] = {}
        chosen: dict[tuple[str, bytes], int] = {}  # (topic, key) -> partition, this call only
        open_batches: dict[tuple[str, int], Any] = {}
        for record in records:
            topic, key = record.topic, record.key
            partition = chosen.get((topic, key))
            if partition is None:
                every = partitions.get(topic)
                if every is None:
                    every = partitions[topic] = sorted(await producer.partitions_for(topic))
                partition = chosen[(topic, key)] = every[
                    partition_for(key, len(every), remember=remember)
                ]
            batch = open_batches.get((topic, partition))
            if batch is None:
                batch = open_batches[(topic, partition)] = producer.create_batch()
            if not _append(batch, record):
                # full: queue it and start the next one for this partition
                futures.append(await _submit(producer, batch, topic, partition))
                batch = open_batches[(topic, partition)] = producer.create_batch()
                if not _append(batch, record):
                    # larger than a whole batch: let send() deal with it (and say why)
                    futures.append(
                        await producer.send(
                            topic,
                            value=record.value,
                            key=key,
                            partition=partition,
                            headers=record.headers,
                        )
                    )
        for (topic, partition), batch in open_batches.items():
            if batch.record_count():
                futures.append(await _submit(producer, batch, topic, partition))
        return futures

    async def _wait_or_give_up(self, exc: Exception, deadline: float, what: str) -> None:
        now = self._clock.monotonic()
        if now >= deadline:
            raise KafkaUnavailableError(
                f"Kafka at {self._settings.bootstrap_servers} unavailable for more than "
                f"{self._settings.outage_limit:.0f} s ({what}: {type(exc).__name__}); "
                "state is safe: restart the worker once Kafka is back"
            ) from None
        delay = min(deadline - now, self._rng.uniform(0.5, 2.0))
        log.warning("kafka_unavailable", action=what, error=type(exc).__name__, retry_in=delay)
        await self._clock.sleep(delay)

    def _transactional_id(self) -> str:
        return self._settings.transactional_id or f"{self._settings.client_id}-tx"

    def _new_producer(self) -> AIOKafkaProducer:
        compression = self._settings.compression
        return AIOKafkaProducer(
            **client_kwargs(self._settings),
            acks="all",
            enable_idempotence=True,
            transactional_id=self._transactional_id() if self.transactional else None,
            compression_type=None if compression == "none" else compression,
            linger_ms=5,
            max_batch_size=512 * 1024,
            max_request_size=4 * 1024 * 1024,
        )

    def _attempt_timeout(self, deadline: float) -> float:
        """How long one attempt may take: a few request timeouts, cut at the outage deadline
        (an attempt still pending then means Kafka was unreachable for the whole limit)."""
        timeout = self._settings.request_timeout
        remaining = deadline - self._clock.monotonic()
        return max(timeout, min(ATTEMPT_TIMEOUTS * timeout, remaining))

    async def _ready(self, deadline: float) -> AIOKafkaProducer:
        """The producer, started now if there is none (one caller starts it, the others wait)."""
        async with self._connect_lock:
            while self._producer is None:
                producer = self._new_producer()
                try:
                    async with asyncio.timeout(self._attempt_timeout(deadline)):
                        await producer.start()
                except (KafkaError, TimeoutError) as exc:
                    await self._close(producer)
                    await self._wait_or_give_up(exc, deadline, "connect")
                else:
                    self._producer = producer
            return self._producer

    async def _replace(self, failed: AIOKafkaProducer) -> None:
        """Drop a producer that failed; the next ``_ready`` starts another. A no-op when a
        concurrent caller already replaced it."""
        if self._producer is failed:
            self._producer = None
        await self._close(failed)

    async def _close(self, producer: AIOKafkaProducer) -> None:
        """Stop ``producer`` without waiting on a broker that is gone. ``stop()`` flushes
        first, and while the partition leader is unreachable aiokafka retries its batches
        forever; after a request timeout the sender task is cancelled (aiokafka has no public
        forced close), which lets ``stop()`` close the connections. A failed close must not
        mask the real error."""
        timeout = self._settings.request_timeout
        stopping = asyncio.ensure_future(producer.stop())
        with contextlib.suppress(KafkaError, TimeoutError, OSError):
            try:
                await asyncio.wait_for(asyncio.shield(stopping), timeout)
            except TimeoutError:
                sender = getattr(getattr(producer, "_sender", None), "sender_task", None)
                if sender is not None:
                    sender.cancel()
                await asyncio.wait_for(stopping, timeout)


async def _submit(
    producer: AIOKafkaProducer, batch: Any, topic: str, partition: int
) -> asyncio.Future[object]:
    # A closed batch does not linger (``linger_ms``): the caller is about to wait for it.
    close = getattr(batch, "close", None)  # (test doubles of the producer may lack it)
    if close is not None:
        close()
    future: asyncio.Future[object] = await producer.send_batch(batch, topic, partition=partition)
    return future


def _append(batch: Any, record: OutRecord) -> bool:
    """Add ``record`` to an aiokafka ``BatchBuilder``; False when it does not fit."""
    added = batch.append(timestamp=None, key=record.key, value=record.value, headers=record.headers)
    return added is not None
