"""Sessions: a member's sessions state, its diff (session events) and the session events.

State (one per member that has sessions; ``None`` when it has none)::

    {"team_member_id": "dbmid:…",
     "sessions": {"<session_id>": [kind, ip_address, country, created, updated, a, b]}}

Each session is a ``SessionEntry`` stored as a JSON array (many sessions per member: an
object per session would repeat its keys). ``kind`` is ``web | desktop | mobile``;
``created``/``updated`` are epoch seconds; ``a``/``b`` name the device for the events of a
session that has gone: web ``browser``/``os``, desktop ``client_type``/``host_name``, mobile
``client_type``/``device_name``. Absent values are ``null``.

========================== =================================== ============================
what changed               event                               event_time
========================== =================================== ============================
new session id             ``web_session.started``,            ``created`` (else observed)
                           ``desktop_client.linked``,
                           ``mobile_client.linked``
session id gone            ``web_session.ended``,              observed
                           ``…_client.unlinked``
same id, IP or country     ``session.network_changed``         ``updated`` (else observed)
only ``updated`` (etc.)    none; the state keeps it            (none)
========================== =================================== ============================
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, NamedTuple

from streamer.dropbox.models import (
    ActiveWebSession,
    DesktopClientSession,
    DeviceSession,
    MemberDevices,
    MobileClientSession,
)
from streamer.events.entity import Entity
from streamer.events.envelope import Change, DeviceRef, Event, EventContext, NetworkRef, UserRef
from streamer.events.ids import SnapshotSlot, epoch, event_id, slot_part
from streamer.state import Stored, load_state

__all__ = [
    "DESKTOP",
    "MOBILE",
    "SESSIONS",
    "STARTED",
    "STOPPED",
    "WEB",
    "SessionEntry",
    "device_ref",
    "devices_state",
    "diff_member_devices",
    "network_ref",
    "session_entries",
    "session_event",
    "session_snapshots",
    "sessions_of",
]

WEB, DESKTOP, MOBILE = "web", "desktop", "mobile"

STARTED = {
    WEB: "web_session.started",
    DESKTOP: "desktop_client.linked",
    MOBILE: "mobile_client.linked",
}
STOPPED = {
    WEB: "web_session.ended",
    DESKTOP: "desktop_client.unlinked",
    MOBILE: "mobile_client.unlinked",
}
_LABELS = {
    WEB: ("browser", "os"),
    DESKTOP: ("client_type", "host_name"),
    MOBILE: ("client_type", "device_name"),
}


class SessionEntry(NamedTuple):
    """One session in a member's sessions state, stored as a JSON array in this order."""

    kind: str
    ip_address: str | None
    country: str | None
    created: int | None
    updated: int | None
    a: str | None
    """web: browser; desktop and mobile: client type."""
    b: str | None
    """web: os; desktop: host name; mobile: device name."""


# The stored arrays are read on the hot path by position (a NamedTuple per session and poll
# would cost more than the diff itself); the positions come from the one layout above.
_KIND, _IP, _COUNTRY = (SessionEntry._fields.index(f) for f in ("kind", "ip_address", "country"))


def _entry(kind: str, s: DeviceSession) -> list[Any]:
    """The stored form of a ``SessionEntry`` (a JSON array, its fields in order)."""
    a: str | None
    b: str | None
    if isinstance(s, ActiveWebSession):
        a, b = s.browser, s.os
    elif isinstance(s, DesktopClientSession):
        a, b = s.client_type.tag, s.host_name
    elif isinstance(s, MobileClientSession):
        a, b = s.client_type.tag, s.device_name
    else:
        a = b = None
    return [kind, s.ip_address, s.country, epoch(s.created), epoch(s.updated), a, b]


def devices_state(devices: MemberDevices) -> dict[str, Any] | None:
    """The state of one member's sessions (``None`` when there are none)."""
    sessions = {s.session_id: _entry(kind, s) for kind, s in sessions_of(devices)}
    if not sessions:
        return None
    return {"team_member_id": devices.team_member_id, "sessions": sessions}


def session_entries(state: Stored | None) -> Iterator[SessionEntry]:
    """The sessions of a member's sessions state (none for ``None``)."""
    for entry in (load_state(state) or {}).get("sessions", {}).values():
        yield SessionEntry._make(entry)


# --- the diff --------------------------------------------------------------------------------


def diff_member_devices(
    stored: Stored | None, record: MemberDevices | None, user: UserRef | None, ctx: EventContext
) -> tuple[list[Event], Stored | None]:
    """Session events for one member and the new state (``stored`` itself when unchanged).

    ``record=None`` (the member is no longer listed): every known session ended/unlinked,
    and the state is ``None``. ``user`` is the member's directory entry if the caller knows
    it; else only ``team_member_id`` is given.
    """
    prev = load_state(stored)
    old: dict[str, list[Any]] = prev["sessions"] if prev is not None else {}
    tmid = record.team_member_id if record is not None else (prev or {}).get("team_member_id", "")
    user = user or UserRef(team_member_id=tmid)
    events: list[Event] = []
    new: dict[str, list[Any]] = {}
    if record is not None:
        for kind, s in sessions_of(record):
            sid = s.session_id
            if sid in new:
                continue  # listed twice: the first one counts
            entry = _entry(kind, s)
            new[sid] = entry
            if ctx.quiet:
                continue
            before = old.get(sid)
            if before is not None and before[_KIND] != kind:
                events.append(_gone(sid, before, user, ctx))
                before = None
            if before is None:
                etype = STARTED[kind]
                eid = event_id(ctx.team_id, etype, sid)
                events.append(session_event(etype, kind, s, user, ctx, eid, s.created))
            elif before[_IP] != s.ip_address or before[_COUNTRY] != s.country:
                was = SessionEntry._make(before)
                events.append(_network_changed(was, kind, s, user, ctx))
    for sid, entry in old.items():
        if sid not in new and not ctx.quiet:
            events.append(_gone(sid, entry, user, ctx))
    state = {"team_member_id": tmid, "sessions": new} if new else None
    if state == prev:
        return events, stored
    return events, state


def _network_changed(
    was: SessionEntry, kind: str, s: DeviceSession, user: UserRef, ctx: EventContext
) -> Event:
    changes: dict[str, Change] = {}
    if was.ip_address != s.ip_address:
        changes["ip_address"] = Change(old=was.ip_address, new=s.ip_address)
    if was.country != s.country:
        changes["country"] = Change(old=was.country, new=s.country)
    etype = "session.network_changed"
    eid = event_id(ctx.team_id, etype, s.session_id, s.ip_address, s.country, epoch(s.updated))
    return session_event(etype, kind, s, user, ctx, eid, s.updated, changes=changes)


def _gone(session_id: str, stored: list[Any], user: UserRef, ctx: EventContext) -> Event:
    """The ended/unlinked event of a session known only from its state entry."""
    entry = SessionEntry._make(stored)
    kind = entry.kind
    etype = STOPPED.get(kind, f"{kind}_session.ended")
    device = DeviceRef(kind=kind, session_id=session_id)
    labels = _LABELS.get(kind)
    if labels is not None:
        if entry.a is not None:
            device[labels[0]] = entry.a  # type: ignore[literal-required]
        if entry.b is not None:
            device[labels[1]] = entry.b  # type: ignore[literal-required]
    if entry.created is not None:
        device["created"] = datetime.fromtimestamp(entry.created, UTC)
    if entry.updated is not None:
        device["updated"] = datetime.fromtimestamp(entry.updated, UTC)
    network = _network(entry.ip_address, entry.country)
    eid = event_id(ctx.team_id, etype, session_id)
    return ctx.event(etype, eid, user=user, network=network, device=device)


# --- the events ------------------------------------------------------------------------------


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


def _network(ip: str | None, country: str | None) -> NetworkRef | None:
    if ip is None and country is None:
        return None
    ref = NetworkRef()
    if ip is not None:
        ref["ip_address"] = ip
    if country is not None:
        ref["country"] = country
    return ref


def network_ref(session: DeviceSession) -> NetworkRef | None:
    """``{ip_address, country}`` of a session; ``None`` when Dropbox gave neither."""
    return _network(session.ip_address, session.country)


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
    eid: str,
    event_time: datetime | None = None,
    *,
    changes: dict[str, Change] | None = None,
) -> Event:
    return ctx.event(
        event_type,
        eid,
        event_time,
        user=user,
        network=network_ref(session),
        device=device_ref(kind, session),
        changes=changes,
        raw=ctx.raw(session),
    )


def session_snapshots(
    devices: MemberDevices,
    user: UserRef | None,
    ctx: EventContext,
    slot: SnapshotSlot | None = None,
) -> list[Event]:
    """One ``session.snapshot`` per session; id = (team, type, session_id, slot)."""
    user = user or UserRef(team_member_id=devices.team_member_id)
    part = slot_part(slot, ctx.observed_at)
    return [
        session_event(
            "session.snapshot",
            kind,
            s,
            user,
            ctx,
            event_id(ctx.team_id, "session.snapshot", s.session_id, part),
        )
        for kind, s in sessions_of(devices)
    ]


def _subject(devices: MemberDevices) -> str:
    return devices.team_member_id


SESSIONS: Entity[MemberDevices] = Entity(
    "sessions", _subject, diff_member_devices, session_snapshots
)
