"""The envelope on the wire: JSON, Kafka key and headers, topic, ids, and the JSON Schema."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from event_support import ROOT, TEAM_ID, check_event, ctx, sample_events

from streamer.events.envelope import (
    EVENT_TYPES,
    SCHEMA_VERSION,
    Event,
    EventContext,
    UserRef,
    json_schema,
)
from streamer.events.ids import NAMESPACE, digest, epoch, event_id

SAMPLES = sample_events()


def _event(**kw: object) -> Event:
    base: dict[str, object] = {
        "event_id": "e",
        "event_type": "member.joined",
        "event_time": datetime(2026, 1, 1, tzinfo=UTC),
        "observed_time": datetime(2026, 1, 1, 0, 0, 1, 500000, tzinfo=UTC),
        "team": {"id": TEAM_ID, "name": "Acme"},
    }
    base.update(kw)
    return Event(**base)  # type: ignore[arg-type]


def test_to_json_is_valid_json_with_z_datetimes_and_no_nulls() -> None:
    event = _event(user=UserRef(team_member_id="dbmid:x"), raw={"a": None})
    data = orjson.loads(event.to_json())
    assert data == {
        "event_id": "e",
        "event_type": "member.joined",
        "schema_version": SCHEMA_VERSION,
        "event_time": "2026-01-01T00:00:00Z",
        "observed_time": "2026-01-01T00:00:01.500000Z",
        "team": {"id": TEAM_ID, "name": "Acme"},
        "user": {"team_member_id": "dbmid:x"},
        "raw": {"a": None},  # raw is the record as sent; only envelope parts drop out
    }
    assert json.loads(event.to_json().decode()) == data  # plain json agrees


def test_every_datetime_in_every_sample_is_utc_with_z() -> None:
    stamp = re.compile(r'"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?)(Z|[+-]\d\d:\d\d)"')
    for event in SAMPLES.values():
        suffixes = {m.group(3) for m in stamp.finditer(event.to_json().decode())}
        assert suffixes == {"Z"}, event.event_type


def test_naive_and_offset_datetimes_still_encode_as_utc() -> None:
    naive = _event(event_time=datetime(2026, 1, 1, 8, 0))  # noqa: DTZ001 - naive on purpose
    offset = _event(event_time=datetime(2026, 1, 1, 10, 0, tzinfo=timezone(timedelta(hours=2))))
    assert orjson.loads(naive.to_json())["event_time"] == "2026-01-01T08:00:00Z"
    # orjson keeps a real offset; the models never produce one (they convert to UTC)
    assert orjson.loads(offset.to_json())["event_time"] == "2026-01-01T10:00:00+02:00"


def test_key_is_the_member_else_the_team() -> None:
    assert _event(user=UserRef(team_member_id="dbmid:m")).key() == b"dbmid:m"
    assert _event().key() == TEAM_ID.encode()


def test_headers() -> None:
    assert _event(event_id="id-1").headers() == [
        ("event_type", b"member.joined"),
        ("event_id", b"id-1"),
        ("schema_version", SCHEMA_VERSION.encode()),
        ("team_id", TEAM_ID.encode()),
    ]


def test_event_context_shares_one_team_part() -> None:
    c = EventContext("dbtid:1", "T", datetime(2026, 1, 1, tzinfo=UTC))
    assert c.team == {"id": "dbtid:1", "name": "T"}
    assert c.include_raw is True


# --- ids ---------------------------------------------------------------------------------------


def test_event_id_is_uuid5_in_the_project_namespace() -> None:
    got = event_id("dbtid:t", "web_session.started", "dbwsid:1", None, True, 7)
    want = uuid.uuid5(NAMESPACE, "dbtid:t\x1fweb_session.started\x1fdbwsid:1\x1f\x1ftrue\x1f7")
    assert got == str(want)
    assert uuid.UUID(got).version == 5


def test_event_id_namespace_never_changes() -> None:
    # every id ever published depends on it
    assert str(NAMESPACE) == str(uuid.uuid5(uuid.NAMESPACE_URL, "urn:dropbox-streamer:event-id"))
    assert event_id("dbtid:t", "web_session.started", "dbwsid:1") == (
        "b26269d4-d5e7-5861-98e4-ae43d529d886"
    )


def test_event_id_parts_are_unambiguous() -> None:
    assert event_id("t", "x", "a", "b") != event_id("t", "x", "a\x1fb")
    assert event_id("t", "x", "ab") != event_id("t", "x", "a", "b")
    assert event_id("t", "x", "a") != event_id("u", "x", "a")
    assert event_id("t", "x", "a") != event_id("t", "y", "a")


def test_event_id_datetime_parts_are_epoch_seconds() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    assert event_id("t", "x", when) == event_id("t", "x", epoch(when))


def test_digest_is_canonical() -> None:
    assert digest({"b": 1, "a": [1, {"y": 2, "x": 1}]}) == digest(
        {"a": [1, {"x": 1, "y": 2}], "b": 1}
    )
    assert digest({"a": 1}) != digest({"a": 2})
    assert len(digest(None)) == 32


# --- schema ------------------------------------------------------------------------------------


def test_committed_schema_matches_the_event_classes() -> None:
    committed = json.loads((ROOT / "schemas" / "event.schema.json").read_text(encoding="utf-8"))
    assert committed == json_schema(), (
        "schemas/event.schema.json is stale: run `.venv/bin/python scripts/gen_schema.py`"
    )


def test_gen_schema_check_mode_passes() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_schema.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_schema_is_draft_2020_12_and_lists_every_event_type() -> None:
    schema = json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["event_type"]["enum"] == list(EVENT_TYPES)
    assert set(schema["required"]) >= {"event_id", "event_type", "schema_version", "team"}


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_a_sample_of_every_event_type_validates_against_the_schema(event_type: str) -> None:
    event = SAMPLES[event_type]
    assert event.event_type == event_type
    decoded = check_event(event)
    assert decoded["team"]["id"] == TEAM_ID
    uuid.UUID(decoded["event_id"])


def test_schema_rejects_stray_keys_and_wrong_types() -> None:
    import jsonschema

    event = orjson.loads(SAMPLES["web_session.started"].to_json())
    schema = json_schema()
    jsonschema.validate(event, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**event, "device": {**event["device"], "typo": 1}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**event, "event_type": "member.exploded"}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({k: v for k, v in event.items() if k != "event_time"}, schema)


def test_include_raw_off_leaves_raw_out() -> None:
    from event_support import member_record, one_member

    from streamer.events.members import member_snapshot

    event = member_snapshot(one_member(member_record()), ctx(include_raw=False), slot=1)
    assert event.raw is None
    assert "raw" not in orjson.loads(event.to_json())


def test_integers_beyond_64_bits_in_raw_still_encode() -> None:
    huge = 2**70
    event = _event(raw={"future_field": huge, "n": [-(2**64)]}, user=UserRef(team_member_id="m"))
    data = json.loads(event.to_json())
    assert data["raw"] == {"future_field": huge, "n": [-(2**64)]}
    assert data["event_time"] == "2026-01-01T00:00:00Z"
    assert data["observed_time"] == "2026-01-01T00:00:01.500000Z"
    fast = orjson.loads(_event(user=UserRef(team_member_id="m")).to_json())
    assert {k: v for k, v in data.items() if k != "raw"} == fast
