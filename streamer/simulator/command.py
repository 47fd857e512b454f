"""``streamer simulate``: serve the Dropbox API simulator until Ctrl-C / SIGTERM (exit 0)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import ssl
import sys
import time
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import click

from streamer.clock import format_dropbox_time
from streamer.errors import ConfigError
from streamer.simulator.faults import Faults
from streamer.simulator.oauth import Credentials
from streamer.simulator.server import DEFAULT_SCOPES, SimulatorConfig, SimulatorServer

_P = click.FloatRange(0.0, 1.0)
_NONNEG = click.FloatRange(min=0.0)
_RATE_FLAGS = (
    ("error_rate", "probability of an injected 5xx"),
    ("drop_rate", "probability of closing the connection without an answer"),
    ("slow_rate", "probability of answering only after --slow-ms"),
    ("truncate_rate", "probability of a 200 body cut short (connection closed mid-body)"),
    ("malformed_rate", "probability of a 200 body that is not valid JSON"),
    ("throttle_rate", "probability of an injected 429 (independent of --rate-limit)"),
    ("unknown_field_rate", "per-record probability of an unknown extra field"),
    ("unknown_tag_rate", "per-value probability of an unknown tag in an open union"),
    ("reset_rate", "probability that a continue call answers reset / invalid_cursor"),
    ("empty_page_rate", "probability of an empty team_log page with has_more=true"),
    ("short_page_rate", "probability of a short team_log page"),
)


def _rate_options(func: Any) -> Any:
    for name, help_text in reversed(_RATE_FLAGS):
        flag = "--" + name.replace("_", "-")
        func = click.option(flag, name, type=_P, default=0.0, show_default=True, help=help_text)(
            func
        )
    return func


@dataclass(frozen=True)
class _Listen:
    host: str
    port: int
    ssl_context: ssl.SSLContext | None
    advance_every: float
    tick: float


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option("--members", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--start",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ"]),
    default="2026-01-01",
    show_default=True,
    help="Simulated start time (UTC).",
)
@click.option("--devices-per-member", type=_NONNEG, default=3.0, show_default=True)
@click.option("--audit-days", type=click.IntRange(min=0), default=7, show_default=True)
@click.option("--churn", type=_NONNEG, default=1.0, show_default=True)
@click.option("--latency-ms", type=_NONNEG, default=0.0, show_default=True)
@click.option("--jitter-ms", type=_NONNEG, default=0.0, show_default=True)
@click.option(
    "--rate-limit",
    "rate_limit",
    type=_NONNEG,
    default=0.0,
    metavar="RPS",
    show_default=True,
    help="Requests/s per team (token bucket); 0 = unlimited.",
)
@click.option(
    "--burst",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Token bucket size; 0 = the rate rounded up.",
)
@click.option("--error-status", type=click.IntRange(500, 599), default=503, show_default=True)
@click.option("--slow-ms", type=_NONNEG, default=30_000.0, show_default=True)
@_rate_options
@click.option("--devices-page-size", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--apps-page-size", type=click.IntRange(min=1), default=100, show_default=True)
@click.option(
    "--scopes",
    default=" ".join(DEFAULT_SCOPES),
    show_default=True,
    help="Space-separated scopes granted to the app.",
)
@click.option(
    "--token-lifetime",
    type=click.IntRange(min=1),
    default=14_400,
    show_default=True,
    metavar="SECONDS",
    help="Access-token lifetime.",
)
@click.option("--app-key", default=Credentials.app_key, show_default=True)
@click.option("--app-secret", default=Credentials.app_secret, show_default=True)
@click.option("--refresh-token", default=Credentials.refresh_token, show_default=True)
@click.option("--revoked-refresh-token", is_flag=True, help="Start with the refresh token revoked.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), help="PEM certificate.")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), help="PEM private key.")
@click.option(
    "--advance-every",
    type=_NONNEG,
    default=0.0,
    metavar="SECONDS",
    show_default=True,
    help="Simulated seconds to advance per tick (0 = time stands still).",
)
@click.option(
    "--tick",
    type=click.FloatRange(min=0.01),
    default=1.0,
    show_default=True,
    metavar="SECONDS",
    help="Real seconds between automatic advances.",
)
def simulate(**opts: Any) -> None:
    """Serve the Dropbox API simulator (team, members, devices, linked apps, audit log)."""
    scopes = tuple(opts["scopes"].split())
    if not scopes:
        raise click.BadParameter("at least one scope is required", param_hint="--scopes")
    try:
        faults = Faults(
            latency_ms=opts["latency_ms"],
            jitter_ms=opts["jitter_ms"],
            rate_limit_rps=opts["rate_limit"],
            burst=opts["burst"],
            error_status=opts["error_status"],
            slow_ms=opts["slow_ms"],
            devices_page_size=opts["devices_page_size"],
            apps_page_size=opts["apps_page_size"],
            token_lifetime_s=opts["token_lifetime"],
            refresh_token_revoked=opts["revoked_refresh_token"],
            **{name: opts[name] for name, _ in _RATE_FLAGS},
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    config = SimulatorConfig(
        members=opts["members"],
        seed=opts["seed"],
        start=opts["start"].replace(tzinfo=UTC),
        devices_per_member=opts["devices_per_member"],
        audit_days=opts["audit_days"],
        churn=opts["churn"],
        scopes=scopes,
        credentials=Credentials(opts["app_key"], opts["app_secret"], opts["refresh_token"]),
        faults=faults,
    )
    listen = _Listen(
        host=opts["host"],
        port=opts["port"],
        ssl_context=_ssl_context(opts["tls_cert"], opts["tls_key"]),
        advance_every=opts["advance_every"],
        tick=opts["tick"],
    )
    try:
        server = SimulatorServer(config)
    except ValueError as exc:
        raise click.UsageError(f"cannot build the simulated team: {exc}") from exc
    # the World is a large, long-lived object graph: keep the cyclic GC from re-walking it
    gc.freeze()
    asyncio.run(_serve(server, listen))


def _ssl_context(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise click.UsageError("--tls-cert and --tls-key go together")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise click.BadParameter(
            f"cannot load the certificate/key: {exc}", param_hint="--tls-cert"
        ) from exc
    return context


async def _serve(server: SimulatorServer, listen: _Listen) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with server.running(listen.host, listen.port, listen.ssl_context) as sim:
            _banner(sim, listen)
            warm = asyncio.create_task(_warm(sim))
            ticker = None
            if listen.advance_every > 0:
                ticker = asyncio.create_task(_advance_forever(sim, listen))
            await stop.wait()
            for task in (warm, ticker):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
    except OSError as exc:
        reason = exc.strerror or exc
        raise ConfigError(f"cannot listen on {listen.host}:{listen.port}: {reason}") from exc
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    click.echo("simulator stopped")


async def _warm(sim: SimulatorServer) -> None:
    started = time.monotonic()
    await sim.warm_up()
    click.echo(f"caches warm after {time.monotonic() - started:.1f} s")
    sys.stdout.flush()


async def _advance_forever(sim: SimulatorServer, listen: _Listen) -> None:
    while True:
        await asyncio.sleep(listen.tick)
        changes = sim.advance(listen.advance_every)
        kinds: dict[str, int] = {}
        for change in changes:
            kinds[change.kind] = kinds.get(change.kind, 0) + 1
        summary = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) or "no changes"
        click.echo(f"[{format_dropbox_time(sim.world.now)}] {summary}")
        sys.stdout.flush()


def _banner(sim: SimulatorServer, listen: _Listen) -> None:
    c = sim.config.credentials
    url = sim.url
    curl = "curl -s" + (" --cacert CA.pem" if listen.ssl_context else "")
    lines = [
        f"Dropbox API simulator listening on {url}",
        f"  team:          {sim.world.team_name} ({sim.world.team_id}), "
        f"{sim.config.members} members, seed {sim.config.seed}",
        f"  simulated now: {format_dropbox_time(sim.world.now)}"
        + (
            f" (+{listen.advance_every:g} s every {listen.tick:g} s)"
            if listen.advance_every
            else ""
        ),
        f"  app key:       {c.app_key}",
        f"  app secret:    {c.app_secret}",
        f"  refresh token: {c.refresh_token}",
        f"  scopes:        {' '.join(sim.config.scopes)}",
        "",
        "Try:",
        f"  TOKEN=$({curl} {url}/oauth2/token -u {c.app_key}:{c.app_secret} "
        f"-d grant_type=refresh_token -d refresh_token={c.refresh_token} "
        "| python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')",
        f'  {curl} -X POST {url}/2/team/members/list_v2 -H "Authorization: Bearer $TOKEN" '
        "-H 'Content-Type: application/json' -d '{\"limit\": 5}'",
        f"  {curl} {url}/admin/counters     (admin: /admin/advance, /admin/faults, /admin/truth)",
    ]
    if listen.ssl_context:
        lines.append(
            f"  official SDK: DROPBOX_API_HOST={sim.api_host} REQUESTS_CA_BUNDLE=CA.pem python ..."
        )
    lines.append("Ctrl-C to stop.")
    click.echo("\n".join(lines))
    sys.stdout.flush()
