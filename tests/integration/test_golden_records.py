"""The records the worker hands to Kafka, byte for byte, on a seeded simulated team.

Event ids are a contract with consumers (they deduplicate on them) and the record bytes are
what every downstream parser reads, so a change of either must be deliberate. This test runs
a seeded simulator over HTTP through the worker for several polls with churn in between (and
a replay and a backfill), in both formats, and compares every record (topic, key, headers,
value; events and state alike) with ``golden/records-<format>-<first poll>.txt``.

The golden files were generated from commit 9ccee9a (before the core was reshaped, issue 12)
and pinned the reshaping: it changed no byte. Regenerate them only for an intended change of
the output, and say so in the commit (``GOLDEN_REGENERATE=1 pytest -k golden``); a changed
event id re-keys every consumer's deduplication.

The streams run one after another (each a ``once`` run of its own), not concurrently as in
the service, so what a stream reads of another's state does not depend on scheduling. The
publisher is the worker's commit seam recording what it is given: Kafka's delivery of the
same records is the subject of the connector tests.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from streamer.clock import ManualClock
from streamer.config import STREAM_NAMES, Settings
from streamer.dropbox.transport import AiohttpTransport
from streamer.kafka.publisher import OutRecord
from streamer.metrics import Metrics
from streamer.simulator import SimulatorConfig, SimulatorServer
from streamer.state import StateStore, StateStores
from streamer.worker import TeamWorker

GOLDEN = Path(__file__).parent / "golden"
ORDER = ("team", "members", "sessions", "apps", "audit")  # readers after what they read
ROUNDS = 5
STEP = 8 * 3600  # between polls: the daily snapshot slot turns over once


class RecordingPublisher:
    """The worker's commit seam, keeping what each commit would write."""

    connected = True

    def __init__(self) -> None:
        self.commits: list[tuple[list[OutRecord], list[OutRecord]]] = []

    async def commit(self, events: Sequence[OutRecord], state: Sequence[OutRecord]) -> None:
        self.commits.append((list(events), list(state)))


def _line(kind: str, record: OutRecord) -> str:
    """What the record is (readable) and a digest of all of it: topic, key, headers, value."""
    digest = hashlib.sha256(b"\0".join((record.topic.encode(), record.key)))
    digest.update(b"\0" + (record.value if record.value is not None else b"<tombstone>"))
    for name, value in record.headers:
        digest.update(b"\0" + name.encode() + b"=" + value)
    event_type = dict(record.headers).get("event_type", b"").decode()
    return f"{kind} {event_type or record.topic.removeprefix('golden.')} {digest.hexdigest()[:16]}"


def _settings(url: str, fmt: str, first_poll: str, stream: str | None) -> Settings:
    return Settings.model_validate(
        {
            "teams": {
                "acme": {
                    "app_key": "sim-app-key",
                    "app_secret": "sim-app-secret",
                    "refresh_token": "sim-refresh-token",
                    "api_url": url,
                    "token_url": f"{url}/oauth2/token",
                }
            },
            "kafka": {
                "bootstrap_servers": "127.0.0.1:9",  # never contacted: the publisher records
                "topics": {s: f"golden.{s}" for s in (*STREAM_NAMES, "state")},
                "formats": dict.fromkeys(STREAM_NAMES, fmt),
            },
            "streams": {
                s: {"enabled": stream is None or s == stream, "poll_interval": 60}
                for s in STREAM_NAMES
            },
            "http": {"max_concurrency": 4},
            "events": {"first_poll": first_poll},
            "metrics": {"enabled": False},
        }
    )


async def _records(fmt: str, first_poll: str) -> list[str]:
    clock = ManualClock()
    server = SimulatorServer(SimulatorConfig(members=30, seed=12, churn=10.0), clock=clock)
    lines: list[str] = []
    states: Any = None
    transport = AiohttpTransport()

    async def run(stream: str | None, label: str, **kwargs: Any) -> None:
        publisher = RecordingPublisher()
        worker = TeamWorker(
            "acme",
            settings.teams["acme"],
            settings=_settings(sim.url, fmt, first_poll, stream),
            transport=transport,
            publisher=publisher,  # type: ignore[arg-type]
            states=states,
            clock=clock,
            metrics=Metrics(),
        )
        await worker.connect()
        stop = asyncio.Event()
        if "backfill" in kwargs:
            since, until = kwargs["backfill"]
            await worker.backfill(stop, since, until)
        else:
            await worker.run(stop, once=True, replay=kwargs.get("replay", False))
        got: list[str] = []
        for events, state in publisher.commits:
            # per topic in the order written (the order Kafka keeps); the interleaving of
            # topics within one commit is no contract
            got += [_line("event", r) for r in sorted(events, key=lambda r: r.topic)]
            got += [_line("state", r) for r in state]
        if "backfill" in kwargs:
            got.sort()  # its windows run concurrently: the set is fixed, the order is not
        lines.append(f"# {label}")
        lines.extend(got)

    try:
        async with server.running() as sim:
            settings = _settings(sim.url, fmt, first_poll, None)
            states = StateStores(StateStore)
            for n in range(ROUNDS):
                for stream in ORDER:
                    await run(stream, f"poll {n} {stream}")
                clock.advance(STEP)
                server.advance(STEP)
            await run(None, "replay", replay=True)
            now = clock.now()
            await run(None, "backfill", backfill=(now - timedelta(days=1), now))
    finally:
        await transport.close()
    return lines


@pytest.mark.parametrize(
    ("fmt", "first_poll"), [("native", "snapshot"), ("native", "changes"), ("ocsf", "changes")]
)
async def test_records_on_the_seeded_team_are_the_golden_ones(fmt: str, first_poll: str) -> None:
    lines = await _records(fmt, first_poll)
    golden = GOLDEN / f"records-{fmt}-{first_poll}.txt"
    if os.environ.get("GOLDEN_REGENERATE") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_text("\n".join(lines) + "\n")
    expected = golden.read_text().splitlines()
    assert len(lines) == len(expected)
    mismatched = [(want, got) for want, got in zip(expected, lines, strict=True) if want != got]
    assert not mismatched, f"{len(mismatched)} records differ, first: {mismatched[0]}"
