"""docs/recipes/consumer.py against the real broker: it reads read_committed (an aborted
transaction is never seen), drops duplicates by event id (native and OCSF records), and
commits its offsets (a restart of the same group re-reads nothing)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from streamer.events.formats import encode_native, encode_ocsf
from tests.kafka_broker import KafkaTopicFactory

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "docs" / "recipes" / "consumer.py"
sys.path.insert(0, str(ROOT / "tests" / "unit" / "events"))
from event_support import sample_events  # noqa: E402


def recipe() -> ModuleType:
    spec = importlib.util.spec_from_file_location("consumer_recipe", RECIPE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up
    spec.loader.exec_module(module)
    return module


async def _fill(bootstrap: str, topic: str) -> tuple[set[str], set[str]]:
    """Native and OCSF records with duplicates, plus an aborted transaction.
    Returns (ids that must arrive once each, ids that must never arrive)."""
    events = list(sample_events().values())
    native, ocsf, aborted = events[:8], events[8:14], events[14:18]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for event in [*native, *native[:3]]:  # at-least-once style repeats
            value, headers = encode_native(event)
            await producer.send_and_wait(topic, value, key=event.key(), headers=headers)
        for event in [*ocsf, *ocsf[:2]]:
            value, headers = encode_ocsf(event)
            await producer.send_and_wait(topic, value, key=event.key(), headers=headers)
    finally:
        await producer.stop()
    tx = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=f"t-{uuid.uuid4().hex}")
    await tx.start()
    try:
        await tx.begin_transaction()
        for event in aborted:
            value, headers = encode_native(event)
            await tx.send_and_wait(topic, value, key=event.key(), headers=headers)
        await tx.abort_transaction()
    finally:
        await tx.stop()
    return {e.event_id for e in [*native, *ocsf]}, {e.event_id for e in aborted}


async def test_consumer_reads_committed_dedupes_and_commits(
    kafka_bootstrap: str, kafka_topic_factory: KafkaTopicFactory
) -> None:
    topic = await kafka_topic_factory(3)
    once, never = await _fill(kafka_bootstrap, topic)
    consumer = recipe()
    got: list[dict[str, Any]] = []

    async def handle(event: dict[str, Any], headers: Any) -> None:
        got.append(event)

    group = f"siem-{uuid.uuid4().hex[:8]}"
    stats = await consumer.consume(kafka_bootstrap, [topic], group, handle=handle, exit_when_idle=3)
    ids = [e.get("event_id") or e["metadata"]["uid"] for e in got]
    assert sorted(ids) == sorted(once)  # each exactly once
    assert not never & set(ids)  # the aborted transaction stays invisible
    assert (stats.received, stats.duplicates) == (len(once) + 5, 5)
    assert sum("class_uid" in e for e in got) == 6  # the OCSF ones, parsed as such

    again = await consumer.consume(kafka_bootstrap, [topic], group, handle=handle, exit_when_idle=2)
    assert again.received == 0  # offsets were committed after handling


def test_deduper_is_bounded_lru() -> None:
    dedupe = recipe().Deduper(capacity=2)
    assert not dedupe.seen("a")
    assert not dedupe.seen("b")
    assert dedupe.seen("a")  # a becomes the most recent
    assert not dedupe.seen("c")  # evicts b, the least recently seen
    assert dedupe.seen("a")
    assert not dedupe.seen("b")


async def test_the_script_runs_as_a_command(
    kafka_bootstrap: str, kafka_topic_factory: KafkaTopicFactory
) -> None:
    topic = await kafka_topic_factory(1)
    once, _ = await _fill(kafka_bootstrap, topic)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(RECIPE),
        "--bootstrap-servers",
        kafka_bootstrap,
        "--group",
        f"cli-{uuid.uuid4().hex[:8]}",
        "--exit-when-idle",
        "3",
        topic,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    lines = [orjson.loads(line) for line in out.splitlines()]
    assert {e.get("event_id") or e["metadata"]["uid"] for e in lines} == once
    assert len(lines) == len(once)
    assert "duplicates=5" in err.decode()
    assert json.loads(out.splitlines()[0])  # plain JSON lines
