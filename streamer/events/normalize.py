"""API records → envelope parts (user, device, network, app, ...) and snapshot / audit events.

Pure functions, no I/O. Parts are plain dicts holding only the keys that have a value. The
change detection in ``diff*`` builds its events from the same parts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from streamer.dropbox.models import (
    ActiveWebSession,
    ApiApp,
    DesktopClientSession,
    DeviceSession,
    FeatureValue,
    MemberDevices,
    MemberLinkedApps,
    MobileClientSession,
    TeamEvent,
    TeamGetInfoResult,
    TeamMemberInfoV2,
    TeamMemberProfile,
)
from streamer.events.envelope import (
    AppRef,
    AuditInfo,
    Change,
    DeviceRef,
    Event,
    EventContext,
    MemberDetails,
    NetworkRef,
    UserRef,
)
from streamer.events.ids import digest, epoch, event_id

__all__ = [
    "DESKTOP",
    "MOBILE",
    "WEB",
    "Slot",
    "app_ref",
    "app_snapshots",
    "audit_event",
    "device_ref",
    "member_details",
    "member_event",
    "member_snapshot",
    "network_ref",
    "raw_of",
    "session_event",
    "session_snapshots",
    "sessions_of",
    "slot_id",
    "team_raw",
    "team_settings",
    "team_snapshot",
    "user_ref",
    "user_ref_from_state",
]

Slot = int | str
"""Identifies one snapshot run, e.g. ``floor(unix time / interval)``; part of snapshot ids."""

WEB, DESKTOP, MOBILE = "web", "desktop", "mobile"


def slot_id(slot: Slot | None, ctx: EventContext) -> str:
    """The snapshot slot, defaulting to the observation second (then ids differ per run)."""
    return str(epoch(ctx.observed_at) if slot is None else slot)


def raw_of(record: Any, ctx: EventContext) -> dict[str, Any] | None:
    """The record as Dropbox sent it, or ``None`` when ``ctx.include_raw`` is off."""
    if not ctx.include_raw:
        return None
    if isinstance(record, dict):
        return record
    received: dict[str, Any] = record.received()
    return received


# --- members -------------------------------------------------------------------------------


def user_ref(profile: TeamMemberProfile) -> UserRef:
    user = UserRef(
        team_member_id=profile.team_member_id,
        email=profile.email,
        name=profile.name.display_name,
        status=profile.status.tag,
    )
    if profile.account_id is not None:
        user["account_id"] = profile.account_id
    if profile.external_id is not None:
        user["external_id"] = profile.external_id
    return user


_USER_KEYS = (
    ("account_id", "account_id"),
    ("email", "email"),
    ("display_name", "name"),
    ("status", "status"),
    ("external_id", "external_id"),
)


def user_ref_from_state(state: Mapping[str, Any]) -> UserRef:
    """The ``user`` part from a stored member state (see ``diff_members.member_state``)."""
    user = UserRef(team_member_id=state["team_member_id"])
    for key, name in _USER_KEYS:
        value = state.get(key)
        if value is not None:
            user[name] = value  # type: ignore[literal-required]
    return user


def member_details(info: TeamMemberInfoV2) -> MemberDetails:
    p = info.profile
    details = MemberDetails(
        given_name=p.name.given_name,
        surname=p.name.surname,
        familiar_name=p.name.familiar_name,
        abbreviated_name=p.name.abbreviated_name,
        email_verified=p.email_verified,
        membership_type=p.membership_type.tag,
        groups=sorted(p.groups),
        member_folder_id=p.member_folder_id,
        root_folder_id=p.root_folder_id,
    )
    if info.roles:
        details["roles"] = sorted(
            ({"role_id": r.role_id, "name": r.name} for r in info.roles),
            key=lambda r: r["role_id"],
        )
    if p.secondary_emails:
        details["secondary_emails"] = sorted(
            ({"email": e.email, "is_verified": e.is_verified} for e in p.secondary_emails),
            key=lambda e: e["email"],
        )
    if p.status.model_extra:
        details["status_details"] = dict(p.status.model_extra)
    for key in (
        "persistent_id",
        "is_directory_restricted",
        "invited_on",
        "joined_on",
        "suspended_on",
        "profile_photo_url",
    ):
        value = getattr(p, key)
        if value is not None:
            details[key] = value
    return details


def member_event(
    event_type: str,
    info: TeamMemberInfoV2,
    ctx: EventContext,
    *,
    eid: str,
    event_time: datetime | None = None,
    changes: dict[str, Change] | None = None,
) -> Event:
    """A ``member.*`` event carrying the member's user part, details and raw record."""
    return Event(
        event_id=eid,
        event_type=event_type,
        event_time=event_time or ctx.observed_at,
        observed_time=ctx.observed_at,
        team=ctx.team,
        user=user_ref(info.profile),
        member=member_details(info),
        changes=changes,
        raw=raw_of(info, ctx),
    )


def member_snapshot(info: TeamMemberInfoV2, ctx: EventContext, slot: Slot | None = None) -> Event:
    """``member.snapshot``; id = (team, type, team_member_id, slot)."""
    tmid = info.profile.team_member_id
    eid = event_id(ctx.team_id, "member.snapshot", tmid, slot_id(slot, ctx))
    return member_event("member.snapshot", info, ctx, eid=eid)


# --- sessions ------------------------------------------------------------------------------


def _web(s: ActiveWebSession) -> DeviceRef:
    ref = DeviceRef(
        kind=WEB, session_id=s.session_id, os=s.os, browser=s.browser, user_agent=s.user_agent
    )
    if s.expires is not None:
        ref["expires"] = s.expires
    return ref


def _desktop(s: DesktopClientSession) -> DeviceRef:
    return DeviceRef(
        kind=DESKTOP,
        session_id=s.session_id,
        client_type=s.client_type.tag,
        client_version=s.client_version,
        host_name=s.host_name,
        platform=s.platform,
        is_delete_on_unlink_supported=s.is_delete_on_unlink_supported,
    )


def _mobile(s: MobileClientSession) -> DeviceRef:
    ref = DeviceRef(
        kind=MOBILE,
        session_id=s.session_id,
        client_type=s.client_type.tag,
        device_name=s.device_name,
    )
    if s.client_version is not None:
        ref["client_version"] = s.client_version
    if s.os_version is not None:
        ref["os_version"] = s.os_version
    if s.last_carrier is not None:
        ref["last_carrier"] = s.last_carrier
    return ref


def device_ref(kind: str, session: DeviceSession) -> DeviceRef:
    """The ``device`` part of a web session (``web``), desktop or mobile client."""
    if isinstance(session, ActiveWebSession):
        ref = _web(session)
    elif isinstance(session, DesktopClientSession):
        ref = _desktop(session)
    elif isinstance(session, MobileClientSession):
        ref = _mobile(session)
    else:
        ref = DeviceRef(kind=kind, session_id=session.session_id)
    ref["kind"] = kind
    if session.created is not None:
        ref["created"] = session.created
    if session.updated is not None:
        ref["updated"] = session.updated
    return ref


def network_ref(session: DeviceSession) -> NetworkRef | None:
    """``{ip_address, country}`` of a session; ``None`` when Dropbox gave neither."""
    ip, country = session.ip_address, session.country
    if ip is None and country is None:
        return None
    ref = NetworkRef()
    if ip is not None:
        ref["ip_address"] = ip
    if country is not None:
        ref["country"] = country
    return ref


def sessions_of(devices: MemberDevices) -> list[tuple[str, DeviceSession]]:
    """All sessions of a member as ``(kind, session)``: web, then desktop, then mobile."""
    out: list[tuple[str, DeviceSession]] = []
    for kind, sessions in (
        (WEB, devices.web_sessions),
        (DESKTOP, devices.desktop_clients),
        (MOBILE, devices.mobile_clients),
    ):
        if sessions:
            out.extend((kind, s) for s in sessions)
    return out


def session_event(
    event_type: str,
    kind: str,
    session: DeviceSession,
    user: UserRef,
    ctx: EventContext,
    *,
    eid: str,
    event_time: datetime | None = None,
    changes: dict[str, Change] | None = None,
) -> Event:
    return Event(
        event_id=eid,
        event_type=event_type,
        event_time=event_time or ctx.observed_at,
        observed_time=ctx.observed_at,
        team=ctx.team,
        user=user,
        network=network_ref(session),
        device=device_ref(kind, session),
        changes=changes,
        raw=raw_of(session, ctx),
    )


def session_snapshots(
    devices: MemberDevices, user: UserRef | None, ctx: EventContext, slot: Slot | None = None
) -> list[Event]:
    """One ``session.snapshot`` per session; id = (team, type, session_id, slot)."""
    user = user or UserRef(team_member_id=devices.team_member_id)
    sid = slot_id(slot, ctx)
    return [
        session_event(
            "session.snapshot",
            kind,
            s,
            user,
            ctx,
            eid=event_id(ctx.team_id, "session.snapshot", s.session_id, sid),
        )
        for kind, s in sessions_of(devices)
    ]


# --- apps ----------------------------------------------------------------------------------


def app_ref(app: ApiApp) -> AppRef:
    ref = AppRef(app_id=app.app_id, app_name=app.app_name, is_app_folder=app.is_app_folder)
    if app.publisher is not None:
        ref["publisher"] = app.publisher
    if app.publisher_url is not None:
        ref["publisher_url"] = app.publisher_url
    if app.linked is not None:
        ref["linked"] = app.linked
    return ref


def app_snapshots(
    apps: MemberLinkedApps, user: UserRef | None, ctx: EventContext, slot: Slot | None = None
) -> list[Event]:
    """One ``app.snapshot`` per linked app; id = (team, type, team_member_id, app_id, slot)."""
    user = user or UserRef(team_member_id=apps.team_member_id)
    sid = slot_id(slot, ctx)
    return [
        Event(
            event_id=event_id(ctx.team_id, "app.snapshot", apps.team_member_id, app.app_id, sid),
            event_type="app.snapshot",
            event_time=ctx.observed_at,
            observed_time=ctx.observed_at,
            team=ctx.team,
            user=user,
            app=app_ref(app),
            raw=raw_of(app, ctx),
        )
        for app in apps.linked_api_apps
    ]


# --- team ----------------------------------------------------------------------------------


def _flatten(value: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        tag = value.get(".tag")
        if tag is not None and path:
            # (a tag that is not a string is malformed: kept as it is, never looked up)
            last = path.rpartition(".")[2]
            if isinstance(tag, str) and len(value) == 2 and tag in value and last == tag:
                # {".tag": "x", "x": v} at path …x: the tag only repeats the name
                _flatten(value[tag], path, out)
                return
            out[path] = tag
        for key, item in value.items():
            if key != ".tag":
                _flatten(item, f"{path}.{key}" if path else key, out)
    elif value is not None and path:
        out[path] = value


def team_settings(
    info: TeamGetInfoResult | Mapping[str, Any],
    features: Sequence[FeatureValue | Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Team info, policies and feature values as one flat ``{dotted.path: value}`` dict.

    A union becomes its tag at its path, and the fields that came with it sit below it:
    ``policies.sharing.shared_link_create_policy = "team_only"``,
    ``features.upload_api_rate_limit = "limit"``, ``features.upload_api_rate_limit.limit =
    25000``. Unknown fields and tags flow through the same way.
    """
    out: dict[str, Any] = {}
    _flatten(info.wire() if isinstance(info, TeamGetInfoResult) else dict(info), "", out)
    for feature in features:
        wire = feature.wire() if isinstance(feature, FeatureValue) else dict(feature)
        tag = wire.get(".tag")
        if isinstance(tag, str) and tag in wire:
            _flatten(wire[tag], f"features.{tag}", out)
    return out


def team_snapshot(
    info: TeamGetInfoResult | Mapping[str, Any],
    features: Sequence[FeatureValue | Mapping[str, Any]],
    ctx: EventContext,
    slot: Slot | None = None,
) -> Event:
    """``team.snapshot`` carrying ``settings``; id = (team, type, slot)."""
    return Event(
        event_id=event_id(ctx.team_id, "team.snapshot", slot_id(slot, ctx)),
        event_type="team.snapshot",
        event_time=ctx.observed_at,
        observed_time=ctx.observed_at,
        team=ctx.team,
        settings=team_settings(info, features),
        raw=team_raw(info, features, ctx),
    )


def team_raw(
    info: TeamGetInfoResult | Mapping[str, Any],
    features: Sequence[FeatureValue | Mapping[str, Any]],
    ctx: EventContext,
) -> dict[str, Any] | None:
    """``raw`` of team events: ``{"info": <get_info result>, "features": [<values>]}``."""
    if not ctx.include_raw:
        return None
    return {"info": raw_of(info, ctx), "features": [raw_of(f, ctx) for f in features]}


# --- audit log -----------------------------------------------------------------------------


def _log_user(info: Any) -> UserRef | None:
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


def _audit_user(event: TeamEvent) -> UserRef | None:
    actor = event.actor or {}
    tag = actor.get(".tag")
    if tag in ("user", "admin"):
        user = _log_user(actor.get(tag))
        if user is not None:
            return user
    return _log_user(event.context)


def _audit_network(origin: dict[str, Any] | None) -> NetworkRef | None:
    geo = (origin or {}).get("geo_location")
    if not isinstance(geo, dict):
        return None
    ref = NetworkRef()
    for key in ("ip_address", "country", "city", "region"):
        value = geo.get(key)
        if isinstance(value, str):
            ref[key] = value
    return ref or None


def _audit_device(origin: dict[str, Any] | None) -> DeviceRef | None:
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


def audit_event(record: TeamEvent | dict[str, Any], ctx: EventContext) -> Event:
    """``audit.event`` for one team-log record.

    id = (team, type, digest of timestamp + event type tag + actor + origin + details): the
    same record fetched again after a cursor reset gets the same id. ``user`` is the acting
    team member, else the context member. Raises ``pydantic.ValidationError`` (a
    ``ValueError``) for a record that is not a ``TeamEvent``.
    """
    event = record if isinstance(record, TeamEvent) else TeamEvent.model_validate(record)
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
    for key in ("actor", "origin", "context", "participants", "assets", "involve_non_team_member"):
        value = getattr(event, key)
        if value is not None:
            audit[key] = value
    return Event(
        event_id=event_id(ctx.team_id, "audit.event", identity),
        event_type="audit.event",
        event_time=event.timestamp,
        observed_time=ctx.observed_at,
        team=ctx.team,
        user=_audit_user(event),
        network=_audit_network(event.origin),
        device=_audit_device(event.origin),
        audit=audit,
        raw=raw_of(record, ctx),
    )
