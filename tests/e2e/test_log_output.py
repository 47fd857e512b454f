"""What ``streamer run`` writes to stderr off a terminal: JSON lines only, team and stream on
each line logged for them, one line per stream cycle at INFO, requests and commits at DEBUG."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from streamer.config import STREAM_NAMES
from streamer.simulator import Faults, SimulatorConfig, SimulatorServer
from tests.e2e.streamer_process import run_streamer, write_toml

pytestmark = pytest.mark.kafka

LIFECYCLE = {"topics_created", "state_restored", "metrics_serving", "team_connected", "stopped"}


@pytest.fixture
async def sim() -> AsyncIterator[Any]:
    # one 429, on the first members page
    faults = Faults(
        devices_page_size=10, apps_page_size=10, throttle_next=1, routes=["team/members/list_v2"]
    )
    server = SimulatorServer(SimulatorConfig(members=40, seed=8, faults=faults))
    async with server.running(host="127.0.0.1", port=0) as running:
        yield running


def config(tmp_path: Path, sim_url: str, bootstrap: str) -> Path:
    prefix = f"logs{uuid.uuid4().hex[:8]}"
    return write_toml(
        tmp_path / "streamer.toml",
        {
            "teams.acme": {
                "app_key": "sim-app-key",
                "app_secret": "sim-app-secret",
                "refresh_token": "sim-refresh-token",
                "api_url": sim_url,
                "token_url": f"{sim_url}/oauth2/token",
            },
            "kafka": {"bootstrap_servers": bootstrap, "partitions": 1},
            "kafka.topics": {name: f"{prefix}.{name}" for name in (*STREAM_NAMES, "state")},
            "metrics": {"enabled": True, "port": 0},
        },
    )


def records(stderr: list[str]) -> list[dict[str, Any]]:
    parsed = [orjson.loads(line) for line in stderr]  # every line is JSON
    assert all(isinstance(r, dict) and {"event", "level", "timestamp"} <= set(r) for r in parsed)
    return parsed


async def test_info_is_one_line_per_stream_cycle_plus_start_and_stop(
    sim: Any, tmp_path: Path, kafka_bootstrap: str
) -> None:
    path = config(tmp_path, sim.url, kafka_bootstrap)
    run = await run_streamer("run", "--once", "--config", str(path), env={})
    assert run.proc.returncode == 0, run.output
    lines = records(run.stderr)

    by_level = Counter(r["level"] for r in lines)
    info = [r for r in lines if r["level"] == "info"]
    cycles = [r for r in info if r["event"] == "cycle_done"]
    assert sorted(r["stream"] for r in cycles) == sorted(STREAM_NAMES)
    assert all(r["team"] == "acme" for r in cycles)
    assert {r["event"] for r in info} - {"cycle_done"} <= LIFECYCLE
    assert len(info) == len(cycles) + len({r["event"] for r in info} - {"cycle_done"})
    assert by_level["debug"] == 0
    # the one throttled request: one warning for the pause, its retry is not repeated at INFO+
    assert [r["event"] for r in lines if r["level"] == "warning"] == ["rate_limited"]


async def test_debug_adds_requests_and_commits_each_with_team_and_stream(
    sim: Any, tmp_path: Path, kafka_bootstrap: str
) -> None:
    path = config(tmp_path, sim.url, kafka_bootstrap)
    run = await run_streamer("run", "--once", "--config", str(path), "--log-level", "DEBUG", env={})
    assert run.proc.returncode == 0, run.output
    lines = records(run.stderr)

    requests = [r for r in lines if r["event"] == "api_request"]
    served = sum(n for statuses in sim.counters.snapshot().values() for n in statuses.values())
    token_calls = sum(sim.counters.snapshot().get("oauth2/token", {}).values())
    assert len(requests) == served - token_calls  # one line per API request
    for line in lines:
        if line.get("logger") or line["event"] in LIFECYCLE - {"team_connected"}:
            continue  # library lines and process-wide start/stop
        assert line.get("team") == "acme", line
        connecting = line["event"] in ("team_connected", "token_refreshed") or (
            line["event"] == "api_request" and line["route"] == "team/get_info"
        )
        assert "stream" in line or connecting, line
    committed = Counter(r["stream"] for r in lines if r["event"] == "committed")
    assert set(committed) == set(STREAM_NAMES)
    pages = {r["stream"]: r["pages"] for r in lines if r["event"] == "cycle_done"}
    for stream in STREAM_NAMES:
        in_commits = sum(
            r["pages"] for r in lines if r["event"] == "committed" and r["stream"] == stream
        )
        assert in_commits == pages[stream]
