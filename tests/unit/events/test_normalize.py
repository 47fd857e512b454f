"""Records → envelope parts, snapshots, and audit-log events."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import orjson
import pytest
from event_support import (
    FEATURES,
    api_app,
    apps_record,
    check_event,
    ctx,
    desktop_client,
    devices_record,
    member_record,
    mobile_client,
    one_apps,
    one_devices,
    one_member,
    sdk_admin_suspend_event,
    sdk_login_event,
    sdk_member_record,
    team_event,
    team_info,
    web_session,
)

from streamer.dropbox.models import parse_events
from streamer.events.apps import app_snapshots
from streamer.events.audit import audit_event
from streamer.events.members import (
    member_details,
    member_snapshot,
    member_state,
    user_ref,
    user_ref_from_state,
)
from streamer.events.sessions import session_snapshots
from streamer.events.team import TeamRecord, team_snapshot

TMID = "dbmid:AAHhy7WsR0x-u4ZCqiDl5Fz5zvuL3kmspwU"
LATER = ctx(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))


def test_user_ref_from_a_profile_and_from_a_state_agree() -> None:
    info = one_member(member_record(external_id="E-1"))
    assert user_ref(info.profile) == {
        "team_member_id": TMID,
        "email": "franz@acme.example",
        "name": "Franz Ferdinand",
        "status": "active",
        "account_id": "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc",
        "external_id": "E-1",
    }
    assert user_ref_from_state(member_state(info)) == user_ref(info.profile)
    bare = one_member(member_record(account_id=None))
    assert "account_id" not in user_ref(bare.profile)
    assert user_ref_from_state(member_state(bare)) == user_ref(bare.profile)


def test_member_details_from_the_sdk_record() -> None:
    details = member_details(one_member(sdk_member_record()))
    assert details == {
        "given_name": "Franz",
        "surname": "Ferdinand",
        "familiar_name": "Franz",
        "abbreviated_name": "FF",
        "email_verified": False,
        "membership_type": "full",
        "groups": ["g:e2db7665347abcd600000000001a2b3c"],
        "member_folder_id": "20",
        "root_folder_id": "30",
        "roles": [{"role_id": "pid_dbtmr:3456", "name": "Billing admin"}],
        "secondary_emails": [{"email": "apple@orange.com", "is_verified": True}],
        "persistent_id": "123456",
        "is_directory_restricted": True,
        "joined_on": datetime(2015, 5, 12, 15, 50, 38, tzinfo=UTC),
        "profile_photo_url": details["profile_photo_url"],
    }


# --- snapshots ---------------------------------------------------------------------------------


def test_snapshot_ids_are_per_subject_and_slot() -> None:
    info = one_member(member_record())
    a = member_snapshot(info, ctx(), slot=7)
    assert a.event_id == member_snapshot(info, LATER, slot=7).event_id
    assert a.event_id != member_snapshot(info, ctx(), slot=8).event_id
    assert a.event_time == a.observed_time == ctx().observed_at
    # without a slot, the observation second stands in (ids then differ per run)
    assert member_snapshot(info, ctx()).event_id != member_snapshot(info, LATER).event_id
    check_event(a)


def test_session_snapshots_one_per_session() -> None:
    devices = one_devices(
        devices_record(web=[web_session()], desktop=[desktop_client()], mobile=[mobile_client()])
    )
    events = session_snapshots(devices, None, ctx(), slot=3)
    assert [e.event_type for e in events] == ["session.snapshot"] * 3
    assert [e.device["kind"] for e in events if e.device] == ["web", "desktop", "mobile"]
    assert len({e.event_id for e in events}) == 3
    assert events[0].user == {"team_member_id": TMID}
    assert [e.event_id for e in session_snapshots(devices, None, LATER, slot=3)] == [
        e.event_id for e in events
    ]
    for event in events:
        check_event(event)


def test_app_snapshots_one_per_app() -> None:
    linked = one_apps(apps_record(TMID, [api_app(), api_app("dbaid:2", linked=None)]))
    events = app_snapshots(linked, {"team_member_id": TMID, "email": "f@x"}, ctx(), slot=3)
    assert [e.app["app_id"] for e in events if e.app] == [
        "dbaid:AAFdgehTzw7WlXhZJsbGCLePe8RvQGYDr-I",
        "dbaid:2",
    ]
    assert events[0].user == {"team_member_id": TMID, "email": "f@x"}
    for event in events:
        check_event(event)


def test_team_snapshot_carries_the_flattened_settings_and_raw() -> None:
    event = team_snapshot(TeamRecord(team_info(), FEATURES), ctx(), slot=9)
    assert event.settings is not None
    assert event.settings["policies.sharing.shared_link_create_policy"] == "default_team_only"
    assert event.settings["features.upload_api_rate_limit.limit"] == 25000
    assert event.raw == {"info": team_info(), "features": FEATURES}
    assert event.user is None
    assert event.key() == ctx().team_id.encode()
    assert (
        event.event_id == team_snapshot(TeamRecord(team_info(), FEATURES), LATER, slot=9).event_id
    )
    assert (
        team_snapshot(TeamRecord(team_info(), FEATURES), ctx(include_raw=False), slot=9).raw is None
    )
    check_event(event)


# --- audit -------------------------------------------------------------------------------------


def test_audit_event_from_an_sdk_login_record() -> None:
    record = sdk_login_event()
    event = audit_event(team_event(record), ctx())
    assert event.event_type == "audit.event"
    assert event.event_time == datetime(2017, 1, 25, 15, 51, 30, tzinfo=UTC)
    assert event.user == {
        "team_member_id": "dbmid:AAHhy7WsR0x-u4ZCqiDl5Fz5zvuL3kmspwU",
        "account_id": "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc",
        "email": "john_smith@acmecorp.com",
        "name": "John Smith",
    }
    assert event.network == {
        "ip_address": "45.56.78.100",
        "country": "US",
        "city": "San Francisco",
        "region": "California",
    }
    assert event.device == {
        "kind": "web",
        "session_id": "dbwsid:123456789012345678901234567890123456789",
    }
    assert event.audit is not None
    assert event.audit["category"] == "logins"
    assert event.audit["type"] == "login_success"
    assert event.audit["description"] == "(logins) Signed in"
    assert event.audit["details"]["login_method"] == {".tag": "password"}
    assert event.audit["involve_non_team_member"] is False
    assert event.raw is record
    assert event.key() == b"dbmid:AAHhy7WsR0x-u4ZCqiDl5Fz5zvuL3kmspwU"
    check_event(event)


def test_audit_user_is_the_acting_admin_and_the_context_stays_in_audit() -> None:
    event = audit_event(team_event(sdk_admin_suspend_event()), ctx())
    assert event.user is not None
    assert event.user["name"] == "Alice Admin"
    assert event.audit is not None
    assert event.audit["context"]["display_name"] == "John Smith"
    assert event.device == {"kind": "web", "session_id": "dbwsid:admin0000000000000000000000000000"}
    assert event.network is None
    check_event(event)


def test_audit_user_falls_back_to_the_context_member() -> None:
    record = sdk_login_event()
    record["actor"] = {".tag": "app", "app": {".tag": "user_or_team_linked_app", "app_id": "x"}}
    event = audit_event(team_event(record), ctx())
    assert event.user is not None
    assert event.user["team_member_id"] == "dbmid:AAHhy7WsR0x-u4ZCqiDl5Fz5zvuL3kmspwU"
    record["context"] = {".tag": "team"}
    assert audit_event(team_event(record), ctx()).user is None
    assert audit_event(team_event(record), ctx()).key() == ctx().team_id.encode()


def test_non_team_actors_are_no_user() -> None:
    record = sdk_login_event()
    record["actor"] = {
        ".tag": "user",
        "user": {".tag": "non_team_member", "email": "guest@example.com"},
    }
    record["context"] = {".tag": "non_team_member", "email": "guest@example.com"}
    assert audit_event(team_event(record), ctx()).user is None


def test_audit_ids_are_stable_across_key_order_refetch_and_observation() -> None:
    record = sdk_login_event()
    shuffled = {k: record[k] for k in reversed(list(record))}
    shuffled["details"] = {k: record["details"][k] for k in reversed(list(record["details"]))}
    refetched = copy.deepcopy(record)
    refetched["event_type"]["description"] = "(logins) Signed in (new wording)"
    first = audit_event(team_event(record), ctx())
    assert audit_event(team_event(shuffled), LATER).event_id == first.event_id
    assert audit_event(team_event(refetched), LATER).event_id == first.event_id
    (model,), _ = parse_events([record])
    assert audit_event(team_event(model), ctx(include_raw=False)).event_id == first.event_id


def test_different_audit_records_have_different_ids() -> None:
    base = audit_event(team_event(sdk_login_event()), ctx()).event_id
    other_session = sdk_login_event(session_id="dbwsid:other")
    later = sdk_login_event()
    later["timestamp"] = "2017-01-25T15:51:31Z"
    other_details = sdk_login_event()
    other_details["details"]["is_emm_managed"] = True
    ids = {
        audit_event(team_event(r), ctx()).event_id for r in (other_session, later, other_details)
    }
    assert base not in ids
    assert len(ids) == 3


def test_audit_event_keeps_unknown_event_types_and_fields() -> None:
    record = sdk_login_event()
    record["event_type"] = {".tag": "quantum_login", "description": "(logins) new"}
    record["details"] = {".tag": "quantum_login_details", "qubits": 3}
    record["brand_new"] = {"x": 1}
    event = audit_event(team_event(record), ctx())
    assert event.audit is not None
    assert event.audit["type"] == "quantum_login"
    assert event.audit["details"]["qubits"] == 3
    assert orjson.loads(event.to_json())["raw"]["brand_new"] == {"x": 1}


@pytest.mark.parametrize("missing", ["timestamp", "event_type", "details", "event_category"])
def test_malformed_audit_records_are_rejected_naming_the_missing_field(missing: str) -> None:
    record = sdk_login_event()
    del record[missing]
    parsed = parse_events([record])
    assert parsed.ok == []
    (rejected,) = parsed.rejected
    assert rejected.raw is record
    assert rejected.reason.startswith(f"{missing}:")
