"""Change detection: previous state + current poll → change events + new state.

Pure functions over small JSON-able state dicts (stored in the compacted state topic, one
per subject and stream, restored at start-up). Each ``diff_*`` returns ``(events, state)``;
when nothing changed, ``state`` is the very ``prev`` object, so ``state is prev`` tells the
caller there is nothing to write. A ``None`` state means "delete the subject".

- members: ``diff_members`` (``diff_member``, ``vanished_member``, ``member_state``)
- sessions: ``diff_sessions`` (``diff_member_devices``, ``devices_state``)
- linked apps: ``diff_apps`` (``diff_member_apps``, ``apps_state``)
- team: ``diff_team`` (``diff_team``, ``team_state``)
- ``member_activity`` (here): a per-member summary over those three states
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from streamer.events.diff_apps import apps_state, diff_member_apps
from streamer.events.diff_members import TRACKED, diff_member, member_state, vanished_member
from streamer.events.diff_sessions import devices_state, diff_member_devices
from streamer.events.diff_team import diff_team, team_state
from streamer.events.envelope import Activity, Event, EventContext, UserRef
from streamer.events.ids import event_id
from streamer.events.normalize import DESKTOP, MOBILE, WEB, Slot, slot_id, user_ref_from_state
from streamer.events.states import State, Stored, load_state, pack_state

__all__ = [
    "TRACKED",
    "State",
    "Stored",
    "apps_state",
    "devices_state",
    "diff_member",
    "diff_member_apps",
    "diff_member_devices",
    "diff_team",
    "load_state",
    "member_activity",
    "member_state",
    "pack_state",
    "team_state",
    "vanished_member",
]


def member_activity(
    member: Stored | None,
    devices: Stored | None,
    apps: Stored | None,
    user: UserRef | None,
    ctx: EventContext,
    slot: Slot | None = None,
) -> Event:
    """``member.activity``: last seen (newest session ``updated``, with its IP and country)
    and how many web sessions, desktop/mobile clients and linked apps the member has.

    Built from the three states alone (no API call); any may be ``None``.
    id = (team, type, team_member_id, slot).
    """
    devices_s, apps_s = load_state(devices), load_state(apps)
    if user is None:
        member_s = load_state(member)  # only for the user part: callers usually pass it
        if member_s is not None:
            user = user_ref_from_state(member_s)
        else:
            known = devices_s or apps_s
            if known is None:
                raise ValueError("member_activity needs a user or at least one state")
            user = UserRef(team_member_id=known["team_member_id"])
    counts = {WEB: 0, DESKTOP: 0, MOBILE: 0}
    newest: list[Any] | None = None
    for entry in (devices_s or {}).get("sessions", {}).values():
        if entry[0] in counts:
            counts[entry[0]] += 1
        if entry[4] is not None and (newest is None or entry[4] > newest[4]):
            newest = entry
    activity = Activity(
        active_web_sessions=counts[WEB],
        desktop_clients=counts[DESKTOP],
        mobile_clients=counts[MOBILE],
        linked_apps=len((apps_s or {}).get("apps", {})),
    )
    if newest is not None:
        activity["last_seen"] = datetime.fromtimestamp(newest[4], UTC)
        if newest[1] is not None:
            activity["last_ip_address"] = newest[1]
        if newest[2] is not None:
            activity["last_country"] = newest[2]
    tmid = user["team_member_id"]
    return Event(
        event_id=event_id(ctx.team_id, "member.activity", tmid, slot_id(slot, ctx)),
        event_type="member.activity",
        event_time=ctx.observed_at,
        observed_time=ctx.observed_at,
        team=ctx.team,
        user=user,
        activity=activity,
    )
