"""A batch as Kafka records: routed by the stream that made it, states keyed in one place."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from streamer.config import Settings
from streamer.events.envelope import Event, EventContext, UserRef
from streamer.records import Outbox, merge
from streamer.state import record_key
from streamer.streams.base import Batch

CTX = EventContext("dbtid:1", "Acme", datetime(2026, 1, 1, tzinfo=UTC))


def _settings(**formats: str) -> Settings:
    return Settings.model_validate(
        {
            "teams": {"acme": {"app_key": "k", "app_secret": "s", "refresh_token": "r"}},
            "kafka": {
                "topics": {"sessions": "t.sessions", "members": "t.members"},
                "formats": formats,
            },
        }
    )


def _event(event_type: str, when: int = 0) -> Event:
    return CTX.event(
        event_type,
        f"id-{event_type}",
        datetime.fromtimestamp(1_767_225_600 + when, UTC),
        user=UserRef(team_member_id="dbmid:a"),
    )


def test_events_go_to_their_streams_topic_and_summaries_to_the_members_topic() -> None:
    outbox = Outbox(_settings(sessions="ocsf").kafka)
    batch = Batch(
        events=[_event("web_session.started"), _event("session.snapshot")],
        member_events=[_event("member.activity")],
    )
    prepared = outbox.prepare("sessions", batch)
    routed = [(r.topic, dict(r.headers)["event_type"]) for r in prepared.records]
    assert routed == [
        ("t.sessions", b"web_session.started"),
        ("t.sessions", b"session.snapshot"),
        ("t.members", b"member.activity"),
    ]
    # each topic in its own format: sessions in OCSF, members native
    assert dict(prepared.records[0].headers)["format"] == b"ocsf"
    assert "format" not in dict(prepared.records[2].headers)
    assert prepared.by_type == {
        "web_session.started": 1,
        "session.snapshot": 1,
        "member.activity": 1,
    }


def test_states_are_packed_and_keyed_team_stream_subject() -> None:
    outbox = Outbox(_settings().kafka)
    prepared = outbox.prepare("members", Batch(state={"dbmid:a": {"rev": 1}, "dbmid:b": None}))
    assert prepared.state == {"dbmid:a": b'{"rev":1}', "dbmid:b": None}
    records = outbox.state_records("acme", "members", prepared.state)
    assert [(r.key, r.value) for r in records] == [
        (record_key("acme", "members", "dbmid:a"), b'{"rev":1}'),
        (b"acme/members/dbmid:b", None),
    ]
    assert {r.topic for r in records} == {_settings().kafka.topics.state}


def test_merged_pages_keep_record_order_and_the_later_state() -> None:
    outbox = Outbox(_settings().kafka)
    first = outbox.prepare(
        "members", Batch(events=[_event("member.joined", 5)], state={"s": {"v": 1}}, records=1)
    )
    second = outbox.prepare(
        "members", Batch(events=[_event("member.updated", 9)], state={"s": {"v": 2}}, records=1)
    )
    merged = merge([first, second])
    assert [orjson.loads(r.value or b"")["event_type"] for r in merged.records] == [
        "member.joined",
        "member.updated",
    ]
    assert merged.state == {"s": b'{"v":2}'}
    assert merged.api_records == 2
    assert merged.newest == second.newest
