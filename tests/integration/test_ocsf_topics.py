"""OCSF topics end to end: the service against the Dropbox simulator and a real Kafka broker,
topics configured as OCSF, every record read back (read_committed) and validated against the
JSON Schema of the pinned OCSF version."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from streamer.clock import ManualClock
from streamer.config import STREAM_NAMES
from streamer.events.ocsf import OCSF_VERSION
from streamer.simulator import SimulatorConfig, SimulatorServer
from tests.integration.connector_support import event_topics, make_settings, read_topics, run_once
from tests.ocsf_schema import ocsf_errors

pytestmark = pytest.mark.kafka


@pytest.fixture
async def sim() -> AsyncIterator[Any]:
    server = SimulatorServer(SimulatorConfig(members=200, seed=11))
    async with server.running(host="127.0.0.1", port=0, ssl_context=None) as running:
        yield running


async def test_every_record_of_ocsf_topics_is_valid_ocsf(sim: Any, kafka_bootstrap: str) -> None:
    settings = make_settings(
        sim.url,
        kafka_bootstrap,
        kafka={"formats": dict.fromkeys(STREAM_NAMES, "ocsf")},
        events={"first_poll": "changes"},  # the first cycle reports what it finds as changes
    )
    clock = ManualClock(start=sim.world.now)
    await run_once(settings, clock)
    assert sim.advance(3 * 3600), "the simulator should have produced churn"
    clock.advance(3 * 3600)
    await run_once(settings, clock)
    read, _ = await read_topics(kafka_bootstrap, event_topics(settings))

    assert read.messages
    team_id = sim.world.team_id
    problems: list[str] = []
    for message in read.messages:
        data = message.event
        assert data is not None
        native = data["unmapped"]
        problems += [f"{native['event_type']}: {e}" for e in ocsf_errors(data)]
        assert data["metadata"]["version"] == OCSF_VERSION
        # same key and headers as the native record, plus the format and class
        user = native.get("user")
        assert message.key == (user["team_member_id"] if user else team_id).encode()
        assert message.headers == {
            "event_type": native["event_type"].encode(),
            "event_id": data["metadata"]["uid"].encode(),
            "schema_version": native["schema_version"].encode(),
            "team_id": team_id.encode(),
            "format": b"ocsf",
            "ocsf_class_uid": str(data["class_uid"]).encode(),
        }
    assert not problems, problems[:20]

    # the run covered most classes of the mapping (the simulator's audit log included; its
    # group events are rare: Group Management is covered by the unit tests)
    classes = Counter(m.event["class_uid"] for m in read.messages if m.event is not None)
    assert set(classes) >= {3001, 3002, 3004, 5001, 5003, 5023, 6006}, classes
    types = {m.event["unmapped"]["event_type"] for m in read.messages if m.event is not None}
    assert types >= {
        "team.snapshot",
        "member.snapshot",
        "member.joined",
        "member.activity",
        "web_session.started",
        "desktop_client.linked",
        "mobile_client.linked",
        "session.snapshot",
        "app.linked",
        "app.snapshot",
        "audit.event",
    }, types


async def test_only_the_topics_configured_as_ocsf_change(sim: Any, kafka_bootstrap: str) -> None:
    settings = make_settings(sim.url, kafka_bootstrap, kafka={"formats": {"audit": "ocsf"}})
    await run_once(settings, ManualClock(start=sim.world.now))
    read, _ = await read_topics(kafka_bootstrap, event_topics(settings))

    by_topic: Counter[tuple[str, bool]] = Counter()
    for message in read.messages:
        assert message.event is not None
        ocsf = message.headers.get("format") == b"ocsf"
        by_topic[message.topic.rsplit(".", 1)[1], ocsf] += 1
        if ocsf:
            assert ocsf_errors(message.event) == []
        else:
            assert "class_uid" not in message.event
            assert message.event["schema_version"]
    assert {topic for topic, ocsf in by_topic if ocsf} == {"audit"}
    assert {topic for topic, ocsf in by_topic if not ocsf} >= {"team", "members", "sessions"}
