"""The real broker does what the streamer relies on: keyed records with headers, transactions
(idempotent producer, read_committed consumers never see aborted data) and SASL logins.

No sleeps: consumers read until the expected records are there or a deadline passes, and
"not visible" is proven by reading up to a marker written after the aborted transaction."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaConnectionError

from tests.kafka_broker import KafkaSasl, KafkaTopicFactory, consume_exactly

pytestmark = pytest.mark.kafka


@asynccontextmanager
async def started(client: Any) -> AsyncIterator[Any]:
    """``start()`` a producer/consumer and always ``stop()`` it."""
    await client.start()
    try:
        yield client
    finally:
        await client.stop()


def assigned_consumer(bootstrap: str, topic: str, **config: Any) -> AIOKafkaConsumer:
    """A group-less consumer of partition 0 from the beginning."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **config,
    )
    consumer.assign([TopicPartition(topic, 0)])
    return consumer


def values(records: list[Any]) -> list[bytes]:
    return [record.value for record in records]


@pytest.mark.parametrize("new_topic", [3], indirect=True)
async def test_keyed_records_with_headers_round_trip(kafka_bootstrap: str, new_topic: str) -> None:
    sent = [
        (
            f"member-{i % 4}".encode(),
            f"event-{i}".encode(),
            [("event_type", b"member.updated"), ("seq", str(i).encode())],
        )
        for i in range(20)
    ]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    async with started(producer):
        partition_of: dict[bytes, int] = {}
        for key, value, headers in sent:
            meta = await producer.send_and_wait(new_topic, value, key=key, headers=headers)
            # the default partitioner keeps a key on one partition
            assert partition_of.setdefault(key, meta.partition) == meta.partition

    group = f"tests-{uuid.uuid4().hex[:8]}"
    consumer = AIOKafkaConsumer(
        new_topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    async with started(consumer):
        records = await consume_exactly(consumer, len(sent))
        received = [(r.key, r.value, [(k, bytes(v)) for k, v in r.headers]) for r in records]
        assert sorted(received) == sorted(sent)
        for key in partition_of:  # per key, order is preserved
            assert [v for k, v, _ in received if k == key] == [v for k, v, _ in sent if k == key]
        assert {r.partition for r in records} == set(partition_of.values())

        await consumer.commit()
        committed = {p: await consumer.committed(TopicPartition(new_topic, p)) for p in range(3)}
        end = await consumer.end_offsets([TopicPartition(new_topic, p) for p in range(3)])
        assert committed == {tp.partition: offset for tp, offset in end.items()}


async def test_committed_transaction_is_read_committed(
    kafka_bootstrap: str, new_topic: str
) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap,
        transactional_id=f"tests-tx-{uuid.uuid4().hex[:8]}",
        enable_idempotence=True,
    )
    committed_reader = assigned_consumer(
        kafka_bootstrap, new_topic, isolation_level="read_committed"
    )
    uncommitted_reader = assigned_consumer(kafka_bootstrap, new_topic)
    tp = TopicPartition(new_topic, 0)
    async with started(producer), started(committed_reader), started(uncommitted_reader):
        await producer.begin_transaction()
        for i in range(5):
            await producer.send_and_wait(new_topic, f"tx-{i}".encode(), key=b"k")
        # open transaction: written, but the last stable offset stays in front of it
        assert (await uncommitted_reader.end_offsets([tp]))[tp] == 5
        assert (await committed_reader.end_offsets([tp]))[tp] == 0
        await producer.commit_transaction()

        # five records plus the commit marker
        assert (await committed_reader.end_offsets([tp]))[tp] == 6
        records = await consume_exactly(committed_reader, 5)
        assert values(records) == [f"tx-{i}".encode() for i in range(5)]
        assert [r.offset for r in records] == list(range(5))


async def test_aborted_transaction_is_invisible_to_read_committed(
    kafka_bootstrap: str, new_topic: str
) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap,
        transactional_id=f"tests-tx-{uuid.uuid4().hex[:8]}",
        enable_idempotence=True,
    )
    async with started(producer):
        await producer.begin_transaction()
        for i in range(3):
            await producer.send_and_wait(new_topic, f"aborted-{i}".encode())
        await producer.abort_transaction()
        # a committed marker behind the aborted batch: reading up to it proves absence
        async with producer.transaction():
            await producer.send_and_wait(new_topic, b"marker")

    committed_reader = assigned_consumer(
        kafka_bootstrap, new_topic, isolation_level="read_committed"
    )
    async with started(committed_reader):
        assert values(await consume_exactly(committed_reader, 1)) == [b"marker"]

    uncommitted_reader = assigned_consumer(
        kafka_bootstrap, new_topic, isolation_level="read_uncommitted"
    )
    async with started(uncommitted_reader):
        assert values(await consume_exactly(uncommitted_reader, 4)) == [
            b"aborted-0",
            b"aborted-1",
            b"aborted-2",
            b"marker",
        ]


def sasl_config(sasl: KafkaSasl, mechanism: str, password: str | None = None) -> dict[str, Any]:
    return {
        "bootstrap_servers": sasl.bootstrap_servers,
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": mechanism,
        "sasl_plain_username": sasl.username,
        "sasl_plain_password": sasl.password if password is None else password,
    }


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
async def test_sasl_produce_consume(
    kafka_sasl: KafkaSasl, kafka_topic_factory: KafkaTopicFactory, mechanism: str
) -> None:
    if mechanism not in kafka_sasl.mechanisms:
        pytest.skip(f"the broker does not offer {mechanism}")
    topic = await kafka_topic_factory()
    config = sasl_config(kafka_sasl, mechanism)
    async with started(AIOKafkaProducer(acks="all", **config)) as producer:
        for i in range(3):
            await producer.send_and_wait(topic, f"{mechanism}-{i}".encode(), key=b"member")

    consumer = AIOKafkaConsumer(
        group_id=None, enable_auto_commit=False, auto_offset_reset="earliest", **config
    )
    consumer.assign([TopicPartition(topic, 0)])
    async with started(consumer):
        records = await consume_exactly(consumer, 3)
    assert values(records) == [f"{mechanism}-{i}".encode() for i in range(3)]


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256"])
async def test_sasl_rejects_a_wrong_password(
    kafka_sasl: KafkaSasl, mechanism: str, caplog: pytest.LogCaptureFixture
) -> None:
    producer = AIOKafkaProducer(
        request_timeout_ms=10_000, **sasl_config(kafka_sasl, mechanism, password="wrong")
    )
    # aiokafka logs the broker's SaslAuthenticationFailed and raises "unable to bootstrap"
    with caplog.at_level(logging.DEBUG, logger="aiokafka"), pytest.raises(KafkaConnectionError):
        await producer.start()
    await producer.stop()
    assert "SaslAuthenticationFailed" in caplog.text
