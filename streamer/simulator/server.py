"""The Dropbox API simulator: an aiohttp server speaking the real wire format.

In-process use (tests, benchmarks)::

    server = SimulatorServer(SimulatorConfig(members=200, seed=7))
    async with server.running(host="127.0.0.1", port=0, ssl_context=None) as sim:
        sim.url            # "http://127.0.0.1:54321"  (https:// with an ssl_context)
        sim.api_host       # "127.0.0.1:54321"  (value for DROPBOX_API_HOST)
        sim.world          # the World (deterministic team data)
        sim.faults         # live knobs: sim.faults.error_next = 2 affects the next requests
        sim.counters       # Counters: sim.counters.snapshot() -> {"team/get_info": {"200": 3}}
        sim.advance(3600)  # move simulated time; returns the list of Change
        sim.issue_token()  # mint an access token without the OAuth round trip (opt. scopes)
        sim.expire_tokens(); sim.revoke_refresh_token(); sim.cursors.invalidate_all()
        await sim.warm_up()  # encode every record now (benchmarks: measure warm listings)

``SimulatorServer(config, world=..., clock=...)`` accepts a prebuilt World and a ``Clock``
(``ManualClock`` in tests: token expiry, the token bucket and latency then follow the manual
clock). ``server.app`` is the aiohttp ``Application`` (usable with aiohttp's test client too).

Request pipeline for ``POST /2/<route>``: unknown route → 404 text; non-POST → 405 text;
fault decision (latency, dropped connection, 5xx, injected 429, slow answer); request
Content-Type; ``Authorization: Bearer`` (400 text if missing/malformed; 401 JSON
``invalid_access_token`` / ``expired_access_token``); scope (401 ``missing_scope``); the team's
token bucket (429 + ``Retry-After``); JSON body decoding (400 text); the route handler
(``http_routes.py``); finally truncated / malformed 200 bodies. Every response carries
``X-Dropbox-Request-Id`` (32 hex). Admin routes (``http_admin.py``) are never faulted or limited.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import re
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
from aiohttp import web

from streamer.clock import Clock, SystemClock
from streamer.simulator import http_admin as admin
from streamer.simulator import http_wire as wire
from streamer.simulator.cursors import CursorCodec
from streamer.simulator.faults import FaultInjector, Faults
from streamer.simulator.http_routes import Api, Route
from streamer.simulator.http_view import ChangeLike, WorldLike, WorldView
from streamer.simulator.oauth import Credentials, OAuthEndpoints, TokenStore

log = logging.getLogger(__name__)

DEFAULT_SCOPES = (
    "account_info.read",
    "team_info.read",
    "members.read",
    "sessions.list",
    "events.read",
)
_TOKEN_RE = re.compile(r"^[A-Za-z0-9._~+/=-]+$")
_ACCEPTED_CONTENT_TYPES = ("application/json", "text/plain; charset=dropbox-cors-hack")


@dataclass
class SimulatorConfig:
    """Static configuration (world shape, credentials, scopes) plus the initial fault knobs."""

    members: int = 50
    seed: int = 0
    start: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    devices_per_member: float = 3.0
    audit_days: int = 7
    churn: float = 1.0
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    credentials: Credentials = field(default_factory=Credentials)
    faults: Faults = field(default_factory=Faults)


class Counters:
    """Responses per route and status: ``{"team/members/list_v2": {"200": 12, "429": 3}}``.

    A connection dropped on purpose counts as status ``"drop"``.
    """

    def __init__(self) -> None:
        self._data: dict[str, dict[str, int]] = {}

    def add(self, route: str, status: str) -> None:
        per_route = self._data.get(route)
        if per_route is None:
            per_route = self._data[route] = {}
        per_route[status] = per_route.get(status, 0) + 1

    def get(self, route: str, status: int | str) -> int:
        return self._data.get(route, {}).get(str(status), 0)

    def snapshot(self) -> dict[str, dict[str, int]]:
        return {route: dict(statuses) for route, statuses in self._data.items()}

    def reset(self) -> None:
        self._data.clear()


def _build_world(config: SimulatorConfig) -> WorldLike:
    from streamer.simulator.world import World

    world: WorldLike = World(
        members=config.members,
        seed=config.seed,
        start=config.start,
        devices_per_member=config.devices_per_member,
        audit_days=config.audit_days,
        churn=config.churn,
    )
    return world


class SimulatorServer:
    def __init__(
        self,
        config: SimulatorConfig | None = None,
        *,
        world: WorldLike | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config or SimulatorConfig()
        seed = self.config.seed
        self.clock: Clock = clock or SystemClock()
        self.world: WorldLike = world if world is not None else _build_world(self.config)
        self.faults = self.config.faults
        self.counters = Counters()
        self.injector = FaultInjector(self.faults, random.Random(f"{seed}:faults"), self.clock)
        self.view = WorldView(self.world, self.injector)
        secret = hashlib.sha256(f"dropbox-simulator:{seed}".encode()).digest()
        self.cursors = CursorCodec(secret)
        self.tokens = TokenStore(self.clock, random.Random(f"{seed}:tokens"))
        self.oauth = OAuthEndpoints(
            self.tokens,
            self.config.credentials,
            frozenset(self.config.scopes),
            self.faults,
            self._identity,
        )
        self.routes: dict[str, Route] = Api(self.view, self.cursors, self.injector).routes()
        self._request_ids = random.Random(f"{seed}:request-ids")
        self.url = ""
        self.api_host = ""
        self.app = self._make_app()

    # --- in-process API -----------------------------------------------------------------------
    def advance(self, seconds: float) -> list[ChangeLike]:
        return list(self.world.advance(seconds))

    async def warm_up(self) -> None:
        """Encode every member, device list, app list and audit event now (yielding to the
        event loop between chunks), so the first listings are as fast as later ones."""
        for _ in self.view.warm_chunks():
            await asyncio.sleep(0)

    def issue_token(self, scopes: frozenset[str] | None = None) -> str:
        return self.oauth.issue(scopes)

    def expire_tokens(self) -> int:
        return self.tokens.expire_all()

    def revoke_refresh_token(self, *, access_tokens: bool = False) -> None:
        """Refresh grants answer ``invalid_grant``; optionally forget every access token too."""
        self.faults.refresh_token_revoked = True
        if access_tokens:
            self.tokens.forget_all()

    @asynccontextmanager
    async def running(
        self, host: str = "127.0.0.1", port: int = 0, ssl_context: ssl.SSLContext | None = None
    ) -> AsyncIterator[SimulatorServer]:
        runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, shutdown_timeout=0.5
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
            await site.start()
            bound_port = runner.addresses[0][1]
            self.api_host = f"{host}:{bound_port}"
            self.url = f"{'https' if ssl_context else 'http'}://{self.api_host}"
            yield self
        finally:
            await runner.cleanup()

    # --- plumbing -----------------------------------------------------------------------------
    def _identity(self) -> dict[str, str]:
        profile = self.world.member_info(self.world.admin_member_id())["profile"]
        account_id = str(profile.get("account_id", ""))
        uid = str(int(hashlib.sha256(account_id.encode()).hexdigest()[:8], 16))
        return {"uid": uid, "account_id": account_id, "team_id": self.world.team_id}

    def _make_app(self) -> web.Application:
        app = web.Application()
        app.on_response_prepare.append(self._stamp)
        app.router.add_route("*", "/2/{route:.+}", self._rpc)
        app.router.add_post("/oauth2/token", self._token)
        app.router.add_get("/oauth2/authorize", self._authorize)
        admin.register(app, self)
        return app

    async def _stamp(self, request: web.Request, response: web.StreamResponse) -> None:
        if "X-Dropbox-Request-Id" not in response.headers:
            response.headers["X-Dropbox-Request-Id"] = f"{self._request_ids.getrandbits(128):032x}"

    async def _token(self, request: web.Request) -> web.StreamResponse:
        route = "oauth2/token"
        early = await self._pre_faults(request, route)
        if early is not None:
            return early
        response = await self.oauth.token(request)
        self.counters.add(route, str(response.status))
        return response

    async def _authorize(self, request: web.Request) -> web.StreamResponse:
        try:
            response = await self.oauth.authorize(request)
        except web.HTTPException as exc:
            self.counters.add("oauth2/authorize", str(exc.status))
            raise
        self.counters.add("oauth2/authorize", str(response.status))
        return response

    async def _pre_faults(self, request: web.Request, route: str) -> web.StreamResponse | None:
        """Latency and transport faults; a response (or a dropped connection) ends the request."""
        decision = self.injector.decide(route)
        if decision.delay_s > 0:
            await self.clock.sleep(decision.delay_s)
        action = decision.action
        if action is None or action == "slow":
            return None
        if action == "drop":
            self.counters.add(route, "drop")
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)  # never reaches the client
        if action == "redirect":  # where a hijacked DNS name or a hostile proxy points
            self.counters.add(route, "307")
            location = self.faults.redirect_to.rstrip("/") + request.path
            return wire.text_response("", 307, {"Location": location})
        if action == "echo":  # a 400 that quotes the request back, bearer token included
            self.counters.add(route, "400")
            quoted = request.headers.get("Authorization", "")
            return wire.bad_request(route, f'Invalid HTTP header "Authorization": "{quoted}"')
        if action == "error":
            status = self.faults.error_status
            self.counters.add(route, str(status))
            return wire.text_response(
                "Internal Server Error" if status == 500 else "Service Unavailable", status
            )
        self.counters.add(route, "429")
        return wire.rate_limited(decision.retry_after, text_body=self.faults.rate_limit_text_body)

    async def _rpc(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["route"]
        route = self.routes.get(name)
        if route is None:
            self.counters.add("(unknown)", "404")
            return wire.text_response(
                f'Error in call to API function "{name}": Unknown API function: /2/{name}', 404
            )
        if request.method != "POST":
            self.counters.add(name, "405")
            return wire.text_response(
                f'Error in call to API function "{name}": '
                f'Unsupported HTTP method "{request.method}".  Expecting POST.',
                405,
                {"Allow": "POST"},
            )
        early = await self._pre_faults(request, name)
        if early is not None:
            return early
        response = await self._call(request, route)
        if response.status == 200 and isinstance(response, web.Response):
            broken = self.injector.body_fault(name)
            if broken is not None:
                self.counters.add(name, broken)
                return await _break_body(request, response, broken, self.faults)
        self.counters.add(name, str(response.status))
        return response

    async def _call(self, request: web.Request, route: Route) -> web.Response:
        name = route.name
        content_type = request.headers.get("Content-Type", "")
        if not _content_type_ok(content_type):
            if not content_type:
                return wire.bad_request(name, 'Missing or empty HTTP "Content-Type" header.')
            return wire.bad_request(
                name,
                f'Bad HTTP "Content-Type" header: "{content_type}".  Expecting one of '
                '"application/json", "text/plain; charset=dropbox-cors-hack".',
            )
        authorization = request.headers.get("Authorization") or request.query.get("authorization")
        if not authorization:
            return wire.bad_request(
                name, 'Must provide HTTP header "Authorization" or URL parameter "authorization".'
            )
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return wire.bad_request(
                name,
                f'Invalid authorization value in HTTP header "Authorization": "{authorization}".  '
                'Expecting "Bearer <oauth2-access-token>".',
            )
        token = token.strip()
        if not _TOKEN_RE.match(token):
            return wire.bad_request(name, "The given OAuth 2 access token is malformed.")
        entry = self.tokens.check(token)
        if entry == "invalid":
            return wire.auth_error("invalid_access_token")
        if entry == "expired":
            return wire.auth_error("expired_access_token")
        if route.scope not in entry.scopes:
            return wire.auth_error("missing_scope", required_scope=route.scope)
        retry_after = self.injector.rate_limit(self.world.team_id)
        if retry_after:
            return wire.rate_limited(retry_after, text_body=self.faults.rate_limit_text_body)
        try:
            arg = orjson.loads(await request.read())
        except orjson.JSONDecodeError:  # also an empty body
            return wire.bad_request(name, "request body: could not decode input as JSON")
        self.view.sync()
        try:
            return route.handler(arg)
        except wire.ArgError as exc:
            return wire.bad_request(name, f"request body: {exc}")
        except Exception:
            log.exception("simulator route %s failed", name)
            return wire.text_response("Internal Server Error", 500)


def _content_type_ok(value: str) -> bool:
    if value in _ACCEPTED_CONTENT_TYPES:
        return True
    mime, _, params = value.partition(";")
    if mime.strip().lower() != "application/json":
        return False
    params = params.strip().lower().replace(" ", "")
    return params in ("", "charset=utf-8")


async def _break_body(
    request: web.Request, response: web.Response, how: str, faults: Faults
) -> web.StreamResponse:
    if how == "huge":
        return await _huge_body(request, faults.huge_bytes, declared=faults.huge_declared)
    body = bytes(response.body) if isinstance(response.body, bytes | bytearray) else b""
    half = body[: max(1, len(body) // 2)]
    if how == "malformed":  # complete response, invalid JSON
        return wire.json_response(half)
    # truncated: promise the whole body, send half, hang up
    stream = web.StreamResponse(status=200, headers={"Content-Type": wire.JSON})
    stream.content_length = len(body)
    await stream.prepare(request)
    await stream.write(half)
    if request.transport is not None:
        request.transport.close()
    return stream


async def _huge_body(request: web.Request, size: int, *, declared: bool) -> web.StreamResponse:
    """``{"pad": "xxx…"}`` of ``size`` bytes, written a MiB at a time (the server holds one)."""
    stream = web.StreamResponse(status=200, headers={"Content-Type": wire.JSON})
    if declared:
        stream.content_length = size
    else:
        stream.enable_chunked_encoding()
    await stream.prepare(request)
    head, tail = b'{"pad": "', b'"}'
    chunk = b"x" * (1 << 20)
    await stream.write(head)
    left = max(0, size - len(head) - len(tail))
    try:
        while left > 0:
            await stream.write(chunk[: min(left, len(chunk))])
            left -= min(left, len(chunk))
        await stream.write(tail)
        await stream.write_eof()
    except (ConnectionResetError, RuntimeError):
        pass  # the client hung up once it had read enough: what a bounded client does
    return stream
