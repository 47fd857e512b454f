"""``restore_state`` against the real broker: the newest value of every key, tombstones
honoured, and a large state topic read into compressed maps."""

from __future__ import annotations

import random

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from streamer.config import KafkaSettings
from streamer.kafka.state import restore_state
from streamer.state import TRAIN_AT, record_key
from tests.kafka_broker import KafkaTopicFactory

pytestmark = pytest.mark.kafka


_NAMES = ["Amara", "Sanders", "Chen", "Okafor", "Lindqvist", "Haddad", "Moreau", "Ito"]


def _state(i: int, rev: int) -> bytes:
    # varied like real states: zstd refuses to train a dictionary on near-identical samples
    rng = random.Random(i)
    given, surname = rng.choice(_NAMES), rng.choice(_NAMES)
    return orjson.dumps(
        {
            "team_member_id": f"dbmid:{i:08d}",
            "email": f"{given}.{surname}{rng.randrange(1000)}@example.com".lower(),
            "status": rng.choice(["active", "active", "invited", "suspended"]),
            "display_name": f"{given} {surname}",
            "account_id": f"dbid:{rng.getrandbits(128):032x}",
            "groups": [f"g:{rng.getrandbits(64):016x}" for _ in range(rng.randrange(4))],
            "rev": rev,
        }
    )


async def test_a_large_state_topic_restores_newest_values_into_compressed_maps(
    kafka_bootstrap: str, kafka_topic_factory: KafkaTopicFactory
) -> None:
    topic = await kafka_topic_factory(3)
    members = TRAIN_AT + 500  # enough for the restore to train the map as it reads
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, linger_ms=50)
    await producer.start()
    try:
        for i in range(members):
            await producer.send(
                topic, _state(i, 0), key=record_key("acme", "members", f"dbmid:{i:08d}")
            )
        for i in range(0, members, 7):  # a newer value for some, a tombstone for others
            key = record_key("acme", "members", f"dbmid:{i:08d}")
            await producer.send(topic, _state(i, 1) if i % 2 else None, key=key)
        await producer.flush()
    finally:
        await producer.stop()

    settings = KafkaSettings.model_validate(
        {"bootstrap_servers": kafka_bootstrap, "topics": {"state": topic}}
    )
    states = await restore_state(settings)

    store = states["acme/members"]
    assert store.compressed
    expected = {
        f"dbmid:{i:08d}": _state(i, 1 if i % 7 == 0 else 0)
        for i in range(members)
        if not (i % 7 == 0 and i % 2 == 0)
    }
    assert len(store) == len(expected)
    assert dict(store) == expected
    assert store.stored_bytes() < sum(map(len, expected.values())) / 2
