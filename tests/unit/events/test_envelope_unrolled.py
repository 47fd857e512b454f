from datetime import UTC, datetime

from streamer.events.envelope import _OPTIONAL, Event, TeamRef


def test_to_dict_writes_every_optional_part_in_the_documented_order() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    parts = {name: {"part": name} for name in _OPTIONAL}
    event = Event(
        event_id="id",
        event_type="member.updated",
        event_time=when,
        observed_time=when,
        team=TeamRef(id="dbtid:t", name="T"),
        **parts,  # type: ignore[arg-type]
    )
    out = event.to_dict()
    assert list(out)[6:] == list(_OPTIONAL)
    assert all(out[name] == {"part": name} for name in _OPTIONAL)
    bare = Event(
        event_id="id",
        event_type="team.snapshot",
        event_time=when,
        observed_time=when,
        team=TeamRef(id="dbtid:t", name="T"),
    )
    assert list(bare.to_dict()) == [
        "event_id",
        "event_type",
        "schema_version",
        "event_time",
        "observed_time",
        "team",
    ]
