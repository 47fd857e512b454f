"""The reference point: what a user would write instead of the streamer.

A plain, sequential script on the official Dropbox SDK (``dropbox.DropboxTeam``) that lists
what the streamer lists (team info and features, members including removed ones, every
member's devices, linked apps, the audit log since ``--since``) and produces each record, as
the SDK's own JSON of it, to Kafka with aiokafka (same producer settings as the streamer:
acks=all, idempotence, zstd, key = team member id). No diffing, no state, no events: only
fetch → encode → produce. The SDK retries a 429 forever, sleeping what the answer says.

The SDK needs HTTPS and reads its host at import time, so run it as::

    DROPBOX_API_HOST=127.0.0.1:PORT REQUESTS_CA_BUNDLE=ca.pem \\
        python bench/sdk_reference.py --bootstrap 127.0.0.1:29092 --prefix sdk1 \\
        --since 2026-01-01T00:00:00Z --result out.json

Prints nothing; writes ``{"sync_wall", "sync_cpu", "records", ...}`` to ``--result``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dropbox  # type: ignore[import-untyped]
import orjson
from aiokafka import AIOKafkaProducer
from dropbox import team, team_common, team_log
from dropbox.stone_serializers import json_encode  # type: ignore[import-untyped]

FEATURES = [
    team.Feature.upload_api_rate_limit,
    team.Feature.has_team_shared_dropbox,
    team.Feature.has_team_file_events,
    team.Feature.has_team_selective_sync,
    team.Feature.has_distinct_member_homes,
]

Record = tuple[str, str | None, Any, Any]  # topic suffix, key, SDK object, its validator


def listing(dbx: dropbox.DropboxTeam, since: datetime) -> Iterator[Record]:
    """Every record of a full listing, page after page, in the order the API gives them."""
    info = dbx.team_get_info()
    yield "team", None, info, team.TeamGetInfoResult_validator
    features = dbx.team_features_get_values(FEATURES)
    yield "team", None, features, team.FeaturesGetValuesBatchResult_validator

    page = dbx.team_members_list_v2(include_removed=True)
    while True:
        for member in page.members:
            yield "members", member.profile.team_member_id, member, team.TeamMemberInfoV2_validator
        if not page.has_more:
            break
        page = dbx.team_members_list_continue_v2(page.cursor)

    devices = dbx.team_devices_list_members_devices()
    while True:
        for entry in devices.devices:
            yield "sessions", entry.team_member_id, entry, team.MemberDevices_validator
        if not devices.has_more:
            break
        devices = dbx.team_devices_list_members_devices(cursor=devices.cursor)

    apps = dbx.team_linked_apps_list_members_linked_apps()
    while True:
        for linked in apps.apps:
            yield "apps", linked.team_member_id, linked, team.MemberLinkedApps_validator
        if not apps.has_more:
            break
        apps = dbx.team_linked_apps_list_members_linked_apps(cursor=apps.cursor)

    log = dbx.team_log_get_events(time=team_common.TimeRange(start_time=since))
    while True:
        for event in log.events:
            yield "audit", None, event, team_log.TeamEvent_validator
        if not log.has_more:
            break
        log = dbx.team_log_get_events_continue(log.cursor)


def peak_rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


async def run(args: argparse.Namespace) -> dict[str, Any]:
    producer = AIOKafkaProducer(
        bootstrap_servers=args.bootstrap,
        acks="all",
        enable_idempotence=True,
        compression_type="zstd",
        linger_ms=5,
    )
    await producer.start()
    dbx = dropbox.DropboxTeam(
        oauth2_refresh_token=args.refresh_token, app_key=args.app_key, app_secret=args.app_secret
    )
    records = 0
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        for suffix, key, obj, validator in listing(dbx, args.since):
            value = json_encode(validator, obj).encode()
            await producer.send(
                f"{args.prefix}.{suffix}", value=value, key=key.encode() if key else None
            )
            records += 1
        await producer.flush()
        return {
            "sync_wall": time.perf_counter() - wall,
            "sync_cpu": time.process_time() - cpu,
            "records": records,
            "peak_rss_kb": peak_rss_kb(),
        }
    finally:
        await producer.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--prefix", required=True, help="topics are <prefix>.<stream>")
    parser.add_argument("--since", required=True, help="audit log start, e.g. 2026-01-01T00:00:00Z")
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--app-key", default="sim-app-key")
    parser.add_argument("--app-secret", default="sim-app-secret")
    parser.add_argument("--refresh-token", default="sim-refresh-token")
    args = parser.parse_args()
    args.since = datetime.strptime(args.since, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    result = asyncio.run(run(args))
    args.result.write_bytes(orjson.dumps(result))


if __name__ == "__main__":
    main()
