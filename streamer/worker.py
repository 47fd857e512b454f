"""The worker: wires each team's streams to the publisher; scheduling, shutdown, backpressure.

One ``TeamWorker`` per configured team, all sharing one HTTP transport and one Kafka producer.
Within a team every stream runs as its own task. In the first members cycle, sessions and apps
process a member only once the members stream has committed it (``streams.latch``), so their
events can name the user (email, name); then all run on their own intervals.

What one cycle of a stream does (prepare, commit, fold; backpressure and group commit) is
``commit.TeamCommitter``; this module only decides which streams run, when, and what a
failed cycle means.

Shutdown: when ``stop`` is set, each stream finishes committing the batch in hand, abandons the
page being fetched (it is fetched again after a restart) and returns.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from datetime import datetime

import structlog

from streamer.clock import Clock
from streamer.commit import CycleStats, TeamCommitter
from streamer.config import Settings, TeamSettings
from streamer.dropbox import TeamApi, Transport
from streamer.errors import DropboxApiError, MissingScopeError
from streamer.events.envelope import UserRef
from streamer.events.members import user_ref_from_state
from streamer.kafka.publisher import Publisher
from streamer.metrics import Metrics
from streamer.progress import BackfillProgress
from streamer.records import Outbox, Prepared
from streamer.state import StateStores, load_state, stream_key
from streamer.streams import build_streams
from streamer.streams.audit import AuditStream, time_windows
from streamer.streams.base import Stream, StreamContext
from streamer.streams.latch import MemberLatch, StoppedWaiting

log = structlog.get_logger(__name__)


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
        self._committer = TeamCommitter(name, publisher, Outbox(settings.kafka), clock, metrics)
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
            store=self._states[stream_key(self.name, stream)],
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

            stats = await self._committer.cycle(
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
                stats = await self._committer.cycle(stream, ctx, stop, on_commit=on_commit)
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
