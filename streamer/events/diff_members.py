"""Members: previous state + current listing record → lifecycle / update events + new state.

State (one per member, JSON, ``None``/empty values left out)::

    {"team_member_id": "dbmid:…", "email": "…", "email_verified": true, "status": "active",
     "given_name": "…", "surname": "…", "familiar_name": "…", "display_name": "…",
     "abbreviated_name": "…", "membership_type": "full", "account_id": "dbid:…",
     "external_id": "…", "persistent_id": "…", "is_directory_restricted": false,
     "groups": ["g:…"], "roles": [{"role_id": "…", "name": "…"}],
     "secondary_emails": [{"email": "…", "is_verified": true}], "rev": 3}

``rev`` counts the polls that emitted events for the member. It goes into the event ids, so
a fact that repeats (a second removal after a recovery, an email changed back and forth)
gets a new id, while the same poll replayed from the same state gets the same ids.

Status transitions, by the new status:

========== ============================== =====================================
new status event                          notes
========== ============================== =====================================
invited    ``member.invited``             also first seen invited, or re-invited
active     ``member.unsuspended``         from suspended
active     ``member.joined``              from anything else, first seen included
suspended  ``member.suspended``           first seen suspended included
removed    ``member.removed``             first seen removed: no event (history)
other tag  ``member.updated``             ``changes.status`` (unknown to this version)
========== ============================== =====================================

Tracked fields that changed go into one ``member.updated`` (beside any status event).
"""

from __future__ import annotations

from typing import Any

from streamer.dropbox.models import TeamMemberInfoV2
from streamer.events.envelope import Change, Event, EventContext
from streamer.events.ids import digest, epoch, event_id
from streamer.events.normalize import member_event, user_ref_from_state
from streamer.events.states import Stored, load_state

__all__ = ["TRACKED", "diff_member", "member_state", "vanished_member"]

TRACKED = (
    "email",
    "email_verified",
    "given_name",
    "surname",
    "familiar_name",
    "display_name",
    "abbreviated_name",
    "membership_type",
    "account_id",
    "external_id",
    "persistent_id",
    "is_directory_restricted",
    "groups",
    "roles",
    "secondary_emails",
)
"""Fields whose change is reported by ``member.updated`` (state keys = ``changes`` keys)."""

LISTS = frozenset({"groups", "roles", "secondary_emails"})
"""Absent from the state when empty; reported as ``[]`` (not ``null``) in ``changes``."""

_KNOWN = frozenset({"invited", "active", "suspended", "removed"})


def member_state(info: TeamMemberInfoV2, rev: int = 0) -> dict[str, Any]:
    """The compact state of one member (what ``diff_member`` compares and stores)."""
    p = info.profile
    n = p.name
    state: dict[str, Any] = {
        "team_member_id": p.team_member_id,
        "email": p.email,
        "email_verified": p.email_verified,
        "status": p.status.tag,
        "given_name": n.given_name,
        "surname": n.surname,
        "familiar_name": n.familiar_name,
        "display_name": n.display_name,
        "abbreviated_name": n.abbreviated_name,
        "membership_type": p.membership_type.tag,
    }
    if p.account_id is not None:
        state["account_id"] = p.account_id
    if p.external_id is not None:
        state["external_id"] = p.external_id
    if p.persistent_id is not None:
        state["persistent_id"] = p.persistent_id
    if p.is_directory_restricted is not None:
        state["is_directory_restricted"] = p.is_directory_restricted
    if p.groups:
        state["groups"] = sorted(p.groups)
    if info.roles:
        state["roles"] = sorted(
            ({"role_id": r.role_id, "name": r.name} for r in info.roles),
            key=lambda r: r["role_id"],
        )
    if p.secondary_emails:
        state["secondary_emails"] = sorted(
            ({"email": e.email, "is_verified": e.is_verified} for e in p.secondary_emails),
            key=lambda e: e["email"],
        )
    state["rev"] = rev
    return state


def _status_event(old: str | None, new: str) -> str | None:
    """The event for a status transition; ``None``: report it in ``member.updated``."""
    if new == "active":
        return "member.unsuspended" if old == "suspended" else "member.joined"
    if new in _KNOWN:
        return f"member.{new}"
    return None


def _changes(prev: dict[str, Any], state: dict[str, Any]) -> dict[str, Change]:
    changes: dict[str, Change] = {}
    for key in TRACKED:
        old, new = prev.get(key), state.get(key)
        if old != new:
            if key in LISTS:
                old, new = old or [], new or []
                if old == new:
                    continue
            changes[key] = Change(old=old, new=new)
    return changes


def diff_member(
    stored: Stored | None,
    cur: TeamMemberInfoV2 | None,
    ctx: EventContext,
    *,
    quiet: bool = False,
) -> tuple[list[Event], Stored | None]:
    """Events for one member and its new state (``stored`` itself when nothing changed).

    ``cur=None`` means the member is no longer listed: ``vanished_member`` events, state
    ``None`` (delete it). ``quiet``: the same state, but no events are built (a baseline
    poll records state only).
    """
    prev = load_state(stored)
    if cur is None:
        return (vanished_member(prev, ctx) if prev is not None and not quiet else []), None
    rev = prev.get("rev", 0) if prev is not None else 0
    state = member_state(cur, rev)
    if state == prev:
        return [], stored
    p = cur.profile
    tmid = p.team_member_id
    old_status = prev.get("status") if prev is not None else None
    new_status = state["status"]
    changes = _changes(prev, state) if prev is not None else {}
    events: list[Event] = []
    emitted = False  # rev counts the polls that emitted events, built or not (quiet)
    if old_status != new_status:
        status_change = {"status": Change(old=old_status, new=new_status)}
        etype = _status_event(old_status, new_status)
        if etype is None:
            changes = {**status_change, **changes}
        elif not (prev is None and new_status == "removed"):
            emitted = True
            if not quiet:
                events.append(_status_changed(etype, cur, old_status, rev, status_change, ctx))
    if changes:
        emitted = True
        if not quiet:
            eid = event_id(ctx.team_id, "member.updated", tmid, rev, digest(changes))
            events.append(member_event("member.updated", cur, ctx, eid=eid, changes=changes))
    if emitted:
        state["rev"] = rev + 1
    return events, state


def _status_changed(
    etype: str,
    cur: TeamMemberInfoV2,
    old_status: str | None,
    rev: int,
    status_change: dict[str, Change],
    ctx: EventContext,
) -> Event:
    p = cur.profile
    when = None  # Dropbox's time of the new status, where it gives one
    if etype == "member.invited":
        when = p.invited_on
    elif etype == "member.joined" and old_status in (None, "invited"):
        when = p.joined_on  # (a recovery keeps the first join's time)
    elif etype == "member.suspended":
        when = p.suspended_on
    eid = event_id(ctx.team_id, etype, p.team_member_id, old_status, rev, epoch(when))
    return member_event(etype, cur, ctx, eid=eid, event_time=when, changes=status_change)


def vanished_member(stored: Stored, ctx: EventContext) -> list[Event]:
    """``member.removed`` for a member no longer listed (none if it was already removed).

    Same id as a listing that shows the member as removed, so either way dedupes. The
    caller deletes the state.
    """
    prev = load_state(stored) or {}
    old_status = prev.get("status")
    if old_status == "removed":
        return []
    rev = prev.get("rev", 0)
    tmid = prev["team_member_id"]
    user = user_ref_from_state(prev)
    user["status"] = "removed"
    return [
        Event(
            event_id=event_id(ctx.team_id, "member.removed", tmid, old_status, rev, None),
            event_type="member.removed",
            event_time=ctx.observed_at,
            observed_time=ctx.observed_at,
            team=ctx.team,
            user=user,
            changes={"status": Change(old=old_status, new="removed")},
        )
    ]
