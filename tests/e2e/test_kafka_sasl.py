"""``streamer run`` against the broker's SASL listener, with each mechanism the broker offers
(PLAIN, SCRAM-SHA-256, SCRAM-SHA-512); what it wrote is read back over the PLAINTEXT
listener of the same broker."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from streamer.config import STREAM_NAMES
from streamer.simulator import SimulatorConfig, SimulatorServer
from tests.e2e.streamer_process import run_streamer, streamer_config
from tests.integration.connector_support import read_topics
from tests.kafka_broker import KafkaSasl

pytestmark = pytest.mark.kafka

MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
MEMBERS = 40


@pytest.fixture
async def sim() -> AsyncIterator[Any]:
    server = SimulatorServer(SimulatorConfig(members=MEMBERS, seed=4))
    async with server.running(host="127.0.0.1", port=0) as running:
        yield running


def sasl_config(path: Path, sim_url: str, sasl: KafkaSasl, mechanism: str) -> dict[str, str]:
    """Write the config; return the topics by stream."""
    return streamer_config(
        path,
        sim_url,
        {
            "bootstrap_servers": sasl.bootstrap_servers,
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": mechanism,
            "sasl_username": sasl.username,
            "outage_limit": 10,
        },
    )


@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_run_publishes_through_the_sasl_listener(
    mechanism: str, sim: Any, tmp_path: Path, kafka_sasl: KafkaSasl, kafka_bootstrap: str
) -> None:
    if mechanism not in kafka_sasl.mechanisms:
        pytest.skip(f"the broker's SASL listener does not offer {mechanism}")
    path = tmp_path / "streamer.toml"
    topics = sasl_config(path, sim.url, kafka_sasl, mechanism)
    env = {"STREAMER_KAFKA__SASL_PASSWORD": kafka_sasl.password}

    run = await run_streamer("run", "--once", "--config", str(path), env=env)
    assert run.proc.returncode == 0, run.output

    read, _ = await read_topics(kafka_bootstrap, [topics[s] for s in STREAM_NAMES])
    assert read.types()["team.snapshot"] == 1
    assert read.types()["member.snapshot"] == len(sim.world.truth()["members"]) == MEMBERS
    state, _ = await read_topics(kafka_bootstrap, [topics["state"]])
    assert state.messages, "checkpoints go through the same authenticated producer"


async def test_a_wrong_sasl_password_fails_fast_with_exit_code_5(
    sim: Any, tmp_path: Path, kafka_sasl: KafkaSasl
) -> None:
    path = tmp_path / "streamer.toml"
    sasl_config(path, sim.url, kafka_sasl, kafka_sasl.mechanisms[-1])
    env = {"STREAMER_KAFKA__SASL_PASSWORD": "not-the-password"}

    started = time.monotonic()
    run = await run_streamer("run", "--once", "--config", str(path), env=env)
    assert run.proc.returncode == 5, run.output
    assert time.monotonic() - started < 30
    last = run.stderr[-1]
    assert last.startswith("error: ")
    assert kafka_sasl.bootstrap_servers in last
    # the cause, not "cannot reach Kafka" (issue 13)
    assert "Kafka authentication failed" in last
    assert f"as user {kafka_sasl.username!r} was refused" in last
    assert "cannot reach" not in last
    assert "not-the-password" not in run.output
    assert sim.counters.snapshot() == {}, "nothing is fetched while Kafka refuses us"
