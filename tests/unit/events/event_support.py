"""Helpers for the events tests: API-shaped records, SDK-made fixtures, hypothesis
strategies, and ``apply_*``: folding emitted change events into a previous state.

``apply_*`` is the executable statement of "the events describe the change": applied to the
old state, a diff's events must give its new state (up to the fields documented as silent).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import dropbox.secondary_emails as sdk_secondary
import dropbox.team as sdk_team
import dropbox.team_log as sdk_log
import dropbox.team_policies as sdk_policies
import dropbox.users as sdk_users
import jsonschema
import orjson
from dropbox.stone_serializers import json_compat_obj_encode
from hypothesis import strategies as st
from pydantic import TypeAdapter

from streamer.dropbox.models import (
    MemberDevices,
    MemberLinkedApps,
    TeamEvent,
    TeamMemberInfoV2,
    parse_events,
    parse_linked_apps,
    parse_member_devices,
    parse_members,
)
from streamer.events.envelope import Event, EventContext
from streamer.events.ids import epoch
from streamer.events.team import TeamRecord
from streamer.state import State, load_state

TEAM_ID = "dbtid:AAFdgehTzw7WlXhZJsbGCLePe8RvQGYDr-I"
T0 = datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[3]


def team_event(record: dict[str, Any] | TeamEvent) -> TeamEvent:
    """A team-log record as the audit stream reads it: typed by the page parser (which
    keeps the dict it came from as ``raw``). Raises ``ValueError`` for an invalid one."""
    if isinstance(record, TeamEvent):
        return record
    parsed = parse_events([record])
    if parsed.rejected:
        raise ValueError(parsed.rejected[0].reason)
    return parsed.ok[0]


def ctx(observed: datetime = T0, *, include_raw: bool = True) -> EventContext:
    return EventContext(TEAM_ID, "Acme Corp", observed, include_raw=include_raw)


# --- plain records (wire JSON as dicts) ------------------------------------------------------


def member_record(tmid: str = "dbmid:AAHhy7WsR0x-u4ZCqiDl5Fz5zvuL3kmspwU", **profile: Any) -> dict:
    base: dict[str, Any] = {
        "team_member_id": tmid,
        "account_id": "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc",
        "email": "franz@acme.example",
        "email_verified": True,
        "status": {".tag": "active"},
        "name": {
            "given_name": "Franz",
            "surname": "Ferdinand",
            "familiar_name": "Franz",
            "display_name": "Franz Ferdinand",
            "abbreviated_name": "FF",
        },
        "membership_type": {".tag": "full"},
        "joined_on": "2015-05-12T15:50:38Z",
        "groups": ["g:e2db7665347abcd600000000001a2b3c"],
        "member_folder_id": "20",
        "root_folder_id": "30",
    }
    roles = profile.pop("roles", None)
    for key, value in profile.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    record: dict[str, Any] = {"profile": base}
    if roles is not None:
        record["roles"] = roles
    return record


def web_session(sid: str = "dbwsid:1", **fields: Any) -> dict:
    base = {
        "session_id": sid,
        "ip_address": "203.0.113.7",
        "country": "United States",
        "created": "2026-02-01T08:00:00Z",
        "updated": "2026-02-28T09:30:00Z",
        "user_agent": "Mozilla/5.0 (Macintosh) Safari/605.1.15",
        "os": "Mac OS X",
        "browser": "Safari",
        "expires": "2026-03-30T08:00:00Z",
    }
    return _merge(base, fields)


def desktop_client(sid: str = "dbdsid:1", **fields: Any) -> dict:
    base = {
        "session_id": sid,
        "ip_address": "198.51.100.20",
        "country": "Germany",
        "created": "2025-11-01T10:00:00Z",
        "updated": "2026-02-28T10:00:00Z",
        "host_name": "franz-mbp",
        "client_type": {".tag": "mac"},
        "client_version": "190.4.6383",
        "platform": "Mac OS X 14.2",
        "is_delete_on_unlink_supported": True,
    }
    return _merge(base, fields)


def mobile_client(sid: str = "dbmsid:1", **fields: Any) -> dict:
    base = {
        "session_id": sid,
        "ip_address": "192.0.2.44",
        "country": "France",
        "created": "2025-12-24T18:00:00Z",
        "updated": "2026-02-27T07:15:00Z",
        "device_name": "Franz's iPhone",
        "client_type": {".tag": "iphone"},
        "client_version": "300.2",
        "os_version": "17.3",
        "last_carrier": "Orange",
    }
    return _merge(base, fields)


def devices_record(
    tmid: str = "dbmid:AAHhy7WsR0x-u4ZCqiDl5Fz5zvuL3kmspwU",
    web: list[dict] | None = None,
    desktop: list[dict] | None = None,
    mobile: list[dict] | None = None,
) -> dict:
    record: dict[str, Any] = {"team_member_id": tmid}
    if web is not None:
        record["web_sessions"] = web
    if desktop is not None:
        record["desktop_clients"] = desktop
    if mobile is not None:
        record["mobile_clients"] = mobile
    return record


def api_app(app_id: str = "dbaid:AAFdgehTzw7WlXhZJsbGCLePe8RvQGYDr-I", **fields: Any) -> dict:
    base = {
        "app_id": app_id,
        "app_name": "Notes Sync",
        "publisher": "Example Software",
        "publisher_url": "https://example.com",
        "linked": "2026-01-15T11:00:00Z",
        "is_app_folder": True,
    }
    return _merge(base, fields)


def apps_record(tmid: str = "dbmid:AAHhy7WsR0x-u4ZCqiDl5Fz5zvuL3kmspwU", apps: Any = ()) -> dict:
    return {"team_member_id": tmid, "linked_api_apps": list(apps)}


def team_info(**fields: Any) -> dict:
    base = {
        "name": "Acme Corp",
        "team_id": TEAM_ID,
        "num_licensed_users": 50,
        "num_provisioned_users": 12,
        "num_used_licenses": 12,
        "policies": {
            "sharing": {
                "shared_folder_member_policy": {".tag": "team"},
                "shared_folder_join_policy": {".tag": "from_anyone"},
                "shared_link_create_policy": {".tag": "default_team_only"},
            },
            "emm_state": {".tag": "disabled"},
            "office_addin": {".tag": "disabled"},
            "suggest_members_policy": {".tag": "enabled"},
            "top_level_content_policy": {".tag": "admin_only"},
        },
    }
    return _merge(base, fields)


FEATURES = [
    {".tag": "upload_api_rate_limit", "upload_api_rate_limit": {".tag": "limit", "limit": 25000}},
    {
        ".tag": "has_team_shared_dropbox",
        "has_team_shared_dropbox": {
            ".tag": "has_team_shared_dropbox",
            "has_team_shared_dropbox": True,
        },
    },
    {".tag": "has_team_file_events", "has_team_file_events": {".tag": "enabled", "enabled": True}},
]


def _merge(base: dict, fields: dict) -> dict:
    for key, value in fields.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return base


def one_member(record: dict) -> TeamMemberInfoV2:
    ok, rejected = parse_members([record])
    assert not rejected, rejected
    return ok[0]


def one_devices(record: dict) -> MemberDevices:
    ok, rejected = parse_member_devices([record])
    assert not rejected, rejected
    return ok[0]


def one_apps(record: dict) -> MemberLinkedApps:
    ok, rejected = parse_linked_apps([record])
    assert not rejected, rejected
    return ok[0]


# --- records made by the official SDK (genuine wire JSON) -------------------------------------

_TS = dt.datetime(2015, 5, 12, 15, 50, 38)  # noqa: DTZ001 - the SDK's datetimes are naive UTC


def sdk_member_record() -> dict:
    profile = sdk_team.TeamMemberProfile(
        team_member_id="dbmid:FDFSVF-DFSDF",
        email="tami@seagull.com",
        email_verified=False,
        status=sdk_team.TeamMemberStatus.active,
        name=sdk_users.Name(
            given_name="Franz",
            surname="Ferdinand",
            familiar_name="Franz",
            display_name="Franz Ferdinand (Personal)",
            abbreviated_name="FF",
        ),
        membership_type=sdk_team.TeamMembershipType.full,
        groups=["g:e2db7665347abcd600000000001a2b3c"],
        member_folder_id="20",
        root_folder_id="30",
        external_id="244423",
        account_id="dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc",
        secondary_emails=[
            sdk_secondary.SecondaryEmail(email="apple@orange.com", is_verified=True),
        ],
        joined_on=_TS,
        persistent_id="123456",
        is_directory_restricted=True,
        profile_photo_url="https://dl-web.dropbox.com/account_photo/get/dbaphid%3AAAHWGmIXV3sUuOmBfTz0wPsiqHUpBWvv3ZA?vers=1556069330102&size=128x128",
    )
    info = sdk_team.TeamMemberInfoV2(
        profile=profile,
        roles=[
            sdk_team.TeamMemberRole(
                role_id="pid_dbtmr:3456", name="Billing admin", description="Make payments"
            )
        ],
    )
    return _wire(sdk_team.TeamMemberInfoV2_validator, info)


def sdk_removed_status() -> dict:
    status = sdk_team.TeamMemberStatus.removed(
        sdk_team.RemovedStatus(is_recoverable=True, is_disconnected=False)
    )
    return _wire(sdk_team.TeamMemberStatus_validator, status)


def sdk_devices_record() -> dict:
    devices = sdk_team.MemberDevices(
        team_member_id="dbmid:FDFSVF-DFSDF",
        web_sessions=[
            sdk_team.ActiveWebSession(
                session_id="dbwsid:123456789012345678901234567890123456789",
                user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0",
                os="Windows",
                browser="Chrome",
                ip_address="45.56.78.100",
                country="United States",
                created=_TS,
                updated=_TS,
                expires=_TS + dt.timedelta(days=30),
            )
        ],
        desktop_clients=[
            sdk_team.DesktopClientSession(
                session_id="dbdsid:AAFdgehTzw7WlXhZJsbGCLePe8RvQGYDr-I",
                host_name="Franz's MacBook",
                client_type=sdk_team.DesktopPlatform.mac,
                client_version="46.4.53",
                platform="Mac OS X 10.12",
                is_delete_on_unlink_supported=True,
                ip_address="45.56.78.101",
                country="Germany",
                created=_TS,
                updated=_TS,
            )
        ],
        mobile_clients=[
            sdk_team.MobileClientSession(
                session_id="dbmsid:AAFdgehTzw7WlXhZJsbGCLePe8RvQGYDr-I",
                device_name="Franz's iPhone",
                client_type=sdk_team.MobileClientPlatform.iphone,
                client_version="74.1",
                os_version="17.3",
                last_carrier="Vodafone",
            )
        ],
    )
    return _wire(sdk_team.MemberDevices_validator, devices)


def sdk_apps_record() -> dict:
    apps = sdk_team.MemberLinkedApps(
        team_member_id="dbmid:FDFSVF-DFSDF",
        linked_api_apps=[
            sdk_team.ApiApp(
                app_id="dbaid:AAFdgehTzw7WlXhZJsbGCLePe8RvQGYDr-I",
                app_name="Notes Sync",
                is_app_folder=True,
                publisher="Example Software",
                publisher_url="https://example.com",
                linked=_TS,
            )
        ],
    )
    return _wire(sdk_team.MemberLinkedApps_validator, apps)


def sdk_team_info() -> dict:
    sharing = sdk_policies.TeamSharingPolicies(
        shared_folder_member_policy=sdk_policies.SharedFolderMemberPolicy.team,
        shared_folder_join_policy=sdk_policies.SharedFolderJoinPolicy.from_anyone,
        shared_link_create_policy=sdk_policies.SharedLinkCreatePolicy.team_only,
        group_creation_policy=sdk_policies.GroupCreation.admins_only,
        shared_folder_link_restriction_policy=sdk_policies.SharedFolderBlanketLinkRestrictionPolicy.anyone,
        enforce_link_password_policy=sdk_policies.EnforceLinkPasswordPolicy.optional,
        default_link_expiration_days_policy=sdk_policies.DefaultLinkExpirationDaysPolicy.day_30,
        shared_link_default_permissions_policy=sdk_policies.SharedLinkDefaultPermissionsPolicy.view,
    )
    policies = sdk_policies.TeamMemberPolicies(
        sharing=sharing,
        emm_state=sdk_policies.EmmState.disabled,
        office_addin=sdk_policies.OfficeAddInPolicy.disabled,
        suggest_members_policy=sdk_policies.SuggestMembersPolicy.enabled,
        top_level_content_policy=sdk_policies.TopLevelContentPolicy.admin_only,
    )
    info = sdk_team.TeamGetInfoResult(
        name="Dropbox Inc.",
        team_id="dbtid:1234abcd",
        num_licensed_users=5,
        num_provisioned_users=2,
        num_used_licenses=1,
        policies=policies,
    )
    return _wire(sdk_team.TeamGetInfoResult_validator, info)


def sdk_features() -> list[dict]:
    values = [
        sdk_team.FeatureValue.upload_api_rate_limit(sdk_team.UploadApiRateLimitValue.limit(25000)),
        sdk_team.FeatureValue.has_team_shared_dropbox(
            sdk_team.HasTeamSharedDropboxValue.has_team_shared_dropbox(False)
        ),
        sdk_team.FeatureValue.has_team_file_events(sdk_team.HasTeamFileEventsValue.enabled(True)),
    ]
    return [_wire(sdk_team.FeatureValue_validator, v) for v in values]


def sdk_login_event(session_id: str = "dbwsid:123456789012345678901234567890123456789") -> dict:
    member = sdk_log.TeamMemberLogInfo(
        account_id="dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc",
        display_name="John Smith",
        email="john_smith@acmecorp.com",
        team_member_id="dbmid:AAHhy7WsR0x-u4ZCqiDl5Fz5zvuL3kmspwU",
    )
    event = sdk_log.TeamEvent(
        timestamp=dt.datetime(2017, 1, 25, 15, 51, 30),  # noqa: DTZ001 - SDK: naive UTC
        event_category=sdk_log.EventCategory.logins,
        event_type=sdk_log.EventType.login_success(
            sdk_log.LoginSuccessType(description="(logins) Signed in")
        ),
        details=sdk_log.EventDetails.login_success_details(
            sdk_log.LoginSuccessDetails(
                login_method=sdk_log.LoginMethod.password, is_emm_managed=False
            )
        ),
        actor=sdk_log.ActorLogInfo.user(member),
        context=sdk_log.ContextLogInfo.team_member(member),
        origin=sdk_log.OriginLogInfo(
            access_method=sdk_log.AccessMethodLogInfo.end_user(
                sdk_log.WebSessionLogInfo(session_id=session_id)
            ),
            geo_location=sdk_log.GeoLocationLogInfo(
                ip_address="45.56.78.100", city="San Francisco", region="California", country="US"
            ),
        ),
        involve_non_team_member=False,
        participants=[],
        assets=[],
    )
    return _wire(sdk_log.TeamEvent_validator, event)


def sdk_admin_suspend_event() -> dict:
    admin = sdk_log.TeamMemberLogInfo(
        account_id="dbid:AAGx4oiLtHdvRdNxUpvvJBXYgR4BS19c9kw",
        display_name="Alice Admin",
        email="alice@acmecorp.com",
        team_member_id="dbmid:AAAdmin0000000000000000000000000000000",
    )
    target = sdk_log.TeamMemberLogInfo(
        account_id="dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc",
        display_name="John Smith",
        email="john_smith@acmecorp.com",
        team_member_id="dbmid:AAHhy7WsR0x-u4ZCqiDl5Fz5zvuL3kmspwU",
    )
    event = sdk_log.TeamEvent(
        timestamp=dt.datetime(2017, 1, 26, 9, 0, 0),  # noqa: DTZ001 - SDK: naive UTC
        event_category=sdk_log.EventCategory.members,
        event_type=sdk_log.EventType.member_suggest(
            sdk_log.MemberSuggestType(description="(members) Suggested person to be added")
        ),
        details=sdk_log.EventDetails.member_suggest_details(
            sdk_log.MemberSuggestDetails(suggested_members=["bob@example.com"])
        ),
        actor=sdk_log.ActorLogInfo.admin(admin),
        context=sdk_log.ContextLogInfo.team_member(target),
        origin=sdk_log.OriginLogInfo(
            access_method=sdk_log.AccessMethodLogInfo.admin_console(
                sdk_log.WebSessionLogInfo(session_id="dbwsid:admin0000000000000000000000000000")
            )
        ),
    )
    return _wire(sdk_log.TeamEvent_validator, event)


def _wire(validator: Any, obj: Any) -> Any:
    # Through real JSON text, as it would arrive over HTTP.
    result: Any = json.loads(json.dumps(json_compat_obj_encode(validator, obj)))
    return result


# --- schema validation ------------------------------------------------------------------------


@cache
def _schema_validator() -> jsonschema.protocols.Validator:
    schema = json.loads((ROOT / "schemas" / "event.schema.json").read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator: jsonschema.protocols.Validator = cls(schema)
    return validator


_EVENT = TypeAdapter(Event)


def check_event(event: Event) -> dict[str, Any]:
    """The event's JSON, checked against the committed schema and the Event classes."""
    decoded: dict[str, Any] = orjson.loads(event.to_json())
    check_event_json(decoded)
    return decoded


def check_event_json(decoded: dict[str, Any]) -> None:
    _schema_validator().validate(decoded)
    _EVENT.validate_python(decoded)  # extra="forbid" on every part: no stray keys


# --- applying change events to a previous state -----------------------------------------------

_USER_TO_STATE = {
    "team_member_id": "team_member_id",
    "account_id": "account_id",
    "email": "email",
    "name": "display_name",
    "status": "status",
    "external_id": "external_id",
}
_DETAILS_TO_STATE = (
    "given_name",
    "surname",
    "familiar_name",
    "abbreviated_name",
    "email_verified",
    "membership_type",
    "persistent_id",
    "is_directory_restricted",
    "groups",
    "roles",
    "secondary_emails",
)


def _set(state: dict[str, Any], key: str, value: Any) -> None:
    if value is None or value == []:
        state.pop(key, None)
    else:
        state[key] = copy.deepcopy(value)


def apply_member(events: list[Event], prev: Any) -> State | None:
    prev_state = load_state(prev)
    if not events:
        return prev_state
    state: dict[str, Any] = copy.deepcopy(prev_state) if prev_state is not None else {}
    rev = state.get("rev", 0)
    for event in events:
        assert event.user is not None
        if prev_state is None and event.member is not None:
            for key, name in _USER_TO_STATE.items():
                _set(state, name, event.user.get(key))
            for key in _DETAILS_TO_STATE:
                _set(state, key, event.member.get(key))
        for key, change in (event.changes or {}).items():
            _set(state, key, change["new"])
    state["rev"] = rev + 1
    return state


def apply_devices(events: list[Event], prev: Any) -> dict[str, tuple[Any, ...]]:
    """Sessions as ``{session_id: (kind, ip, country)}`` after applying the events."""
    prev_state = load_state(prev)
    sessions = {
        sid: (entry[0], entry[1], entry[2])
        for sid, entry in (prev_state or {}).get("sessions", {}).items()
    }
    for event in events:
        assert event.device is not None
        sid = event.device["session_id"]
        network = event.network or {}
        if event.event_type.endswith((".started", ".linked")):
            assert sid not in sessions
            sessions[sid] = (
                event.device["kind"],
                network.get("ip_address"),
                network.get("country"),
            )
        elif event.event_type.endswith((".ended", ".unlinked")):
            assert sessions.pop(sid)[0] == event.device["kind"]
        elif event.event_type == "session.network_changed":
            kind, ip, country = sessions[sid]
            changes = event.changes or {}
            if "ip_address" in changes:
                assert changes["ip_address"]["old"] == ip
                ip = changes["ip_address"]["new"]
            if "country" in changes:
                assert changes["country"]["old"] == country
                country = changes["country"]["new"]
            sessions[sid] = (kind, ip, country)
        else:
            raise AssertionError(event.event_type)
    return sessions


def devices_projection(state: Any) -> dict[str, tuple[Any, ...]]:
    loaded = load_state(state) or {}
    return {sid: (e[0], e[1], e[2]) for sid, e in loaded.get("sessions", {}).items()}


def apply_apps(events: list[Event], prev: Any) -> dict[str, Any]:
    """Apps as ``{app_id: linked epoch}`` after applying the events.

    A ``linked`` time that appears where there was none is not a relink (no event), so
    compare with ``same_apps``.
    """
    apps = {k: v[2] for k, v in (load_state(prev) or {}).get("apps", {}).items()}
    for event in events:
        assert event.app is not None
        app_id = event.app["app_id"]
        if event.event_type == "app.linked":
            assert app_id not in apps
            apps[app_id] = epoch(event.app.get("linked"))
        else:
            assert event.event_type == "app.unlinked"
            assert apps.pop(app_id) == epoch(event.app.get("linked"))
    return apps


def apps_projection(state: Any) -> dict[str, Any]:
    return {k: v[2] for k, v in (load_state(state) or {}).get("apps", {}).items()}


def same_apps(applied: dict[str, Any], state: Any) -> bool:
    """Same app ids, and the same ``linked`` wherever the events could know it."""
    stored = apps_projection(state)
    return applied.keys() == stored.keys() and all(
        applied[k] == stored[k] for k in applied if applied[k] is not None
    )


def apply_team(events: list[Event], prev: Any) -> State | None:
    state = copy.deepcopy(load_state(prev))
    for event in events:
        assert state is not None
        assert event.event_type == "team.changed"
        for key, change in (event.changes or {}).items():
            assert state["settings"].get(key) == change["old"]
            _set(state["settings"], key, change["new"])
        state["rev"] += 1
    return state


# --- hypothesis strategies: records shaped like the API ----------------------------------------


def _optional(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=fields)


_TIMES = st.sampled_from(
    ["2015-05-12T15:50:38Z", "2020-01-01T00:00:00Z", "2026-02-28T09:30:00Z", "2026-03-01T11:59:59Z"]
)
_STATUS = st.one_of(
    st.sampled_from(["active", "invited", "suspended", "future_status"]).map(
        lambda tag: {".tag": tag}
    ),
    st.builds(
        lambda r, d: {".tag": "removed", "is_recoverable": r, "is_disconnected": d},
        st.booleans(),
        st.booleans(),
    ),
    st.just("active"),  # the bare-string form decoders accept
)
_ROLE = st.sampled_from(
    [
        {"role_id": "pid_dbtmr:1", "name": "Team admin", "description": "All admin rights"},
        {"role_id": "pid_dbtmr:2", "name": "User management admin", "description": "Users"},
        {"role_id": "pid_dbtmr:3", "name": "Billing admin", "description": "Payments"},
    ]
)
_SECONDARY = st.builds(
    lambda e, v: {"email": e, "is_verified": v},
    st.sampled_from(["x@acme.example", "y@acme.example", "z@old.example"]),
    st.booleans(),
)


@st.composite
def member_records(draw: st.DrawFn, tmid: str = "dbmid:AAAmember") -> dict[str, Any]:
    given = draw(st.sampled_from(["Ann", "Bob", "Zoë"]))
    surname = draw(st.sampled_from(["Lee", "Ng", "Müller"]))
    profile: dict[str, Any] = {
        "team_member_id": tmid,
        "email": draw(st.sampled_from(["a@acme.example", "b@acme.example", "A@acme.example"])),
        "email_verified": draw(st.booleans()),
        "status": draw(_STATUS),
        "name": {
            "given_name": given,
            "surname": surname,
            "familiar_name": draw(st.sampled_from([given, "Nick"])),
            "display_name": draw(st.sampled_from([f"{given} {surname}", f"{surname}, {given}"])),
            "abbreviated_name": draw(st.sampled_from([given[0] + surname[0], "XX"])),
        },
        "membership_type": draw(st.sampled_from(["full", "limited", "future_type"])),
        "groups": draw(st.lists(st.sampled_from(["g:1", "g:2", "g:3", "g:4"]), unique=True)),
        "member_folder_id": "20",
        "root_folder_id": draw(st.sampled_from(["30", "31"])),
    }
    profile["membership_type"] = {".tag": profile["membership_type"]}
    profile.update(
        draw(
            _optional(
                {
                    "external_id": st.sampled_from(["E1", "E2"]),
                    "account_id": st.sampled_from(
                        [
                            "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc",
                            "dbid:AAGx4oiLtHdvRdNxUpvvJBXYgR4BS19c9kw",
                        ]
                    ),
                    "secondary_emails": st.lists(
                        _SECONDARY, max_size=2, unique_by=lambda e: e["email"]
                    ),
                    "invited_on": _TIMES,
                    "joined_on": _TIMES,
                    "suspended_on": _TIMES,
                    "persistent_id": st.sampled_from(["p1", "p2"]),
                    "is_directory_restricted": st.booleans(),
                    "profile_photo_url": st.just("https://example.com/p.png"),
                    "future_field": st.dictionaries(st.sampled_from(["a", "b"]), st.integers()),
                }
            )
        )
    )
    record: dict[str, Any] = {"profile": profile}
    roles = draw(st.none() | st.lists(_ROLE, max_size=2, unique_by=lambda r: r["role_id"]))
    if roles is not None:
        record["roles"] = roles
    return record


_IPS = st.sampled_from(["203.0.113.1", "203.0.113.2", "2001:db8::1"])
_COUNTRIES = st.sampled_from(["United States", "Germany", "Côte d'Ivoire"])


def _session_base(sid: str) -> st.SearchStrategy[dict[str, Any]]:
    return _optional(
        {"ip_address": _IPS, "country": _COUNTRIES, "created": _TIMES, "updated": _TIMES}
    ).map(lambda d: {"session_id": sid, **d})


def _web(sid: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.tuples(
        _session_base(sid),
        st.sampled_from(["Chrome", "Firefox"]),
        _optional({"expires": _TIMES}),
    ).map(lambda t: {**t[0], "user_agent": "Mozilla/5.0", "os": "Linux", "browser": t[1], **t[2]})


def _desktop(sid: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.tuples(
        _session_base(sid), st.sampled_from(["windows", "mac", "linux", "chromeos"])
    ).map(
        lambda t: {
            **t[0],
            "host_name": "pc",
            "client_type": {".tag": t[1]},
            "client_version": "1.0",
            "platform": "OS",
            "is_delete_on_unlink_supported": False,
        }
    )


def _mobile(sid: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.tuples(
        _session_base(sid),
        st.sampled_from(["iphone", "android", "visionpro"]),
        _optional({"client_version": st.just("2.0"), "os_version": st.just("17")}),
    ).map(lambda t: {**t[0], "device_name": "phone", "client_type": {".tag": t[1]}, **t[2]})


def _sessions(prefix: str, make: Any, ids: int) -> st.SearchStrategy[list[dict[str, Any]] | None]:
    return st.none() | st.lists(
        st.integers(0, ids - 1).flatmap(lambda i: make(f"{prefix}:{i}")),
        max_size=ids,
        unique_by=lambda s: s["session_id"],
    )


@st.composite
def devices_records(draw: st.DrawFn, tmid: str = "dbmid:AAAmember") -> dict[str, Any]:
    return devices_record(
        tmid,
        web=draw(_sessions("dbwsid", _web, 4)),
        desktop=draw(_sessions("dbdsid", _desktop, 3)),
        mobile=draw(_sessions("dbmsid", _mobile, 3)),
    )


_APP = st.tuples(
    st.integers(0, 3),
    st.sampled_from(["Notes", "Sync Tool"]),
    _optional({"publisher": st.just("Example"), "linked": _TIMES}),
    st.booleans(),
).map(lambda t: {"app_id": f"dbaid:{t[0]}", "app_name": t[1], **t[2], "is_app_folder": t[3]})


@st.composite
def apps_records(draw: st.DrawFn, tmid: str = "dbmid:AAAmember") -> dict[str, Any]:
    return apps_record(tmid, draw(st.lists(_APP, max_size=4, unique_by=lambda a: a["app_id"])))


# --- one event of every type ---------------------------------------------------------------------


def sample_events() -> dict[str, Event]:
    """One realistic event per event type, built through the public functions."""
    from streamer.events.activity import member_activity
    from streamer.events.apps import app_snapshots, diff_member_apps
    from streamer.events.audit import audit_event
    from streamer.events.members import diff_member, member_snapshot, user_ref
    from streamer.events.sessions import diff_member_devices, session_snapshots
    from streamer.events.team import diff_team, team_snapshot

    c0 = ctx(datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC))
    c1 = ctx(datetime(2026, 3, 1, 12, 5, 0, tzinfo=UTC))
    out: dict[str, Event] = {}

    def keep(events: list[Event]) -> None:
        for event in events:
            out.setdefault(event.event_type, event)

    tmid = "dbmid:AAHhy7WsR0x-u4ZCqiDl5Fz5zvuL3kmspwU"
    invited = one_member(
        member_record(
            tmid,
            status={".tag": "invited"},
            invited_on="2026-02-27T16:20:00Z",
            joined_on=None,
            account_id=None,
        )
    )
    events, s = diff_member(None, invited, None, c0)
    keep(events)
    active = one_member(member_record(tmid, joined_on="2026-03-01T11:58:00Z"))
    events, s = diff_member(s, active, None, c1)
    keep(events)
    suspended = one_member(
        member_record(tmid, status={".tag": "suspended"}, suspended_on="2026-03-01T12:03:10Z")
    )
    events, s = diff_member(s, suspended, None, c1)
    keep(events)
    events, s = diff_member(s, active, None, c1)
    keep(events)
    admin = one_member(
        member_record(
            tmid,
            email="franz.ferdinand@acme.example",
            roles=[{"role_id": "pid_dbtmr:1", "name": "Team admin", "description": "All"}],
        )
    )
    events, s = diff_member(s, admin, None, c1)
    keep(events)
    removed = one_member(
        member_record(
            tmid, status={".tag": "removed", "is_recoverable": True, "is_disconnected": False}
        )
    )
    keep(diff_member(s, removed, None, c1)[0])
    keep([member_snapshot(admin, c0, slot=20513)])
    user = user_ref(admin.profile)

    devices = one_devices(
        devices_record(
            tmid, web=[web_session()], desktop=[desktop_client()], mobile=[mobile_client()]
        )
    )
    events, d = diff_member_devices(None, devices, user, c0)
    keep(events)
    moved = one_devices(
        devices_record(
            tmid,
            web=[
                web_session(
                    ip_address="198.51.100.99", country="Canada", updated="2026-03-01T12:01:00Z"
                )
            ],
        )
    )
    events, d2 = diff_member_devices(d, moved, user, c1)
    keep(events)
    keep(diff_member_devices(d2, one_devices(devices_record(tmid)), user, c1)[0])
    keep(session_snapshots(devices, user, c0, slot=20513))

    apps = one_apps(apps_record(tmid, [api_app()]))
    events, a = diff_member_apps(None, apps, user, c0)
    keep(events)
    keep(diff_member_apps(a, one_apps(apps_record(tmid, [])), user, c1)[0])
    keep(app_snapshots(apps, user, c0, slot=20513))

    keep([member_activity(s, d, a, None, c0, slot=20513)])

    keep([team_snapshot(TeamRecord(team_info(), FEATURES), c0, slot=20513)])
    _, t = diff_team(None, TeamRecord(team_info(), FEATURES), None, c0)
    policies = team_info()["policies"]
    policies["sharing"]["shared_link_create_policy"] = {".tag": "team_only"}
    keep(
        diff_team(
            t, TeamRecord(team_info(num_licensed_users=60, policies=policies), FEATURES), None, c1
        )[0]
    )

    keep([audit_event(team_event(sdk_login_event()), c1)])
    return out
