"""Helpers for connector tests: settings pointing at an in-process simulator and the test
broker, one run of the service, and reading back everything a topic holds (read_committed)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from streamer.app import RunOptions, run_service
from streamer.clock import Clock
from streamer.config import STREAM_NAMES, Settings
from streamer.kafka.connection import partitions_of, stop_consumer
from streamer.metrics import Metrics


def base_config(sim_url: str, bootstrap: str, prefix: str) -> dict[str, Any]:
    """One team on the simulator, topics named ``<prefix>.<stream>``, test-sized limits."""
    return {
        "teams": {
            "acme": {
                "app_key": "sim-app-key",
                "app_secret": "sim-app-secret",
                "refresh_token": "sim-refresh-token",
                "api_url": sim_url,
                "token_url": f"{sim_url}/oauth2/token",
            }
        },
        "kafka": {
            "bootstrap_servers": bootstrap,
            "partitions": 3,
            "topics": {s: f"{prefix}.{s}" for s in (*STREAM_NAMES, "state")},
            "outage_limit": 60,
        },
        "http": {"max_attempts": 20, "retry_budget": 120},
        "events": {"snapshot_interval": 86400},
        "streams": {"audit": {"lookback": 2 * 86400}},
        "metrics": {"enabled": False},
    }


def merge(base: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``patch`` laid over it, tables merged key by key."""
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def make_settings(
    sim_url: str, bootstrap: str, *, prefix: str | None = None, **sections: dict[str, Any]
) -> Settings:
    prefix = prefix or f"t{uuid.uuid4().hex[:10]}"
    return Settings.model_validate(merge(base_config(sim_url, bootstrap, prefix), sections))


async def run_once(
    settings: Settings,
    clock: Clock,
    *,
    metrics: Metrics | None = None,
    replay: bool = False,
    backfill: Any = None,
) -> Metrics:
    metrics = metrics or Metrics()
    options = RunOptions(once=not replay and backfill is None, replay=replay, backfill=backfill)
    await asyncio.wait_for(
        run_service(settings, options, asyncio.Event(), clock=clock, metrics=metrics), 90
    )
    return metrics


@dataclass
class Message:
    topic: str
    key: bytes | None
    headers: dict[str, bytes]
    event: dict[str, Any] | None
    raw: bytes | None


@dataclass
class Read:
    messages: list[Message] = field(default_factory=list)

    @property
    def events(self) -> list[dict[str, Any]]:
        return [m.event for m in self.messages if m.event is not None]

    def types(self) -> Counter[str]:
        return Counter(e["event_type"] for e in self.events)

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event_type"] == event_type]


async def read_topics(
    bootstrap: str,
    topics: list[str],
    *,
    committed: bool = True,
    start: dict[Any, int] | None = None,
) -> tuple[Read, dict[TopicPartition, int]]:
    """Everything in ``topics`` up to their current end (from ``start`` offsets if given);
    returns the messages and the end offsets (to read only what comes later next time)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        isolation_level="read_committed" if committed else "read_uncommitted",
    )
    await consumer.start()
    try:
        partitions = []
        for topic in topics:
            for p in await partitions_of(consumer, topic):
                partitions.append(TopicPartition(topic, p))
        consumer.assign(partitions)
        end = await consumer.end_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, (start or {}).get(tp, 0))
        read = Read()
        pending = {tp for tp in partitions if end[tp] > (start or {}).get(tp, 0)}
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=1000)
            for messages in batches.values():
                for m in messages:
                    event = orjson.loads(m.value) if m.value is not None else None
                    read.messages.append(Message(m.topic, m.key, dict(m.headers), event, m.value))
            for tp in list(pending):
                if await consumer.position(tp) >= end[tp]:
                    pending.discard(tp)
        return read, end
    finally:
        await stop_consumer(consumer)


def event_topics(settings: Settings) -> list[str]:
    return [settings.kafka.topics.for_stream(s) for s in STREAM_NAMES]
