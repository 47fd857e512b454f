"""``streamer simulate`` as a real process: banner with credentials, serves HTTP(S), automatic
time, clean exit 0 on SIGTERM / SIGINT, usage errors (exit 2) without tracebacks.

Synchronisation is by reading the process's stdout lines, never by sleeping."""

from __future__ import annotations

import asyncio
import base64
import re
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
import trustme

CLI = [sys.executable, "-m", "streamer.cli", "simulate"]


@asynccontextmanager
async def simulate(*args: str) -> AsyncIterator[tuple[asyncio.subprocess.Process, str, list[str]]]:
    """Start the command, read the banner up to "Ctrl-C to stop.", yield (proc, url, banner)."""
    proc = await asyncio.create_subprocess_exec(
        *CLI, "--port", "0", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        banner: list[str] = []
        while not banner or banner[-1] != "Ctrl-C to stop.":
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            if not line:
                err = (await proc.stderr.read()).decode() if proc.stderr else ""
                raise AssertionError(f"simulate exited early: {err}")
            banner.append(line.decode().rstrip("\n"))
        match = re.search(r"listening on (https?://\S+)", banner[0])
        assert match, banner
        yield proc, match.group(1), banner
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def stop(proc: asyncio.subprocess.Process, sig: int) -> tuple[int, str, str]:
    proc.send_signal(sig)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def refresh_and_list(session: aiohttp.ClientSession, url: str) -> dict[str, object]:
    form = {"grant_type": "refresh_token", "refresh_token": "sim-refresh-token"}
    basic = base64.b64encode(b"sim-app-key:sim-app-secret").decode()
    auth = {"Authorization": f"Basic {basic}"}
    async with session.post(url + "/oauth2/token", data=form, headers=auth) as resp:
        assert resp.status == 200
        token = (await resp.json())["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with session.post(
        url + "/2/team/members/list_v2", data=b'{"limit": 3}', headers=headers
    ) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "application/json"
        body: dict[str, object] = await resp.json()
        return body


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_serves_until_signalled_then_exits_zero(sig: int) -> None:
    async with simulate("--members", "12", "--seed", "3") as (proc, url, banner):
        text = "\n".join(banner)
        for needle in ["sim-app-key", "sim-app-secret", "sim-refresh-token", "curl", "events.read"]:
            assert needle in text
        async with aiohttp.ClientSession() as session:
            body = await refresh_and_list(session, url)
        assert len(body["members"]) == 3  # type: ignore[arg-type]
        code, out, err = await stop(proc, sig)
    assert code == 0, err
    assert "simulator stopped" in out
    assert "Traceback" not in err


async def test_flags_reach_the_server() -> None:
    args = ["--members", "5", "--app-key", "k", "--app-secret", "s", "--refresh-token", "r",
            "--scopes", "team_info.read", "--token-lifetime", "77", "--error-rate", "0.25",
            "--rate-limit", "50", "--burst", "7", "--devices-page-size", "9"]  # fmt: skip
    async with simulate(*args) as (proc, url, banner):
        assert any("refresh token: r" in line for line in banner)
        async with aiohttp.ClientSession() as session:
            async with session.get(url + "/admin/faults") as resp:
                faults = await resp.json()
            form = {"grant_type": "refresh_token", "refresh_token": "r", "client_id": "k",
                    "client_secret": "s"}  # fmt: skip
            async with session.post(url + "/oauth2/token", data=form) as resp:
                status = resp.status
                token = await resp.json() if status == 200 else None
        assert faults["error_rate"] == 0.25
        assert (faults["rate_limit_rps"], faults["burst"]) == (50.0, 7)
        assert (faults["token_lifetime_s"], faults["devices_page_size"]) == (77, 9)
        if token is not None:  # the token call itself may meet an injected 503
            assert token["expires_in"] == 77
        code, _, _ = await stop(proc, signal.SIGTERM)
    assert code == 0


async def test_advance_every_moves_time() -> None:
    async with simulate("--members", "30", "--advance-every", "3600", "--tick", "0.05") as (
        proc,
        url,
        _,
    ):
        assert proc.stdout is not None
        stamps: list[str] = []
        while len(stamps) < 2:
            line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
            assert line, "simulate ended"
            match = re.match(r"\[(\S+)\] ", line)
            if match:  # other lines: e.g. "caches warm after ..."
                stamps.append(match.group(1))
        assert stamps[0] < stamps[1]
        async with aiohttp.ClientSession() as session, session.get(url + "/admin/info") as resp:
            now = (await resp.json())["now"]
        assert now >= stamps[1]
        code, _, _ = await stop(proc, signal.SIGTERM)
    assert code == 0


async def test_tls(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    async with simulate("--tls-cert", str(cert_path), "--tls-key", str(key_path)) as (
        proc,
        url,
        banner,
    ):
        assert url.startswith("https://127.0.0.1:")
        assert any("DROPBOX_API_HOST=" in line for line in banner)
        connector = aiohttp.TCPConnector(ssl=client_ctx)
        async with aiohttp.ClientSession(connector=connector) as session:
            await refresh_and_list(session, url)
        code, _, _ = await stop(proc, signal.SIGTERM)
    assert code == 0


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--error-rate", "2"], "--error-rate"),
        (["--members", "0"], "--members"),
        (["--port", "70000"], "--port"),
        (["--latency-ms", "-5"], "--latency-ms"),
        (["--error-status", "404"], "--error-status"),
        (["--start", "yesterday"], "--start"),
        (["--tls-cert", "/no/such/file"], "--tls-cert"),
        (["--scopes", " "], "--scopes"),
        (["--no-such-flag"], "no-such-flag"),
    ],
)
def test_bad_flags_are_usage_errors(args: list[str], fragment: str) -> None:
    result = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr


def test_tls_cert_needs_key(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("not a cert")
    result = subprocess.run(
        [*CLI, "--tls-cert", str(cert)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "--tls-key" in result.stderr
    key = tmp_path / "key.pem"
    key.write_text("not a key")
    result = subprocess.run(
        [*CLI, "--tls-cert", str(cert), "--tls-key", str(key)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_port_in_use_is_a_clean_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [*CLI, "--port", str(port)], capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
