"""OCSF output: every event type the connector emits, mapped and validated against the JSON
Schema of the pinned OCSF version (``tests/ocsf_schema.py``: the ``ocsf-json-schema`` package's
official schema export, checked by ``jsonschema``).

Audit records are made by the official Dropbox SDK (genuine ``team_log`` wire JSON), one or
more per category the mapping distinguishes, plus records it cannot map (the catch-all).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import dropbox.team as sdk_team
import dropbox.team_log as sdk_log
import orjson
import pytest
from dropbox.stone_serializers import json_compat_obj_encode
from event_support import (
    ROOT,
    TEAM_ID,
    apps_records,
    ctx,
    devices_record,
    devices_records,
    member_record,
    member_records,
    one_apps,
    one_devices,
    one_member,
    sample_events,
    sdk_login_event,
    team_event,
    web_session,
)
from hypothesis import HealthCheck, given, settings

from streamer.events.apps import app_snapshots, diff_member_apps
from streamer.events.audit import audit_event
from streamer.events.envelope import EVENT_TYPES, Event, UserRef
from streamer.events.formats import ENCODERS, encode_native, encoders
from streamer.events.members import diff_member
from streamer.events.ocsf import (
    CLASSES,
    OCSF_VERSION,
    country_code,
    encode_ocsf,
    ocsf_json,
    region_code,
)
from streamer.events.sessions import diff_member_devices, session_snapshots
from tests.ocsf_schema import captions, check_ocsf, class_info, ocsf_errors

SAMPLES = sample_events()
C = ctx(dt.datetime(2026, 3, 1, 12, 5, tzinfo=dt.UTC))


def ocsf(event: Event) -> dict[str, Any]:
    """The OCSF form through real JSON (what a consumer reads), validated."""
    data: dict[str, Any] = orjson.loads(ocsf_json(event))
    check_ocsf(data)
    return data


# --- every native event type ---------------------------------------------------------------

# event type -> (class_uid, activity_id) of its OCSF form (documented in docs/ocsf.md)
EXPECTED = {
    "team.snapshot": (5023, 2),
    "team.changed": (3004, 3),
    "member.snapshot": (5003, 2),
    "member.invited": (3001, 1),
    "member.joined": (3001, 2),  # invited → active: Enable (first seen active: Create)
    "member.updated": (3001, 99),
    "member.suspended": (3001, 5),
    "member.unsuspended": (3001, 2),
    "member.removed": (3001, 6),
    "member.activity": (5003, 2),
    "web_session.started": (3002, 1),
    "web_session.ended": (3002, 2),
    "desktop_client.linked": (3004, 6),
    "desktop_client.unlinked": (3004, 7),
    "mobile_client.linked": (3004, 6),
    "mobile_client.unlinked": (3004, 7),
    "session.network_changed": (3004, 3),
    "session.snapshot": (5001, 2),
    "app.linked": (3004, 1),
    "app.unlinked": (3004, 4),
    "app.snapshot": (5023, 2),
    "audit.event": (3002, 1),  # the login sample; the audit categories are tested below
}


def test_the_samples_cover_every_event_type() -> None:
    assert set(SAMPLES) == set(EVENT_TYPES) == set(EXPECTED)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_event_type_has_a_valid_ocsf_form(event_type: str) -> None:
    data = ocsf(SAMPLES[event_type])
    assert (data["class_uid"], data["activity_id"]) == EXPECTED[event_type]
    assert data["metadata"]["version"] == OCSF_VERSION == "1.8.0"
    assert data["metadata"]["uid"] == SAMPLES[event_type].event_id


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_nothing_is_lost_unmapped_plus_raw_data_is_the_native_event(event_type: str) -> None:
    event = SAMPLES[event_type]
    data = ocsf(event)
    native = dict(data["unmapped"])
    if event.raw is not None:
        native["raw"] = json.loads(data["raw_data"])
    else:
        assert "raw_data" not in data
    assert native == orjson.loads(event.to_json())


def test_without_raw_there_is_no_raw_data() -> None:
    event = audit_event(team_event(sdk_login_event()), ctx(include_raw=False))
    data = ocsf(event)
    assert "raw_data" not in data
    assert data["unmapped"] == orjson.loads(event.to_json())


def test_time_fields_are_epoch_milliseconds() -> None:
    event = SAMPLES["web_session.started"]
    data = ocsf(event)
    assert data["time"] == int(event.event_time.timestamp() * 1000)
    assert data["metadata"]["logged_time"] == int(event.observed_time.timestamp() * 1000)
    assert data["session"]["created_time"] == data["time"]  # started = session created


def test_class_and_activity_names_are_the_schemas_captions() -> None:
    for class_uid, (name, category_uid, category, activities) in CLASSES.items():
        assert name == class_info(class_uid)["caption"]
        assert captions(class_uid, "category_uid") == {category_uid: category}
        schema_activities = captions(class_uid, "activity_id")
        for activity_id, activity in activities.items():
            assert schema_activities[activity_id] == activity, (class_uid, activity_id)


def test_web_session_logon_carries_session_source_ip_and_location() -> None:
    data = ocsf(SAMPLES["web_session.started"])
    assert data["session"]["uid"] == "dbwsid:1"
    assert data["src_endpoint"] == {"ip": "203.0.113.7", "location": {"country": "US"}}
    assert data["user"]["uid"] == "dbmid:AAHhy7WsR0x-u4ZCqiDl5Fz5zvuL3kmspwU"
    assert data["user"]["email_addr"] == "franz.ferdinand@acme.example"
    assert data["http_request"]["user_agent"].startswith("Mozilla/5.0")
    ended = ocsf(SAMPLES["web_session.ended"])
    assert ended["activity_name"] == "Logoff"
    assert ended["session"]["uid"] == "dbwsid:1"


def test_network_change_shows_the_device_before_and_after() -> None:
    data = ocsf(SAMPLES["session.network_changed"])
    before, after = data["entity"]["device"], data["entity_result"]["device"]
    assert (before["ip"], before["location"]) == ("203.0.113.7", {"country": "US"})
    assert (after["ip"], after["location"]) == ("198.51.100.99", {"country": "CA"})
    assert before["type"] == "Browser"


def test_devices_in_the_inventory_and_entity_events() -> None:
    desktop = ocsf(SAMPLES["desktop_client.linked"])["entity"]["device"]
    assert desktop["type_id"] == 2
    assert desktop["hostname"] == "franz-mbp"
    assert desktop["os"] == {"name": "Mac OS X 14.2", "type_id": 300}
    mobile = ocsf(SAMPLES["mobile_client.linked"])["entity"]["device"]
    assert mobile["type_id"] == 5
    assert mobile["os"] == {"name": "iOS", "type_id": 301, "version": "17.3"}
    assert mobile["owner"]["uid"] == "dbmid:AAHhy7WsR0x-u4ZCqiDl5Fz5zvuL3kmspwU"
    inventory = ocsf(SAMPLES["session.snapshot"])
    assert inventory["device"]["uid"] == "dbwsid:1"


def test_member_changes_name_the_new_values_in_user_result() -> None:
    data = ocsf(SAMPLES["member.updated"])
    assert data["activity_name"] == "Update"
    assert data["user_result"]["account"]["uid"] == "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc"
    first_seen_active, _ = diff_member(None, one_member(member_record()), None, C)
    assert [ocsf(e)["activity_id"] for e in first_seen_active] == [1]  # Create


MEMBER_ROLE = {"role_id": "pid_dbtmr:1234", "name": "Member", "description": "No admin rights"}
ADMIN_ROLE = {"role_id": "pid_dbtmr:2345", "name": "Team admin", "description": "All"}


@pytest.mark.parametrize(
    ("roles", "user_type"),
    [
        (None, "User"),
        ([], "User"),
        ([MEMBER_ROLE], "User"),  # every plain member holds the role named "Member"
        ([ADMIN_ROLE], "Admin"),
        ([MEMBER_ROLE, ADMIN_ROLE], "Admin"),
    ],
)
def test_only_an_admin_role_makes_the_ocsf_user_an_admin(
    roles: list[dict[str, str]] | None, user_type: str
) -> None:
    record = member_record(roles=roles) if roles is not None else member_record()
    joined, _ = diff_member(None, one_member(record), None, C)
    assert ocsf(joined[0])["user"]["type"] == user_type


@pytest.mark.parametrize(
    ("before", "after", "user_type"),
    [([MEMBER_ROLE], [ADMIN_ROLE], "Admin"), ([ADMIN_ROLE], [MEMBER_ROLE], "User")],
)
def test_a_role_change_names_the_new_ocsf_user_type(
    before: list[dict[str, str]], after: list[dict[str, str]], user_type: str
) -> None:
    _, state = diff_member(None, one_member(member_record(roles=before)), None, C)
    events, _ = diff_member(state, one_member(member_record(roles=after)), None, C)
    [updated] = [e for e in events if e.event_type == "member.updated"]
    assert ocsf(updated)["user_result"]["type"] == user_type


def test_team_change_shows_old_and_new_values() -> None:
    data = ocsf(SAMPLES["team.changed"])
    assert data["entity"]["data"]["num_licensed_users"] == 50
    assert data["entity_result"]["data"]["num_licensed_users"] == 60
    assert data["entity"]["org"] == {"uid": TEAM_ID, "name": "Acme Corp"}


def test_app_events_name_the_app_and_its_member() -> None:
    data = ocsf(SAMPLES["app.linked"])
    assert data["entity"]["uid"] == "dbaid:AAFdgehTzw7WlXhZJsbGCLePe8RvQGYDr-I"
    assert data["entity"]["name"] == "Notes Sync"
    assert data["entity"]["user"]["uid"] == "dbmid:AAHhy7WsR0x-u4ZCqiDl5Fz5zvuL3kmspwU"
    inventory = ocsf(SAMPLES["app.snapshot"])["resources"][0]
    assert inventory["owner"]["uid"] == "dbmid:AAHhy7WsR0x-u4ZCqiDl5Fz5zvuL3kmspwU"


# --- the audit log, category by category ---------------------------------------------------

MEMBER = sdk_log.TeamMemberLogInfo(
    account_id="dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc",
    display_name="John Smith",
    email="john_smith@acmecorp.com",
    team_member_id="dbmid:AAHhy7WsR0x-u4ZCqiDl5Fz5zvuL3kmspwU",
)
ADMIN = sdk_log.TeamMemberLogInfo(
    account_id="dbid:AAGx4oiLtHdvRdNxUpvvJBXYgR4BS19c9kw",
    display_name="Alice Admin",
    email="alice@acmecorp.com",
    team_member_id="dbmid:AAAdmin0000000000000000000000000000000",
)
APP = sdk_log.UserLinkedAppLogInfo(
    app_id="dbaid:AAHgR8xsQP48a5DQUGPo-Vxsrjd0OByVmho", display_name="Sync Tool"
)
APP_WIRE = {"app_id": APP.app_id, "display_name": APP.display_name}
GEO = sdk_log.GeoLocationLogInfo(
    ip_address="45.56.78.100", city="San Francisco", region="California", country="US"
)
WEB_ORIGIN = sdk_log.OriginLogInfo(
    access_method=sdk_log.AccessMethodLogInfo.end_user(
        sdk_log.WebSessionLogInfo(session_id="dbwsid:123456789012345678901234567890123456789")
    ),
    geo_location=GEO,
)
API_ORIGIN = sdk_log.OriginLogInfo(
    access_method=sdk_log.AccessMethodLogInfo.api(
        sdk_log.ApiSessionLogInfo(request_id="dbarid:1234")
    )
)
FILE = sdk_log.AssetLogInfo.file(
    sdk_log.FileLogInfo(
        path=sdk_log.PathLogInfo(
            contextual="/Projects/plan.docx",
            namespace_relative=sdk_log.NamespaceRelativePathLogInfo(
                ns_id="1234", relative_path="/Projects/plan.docx", is_shared_namespace=False
            ),
        ),
        display_name="plan.docx",
        file_id="id:a4ayc_80_OEAAAAAAAAAXw",
        file_size=48213,
    )
)
GROUP = sdk_log.ParticipantLogInfo.group(
    sdk_log.GroupLogInfo(display_name="Finance", group_id="g:e2db7665347abcd600000000001a2b3c")
)


def _camel(tag: str) -> str:
    return "".join(part.capitalize() for part in tag.split("_"))


def sdk_record(
    tag: str,
    category: str,
    details: Any = None,
    *,
    actor: Any = None,
    context: Any = None,
    origin: Any = WEB_ORIGIN,
    participants: Any = None,
    assets: Any = None,
) -> dict[str, Any]:
    """A team_log ``TeamEvent`` made by the SDK, as JSON: ``tag`` and its details class."""
    event = sdk_log.TeamEvent(
        timestamp=dt.datetime(2026, 2, 28, 9, 30, 0),  # noqa: DTZ001 - SDK: naive UTC
        event_category=getattr(sdk_log.EventCategory, category),
        event_type=getattr(sdk_log.EventType, tag)(
            getattr(sdk_log, _camel(tag) + "Type")(description=f"({category}) {tag}")
        ),
        details=getattr(sdk_log.EventDetails, tag + "_details")(
            details if details is not None else getattr(sdk_log, _camel(tag) + "Details")()
        ),
        actor=actor if actor is not None else sdk_log.ActorLogInfo.user(MEMBER),
        context=context if context is not None else sdk_log.ContextLogInfo.team_member(MEMBER),
        origin=origin,
        involve_non_team_member=False,
        participants=participants or [],
        assets=assets or [],
    )
    wire: dict[str, Any] = json.loads(
        json.dumps(json_compat_obj_encode(sdk_log.TeamEvent_validator, event))
    )
    return wire


def _status(new: str, previous: str | None = None) -> Any:
    return sdk_log.MemberChangeStatusDetails(
        new_value=getattr(sdk_log.MemberStatus, new),
        previous_value=getattr(sdk_log.MemberStatus, previous) if previous else None,
    )


def _tfa(new: str, previous: str) -> Any:
    return sdk_log.TfaChangeStatusDetails(
        new_value=getattr(sdk_log.TfaConfiguration, new),
        previous_value=getattr(sdk_log.TfaConfiguration, previous),
    )


DESKTOP_SESSION = sdk_log.DesktopDeviceSessionLogInfo(
    session_info=sdk_log.DesktopSessionLogInfo(session_id="dbdsid:AAFdgehTzw7WlXhZJsbGCLePe8RvQ"),
    host_name="Johns-MacBook",
    client_type=sdk_team.DesktopPlatform.mac,
    platform="Mac OS X 14.2",
    is_delete_on_unlink_supported=True,
    ip_address="45.56.78.101",
    client_version="190.4.6383",
)

# name -> (record, expected class_uid, expected activity_id, expected status_id)
AUDIT_CASES: dict[str, tuple[dict[str, Any], int, int, int]] = {
    "login_success": (sdk_login_event(), 3002, 1, 1),
    "login_fail": (
        sdk_record(
            "login_fail",
            "logins",
            sdk_log.LoginFailDetails(
                login_method=sdk_log.LoginMethod.password,
                error_details=sdk_log.FailureDetailsLogInfo(user_friendly_message="Wrong password"),
                is_emm_managed=False,
            ),
        ),
        3002,
        1,
        2,
    ),
    "login_fail_anonymous": (
        sdk_record(
            "login_fail",
            "logins",
            sdk_log.LoginFailDetails(
                login_method=sdk_log.LoginMethod.saml,
                error_details=sdk_log.FailureDetailsLogInfo(user_friendly_message="SSO failed"),
                is_emm_managed=False,
            ),
            actor=sdk_log.ActorLogInfo.anonymous,
            context=sdk_log.ContextLogInfo.anonymous,
        ),
        3002,
        1,
        2,
    ),
    "logout": (sdk_record("logout", "logins"), 3002, 2, 1),
    "sign_in_as_session_start": (
        sdk_record("sign_in_as_session_start", "logins", actor=sdk_log.ActorLogInfo.admin(ADMIN)),
        3002,
        1,
        1,
    ),
    "password_change": (sdk_record("password_change", "passwords"), 3001, 3, 1),
    "password_reset": (sdk_record("password_reset", "passwords"), 3001, 4, 1),
    "tfa_enabled": (
        sdk_record("tfa_change_status", "tfa", _tfa("authenticator", "disabled")),
        3001,
        10,
        1,
    ),
    "tfa_disabled": (
        sdk_record("tfa_change_status", "tfa", _tfa("disabled", "sms")),
        3001,
        11,
        1,
    ),
    "member_invited": (
        sdk_record("member_change_status", "members", _status("invited")),
        3001,
        1,
        1,
    ),
    "member_joined": (
        sdk_record("member_change_status", "members", _status("active", "invited")),
        3001,
        2,
        1,
    ),
    "member_suspended": (
        sdk_record(
            "member_change_status",
            "members",
            _status("suspended", "active"),
            actor=sdk_log.ActorLogInfo.admin(ADMIN),
        ),
        3001,
        5,
        1,
    ),
    "member_removed": (
        sdk_record("member_change_status", "members", _status("removed", "active")),
        3001,
        6,
        1,
    ),
    "member_change_email": (
        sdk_record(
            "member_change_email",
            "members",
            sdk_log.MemberChangeEmailDetails(
                new_value="john@acmecorp.com", previous_value="john_smith@acmecorp.com"
            ),
        ),
        3001,
        99,
        1,
    ),
    "group_add_member": (
        sdk_record(
            "group_add_member",
            "groups",
            sdk_log.GroupAddMemberDetails(is_group_owner=False),
            actor=sdk_log.ActorLogInfo.admin(ADMIN),
            participants=[GROUP],
        ),
        3006,
        3,
        1,
    ),
    "group_remove_member": (
        sdk_record("group_remove_member", "groups", participants=[GROUP]),
        3006,
        4,
        1,
    ),
    "group_create_without_a_group": (  # nothing names the group: Base Event
        sdk_record(
            "group_create",
            "groups",
            sdk_log.GroupCreateDetails(is_company_managed=False),
            actor=sdk_log.ActorLogInfo.admin(ADMIN),
        ),
        0,
        99,
        1,
    ),
    "device_link_success": (
        sdk_record(
            "device_link_success",
            "devices",
            sdk_log.DeviceLinkSuccessDetails(device_session_info=DESKTOP_SESSION),
        ),
        3004,
        6,
        1,
    ),
    "device_unlink": (
        sdk_record(
            "device_unlink",
            "devices",
            sdk_log.DeviceUnlinkDetails(
                session_info=sdk_log.MobileSessionLogInfo(session_id="dbmsid:AAFdgehTzw7WlXhZ"),
                display_name="John's iPhone",
                delete_data=False,
            ),
        ),
        3004,
        7,
        1,
    ),
    "device_change_ip_web": (
        sdk_record(
            "device_change_ip_web",
            "devices",
            sdk_log.DeviceChangeIpWebDetails(user_agent="Mozilla/5.0 (X11; Linux) Firefox/121.0"),
        ),
        3004,
        3,
        1,
    ),
    "app_link_user": (
        sdk_record("app_link_user", "apps", sdk_log.AppLinkUserDetails(app_info=APP)),
        3004,
        1,
        1,
    ),
    "app_unlink_user": (
        sdk_record("app_unlink_user", "apps", sdk_log.AppUnlinkUserDetails(app_info=APP)),
        3004,
        4,
        1,
    ),
    "file_download": (sdk_record("file_download", "file_operations", assets=[FILE]), 6006, 2, 1),
    "file_add": (sdk_record("file_add", "file_operations", assets=[FILE]), 6006, 1, 1),
    "file_download_by_an_app": (  # no IP, no session: File Hosting needs src_endpoint
        sdk_record(
            "file_download",
            "file_operations",
            actor=sdk_log.ActorLogInfo.app(APP),
            origin=API_ORIGIN,
            assets=[FILE],
        ),
        0,
        99,
        1,
    ),
    "shared_link_create": (
        sdk_record(
            "shared_link_create",
            "sharing",
            sdk_log.SharedLinkCreateDetails(
                shared_link_access_level=sdk_log.SharedLinkAccessLevel.reader
            ),
            assets=[FILE],
        ),
        6006,
        12,
        1,
    ),
    "shared_content_remove_member": (
        sdk_record("shared_content_remove_member", "sharing", assets=[FILE]),
        6006,
        13,
        1,
    ),
    "file_request_create": (  # a category the mapping leaves to the catch-all
        sdk_record("file_request_create", "file_requests"),
        0,
        99,
        1,
    ),
    "team_policy_by_dropbox": (
        sdk_record(
            "sharing_change_link_policy",
            "team_policies",
            sdk_log.SharingChangeLinkPolicyDetails(
                new_value=sdk_log.SharingLinkPolicy.only_private,
                previous_value=sdk_log.SharingLinkPolicy.default_public,
            ),
            actor=sdk_log.ActorLogInfo.dropbox,
        ),
        0,
        99,
        1,
    ),
    "reseller": (
        sdk_record(
            "member_change_status",
            "members",
            _status("suspended", "active"),
            actor=sdk_log.ActorLogInfo.reseller(
                sdk_log.ResellerLogInfo(reseller_name="Partner Co", reseller_email="ops@partner.co")
            ),
        ),
        3001,
        5,
        1,
    ),
}


@pytest.mark.parametrize("name", AUDIT_CASES)
def test_every_audit_category_maps_to_its_class_and_validates(name: str) -> None:
    record, class_uid, activity_id, status_id = AUDIT_CASES[name]
    event = audit_event(team_event(record), C)
    data = ocsf(event)
    assert (data["class_uid"], data["activity_id"], data["status_id"]) == (
        class_uid,
        activity_id,
        status_id,
    ), name
    assert data["metadata"]["event_code"] == record["event_type"][".tag"]
    assert data["metadata"]["original_time"] == "2026-02-28T09:30:00Z" or name == "login_success"
    if activity_id == 99:
        assert data["activity_name"] == record["event_type"][".tag"]
    assert data["unmapped"]["audit"]["details"] == record["details"]  # the record, kept


def test_audit_parts_land_where_ocsf_wants_them() -> None:
    login = ocsf(audit_event(team_event(AUDIT_CASES["login_fail"][0]), C))
    assert login["status_detail"] == "Wrong password"
    assert login["src_endpoint"]["location"] == {
        "city": "San Francisco",
        "region": "US-CA",
        "country": "US",
    }
    assert login["session"]["uid"] == login["actor"]["session"]["uid"]
    sso = ocsf(audit_event(team_event(AUDIT_CASES["login_fail_anonymous"][0]), C))
    assert sso["auth_protocol"] == "SAML"
    assert sso["user"]["name"] == "anonymous"

    suspended = ocsf(audit_event(team_event(AUDIT_CASES["member_suspended"][0]), C))
    assert suspended["user"]["email_addr"] == "john_smith@acmecorp.com"  # the target
    assert suspended["actor"]["user"]["email_addr"] == "alice@acmecorp.com"  # who did it
    assert suspended["actor"]["user"]["type"] == "Admin"

    group = ocsf(audit_event(team_event(AUDIT_CASES["group_add_member"][0]), C))
    assert group["group"] == {"uid": "g:e2db7665347abcd600000000001a2b3c", "name": "Finance"}
    assert group["user"]["uid"] == "dbmid:AAHhy7WsR0x-u4ZCqiDl5Fz5zvuL3kmspwU"

    device = ocsf(audit_event(team_event(AUDIT_CASES["device_link_success"][0]), C))["entity"][
        "device"
    ]
    assert device["hostname"] == "Johns-MacBook"
    assert device["uid"] == "dbdsid:AAFdgehTzw7WlXhZJsbGCLePe8RvQ"
    assert device["ip"] == "45.56.78.101"

    app = ocsf(audit_event(team_event(AUDIT_CASES["app_link_user"][0]), C))["entity"]
    assert (app["uid"], app["name"]) == ("dbaid:AAHgR8xsQP48a5DQUGPo-Vxsrjd0OByVmho", "Sync Tool")

    download = ocsf(audit_event(team_event(AUDIT_CASES["file_download"][0]), C))
    assert download["file"] == {
        "name": "plan.docx",
        "type_id": 1,
        "path": "/Projects/plan.docx",
        "uid": "id:a4ayc_80_OEAAAAAAAAAXw",
        "size": 48213,
    }
    assert download["src_endpoint"]["ip"] == "45.56.78.100"

    app_actor = audit_event(team_event(AUDIT_CASES["app_unlink_user"][0]), C)
    app_actor.audit["actor"] = {".tag": "app", "app": {".tag": "user_linked_app", **APP_WIRE}}
    assert ocsf(app_actor)["actor"] == {
        "app_uid": APP.app_id,
        "app_name": "Sync Tool",
        "session": {"uid": "dbwsid:123456789012345678901234567890123456789", "issuer": "Dropbox"},
    }
    reseller = ocsf(audit_event(team_event(AUDIT_CASES["reseller"][0]), C))
    assert reseller["actor"]["user"] == {
        "name": "ops@partner.co",
        "type_id": 99,
        "type": "Reseller",
    }
    # Base Event has no actor (only with the host profile): who did it stays in unmapped
    by_dropbox = ocsf(audit_event(team_event(AUDIT_CASES["team_policy_by_dropbox"][0]), C))
    assert "actor" not in by_dropbox
    assert by_dropbox["unmapped"]["audit"]["actor"] == {".tag": "dropbox"}


def test_unknown_categories_and_types_go_to_the_catch_all() -> None:
    record = AUDIT_CASES["logout"][0]
    record = {
        **record,
        "event_category": {".tag": "future_category"},
        "event_type": {".tag": "future_thing", "description": "(future) Something new"},
        "details": {".tag": "future_thing_details", "x": 1},
    }
    data = ocsf(audit_event(team_event(record), C))
    assert (data["class_uid"], data["activity_name"], data["message"]) == (
        0,
        "future_thing",
        "(future) Something new",
    )
    assert data["unmapped"]["audit"]["details"] == {".tag": "future_thing_details", "x": 1}


# --- arbitrary records: every OCSF form validates --------------------------------------------

PROPERTIES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
USER = UserRef(team_member_id="dbmid:AAAmember", email="a@acme.example", name="Ann Lee")


@PROPERTIES
@given(member_records(), member_records())
def test_member_events_of_arbitrary_records_are_valid_ocsf(a: dict, b: dict) -> None:
    first, state = diff_member(None, one_member(a), None, C)
    events, _ = diff_member(state, one_member(b), None, C)
    for event in [*first, *events]:
        ocsf(event)


@PROPERTIES
@given(devices_records(), devices_records())
def test_session_events_of_arbitrary_records_are_valid_ocsf(a: dict, b: dict) -> None:
    first, state = diff_member_devices(None, one_devices(a), USER, C)
    events, _ = diff_member_devices(state, one_devices(b), USER, C)
    for event in [*first, *events, *session_snapshots(one_devices(b), USER, C, slot=1)]:
        ocsf(event)


@PROPERTIES
@given(apps_records(), apps_records())
def test_app_events_of_arbitrary_records_are_valid_ocsf(a: dict, b: dict) -> None:
    first, state = diff_member_apps(None, one_apps(a), USER, C)
    events, _ = diff_member_apps(state, one_apps(b), USER, C)
    for event in [*first, *events, *app_snapshots(one_apps(b), USER, C, slot=1)]:
        ocsf(event)


def test_values_ocsf_cannot_hold_stay_in_unmapped_only() -> None:
    odd = one_devices(
        devices_record(
            "dbmid:x",
            web=[web_session(ip_address="not an ip", country="Atlantis", user_agent="x")],
        )
    )
    user = UserRef(team_member_id="dbmid:x", email="zoë@例え.jp")
    (event,) = session_snapshots(odd, user, C, slot=1)
    data = ocsf(event)
    assert "ip" not in data["device"]
    assert "location" not in data["device"]
    assert "email_addr" not in data["device"]["owner"]
    assert data["device"]["owner"]["name"] == "zoë@例え.jp"
    assert data["unmapped"]["network"] == {"ip_address": "not an ip", "country": "Atlantis"}


def test_an_integer_beyond_64_bits_in_the_record_still_encodes() -> None:
    record = {**sdk_login_event(), "future_field": 2**70}
    data = ocsf(audit_event(team_event(record), C))
    assert json.loads(data["raw_data"])["future_field"] == 2**70


# --- Kafka record: value, key, headers -------------------------------------------------------


def test_ocsf_records_keep_key_and_headers_and_add_the_format() -> None:
    event = SAMPLES["member.joined"]
    value, headers = encode_ocsf(event)
    assert orjson.loads(value) == orjson.loads(ocsf_json(event))
    assert headers == [
        *event.headers(),
        ("format", b"ocsf"),
        ("ocsf_class_uid", b"3001"),
    ]
    assert encode_native(event) == (event.to_json(), event.headers())


def test_encoders_per_stream() -> None:
    chosen = encoders({"members": "native", "audit": "ocsf"})
    assert chosen == {"members": encode_native, "audit": encode_ocsf}
    assert set(ENCODERS) == {"native", "ocsf"}
    with pytest.raises(KeyError):
        encoders({"audit": "cef"})


# --- country and region codes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("United States", "US"),
        ("Germany", "DE"),
        ("Côte d'Ivoire", "CI"),
        ("United Kingdom", "GB"),
        ("Russia", "RU"),
        ("us", "US"),
        ("Atlantis", None),
    ],
)
def test_country_names_become_iso_codes(name: str, code: str | None) -> None:
    assert country_code(name) == code


def test_region_names_become_iso_3166_2_codes() -> None:
    assert region_code("US", "California") == "US-CA"
    assert region_code("GB", "England") == "GB-ENG"
    assert region_code("US", "CA") == "US-CA"
    assert region_code("DE", "Bavaria") is None  # pycountry says Bayern: kept in desc
    data = ocsf(
        audit_event(team_event(_with_geo(region="Bavaria", city="Munich", country="DE")), C)
    )
    assert data["src_endpoint"]["location"] == {
        "city": "Munich",
        "country": "DE",
        "desc": "Bavaria",
    }


def _with_geo(**geo: str) -> dict[str, Any]:
    record = sdk_login_event()
    record["origin"]["geo_location"] = {"ip_address": "45.56.78.100", **geo}
    return record


# --- the validator itself rejects what it should -------------------------------------------


def test_the_validator_rejects_invalid_ocsf() -> None:
    good = orjson.loads(ocsf_json(SAMPLES["member.suspended"]))
    assert ocsf_errors(good) == []
    missing_user = {k: v for k, v in good.items() if k != "user"}
    assert any("'user' is a required property" in e for e in ocsf_errors(missing_user))
    assert any("Additional properties" in e for e in ocsf_errors({**good, "dropbox": 1}))
    assert ocsf_errors({**good, "activity_id": 42})  # not an Account Change activity
    assert ocsf_errors({**good, "time": "2026-03-01T12:00:00Z"})  # timestamps are integers
    assert ocsf_errors({**good, "activity_name": "Suspend"})  # not the caption of 5
    bad_user = {**good, "user": {"type_id": 1}}  # names no one: uid, name or account needed
    assert ocsf_errors(bad_user)


# --- docs -----------------------------------------------------------------------------------


def test_docs_map_every_event_type_to_the_class_it_gets() -> None:
    text = (ROOT / "docs" / "ocsf.md").read_text(encoding="utf-8")
    assert f"OCSF {OCSF_VERSION}" in text
    for event_type, (class_uid, _) in EXPECTED.items():
        if event_type == "audit.event":
            continue
        row = re.search(rf"^\| `{re.escape(event_type)}` \|(.+)$", text, re.MULTILINE)
        assert row is not None, f"docs/ocsf.md has no row for {event_type}"
        assert f"({class_uid})" in row.group(1), (event_type, row.group(1))
