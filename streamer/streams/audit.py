"""Audit log: ``team_log/get_events`` + ``continue``, one event per record.

The stored state is the newest cursor plus the ids of the most recent events. After a cursor
``reset`` the paginator restarts from the reset timestamp, so events already published come
again; their ids are in ``recent`` and they are skipped (the ids are deterministic, so even
one that slips past the window carries the same ``event_id`` downstream).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

from streamer.aio import prefetch
from streamer.clock import format_dropbox_time, parse_dropbox_time
from streamer.dropbox import audit_pages
from streamer.dropbox.models import parse_events
from streamer.events.audit import audit_event
from streamer.streams.base import BIG_PAGES_AHEAD, YIELD_EVERY, Batch, StreamContext, parse_page

CURSOR = "cursor"
OVERLAP = timedelta(minutes=15)
MAX_RECENT = 20_000


class AuditStream:
    name = "audit"

    def __init__(
        self,
        *,
        category: str | None = None,
        lookback: float = 86400.0,
        start: datetime | None = None,
        end: datetime | None = None,
        subject: str = CURSOR,
    ) -> None:
        self.category = category
        self.lookback = timedelta(seconds=lookback)
        self.start = start  # fixed window (backfill); otherwise from the stored cursor
        self.end = end
        self.subject = subject

    async def poll(self, ctx: StreamContext) -> AsyncIterator[Batch]:
        stored: dict[str, Any] = ctx.stored(self.subject) or {}
        if stored.get("done"):
            return
        recent: dict[str, str] = dict(stored.get("recent", {}))  # event id -> timestamp
        cursor = stored.get("cursor")
        start = self._start(ctx, stored)
        pages = audit_pages(
            ctx.client, start=start, end=self.end, cursor=cursor, category=self.category
        )
        async for page in prefetch(pages, BIG_PAGES_AHEAD):
            ectx = ctx.event_context()
            records, rejected = parse_page(self.name, parse_events, page.records)
            batch = Batch(rejected=rejected, records=len(page.records))
            for i, record in enumerate(records):
                if i and not i % YIELD_EVERY:
                    await asyncio.sleep(0)  # let the other streams' answers in (see base)
                event = audit_event(record, ectx)
                if event.event_id in recent:
                    continue  # overlap after a reset
                recent[event.event_id] = str(record.received().get("timestamp", ""))
                batch.events.append(event)
            recent = _trim(recent)
            finished = self.end is not None and not page.has_more
            batch.state[self.subject] = {"cursor": page.cursor, "recent": recent, "done": finished}
            yield batch

    def _start(self, ctx: StreamContext, stored: dict[str, Any]) -> datetime:
        if self.start is not None:
            return self.start
        newest = max(stored.get("recent", {}).values(), default=None)
        if newest:
            return parse_dropbox_time(newest) - OVERLAP
        return ctx.clock.now() - self.lookback


def _trim(recent: dict[str, str]) -> dict[str, str]:
    """Keep the ids of events within ``OVERLAP`` of the newest one (bounded in size)."""
    if not recent:
        return recent
    # The timestamp format sorts as text, so no parsing per entry.
    floor = format_dropbox_time(parse_dropbox_time(max(recent.values())) - OVERLAP)
    kept = {k: v for k, v in recent.items() if v >= floor}
    if len(kept) > MAX_RECENT:
        kept = dict(sorted(kept.items(), key=lambda item: item[1])[-MAX_RECENT:])
    return kept


def time_windows(
    since: datetime, until: datetime, *, parts: int
) -> list[tuple[datetime, datetime]]:
    """Split [since, until) into at most ``parts`` windows of whole seconds."""
    total = int((until - since).total_seconds())
    if total <= 0:
        return []
    parts = max(1, min(parts, total))
    step = total // parts
    bounds = [since + timedelta(seconds=step * i) for i in range(parts)] + [until]
    return list(itertools.pairwise(bounds))
