"""One stream cycle of a team onto Kafka: prepare each batch, commit, fold, count.

A cycle polls a stream and commits what it yields. Each batch is prepared as soon as the
stream yields it (``records.Outbox``: encoded records, packed states); a stream prepares at
most ``PREFETCH`` batches ahead of the one being committed, and the commit waits for Kafka:
when Kafka is slow or down, fetching waits and nothing is dropped (backpressure). The batches
that were ready meanwhile go to Kafka together, in one commit (a commit costs two
acknowledgement round trips however large it is).

A commit writes the events and the states they cover (``Publisher``: in exactly-once mode in
one transaction), and only then folds the states into the stream's store: a state never runs
ahead of the events it covers. Rejected records are logged with their reason and counted,
never silently dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from streamer.aio import prefetch_many
from streamer.clock import Clock
from streamer.kafka.publisher import OutRecord
from streamer.metrics import Metrics
from streamer.records import Outbox, Prepared, merge
from streamer.state import fold
from streamer.streams.base import Batch, Stream, StreamContext

__all__ = ["PREFETCH", "CycleStats", "Sink", "TeamCommitter"]

log = structlog.get_logger(__name__)

PREFETCH = 1
"""Prepared batches a stream may hold ready while the previous commit waits for Kafka."""


class Sink(Protocol):
    """Where commits go: ``kafka.publisher.Publisher``."""

    async def commit(self, events: Sequence[OutRecord], state: Sequence[OutRecord]) -> None: ...


@dataclass
class CycleStats:
    pages: int = 0
    records: int = 0
    events: int = 0
    rejected: int = 0
    by_type: dict[str, int] = field(default_factory=dict)

    def add(self, batch: Prepared, pages: int) -> None:
        self.pages += pages
        self.records += batch.api_records
        self.events += len(batch.records)
        self.rejected += len(batch.rejected)
        for event_type, count in batch.by_type.items():
            self.by_type[event_type] = self.by_type.get(event_type, 0) + count


@dataclass
class TeamCommitter:
    """Runs one team's stream cycles against the sink."""

    team: str
    sink: Sink
    outbox: Outbox
    clock: Clock
    metrics: Metrics

    async def cycle(
        self,
        stream: Stream,
        ctx: StreamContext,
        stop: asyncio.Event,
        *,
        namespace: str | None = None,
        on_commit: Callable[[Prepared], None] | None = None,
    ) -> CycleStats:
        """Poll ``stream`` once, committing as it goes; stops after the batch in hand when
        ``stop`` is set. ``namespace``: the state's own (``backfill``), else the stream's.
        A replay writes no state."""
        stats = CycleStats()
        prepared = self._prepared(stream.name, stream.poll(ctx))
        async for ready in prefetch_many(prepared, PREFETCH):
            # group commit: the batches that piled up while the last commit waited for Kafka
            batch = ready[0] if len(ready) == 1 else merge(ready)
            store = None if ctx.replay else ctx.store
            await self._commit(namespace or stream.name, store, batch, pages=len(ready))
            if on_commit is not None:
                on_commit(batch)
            stats.add(batch, len(ready))
            if stop.is_set():
                break
        return stats

    async def _prepared(
        self, stream: str, batches: AsyncIterator[Batch]
    ) -> AsyncIterator[Prepared]:
        """Each batch as it will be committed, made as soon as the stream yields it."""
        async for batch in batches:
            prepared = self.outbox.prepare(stream, batch)
            del batch  # not held by this frame while the commit waits
            yield prepared

    async def _commit(
        self,
        namespace: str,
        store: MutableMapping[str, bytes] | None,
        batch: Prepared,
        *,
        pages: int,
    ) -> None:
        """``store``: where the states are folded after the commit; ``None``: write none."""
        team, metrics = self.team, self.metrics
        state: Sequence[OutRecord] = []
        if store is not None:
            state = self.outbox.state_records(team, namespace, batch.state)
        for rejected in batch.rejected:
            # Never silently dropped: each one is logged with its reason and counted.
            log.warning(
                "record_rejected",
                kind=rejected.kind,
                subject=rejected.subject,
                reason=rejected.reason[:500],
            )
            metrics.rejected.labels(team, namespace).inc()
        await self.sink.commit(batch.records, state)
        if store is not None:
            fold(store, batch.state)
            metrics.checkpointed(team, namespace, self.clock.now().timestamp())
        metrics.pages.labels(team, namespace).inc(pages)  # a group commit has several
        metrics.records.labels(team, namespace).inc(batch.api_records)
        for event_type, count in batch.by_type.items():
            metrics.events.labels(team, event_type).inc(count)
        log.debug(
            "committed",
            pages=pages,
            records=batch.api_records,
            events=len(batch.records),
            state=len(state),
            rejected=len(batch.rejected),
        )
