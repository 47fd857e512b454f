"""Members: every status transition, field updates, removal, ids and the stored state."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from event_support import T0, apply_member, check_event, ctx, member_record, one_member

from streamer.events.envelope import Event
from streamer.events.members import diff_member, member_state, vanished_member
from streamer.state import pack_state

TMID = "dbmid:AAHhy7WsR0x-u4ZCqiDl5Fz5zvuL3kmspwU"
LATER = ctx(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))


def rec(status: str = "active", **profile: object) -> dict:
    fields: dict[str, object] = {"status": {".tag": status}}
    if status == "invited":
        fields.update(invited_on="2026-02-27T16:20:00Z", joined_on=None)
    if status == "suspended":
        fields["suspended_on"] = "2026-03-01T09:00:00Z"
    if status == "removed":
        fields["status"] = {".tag": "removed", "is_recoverable": True, "is_disconnected": False}
    fields.update(profile)
    return member_record(TMID, **fields)


def state_of(status: str = "active", **profile: object) -> dict:
    _, state = diff_member(None, one_member(rec(status, **profile)), None, ctx())
    assert isinstance(state, dict)
    return state


def types(events: list[Event]) -> list[str]:
    return [e.event_type for e in events]


# --- first sight ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected", "event_time"),
    [
        ("invited", "member.invited", datetime(2026, 2, 27, 16, 20, tzinfo=UTC)),
        ("active", "member.joined", datetime(2015, 5, 12, 15, 50, 38, tzinfo=UTC)),
        ("suspended", "member.suspended", datetime(2026, 3, 1, 9, 0, tzinfo=UTC)),
    ],
)
def test_first_sight_emits_the_lifecycle_event_dated_by_dropbox(
    status: str, expected: str, event_time: datetime
) -> None:
    events, state = diff_member(None, one_member(rec(status)), None, ctx())
    assert types(events) == [expected]
    event = events[0]
    assert event.event_time == event_time
    assert event.observed_time == T0
    assert event.changes == {"status": {"old": None, "new": status}}
    assert event.user is not None
    assert event.user["status"] == status
    assert event.member is not None
    assert event.member["given_name"] == "Franz"
    assert event.raw is not None
    assert event.raw["profile"]["team_member_id"] == TMID
    assert isinstance(state, dict)
    assert state["status"] == status
    assert state["rev"] == 1
    check_event(event)


def test_first_sight_of_a_removed_member_emits_nothing_but_keeps_state() -> None:
    events, state = diff_member(None, one_member(rec("removed")), None, ctx())
    assert events == []
    assert isinstance(state, dict)
    assert state["status"] == "removed"
    assert state["rev"] == 0
    # ... and staying removed, or vanishing later, stays quiet
    assert diff_member(state, one_member(rec("removed")), None, LATER) == ([], state)
    assert vanished_member(state, LATER) == []


def test_first_sight_of_an_unknown_status_is_a_member_updated() -> None:
    events, state = diff_member(None, one_member(rec("future_status")), None, ctx())
    assert types(events) == ["member.updated"]
    assert events[0].changes == {"status": {"old": None, "new": "future_status"}}
    assert isinstance(state, dict)
    assert state["status"] == "future_status"


def test_a_missing_timestamp_dates_the_event_at_observation() -> None:
    events, _ = diff_member(None, one_member(rec("active", joined_on=None)), None, ctx())
    assert events[0].event_time == T0


# --- transitions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("invited", "active", "member.joined"),
        ("invited", "suspended", "member.suspended"),
        ("invited", "removed", "member.removed"),
        ("active", "suspended", "member.suspended"),
        ("active", "removed", "member.removed"),
        ("suspended", "active", "member.unsuspended"),
        ("suspended", "removed", "member.removed"),
        ("removed", "active", "member.joined"),  # recovered
        ("removed", "invited", "member.invited"),  # invited again
        ("active", "future_status", "member.updated"),
        ("future_status", "active", "member.joined"),
        ("future_status", "suspended", "member.suspended"),
    ],
)
def test_status_transitions(before: str, after: str, expected: str) -> None:
    prev = state_of(before)
    events, state = diff_member(prev, one_member(rec(after)), None, LATER)
    assert types(events) == [expected]
    assert events[0].changes == {"status": {"old": before, "new": after}}
    assert isinstance(state, dict)
    assert state["status"] == after
    assert state["rev"] == prev["rev"] + 1
    assert apply_member(events, prev) == state
    check_event(events[0])


def test_suspension_is_dated_by_suspended_on_and_unsuspension_by_observation() -> None:
    prev = state_of("active")
    events, state = diff_member(prev, one_member(rec("suspended")), None, LATER)
    assert events[0].event_time == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    events, _ = diff_member(state, one_member(rec("active")), None, LATER)
    assert events[0].event_type == "member.unsuspended"
    assert events[0].event_time == LATER.observed_at


def test_removed_member_event_carries_status_details() -> None:
    events, _ = diff_member(state_of("active"), one_member(rec("removed")), None, LATER)
    assert events[0].member is not None
    assert events[0].member["status_details"] == {"is_recoverable": True, "is_disconnected": False}


def test_status_change_and_field_changes_are_two_events() -> None:
    prev = state_of("invited")
    cur = one_member(rec("active", email="new@acme.example"))
    events, state = diff_member(prev, cur, None, LATER)
    assert types(events) == ["member.joined", "member.updated"]
    assert events[1].changes == {"email": {"old": "franz@acme.example", "new": "new@acme.example"}}
    assert apply_member(events, prev) == state


# --- member.updated --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "field", "old", "new"),
    [
        ({"email": "x@acme.example"}, "email", "franz@acme.example", "x@acme.example"),
        ({"email_verified": False}, "email_verified", True, False),
        ({"external_id": "E-42"}, "external_id", None, "E-42"),
        ({"account_id": None}, "account_id", "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc", None),
        ({"membership_type": {".tag": "limited"}}, "membership_type", "full", "limited"),
        ({"groups": []}, "groups", ["g:e2db7665347abcd600000000001a2b3c"], []),
        ({"persistent_id": "P1"}, "persistent_id", None, "P1"),
        ({"is_directory_restricted": True}, "is_directory_restricted", None, True),
        (
            {"secondary_emails": [{"email": "s@x.example", "is_verified": False}]},
            "secondary_emails",
            [],
            [{"email": "s@x.example", "is_verified": False}],
        ),
        (
            {"roles": [{"role_id": "pid_dbtmr:1", "name": "Team admin", "description": "d"}]},
            "roles",
            [],
            [{"role_id": "pid_dbtmr:1", "name": "Team admin"}],
        ),
    ],
)
def test_field_changes_are_one_member_updated(
    profile: dict, field: str, old: object, new: object
) -> None:
    prev = state_of("active")
    events, state = diff_member(prev, one_member(rec("active", **profile)), None, LATER)
    assert types(events) == ["member.updated"]
    assert events[0].changes == {field: {"old": old, "new": new}}
    assert events[0].event_time == LATER.observed_at
    assert apply_member(events, prev) == state
    check_event(events[0])


def test_name_parts_are_tracked_one_by_one() -> None:
    prev = state_of("active")
    name = {
        "given_name": "Franziska",
        "surname": "Ferdinand",
        "familiar_name": "Franzi",
        "display_name": "Franziska Ferdinand",
        "abbreviated_name": "FF",
    }
    events, _ = diff_member(prev, one_member(rec("active", name=name)), None, LATER)
    assert events[0].changes is not None
    assert set(events[0].changes) == {"given_name", "familiar_name", "display_name"}


def test_list_order_from_the_api_does_not_matter() -> None:
    prev = state_of("active", groups=["g:1", "g:2", "g:3"])
    events, state = diff_member(
        prev, one_member(rec("active", groups=["g:3", "g:1", "g:2"])), None, LATER
    )
    assert events == []
    assert state is prev


def test_untracked_fields_do_not_make_events() -> None:
    prev = state_of("active")
    cur = one_member(
        rec(
            "active",
            profile_photo_url="https://example.com/new.png",
            member_folder_id="99",
            joined_on="2020-01-01T00:00:00Z",
            brand_new_field=1,
        )
    )
    events, state = diff_member(prev, cur, None, LATER)
    assert events == []
    assert state is prev


def test_unchanged_member_returns_the_same_state_object() -> None:
    prev = state_of("active")
    events, state = diff_member(prev, one_member(rec("active")), None, LATER)
    assert events == []
    assert state is prev


def test_packed_state_in_packed_state_out_when_unchanged() -> None:
    prev = state_of("active")
    packed = pack_state(prev)
    events, state = diff_member(packed, one_member(rec("active")), None, LATER)
    assert events == []
    assert state is packed
    changed = one_member(rec("active", email="x@acme.example"))
    assert diff_member(packed, changed, None, LATER) == diff_member(prev, changed, None, LATER)


# --- vanishing -------------------------------------------------------------------------------


def test_a_vanished_member_is_removed_with_the_same_id_as_a_listed_removal() -> None:
    prev = state_of("active", external_id="E-7")
    (vanished,) = vanished_member(prev, LATER)
    listed, _ = diff_member(prev, one_member(rec("removed")), None, LATER)
    assert vanished.event_type == "member.removed"
    assert vanished.event_id == listed[0].event_id
    assert vanished.user == {
        "team_member_id": TMID,
        "account_id": "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc",
        "email": "franz@acme.example",
        "name": "Franz Ferdinand",
        "status": "removed",
        "external_id": "E-7",
    }
    assert vanished.changes == {"status": {"old": "active", "new": "removed"}}
    assert vanished.event_time == LATER.observed_at
    check_event(vanished)


def test_diff_member_with_no_record_is_vanished_member_and_deletes_state() -> None:
    prev = state_of("suspended")
    events, state = diff_member(prev, None, None, LATER)
    assert types(events) == ["member.removed"]
    assert state is None
    assert diff_member(None, None, None, LATER) == ([], None)


# --- ids -------------------------------------------------------------------------------------


def test_ids_do_not_depend_on_when_the_fact_was_observed() -> None:
    prev = state_of("invited")
    cur = one_member(rec("active", email="new@acme.example"))
    a, _ = diff_member(prev, cur, None, ctx(datetime(2026, 3, 1, tzinfo=UTC)))
    b, _ = diff_member(prev, cur, None, ctx(datetime(2026, 4, 1, tzinfo=UTC), include_raw=False))
    assert [e.event_id for e in a] == [e.event_id for e in b]


def test_first_sight_ids_survive_a_lost_state() -> None:
    # state rebuilt from nothing: the same first-sight facts come again with the same ids
    a, _ = diff_member(None, one_member(rec("active")), None, ctx())
    b, _ = diff_member(None, one_member(rec("active")), None, LATER)
    assert a[0].event_id == b[0].event_id


def test_the_same_status_reached_another_way_is_another_fact() -> None:
    direct, _ = diff_member(None, one_member(rec("active")), None, ctx())
    via_invite, _ = diff_member(state_of("invited"), one_member(rec("active")), None, LATER)
    assert direct[0].event_id != via_invite[0].event_id


def test_a_recovery_is_not_mistaken_for_the_original_join() -> None:
    joined, s1 = diff_member(None, one_member(rec("active")), None, ctx())
    _, s2 = diff_member(s1, one_member(rec("removed")), None, LATER)
    recovered, _ = diff_member(s2, one_member(rec("active")), None, LATER)
    assert recovered[0].event_type == "member.joined"
    assert recovered[0].event_id != joined[0].event_id


def test_repeated_facts_without_timestamps_get_new_ids() -> None:
    s = state_of("active")
    ids = []
    for _ in range(2):
        removed, s = diff_member(s, one_member(rec("removed")), None, LATER)
        recovered, s = diff_member(s, one_member(rec("active")), None, LATER)
        ids += [removed[0].event_id, recovered[0].event_id]
    assert len(set(ids)) == 4


def test_an_email_changed_back_and_forth_gets_new_ids() -> None:
    s = state_of("active")
    ids = []
    for email in ["b@acme.example", "franz@acme.example", "b@acme.example"]:
        events, s = diff_member(s, one_member(rec("active", email=email)), None, LATER)
        ids.append(events[0].event_id)
    assert len(set(ids)) == 3


def test_replaying_the_same_poll_from_the_same_state_repeats_the_ids() -> None:
    prev = state_of("active")
    cur = one_member(rec("suspended", email="z@acme.example"))
    first, _ = diff_member(prev, cur, None, LATER)
    again, _ = diff_member(pack_state(prev), cur, None, ctx(datetime(2027, 1, 1, tzinfo=UTC)))
    assert [e.event_id for e in first] == [e.event_id for e in again]


# --- state -------------------------------------------------------------------------------------


def test_state_is_compact_and_json_only() -> None:
    info = one_member(
        rec(
            "active",
            roles=[{"role_id": "pid_dbtmr:2", "name": "B", "description": "long text"}],
            secondary_emails=[{"email": "s@x.example", "is_verified": True}],
            external_id="E",
        )
    )
    state = member_state(info)
    assert state == {
        "team_member_id": TMID,
        "email": "franz@acme.example",
        "email_verified": True,
        "status": "active",
        "given_name": "Franz",
        "surname": "Ferdinand",
        "familiar_name": "Franz",
        "display_name": "Franz Ferdinand",
        "abbreviated_name": "FF",
        "membership_type": "full",
        "account_id": "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc",
        "external_id": "E",
        "groups": ["g:e2db7665347abcd600000000001a2b3c"],
        "roles": [{"role_id": "pid_dbtmr:2", "name": "B"}],
        "secondary_emails": [{"email": "s@x.example", "is_verified": True}],
        "rev": 0,
    }
    assert len(pack_state(state) or b"") < 600


def test_unknown_fields_and_tags_reach_the_event_raw_without_crashing() -> None:
    record = rec("active", new_field={"x": [1, 2]})
    record["profile"]["status"] = {".tag": "future_status", "since": "2026-01-01T00:00:00Z"}
    record["profile"]["membership_type"] = {".tag": "guest"}
    record["brand_new_top_level"] = 7
    events, _ = diff_member(None, one_member(record), None, ctx())
    decoded = check_event(events[0])
    assert decoded["raw"]["profile"]["new_field"] == {"x": [1, 2]}
    assert decoded["raw"]["profile"]["status"] == record["profile"]["status"]
    assert decoded["raw"]["brand_new_top_level"] == 7
    assert decoded["user"]["status"] == "future_status"
    assert decoded["member"]["membership_type"] == "guest"
    assert decoded["member"]["status_details"] == {"since": "2026-01-01T00:00:00Z"}
