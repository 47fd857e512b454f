"""Team-log records (``audit.event``) in OCSF, by event category; others are Base Events.

Values are only ever put where OCSF defines them: when a record lacks what its OCSF class
requires (a file for File Hosting Activity, a group for Group Management, ...), it becomes
the catch-all Base Event instead of carrying an invented value."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from streamer.events.envelope import Event
from streamer.events.ocsf import actors, base, parts
from streamer.events.ocsf.classes import (
    ACCOUNT_CHANGE,
    AUTHENTICATION,
    ENTITY_MANAGEMENT,
    FILE_HOSTING,
    GROUP_MANAGEMENT,
    OTHER,
    Json,
)


def _login_activity(type_tag: str) -> int:
    if any(k in type_tag for k in ("logout", "sign_out", "session_end")):
        return 2
    if any(k in type_tag for k in ("login", "sign_in", "session_start", "signed_in")):
        return 1
    return OTHER


def _audit_logins(event: Event, audit: Mapping[str, Any]) -> Json | None:
    actor = actors.audit_actor(audit, event.team)
    user = (actor or {}).get("user") or actors.log_info_user(audit.get("context"), event.team)
    if user is None:
        return None
    type_tag = audit["type"]
    out = actors.common(
        event, audit, AUTHENTICATION, _login_activity(type_tag), activity_name=type_tag
    )
    out["user"] = user
    out["service"] = {"name": "Dropbox"}
    session_id = actors.session_id_of(audit)
    if session_id is not None:
        out["session"] = {"uid": session_id, "issuer": "Dropbox"}
    details = audit.get("details") or {}
    method = base.tag_of(details.get("login_method"))
    if method is not None:
        if method == "saml":
            out["auth_protocol_id"], out["auth_protocol"] = 5, "SAML"
        else:
            out["auth_protocol_id"], out["auth_protocol"] = OTHER, method
        out["is_mfa"] = method == "two_factor_authentication"
    error = details.get("error_details")
    if isinstance(error, dict) and isinstance(error.get("user_friendly_message"), str):
        out["status_detail"] = error["user_friendly_message"]
    return out


def _status_activity(details: Mapping[str, Any]) -> int:
    """``member_change_status``: new status (and previous) → Account Change activity."""
    new, previous = (
        base.tag_of(details.get("new_value")),
        base.tag_of(details.get("previous_value")),
    )
    if new == "active":
        return 2 if previous in ("invited", "suspended") else 1
    if new == "invited":
        return 1
    if new == "suspended":
        return 5
    if new == "removed":
        return 6
    return OTHER


def _account_activity(category: str, type_tag: str, details: Mapping[str, Any]) -> int:
    if category == "passwords":
        if type_tag == "password_change":
            return 3
        if type_tag.startswith("password_reset"):
            return 4
        return OTHER
    if category == "tfa":
        if type_tag == "tfa_change_status":
            return 11 if base.tag_of(details.get("new_value")) == "disabled" else 10
        if type_tag.startswith("tfa_add_"):
            return 10
        if type_tag.startswith("tfa_remove_"):
            return 11
        return OTHER
    if type_tag == "member_change_status":
        return _status_activity(details)
    return OTHER


def _audit_account(event: Event, audit: Mapping[str, Any]) -> Json | None:
    user = actors.audit_target(event, audit)
    if user is None:
        return None
    type_tag = audit["type"]
    activity = _account_activity(audit["category"], type_tag, audit.get("details") or {})
    out = actors.common(event, audit, ACCOUNT_CHANGE, activity, activity_name=type_tag)
    out["user"] = user
    return out


_GROUP_ACTIVITIES = {
    "group_add_member": 3,
    "group_remove_member": 4,
    "group_delete": 5,
    "group_create": 6,
}


def _audit_group(event: Event, audit: Mapping[str, Any]) -> Json | None:
    group: Json | None = None
    for participant in audit.get("participants") or ():
        if base.tag_of(participant) == "group":
            group = {}
            if isinstance(participant.get("group_id"), str):
                group["uid"] = participant["group_id"]
            if isinstance(participant.get("display_name"), str):
                group["name"] = participant["display_name"]
            if isinstance(participant.get("external_id"), str):
                group["uid_alt"] = participant["external_id"]
            if "uid" in group or "name" in group:
                break
            group = None
    if group is None:
        return None
    type_tag = audit["type"]
    activity = _GROUP_ACTIVITIES.get(type_tag, OTHER)
    out = actors.common(event, audit, GROUP_MANAGEMENT, activity, activity_name=type_tag)
    out["group"] = group
    user = actors.log_info_user(audit.get("context"), event.team)
    if user is not None:
        out["user"] = user
    return out


_DEVICE_ACTIVITIES = {"device_link_success": 6, "device_link_fail": 6, "device_unlink": 7}


_APP_ACTIVITIES = {
    "app_link_user": 1,
    "app_link_team": 1,
    "app_unlink_user": 4,
    "app_unlink_team": 4,
}


_SESSION_KINDS = {
    "web_device_session": "web",
    "desktop_device_session": "desktop",
    "mobile_device_session": "mobile",
    "legacy_device_session": "legacy",
    "web": "web",
    "desktop": "desktop",
    "mobile": "mobile",
}


def _audit_device_entity(event: Event, audit: Mapping[str, Any]) -> Json | None:
    details = audit.get("details") or {}
    info = details.get("device_session_info")
    session = details.get("session_info")
    ref: Json = {}
    network: Json = {}
    if isinstance(info, dict):
        ref = {k: v for k, v in info.items() if k not in (".tag", "session_info")}
        ref["kind"] = _SESSION_KINDS.get(str(info.get(".tag")), "other")
        inner = info.get("session_info")
        if isinstance(inner, dict) and isinstance(inner.get("session_id"), str):
            ref["session_id"] = inner["session_id"]
        if base.tag_of(info.get("client_type")):
            ref["client_type"] = base.tag_of(info.get("client_type"))
        network = {"ip_address": info.get("ip_address")}
    elif isinstance(session, dict):
        ref = {"kind": _SESSION_KINDS.get(str(session.get(".tag")), "other")}
        if isinstance(session.get("session_id"), str):
            ref["session_id"] = session["session_id"]
        if isinstance(details.get("display_name"), str):
            ref["device_name"] = details["display_name"]
    elif audit["type"].startswith("device_change_ip"):
        sid = actors.session_id_of(audit)
        if sid is None:
            return None
        ref = {"kind": audit["type"].rsplit("_", 1)[1], "session_id": sid}
        geo = (audit.get("origin") or {}).get("geo_location")
        network = dict(geo) if isinstance(geo, dict) else {}
    if not ref.get("session_id") and not ref.get("host_name") and not ref.get("device_name"):
        return None
    if details.get("user_agent") and "user_agent" not in ref:
        ref["user_agent"] = details["user_agent"]
    owner = actors.log_info_user(audit.get("context"), event.team)
    device = parts.device(ref, network, owner)
    entity: Json = {"type_id": 1, "type": "Device", "device": device}
    for key in ("uid", "name"):
        if key in device:
            entity[key] = device[key]
    return entity


def _audit_app_entity(event: Event, audit: Mapping[str, Any]) -> Json | None:
    info = (audit.get("details") or {}).get("app_info")
    if not isinstance(info, dict):
        return None
    entity: Json = {"type_id": 99, "type": "Linked app"}
    if isinstance(info.get("app_id"), str):
        entity["uid"] = info["app_id"]
    if isinstance(info.get("display_name"), str):
        entity["name"] = info["display_name"]
    if "uid" not in entity and "name" not in entity:
        return None
    user = actors.log_info_user(audit.get("context"), event.team)
    if user is not None:
        entity["user"] = user
    return entity


def _audit_entity(event: Event, audit: Mapping[str, Any]) -> Json | None:
    type_tag = audit["type"]
    if audit["category"] == "devices":
        entity = _audit_device_entity(event, audit)
        activity = _DEVICE_ACTIVITIES.get(type_tag, 3 if "change_ip" in type_tag else OTHER)
    else:
        entity = _audit_app_entity(event, audit)
        activity = _APP_ACTIVITIES.get(type_tag, OTHER)
    if entity is None:
        return None
    out = actors.common(event, audit, ENTITY_MANAGEMENT, activity, activity_name=type_tag)
    out["entity"] = entity
    return out


_FILE_ACTIVITIES = {
    "file_add": 1,
    "file_add_from_automation": 1,
    "file_download": 2,
    "file_edit": 3,
    "file_delete": 4,
    "file_permanently_delete": 4,
    "file_rename": 5,
    "file_copy": 6,
    "file_move": 7,
    "file_restore": 8,
    "file_revert": 8,
    "file_rollback_changes": 8,
    "rewind_folder": 8,
    "file_preview": 9,
    "shared_content_download": 2,
    "shared_content_view": 14,
    "shared_link_view": 14,
    "shared_link_download": 2,
}


# sharing record types not in the table above: first keyword found decides
_SHARE_KEYWORDS = (
    ("download", 2),
    ("unshare", 13),
    ("remove", 13),
    ("revoke", 13),
    ("disable", 13),
    ("relinquish", 13),
    ("unmount", 13),
    ("view", 14),
    ("create", 12),
    ("add", 12),
    ("invite", 12),
    ("share", 12),
    ("mount", 12),
)


def _file_activity(type_tag: str) -> int:
    found = _FILE_ACTIVITIES.get(type_tag)
    if found is not None:
        return found
    if type_tag.startswith(("shared_", "sf_", "sharing_")):
        for keyword, activity in _SHARE_KEYWORDS:
            if keyword in type_tag:
                return activity
    if "lock" in type_tag:
        return 11 if "unlock" in type_tag else 10
    return OTHER


_ASSET_NAMES = {
    "file": ("display_name", "file_id", 1, "File"),
    "folder": ("display_name", "file_id", 2, "Folder"),
    "paper_document": ("doc_title", "doc_id", 99, "Paper document"),
    "paper_folder": ("folder_name", "folder_id", 99, "Paper folder"),
    "showcase_document": ("showcase_title", "showcase_id", 99, "Showcase document"),
}


def _asset_file(assets: Any) -> Json | None:
    """OCSF ``file`` from the first team_log asset (file, folder, Paper doc, ...)."""
    for asset in assets or ():
        tag = base.tag_of(asset)
        if tag not in _ASSET_NAMES or not isinstance(asset, dict):
            continue
        name_key, uid_key, type_id, type_name = _ASSET_NAMES[tag]
        path = asset.get("path")
        contextual = path.get("contextual") if isinstance(path, dict) else None
        name = asset.get(name_key)
        if not (isinstance(name, str) and name) and isinstance(contextual, str):
            name = contextual.rstrip("/").rsplit("/", 1)[-1]
        if not (isinstance(name, str) and name):
            continue
        out: Json = {"name": name, "type_id": type_id}
        if type_id == OTHER:
            out["type"] = type_name
        if isinstance(contextual, str) and contextual:
            out["path"] = contextual
        if isinstance(asset.get(uid_key), str):
            out["uid"] = asset[uid_key]
        size = asset.get("file_size")
        if isinstance(size, int) and not isinstance(size, bool):
            out["size"] = size
        return out
    return None


def _audit_file(event: Event, audit: Mapping[str, Any]) -> Json | None:
    file = _asset_file(audit.get("assets"))
    if file is None:
        return None
    type_tag = audit["type"]
    out = actors.common(
        event, audit, FILE_HOSTING, _file_activity(type_tag), activity_name=type_tag
    )
    if "actor" not in out or "src_endpoint" not in out:
        return None  # both required by File Hosting Activity
    out["file"] = file
    return out


_AUDIT: dict[str, Callable[[Event, Mapping[str, Any]], Json | None]] = {
    "logins": _audit_logins,
    "passwords": _audit_account,
    "tfa": _audit_account,
    "members": _audit_account,
    "groups": _audit_group,
    "devices": _audit_entity,
    "apps": _audit_entity,
    "file_operations": _audit_file,
    "sharing": _audit_file,
}
"""team_log event category → its OCSF builder; other categories are Base Events."""


def audit_event(event: Event) -> Json | None:
    audit = event.audit
    if audit is None:
        return None
    builder = _AUDIT.get(audit["category"])
    out = builder(event, audit) if builder is not None else None
    if out is None:
        out = base.catch_all(event, audit["type"], audit.get("description") or audit["type"])
    return out
