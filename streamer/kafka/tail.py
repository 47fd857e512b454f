"""Read events back from the topics: for the demo, for troubleshooting, for tests.

Reads with ``read_committed`` (what a SIEM consumer should use, and required in exactly-once
mode) and without a consumer group, so it never moves anyone's committed offsets.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from streamer.config import KafkaSettings
from streamer.errors import KafkaUnavailableError
from streamer.kafka.connection import client_kwargs, partitions_of, stop_consumer
from streamer.kafka.diagnose import kafka_error


@dataclass(frozen=True, slots=True)
class Received:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]


async def tail(
    settings: KafkaSettings,
    topics: Sequence[str],
    *,
    from_beginning: bool,
    stop: asyncio.Event,
) -> AsyncIterator[Received]:
    consumer = AIOKafkaConsumer(
        **client_kwargs(settings),
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    try:
        await consumer.start()
        assigned = []
        for topic in topics:
            assigned += [TopicPartition(topic, p) for p in await partitions_of(consumer, topic)]
        if not assigned:
            raise KafkaUnavailableError(
                f"none of the topics {', '.join(topics)} exist on {settings.bootstrap_servers}"
            )
        consumer.assign(assigned)
        if from_beginning:
            await consumer.seek_to_beginning(*assigned)
        else:
            await consumer.seek_to_end(*assigned)
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=500)
            for messages in batches.values():
                for m in messages:
                    yield Received(
                        m.topic,
                        m.partition,
                        m.offset,
                        m.key,
                        m.value,
                        {k: v for k, v in m.headers},
                    )
    except KafkaError as exc:
        raise await kafka_error(settings, exc, "to read") from None
    finally:
        await stop_consumer(consumer)
