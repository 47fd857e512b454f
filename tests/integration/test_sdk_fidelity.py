"""The official Dropbox SDK talks to the simulator over TLS and sees exactly the World's data.

The SDK binds its API host at import time, so it runs in a subprocess with
``DROPBOX_API_HOST=127.0.0.1:<port>`` and ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` pointing at a
throwaway trustme CA (this machine sets both globally to the system bundle). The simulator runs in
the test's event loop. Synchronisation is by lines on the child's stdout/stdin, never by sleeping.

Along the way the SDK meets a 429 (it must parse our RateLimitError body strictly, then retry
after ``retry_after``), a 503 (retried), and an access token the server expired under it (401
``expired_access_token`` → one refresh → retry).
"""

from __future__ import annotations

import asyncio
import os
import ssl
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import trustme

from streamer.simulator import SimulatorServer
from tests.integration.test_simulator_support import make_config

SDK_SCRIPT = r"""
import json, sys
import dropbox
from dropbox import team, team_log
from dropbox.stone_serializers import json_compat_obj_encode as enc

dbx = dropbox.DropboxTeam(
    oauth2_refresh_token="sim-refresh-token", app_key="sim-app-key", app_secret="sim-app-secret",
    max_retries_on_error=3, max_retries_on_rate_limit=3,
)
out = {}
out["team_info"] = enc(team.TeamGetInfoResult_validator, dbx.team_get_info())
print("STEP1", flush=True)
sys.stdin.readline()  # the test expires every access token now

members = []
page = dbx.team_members_list_v2(limit=7)
members += [enc(team.TeamMemberInfoV2_validator, m) for m in page.members]
while page.has_more:
    page = dbx.team_members_list_continue_v2(page.cursor)
    members += [enc(team.TeamMemberInfoV2_validator, m) for m in page.members]
out["members"] = members

devices = []
page = dbx.team_devices_list_members_devices()
devices += [enc(team.MemberDevices_validator, d) for d in page.devices]
while page.has_more:
    page = dbx.team_devices_list_members_devices(cursor=page.cursor)
    devices += [enc(team.MemberDevices_validator, d) for d in page.devices]
out["devices"] = devices

events = []
page = dbx.team_log_get_events(limit=200)
events += [enc(team_log.TeamEvent_validator, e) for e in page.events]
while page.has_more:
    page = dbx.team_log_get_events_continue(page.cursor)
    events += [enc(team_log.TeamEvent_validator, e) for e in page.events]
out["events"] = events

admin = dbx.team_token_get_authenticated_admin()
out["admin"] = enc(team.TokenGetAuthenticatedAdminResult_validator, admin)
with open(sys.argv[1], "w") as f:
    json.dump(out, f)
print("RESULT", flush=True)
"""


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")  # IP SAN
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    ca_path = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    return context, ca_path


def _child_env(api_host: str, ca_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DROPBOX_API_HOST": api_host,
            "REQUESTS_CA_BUNDLE": str(ca_path),
            "CURL_CA_BUNDLE": str(ca_path),
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    return env


async def _expect_line(proc: asyncio.subprocess.Process, prefix: str) -> str:
    assert proc.stdout is not None
    while True:
        line = (await proc.stdout.readline()).decode()
        if not line:
            stderr = (await proc.stderr.read()).decode() if proc.stderr else ""
            raise AssertionError(f"SDK child ended before {prefix!r}:\n{stderr[-4000:]}")
        if line.startswith(prefix):
            return line[len(prefix) :].strip()


async def test_official_sdk_reads_everything(
    tls: tuple[ssl.SSLContext, Path], tmp_path: Path
) -> None:
    context, ca_path = tls
    server = SimulatorServer(make_config())
    async with server.running(host="127.0.0.1", port=0, ssl_context=context) as sim:
        assert sim.url.startswith("https://127.0.0.1:")
        sim.faults.routes = ["team/members/list/continue_v2"]
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", SDK_SCRIPT, str(tmp_path / "result.json"),
            env=_child_env(sim.api_host, ca_path),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await asyncio.wait_for(_expect_line(proc, "STEP1"), 60)
            assert sim.expire_tokens() == 1
            # the first members continue call meets a 503, its retry a 429
            sim.faults.update({"error_next": 1, "throttle_next": 1, "throttle_retry_after": 1})
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            await proc.stdin.drain()
            await asyncio.wait_for(_expect_line(proc, "RESULT"), 90)
            await asyncio.wait_for(proc.wait(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode == 0
        got: dict[str, Any] = orjson.loads((tmp_path / "result.json").read_bytes())
        world = sim.world

        assert got["team_info"] == world.team_info()
        active = [m for m in world.member_order() if not world.is_removed(m)]
        assert got["members"] == [world.member_info(m) for m in active]
        expected_devices = [d for m in world.member_order() if (d := world.member_devices(m))]
        assert got["devices"] == expected_devices
        log = world.audit_log()
        assert got["events"] == [log[i] for i in world.audit_events(None, None, None)]
        admin_profile = world.member_info(world.admin_member_id())["profile"]
        assert got["admin"] == {"admin_profile": admin_profile}

        counters = sim.counters.snapshot()
        assert counters["oauth2/token"] == {"200": 2}  # first call + refresh after the expiry
        assert counters["team/members/list_v2"] == {"401": 1, "200": 1}
        continues = counters["team/members/list/continue_v2"]
        assert (continues["503"], continues["429"]) == (1, 1)
