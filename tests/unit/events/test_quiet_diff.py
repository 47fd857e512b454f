"""A quiet context (the baseline poll) builds no events but must leave exactly the same state."""

from dataclasses import replace
from datetime import UTC, datetime

from streamer.dropbox.models import parse_linked_apps, parse_member_devices, parse_members
from streamer.events.apps import diff_member_apps
from streamer.events.envelope import EventContext
from streamer.events.members import diff_member
from streamer.events.sessions import diff_member_devices
from streamer.simulator.world import World

CTX = EventContext(team_id="dbtid:t", team_name="T", observed_at=datetime(2026, 1, 2, tzinfo=UTC))


def listing(world: World) -> tuple[list, list, list]:
    order = world.member_order()
    members = parse_members([world.member_info(m) for m in order]).ok
    devices = parse_member_devices([d for m in order if (d := world.member_devices(m))]).ok
    apps = parse_linked_apps([a for m in order if (a := world.member_linked_apps(m))]).ok
    return members, devices, apps


def test_quiet_diffs_give_the_states_of_loud_ones_first_poll_and_after_churn() -> None:
    world = World(members=300, seed=11, start=datetime(2026, 1, 1, tzinfo=UTC), churn=20.0)
    states: dict[str, dict[str, object]] = {"m": {}, "d": {}, "a": {}}
    changed = 0
    for poll in range(3):
        members, devices, apps = listing(world)
        for kind, records, diff in (
            ("m", members, lambda p, r, q: diff_member(p, r, None, replace(CTX, quiet=q))),
            ("d", devices, lambda p, r, q: diff_member_devices(p, r, None, replace(CTX, quiet=q))),
            ("a", apps, lambda p, r, q: diff_member_apps(p, r, None, replace(CTX, quiet=q))),
        ):
            for record in records:
                subject = record.profile.team_member_id if kind == "m" else record.team_member_id
                previous = states[kind].get(subject)
                loud_events, loud = diff(previous, record, False)
                quiet_events, quiet = diff(previous, record, True)
                assert quiet_events == []
                assert quiet == loud
                assert (quiet is previous) == (loud is previous)
                changed += bool(loud_events) and poll > 0
                states[kind][subject] = loud
        world.advance(6 * 3600)
    assert changed > 10  # the later polls did see changes, not only the first listing
