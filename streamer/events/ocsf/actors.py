"""Who acted in a team-log record and from where, and the part every audit class shares."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streamer.events.envelope import Event, TeamRef
from streamer.events.ocsf import base, parts
from streamer.events.ocsf.classes import (
    FAILURE,
    OTHER,
    SUCCESS,
    Json,
)


def log_info_user(info: Any, team: TeamRef, *, admin: bool = False) -> Json | None:
    """A team_log ``UserLogInfo`` / context member → OCSF ``user`` (None if it names no one)."""
    if not isinstance(info, dict):
        return None
    uid = info.get("team_member_id") or info.get("account_id")
    email = info.get("email")
    display = info.get("display_name")
    if not (uid or email or display):
        return None
    out: Json = {"type_id": 2, "type": "Admin"} if admin else {"type_id": 1, "type": "User"}
    if isinstance(uid, str):
        out["uid"] = uid
    if isinstance(email, str) and email:
        out["name"] = email
        if parts.EMAIL.match(email):
            out["email_addr"] = email
    if isinstance(display, str) and display:
        out["full_name"] = display
        out.setdefault("name", display)
    account_id = info.get("account_id")
    if isinstance(account_id, str):
        out["account"] = {"uid": account_id, "type_id": 99, "type": "Dropbox account"}
    external_id = info.get("member_external_id")
    if isinstance(external_id, str) and external_id:
        out["uid_alt"] = external_id
    if info.get("team_member_id"):
        out["org"] = {"uid": team["id"], "name": team["name"]}
    return out


def audit_actor(audit: Mapping[str, Any], team: TeamRef | None = None) -> Json | None:
    """OCSF ``actor`` of a team_log record: a user or admin, an app, a reseller, Dropbox."""
    actor = audit.get("actor")
    tag = base.tag_of(actor)
    if not isinstance(actor, dict) or tag is None:
        return None
    team = team or {"id": "", "name": ""}
    if tag in ("user", "admin"):
        user = log_info_user(actor.get(tag), team, admin=tag == "admin")
        return {"user": user} if user is not None else None
    if tag == "trusted_non_team_member":
        user = log_info_user(actor.get("user"), team)
        return {"user": user} if user is not None else None
    if tag == "app":
        app = actor.get("app")
        if not isinstance(app, dict):
            return None
        out: Json = {}
        if isinstance(app.get("app_id"), str):
            out["app_uid"] = app["app_id"]
        if isinstance(app.get("display_name"), str):
            out["app_name"] = app["display_name"]
        return out or None
    if tag == "reseller":
        name = actor.get("reseller_email") or actor.get("reseller_name")
        if not isinstance(name, str):
            return None
        return {"user": {"name": name, "type_id": 99, "type": "Reseller"}}
    if tag == "dropbox":
        return {"invoked_by": "Dropbox"}
    if tag == "anonymous":
        return {"user": {"name": "anonymous", "type_id": 0, "type": "Unknown"}}
    return {"invoked_by": tag}


def audit_target(event: Event, audit: Mapping[str, Any]) -> Json | None:
    """The member an account-level record is about: context, else a participant, else actor."""
    user = log_info_user(audit.get("context"), event.team)
    if user is not None:
        return user
    for participant in audit.get("participants") or ():
        if base.tag_of(participant) == "user":
            user = log_info_user(participant.get("user"), event.team)
            if user is not None:
                return user
    actor = audit_actor(audit, event.team)
    return actor.get("user") if actor is not None else None


def session_id_of(audit: Mapping[str, Any]) -> str | None:
    method = (audit.get("origin") or {}).get("access_method")
    if not isinstance(method, dict):
        return None
    tag = method.get(".tag")
    inner = method.get(tag) if isinstance(tag, str) else None
    session = inner if isinstance(inner, dict) else method
    sid = session.get("session_id")
    return sid if isinstance(sid, str) else None


def common(
    event: Event,
    audit: Mapping[str, Any],
    class_uid: int,
    activity_id: int,
    *,
    activity_name: str | None = None,
) -> Json:
    type_tag = audit["type"]
    out = base.base_event(
        event,
        class_uid,
        activity_id,
        activity_name=activity_name if activity_id == OTHER else None,
        status_id=FAILURE if base.failed(type_tag) else SUCCESS,
        message=audit.get("description") or type_tag,
        event_code=type_tag,
    )
    actor = audit_actor(audit, event.team)
    session_id = session_id_of(audit)
    if session_id is not None:
        actor = {**(actor or {}), "session": {"uid": session_id, "issuer": "Dropbox"}}
    if actor is not None:
        out["actor"] = actor
    geo = (audit.get("origin") or {}).get("geo_location")
    endpoint = parts.endpoint(geo if isinstance(geo, dict) else None, session_id)
    if endpoint is not None:
        out["src_endpoint"] = endpoint
    return out
