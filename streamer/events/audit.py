"""Audit log: one ``audit.event`` per team-log record (``team_log/get_events``)."""

from __future__ import annotations

from typing import Any

from streamer.dropbox.models import TeamEvent
from streamer.events.envelope import AuditInfo, DeviceRef, Event, EventContext, NetworkRef, UserRef
from streamer.events.ids import digest, event_id
from streamer.events.sessions import WEB

__all__ = ["audit_event"]

_AUDIT_PARTS = ("actor", "origin", "context", "participants", "assets", "involve_non_team_member")


def audit_event(event: TeamEvent, ctx: EventContext) -> Event:
    """``audit.event`` for one team-log record.

    id = (team, type, digest of timestamp + event type tag + actor + origin + details): the
    same record fetched again after a cursor reset gets the same id. ``user`` is the acting
    team member, else the context member.
    """
    identity = digest(
        [event.timestamp, event.event_type.tag, event.actor, event.origin, event.details]
    )
    audit = AuditInfo(
        category=event.event_category.tag,
        type=event.event_type.tag,
        details=event.details,
    )
    description = (event.event_type.model_extra or {}).get("description")
    if isinstance(description, str):
        audit["description"] = description
    for key in _AUDIT_PARTS:
        value = getattr(event, key)
        if value is not None:
            audit[key] = value  # type: ignore[literal-required]
    return ctx.event(
        "audit.event",
        event_id(ctx.team_id, "audit.event", identity),
        event.timestamp,
        user=_acting_user(event),
        network=_network(event.origin),
        device=_device(event.origin),
        audit=audit,
        raw=ctx.raw(event),
    )


def _member_user(info: Any) -> UserRef | None:
    """A team_log ``UserLogInfo``/context member → ``user`` (only for team members)."""
    if not isinstance(info, dict):
        return None
    tmid = info.get("team_member_id")
    if not isinstance(tmid, str):
        return None
    user = UserRef(team_member_id=tmid)
    for key, name in (
        ("account_id", "account_id"),
        ("email", "email"),
        ("display_name", "name"),
        ("member_external_id", "external_id"),
    ):
        value = info.get(key)
        if isinstance(value, str):
            user[name] = value  # type: ignore[literal-required]
    return user


def _acting_user(event: TeamEvent) -> UserRef | None:
    actor = event.actor or {}
    tag = actor.get(".tag")
    if tag in ("user", "admin"):
        user = _member_user(actor.get(tag))
        if user is not None:
            return user
    return _member_user(event.context)


def _network(origin: dict[str, Any] | None) -> NetworkRef | None:
    geo = (origin or {}).get("geo_location")
    if not isinstance(geo, dict):
        return None
    ref = NetworkRef()
    for key in ("ip_address", "country", "city", "region"):
        value = geo.get(key)
        if isinstance(value, str):
            ref[key] = value
    return ref or None


def _device(origin: dict[str, Any] | None) -> DeviceRef | None:
    method = (origin or {}).get("access_method")
    if not isinstance(method, dict):
        return None
    tag = method.get(".tag")
    inner = method.get(tag) if isinstance(tag, str) else None
    session = inner if isinstance(inner, dict) else method
    session_id = session.get("session_id")
    if not isinstance(session_id, str):
        return None
    kind = session.get(".tag") if session is not method else None
    return DeviceRef(kind=kind if isinstance(kind, str) else WEB, session_id=session_id)
