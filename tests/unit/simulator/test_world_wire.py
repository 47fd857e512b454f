"""Everything the simulated World serves decodes strictly with the official Dropbox SDK."""

from __future__ import annotations

import re
from typing import Any

import pytest
from dropbox import team, team_log
from dropbox.stone_serializers import json_compat_obj_decode
from stone.backends.python_rsrc.stone_validators import Validator

from streamer.simulator.world import World
from streamer.simulator.world_wire import EVENT_TYPES

FEATURES = [
    "upload_api_rate_limit",
    "has_team_shared_dropbox",
    "has_team_file_events",
    "has_team_selective_sync",
    "has_distinct_member_homes",
]
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
TIMESTAMP_KEYS = {"timestamp", "created", "updated", "expires", "linked"}
TIMESTAMP_KEYS |= {"invited_on", "joined_on", "suspended_on"}


def decode(validator: Validator, obj: Any) -> None:
    json_compat_obj_decode(validator, obj, strict=True)


def assert_clean(obj: Any, path: str = "$") -> None:
    """No nulls (absent optionals are omitted) and every timestamp in Dropbox's format."""
    assert obj is not None, f"null at {path}"
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key in TIMESTAMP_KEYS:
                assert isinstance(value, str), path
                assert TIMESTAMP.match(value), f"{path}.{key} = {value!r}"
            assert_clean(value, f"{path}.{key}")
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            assert_clean(value, f"{path}[{i}]")


def check_everything(world: World) -> None:
    decode(team.TeamGetInfoResult_validator, world.team_info())
    for value in world.feature_values(FEATURES):
        decode(team.FeatureValue_validator, value)
    for member_id in world.member_order():
        info = world.member_info(member_id)
        decode(team.TeamMemberInfoV2_validator, info)
        assert_clean(info)
        devices = world.member_devices(member_id)
        if devices is not None:
            decode(team.MemberDevices_validator, devices)
            assert_clean(devices)
        for flags in ((True, True, True), (False, True, False), (True, False, True)):
            web, desktop, mobile = flags
            single = world.member_devices_single(member_id, web=web, desktop=desktop, mobile=mobile)
            decode(team.ListMemberDevicesResult_validator, single)
            partial = world.member_devices(member_id, web=web, desktop=desktop, mobile=mobile)
            if partial is not None:
                decode(team.MemberDevices_validator, partial)
        apps = world.member_linked_apps(member_id)
        if apps is not None:
            decode(team.MemberLinkedApps_validator, apps)
            assert_clean(apps)
    for event in world.audit_log():
        decode(team_log.TeamEvent_validator, event)
        assert_clean(event)


@pytest.fixture(scope="module")
def churned() -> World:
    """A 300-member team after a day of heavy churn."""
    world = World(members=300, seed=7, churn=20.0)
    check_everything(world)  # as built
    for _ in range(6):
        world.advance(4 * 3600)
    return world


def test_a_built_and_churned_team_decodes_strictly_with_the_sdk(churned: World) -> None:
    check_everything(churned)


def test_the_audit_log_uses_a_modest_exact_set_of_event_types(churned: World) -> None:
    seen = {e["event_type"][".tag"] for e in churned.audit_log()}
    assert seen == set(EVENT_TYPES)
    for event in churned.audit_log():
        category, description = EVENT_TYPES[event["event_type"][".tag"]]
        assert event["event_category"] == {".tag": category}
        assert event["event_type"]["description"] == description
        assert event["details"][".tag"] == event["event_type"][".tag"] + "_details"


def test_feature_values_follow_the_requested_order_and_reject_unknown_tags() -> None:
    world = World(members=5)
    values = world.feature_values(list(reversed(FEATURES)))
    assert [v[".tag"] for v in values] == list(reversed(FEATURES))
    assert values[-1]["upload_api_rate_limit"][".tag"] in ("limit", "unlimited")
    with pytest.raises(KeyError):
        world.feature_values(["no_such_feature"])


def test_ids_names_and_addresses_look_like_dropbox(churned: World) -> None:
    info = churned.team_info()
    assert info["team_id"].startswith("dbtid:")
    domain = None
    emails: set[str] = set()
    countries: set[str] = set()
    for member_id in churned.member_order():
        profile = churned.member_info(member_id)["profile"]
        assert member_id == profile["team_member_id"]
        assert re.fullmatch(r"dbmid:AA[-_A-Za-z0-9]{33}", member_id)
        assert re.fullmatch(r"dbid:AA[-_A-Za-z0-9]{33}", profile["account_id"])
        assert len(profile["account_id"]) == 40
        local, _, at = profile["email"].partition("@")
        assert re.fullmatch(r"[a-z0-9._]+", local), profile["email"]
        domain = domain or at
        assert at == domain
        assert profile["email"] not in emails
        emails.add(profile["email"])
        assert all(re.fullmatch(r"g:[0-9a-f]{32}", g) for g in profile["groups"])
        assert profile["member_folder_id"].isdigit()
        assert profile["root_folder_id"].isdigit()
        assert profile["membership_type"] == {".tag": "full"}
        name = profile["name"]
        assert name["display_name"] == f"{name['given_name']} {name['surname']}"
        devices = churned.member_devices(member_id) or {}
        for key, prefix in (
            ("web_sessions", "dbwsid:"),
            ("desktop_clients", "dbdsid:"),
            ("mobile_clients", "dbmsid:"),
        ):
            for session in devices.get(key, []):
                assert session["session_id"].startswith(prefix)
                assert session["created"] <= session["updated"]
                countries.add(session["country"])
        for app in (churned.member_linked_apps(member_id) or {}).get("linked_api_apps", []):
            assert app["app_id"].startswith("dbaid:")
    assert "United States" in countries  # names, not codes, in DeviceSession.country
    assert all(len(c) > 2 for c in countries)
    codes = {e["origin"]["geo_location"]["country"] for e in churned.audit_log()}
    assert codes
    assert all(len(c) == 2 for c in codes)
