"""Inventory streams: list everything, reconcile it with the stored states.

Members, sessions/devices and linked apps differ only in the route, the record model and the
entity (``events.<entity>``: subject, diff, snapshots), so one driver serves all three,
described by an ``InventorySpec``. The driver does the I/O: it fetches and parses pages,
waits at the members latch where a member's directory entry is not committed yet, and lets
the event loop run between chunks of records. What a listing emits is decided by the pure
reconciler, ``streams.reconcile.Listing``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from streamer.aio import prefetch
from streamer.dropbox import (
    DropboxClient,
    Page,
    linked_apps_pages,
    members_devices_pages,
    members_pages,
)
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
from streamer.events.activity import member_activity
from streamer.events.apps import APPS as APPS_ENTITY
from streamer.events.entity import Entity
from streamer.events.envelope import Event, EventContext, UserRef
from streamer.events.ids import SnapshotSlot
from streamer.events.members import MEMBERS as MEMBERS_ENTITY
from streamer.events.sessions import SESSIONS as SESSIONS_ENTITY
from streamer.state import Stored
from streamer.streams.base import (
    BIG_PAGES_AHEAD,
    PAGES_AHEAD,
    YIELD_EVERY,
    Batch,
    StreamContext,
    parse_page,
)
from streamer.streams.reconcile import Listing, Plan, Summary

R = TypeVar("R", bound=Record)


@dataclass(frozen=True)
class InventorySpec(Generic[R]):
    entity: Entity[R]
    pages: Callable[[DropboxClient], AsyncIterator[Page]]
    parse: Callable[[list[dict[str, Any]]], ParseResult[R]]
    summary: Callable[[StreamContext], Summary | None] | None = None
    """Makes the per-member summary of one poll (``reconcile.Summary``)."""
    pages_ahead: int = PAGES_AHEAD
    """Pages fetched ahead (members pages hold 1000 records, device/app pages ~100 members)."""
    directory: bool = True
    """Whether the events need the member's directory entry (members: they are the directory)."""


class InventoryStream(Generic[R]):
    """Drives one listing: fetches and parses the pages, waits where the directory is not
    yet committed, and lets the event loop breathe; the reconciler does the rest."""

    def __init__(self, spec: InventorySpec[R]) -> None:
        self.spec = spec
        self.name = spec.entity.name

    async def poll(self, ctx: StreamContext) -> AsyncIterator[Batch]:
        spec, entity, latch = self.spec, self.spec.entity, ctx.members_latch
        baseline = ctx.baseline()
        plan = Plan.of(
            ctx.store,
            baseline=baseline,
            replay=ctx.replay,
            slot=ctx.snapshot_slot(),
            scheduled=ctx.settings.events.snapshot_interval > 0,
        )
        listing = Listing(
            entity,
            ctx.store,
            plan,
            directory=ctx.directory if spec.directory else None,
            summary=spec.summary(ctx) if spec.summary is not None else None,
            members=ctx.peers("members"),
        )
        async for page in prefetch(spec.pages(ctx.client), spec.pages_ahead):
            ectx = ctx.event_context(quiet=baseline)
            records, rejected = parse_page(self.name, spec.parse, page.records)
            batch = listing.start_page(rejected, len(page.records))
            for start in range(0, len(records), YIELD_EVERY):
                if start:
                    await asyncio.sleep(0)  # let the other streams' answers in (see base)
                pairs = [(entity.subject(r), r) for r in records[start : start + YIELD_EVERY]]
                if spec.directory and latch is not None:
                    for subject, _ in pairs:
                        if not latch.is_open(subject):
                            await latch.wait(subject)  # its directory entry is not committed yet
                listing.add(batch, pairs, ectx)
            yield listing.end_page(batch)
        if ctx.replay:
            return
        if latch is not None:
            await latch.wait_complete()  # "not listed" is judged against every member
        for batch in listing.finish(ctx.event_context(quiet=baseline)):
            yield batch


def _activity(ctx: StreamContext) -> Summary | None:
    """``member.activity`` from the member's fresh sessions state (taken with the sessions
    snapshot, so it counts what this very listing showed)."""
    if not ctx.settings.events.activity_summary:
        return None
    members, apps = ctx.peers("members"), ctx.peers("apps")

    def activity(
        member_id: str,
        devices: Stored | None,
        user: UserRef | None,
        ectx: EventContext,
        slot: SnapshotSlot,
    ) -> Event | None:
        member = members.get(member_id)
        if member is None or user is None or user.get("status") == "removed":
            return None
        return member_activity(member, devices, apps.get(member_id), user, ectx, slot)

    return activity


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
