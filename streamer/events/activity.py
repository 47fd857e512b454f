"""``member.activity``: a member's footprint, summed up from its three states."""

from __future__ import annotations

from datetime import UTC, datetime

from streamer.events.apps import linked_app_count
from streamer.events.envelope import Activity, Event, EventContext, UserRef
from streamer.events.ids import SnapshotSlot, event_id, slot_part
from streamer.events.members import user_ref_from_state
from streamer.events.sessions import DESKTOP, MOBILE, WEB, SessionEntry, session_entries
from streamer.state import Stored, load_state

__all__ = ["member_activity"]


def member_activity(
    member: Stored | None,
    devices: Stored | None,
    apps: Stored | None,
    user: UserRef | None,
    ctx: EventContext,
    slot: SnapshotSlot | None = None,
) -> Event:
    """``member.activity``: last seen (newest session ``updated``, with its IP and country)
    and how many web sessions, desktop/mobile clients and linked apps the member has.

    Built from the three states alone (no API call); any may be ``None``.
    id = (team, type, team_member_id, slot).
    """
    if user is None:
        user = _user(member, devices, apps)
    counts = {WEB: 0, DESKTOP: 0, MOBILE: 0}
    newest: SessionEntry | None = None
    last_seen = 0
    for entry in session_entries(devices):
        if entry.kind in counts:
            counts[entry.kind] += 1
        if entry.updated is not None and (newest is None or entry.updated > last_seen):
            newest, last_seen = entry, entry.updated
    activity = Activity(
        active_web_sessions=counts[WEB],
        desktop_clients=counts[DESKTOP],
        mobile_clients=counts[MOBILE],
        linked_apps=linked_app_count(apps),
    )
    if newest is not None:
        activity["last_seen"] = datetime.fromtimestamp(last_seen, UTC)
        if newest.ip_address is not None:
            activity["last_ip_address"] = newest.ip_address
        if newest.country is not None:
            activity["last_country"] = newest.country
    tmid = user["team_member_id"]
    eid = event_id(ctx.team_id, "member.activity", tmid, slot_part(slot, ctx.observed_at))
    return ctx.event("member.activity", eid, user=user, activity=activity)


def _user(member: Stored | None, devices: Stored | None, apps: Stored | None) -> UserRef:
    """The ``user`` part when the caller has none: from the member's state, else the id."""
    member_s = load_state(member)
    if member_s is not None:
        return user_ref_from_state(member_s)
    known = load_state(devices) or load_state(apps)
    if known is None:
        raise ValueError("member_activity needs a user or at least one state")
    return UserRef(team_member_id=known["team_member_id"])
