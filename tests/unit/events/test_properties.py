"""Properties over arbitrary API-shaped records and arbitrary before/after pairs.

- the events of a diff, applied to the old state, give the new state;
- diffing the new state against the same record again is a no-op returning the same object;
- a packed (bytes) previous state gives the very same events and state;
- event ids do not depend on when things were observed, nor on page order;
- every emitted event validates against the committed JSON Schema.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from event_support import (
    apply_apps,
    apply_devices,
    apply_member,
    apps_projection,
    apps_records,
    check_event,
    ctx,
    devices_projection,
    devices_records,
    member_records,
    one_apps,
    one_devices,
    one_member,
    same_apps,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamer.events.apps import diff_member_apps
from streamer.events.envelope import Event
from streamer.events.members import diff_member
from streamer.events.sessions import diff_member_devices
from streamer.state import pack_state

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
C1 = ctx(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
C2 = ctx(datetime(2026, 3, 1, 12, 5, tzinfo=UTC))
C2_OTHER_RUN = ctx(datetime(2027, 6, 1, 0, 0, tzinfo=UTC), include_raw=False)


def ids(events: list[Event]) -> list[str]:
    return [e.event_id for e in events]


# --- members -------------------------------------------------------------------------------------


@SETTINGS
@given(member_records(), member_records())
def test_member_events_applied_to_the_old_state_give_the_new_state(a: dict, b: dict) -> None:
    first, state_a = diff_member(None, one_member(a), None, C1)
    if first or state_a is None:
        assert apply_member(first, None) == state_a
    else:  # first seen removed: nothing to say, state kept
        assert isinstance(state_a, dict)
        assert state_a["status"] == "removed"
    events, state_b = diff_member(state_a, one_member(b), None, C2)
    if events:
        assert apply_member(events, state_a) == state_b
    else:
        assert state_b is state_a
    again, state_c = diff_member(state_b, one_member(b), None, C2)
    assert again == []
    assert state_c is state_b
    for event in first + events:
        check_event(event)


@SETTINGS
@given(member_records(), member_records())
def test_member_diff_is_the_same_from_packed_state_and_in_another_run(a: dict, b: dict) -> None:
    _, state_a = diff_member(None, one_member(a), None, C1)
    events, state_b = diff_member(state_a, one_member(b), None, C2)
    packed_events, packed_state_b = diff_member(
        pack_state(state_a), one_member(b), None, C2_OTHER_RUN
    )
    assert ids(packed_events) == ids(events)
    assert [e.changes for e in packed_events] == [e.changes for e in events]
    if events:
        assert packed_state_b == state_b


@SETTINGS
@given(st.lists(member_records(), min_size=2, max_size=4))
def test_member_histories_have_distinct_ids_per_fact(history: list[dict]) -> None:
    state = None
    seen: list[str] = []
    for i, record in enumerate(history):
        events, state = diff_member(
            state, one_member(record), None, ctx(C1.observed_at + timedelta(i))
        )
        seen += ids(events)
    assert len(seen) == len(set(seen))


# --- sessions ------------------------------------------------------------------------------------


@SETTINGS
@given(devices_records(), devices_records())
def test_session_events_applied_to_the_old_state_give_the_new_state(a: dict, b: dict) -> None:
    first, state_a = diff_member_devices(None, one_devices(a), None, C1)
    assert apply_devices(first, None) == devices_projection(state_a)
    events, state_b = diff_member_devices(state_a, one_devices(b), None, C2)
    assert apply_devices(events, state_a) == devices_projection(state_b)
    again, state_c = diff_member_devices(state_b, one_devices(b), None, C2)
    assert again == []
    assert state_c is state_b
    gone, state_d = diff_member_devices(state_b, None, None, C2)
    assert state_d is None
    assert apply_devices(gone, state_b) == {}
    for event in first + events + gone:
        check_event(event)


@SETTINGS
@given(devices_records(), devices_records())
def test_session_diff_is_the_same_from_packed_state_and_in_another_run(a: dict, b: dict) -> None:
    _, state_a = diff_member_devices(None, one_devices(a), None, C1)
    events, state_b = diff_member_devices(state_a, one_devices(b), None, C2)
    other, other_b = diff_member_devices(pack_state(state_a), one_devices(b), None, C2_OTHER_RUN)
    assert ids(other) == ids(events)
    assert devices_projection(other_b) == devices_projection(state_b)


# --- apps ----------------------------------------------------------------------------------------


@SETTINGS
@given(apps_records(), apps_records())
def test_app_events_applied_to_the_old_state_give_the_new_state(a: dict, b: dict) -> None:
    first, state_a = diff_member_apps(None, one_apps(a), None, C1)
    assert apply_apps(first, None) == apps_projection(state_a)
    events, state_b = diff_member_apps(state_a, one_apps(b), None, C2)
    assert same_apps(apply_apps(events, state_a), state_b)
    again, state_c = diff_member_apps(state_b, one_apps(b), None, C2)
    assert again == []
    assert state_c is state_b
    other, _ = diff_member_apps(pack_state(state_a), one_apps(b), None, C2_OTHER_RUN)
    assert ids(other) == ids(events)
    for event in first + events:
        check_event(event)


# --- pages ---------------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_event_ids_do_not_depend_on_page_order_or_run(data: st.DataObject) -> None:
    n = data.draw(st.integers(2, 6))
    before = [data.draw(member_records(f"dbmid:m{i}")) for i in range(n)]
    after = [data.draw(member_records(f"dbmid:m{i}")) for i in range(n)]

    def run(order: list[int], first: datetime, second: datetime) -> set[str]:
        states: dict[str, object] = {}
        out: set[str] = set()
        for page, when in ((before, first), (after, second)):
            for i in order:
                member = one_member(page[i])
                events, state = diff_member(
                    states.get(member.profile.team_member_id), member, None, ctx(when)
                )
                states[member.profile.team_member_id] = state
                out.update(ids(events))
        return out

    order = list(range(n))
    shuffled = order[:]
    random.Random(data.draw(st.integers())).shuffle(shuffled)
    one = run(order, C1.observed_at, C2.observed_at)
    two = run(shuffled, C2_OTHER_RUN.observed_at, C2_OTHER_RUN.observed_at + timedelta(hours=1))
    assert one == two
