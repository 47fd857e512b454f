"""What an operator watches: ``/metrics``, ``/healthz`` and ``/readyz`` of the real service,
running against the simulator over HTTP and the real Kafka broker.

The expected values come from the other side of each boundary: request counts from the
simulator's own counters, event counts from what a consumer reads back from Kafka, ages from
the injected clock. The service runs as a daemon (not ``--once``), so the endpoints are
scraped while it is alive; its poll intervals are long, so after the first cycle of every
stream nothing moves until the test moves the clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from streamer.app import RunOptions, run_service
from streamer.clock import ManualClock
from streamer.config import STREAM_NAMES, Settings
from streamer.health import HealthServer
from streamer.metrics import Metrics
from streamer.progress import BackfillProgress
from streamer.simulator import Faults, SimulatorConfig, SimulatorServer
from tests.integration.connector_support import event_topics, make_settings, read_topics

pytestmark = pytest.mark.kafka

POLL = 600.0  # seconds between cycles of every stream: stale after 3 * POLL
TOKEN_LIFETIME = 14_400
DEADLINE = 60.0

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def select(samples: Samples, name: str, **fixed: str) -> dict[frozenset[tuple[str, str]], float]:
    """Samples of ``name`` whose labels include ``fixed``; keyed by the remaining labels."""
    found = {}
    for (sample_name, labels), value in samples.items():
        if sample_name == name and set(fixed.items()) <= labels:
            found[frozenset((k, v) for k, v in labels if k not in fixed)] = value
    return found


def by(label: str, selected: dict[frozenset[tuple[str, str]], float]) -> dict[str, float]:
    """Sum the selected samples by one label."""
    out: dict[str, float] = {}
    for labels, value in selected.items():
        key = dict(labels)[label]
        out[key] = out.get(key, 0.0) + value
    return out


@dataclass
class Running:
    settings: Settings
    clock: ManualClock
    metrics: Metrics
    stop: asyncio.Event
    task: asyncio.Task[None]
    port: int
    http: aiohttp.ClientSession
    seen: list[str] = field(default_factory=list)

    async def get(self, path: str) -> tuple[int, str]:
        async with self.http.get(f"http://127.0.0.1:{self.port}{path}") as response:
            return response.status, await response.text()

    async def scrape(self) -> Samples:
        status, text = await self.get("/metrics")
        assert status == 200
        return parse(text)

    async def until(self, what: str, check: Callable[[Samples], bool]) -> Samples:
        """Scrape until ``check`` holds (the service runs on; this only waits for it)."""
        deadline = asyncio.get_running_loop().time() + DEADLINE
        while True:
            samples = await self.scrape()
            if check(samples):
                return samples
            if self.task.done():
                self.task.result()  # surface the service's failure
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.05)


def all_streams_cycled(samples: Samples) -> bool:
    ok = by("stream", select(samples, "streamer_cycles_total", team="acme", outcome="ok"))
    return set(ok) == set(STREAM_NAMES)


@contextlib.asynccontextmanager
async def service(sim: Any, bootstrap: str) -> AsyncIterator[Running]:
    settings = make_settings(
        sim.url,
        bootstrap,
        metrics={"enabled": True, "host": "127.0.0.1", "port": 0},
        streams={name: {"poll_interval": POLL} for name in STREAM_NAMES},
    )
    clock = ManualClock(start=sim.world.now)
    metrics = Metrics()
    stop = asyncio.Event()
    listening: asyncio.Future[HealthServer] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        run_service(
            settings,
            RunOptions(),
            stop,
            clock=clock,
            metrics=metrics,
            health_started=listening.set_result,
        )
    )
    try:
        health = await asyncio.wait_for(asyncio.shield(listening), DEADLINE)
        assert health.port is not None
        async with aiohttp.ClientSession() as http:
            yield Running(settings, clock, metrics, stop, task, health.port, http)
    finally:
        stop.set()
        await asyncio.wait_for(task, DEADLINE)


@pytest.fixture
async def sim() -> AsyncIterator[Any]:
    # 429s and 503s on a seeded share of requests (the token endpoint included), so the
    # counts by status and the retry counters have something to agree on
    faults = Faults(throttle_rate=0.15, error_rate=0.1, devices_page_size=10, apps_page_size=10)
    config = SimulatorConfig(members=150, seed=11, faults=faults)
    async with SimulatorServer(config).running(host="127.0.0.1", port=0) as running:
        yield running


async def test_metrics_match_the_simulators_counters_and_what_kafka_holds(
    sim: Any, kafka_bootstrap: str
) -> None:
    async with service(sim, kafka_bootstrap) as svc:
        samples = await svc.until("a first cycle of every stream", all_streams_cycled)
        served = sim.counters.snapshot()
        read, _ = await read_topics(kafka_bootstrap, event_topics(svc.settings))

    # every API request, by route and status, is one the simulator counted
    requests = select(samples, "streamer_api_requests_total", team="acme")
    ours = {(dict(k)["route"], dict(k)["status"]): v for k, v in requests.items()}
    theirs = {
        (route, status): float(n)
        for route, statuses in served.items()
        if not route.startswith("oauth2/")
        for status, n in statuses.items()
    }
    assert ours == theirs
    assert any(status == "429" for _, status in ours), "the faults should have throttled some"
    assert any(status == "503" for _, status in ours), "the faults should have failed some"

    # each 429 paused the team once; each 429 and 503 was retried once
    not_ok = sum(v for (_, status), v in ours.items() if status != "200")
    throttled = sum(v for (_, status), v in ours.items() if status == "429")
    assert samples[("streamer_api_rate_limited_total", frozenset({("team", "acme")}))] == throttled
    retries = select(samples, "streamer_api_retries_total", team="acme")
    assert by("reason", retries) == {"rate_limited": throttled, "server_error": not_ok - throttled}
    wait = samples[("streamer_rate_gate_wait_seconds_total", frozenset({("team", "acme")}))]
    assert wait >= 1.0  # at least one Retry-After of 1 s was waited out at the gate

    # token refreshes: one success per 200 of the token endpoint, one retry per 429/503
    refreshes = by("outcome", select(samples, "streamer_token_refreshes_total", team="acme"))
    token = served["oauth2/token"]
    assert refreshes.get("success", 0) == token.get("200", 0) >= 1
    assert refreshes.get("retry", 0) == token.get("429", 0) + token.get("503", 0)

    # events by type: exactly what a consumer reads back from Kafka
    events = by("event_type", select(samples, "streamer_events_total", team="acme"))
    assert Counter({k: int(v) for k, v in events.items()}) == read.types()
    assert sum(events.values()) > 0

    # records: every member the simulator has was read once
    records = by("stream", select(samples, "streamer_records_total", team="acme"))
    assert records["members"] == len(sim.world.truth()["members"])

    # pages: one per API page the members listing returned, plus the closing batch
    pages_by_stream = by("stream", select(samples, "streamer_pages_total", team="acme"))
    listed = sum(
        served.get(route, {}).get("200", 0)
        for route in ("team/members/list_v2", "team/members/list/continue_v2")
    )
    assert pages_by_stream["members"] == listed + 1

    # publish latency: one observation per committed batch that carried records
    pages = sum(select(samples, "streamer_pages_total", team="acme").values())
    latency_count = samples[("streamer_publish_latency_seconds_count", frozenset())]
    assert 0 < latency_count <= pages
    assert select(samples, "streamer_publish_errors_total") == {}


async def test_health_ready_after_a_cycle_then_not_ready_when_stale_or_token_lapsed(
    sim: Any, kafka_bootstrap: str
) -> None:
    sim.faults.throttle_rate = sim.faults.error_rate = 0.0
    async with service(sim, kafka_bootstrap) as svc:
        samples = await svc.until("a first cycle of every stream", all_streams_cycled)
        assert await svc.get("/healthz") == (200, "ok\n")
        status, body = await svc.get("/readyz")
        assert (status, orjson.loads(body)) == (200, {"ready": True, "problems": []})

        # the last cycle and checkpoint times are the (manual) clock's
        now = svc.clock.now().timestamp()
        last = by("stream", select(samples, "streamer_last_success_timestamp_seconds"))
        assert set(last) == set(STREAM_NAMES)
        assert all(value == now for value in last.values())

        svc.clock.advance(120)
        ages = by("stream", select(await svc.scrape(), "streamer_checkpoint_age_seconds"))
        assert ages["members"] == ages["sessions"] == ages["audit"] == 120

        # three poll intervals without a cycle: every stream is stale, the process alive
        svc.clock.advance(3 * POLL - 120 + 1)
        status, body = await svc.get("/readyz")
        report = orjson.loads(body)
        assert status == 503
        assert report["ready"] is False
        assert sorted(report["problems"]) == sorted(
            f"acme/{name}: no successful cycle for {3 * POLL + 1:.0f} s" for name in STREAM_NAMES
        )
        assert await svc.get("/healthz") == (200, "ok\n")

        # past the access token's lifetime without a refresh, the token is reported too
        svc.clock.advance(TOKEN_LIFETIME)
        status, body = await svc.get("/readyz")
        assert status == 503
        assert "acme: no valid access token" in orjson.loads(body)["problems"]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_backfill_progress_reaches_100_percent_with_the_events_kafka_holds(
    sim: Any, kafka_bootstrap: str
) -> None:
    sim.faults.throttle_rate = sim.faults.error_rate = 0.0
    settings = make_settings(sim.url, kafka_bootstrap, http={"max_concurrency": 4})
    until = sim.world.now - timedelta(hours=1)
    since = until - timedelta(days=5)
    out = Terminal()
    progress = BackfillProgress(out)
    options = RunOptions(backfill=(since, until), progress=progress)
    clock = ManualClock(start=sim.world.now)
    await asyncio.wait_for(run_service(settings, options, asyncio.Event(), clock=clock), DEADLINE)
    read, _ = await read_topics(kafka_bootstrap, [settings.kafka.topics.audit])
    assert out.getvalue().endswith("\n"), "the service ends the line before it logs 'stopped'"

    assert len(read.events) > 0
    assert progress.fraction == 1.0
    assert progress.events == len(read.events)
    redraws = out.getvalue().rstrip("\n").split("\r")[1:]
    assert len(redraws) >= 2
    assert redraws[-1].startswith("backfill [" + "#" * 30 + "] 100.0%")
    assert f" {len(read.events)} events " in redraws[-1]
