"""Sessions: a member's previous sessions + current devices record → session events + state.

State (one per member that has sessions; ``None`` when it has none)::

    {"team_member_id": "dbmid:…",
     "sessions": {"<session_id>": [kind, ip_address, country, created, updated, a, b]}}

``kind`` is ``web | desktop | mobile``; ``created``/``updated`` are epoch seconds; ``a``/``b``
name the device for the events of a session that has gone: web ``browser``/``os``, desktop
``client_type``/``host_name``, mobile ``client_type``/``device_name``. Absent values are
``null``. A list, not an object, because there are many sessions per member.

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

from datetime import UTC, datetime
from typing import Any

from streamer.dropbox.models import (
    ActiveWebSession,
    DesktopClientSession,
    DeviceSession,
    MemberDevices,
    MobileClientSession,
)
from streamer.events.envelope import Change, DeviceRef, Event, EventContext, NetworkRef, UserRef
from streamer.events.ids import epoch, event_id
from streamer.events.normalize import DESKTOP, MOBILE, WEB, session_event, sessions_of
from streamer.events.states import Stored, load_state

__all__ = ["STARTED", "STOPPED", "devices_state", "diff_member_devices"]

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

Entry = list[Any]  # [kind, ip_address, country, created, updated, a, b]


def _entry(kind: str, s: DeviceSession) -> Entry:
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


def _gone(session_id: str, entry: Entry, user: UserRef, ctx: EventContext) -> Event:
    """The ended/unlinked event of a session known only from its state entry."""
    kind, ip, country, created, updated, a, b = entry
    etype = STOPPED.get(kind, f"{kind}_session.ended")
    device = DeviceRef(kind=kind, session_id=session_id)
    labels = _LABELS.get(kind)
    if labels is not None:
        if a is not None:
            device[labels[0]] = a  # type: ignore[literal-required]
        if b is not None:
            device[labels[1]] = b  # type: ignore[literal-required]
    if created is not None:
        device["created"] = datetime.fromtimestamp(created, UTC)
    if updated is not None:
        device["updated"] = datetime.fromtimestamp(updated, UTC)
    network = None
    if ip is not None or country is not None:
        network = NetworkRef()
        if ip is not None:
            network["ip_address"] = ip
        if country is not None:
            network["country"] = country
    return Event(
        event_id=event_id(ctx.team_id, etype, session_id),
        event_type=etype,
        event_time=ctx.observed_at,
        observed_time=ctx.observed_at,
        team=ctx.team,
        user=user,
        network=network,
        device=device,
    )


def diff_member_devices(
    stored: Stored | None,
    cur: MemberDevices | None,
    user: UserRef | None,
    ctx: EventContext,
    *,
    quiet: bool = False,
) -> tuple[list[Event], Stored | None]:
    """Session events for one member and the new state (``stored`` itself when unchanged).

    ``quiet``: the same state, but no events are built (a baseline poll records state only).

    ``cur=None`` (the member is no longer listed): every known session ended/unlinked, and
    the state is ``None``. ``user`` is the member's ``user`` part if the caller knows it
    (e.g. from the members state); else only ``team_member_id`` is given.
    """
    prev = load_state(stored)
    old: dict[str, Entry] = prev["sessions"] if prev is not None else {}
    tmid = cur.team_member_id if cur is not None else (prev or {}).get("team_member_id", "")
    user = user or UserRef(team_member_id=tmid)
    events: list[Event] = []
    new: dict[str, Entry] = {}
    if cur is not None:
        for kind, s in sessions_of(cur):
            sid = s.session_id
            if sid in new:
                continue  # listed twice: the first one counts
            entry = _entry(kind, s)
            new[sid] = entry
            if quiet:
                continue
            before = old.get(sid)
            if before is not None and before[0] != kind:
                events.append(_gone(sid, before, user, ctx))
                before = None
            if before is None:
                etype = STARTED[kind]
                events.append(
                    session_event(
                        etype,
                        kind,
                        s,
                        user,
                        ctx,
                        eid=event_id(ctx.team_id, etype, sid),
                        event_time=s.created,
                    )
                )
            elif before[1] != entry[1] or before[2] != entry[2]:
                changes: dict[str, Change] = {}
                if before[1] != entry[1]:
                    changes["ip_address"] = Change(old=before[1], new=entry[1])
                if before[2] != entry[2]:
                    changes["country"] = Change(old=before[2], new=entry[2])
                eid = event_id(
                    ctx.team_id, "session.network_changed", sid, entry[1], entry[2], entry[4]
                )
                events.append(
                    session_event(
                        "session.network_changed",
                        kind,
                        s,
                        user,
                        ctx,
                        eid=eid,
                        event_time=s.updated,
                        changes=changes,
                    )
                )
    for sid, entry in old.items():
        if sid not in new and not quiet:
            events.append(_gone(sid, entry, user, ctx))
    state = {"team_member_id": tmid, "sessions": new} if new else None
    if state == prev:
        return events, stored
    return events, state
