"""Hostile answers over real HTTP(S): redirects, oversized bodies, another team's CA.

The simulator plays the hostile server (its ``redirect_next``, ``huge_next`` knobs); a second
simulator plays the attacker's host a redirect points at, and must never hear from us.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trustme
from pydantic import SecretStr

from streamer.check import run_checks
from streamer.clock import ManualClock
from streamer.config import HttpSettings, KafkaSettings, Settings, TeamSettings
from streamer.dropbox import AiohttpTransport, TransportError
from streamer.dropbox.team import TeamApi
from streamer.errors import DropboxApiError, DropboxAuthError
from streamer.simulator import Faults, SimulatorConfig, SimulatorServer

APP_KEY, APP_SECRET, REFRESH = "sim-app-key", "sim-app-secret", "sim-refresh-token"


@asynccontextmanager
async def simulator(
    ssl_context: ssl.SSLContext | None = None, **faults: object
) -> AsyncIterator[SimulatorServer]:
    config = SimulatorConfig(members=5, seed=1, faults=Faults(**faults))  # type: ignore[arg-type]
    server = SimulatorServer(config, clock=ManualClock())
    async with server.running(host="127.0.0.1", port=0, ssl_context=ssl_context) as sim:
        yield sim


def team_for(url: str, ca_file: Path | None = None) -> TeamSettings:
    return TeamSettings(
        app_key=APP_KEY,
        app_secret=SecretStr(APP_SECRET),
        refresh_token=SecretStr(REFRESH),
        api_url=url,
        token_url=f"{url}/oauth2/token",
        ca_file=ca_file,
    )


@asynccontextmanager
async def team_api(
    url: str, http: HttpSettings | None = None, ca_file: Path | None = None
) -> AsyncIterator[TeamApi]:
    transport = AiohttpTransport()
    try:
        yield TeamApi.build(
            "acme",
            team_for(url, ca_file),
            http or HttpSettings(),
            transport=transport,
            clock=ManualClock(),
        )
    finally:
        await transport.close()


async def test_a_redirect_from_the_token_endpoint_is_not_followed() -> None:
    async with simulator() as attacker, simulator() as sim:
        sim.faults.update({"redirect_next": 1, "redirect_to": attacker.url})
        async with team_api(sim.url) as api:
            with pytest.raises(DropboxAuthError, match=r"HTTP 307 \(a redirect: not followed"):
                await api.tokens.access_token()
        assert sim.counters.get("oauth2/token", 307) == 1
        assert attacker.counters.snapshot() == {}  # the refresh token never left for it


async def test_a_redirect_from_the_api_is_not_followed() -> None:
    async with simulator() as attacker, simulator() as sim:
        async with team_api(sim.url) as api:
            await api.tokens.access_token()
            sim.faults.update({"redirect_next": 1, "redirect_to": attacker.url})
            with pytest.raises(DropboxApiError, match=r"HTTP 307.*not followed"):
                await api.client.rpc("team/get_info", None)
        assert attacker.counters.snapshot() == {}  # nor the access token


@pytest.mark.parametrize("declared", [False, True], ids=["chunked", "content-length"])
async def test_a_body_over_the_limit_is_refused_not_read(declared: bool) -> None:
    http = HttpSettings(max_response_bytes=1 << 20)
    async with simulator(huge_bytes=8 << 20, huge_declared=declared) as sim:
        async with team_api(sim.url, http) as api:
            await api.tokens.access_token()
            sim.faults.update({"huge_next": 1})
            with pytest.raises(TransportError, match="larger than 1 MiB") as caught:
                await api.client.rpc("team/members/list_v2", {"limit": 1})
            assert not caught.value.retriable
            # the connection it dropped does not spoil the next request
            assert (await api.client.rpc("team/get_info", None))["team_id"] == sim.world.team_id
        assert sim.counters.get("team/members/list_v2", "huge") == 1


def ca_pair(tmp_path: Path, name: str) -> tuple[ssl.SSLContext, Path]:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    path = tmp_path / f"{name}.pem"
    ca.cert_pem.write_to_path(str(path))
    return context, path


async def test_one_teams_ca_file_is_not_trusted_for_another_team(tmp_path: Path) -> None:
    server_a, ca_a = ca_pair(tmp_path, "a")
    _, ca_b = ca_pair(tmp_path, "b")
    async with simulator(server_a) as sim:
        # both teams point at the server that A's CA vouches for; only team a trusts that CA
        settings = Settings(
            teams={"a": team_for(sim.url, ca_a), "b": team_for(sim.url, ca_b)},
            kafka=KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}", request_timeout=2),
        )
        rows = {row.subject: row for row in await run_checks(settings)}
    assert rows["a: credentials"].status == "ok", rows["a: credentials"]
    assert rows["b: credentials"].status == "fail"
    assert "TLS failure" in rows["b: credentials"].detail


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
