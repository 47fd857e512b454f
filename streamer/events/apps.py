"""Linked apps: a member's apps state, its diff (``app.linked`` / ``app.unlinked``), the events.

State (one per member that has linked apps; ``None`` when it has none)::

    {"team_member_id": "dbmid:…",
     "apps": {"<app_id>": [app_name, publisher, linked, is_app_folder]}}

Each app is an ``AppEntry`` stored as a JSON array. ``linked`` is epoch seconds (or
``null``). An app whose ``linked`` time moved was unlinked and linked again between two
polls: both events are emitted. A changed name or publisher, or a ``linked`` time appearing
where there was none, only updates the state; a ``linked`` time that disappears is kept.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

from streamer.dropbox.models import ApiApp, MemberLinkedApps
from streamer.events.entity import Entity
from streamer.events.envelope import AppRef, Event, EventContext, UserRef
from streamer.events.ids import SnapshotSlot, epoch, event_id, slot_part
from streamer.state import Stored, load_state

__all__ = [
    "APPS",
    "AppEntry",
    "app_ref",
    "app_snapshots",
    "apps_state",
    "diff_member_apps",
    "linked_app_count",
]


class AppEntry(NamedTuple):
    """One app in a member's apps state, stored as a JSON array in this order."""

    app_name: str | None
    publisher: str | None
    linked: int | None
    is_app_folder: bool | None


_LINKED = AppEntry._fields.index("linked")  # read by position on the hot path (see sessions)


def _entry(app: ApiApp) -> list[Any]:
    """The stored form of an ``AppEntry`` (a JSON array, its fields in order)."""
    return [app.app_name, app.publisher, epoch(app.linked), app.is_app_folder]


def apps_state(apps: MemberLinkedApps) -> dict[str, Any] | None:
    """The state of one member's linked apps (``None`` when there are none)."""
    if not apps.linked_api_apps:
        return None
    return {
        "team_member_id": apps.team_member_id,
        "apps": {a.app_id: _entry(a) for a in apps.linked_api_apps},
    }


def linked_app_count(state: Stored | None) -> int:
    """How many apps a member's apps state holds."""
    return len((load_state(state) or {}).get("apps", {}))


def diff_member_apps(
    stored: Stored | None, record: MemberLinkedApps | None, user: UserRef | None, ctx: EventContext
) -> tuple[list[Event], Stored | None]:
    """App events for one member and the new state (``stored`` itself when unchanged).

    ``record=None`` (the member is no longer listed): every known app unlinked, state
    ``None``.
    """
    prev = load_state(stored)
    old: dict[str, list[Any]] = prev["apps"] if prev is not None else {}
    tmid = record.team_member_id if record is not None else (prev or {}).get("team_member_id", "")
    user = user or UserRef(team_member_id=tmid)
    events: list[Event] = []
    new: dict[str, list[Any]] = {}
    for app in record.linked_api_apps if record is not None else ():
        if app.app_id in new:
            continue  # listed twice: the first one counts
        entry = _entry(app)
        new[app.app_id] = entry
        before = old.get(app.app_id)
        if before is not None and entry[_LINKED] is None:
            entry[_LINKED] = before[_LINKED]  # Dropbox stopped saying when: keep what it said
        if ctx.quiet:
            continue
        if (
            before is not None
            and None not in (before[_LINKED], entry[_LINKED])
            and before[_LINKED] != entry[_LINKED]
        ):  # relinked between two polls
            events.append(_unlinked(app.app_id, before, tmid, user, ctx))
            before = None
        if before is None:
            events.append(_linked(app, tmid, user, ctx))
    for app_id, entry in old.items():
        if app_id not in new and not ctx.quiet:
            events.append(_unlinked(app_id, entry, tmid, user, ctx))
    state = {"team_member_id": tmid, "apps": new} if new else None
    if state == prev:
        return events, stored
    return events, state


def _linked(app: ApiApp, tmid: str, user: UserRef, ctx: EventContext) -> Event:
    eid = event_id(ctx.team_id, "app.linked", tmid, app.app_id, epoch(app.linked))
    return ctx.event("app.linked", eid, app.linked, user=user, app=app_ref(app), raw=ctx.raw(app))


def _unlinked(app_id: str, stored: list[Any], tmid: str, user: UserRef, ctx: EventContext) -> Event:
    entry = AppEntry._make(stored)
    app = AppRef(app_id=app_id)
    if entry.app_name is not None:
        app["app_name"] = entry.app_name
    if entry.publisher is not None:
        app["publisher"] = entry.publisher
    if entry.linked is not None:
        app["linked"] = datetime.fromtimestamp(entry.linked, UTC)
    if entry.is_app_folder is not None:
        app["is_app_folder"] = entry.is_app_folder
    eid = event_id(ctx.team_id, "app.unlinked", tmid, app_id, entry.linked)
    return ctx.event("app.unlinked", eid, user=user, app=app)


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
    apps: MemberLinkedApps,
    user: UserRef | None,
    ctx: EventContext,
    slot: SnapshotSlot | None = None,
) -> list[Event]:
    """One ``app.snapshot`` per linked app; id = (team, type, team_member_id, app_id, slot)."""
    user = user or UserRef(team_member_id=apps.team_member_id)
    part = slot_part(slot, ctx.observed_at)
    tmid = apps.team_member_id
    return [
        ctx.event(
            "app.snapshot",
            event_id(ctx.team_id, "app.snapshot", tmid, app.app_id, part),
            user=user,
            app=app_ref(app),
            raw=ctx.raw(app),
        )
        for app in apps.linked_api_apps
    ]


def _subject(apps: MemberLinkedApps) -> str:
    return apps.team_member_id


APPS: Entity[MemberLinkedApps] = Entity("apps", _subject, diff_member_apps, app_snapshots)
