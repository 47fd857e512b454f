"""Linked apps, team settings and the member activity summary."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import orjson
import pytest
from event_support import (
    FEATURES,
    api_app,
    apply_team,
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
    sdk_features,
    sdk_team_info,
    team_info,
    web_session,
)

from streamer.dropbox.models import MemberLinkedApps, parse_features, parse_team_info
from streamer.events.activity import member_activity
from streamer.events.apps import apps_state, diff_member_apps
from streamer.events.envelope import UserRef
from streamer.events.members import diff_member
from streamer.events.sessions import diff_member_devices
from streamer.events.team import TeamRecord, diff_team, team_settings, team_state
from streamer.state import pack_state

TMID = "dbmid:AAHhy7WsR0x-u4ZCqiDl5Fz5zvuL3kmspwU"
USER = UserRef(team_member_id=TMID, email="franz@acme.example", status="active")
LATER = ctx(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))


def apps(*items: dict) -> MemberLinkedApps:
    return one_apps(apps_record(TMID, items))


# --- apps ------------------------------------------------------------------------------------


def test_a_new_app_is_linked_dated_by_linked() -> None:
    events, state = diff_member_apps(None, apps(api_app()), USER, ctx())
    assert [e.event_type for e in events] == ["app.linked"]
    event = events[0]
    assert event.event_time == datetime(2026, 1, 15, 11, 0, tzinfo=UTC)
    assert event.app == {
        "app_id": "dbaid:AAFdgehTzw7WlXhZJsbGCLePe8RvQGYDr-I",
        "app_name": "Notes Sync",
        "is_app_folder": True,
        "publisher": "Example Software",
        "publisher_url": "https://example.com",
        "linked": datetime(2026, 1, 15, 11, 0, tzinfo=UTC),
    }
    assert event.user == USER
    assert orjson.loads(event.to_json())["raw"] == api_app()  # the wire record, as sent
    assert state == {
        "team_member_id": TMID,
        "apps": {
            "dbaid:AAFdgehTzw7WlXhZJsbGCLePe8RvQGYDr-I": [
                "Notes Sync",
                "Example Software",
                1768474800,
                True,
            ]
        },
    }
    check_event(event)


def test_a_gone_app_is_unlinked_at_observation_described_from_state() -> None:
    _, prev = diff_member_apps(None, apps(api_app()), USER, ctx())
    events, state = diff_member_apps(prev, apps(), USER, LATER)
    assert state is None
    (event,) = events
    assert event.event_type == "app.unlinked"
    assert event.event_time == LATER.observed_at
    assert event.app == {
        "app_id": "dbaid:AAFdgehTzw7WlXhZJsbGCLePe8RvQGYDr-I",
        "app_name": "Notes Sync",
        "publisher": "Example Software",
        "linked": datetime(2026, 1, 15, 11, 0, tzinfo=UTC),
        "is_app_folder": True,
    }
    check_event(event)


def test_an_app_linked_again_between_polls_is_unlinked_and_linked() -> None:
    _, prev = diff_member_apps(None, apps(api_app()), USER, ctx())
    again = apps(api_app(linked="2026-03-01T00:00:00Z"))
    events, _ = diff_member_apps(prev, again, USER, LATER)
    assert [e.event_type for e in events] == ["app.unlinked", "app.linked"]
    assert len({e.event_id for e in events}) == 2


def test_renamed_apps_only_update_state() -> None:
    _, prev = diff_member_apps(None, apps(api_app()), USER, ctx())
    events, state = diff_member_apps(prev, apps(api_app(app_name="Notes Sync 2")), USER, LATER)
    assert events == []
    assert state != prev


def test_apps_unchanged_keep_the_state_object_packed_or_not() -> None:
    _, prev = diff_member_apps(None, apps(api_app()), USER, ctx())
    assert diff_member_apps(prev, apps(api_app()), USER, LATER) == ([], prev)
    packed = pack_state(prev)
    events, state = diff_member_apps(packed, apps(api_app()), USER, LATER)
    assert events == []
    assert state is packed


def test_member_gone_from_the_apps_listing_unlinks_everything() -> None:
    _, prev = diff_member_apps(None, apps(api_app(), api_app("dbaid:2")), USER, ctx())
    events, state = diff_member_apps(prev, None, None, LATER)
    assert [e.event_type for e in events] == ["app.unlinked", "app.unlinked"]
    assert all(e.user == {"team_member_id": TMID} for e in events)
    assert state is None
    assert diff_member_apps(None, None, None, LATER) == ([], None)
    assert apps_state(apps()) is None


def test_app_ids_are_per_member_app_and_link_time() -> None:
    a, _ = diff_member_apps(None, apps(api_app()), USER, ctx())
    b, _ = diff_member_apps(None, apps(api_app()), None, LATER)
    other_member = one_apps(apps_record("dbmid:other", [api_app()]))
    c, _ = diff_member_apps(None, other_member, None, LATER)
    assert a[0].event_id == b[0].event_id != c[0].event_id


def test_apps_without_optional_fields() -> None:
    bare = api_app(publisher=None, publisher_url=None, linked=None)
    events, state = diff_member_apps(None, apps(bare), USER, ctx())
    assert events[0].event_time == ctx().observed_at
    gone, _ = diff_member_apps(state, apps(), USER, LATER)
    assert gone[0].app == {
        "app_id": "dbaid:AAFdgehTzw7WlXhZJsbGCLePe8RvQGYDr-I",
        "app_name": "Notes Sync",
        "is_app_folder": True,
    }


# --- team ------------------------------------------------------------------------------------


def test_team_settings_flatten_unions_to_their_tags() -> None:
    settings = team_settings(
        TeamRecord(parse_team_info(sdk_team_info()), parse_features(sdk_features()).ok)
    )
    assert settings["name"] == "Dropbox Inc."
    assert settings["policies.sharing.shared_link_create_policy"] == "team_only"
    assert settings["policies.emm_state"] == "disabled"
    assert settings["features.upload_api_rate_limit"] == "limit"
    assert settings["features.upload_api_rate_limit.limit"] == 25000
    assert settings["features.has_team_shared_dropbox"] is False
    assert settings["features.has_team_file_events"] == "enabled"
    assert settings["features.has_team_file_events.enabled"] is True
    # dicts or models, same result
    assert settings == team_settings(TeamRecord(sdk_team_info(), sdk_features()))


def test_team_settings_keep_unknown_policies_and_features() -> None:
    info = team_info(policies={"new_policy": {".tag": "strict", "level": 3}})
    settings = team_settings(
        TeamRecord(info, [{".tag": "other"}, {".tag": "new_feature", "new_feature": 7}])
    )
    assert settings["policies.new_policy"] == "strict"
    assert settings["policies.new_policy.level"] == 3
    assert settings["features.new_feature"] == 7
    assert not any(k.startswith("features.other") for k in settings)


def test_first_team_poll_only_records_state() -> None:
    events, state = diff_team(None, TeamRecord(team_info(), FEATURES), None, ctx())
    assert events == []
    assert state == team_state(TeamRecord(team_info(), FEATURES))
    assert state["rev"] == 0


def test_team_changes_are_one_team_changed() -> None:
    _, prev = diff_team(None, TeamRecord(team_info(), FEATURES), None, ctx())
    policies = copy.deepcopy(team_info()["policies"])
    policies["sharing"]["shared_link_create_policy"] = {".tag": "team_only"}
    del policies["office_addin"]
    features = [*FEATURES[:2], {".tag": "has_team_selective_sync", "has_team_selective_sync": True}]
    events, state = diff_team(
        prev, TeamRecord(team_info(name="Acme", policies=policies), features), None, LATER
    )
    (event,) = events
    assert event.event_type == "team.changed"
    assert event.key() == b"dbtid:AAFdgehTzw7WlXhZJsbGCLePe8RvQGYDr-I"
    assert event.changes == {
        "features.has_team_file_events": {"old": "enabled", "new": None},
        "features.has_team_file_events.enabled": {"old": True, "new": None},
        "features.has_team_selective_sync": {"old": None, "new": True},
        "name": {"old": "Acme Corp", "new": "Acme"},
        "policies.office_addin": {"old": "disabled", "new": None},
        "policies.sharing.shared_link_create_policy": {
            "old": "default_team_only",
            "new": "team_only",
        },
    }
    assert event.raw is not None
    assert event.raw["info"]["name"] == "Acme"
    assert apply_team(events, prev) == state
    check_event(event)


def test_unchanged_team_keeps_the_state_object() -> None:
    _, prev = diff_team(None, TeamRecord(team_info(), FEATURES), None, ctx())
    assert diff_team(prev, TeamRecord(team_info(), FEATURES), None, LATER) == ([], prev)
    packed = pack_state(prev)
    events, state = diff_team(packed, TeamRecord(team_info(), FEATURES), None, LATER)
    assert events == []
    assert state is packed


def test_a_team_setting_flipped_back_and_forth_gets_new_ids() -> None:
    _, state = diff_team(None, TeamRecord(team_info(), FEATURES), None, ctx())
    ids = []
    for licensed in (60, 50, 60):
        events, state = diff_team(
            state, TeamRecord(team_info(num_licensed_users=licensed), FEATURES), None, LATER
        )
        ids.append(events[0].event_id)
    assert len(set(ids)) == 3


# --- activity ----------------------------------------------------------------------------------


def test_member_activity_summarises_the_states() -> None:
    _, member = diff_member(None, one_member(member_record(TMID)), None, ctx())
    _, devices = diff_member_devices(
        None,
        one_devices(
            devices_record(
                TMID,
                web=[web_session(), web_session("dbwsid:2", updated="2026-03-01T10:00:00Z")],
                desktop=[desktop_client()],
                mobile=[mobile_client(ip_address=None)],
            )
        ),
        None,
        ctx(),
    )
    _, linked = diff_member_apps(None, apps(api_app()), None, ctx())
    event = member_activity(pack_state(member), devices, linked, None, ctx(), slot=20513)
    assert event.event_type == "member.activity"
    assert event.user is not None
    assert event.user["email"] == "franz@acme.example"
    assert event.activity == {
        "active_web_sessions": 2,
        "desktop_clients": 1,
        "mobile_clients": 1,
        "linked_apps": 1,
        "last_seen": datetime(2026, 3, 1, 10, 0, tzinfo=UTC),
        "last_ip_address": "203.0.113.7",
        "last_country": "United States",
    }
    again = member_activity(member, devices, linked, None, LATER, slot=20513)
    assert again.event_id == event.event_id
    assert member_activity(member, devices, linked, None, ctx(), slot=20514).event_id != (
        event.event_id
    )
    check_event(event)


def test_member_activity_with_nothing_but_a_user() -> None:
    event = member_activity(None, None, None, USER, ctx(), slot=1)
    assert event.activity == {
        "active_web_sessions": 0,
        "desktop_clients": 0,
        "mobile_clients": 0,
        "linked_apps": 0,
    }
    with pytest.raises(ValueError, match="needs a user"):
        member_activity(None, None, None, None, ctx(), slot=1)
