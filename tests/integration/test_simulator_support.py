"""Shared helpers for the simulator integration tests (no tests here).

``sim`` runs a real ``SimulatorServer`` on 127.0.0.1:<free port> with a manual clock (token
expiry and rate limits without sleeping). ``api`` is a tiny HTTP client: it speaks to the server
over real sockets and hands back status, headers, raw body and parsed JSON. ``strict`` decodes a
body with the official SDK's validators in strict mode (unknown fields/tags are errors).
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
import pytest
from dropbox.stone_serializers import json_compat_obj_decode, json_compat_obj_encode
from multidict import CIMultiDictProxy

from streamer.clock import ManualClock
from streamer.simulator import Faults, SimulatorConfig, SimulatorServer

APP_KEY, APP_SECRET, REFRESH = "sim-app-key", "sim-app-secret", "sim-refresh-token"
MEMBERS = 120


def strict(validator: Any, obj: Any) -> Any:
    """Decode like the SDK, but strictly: unknown fields or tags fail the test."""
    return json_compat_obj_decode(validator, obj, strict=True)


def lenient(validator: Any, obj: Any) -> Any:
    """Decode exactly like the SDK does for results (unknown fields ignored, tags → other)."""
    return json_compat_obj_decode(validator, obj, strict=False)


def encode(validator: Any, value: Any) -> Any:
    """Build a request argument with the SDK's own arg validator."""
    return json_compat_obj_encode(validator, value)


@dataclass
class Reply:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")


class Api:
    def __init__(self, session: aiohttp.ClientSession, server: SimulatorServer) -> None:
        self.session = session
        self.server = server
        self.token = server.issue_token()

    async def post(
        self,
        path: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        data: Any = None,
        params: dict[str, str] | None = None,
    ) -> Reply:
        payload = body if body is not None else data
        url = self.server.url + path
        async with self.session.post(url, data=payload, headers=headers, params=params) as resp:
            return Reply(resp.status, resp.headers, await resp.read())

    async def get(self, path: str, **kwargs: Any) -> Reply:
        async with self.session.get(self.server.url + path, **kwargs) as resp:
            return Reply(resp.status, resp.headers, await resp.read())

    async def rpc(
        self,
        route: str,
        arg: Any = None,
        *,
        token: str | None = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        hdrs = {
            "Authorization": f"Bearer {token or self.token}",
            "Content-Type": "application/json",
        }
        hdrs.update(headers or {})
        return await self.post(
            f"/2/{route}", body=raw if raw is not None else orjson.dumps(arg), headers=hdrs
        )

    async def ok(self, route: str, arg: Any = None, validator: Any = None) -> Any:
        """200 + exact JSON content type (+ strict decoding when a validator is given)."""
        reply = await self.rpc(route, arg)
        assert reply.status == 200, reply.text
        assert reply.content_type == "application/json"
        body = reply.json
        if validator is not None:
            strict(validator, body)
        return body

    async def token_request(
        self, form: dict[str, str], *, basic: tuple[str, str] | None = None
    ) -> Reply:
        headers = {}
        if basic is not None:
            raw = base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {raw}"
        return await self.post("/oauth2/token", data=form, headers=headers)


def make_config(**faults: Any) -> SimulatorConfig:
    return SimulatorConfig(members=MEMBERS, seed=11, faults=Faults(**faults))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def sim(clock: ManualClock) -> AsyncIterator[SimulatorServer]:
    server = SimulatorServer(make_config(), clock=clock)
    async with server.running(host="127.0.0.1", port=0) as running:
        yield running


@pytest.fixture
async def api(sim: SimulatorServer) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session, sim)
