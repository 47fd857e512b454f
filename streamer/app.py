"""The service's lifetime: build the parts once, run the team workers, close everything.

Order at start-up: topics (create or verify) → state restore → producer → each team connects
(first token, team id) → streams run. At shutdown the reverse, each step bounded in time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import structlog

from streamer.clock import Clock, SystemClock
from streamer.config import STREAM_NAMES, Settings
from streamer.dropbox import AiohttpTransport
from streamer.errors import StreamerError
from streamer.health import HealthServer
from streamer.kafka.publisher import Publisher
from streamer.kafka.state import restore_state
from streamer.kafka.topics import ensure_topics
from streamer.metrics import Metrics
from streamer.progress import BackfillProgress
from streamer.worker import TeamWorker

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RunOptions:
    once: bool = False
    replay: bool = False
    backfill: tuple[datetime, datetime] | None = None
    serve_metrics: bool = True
    progress: BackfillProgress | None = None  # a progress line for --backfill


async def run_service(
    settings: Settings,
    options: RunOptions,
    stop: asyncio.Event,
    *,
    clock: Clock | None = None,
    metrics: Metrics | None = None,
    health_started: Callable[[HealthServer], None] | None = None,
) -> None:
    """Run until ``stop`` is set (or one pass, per ``options``). ``health_started`` is told
    the health server once it listens (tests learn its port that way)."""
    clock = clock or SystemClock()
    metrics = metrics or Metrics()
    # one pool for all teams; each team adds its own ca_file (TeamApi.build)
    transport = AiohttpTransport()
    publisher = Publisher(settings.kafka, clock=clock, metrics=metrics)
    health: HealthServer | None = None
    try:
        created = await ensure_topics(settings.kafka, list(STREAM_NAMES))
        if created:
            log.info("topics_created", topics=created)
        states = await restore_state(settings.kafka)
        log.info("state_restored", subjects=sum(len(v) for v in states.values()))
        await publisher.start()
        workers = [
            TeamWorker(
                name,
                team,
                settings=settings,
                transport=transport,
                publisher=publisher,
                states=states,
                clock=clock,
                metrics=metrics,
            )
            for name, team in settings.teams.items()
        ]
        if settings.metrics.enabled and options.serve_metrics:
            health = HealthServer(settings, metrics, workers, clock)
            await health.start()
            log.info("metrics_serving", host=settings.metrics.host, port=health.port)
            if health_started is not None:
                health_started(health)
        for worker in workers:
            await worker.connect()
        async with asyncio.TaskGroup() as group:
            for worker in workers:
                if options.backfill:
                    since, until = options.backfill
                    group.create_task(worker.backfill(stop, since, until, options.progress))
                else:
                    group.create_task(worker.run(stop, once=options.once, replay=options.replay))
    except BaseExceptionGroup as group_error:
        # TaskGroup wraps failures; surface the one an operator can act on.
        raise _first_cause(group_error) from None
    finally:
        if options.progress is not None:
            options.progress.close()  # end its line before the closing log lines
        if health is not None:
            await health.stop()
        with contextlib.suppress(Exception):
            await publisher.stop()
        await transport.close()
        log.info("stopped")


def _first_cause(group: BaseExceptionGroup[BaseException]) -> BaseException:
    leaves: list[BaseException] = []

    def walk(error: BaseException) -> None:
        if isinstance(error, BaseExceptionGroup):
            for inner in error.exceptions:
                walk(inner)
        else:
            leaves.append(error)

    walk(group)
    for leaf in leaves:
        if isinstance(leaf, StreamerError):
            return leaf
    return leaves[0]
