"""Members: the member state, its diff (lifecycle and update events) and the member events.

State (one per member, JSON, ``None``/empty values left out)::

    {"team_member_id": "dbmid:…", "email": "…", "email_verified": true, "status": "active",
     "given_name": "…", "surname": "…", "familiar_name": "…", "display_name": "…",
     "abbreviated_name": "…", "membership_type": "full", "account_id": "dbid:…",
     "external_id": "…", "persistent_id": "…", "is_directory_restricted": false,
     "groups": ["g:…"], "roles": [{"role_id": "…", "name": "…"}],
     "secondary_emails": [{"email": "…", "is_verified": true}], "rev": 3}

The members stream's states are the team's directory: the other streams' events take a
member's ``user`` part from it (``user_ref_from_state``).

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

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from streamer.dropbox.models import TeamMemberInfoV2, TeamMemberProfile
from streamer.events.entity import Entity
from streamer.events.envelope import (
    Change,
    Event,
    EventContext,
    MemberDetails,
    Role,
    SecondaryEmailRef,
    UserRef,
)
from streamer.events.ids import SnapshotSlot, digest, epoch, event_id, slot_part
from streamer.state import Stored, load_state

__all__ = [
    "MEMBERS",
    "TRACKED",
    "diff_member",
    "member_details",
    "member_event",
    "member_snapshot",
    "member_state",
    "user_ref",
    "user_ref_from_state",
    "vanished_member",
]

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


# --- the state -------------------------------------------------------------------------------


def _roles(info: TeamMemberInfoV2) -> list[Role]:
    """Admin roles, sorted by ``role_id`` (the state and the events list them alike)."""
    return sorted(
        (Role(role_id=r.role_id, name=r.name) for r in info.roles or ()),
        key=lambda r: r["role_id"],
    )


def _secondary_emails(profile: TeamMemberProfile) -> list[SecondaryEmailRef]:
    """Secondary emails, sorted by address (the state and the events list them alike)."""
    return sorted(
        (
            SecondaryEmailRef(email=e.email, is_verified=e.is_verified)
            for e in profile.secondary_emails or ()
        ),
        key=lambda e: e["email"],
    )


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
        state["roles"] = _roles(info)
    if p.secondary_emails:
        state["secondary_emails"] = _secondary_emails(p)
    state["rev"] = rev
    return state


# --- the diff --------------------------------------------------------------------------------


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
    stored: Stored | None, record: TeamMemberInfoV2 | None, user: UserRef | None, ctx: EventContext
) -> tuple[list[Event], Stored | None]:
    """Events for one member and its new state (``stored`` itself when nothing changed).

    ``record=None`` means the member is no longer listed: ``vanished_member`` events, state
    ``None`` (delete it). ``user`` is not needed: the record is the directory entry.
    """
    prev = load_state(stored)
    if record is None:
        return (vanished_member(prev, ctx) if prev is not None and not ctx.quiet else []), None
    rev = prev.get("rev", 0) if prev is not None else 0
    state = member_state(record, rev)
    if state == prev:
        return [], stored
    tmid = record.profile.team_member_id
    old_status = prev.get("status") if prev is not None else None
    new_status = state["status"]
    changes = _changes(prev, state) if prev is not None else {}
    events: list[Event] = []
    emitted = False  # rev counts the polls that emitted events, built or not (ctx.quiet)
    if old_status != new_status:
        status_change = {"status": Change(old=old_status, new=new_status)}
        etype = _status_event(old_status, new_status)
        if etype is None:
            changes = {**status_change, **changes}
        elif not (prev is None and new_status == "removed"):
            emitted = True
            if not ctx.quiet:
                events.append(_status_changed(etype, record, old_status, rev, status_change, ctx))
    if changes:
        emitted = True
        if not ctx.quiet:
            eid = event_id(ctx.team_id, "member.updated", tmid, rev, digest(changes))
            events.append(member_event("member.updated", record, ctx, eid, changes=changes))
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
    return member_event(etype, cur, ctx, eid, event_time=when, changes=status_change)


def vanished_member(previous: Stored, ctx: EventContext) -> list[Event]:
    """``member.removed`` for a member no longer listed (none if it was already removed).

    Same id as a listing that shows the member as removed, so either way dedupes. The
    caller deletes the state.
    """
    prev = load_state(previous) or {}
    old_status = prev.get("status")
    if old_status == "removed":
        return []
    rev = prev.get("rev", 0)
    tmid = prev["team_member_id"]
    user = user_ref_from_state(prev)
    user["status"] = "removed"
    eid = event_id(ctx.team_id, "member.removed", tmid, old_status, rev, None)
    changes = {"status": Change(old=old_status, new="removed")}
    return [ctx.event("member.removed", eid, user=user, changes=changes)]


# --- the events ------------------------------------------------------------------------------


def user_ref(profile: TeamMemberProfile) -> UserRef:
    """The ``user`` part of a member's own events, from the listing's profile."""
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
    """The ``user`` part from a member's state: the directory entry other streams use."""
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
        details["roles"] = _roles(info)
    if p.secondary_emails:
        details["secondary_emails"] = _secondary_emails(p)
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
    eid: str,
    *,
    event_time: datetime | None = None,
    changes: dict[str, Change] | None = None,
) -> Event:
    """A ``member.*`` event carrying the member's user part, details and raw record."""
    return ctx.event(
        event_type,
        eid,
        event_time,
        user=user_ref(info.profile),
        member=member_details(info),
        changes=changes,
        raw=ctx.raw(info),
    )


def member_snapshot(
    info: TeamMemberInfoV2, ctx: EventContext, slot: SnapshotSlot | None = None
) -> Event:
    """``member.snapshot``; id = (team, type, team_member_id, slot)."""
    tmid = info.profile.team_member_id
    eid = event_id(ctx.team_id, "member.snapshot", tmid, slot_part(slot, ctx.observed_at))
    return member_event("member.snapshot", info, ctx, eid)


def _snapshots(
    info: TeamMemberInfoV2, user: UserRef | None, ctx: EventContext, slot: SnapshotSlot | None
) -> list[Event]:
    return [member_snapshot(info, ctx, slot)]


def _subject(info: TeamMemberInfoV2) -> str:
    return info.profile.team_member_id


MEMBERS: Entity[TeamMemberInfoV2] = Entity("members", _subject, diff_member, _snapshots)
