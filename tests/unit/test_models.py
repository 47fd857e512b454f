"""API record models: tolerant of what Dropbox adds, strict about what the spec requires."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

sys.path.insert(0, str(Path(__file__).parent / "events"))

from event_support import (
    FEATURES,
    api_app,
    apps_record,
    desktop_client,
    devices_record,
    member_record,
    mobile_client,
    sdk_apps_record,
    sdk_devices_record,
    sdk_features,
    sdk_login_event,
    sdk_member_record,
    sdk_removed_status,
    sdk_team_info,
    team_info,
    web_session,
)

from streamer.dropbox.models import (
    MemberStatus,
    RejectedRecord,
    Tagged,
    TeamMemberInfoV2,
    TeamMemberProfile,
    parse_events,
    parse_features,
    parse_linked_apps,
    parse_member_devices,
    parse_members,
    parse_team_info,
)


def test_sdk_encoded_member_decodes_with_every_field() -> None:
    (info,), rejected = parse_members([sdk_member_record()])
    assert rejected == []
    p = info.profile
    assert p.team_member_id == "dbmid:FDFSVF-DFSDF"
    assert p.status.tag == "active"
    assert p.membership_type.tag == "full"
    assert p.name.display_name == "Franz Ferdinand (Personal)"
    assert p.joined_on == datetime(2015, 5, 12, 15, 50, 38, tzinfo=UTC)
    assert p.secondary_emails is not None
    assert p.secondary_emails[0].is_verified
    assert p.is_directory_restricted is True
    assert info.roles is not None
    assert info.roles[0].role_id == "pid_dbtmr:3456"


def test_sdk_encoded_devices_apps_team_and_audit_records_decode() -> None:
    (devices,), bad1 = parse_member_devices([sdk_devices_record()])
    (apps,), bad2 = parse_linked_apps([sdk_apps_record()])
    (event,), bad3 = parse_events([sdk_login_event()])
    features, bad4 = parse_features(sdk_features())
    info = parse_team_info(sdk_team_info())
    assert bad1 == bad2 == bad3 == bad4 == []
    assert devices.desktop_clients
    assert devices.desktop_clients[0].client_type.tag == "mac"
    assert devices.mobile_clients
    assert devices.mobile_clients[0].client_type.tag == "iphone"
    assert devices.web_sessions
    assert devices.web_sessions[0].expires is not None
    assert apps.linked_api_apps[0].linked == datetime(2015, 5, 12, 15, 50, 38, tzinfo=UTC)
    assert event.event_type.tag == "login_success"
    assert event.event_type.payload == {"description": "(logins) Signed in"}
    assert [f.tag for f in features] == [
        "upload_api_rate_limit",
        "has_team_shared_dropbox",
        "has_team_file_events",
    ]
    assert features[0].payload["upload_api_rate_limit"] == {".tag": "limit", "limit": 25000}
    assert info.team_id == "dbtid:1234abcd"
    assert info.policies is not None
    assert "sharing" in info.policies


def test_removed_status_keeps_its_fields() -> None:
    status = MemberStatus.model_validate(sdk_removed_status())
    assert status.tag == "removed"
    assert status.payload == {"is_recoverable": True, "is_disconnected": False}
    assert status.wire() == sdk_removed_status()


def test_unknown_union_tags_are_kept_not_rejected() -> None:
    record = member_record(status={".tag": "future_status", "since": "soon"})
    record["profile"]["membership_type"] = {".tag": "guest"}
    (info,), rejected = parse_members([record])
    assert rejected == []
    assert info.profile.status.tag == "future_status"
    assert info.profile.status.payload == {"since": "soon"}
    assert info.profile.membership_type.tag == "guest"
    (devices,), _ = parse_member_devices(
        [
            devices_record(
                desktop=[desktop_client(client_type={".tag": "chromeos"})],
                mobile=[mobile_client(client_type={".tag": "visionpro"})],
            )
        ]
    )
    assert devices.desktop_clients
    assert devices.desktop_clients[0].client_type.tag == "chromeos"
    assert devices.mobile_clients
    assert devices.mobile_clients[0].client_type.tag == "visionpro"


def test_bare_string_tag_is_accepted() -> None:
    assert Tagged.model_validate("active").tag == "active"
    record = member_record(status="suspended", membership_type="full")
    (info,), _ = parse_members([record])
    assert info.profile.status.tag == "suspended"
    assert info.profile.status.wire() == {".tag": "suspended"}


def test_unknown_fields_are_kept_at_every_level_and_dumped_back() -> None:
    record = member_record(new_field={"nested": [1, 2]})
    record["profile"]["name"]["phonetic_name"] = "Furantsu"
    record["new_top_level"] = True
    (info,), _ = parse_members([record])
    wire = info.wire()
    assert wire["new_top_level"] is True
    assert wire["profile"]["new_field"] == {"nested": [1, 2]}
    assert wire["profile"]["name"]["phonetic_name"] == "Furantsu"
    assert wire["profile"]["joined_on"] == datetime(2015, 5, 12, 15, 50, 38, tzinfo=UTC)


def test_parsed_records_keep_the_dicts_they_came_from_as_received() -> None:
    member = member_record(status="active", new_field=1)  # a bare-string tag stays as sent
    web, mobile = web_session(), mobile_client(client_type="iphone")
    app = api_app()
    (info,), _ = parse_members([member])
    (devices,), _ = parse_member_devices([devices_record(web=[web], mobile=[mobile])])
    (apps,), _ = parse_linked_apps([apps_record(apps=[app])])
    assert info.received() is member
    assert info.received()["profile"]["status"] == "active"
    assert devices.web_sessions is not None
    assert devices.mobile_clients is not None
    assert devices.web_sessions[0].received() is web
    assert devices.mobile_clients[0].received() is mobile
    assert apps.linked_api_apps[0].received() is app
    # the record-by-record fallback (a page with a bad record) keeps them too
    (info,), rejected = parse_members([member, {"profile": {}}])
    assert len(rejected) == 1
    assert info.received() is member
    # a model built otherwise has no received dict: its dump stands in
    built = TeamMemberInfoV2.model_validate(member)
    assert built.received() == built.wire()


def test_wire_leaves_out_optional_fields_that_were_absent() -> None:
    record = member_record(external_id=None, account_id=None, joined_on=None)
    (info,), _ = parse_members([record])
    assert "external_id" not in info.wire()["profile"]
    assert info.profile.external_id is None
    assert info.profile.account_id is None


def test_optional_fields_may_be_explicit_null() -> None:
    record = member_record()
    record["profile"]["external_id"] = None
    record["roles"] = None
    (info,), rejected = parse_members([record])
    assert rejected == []
    assert info.profile.external_id is None
    assert info.roles is None


def test_a_malformed_record_is_rejected_and_the_rest_of_the_page_is_kept() -> None:
    good1 = member_record("dbmid:good1")
    missing = member_record("dbmid:bad1", email=None)  # required field missing
    wrong_type = member_record("dbmid:bad2", email_verified="sometimes")
    good2 = member_record("dbmid:good2")
    not_an_object = "garbage"
    ok, rejected = parse_members([good1, missing, wrong_type, good2, not_an_object])  # type: ignore[list-item]
    assert [m.profile.team_member_id for m in ok] == ["dbmid:good1", "dbmid:good2"]
    assert [r.subject for r in rejected] == ["dbmid:bad1", "dbmid:bad2", None]
    assert rejected[0].raw is missing
    assert "profile.email" in rejected[0].reason
    assert "required" in rejected[0].reason
    assert "profile.email_verified" in rejected[1].reason
    assert all(isinstance(r, RejectedRecord) and r.kind == "member" for r in rejected)
    assert rejected[0].as_dict()["subject"] == "dbmid:bad1"


def test_a_malformed_session_rejects_only_its_member_devices_record() -> None:
    page = [
        devices_record("dbmid:a", web=[web_session()]),
        devices_record("dbmid:b", web=[web_session(user_agent=None)]),
        devices_record("dbmid:c", mobile=[mobile_client()]),
    ]
    ok, rejected = parse_member_devices(page)
    assert [d.team_member_id for d in ok] == ["dbmid:a", "dbmid:c"]
    assert len(rejected) == 1
    assert rejected[0].subject == "dbmid:b"
    assert "web_sessions.0.user_agent" in rejected[0].reason


def test_apps_without_required_fields_are_rejected() -> None:
    ok, rejected = parse_linked_apps(
        [apps_record("dbmid:a", [api_app()]), apps_record("dbmid:b", [api_app(app_name=None)])]
    )
    assert [a.team_member_id for a in ok] == ["dbmid:a"]
    assert rejected[0].subject == "dbmid:b"


def test_audit_records_missing_required_fields_are_rejected() -> None:
    good = sdk_login_event()
    bad = {k: v for k, v in good.items() if k != "details"}
    ok, rejected = parse_events([good, bad])
    assert len(ok) == 1
    assert len(rejected) == 1
    assert rejected[0].kind == "team_event"
    assert "details" in rejected[0].reason


def test_many_errors_are_summarised() -> None:
    (_bad,) = parse_members([{"profile": {}}]).rejected
    assert "more)" in _bad.reason


def test_timestamps_are_utc_whatever_the_offset() -> None:
    (devices,), _ = parse_member_devices(
        [
            devices_record(
                web=[
                    web_session(created="2026-02-01T10:00:00+02:00", updated="2026-02-01T08:00:00")
                ]
            )
        ]
    )
    assert devices.web_sessions is not None
    session = devices.web_sessions[0]
    assert session.created == datetime(2026, 2, 1, 8, 0, tzinfo=UTC)
    assert session.created is not None
    assert session.created.utcoffset() is not None
    assert session.updated == datetime(2026, 2, 1, 8, 0, tzinfo=UTC)


def test_team_info_is_loose_but_needs_name_and_id() -> None:
    info = parse_team_info(team_info(brand_new_policy_block={"x": {".tag": "y"}}))
    assert info.wire()["brand_new_policy_block"] == {"x": {".tag": "y"}}
    with pytest.raises(ValidationError):
        parse_team_info({"name": "No id"})
    assert isinstance(ValidationError, type)
    assert issubclass(ValidationError, ValueError)


def test_feature_values_keep_unknown_features() -> None:
    values, rejected = parse_features([*FEATURES, {".tag": "has_quantum_sync", "x": 1}])
    assert rejected == []
    assert values[-1].tag == "has_quantum_sync"
    assert values[-1].payload == {"x": 1}


def test_profile_model_accepts_field_names_too() -> None:
    profile = TeamMemberProfile.model_validate(member_record()["profile"])
    assert profile.model_copy().team_member_id == profile.team_member_id
