"""The CLI as an operator runs it: a subprocess, its exit code and what it prints."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from streamer.simulator import SimulatorConfig, SimulatorServer
from tests.integration.connector_support import make_settings, read_topics

STREAMER = [sys.executable, "-m", "streamer.cli"]
ALL_SCOPES = ("account_info.read", "team_info.read", "members.read", "sessions.list", "events.read")


def write_config(path: Path, sim_url: str, bootstrap: str, **extra: str) -> Path:
    settings = make_settings(sim_url, bootstrap)
    topics = settings.kafka.topics
    lines = [
        "[teams.acme]",
        'app_key = "sim-app-key"',
        'app_secret = "sim-app-secret"',
        'refresh_token = "sim-refresh-token"',
        f'api_url = "{sim_url}"',
        f'token_url = "{sim_url}/oauth2/token"',
        "[kafka]",
        f'bootstrap_servers = "{bootstrap}"',
        "partitions = 1",
        extra.get("kafka", ""),
        "[kafka.topics]",
        *(f'{name} = "{getattr(topics, name)}"' for name in type(topics).model_fields),
        "[metrics]",
        "enabled = false",
        "[streams.members]",
        "poll_interval = 3600",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


async def run_cli(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *STREAMER, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def simulator(scopes: tuple[str, ...] = ALL_SCOPES) -> Any:
    return SimulatorServer(SimulatorConfig(members=30, seed=5, scopes=scopes))


@pytest.fixture
async def sim() -> AsyncIterator[Any]:
    async with (await simulator()).running(host="127.0.0.1", port=0, ssl_context=None) as s:
        yield s


@pytest.mark.kafka
async def test_check_prints_a_table_and_flags_the_missing_audit_scope(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    server = await simulator(scopes=ALL_SCOPES[:4])
    async with server.running(host="127.0.0.1", port=0, ssl_context=None) as sim:
        config = write_config(tmp_path / "s.toml", sim.url, kafka_bootstrap)
        code, out, err = await run_cli("check", "--config", str(config))
    assert code == 0, err
    # "WARN  acme: scope events.read  not granted: ..." -> {"events.read": line}
    lines = {line.split()[3]: line for line in out.splitlines() if ": scope " in line}
    assert lines["events.read"].startswith("WARN")
    assert "audit-log stream stays off" in lines["events.read"]
    for scope in ALL_SCOPES[1:4]:
        assert lines[scope].startswith("ok"), out
    assert any(line.startswith("ok") and "kafka" in line for line in out.splitlines())


@pytest.mark.kafka
async def test_check_fails_with_exit_4_when_a_required_scope_is_missing(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    scopes = ("account_info.read", "team_info.read", "members.read", "events.read")
    server = await simulator(scopes=scopes)
    async with server.running(host="127.0.0.1", port=0, ssl_context=None) as sim:
        config = write_config(tmp_path / "s.toml", sim.url, kafka_bootstrap)
        code, out, _ = await run_cli("check", "--config", str(config))
    assert code == 4
    failed = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert len(failed) == 1
    assert "sessions.list" in failed[0]
    assert "App Console" in failed[0]


async def test_invalid_configuration_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[teams.acme]\napp_key = "k"\n[kafka]\npartitions = "many"\n')
    code, out, err = await run_cli("run", "--config", str(config), "--once")
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("error: invalid configuration")
    assert "kafka.partitions" in err
    assert "teams.acme.app_secret" in err
    assert "Traceback" not in err


@pytest.mark.kafka
async def test_missing_topics_without_create_permission_exit_5(
    tmp_path: Path, sim: Any, kafka_bootstrap: str
) -> None:
    config = write_config(
        tmp_path / "s.toml", sim.url, kafka_bootstrap, kafka="create_topics = false"
    )
    code, _, err = await run_cli("run", "--config", str(config), "--once")
    assert code == 5
    assert "topics missing" in err
    assert "Traceback" not in err


@pytest.mark.kafka
async def test_sigterm_flushes_commits_and_exits_0(
    tmp_path: Path, sim: Any, kafka_bootstrap: str
) -> None:
    config = write_config(tmp_path / "s.toml", sim.url, kafka_bootstrap)
    proc = await asyncio.create_subprocess_exec(
        *STREAMER, "run", "--config", str(config), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert proc.stderr is not None
    finished: set[str] = set()
    lines: list[str] = []

    async def until_every_stream_cycled() -> None:
        assert proc.stderr is not None
        while len(finished) < 5:
            line = (await proc.stderr.readline()).decode()
            assert line, "the worker exited early:\n" + "".join(lines)
            lines.append(line)
            if '"cycle_done"' in line:
                finished.add(line.split('"stream": "')[1].split('"')[0])

    await asyncio.wait_for(until_every_stream_cycled(), 60)
    proc.send_signal(signal.SIGTERM)
    _, rest = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, rest.decode()
    assert '"stopped"' in rest.decode()

    topics = dict(
        line.replace('"', "").split(" = ")
        for line in config.read_text().splitlines()
        if line.startswith(("members =", "state ="))
    )
    read, _ = await read_topics(kafka_bootstrap, [topics["members"]])
    assert read.types()["member.snapshot"] == len(sim.world.truth()["members"])
    state, _ = await read_topics(kafka_bootstrap, [topics["state"]])
    assert state.messages, "state was committed before exit"
