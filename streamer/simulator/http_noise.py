"""Forward-compatibility noise: unknown fields in records and unknown tags in OPEN unions.

Dropbox adds struct fields and union tags over time; clients must ignore unknown fields and map
unknown tags of open unions to ``other`` (the SDK does exactly that when decoding leniently).
Unknown tags are injected only where the real API may send them, i.e. only into unions that are
open in the SDK (``_catch_all == "other"``):

* ``DesktopPlatform`` / ``MobileClientPlatform`` - ``client_type`` of desktop / mobile sessions
  (new client platforms appear);
* team_log ``EventType`` + ``EventDetails`` - Dropbox ships new audit event types constantly;
* team policies in ``team/get_info`` (``EmmState``, ``OfficeAddInPolicy``, sharing policies …) -
  all open except ``GroupCreation``, which is closed and therefore left alone.

Never touched: closed unions (``TeamMemberStatus``, ``TeamMembershipType``, ``GroupCreation``),
error envelopes (401 bodies are decoded strictly by newer SDKs, 429 bodies strictly by all),
and timestamps/ids. Every function copies what it changes; world data is never mutated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

UNKNOWN_FIELD = "sim_future_field"
UNKNOWN_FIELD_VALUE = {"note": "unknown field injected by the simulator", "n": 1}

# team policies that are OPEN unions (TeamSharingPolicies.group_creation_policy is closed)
_OPEN_SHARING_POLICIES = (
    "shared_folder_member_policy",
    "shared_folder_join_policy",
    "shared_link_create_policy",
    "shared_folder_link_restriction_policy",
    "enforce_link_password_policy",
    "default_link_expiration_days_policy",
    "shared_link_default_permissions_policy",
)
_OPEN_MEMBER_POLICIES = (
    "emm_state",
    "office_addin",
    "suggest_members_policy",
    "top_level_content_policy",
)

Draw = Callable[[], bool]


def _field(record: dict[str, Any], draw: Draw) -> dict[str, Any]:
    if draw():
        return {**record, UNKNOWN_FIELD: UNKNOWN_FIELD_VALUE}
    return record


def member(info: dict[str, Any], field: Draw) -> dict[str, Any]:
    """TeamMemberInfoV2 (and its profile): unknown fields only (its unions are closed)."""
    out = _field(info, field)
    profile = info.get("profile")
    if isinstance(profile, dict):
        new_profile = _field(profile, field)
        if new_profile is not profile:
            out = {**out, "profile": new_profile}
    return out


def _session(session: dict[str, Any], field: Draw, tag: Draw | None) -> dict[str, Any]:
    out = _field(session, field)
    if tag is not None and "client_type" in session and tag():
        out = {**out, "client_type": {".tag": "sim_future_platform"}}
    return out


_SESSION_KEYS = {
    "web_sessions": False,
    "desktop_clients": True,
    "mobile_clients": True,
    "active_web_sessions": False,
    "desktop_client_sessions": True,
    "mobile_client_sessions": True,
}


def devices(record: dict[str, Any], field: Draw, tag: Draw) -> dict[str, Any]:
    """MemberDevices or ListMemberDevicesResult: fields everywhere, platform tags on clients."""
    out = _field(record, field)
    for key, has_platform in _SESSION_KEYS.items():
        sessions = record.get(key)
        if isinstance(sessions, list):
            out = {
                **out,
                key: [_session(s, field, tag if has_platform else None) for s in sessions],
            }
    return out


def apps(record: dict[str, Any], field: Draw) -> dict[str, Any]:
    """MemberLinkedApps / ListMemberAppsResult: ApiApp records get unknown fields."""
    out = _field(record, field)
    linked = record.get("linked_api_apps")
    if isinstance(linked, list):
        out = {**out, "linked_api_apps": [_field(a, field) for a in linked]}
    return out


def event(record: dict[str, Any], field: Draw, tag: Draw) -> dict[str, Any]:
    """TeamEvent: unknown fields; occasionally an event type this SDK does not know yet."""
    out = _field(record, field)
    if tag():
        out = {
            **out,
            "event_type": {".tag": "sim_future_event", "description": "(sim) A future event type"},
            "details": {".tag": "sim_future_event_details", "note": "details of a future event"},
        }
    return out


def team_info(record: dict[str, Any], field: Draw, tag: Draw) -> dict[str, Any]:
    """TeamGetInfoResult: unknown fields; unknown values in OPEN policy unions."""
    out = _field(record, field)
    policies = record.get("policies")
    if not isinstance(policies, dict):
        return out
    new_policies = _field(policies, field)
    for key in _OPEN_MEMBER_POLICIES:
        if key in policies and tag():
            new_policies = {**new_policies, key: {".tag": "sim_future_policy"}}
    sharing = policies.get("sharing")
    if isinstance(sharing, dict):
        new_sharing = _field(sharing, field)
        for key in _OPEN_SHARING_POLICIES:
            if key in sharing and tag():
                new_sharing = {**new_sharing, key: {".tag": "sim_future_policy"}}
        new_policies = {**new_policies, "sharing": new_sharing}
    return {**out, "policies": new_policies}
