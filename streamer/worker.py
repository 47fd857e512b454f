"""The worker: wires each team's streams to the publisher; scheduling, shutdown, backpressure.

One ``TeamWorker`` per configured team, all sharing one HTTP transport and one Kafka producer.
Within a team every stream runs as its own task. In the first members cycle, sessions and apps
process a member only once the members stream has committed it (``streams.latch``), so their
events can name the user (email, name); then all run on their own intervals.

Backpressure: a stream prepares at most ``PREFETCH`` pages ahead of the pages being committed,
and the commit waits for Kafka. When Kafka is slow or down, fetching waits; nothing is dropped.
Group commit: the pages that were ready meanwhile go to Kafka together, in one commit (a
commit costs two acknowledgement round trips however large it is).

Shutdown: when ``stop`` is set, each stream finishes committing the batch in hand, abandons the
page being fetched (it is fetched again after a restart) and returns.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from streamer.aio import prefetch_many
from streamer.clock import Clock
from streamer.config import Settings, TeamSettings
from streamer.dropbox.team import TeamApi
from streamer.dropbox.transport import Transport
from streamer.errors import DropboxApiError, MissingScopeError
from streamer.events.envelope import UserRef
from streamer.events.members import user_ref_from_state
from streamer.kafka.publisher import OutRecord, Publisher
from streamer.metrics import Metrics
from streamer.progress import BackfillProgress
from streamer.records import Outbox, Prepared, merge
from streamer.state import StateStores, load_state, stream_key
from streamer.streams import build_streams
from streamer.streams.audit import AuditStream, time_windows
from streamer.streams.base import Batch, Stream, StreamContext
from streamer.streams.latch import MemberLatch, StoppedWaiting

log = structlog.get_logger(__name__)

PREFETCH = 1


@dataclass
class CycleStats:
    pages: int = 0
    records: int = 0
    events: int = 0
    rejected: int = 0
    by_type: dict[str, int] = field(default_factory=dict)


class TeamWorker:
    def __init__(
        self,
        name: str,
        team: TeamSettings,
        *,
        settings: Settings,
        transport: Transport,
        publisher: Publisher,
        states: StateStores,
        clock: Clock,
        metrics: Metrics,
    ) -> None:
        self.name = name
        self._settings = settings
        self._publisher = publisher
        self._states = states
        self._clock = clock
        self._metrics = metrics
        self._outbox = Outbox(settings.kafka)
        api = TeamApi.build(
            name, team, settings.http, transport=transport, clock=clock, metrics=metrics
        )
        self.tokens, self.gate, self.client = api.tokens, api.gate, api.client
        self.team_id = ""
        self.team_name = ""
        self.last_success: dict[str, float] = {}
        self.disabled: set[str] = set()  # streams turned off for lack of a scope

    def publisher_connected(self) -> bool:
        return self._publisher.connected

    async def connect(self) -> None:
        """Get a token and the team's identity; fails fast on bad credentials."""
        info = await self.client.rpc("team/get_info", None)
        self.team_id = str(info["team_id"])
        self.team_name = str(info.get("name", self.name))
        log.info("team_connected", team=self.name, team_id=self.team_id)

    def context(self, stream: str, *, replay: bool = False) -> StreamContext:
        return StreamContext(
            team=self.name,
            team_id=self.team_id,
            team_name=self.team_name,
            client=self.client,
            clock=self._clock,
            settings=self._settings,
            state=self._states[stream_key(self.name, stream)],
            directory=self.directory,
            peers=self.peers,
            replay=replay,
        )

    def directory(self, member_id: str) -> UserRef | None:
        """The member's ``user`` part (email, name, status) from the members stream's state."""
        state = load_state(self.peers("members").get(member_id))
        return user_ref_from_state(state) if state is not None else None

    def peers(self, stream: str) -> Mapping[str, bytes]:
        return self._states[stream_key(self.name, stream)]

    async def run(self, stop: asyncio.Event, *, once: bool = False, replay: bool = False) -> None:
        streams = build_streams(self._settings)
        names = {s.name for s in streams}
        # sessions and apps follow the members stream's first listing member by member
        latch = MemberLatch(self.peers("members"), stop) if "members" in names else None
        async with asyncio.TaskGroup() as group:
            for stream in streams:
                group.create_task(
                    self._run_stream(
                        stream,
                        stop,
                        once=once,
                        replay=replay,
                        latch=latch if stream.name in ("sessions", "apps") else None,
                        feeds=latch if stream.name == "members" else None,
                    ),
                    name=f"{self.name}/{stream.name}",
                )

    async def backfill(
        self,
        stop: asyncio.Event,
        since: datetime,
        until: datetime,
        progress: BackfillProgress | None = None,
    ) -> CycleStats:
        """Replay the audit log for [since, until) in windows fetched concurrently.

        Each window keeps its own cursor under the ``backfill`` state namespace, so an
        interrupted backfill resumes, and it never touches the live audit cursor.
        """
        windows = time_windows(since, until, parts=max(1, self._settings.http.max_concurrency))
        total = CycleStats()
        for start, end in windows:
            if progress is not None:
                progress.add(self.name, start, end)

        async def one(start: datetime, end: datetime) -> None:
            structlog.contextvars.bind_contextvars(
                team=self.name, stream="backfill", window=f"{start:%Y-%m-%dT%H:%M:%SZ}"
            )
            stream = AuditStream(
                category=self._settings.streams.audit.category,
                start=start,
                end=end,
                subject=f"{start:%Y%m%dT%H%M%S}-{end:%Y%m%dT%H%M%S}",
            )

            def committed(batch: Prepared) -> None:
                if progress is not None:
                    progress.advanced(
                        self.name, start, events=len(batch.records), newest=batch.newest
                    )

            stats = await self._cycle(
                stream, self.context("backfill"), stop, namespace="backfill", on_commit=committed
            )
            total.events += stats.events
            total.records += stats.records
            if progress is not None and not stop.is_set():
                progress.finished(self.name, start)

        async with asyncio.TaskGroup() as group:
            for start, end in windows:
                group.create_task(one(start, end))
        return total

    async def _run_stream(
        self,
        stream: Stream,
        stop: asyncio.Event,
        *,
        once: bool,
        replay: bool,
        latch: MemberLatch | None,
        feeds: MemberLatch | None,
    ) -> None:
        structlog.contextvars.bind_contextvars(team=self.name, stream=stream.name)
        interval = self._settings.streams.get(stream.name).poll_interval
        ctx = self.context(stream.name, replay=replay)
        on_commit = (lambda _batch: feeds.advanced()) if feeds is not None else None
        if latch is not None and not latch.complete:
            ctx.members_latch = latch  # first cycle only: the members' state is whole after it
        while not stop.is_set():
            started = self._clock.monotonic()
            try:
                stats = await self._cycle(
                    stream,
                    ctx,
                    stop,
                    replay=replay,
                    on_commit=on_commit,
                )
            except StoppedWaiting:
                return  # stopped before the stream it waits for was done: nothing to commit
            except MissingScopeError as exc:
                if stream.name != "audit":
                    raise
                self.disabled.add(stream.name)
                log.warning(
                    "stream_disabled",
                    reason=f"the app lacks the {exc.required_scope} scope",
                    fix="grant events.read in the App Console and create a new refresh token",
                )
                return
            except DropboxApiError as exc:
                # Retries are exhausted or the API refused this cycle; a daemon tries again
                # next interval (credentials errors are DropboxAuthError and end the process).
                self._metrics.cycles.labels(self.name, stream.name, "failed").inc()
                if once:
                    raise
                # one line naming the error, no traceback: the cause is the API's, not ours
                log.error("cycle_failed", error=str(exc), retry_in=interval)  # noqa: TRY400
            else:
                self._metrics.cycles.labels(self.name, stream.name, "ok").inc()
                self.last_success[stream.name] = self._clock.now().timestamp()
                self._metrics.last_success.labels(self.name, stream.name).set(
                    self.last_success[stream.name]
                )
                log.info(
                    "cycle_done",
                    seconds=round(self._clock.monotonic() - started, 3),
                    pages=stats.pages,
                    records=stats.records,
                    events=stats.events,
                    rejected=stats.rejected,
                    by_type=stats.by_type,
                )
            finally:
                ctx.members_latch = None
                if feeds is not None:
                    feeds.finish()
            if once or replay:
                return
            remaining = interval - (self._clock.monotonic() - started)
            if remaining > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), remaining)

    async def _cycle(
        self,
        stream: Stream,
        ctx: StreamContext,
        stop: asyncio.Event,
        *,
        replay: bool = False,
        namespace: str | None = None,
        on_commit: Callable[[Prepared], None] | None = None,
    ) -> CycleStats:
        stats = CycleStats()
        async for ready in prefetch_many(self._prepared(stream.name, stream.poll(ctx)), PREFETCH):
            # group commit: the pages that piled up while the last commit waited for Kafka
            batch = ready[0] if len(ready) == 1 else merge(ready)
            await self._commit(
                namespace or stream.name, ctx, batch, write_state=not replay, pages=len(ready)
            )
            if on_commit is not None:
                on_commit(batch)
            stats.pages += len(ready)
            stats.records += batch.api_records
            stats.events += len(batch.records)
            stats.rejected += len(batch.rejected)
            for event_type, count in batch.by_type.items():
                stats.by_type[event_type] = stats.by_type.get(event_type, 0) + count
            if stop.is_set():
                break
        return stats

    async def _prepared(
        self, stream: str, batches: AsyncIterator[Batch]
    ) -> AsyncIterator[Prepared]:
        """Each batch as it will be committed, made as soon as the stream yields it."""
        async for batch in batches:
            prepared = self._prepare(stream, batch)
            del batch  # not held by this frame while the commit waits
            yield prepared

    def _prepare(self, stream: str, batch: Batch) -> Prepared:
        return self._outbox.prepare(
            stream, batch.events, batch.member_events, batch.state, batch.rejected, batch.records
        )

    async def _commit(
        self,
        namespace: str,
        ctx: StreamContext,
        batch: Prepared,
        *,
        write_state: bool,
        pages: int = 1,
    ) -> None:
        state: Sequence[OutRecord] = []
        if write_state:
            state = self._outbox.state_records(self.name, namespace, batch.state)
        for rejected in batch.rejected:
            # Never silently dropped: each one is logged with its reason and counted.
            log.warning("record_rejected", detail=_describe_rejected(rejected))
            self._metrics.rejected.labels(self.name, namespace).inc()
        await self._publisher.commit(batch.records, state)
        if write_state:
            for subject, value in batch.state.items():
                if value is None:
                    if subject in ctx.state:  # not pop(): it would decompress the old value
                        del ctx.state[subject]
                else:
                    ctx.state[subject] = value  # the store interns the subject
            self._metrics.checkpointed(self.name, namespace, self._clock.now().timestamp())
        self._metrics.pages.labels(self.name, namespace).inc(pages)  # a group commit has several
        self._metrics.records.labels(self.name, namespace).inc(batch.api_records)
        for event_type, count in batch.by_type.items():
            self._metrics.events.labels(self.name, event_type).inc(count)
        log.debug(
            "committed",
            pages=pages,
            records=batch.api_records,
            events=len(batch.records),
            state=len(state),
            rejected=len(batch.rejected),
        )


def _describe_rejected(rejected: Any) -> str:
    reason = getattr(rejected, "reason", None)
    if reason is None and isinstance(rejected, dict):
        reason = rejected.get("reason")
    return str(reason or rejected)[:500]
