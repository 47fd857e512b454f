"""Kafka goes away mid-run: a broker of this module's own is stopped (its data kept) and
started again on the same ports, as a real outage and recovery look to a client.

- Shorter than ``kafka.outage_limit``: the worker waits (alive, memory flat, no fetching
  beyond the bounded prefetch), then resumes by itself and loses nothing.
- Longer: the worker exits 5 with one clear line within the limit (no producer call hangs);
  restarted once Kafka is back, it completes and loses nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamer.simulator import Faults, SimulatorConfig
from tests.faults.conftest import Reliability, Simulator, running
from tests.faults.harness import (
    Delivered,
    OffsetWatch,
    Worker,
    event_topics,
    fact_diff,
    first_cycle_facts,
    now_floor,
    read_all,
    topics_of,
    worker_config,
    write_config,
)
from tests.faults.test_crash import check_in_flight_only
from tests.kafka_broker import KafkaBroker, KafkaStartError, start_broker

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

OUTAGE_S = 35.0
MEMBERS = 150


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """A broker for this module only: stopping it disturbs no other test."""
    try:
        broker = start_broker(tmp_path_factory.mktemp("outage-kafka"))
    except KafkaStartError as exc:
        pytest.fail(f"{exc}\nthe outage tests need Java 17+ to run a broker", pytrace=False)
    try:
        yield broker
    finally:
        broker.stop()


def slow_team() -> SimulatorConfig:
    """A listing of ~70 pages answered 80 ms late: several seconds, so an outage lands in it."""
    faults = Faults(devices_page_size=5, apps_page_size=5, latency_ms=80)
    return SimulatorConfig(members=MEMBERS, seed=11, start=now_floor(), audit_days=1, faults=faults)


async def stop_broker_after(
    broker: KafkaBroker, worker: Worker, config: dict, events: int
) -> float:
    """Stop the broker (keeping its data) once ``events`` event records are in; when the
    stop began (the broker may refuse requests from then on)."""
    async with OffsetWatch(broker.bootstrap_servers, event_topics(config)) as watch:
        while await watch.total() < events:
            assert worker.alive, f"the worker ended before the outage:\n{worker.tail()}"
            await asyncio.sleep(0.02)
    began = time.monotonic()
    await asyncio.to_thread(broker.stop, keep_data=True)
    assert worker.alive, "the worker finished before Kafka went away: make the listing slower"
    return began


def api_requests(sim: Simulator) -> int:
    return sum(sum(statuses.values()) for statuses in sim.counters.snapshot().values())


@pytest.mark.timeout(240)
async def test_an_outage_within_the_limit_is_waited_out_with_flat_memory(
    broker: KafkaBroker, tmp_path: Path, reliability: Reliability
) -> None:
    async with running(slow_team()) as sim:
        expected = first_cycle_facts(sim.world)
        config = worker_config(
            sim.url,
            broker.bootstrap_servers,
            kafka={"delivery": "exactly_once", "outage_limit": 120, "request_timeout": 5},
        )
        worker = await Worker(write_config(tmp_path / "streamer.toml", config)).start()
        try:
            down = await stop_broker_after(broker, worker, config, events=150)
            rss: list[tuple[float, int]] = []
            requests: list[tuple[float, int]] = []
            while (elapsed := time.monotonic() - down) < OUTAGE_S:
                size = worker.rss_kib()
                assert worker.alive, f"the worker did not wait for Kafka:\n{worker.tail()}"
                assert size is not None
                rss.append((elapsed, size))
                requests.append((elapsed, api_requests(sim)))
                await worker.wait_briefly(0.5)  # a sampling period; returns early on exit
            await asyncio.to_thread(broker.start, keep_data=True)
            code = await worker.wait(120)
        finally:
            worker.kill()
    assert code == 0, worker.tail()
    assert '"kafka_unavailable"' in worker.stderr(), "the worker never noticed the outage"

    # memory: flat while it waits (no queue grows); fetching: stopped once prefetch is full
    first = max(kib for t, kib in rss if t < 10)
    last = max(kib for t, kib in rss if t >= OUTAGE_S - 10)
    assert last - first < 16 * 1024, f"RSS grew from {first} KiB to {last} KiB: {rss}"
    settled = [n for t, n in requests if t >= 10]
    assert settled[-1] == settled[0], f"API requests went on during the outage: {requests}"

    records = await read_all(broker.bootstrap_servers, event_topics(config))
    delivered = Delivered.of(records)
    assert delivered.facts == expected, fact_diff(expected, delivered.facts)
    assert delivered.duplicated == 0
    reliability.record(
        f"Kafka down {OUTAGE_S:.0f} s mid-run, limit 120 s (exactly_once)",
        runs=1,
        expected=sum(expected.values()),
        delivered=len(delivered.by_id),
        duplicated=delivered.duplicated,
        note=f"RSS {first // 1024}->{last // 1024} MiB while waiting; resumed by itself",
    )


@pytest.mark.timeout(240)
async def test_an_outage_past_the_limit_exits_5_and_a_restart_recovers(
    broker: KafkaBroker, tmp_path: Path, reliability: Reliability
) -> None:
    limit, request_timeout = 10, 4
    async with running(slow_team()) as sim:
        expected = first_cycle_facts(sim.world)
        config = worker_config(
            sim.url,
            broker.bootstrap_servers,
            kafka={"outage_limit": limit, "request_timeout": request_timeout},
        )
        path = write_config(tmp_path / "streamer.toml", config)
        worker = await Worker(path, name="gives-up").start()
        try:
            down = await stop_broker_after(broker, worker, config, events=150)
            code = await worker.wait(limit + 4 * request_timeout + 20)
            gave_up_after = time.monotonic() - down
        finally:
            worker.kill()
        await asyncio.to_thread(broker.start, keep_data=True)
        restarted = await Worker(path, name="restarted").start()
        assert await restarted.wait(90) == 0, restarted.tail()

    assert code == 5, worker.tail()
    stderr = worker.stderr()
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert errors == [stderr.splitlines()[-1]]
    assert f"unavailable for more than {limit} s" in errors[0]
    assert "restart the worker once Kafka is back" in errors[0]
    # the limit counts from the start of the commit that failed, which may precede the outage
    assert limit - 2 <= gave_up_after <= limit + 3 * request_timeout, gave_up_after

    records = await read_all(broker.bootstrap_servers, event_topics(config))
    delivered = Delivered.of(records)
    assert delivered.facts == expected, fact_diff(expected, delivered.facts)
    state = await read_all(broker.bootstrap_servers, [topics_of(config)["state"]])
    check_in_flight_only(delivered, state, [worker])
    reliability.record(
        f"Kafka down past outage_limit={limit} s, then restart (at_least_once)",
        runs=1,
        expected=sum(expected.values()),
        delivered=len(delivered.by_id),
        duplicated=delivered.duplicated,
        note=f"exit 5 after {gave_up_after:.0f} s; the restart completed",
    )
