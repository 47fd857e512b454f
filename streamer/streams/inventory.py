"""Inventory streams: list everything, diff each subject against the previous poll.

Members, sessions/devices and linked apps differ only in the route, the record model, how a
record names its subject (the team member) and which diff/snapshot functions apply, so one
loop serves all three, described by an ``InventorySpec``.

Per page: parse, diff each subject against its stored state, yield events + changed state.
After a complete listing: every stored subject that was not listed has vanished; its diff
against "nothing" closes it (member removed, sessions ended, apps unlinked) and its state is
deleted. A listing cut short by a crash or a stop is simply started again: subjects already
committed diff as unchanged, so nothing is emitted twice. A listing that Dropbox restarts (a
cursor reset) skips the subjects this poll already handled; a change to one of them in between
is seen by the next poll.

Snapshots (and activity summaries) are due per slot, and the slot is recorded in ``META`` only
by the last batch. So that a listing restarted within the slot does not snapshot again what
it already committed, each page that snapshots records its subjects under a bookkeeping
subject ``~snapshot:<first subject>``, committed with the page's events (in the same
transaction in exactly-once mode); the last batch deletes them. Subjects starting with ``~``
are bookkeeping, never members.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from streamer.aio import prefetch
from streamer.dropbox.client import DropboxClient
from streamer.dropbox.models import (
    MemberDevices,
    MemberLinkedApps,
    ParseResult,
    Record,
    TeamMemberInfoV2,
    parse_linked_apps,
    parse_member_devices,
    parse_members,
)
from streamer.dropbox.pagination import (
    Page,
    linked_apps_pages,
    members_devices_pages,
    members_pages,
)
from streamer.events.activity import member_activity
from streamer.events.apps import APPS as APPS_ENTITY
from streamer.events.entity import Entity
from streamer.events.envelope import Event, EventContext, UserRef
from streamer.events.members import MEMBERS as MEMBERS_ENTITY
from streamer.events.sessions import SESSIONS as SESSIONS_ENTITY
from streamer.state import META, PROGRESS, is_bookkeeping
from streamer.streams.base import (
    BIG_PAGES_AHEAD,
    PAGES_AHEAD,
    YIELD_EVERY,
    Batch,
    StreamContext,
    parse_page,
)

R = TypeVar("R", bound=Record)

Summary = Callable[
    [str, Any | None, UserRef | None, StreamContext, EventContext, int], Event | None
]
"""(member id, its fresh state of this stream, directory entry, ...) -> summary event."""


TAIL_BATCH = 1000
"""At most this many events per batch after the listing (vanished subjects, summaries)."""


@dataclass(frozen=True)
class InventorySpec(Generic[R]):
    entity: Entity[R]
    pages: Callable[[DropboxClient], AsyncIterator[Page]]
    parse: Callable[[list[dict[str, Any]]], ParseResult[R]]
    summary: Summary | None = None
    """Per-member summary emitted with each snapshot, from the subject's fresh state; members
    this listing did not show get one too, from an empty state."""
    pages_ahead: int = PAGES_AHEAD
    """Pages fetched ahead (members pages hold 1000 records, device/app pages ~100 members)."""
    directory: bool = True
    """Whether the events need the member's directory entry (members: they are the directory)."""


class InventoryStream(Generic[R]):
    def __init__(self, spec: InventorySpec[R]) -> None:
        self.spec = spec
        self.name = spec.entity.name

    async def poll(self, ctx: StreamContext) -> AsyncIterator[Batch]:
        spec = self.spec
        entity = spec.entity
        baseline = ctx.baseline()
        slot = ctx.snapshot_slot()
        progress = [s for s in ctx.state if s.startswith(PROGRESS)]
        if baseline and ctx.settings.events.snapshot_interval <= 0 and progress:
            # no scheduled slots: the baseline's slot is the time it began, and a baseline
            # restarted after a crash keeps the one its committed pages were snapshotted in
            slot = (ctx.stored(progress[0]) or {}).get("slot", slot)
        done = _snapshotted(ctx, progress, slot)
        seen: set[str] = set()
        latch = ctx.members_latch
        pages = prefetch(spec.pages(ctx.client), spec.pages_ahead)
        async for page in pages:
            ectx = ctx.event_context(quiet=baseline)
            records, rejected = parse_page(self.name, spec.parse, page.records)
            batch = Batch(rejected=rejected, records=len(page.records))
            # A record that failed validation was still listed: never mistake it for gone.
            seen.update(r.subject for r in rejected if r.subject)
            snapped: list[str] = []
            for i, record in enumerate(records):
                if i and not i % YIELD_EVERY:
                    await asyncio.sleep(0)  # let the other streams' answers in (see base)
                subject = entity.subject(record)
                if subject in seen:
                    # listed again after a cursor reset: this poll has handled it (its state may
                    # not be committed yet, so a second diff would repeat its events)
                    continue
                seen.add(subject)
                user = None
                if spec.directory:
                    if latch is not None and not latch.is_open(subject):
                        await latch.wait(subject)  # its directory entry is not committed yet
                    user = ctx.directory(subject)  # once: snapshot, diff and summary share it
                due = slot if subject not in done else None  # this subject's snapshot
                if due is not None:
                    batch.events.extend(entity.snapshots(record, user, ectx, due))
                    snapped.append(subject)
                if ctx.replay:
                    continue
                previous = ctx.state.get(subject)
                events, state = entity.diff(previous, record, user, ectx)
                if not baseline:
                    batch.events.extend(events)
                if state is not previous:  # diff functions return `previous` when unchanged
                    batch.state[subject] = state
                if due is not None and spec.summary is not None:
                    summary = spec.summary(subject, state, user, ctx, ectx, due)
                    if summary is not None:
                        batch.member_events.append(summary)
            if snapped and not ctx.replay:
                marker = PROGRESS + snapped[0]
                batch.state[marker] = {"slot": slot, "subjects": snapped}
                progress.append(marker)
            yield batch
        if ctx.replay:
            return
        if latch is not None:
            await latch.wait_complete()  # "not listed" is judged against every member
        ectx = ctx.event_context(quiet=baseline)
        final = Batch()
        for subject in [s for s in list(ctx.state) if not is_bookkeeping(s) and s not in seen]:
            user = ctx.directory(subject)
            events, _ = entity.diff(ctx.state[subject], None, user, ectx)
            if not baseline:
                final.events.extend(events)
            final.state[subject] = None
            if len(final.events) >= TAIL_BATCH:
                yield final  # bounded memory when many subjects vanish at once
                final = Batch()
        meta = {**(ctx.stored(META) or {}), "baselined": True}
        if slot is not None:
            if spec.summary is not None:
                members = ctx.peers("members")
                for member_id in [
                    m for m in list(members) if not is_bookkeeping(m) and m not in seen
                ]:
                    user = ctx.directory(member_id)
                    summary = spec.summary(member_id, None, user, ctx, ectx, slot)
                    if summary is not None:
                        final.member_events.append(summary)
                    if len(final.events) + len(final.member_events) >= TAIL_BATCH:
                        yield final  # e.g. 30k members without a device: not one batch
                        final = Batch()
            meta["snapshot_slot"] = slot
        for marker in progress:
            final.state[marker] = None  # the slot goes into META with this very batch
        if meta != ctx.stored(META):
            final.state[META] = meta
        yield final


def _snapshotted(ctx: StreamContext, progress: list[str], slot: int | None) -> set[str]:
    """Subjects whose snapshot for ``slot`` an interrupted listing already committed."""
    done: set[str] = set()
    if slot is None:
        return done
    for marker in progress:
        value = ctx.stored(marker) or {}
        if value.get("slot") == slot:
            done.update(value.get("subjects", ()))
    return done


def _activity(
    member_id: str,
    devices: Any | None,
    user: UserRef | None,
    ctx: StreamContext,
    ectx: EventContext,
    slot: int,
) -> Event | None:
    """``member.activity`` from the member's fresh sessions state (taken with the sessions
    snapshot, so it counts what this very listing showed)."""
    if is_bookkeeping(member_id) or not ctx.settings.events.activity_summary:
        return None
    member = ctx.peer("members", member_id)
    if member is None or user is None or user.get("status") == "removed":
        return None
    return member_activity(member, devices, ctx.peer("apps", member_id), user, ectx, slot)


def _all_members(client: DropboxClient) -> AsyncIterator[Page]:
    # Removed members too: their status is how removals are seen.
    return members_pages(client, include_removed=True)


MEMBERS: InventorySpec[TeamMemberInfoV2] = InventorySpec(
    entity=MEMBERS_ENTITY,
    pages=_all_members,
    parse=parse_members,
    pages_ahead=BIG_PAGES_AHEAD,
    directory=False,
)

SESSIONS: InventorySpec[MemberDevices] = InventorySpec(
    entity=SESSIONS_ENTITY,
    pages=members_devices_pages,
    parse=parse_member_devices,
    summary=_activity,
)

APPS: InventorySpec[MemberLinkedApps] = InventorySpec(
    entity=APPS_ENTITY,
    pages=linked_apps_pages,
    parse=parse_linked_apps,
)
