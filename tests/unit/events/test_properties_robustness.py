"""Properties over *damaged* API records and over reordered pages (``test_properties.py`` covers
well-formed records and the diff algebra).

- A record shaped like the API but damaged anywhere (a value of the wrong type, a key
  missing, an unknown key or union tag, the record not even an object) never crashes the path
  a stream takes: parsing accepts or rejects it with a reason, and what is accepted normalizes
  and diffs into events that validate against the schema. An audit record may only fail with
  the errors the audit stream rejects records for.
- Event ids do not depend on the order of pages nor of the records within them, for sessions,
  linked apps and the audit log (members: ``test_properties.py``).
"""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime
from typing import Any

from event_support import (
    apps_records,
    check_event,
    ctx,
    devices_records,
    member_records,
    sdk_admin_suspend_event,
    sdk_login_event,
    sdk_team_info,
    team_event,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamer.dropbox.models import parse_linked_apps, parse_member_devices, parse_members
from streamer.events.apps import app_snapshots, diff_member_apps
from streamer.events.audit import audit_event
from streamer.events.envelope import Event
from streamer.events.ids import digest
from streamer.events.members import diff_member, member_snapshot
from streamer.events.sessions import diff_member_devices, session_snapshots
from streamer.events.team import TeamRecord, diff_team, team_snapshot

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
C1 = ctx(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
C2 = ctx(datetime(2026, 3, 1, 12, 5, tzinfo=UTC))
SLOT = 20513
AUDIT_REJECTS = (ValueError, TypeError, KeyError)  # what AuditStream turns into a rejected record

# Any JSON value, big integers and odd text included (what a broken or future API might send).
JSON: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        items = ()
    for key, child in items:
        out.append((*prefix, key))
        out += _paths(child, (*prefix, key))
    return out


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


@st.composite
def damaged(draw: st.DrawFn, records: st.SearchStrategy[Any]) -> Any:
    """A well-formed record with one or two kinds of damage, anywhere in it."""
    record = copy.deepcopy(draw(records))
    if draw(st.integers(0, 19)) == 0:
        return draw(JSON)  # not even an object
    for _ in range(draw(st.integers(1, 2))):
        paths = _paths(record)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, key = _at(record, path[:-1]), path[-1]
        # unknown keys most often: they must pass, so the normalizer sees damaged records too
        how = draw(st.sampled_from(["replace", "delete", "add", "add", "tag"]))
        if how == "replace":
            parent[key] = draw(JSON)
        elif how == "delete" and isinstance(parent, dict):
            del parent[key]
        elif how == "add" and isinstance(parent[key], dict):
            parent[key][draw(st.text(min_size=1, max_size=8))] = draw(JSON)
        elif how == "tag":
            parent[key] = {".tag": draw(st.text(max_size=12)), **draw(st.dictionaries(
                st.text(min_size=1, max_size=5), JSON, max_size=2))}  # fmt: skip
    return record


def valid(events: list[Event]) -> None:
    for event in events:
        check_event(event)


def _rejected_well(rejected: list[Any]) -> None:
    for item in rejected:
        assert item.reason, item


# --- damaged records ----------------------------------------------------------------------------


@SETTINGS
@given(damaged(member_records()), member_records())
def test_a_damaged_member_record_is_rejected_or_normalized_never_a_crash(
    record: Any, before: dict[str, Any]
) -> None:
    ok, rejected = parse_members([record])
    _rejected_well(rejected)
    assert len(ok) + len(rejected) == 1
    (previous_info,), _ = parse_members([before])
    _, previous = diff_member(None, previous_info, None, C1)
    for info in ok:
        valid([member_snapshot(info, C2, SLOT)])
        for stored in (None, previous):
            events, state = diff_member(stored, info, None, C2)
            valid(events)
            gone, _ = diff_member(state, None, None, C2)
            valid(gone)


@SETTINGS
@given(damaged(devices_records()), devices_records())
def test_damaged_devices_are_rejected_or_normalized_never_a_crash(
    record: Any, before: dict[str, Any]
) -> None:
    ok, rejected = parse_member_devices([record])
    _rejected_well(rejected)
    assert len(ok) + len(rejected) == 1
    (previous_devices,), _ = parse_member_devices([before])
    _, previous = diff_member_devices(None, previous_devices, None, C1)
    for devices in ok:
        valid(session_snapshots(devices, None, C2, SLOT))
        for stored in (None, previous):
            events, state = diff_member_devices(stored, devices, None, C2)
            valid(events)
            gone, _ = diff_member_devices(state, None, None, C2)
            valid(gone)


@SETTINGS
@given(damaged(apps_records()), apps_records())
def test_damaged_linked_apps_are_rejected_or_normalized_never_a_crash(
    record: Any, before: dict[str, Any]
) -> None:
    ok, rejected = parse_linked_apps([record])
    _rejected_well(rejected)
    assert len(ok) + len(rejected) == 1
    (previous_apps,), _ = parse_linked_apps([before])
    _, previous = diff_member_apps(None, previous_apps, None, C1)
    for apps in ok:
        valid(app_snapshots(apps, None, C2, SLOT))
        for stored in (None, previous):
            events, _ = diff_member_apps(stored, apps, None, C2)
            valid(events)


AUDIT_SAMPLES = st.sampled_from([0, 1]).map(
    lambda i: sdk_login_event() if i == 0 else sdk_admin_suspend_event()
)


@SETTINGS
@given(damaged(AUDIT_SAMPLES))
def test_a_damaged_audit_record_is_an_event_or_a_rejection_never_a_crash(record: Any) -> None:
    try:
        event = audit_event(team_event(record), C1)
    except AUDIT_REJECTS:
        return
    valid([event])


@SETTINGS
@given(damaged(st.builds(sdk_team_info)), st.lists(JSON, max_size=2))
def test_damaged_team_info_and_features_never_crash_the_team_stream(
    info: Any, features: list[Any]
) -> None:
    # the team stream hands get_info / get_values results over as they came
    if not isinstance(info, dict):
        info = {"unexpected": info}
    features = [f if isinstance(f, dict) else {".tag": "x", "x": f} for f in features]
    valid([team_snapshot(TeamRecord(info, features), C1, SLOT)])
    _, state = diff_team(None, TeamRecord(sdk_team_info(), []), None, C1)
    events, _ = diff_team(state, TeamRecord(info, features), None, C2)
    valid(events)


def test_integers_beyond_64_bits_do_not_break_ids() -> None:
    # the property above found it: orjson stops at 64 bits, an unknown field need not
    huge = 2**70
    assert digest({"n": huge}) == digest({"n": huge})
    assert digest({"n": huge}) != digest({"n": huge + 1})
    record = sdk_login_event()
    record["details"]["sim_size"] = huge
    valid([audit_event(team_event(record), C1)])
    _, state = diff_team(None, TeamRecord(sdk_team_info(), []), None, C1)
    events, _ = diff_team(
        state, TeamRecord({**sdk_team_info(), "sim_counter": -(2**64)}, []), None, C2
    )
    assert [e.event_type for e in events] == ["team.changed"]
    valid(events)


def test_a_union_tag_that_is_not_a_string_is_kept_not_looked_up() -> None:
    # the property above found it: {".tag": [...]} made the team settings raise TypeError
    info = sdk_team_info()
    info["policies"]["sharing"]["shared_link_create_policy"] = {".tag": ["x"], "x": 1}
    snapshot = team_snapshot(TeamRecord(info, []), C1, SLOT)
    valid([snapshot])
    assert snapshot.settings is not None
    assert snapshot.settings["policies.sharing.shared_link_create_policy"] == ["x"]


# --- page order ---------------------------------------------------------------------------------


def _pages(records: list[Any], rng: random.Random) -> list[list[Any]]:
    """The records shuffled and cut into pages of random sizes."""
    records = records[:]
    rng.shuffle(records)
    pages, i = [], 0
    while i < len(records):
        size = rng.randint(1, 3)
        pages.append(records[i : i + size])
        i += size
    rng.shuffle(pages)
    return pages


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_session_and_app_ids_do_not_depend_on_page_order(data: st.DataObject) -> None:
    n = data.draw(st.integers(2, 5))
    members = [f"dbmid:m{i}" for i in range(n)]
    polls = [
        [
            (data.draw(devices_records(m)), data.draw(apps_records(m)))
            for m in members
        ]
        for _ in range(2)
    ]  # fmt: skip

    def run(order: random.Random, observed: list[datetime]) -> set[str]:
        devices_states: dict[str, Any] = {}
        apps_states: dict[str, Any] = {}
        ids: set[str] = set()
        for poll, when in zip(polls, observed, strict=True):
            c = ctx(when)
            for page in _pages(poll, order):
                for d_raw, a_raw in page:
                    (devices,), _ = parse_member_devices([d_raw])
                    (apps,), _ = parse_linked_apps([a_raw])
                    member = devices.team_member_id
                    events, devices_states[member] = diff_member_devices(
                        devices_states.get(member), devices, None, c
                    )
                    more, apps_states[member] = diff_member_apps(
                        apps_states.get(member), apps, None, c
                    )
                    ids.update(e.event_id for e in [*events, *more])
                    ids.update(e.event_id for e in session_snapshots(devices, None, c, SLOT))
                    ids.update(e.event_id for e in app_snapshots(apps, None, c, SLOT))
        return ids

    seed = data.draw(st.integers(0, 2**32))
    one = run(random.Random(seed), [C1.observed_at, C2.observed_at])
    other = run(random.Random(seed + 1), [datetime(2027, 1, 1, tzinfo=UTC)] * 2)
    assert one == other


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 1), min_size=1, max_size=6), st.integers(0, 2**32))
def test_audit_ids_do_not_depend_on_page_order_or_observation(which: list[int], seed: int) -> None:
    records = [
        sdk_login_event(f"dbwsid:{i:040d}") if w == 0 else sdk_admin_suspend_event()
        for i, w in enumerate(which)
    ]
    in_order = [audit_event(team_event(r), C1).event_id for r in records]
    shuffled = [
        audit_event(team_event(r), C2).event_id
        for page in _pages(records, random.Random(seed))
        for r in page
    ]
    assert sorted(in_order) == sorted(shuffled)
