"""The client layer (AiohttpTransport, TokenManager, DropboxClient, paginators) against the
simulator over real HTTPS (throwaway trustme CA).

The simulator and the client share one ``ManualClock``: requests travel over real sockets, but
every wait (Retry-After pauses, backoff, token lifetimes, the simulator's token bucket) is
virtual, so an afternoon of rate limiting takes a fraction of a second.
"""

from __future__ import annotations

import asyncio
import random
import re
import ssl
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import trustme
from click.testing import CliRunner
from pydantic import SecretStr

from streamer.auth_command import auth
from streamer.clock import Clock, ManualClock, SystemClock
from streamer.dropbox import (
    AiohttpTransport,
    DropboxClient,
    Page,
    RateGate,
    RetryPolicy,
    TokenManager,
    TransportError,
    audit_pages,
    authorize_url,
    exchange_code,
    linked_apps_pages,
    members_devices_pages,
    members_pages,
)
from streamer.errors import DropboxAuthError, MissingScopeError
from streamer.metrics import Metrics
from streamer.simulator import DEFAULT_SCOPES, Faults, SimulatorConfig, SimulatorServer

APP_KEY, APP_SECRET, REFRESH = "sim-app-key", "sim-app-secret", "sim-refresh-token"
MEMBERS = 60


@dataclass(frozen=True)
class Tls:
    server: ssl.SSLContext
    ca_file: str


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return Tls(context, str(path))


@dataclass
class Rig:
    sim: SimulatorServer
    clock: Clock
    metrics: Metrics
    tokens: TokenManager
    gate: RateGate
    client: DropboxClient

    def sample(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, {"team": "sim", **labels}) or 0.0


@asynccontextmanager
async def rig(
    tls: Tls,
    *,
    clock: Clock | None = None,
    scopes: tuple[str, ...] = DEFAULT_SCOPES,
    http_timeout: float = 30.0,
    retry: RetryPolicy | None = None,
    **faults: Any,
) -> AsyncIterator[Rig]:
    clock = clock or ManualClock()
    config = SimulatorConfig(members=MEMBERS, seed=5, scopes=scopes, faults=Faults(**faults))
    server = SimulatorServer(config, clock=clock)
    transport = AiohttpTransport(ca_file=tls.ca_file)
    metrics = Metrics()
    async with server.running(host="127.0.0.1", port=0, ssl_context=tls.server) as sim:
        tokens = TokenManager(
            team="sim",
            token_url=f"{sim.url}/oauth2/token",
            app_key=APP_KEY,
            app_secret=SecretStr(APP_SECRET),
            refresh_token=SecretStr(REFRESH),
            transport=transport,
            clock=clock,
            metrics=metrics,
        )
        gate = RateGate(clock, max_concurrency=4, rng=random.Random(1))
        client = DropboxClient(
            team="sim",
            api_url=sim.url,
            tokens=tokens,
            transport=transport,
            gate=gate,
            retry=retry or RetryPolicy(max_attempts=20, budget_seconds=3600),
            clock=clock,
            metrics=metrics,
            timeout=http_timeout,
            rng=random.Random(2),
        )
        try:
            yield Rig(sim, clock, metrics, tokens, gate, client)
        finally:
            await transport.close()


async def collect(pages: AsyncIterator[Page]) -> list[Page]:
    return [page async for page in pages]


def snapshot(pages: list[Page]) -> list[dict[str, Any]]:
    """Records of the last complete pass (a restarted page begins a new one)."""
    start = max((i for i, p in enumerate(pages) if p.restarted), default=0)
    return [record for page in pages[start:] for record in page.records]


def world_members(sim: SimulatorServer, *, include_removed: bool = True) -> dict[str, Any]:
    world = sim.world
    return {
        mid: world.member_info(mid)
        for mid in world.member_order()
        if include_removed or not world.is_removed(mid)
    }


def world_devices(sim: SimulatorServer) -> dict[str, Any]:
    found = {mid: sim.world.member_devices(mid) for mid in sim.world.member_order()}
    return {mid: devices for mid, devices in found.items() if devices is not None}


def world_apps(sim: SimulatorServer) -> dict[str, Any]:
    found = {mid: sim.world.member_linked_apps(mid) for mid in sim.world.member_order()}
    return {mid: apps for mid, apps in found.items() if apps is not None}


def canonical(events: list[dict[str, Any]]) -> list[bytes]:
    return sorted(orjson.dumps(e, option=orjson.OPT_SORT_KEYS) for e in events)


def by_member(records: list[dict[str, Any]], key: str = "team_member_id") -> dict[str, Any]:
    return {r[key]: r for r in records}


def members_of(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {r["profile"]["team_member_id"]: r for r in records}


# -- complete listings ---------------------------------------------------------------------------


async def test_listings_return_exactly_the_world(tls: Tls) -> None:
    async with rig(tls, devices_page_size=7, apps_page_size=7) as r:
        members = await collect(members_pages(r.client, limit=9))
        devices = await collect(members_devices_pages(r.client))
        apps = await collect(linked_apps_pages(r.client))
        audit = await collect(audit_pages(r.client, limit=250))

        assert len(members) > 5
        assert members_of(snapshot(members)) == world_members(r.sim)
        assert len(devices) > 2
        assert by_member(snapshot(devices)) == world_devices(r.sim)
        assert by_member(snapshot(apps)) == world_apps(r.sim)
        assert len(audit) > 1
        assert canonical(snapshot(audit)) == canonical(r.sim.world.audit_log())
        assert r.tokens.refreshes == 1


async def test_include_removed_false_leaves_removed_members_out(tls: Tls) -> None:
    async with rig(tls) as r:
        pages = await collect(members_pages(r.client, include_removed=False, limit=50))
        expected = world_members(r.sim, include_removed=False)
        assert members_of(snapshot(pages)) == expected
        assert len(expected) < len(world_members(r.sim))  # the world does have removed members


async def test_audit_cursor_picks_up_only_new_events_after_the_world_moves(tls: Tls) -> None:
    async with rig(tls) as r:
        first = await collect(audit_pages(r.client))
        cursor = first[-1].cursor
        before = len(r.sim.world.audit_log())
        r.sim.advance(3600)
        added = r.sim.world.audit_log()[before:]
        later = await collect(audit_pages(r.client, cursor=cursor))
        assert added, "an hour of simulated activity should log something"
        assert canonical(snapshot(later)) == canonical(added)


# -- tokens --------------------------------------------------------------------------------------


async def test_token_expiry_mid_listing_is_transparent(tls: Tls) -> None:
    async with rig(tls) as r:
        pages: list[Page] = []
        async for page in members_pages(r.client, limit=10):
            pages.append(page)
            if len(pages) == 2:
                assert r.sim.expire_tokens() >= 1  # the server now answers 401 expired
        assert members_of(snapshot(pages)) == world_members(r.sim)
        assert r.tokens.refreshes == 2
        assert r.sim.counters.get("team/members/list/continue_v2", 401) == 1
        assert (
            r.sample(
                "streamer_api_retries_total",
                route="team/members/list/continue_v2",
                reason="expired_token",
            )
            == 1
        )


async def test_short_lived_tokens_are_refreshed_ahead_of_expiry_without_401s(tls: Tls) -> None:
    clock = ManualClock()
    async with rig(tls, clock=clock, token_lifetime_s=600) as r:
        pages: list[Page] = []
        async for page in members_pages(r.client, limit=10):
            pages.append(page)
            clock.advance(400)  # more than lifetime - skew: each next page needs a new token
        assert members_of(snapshot(pages)) == world_members(r.sim)
        assert r.tokens.refreshes == len(pages)
        assert sum(r.sim.counters.get(route, 401) for route in r.sim.counters.snapshot()) == 0


async def test_revoked_refresh_token_gives_the_clear_error(tls: Tls) -> None:
    async with rig(tls) as r:
        await r.client.rpc("team/get_info", None)
        r.sim.revoke_refresh_token(access_tokens=True)  # the admin unlinked the app
        with pytest.raises(DropboxAuthError) as caught:
            await collect(members_pages(r.client))
        message = str(caught.value)
        assert "invalid_grant" in message
        assert "streamer auth url" in message
        assert REFRESH not in message
        assert APP_SECRET not in message
        assert not r.tokens.valid
        # a dead link is asked once, not once per task
        token_calls = r.sim.counters.get("oauth2/token", 400)
        with pytest.raises(DropboxAuthError):
            await r.client.rpc("team/get_info", None)
        assert r.sim.counters.get("oauth2/token", 400) == token_calls


async def test_missing_scope_names_the_scope_to_enable(tls: Tls) -> None:
    scopes = tuple(s for s in DEFAULT_SCOPES if s != "events.read")
    async with rig(tls, scopes=scopes) as r:
        with pytest.raises(MissingScopeError) as caught:
            await collect(audit_pages(r.client))
        assert caught.value.required_scope == "events.read"


# -- rate limits and faults ----------------------------------------------------------------------


async def test_rate_limits_slow_the_team_down_but_lose_nothing(tls: Tls) -> None:
    async with rig(tls, rate_limit_rps=2.0, burst=3, devices_page_size=5, apps_page_size=5) as r:
        started = r.clock.monotonic()
        members, devices, apps = await asyncio.gather(
            collect(members_pages(r.client, limit=5)),
            collect(members_devices_pages(r.client)),
            collect(linked_apps_pages(r.client)),
        )
        assert members_of(snapshot(members)) == world_members(r.sim)
        assert by_member(snapshot(devices)) == world_devices(r.sim)
        assert by_member(snapshot(apps)) == world_apps(r.sim)
        limited = r.sample("streamer_api_rate_limited_total")
        assert limited > 0
        assert r.gate.pauses == limited
        assert r.clock.monotonic() - started >= 1.0  # it waited (virtually) as told
        assert r.sample("streamer_rate_gate_wait_seconds_total") > 0


async def test_injected_429s_with_text_or_json_bodies_are_waited_out(tls: Tls) -> None:
    for text_body in (False, True):
        async with rig(tls, rate_limit_text_body=text_body) as r:
            await r.tokens.access_token()  # the 429s below are for the API calls
            r.sim.faults.update({"throttle_next": 3, "throttle_retry_after": 20})
            started = r.clock.monotonic()
            pages = await collect(members_pages(r.client, limit=20))
            assert members_of(snapshot(pages)) == world_members(r.sim)
            assert r.gate.pauses == 3
            assert r.clock.monotonic() - started >= 60


async def test_server_errors_drops_and_broken_bodies_are_retried(tls: Tls) -> None:
    async with rig(tls) as r:
        await r.tokens.access_token()  # the faults below are for the API calls
        r.sim.faults.update(
            {"error_next": 2, "drop_next": 2, "truncate_next": 2, "malformed_next": 2}
        )
        pages = await collect(members_pages(r.client, limit=15))
        assert members_of(snapshot(pages)) == world_members(r.sim)
        routes = ("team/members/list_v2", "team/members/list/continue_v2")
        total = {
            reason: sum(
                r.sample("streamer_api_retries_total", route=route, reason=reason)
                for route in routes
            )
            for reason in ("server_error", "transport", "malformed")
        }
        # a body cut short of its Content-Length fails in the transport; bad JSON in the client
        assert total == {"server_error": 2, "transport": 4, "malformed": 2}


async def test_cursor_resets_restart_listings_and_the_last_pass_is_complete(tls: Tls) -> None:
    async with rig(tls, devices_page_size=10, apps_page_size=10) as r:
        for paginator, expected, key in (
            (lambda: members_pages(r.client, limit=10), world_members(r.sim), None),
            (lambda: members_devices_pages(r.client), world_devices(r.sim), "team_member_id"),
            (lambda: linked_apps_pages(r.client), world_apps(r.sim), "team_member_id"),
        ):
            r.sim.faults.update({"reset_next": 1})
            pages = await collect(paginator())
            assert any(p.restarted for p in pages)
            records = snapshot(pages)
            got = members_of(records) if key is None else by_member(records, key)
            assert got == expected


async def test_audit_reset_restarts_from_its_timestamp_and_loses_nothing(tls: Tls) -> None:
    async with rig(tls) as r:
        first = await collect(audit_pages(r.client, limit=100))
        seen = [e for p in first for e in p.records]
        r.sim.advance(7200)
        r.sim.faults.update({"reset_next": 1})
        later = await collect(audit_pages(r.client, cursor=first[-1].cursor, limit=100))
        assert later[0].restarted
        # the restart re-delivers an overlap (the caller dedupes); nothing is missing
        assert set(canonical(seen + [e for p in later for e in p.records])) == set(
            canonical(r.sim.world.audit_log())
        )


async def test_empty_and_short_audit_pages_are_followed_to_the_end(tls: Tls) -> None:
    async with rig(tls, empty_page_rate=0.3, short_page_rate=0.3) as r:
        pages = await collect(audit_pages(r.client, limit=200))
        assert any(not p.records and p.has_more for p in pages)
        assert canonical(snapshot(pages)) == canonical(r.sim.world.audit_log())


async def test_a_slow_answer_times_out_and_is_retried(tls: Tls) -> None:
    # real time here: the simulator's slow answer and the client's timeout are wall-clock
    async with rig(tls, clock=SystemClock(), http_timeout=0.3) as r:
        await r.tokens.access_token()
        r.sim.faults.update({"slow_next": 1, "slow_ms": 2000.0})
        info = await r.client.rpc("team/get_info", None)
        assert info["team_id"] == r.sim.world.team_id
        labels = {"route": "team/get_info", "reason": "transport"}
        assert r.sample("streamer_api_retries_total", **labels) == 1


async def test_an_untrusted_certificate_is_a_clear_error_not_a_retry_loop(tls: Tls) -> None:
    server = SimulatorServer(SimulatorConfig(members=5, seed=1), clock=ManualClock())
    transport = AiohttpTransport()  # system trust store: does not know the test CA
    async with server.running(host="127.0.0.1", port=0, ssl_context=tls.server) as sim:
        try:
            with pytest.raises(TransportError) as caught:
                await transport.post(
                    f"{sim.url}/oauth2/token", headers={}, data={"grant_type": "x"}, timeout=5
                )
        finally:
            await transport.close()
    assert not caught.value.retriable
    assert "--ca-file" in str(caught.value)


# -- the one-time OAuth link -----------------------------------------------------------------------


async def test_authorize_and_exchange_against_the_simulator(tls: Tls) -> None:
    async with rig(tls) as r:
        page = await _get_text(authorize_url(APP_KEY, web_url=r.sim.url), tls.ca_file)
        code = _code_from(page)
        transport = AiohttpTransport(ca_file=tls.ca_file)
        try:
            grant = await exchange_code(
                transport,
                token_url=f"{r.sim.url}/oauth2/token",
                app_key=APP_KEY,
                app_secret=SecretStr(APP_SECRET),
                code=code,
            )
            assert grant.refresh_token.get_secret_value() == REFRESH
            assert grant.team_id == r.sim.world.team_id
            assert grant.missing_scopes() == ()
            # the code was single-use
            with pytest.raises(DropboxAuthError, match="authorization code"):
                await exchange_code(
                    transport,
                    token_url=f"{r.sim.url}/oauth2/token",
                    app_key=APP_KEY,
                    app_secret=SecretStr(APP_SECRET),
                    code=code,
                )
        finally:
            await transport.close()


async def _get_text(url: str, ca_file: str) -> str:
    import aiohttp  # the test plays the admin's browser

    context = ssl.create_default_context(cafile=ca_file)
    async with aiohttp.ClientSession() as session, session.get(url, ssl=context) as resp:
        assert resp.status == 200
        return await resp.text()


def _code_from(page: str) -> str:
    found = re.search(r"<code id='code'[^>]*>([^<]+)</code>", page)
    assert found, page
    return found.group(1)


@pytest.fixture
def sim_in_thread(tls: Tls) -> Iterator[SimulatorServer]:
    """A simulator on its own loop, for the synchronous CLI (which runs ``asyncio.run``)."""
    server = SimulatorServer(SimulatorConfig(members=5, seed=3), clock=ManualClock())
    loop = asyncio.new_event_loop()
    ready, stop = threading.Event(), asyncio.Event()

    async def serve() -> None:
        async with server.running(host="127.0.0.1", port=0, ssl_context=tls.server):
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


def test_streamer_auth_exchange_prints_the_refresh_token(
    sim_in_thread: SimulatorServer, tls: Tls, tmp_path: Path
) -> None:
    sim = sim_in_thread
    code = sim.oauth.store.new_code(_offline_code(sim))
    secret_file = tmp_path / "app_secret"
    secret_file.write_text(APP_SECRET + "\n")
    args = ["exchange", "--app-key", APP_KEY, "--app-secret-file", str(secret_file)]
    args += ["--code", code, "--token-url", f"{sim.url}/oauth2/token", "--ca-file", tls.ca_file]
    result = CliRunner().invoke(auth, args)
    assert result.exit_code == 0, result.output
    assert result.stdout == REFRESH + "\n"
    assert sim.world.team_id in result.stderr
    assert "scopes missing: none" in result.stderr


def _offline_code(sim: SimulatorServer) -> Any:
    from streamer.simulator.oauth import AuthCode

    return AuthCode(
        scopes=frozenset(DEFAULT_SCOPES),
        redirect_uri=None,
        offline=True,
        challenge=None,
        challenge_method="plain",
        expires_at=sim.clock.monotonic() + 600,
    )
