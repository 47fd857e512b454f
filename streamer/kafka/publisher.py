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
        self._rng = random.Random()

    @property
    def connected(self) -> bool:
        return self._producer is not None

    @property
    def transactional(self) -> bool:
        return self._settings.delivery == "exactly_once"

    async def start(self) -> None:
        deadline = self._clock.monotonic() + self._settings.outage_limit
        while True:
            try:
                self._producer = self._new_producer()
                await self._producer.start()
                return
            except KafkaError as exc:
                await self._discard_producer()
                await self._wait_or_give_up(exc, deadline, "connect")

    async def stop(self) -> None:
        await self._discard_producer()

    async def commit(self, events: Sequence[OutRecord], state: Sequence[OutRecord]) -> None:
        if not events and not state:
            return
        deadline = self._clock.monotonic() + self._settings.outage_limit
        started = self._clock.monotonic()
        while True:
            try:
                if self.transactional:
                    await self._commit_transaction(events, state)
                else:
                    await self._send_all(events)
                    await self._send_all(state)
                break
            except ProducerFenced:
                raise KafkaUnavailableError(
                    "another worker took over this transactional id "
                    f"({self._transactional_id()}); run one worker per kafka.transactional_id"
                ) from None
            except KafkaError as exc:
                if self._metrics:
                    self._metrics.publish_errors.labels(type(exc).__name__).inc()
                await self._discard_producer()
                await self._wait_or_give_up(exc, deadline, "publish")
                self._producer = self._new_producer()
                try:
                    await self._producer.start()
                except KafkaError:
                    await self._discard_producer()
                    continue
        if self._metrics:
            self._metrics.publish_latency.observe(self._clock.monotonic() - started)

    async def _commit_transaction(
        self, events: Sequence[OutRecord], state: Sequence[OutRecord]
    ) -> None:
        producer = self._require()
        async with self._tx_lock, producer.transaction():
            await self._enqueue(producer, events)
            await self._enqueue(producer, state)
        # leaving the transaction block flushes and commits; an error aborts it

    async def _send_all(self, records: Sequence[OutRecord]) -> None:
        if records:
            futures = await self._enqueue(self._require(), records)
            await asyncio.gather(*futures)

    @staticmethod
    async def _enqueue(
        producer: AIOKafkaProducer, records: Sequence[OutRecord]
    ) -> list[asyncio.Future[object]]:
        """Queue ``records`` in order, one record batch per topic-partition at a time.

        aiokafka's batch API costs about a third of a per-record ``send()``. Partitions are
        chosen exactly as ``send()`` would (its default partitioner is the Java client's
        murmur2 of the key): a key always lands in the same partition, in order.
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
                partition = chosen[(topic, key)] = every[partition_for(key, len(every))]
            batch = open_batches.get((topic, partition))
            if batch is None:
                batch = open_batches[(topic, partition)] = producer.create_batch()
            if not _append(batch, record):
                # full: queue it and start the next one for this partition
                futures.append(await producer.send_batch(batch, topic, partition=partition))
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
                futures.append(await producer.send_batch(batch, topic, partition=partition))
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

    def _require(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise KafkaUnavailableError("publisher used before start()")
        return self._producer

    async def _discard_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            # it is being replaced; a failed close must not mask the real error
            with contextlib.suppress(KafkaError, TimeoutError, OSError):
                await asyncio.wait_for(producer.stop(), self._settings.request_timeout)


def _append(batch: Any, record: OutRecord) -> bool:
    """Add ``record`` to an aiokafka ``BatchBuilder``; False when it does not fit."""
    added = batch.append(timestamp=None, key=record.key, value=record.value, headers=record.headers)
    return added is not None
