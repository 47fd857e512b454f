"""Linked apps: a member's previous apps + current record → ``app.linked`` / ``app.unlinked``.

State (one per member that has linked apps; ``None`` when it has none)::

    {"team_member_id": "dbmid:…",
     "apps": {"<app_id>": [app_name, publisher, linked, is_app_folder]}}

``linked`` is epoch seconds (or ``null``). An app whose ``linked`` time moved was unlinked
and linked again between two polls: both events are emitted. A changed name or publisher, or
a ``linked`` time appearing where there was none, only updates the state; a ``linked`` time
that disappears is kept.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from streamer.dropbox.models import ApiApp, MemberLinkedApps
from streamer.events.envelope import AppRef, Event, EventContext, UserRef
from streamer.events.ids import epoch, event_id
from streamer.events.normalize import app_ref, raw_of
from streamer.events.states import Stored, load_state

__all__ = ["apps_state", "diff_member_apps"]

Entry = list[Any]  # [app_name, publisher, linked, is_app_folder]


def _entry(app: ApiApp) -> Entry:
    return [app.app_name, app.publisher, epoch(app.linked), app.is_app_folder]


def apps_state(apps: MemberLinkedApps) -> dict[str, Any] | None:
    """The state of one member's linked apps (``None`` when there are none)."""
    if not apps.linked_api_apps:
        return None
    return {
        "team_member_id": apps.team_member_id,
        "apps": {a.app_id: _entry(a) for a in apps.linked_api_apps},
    }


def _linked(app: ApiApp, tmid: str, user: UserRef, ctx: EventContext) -> Event:
    return Event(
        event_id=event_id(ctx.team_id, "app.linked", tmid, app.app_id, epoch(app.linked)),
        event_type="app.linked",
        event_time=app.linked or ctx.observed_at,
        observed_time=ctx.observed_at,
        team=ctx.team,
        user=user,
        app=app_ref(app),
        raw=raw_of(app, ctx),
    )


def _unlinked(app_id: str, entry: Entry, tmid: str, user: UserRef, ctx: EventContext) -> Event:
    name, publisher, linked, is_app_folder = entry
    app = AppRef(app_id=app_id)
    if name is not None:
        app["app_name"] = name
    if publisher is not None:
        app["publisher"] = publisher
    if linked is not None:
        app["linked"] = datetime.fromtimestamp(linked, UTC)
    if is_app_folder is not None:
        app["is_app_folder"] = is_app_folder
    return Event(
        event_id=event_id(ctx.team_id, "app.unlinked", tmid, app_id, linked),
        event_type="app.unlinked",
        event_time=ctx.observed_at,
        observed_time=ctx.observed_at,
        team=ctx.team,
        user=user,
        app=app,
    )


def diff_member_apps(
    stored: Stored | None,
    cur: MemberLinkedApps | None,
    user: UserRef | None,
    ctx: EventContext,
    *,
    quiet: bool = False,
) -> tuple[list[Event], Stored | None]:
    """App events for one member and the new state (``stored`` itself when unchanged).

    ``quiet``: the same state, but no events are built (a baseline poll records state only).

    ``cur=None`` (the member is no longer listed): every known app unlinked, state ``None``.
    """
    prev = load_state(stored)
    old: dict[str, Entry] = prev["apps"] if prev is not None else {}
    tmid = cur.team_member_id if cur is not None else (prev or {}).get("team_member_id", "")
    user = user or UserRef(team_member_id=tmid)
    events: list[Event] = []
    new: dict[str, Entry] = {}
    for app in cur.linked_api_apps if cur is not None else ():
        if app.app_id in new:
            continue  # listed twice: the first one counts
        entry = _entry(app)
        new[app.app_id] = entry
        before = old.get(app.app_id)
        if before is not None and entry[2] is None:
            entry[2] = before[2]  # Dropbox stopped saying when: keep what it said before
        if quiet:
            continue
        if before is not None and None not in (before[2], entry[2]) and before[2] != entry[2]:
            events.append(_unlinked(app.app_id, before, tmid, user, ctx))  # relinked
            before = None
        if before is None:
            events.append(_linked(app, tmid, user, ctx))
    for app_id, entry in old.items():
        if app_id not in new and not quiet:
            events.append(_unlinked(app_id, entry, tmid, user, ctx))
    state = {"team_member_id": tmid, "apps": new} if new else None
    if state == prev:
        return events, stored
    return events, state
