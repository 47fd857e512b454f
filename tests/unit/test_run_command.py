from datetime import UTC, datetime

import click
import pytest

from streamer.events.envelope import Event
from streamer.events.ocsf import ocsf_json
from streamer.events.sessions import session_snapshots
from streamer.kafka.tail import Received
from streamer.run_command import _brief, parse_when

NOW = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-31", datetime(2026, 1, 31, tzinfo=UTC)),
        ("2026-01-31T12:30:00Z", datetime(2026, 1, 31, 12, 30, tzinfo=UTC)),
        ("2026-01-31T14:30:00+02:00", datetime(2026, 1, 31, 12, 30, tzinfo=UTC)),
        ("7d", datetime(2026, 3, 3, 12, 0, 0, tzinfo=UTC)),
        ("12h", datetime(2026, 3, 10, 0, 0, 0, tzinfo=UTC)),
        ("30m", datetime(2026, 3, 10, 11, 30, 0, tzinfo=UTC)),
    ],
)
def test_parse_when(text: str, expected: datetime) -> None:
    assert parse_when(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "7 days", ""])
def test_parse_when_rejects_with_an_example(text: str) -> None:
    with pytest.raises(click.BadParameter, match="2026-01-31T12:00:00Z or 7d"):
        parse_when(text, now=NOW)


def _sample_event() -> Event:
    from tests.unit.events.event_support import ctx, devices_record, one_devices, web_session

    devices = one_devices(devices_record(web=[web_session()]))
    return session_snapshots(devices, None, ctx(), slot=1)[0]


def test_brief_line_of_a_native_event() -> None:
    event = _sample_event()
    line = _brief(Received("t", 0, 0, b"k", event.to_json(), {}))
    assert "session.snapshot" in line
    assert event.user is not None
    assert event.user["team_member_id"] in line


def test_brief_line_of_an_ocsf_record_names_its_class() -> None:
    event = _sample_event()
    line = _brief(Received("t", 0, 0, b"k", ocsf_json(event), {}))
    assert "session.snapshot [ocsf Device Inventory Info]" in line
    assert event.user is not None
    assert event.user["team_member_id"] in line
