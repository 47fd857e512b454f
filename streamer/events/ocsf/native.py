"""The native event types (team, members, sessions, apps) in OCSF, one builder per type."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from streamer.events.envelope import Event, NetworkRef, TeamRef
from streamer.events.ocsf import base, parts
from streamer.events.ocsf.classes import (
    ACCOUNT_CHANGE,
    AUTHENTICATION,
    CLOUD_INVENTORY,
    COLLECT,
    DEVICE_INVENTORY,
    ENTITY_MANAGEMENT,
    OTHER,
    USER_INVENTORY,
    Json,
)


def _team_entity(team: TeamRef, data: Any | None = None) -> Json:
    out: Json = {
        "uid": team["id"],
        "name": team["name"],
        "type_id": 4,
        "type": "Organization",
        "org": {"uid": team["id"], "name": team["name"]},
    }
    if data is not None:
        out["data"] = data
    return out


def _team_snapshot(event: Event) -> Json:
    out = base.base_event(event, CLOUD_INVENTORY, COLLECT, status_id=None)
    resource: Json = {"uid": event.team["id"], "name": event.team["name"], "type": "Dropbox team"}
    if event.settings is not None:
        resource["data"] = event.settings
    out["resources"] = [resource]
    return out


def _team_changed(event: Event) -> Json:
    changes = event.changes or {}
    out = base.base_event(
        event, ENTITY_MANAGEMENT, 3, message=f"team settings changed: {', '.join(changes)}"
    )
    out["entity"] = _team_entity(event.team, {k: c["old"] for k, c in changes.items()})
    out["entity_result"] = _team_entity(event.team, {k: c["new"] for k, c in changes.items()})
    return out


def _member(activity_id: int | Callable[[Event], int], verb: str) -> Callable[[Event], Json | None]:
    def build(event: Event) -> Json | None:
        if event.user is None:
            return None
        activity = activity_id if isinstance(activity_id, int) else activity_id(event)
        out = base.base_event(
            event,
            ACCOUNT_CHANGE,
            activity,
            activity_name="Update" if activity == OTHER else None,
            message=f"member {parts.who(event)} {verb}",
        )
        out["user"] = parts.user(event.user, event.team, event)
        return out

    return build


def _joined(event: Event) -> int:
    """Enable when an invitation was accepted, else Create (first seen active)."""
    status = (event.changes or {}).get("status")
    return 2 if status is not None and status["old"] == "invited" else 1


# member state keys (``changes``) -> OCSF user attributes
_USER_CHANGES = {
    "email": "name",
    "display_name": "full_name",
    "external_id": "uid_alt",
}


def _member_updated(event: Event) -> Json | None:
    out = _member(OTHER, "updated")(event)
    if out is None or event.user is None:
        return out
    changes = event.changes or {}
    out["message"] = f"member {parts.who(event)} updated: {', '.join(changes)}"
    result: Json = {"uid": event.user["team_member_id"]}
    for key, change in changes.items():
        new = change["new"]
        if key in _USER_CHANGES and isinstance(new, str):
            result[_USER_CHANGES[key]] = new
            if key == "email" and parts.EMAIL.match(new):
                result["email_addr"] = new
        elif key == "account_id" and isinstance(new, str):
            result["account"] = {"uid": new, "type_id": 99, "type": "Dropbox account"}
        elif key == "groups" and isinstance(new, list):
            result["groups"] = [{"uid": g} for g in new]
        elif key == "roles" and isinstance(new, list):
            result["type_id"], result["type"] = (
                (2, "Admin") if parts.holds_admin_role(new) else (1, "User")
            )
    out["user_result"] = result
    return out


def _member_inventory(event: Event) -> Json | None:
    if event.user is None:
        return None
    out = base.base_event(event, USER_INVENTORY, COLLECT, status_id=None)
    out["user"] = parts.user(event.user, event.team, event)
    return out


def _web_session(activity_id: int) -> Callable[[Event], Json | None]:
    def build(event: Event) -> Json | None:
        if event.user is None or event.device is None:
            return None
        verb = "started" if activity_id == 1 else "ended"
        out = base.base_event(
            event, AUTHENTICATION, activity_id, message=f"web session {verb}: {parts.who(event)}"
        )
        out["user"] = parts.user(event.user, event.team)
        out["session"] = parts.session(event.device)
        out["service"] = {"name": "Dropbox"}
        endpoint = parts.endpoint(event.network)
        if endpoint is not None:
            out["src_endpoint"] = endpoint
        user_agent = event.device.get("user_agent")
        if user_agent:
            out["http_request"] = {"user_agent": user_agent}
        return out

    return build


def _device_entity(event: Event, network: NetworkRef | Mapping[str, Any] | None) -> Json:
    assert event.device is not None
    owner = parts.user(event.user, event.team) if event.user is not None else None
    device = parts.device(event.device, network, owner)
    entity: Json = {"type_id": 1, "type": "Device", "device": device}
    if "uid" in device:
        entity["uid"] = device["uid"]
    if "name" in device:
        entity["name"] = device["name"]
    return entity


def _client(activity_id: int) -> Callable[[Event], Json | None]:
    def build(event: Event) -> Json | None:
        if event.device is None:
            return None
        kind = event.device.get("kind", "")
        verb = "linked" if activity_id == 6 else "unlinked"
        out = base.base_event(
            event,
            ENTITY_MANAGEMENT,
            activity_id,
            message=f"{kind} client {verb}: {parts.who(event)}",
        )
        out["entity"] = _device_entity(event, event.network)
        return out

    return build


def _network_changed(event: Event) -> Json | None:
    if event.device is None:
        return None
    changes = event.changes or {}
    before: Json = dict(event.network or {})
    for key in ("ip_address", "country"):
        if key in changes:
            old = changes[key]["old"]
            if old is None:
                before.pop(key, None)
            else:
                before[key] = old
    out = base.base_event(
        event,
        ENTITY_MANAGEMENT,
        3,
        message=f"{event.device.get('kind', '')} session network changed: {parts.who(event)}",
    )
    out["entity"] = _device_entity(event, before)
    out["entity_result"] = _device_entity(event, event.network)
    return out


def _session_snapshot(event: Event) -> Json | None:
    if event.device is None:
        return None
    out = base.base_event(event, DEVICE_INVENTORY, COLLECT, status_id=None)
    owner = parts.user(event.user, event.team) if event.user is not None else None
    out["device"] = parts.device(event.device, event.network, owner)
    return out


def _app_data(event: Event) -> Json:
    assert event.app is not None
    return {k: v for k, v in event.app.items() if k not in ("app_id", "app_name")}


def _app(activity_id: int) -> Callable[[Event], Json | None]:
    def build(event: Event) -> Json | None:
        if event.app is None:
            return None
        verb = "linked" if activity_id == 1 else "unlinked"
        app = event.app
        out = base.base_event(
            event,
            ENTITY_MANAGEMENT,
            activity_id,
            message=f"app {app.get('app_name', app['app_id'])} {verb}: {parts.who(event)}",
        )
        entity: Json = {"uid": app["app_id"], "type_id": 99, "type": "Linked app"}
        if app.get("app_name"):
            entity["name"] = app["app_name"]
        data = _app_data(event)
        if data:
            entity["data"] = data
        if event.user is not None:
            entity["user"] = parts.user(event.user, event.team)
        out["entity"] = entity
        return out

    return build


def _app_snapshot(event: Event) -> Json | None:
    if event.app is None:
        return None
    out = base.base_event(event, CLOUD_INVENTORY, COLLECT, status_id=None)
    resource: Json = {"uid": event.app["app_id"], "type": "Linked app"}
    if event.app.get("app_name"):
        resource["name"] = event.app["app_name"]
    data = _app_data(event)
    if data:
        resource["data"] = data
    if event.user is not None:
        resource["owner"] = parts.user(event.user, event.team)
    out["resources"] = [resource]
    return out


BUILDERS: dict[str, Callable[[Event], Json | None]] = {
    "team.snapshot": _team_snapshot,
    "team.changed": _team_changed,
    "member.snapshot": _member_inventory,
    "member.activity": _member_inventory,
    "member.invited": _member(1, "invited"),
    "member.joined": _member(_joined, "joined"),
    "member.updated": _member_updated,
    "member.suspended": _member(5, "suspended"),
    "member.unsuspended": _member(2, "unsuspended"),
    "member.removed": _member(6, "removed"),
    "web_session.started": _web_session(1),
    "web_session.ended": _web_session(2),
    "desktop_client.linked": _client(6),
    "desktop_client.unlinked": _client(7),
    "mobile_client.linked": _client(6),
    "mobile_client.unlinked": _client(7),
    "session.network_changed": _network_changed,
    "session.snapshot": _session_snapshot,
    "app.linked": _app(1),
    "app.unlinked": _app(4),
    "app.snapshot": _app_snapshot,
}
"""Native event type → its OCSF builder (``None`` from a builder: the catch-all Base Event)."""
