"""`streamer run` and `streamer check`: the service and its pre-flight check."""

from __future__ import annotations

import asyncio
import gc
import os
import re
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from streamer.app import RunOptions, run_service
from streamer.config import STREAM_NAMES, Settings, load_settings
from streamer.logs import configure_logging
from streamer.progress import BackfillProgress

CONFIG_HELP = "TOML configuration file (default: $STREAMER_CONFIG; see config/README.md)."


def config_option(func: Any) -> Any:
    return click.option(
        "--config",
        "config_path",
        type=click.Path(path_type=Path, dir_okay=False),
        envvar="STREAMER_CONFIG",
        help=CONFIG_HELP,
    )(func)


def load(config_path: Path | None, log_level: str | None) -> Settings:
    settings = load_settings(config_path, os.environ)
    configure_logging(
        level=log_level or settings.log.level,
        fmt=settings.log.format,
        secrets=secret_values(settings),
    )
    return settings


def secret_values(settings: Settings) -> list[str]:
    values = []
    for team in settings.teams.values():
        values += [team.app_secret.get_secret_value(), team.refresh_token.get_secret_value()]
    return values + settings.kafka.secrets()


_RELATIVE = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(value: str, *, now: datetime | None = None) -> datetime:
    """An ISO 8601 date or time (UTC unless it says otherwise), or a duration ago: 7d, 12h."""
    now = now or datetime.now(UTC)
    match = _RELATIVE.match(value.strip())
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date: use e.g. 2026-01-31, 2026-01-31T12:00:00Z or 7d"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@click.command()
@config_option
@click.option("--once", is_flag=True, help="Run one full cycle of every stream, then exit.")
@click.option(
    "--replay",
    is_flag=True,
    help="Re-emit the current inventory as snapshot events (for a new consumer); "
    "live state is left untouched.",
)
@click.option("--backfill", is_flag=True, help="Replay the audit log for --since/--until.")
@click.option("--since", help="Backfill start: ISO date/time (UTC) or a duration ago (7d).")
@click.option("--until", help="Backfill end (exclusive); default: now.")
@click.option(
    "--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False)
)
def run(
    config_path: Path | None,
    once: bool,
    replay: bool,
    backfill: bool,
    since: str | None,
    until: str | None,
    log_level: str | None,
) -> None:
    """Stream Dropbox telemetry into Kafka until stopped (SIGTERM/SIGINT flush and exit 0)."""
    window = None
    if backfill:
        if since is None:
            raise click.UsageError("--backfill needs --since (e.g. --since 30d)")
        start = parse_when(since)
        end = parse_when(until) if until else datetime.now(UTC)
        if start >= end:
            raise click.UsageError(f"--since ({start:%Y-%m-%dT%H:%M:%SZ}) must be before --until")
        window = (start, end)
    elif since or until:
        raise click.UsageError("--since/--until only apply with --backfill")
    if replay and (once or backfill):
        raise click.UsageError("--replay runs one pass by itself: drop --once/--backfill")
    settings = load(config_path, log_level.upper() if log_level else None)
    progress = BackfillProgress() if window else None  # draws only on a terminal
    options = RunOptions(once=once, replay=replay, backfill=window, progress=progress)
    tune_gc()
    asyncio.run(_run_until_signal(settings, options))


def tune_gc() -> None:
    """Make the cyclic garbage collector cheap for a long-lived service.

    Everything imported so far (modules, classes, pydantic schemas: a few hundred thousand
    objects) lives as long as the process; ``gc.freeze()`` takes it out of every future
    collection. Young objects are collected every 10,000 allocations instead of 700: a page
    makes tens of thousands of short-lived dicts and events, and re-walking the ones still
    in use every 700 allocations cost a third of the CPU of a sync (measured, bench/).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


async def _run_until_signal(settings: Settings, options: RunOptions) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await run_service(settings, options, stop)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


@click.command()
@config_option
def check(config_path: Path | None) -> None:
    """Check credentials, granted scopes, Kafka reachability and topics; print a table."""
    from streamer.check import run_checks

    settings = load(config_path, "WARNING")
    rows = asyncio.run(run_checks(settings))
    width = max(len(r.subject) for r in rows)
    for row in rows:
        mark = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}[row.status]
        click.echo(f"{mark}  {row.subject.ljust(width)}  {row.detail}")
    codes = [row.exit_code for row in rows if row.status == "fail"]
    if codes:
        raise SystemExit(codes[0])


@click.command()
@config_option
@click.option(
    "--topic",
    "topics",
    multiple=True,
    help="Topic to read (repeatable); default: every event topic of the configuration.",
)
@click.option("--from-beginning", is_flag=True, help="Start at the oldest retained event.")
@click.option("--limit", type=click.IntRange(min=1), help="Exit after this many events.")
@click.option("--brief", is_flag=True, help="One short line per event instead of full JSON.")
def tail(
    config_path: Path | None,
    topics: tuple[str, ...],
    from_beginning: bool,
    limit: int | None,
    brief: bool,
) -> None:
    """Print events as they arrive in Kafka (read_committed), one per line, until Ctrl-C."""
    settings = load(config_path, "WARNING")
    names = list(topics) or [settings.kafka.topics.for_stream(s) for s in STREAM_NAMES]
    asyncio.run(_tail(settings, names, from_beginning, limit, brief))


async def _tail(
    settings: Settings, topics: list[str], from_beginning: bool, limit: int | None, brief: bool
) -> None:
    from streamer.kafka.tail import tail as read

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    count = 0
    async for message in read(settings.kafka, topics, from_beginning=from_beginning, stop=stop):
        click.echo(_brief(message) if brief else (message.value or b"null").decode())
        count += 1
        if limit is not None and count >= limit:
            break


def _brief(message: Any) -> str:
    import orjson

    try:
        event = orjson.loads(message.value or b"{}")
    except orjson.JSONDecodeError:
        return f"{message.topic}: (not JSON, {len(message.value or b'')} bytes)"
    label = ""
    if "class_uid" in event:  # an OCSF record keeps the native envelope under `unmapped`
        label = f" [ocsf {event.get('class_name', event['class_uid'])}]"
        event = event.get("unmapped") or {}
    user = (event.get("user") or {}).get("email") or (event.get("user") or {}).get(
        "team_member_id", ""
    )
    network = event.get("network") or {}
    where = " ".join(str(v) for v in (network.get("ip_address"), network.get("country")) if v)
    kind = f"{event.get('event_type', '')}{label}"
    return f"{event.get('event_time', '')}  {kind:<26} {user}  {where}"
