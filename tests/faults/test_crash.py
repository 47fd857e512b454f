"""SIGKILL the worker at seeded moments of a full sync with churn; restart it; compare what a
``read_committed`` consumer sees with the simulator's ground truth.

One run: a team of ``MEMBERS`` on the simulator (small pages, so a listing is many pages).
Cycle 1 is a full sync (reporting every member, session and app found or, for odd seeds, the
default quiet baseline of snapshots), killed 1-2 times, then run to completion. The simulator
advances ``CHURN_HOURS`` (members join, leave, sessions start and end, apps come and go, audit
events). Cycle 2 is killed 1-2 times and run to completion. The kill moments are drawn from the
run's seed: after the simulator has answered the N-th API request, after N event records
reached the event topics, or after N state records reached the state topic (counted with
``read_uncommitted``, so a kill can land inside an open transaction).

Expected: the first cycle's facts for the world before the churn, plus the changes the churn
reported. Delivered: the facts of the distinct event ids. Always: no fact lost, none invented.
``exactly_once``: no event id twice. ``at_least_once``: an event id twice only if its first copy
came from the page (commit) a killed worker had in flight (see ``in_flight_start``).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from streamer.simulator import Faults, SimulatorConfig
from tests.faults.conftest import Reliability, Simulator, running
from tests.faults.harness import (
    Before,
    Delivered,
    Fact,
    OffsetWatch,
    Record,
    Worker,
    change_facts,
    event_topics,
    fact_diff,
    first_cycle_facts,
    now_floor,
    read_all,
    same_fact_copies,
    stream_of,
    topics_of,
    ts_ms,
    within,
    worker_config,
    write_config,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(240)]

MEMBERS = 120
PAGE = 8  # members per devices / linked-apps page: ~15 pages each per listing
CHURN_HOURS = 8
SEEDS = range(12)  # x 2 delivery modes = 24 runs

Kind = Literal["api", "events", "state"]


@dataclass(frozen=True)
class Kill:
    kind: Kind
    after: int

    def __str__(self) -> str:
        return f"{self.kind}>={self.after}"


@dataclass
class Run:
    """What happened in one run: the killed workers (start, end) and the kill moments."""

    killed: list[Worker] = field(default_factory=list)
    kills: list[Kill] = field(default_factory=list)
    survived: list[Kill] = field(default_factory=list)  # the worker finished first


def draw_kills(rng: random.Random, *, requests: int, events: int, states: int) -> list[Kill]:
    """1-2 kill moments, each well inside the cycle (so the worker is still running)."""
    limits: dict[Kind, int] = {"api": requests, "events": events, "state": states}
    kills = []
    for _ in range(rng.choice((1, 1, 2))):
        kind: Kind = rng.choice(("api", "events", "state"))
        kills.append(Kill(kind, rng.randint(1, max(1, int(limits[kind] * 0.8)))))
    return kills


async def kill_at(
    sim: Simulator, worker: Worker, kill: Kill, bootstrap: str, config: dict, run: Run
) -> None:
    """Start ``worker`` and SIGKILL it at ``kill``; a worker that finishes first is noted."""
    topics = [topics_of(config)["state"]] if kill.kind == "state" else event_topics(config)
    async with OffsetWatch(bootstrap, topics) as watch:
        base = await watch.total()
        answered = 0

        def count(request: object, response: object) -> None:
            nonlocal answered
            answered += 1
            if answered == kill.after:
                worker.kill()  # while the simulator is answering: the worker waits on HTTP

        if kill.kind == "api":
            sim.on_response = count
        await worker.start()
        deadline = within(60)
        try:
            while worker.alive:
                assert time.monotonic() < deadline, f"{worker.name} neither ended nor got killed"
                if kill.kind != "api" and await watch.total() - base >= kill.after:
                    worker.kill()
                    break
                await worker.wait_briefly(0.005)
        finally:
            sim.on_response = None
    code = await worker.wait(30)
    if code == -9:
        run.killed.append(worker)
        run.kills.append(kill)
    else:
        assert code == 0, f"{worker.name} exited {code}:\n{worker.tail()}"
        run.survived.append(kill)


async def cycle(
    sim: Simulator,
    cfg_path: Path,
    config: dict,
    bootstrap: str,
    rng: random.Random,
    run: Run,
    label: str,
    *,
    events: int,
) -> None:
    world = sim.world
    devices = sum(1 for m in world.member_order() if world.member_devices(m) is not None)
    requests = 6 + 2 * (devices // PAGE + 1)
    for i, kill in enumerate(
        draw_kills(rng, requests=requests, events=events, states=max(2, MEMBERS))
    ):
        worker = Worker(cfg_path, name=f"{label}-kill{i}")
        await kill_at(sim, worker, kill, bootstrap, config, run)
    finisher = await Worker(cfg_path, name=f"{label}-final").start()
    code = await finisher.wait(90)
    assert code == 0, f"{finisher.name} exited {code}:\n{finisher.tail()}"


def in_flight_start(events: list[int], checkpoints: list[int]) -> int:
    """Where the commit a killed worker had in flight begins, as a Kafka timestamp (ms).

    A stream commits one page (or a group of pages) after another: its events, then, once they
    are acknowledged, its state. Walking back from the kill: the state records of the commit
    in flight (possibly some of them), then its events; the state record before those ends the
    last commit that was complete."""
    timeline = sorted([(t, "state") for t in checkpoints] + [(t, "event") for t in events])
    i = len(timeline)
    while i and timeline[i - 1][1] == "state":
        i -= 1
    while i and timeline[i - 1][1] == "event":
        i -= 1
    return timeline[i - 1][0] if i else 0


def check_in_flight_only(delivered: Delivered, state: list[Record], killed: list[Worker]) -> None:
    """at_least_once: each duplicated event's first copy came from the commit its stream had in
    flight when a worker died, and every copy describes the same fact."""
    for event_id, copies in delivered.duplicates.items():
        assert same_fact_copies(copies), f"copies of {event_id} differ: {copies}"
        first = min(copies, key=lambda r: r.timestamp_ms)
        owner = [w for w in killed if ts_ms(w.started) <= first.timestamp_ms <= ts_ms(w.ended)]
        assert owner, f"{event_id} duplicated but its first copy is from a worker that finished"
        worker = owner[-1]

        def during(record: Record, w: Worker = worker) -> bool:
            return ts_ms(w.started) <= record.timestamp_ms <= ts_ms(w.ended)

        stream = stream_of(first.event["event_type"])
        prefix = f"acme/{stream}/".encode()
        checkpoints = [s.timestamp_ms for s in state if s.key.startswith(prefix) and during(s)]
        events = [
            r.timestamp_ms
            for r in delivered.records
            if during(r) and stream_of(r.headers["event_type"].decode()) == stream
        ]
        assert first.timestamp_ms >= in_flight_start(events, checkpoints), (
            f"{first.event['event_type']} {event_id} was re-emitted although {worker.name} "
            f"had checkpointed its {stream} page before it was killed"
        )


@pytest.mark.parametrize("delivery", ["at_least_once", "exactly_once"])
@pytest.mark.parametrize("seed", SEEDS)
async def test_sigkill_during_a_sync_with_churn_loses_nothing(
    seed: int, delivery: str, tmp_path: Path, kafka_bootstrap: str, reliability: Reliability
) -> None:
    rng = random.Random(f"crash:{seed}:{delivery}")
    faults = Faults(devices_page_size=PAGE, apps_page_size=PAGE)
    sim_config = SimulatorConfig(
        members=MEMBERS, seed=seed, start=now_floor(), audit_days=1, churn=4.0, faults=faults
    )
    async with running(sim_config) as sim:
        # odd seeds run the default first poll, a quiet baseline (snapshots, no joined/...)
        first_poll = "changes" if seed % 2 == 0 else "snapshot"
        config = worker_config(
            sim.url,
            kafka_bootstrap,
            kafka={"delivery": delivery},
            events={"first_poll": first_poll},
        )
        cfg_path = write_config(tmp_path / "streamer.toml", config)
        run = Run()

        expected: Counter[Fact] = first_cycle_facts(sim.world, changes=first_poll == "changes")
        await cycle(sim, cfg_path, config, kafka_bootstrap, rng, run, "c1",
                    events=sum(expected.values()))  # fmt: skip
        before = Before.of(sim.world)
        changes = sim.advance(CHURN_HOURS * 3600)
        churn = change_facts(sim.world, before, changes)
        expected += churn
        await cycle(sim, cfg_path, config, kafka_bootstrap, rng, run, "c2",
                    events=sum(churn.values()))  # fmt: skip

    records = await read_all(kafka_bootstrap, event_topics(config))
    delivered = Delivered.of(records)
    assert delivered.facts == expected, fact_diff(expected, delivered.facts)
    assert run.kills, f"no worker was killed: {run.survived}"
    if delivery == "exactly_once":
        assert delivered.duplicated == 0, list(delivered.duplicates.items())[:3]
    else:
        state = await read_all(kafka_bootstrap, [topics_of(config)["state"]])
        check_in_flight_only(delivered, state, run.killed)
    reliability.record(
        f"SIGKILL at seeded moments of a full sync, churn, a second sync ({delivery})",
        expected=sum(expected.values()),
        delivered=len(delivered.by_id),
        duplicated=delivered.duplicated,
        kills=len(run.kills),
        note="kills after N API answers / event records / state records: "
        + ", ".join(map(str, run.kills)),
        command=f".venv/bin/pytest tests/faults/test_crash.py -k {delivery}",
    )
