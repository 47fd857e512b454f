"""`streamer check`: what works and what does not, before running the service.

For each team: the refresh token (a token refresh), then one cheap call per scope, which is
more reliable than trusting the token's ``scope`` field. Then Kafka: reachable, topics present.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from streamer.clock import SystemClock
from streamer.config import STREAM_NAMES, Settings, TeamSettings
from streamer.dropbox import AiohttpTransport, TeamApi, Transport
from streamer.errors import ConfigError, DropboxApiError, DropboxAuthError, MissingScopeError
from streamer.kafka.connection import client_kwargs
from streamer.kafka.diagnose import kafka_error
from streamer.kafka.topics import wanted_topics

Status = Literal["ok", "warn", "fail"]

# One cheap call per scope the connector uses.
SCOPE_PROBES: list[tuple[str, str, Any, bool]] = [
    ("team_info.read", "team/get_info", None, True),
    ("members.read", "team/members/list_v2", {"limit": 1, "include_removed": False}, True),
    ("sessions.list", "team/devices/list_members_devices", {}, True),
    ("events.read", "team_log/get_events", {"limit": 1}, False),  # optional: audit log
]


@dataclass(frozen=True)
class Row:
    subject: str
    status: Status
    detail: str
    exit_code: int = 0


async def run_checks(settings: Settings) -> list[Row]:
    rows: list[Row] = []
    # one pool for all teams; each team adds its own ca_file (TeamApi.build)
    transport = AiohttpTransport()
    try:
        for name, team in settings.teams.items():
            rows += await check_team(name, team, settings, transport)
    finally:
        await transport.close()
    rows += await check_kafka(settings)
    return rows


async def check_team(
    name: str, team: TeamSettings, settings: Settings, transport: Transport
) -> list[Row]:
    # probes need no concurrency and should fail fast: a short retry budget
    http = settings.http.model_copy(
        update={"max_concurrency": 2, "max_attempts": 3, "retry_budget": 30}
    )
    api = TeamApi.build(name, team, http, transport=transport, clock=SystemClock())
    tokens, client = api.tokens, api.client
    try:
        await tokens.access_token()
    except (DropboxAuthError, DropboxApiError) as exc:
        return [Row(f"{name}: credentials", "fail", str(exc), exc.exit_code)]
    rows = [Row(f"{name}: credentials", "ok", f"refresh token accepted ({team.token_url})")]
    for scope, route, arg, required in SCOPE_PROBES:
        subject = f"{name}: scope {scope}"
        try:
            result = await client.rpc(route, arg)
        except MissingScopeError as exc:
            if required:
                rows.append(Row(subject, "fail", str(exc), exc.exit_code))
            else:
                rows.append(Row(subject, "warn", "not granted: the audit-log stream stays off"))
            continue
        except (DropboxApiError, DropboxAuthError) as exc:
            rows.append(Row(subject, "fail", f"{route}: {exc}", exc.exit_code))
            continue
        detail = f"{route} answered"
        if route == "team/get_info" and isinstance(result, dict):
            detail += f": team {result.get('name')!r} ({result.get('team_id')})"
        rows.append(Row(subject, "ok", detail))
    return rows


async def check_kafka(settings: Settings) -> list[Row]:
    kafka = settings.kafka
    subject = f"kafka {kafka.bootstrap_servers}"
    try:
        admin = AIOKafkaAdminClient(**client_kwargs(kafka))
    except ConfigError as exc:  # a TLS file that cannot be used
        return [Row(subject, "fail", str(exc), exc.exit_code)]
    try:
        await admin.start()
        existing = set(await admin.list_topics())
    except (KafkaError, OSError) as exc:
        error = await kafka_error(kafka, exc, "")
        return [Row(subject, "fail", str(error), error.exit_code)]
    finally:
        await admin.close()
    how: str = kafka.security_protocol
    if kafka.security_protocol.startswith("SASL_"):
        how += f" {kafka.sasl_mechanism}"
    rows = [Row(subject, "ok", f"reachable ({how})")]
    if kafka.security_protocol in ("SSL", "SASL_SSL") and not kafka.ssl_check_hostname:
        rows.append(
            Row(
                f"{subject} TLS",
                "warn",
                "kafka.ssl_check_hostname = false: any certificate from a trusted CA is "
                "accepted for any broker",
            )
        )
    for topic in wanted_topics(kafka, list(STREAM_NAMES)):
        if topic in existing:
            rows.append(Row(f"topic {topic}", "ok", "exists"))
        elif kafka.create_topics:
            rows.append(Row(f"topic {topic}", "warn", "missing; `streamer run` will create it"))
        else:
            rows.append(Row(f"topic {topic}", "fail", "missing and kafka.create_topics = false", 5))
    return rows
