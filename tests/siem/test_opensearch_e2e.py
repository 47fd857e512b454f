"""End to end into a real SIEM backend: the Dropbox simulator -> ``streamer run`` (native topics
and OCSF topics) -> a real Kafka broker -> docs/recipes/opensearch_indexer.py -> a real
OpenSearch 2.19 and a real Elasticsearch 7.10 OSS.

The simulated team (300 members, seed 6, churn x20) is polled twice, a baseline and 4 simulated
hours later. Then, per engine: the documents per event type equal the distinct events Kafka
holds, a second indexer run (another consumer group, so it reads everything again) adds none,
the mappings did not grow, and the detection queries of docs/recipes/opensearch.md answer what
the simulator's ground truth (GET /admin/truth at the baseline, GET /admin/changes, its audit
log) says they must.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streamer.config import STREAM_NAMES
from streamer.simulator import SimulatorConfig, SimulatorServer
from streamer.simulator.generate import ADMIN_ROLES
from tests.e2e.streamer_process import run_streamer, write_toml
from tests.integration.connector_support import read_topics
from tests.siem import truth
from tests.siem.support import (
    buckets,
    client,
    counts_line,
    flat_mapping,
    hits_sources,
    query,
    request,
    run_indexer,
    run_query,
    template_mapping,
)

# its first test also builds the pipeline (4 streamer runs, 2 indexer runs): a deadline,
# not a speed target
pytestmark = [pytest.mark.kafka, pytest.mark.search, pytest.mark.timeout(900)]

MEMBERS, SEED, CHURN = 300, 6, 20.0  # a seed whose 4 hours hold every detection's pattern
ADVANCE = timedelta(hours=4)
FORMATS = ("native", "ocsf")
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


@dataclass
class Pipeline:
    now: datetime  # simulated time of the second poll
    truth0: dict[str, Any]  # GET /admin/truth at the baseline poll
    changes: list[dict[str, Any]]  # GET /admin/changes after the second poll
    audit_log: list[dict[str, Any]]  # the simulator's team_log records
    topics: dict[str, list[str]]  # format -> its five event topics
    kafka: dict[str, Counter[str]]  # format -> event type -> distinct event ids in Kafka
    records: int  # records in all ten topics (read_committed)


def streamer_config(path: Path, sim_url: str, bootstrap: str, fmt: str) -> list[str]:
    """Write the config of the worker of one format; return its event topics."""
    prefix = f"siem{uuid.uuid4().hex[:8]}"
    topics = {name: f"{prefix}.{name}" for name in (*STREAM_NAMES, "state")}
    tables: dict[str, dict[str, Any]] = {
        "teams.acme": {
            "app_key": "sim-app-key",
            "app_secret": "sim-app-secret",
            "refresh_token": "sim-refresh-token",
            "api_url": sim_url,
            "token_url": f"{sim_url}/oauth2/token",
        },
        "kafka": {"bootstrap_servers": bootstrap, "partitions": 3},
        "kafka.topics": topics,
        # the whole audit history the simulator has (7 days before its start)
        "streams.audit": {"lookback": 10 * 86400},
        "metrics": {"enabled": False},
    }
    if fmt == "ocsf":
        tables["kafka.formats"] = dict.fromkeys(STREAM_NAMES, "ocsf")
    write_toml(path, tables)
    return [topics[s] for s in STREAM_NAMES]


async def poll(configs: dict[str, Path]) -> None:
    """``streamer run --once`` of both workers at the same time."""
    runs = await asyncio.gather(
        *(run_streamer("run", "--once", "--config", str(c), env={}) for c in configs.values())
    )
    for run in runs:
        assert run.proc.returncode == 0, run.output


@pytest.fixture(scope="session")
def pipeline(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    """Built once per session (the simulator only lives while it is built), whatever order
    the engines' tests run in."""
    return asyncio.run(build_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("siem")))


async def build_pipeline(kafka_bootstrap: str, tmp: Path) -> Pipeline:
    # simulated time: yesterday 06:00-10:00 UTC, so "today" and "the last hour" of the
    # simulation lie in the past of the streamer's wall clock, whatever time the test runs
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = midnight - timedelta(hours=18)
    server = SimulatorServer(SimulatorConfig(members=MEMBERS, seed=SEED, churn=CHURN, start=start))
    async with server.running(host="127.0.0.1", port=0) as sim, aiohttp.ClientSession() as http:
        configs = {fmt: tmp / f"{fmt}.toml" for fmt in FORMATS}
        topics = {
            fmt: streamer_config(configs[fmt], sim.url, kafka_bootstrap, fmt) for fmt in FORMATS
        }
        await poll(configs)  # the baseline
        async with http.get(f"{sim.url}/admin/truth") as response:
            truth0 = await response.json()
        body = {"seconds": ADVANCE.total_seconds()}
        async with http.post(f"{sim.url}/admin/advance", json=body) as response:
            now = truth.parse_time((await response.json())["now"])
        await poll(configs)
        async with http.get(f"{sim.url}/admin/changes") as response:
            changes = (await response.json())["changes"]
        audit_log = list(sim.world.audit_log())

        kafka: dict[str, Counter[str]] = {}
        records = 0
        for fmt in FORMATS:
            read, _ = await read_topics(kafka_bootstrap, topics[fmt])
            records += len(read.messages)
            ids: dict[str, set[bytes]] = {}
            for message in read.messages:
                assert message.event is not None
                native = message.event if fmt == "native" else message.event["unmapped"]
                ids.setdefault(native["event_type"], set()).add(message.headers["event_id"])
            kafka[fmt] = Counter({t: len(found) for t, found in ids.items()})
        return Pipeline(now, truth0, changes, audit_log, topics, kafka, records)


@dataclass
class Indexed:
    url: str
    prefix: str
    first: dict[str, int]  # the indexer's counts of its first run
    dead_letter_topic: str


@pytest.fixture(scope="session")
def indexed(pipeline: Pipeline, search_url: str, kafka_bootstrap: str) -> Indexed:
    """Templates installed and every topic of both formats indexed once, per engine."""
    return asyncio.run(index_once(pipeline, search_url, kafka_bootstrap))


async def index_once(pipeline: Pipeline, search_url: str, kafka_bootstrap: str) -> Indexed:
    prefix = f"e2e{uuid.uuid4().hex[:8]}"
    code, err = await run_indexer("install", "--url", search_url, "--prefix", prefix)
    assert code == 0, err
    dead_letter = f"{prefix}.dead-letter"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(dead_letter, 1, 1)])
    finally:
        await admin.close()
    first = await index_all(pipeline, search_url, kafka_bootstrap, prefix, dead_letter)
    engine = client(search_url)
    try:
        await request(engine, "POST", f"/{prefix}-*/_refresh")
    finally:
        await engine.close()
    return Indexed(search_url, prefix, first, dead_letter)


async def index_all(
    pipeline: Pipeline, url: str, bootstrap: str, prefix: str, dead_letter: str
) -> dict[str, int]:
    """One indexer run over the ten topics, as a new consumer group."""
    code, err = await run_indexer(
        "index",
        "--url",
        url,
        "--prefix",
        prefix,
        "--bootstrap-servers",
        bootstrap,
        "--group",
        f"{prefix}-{uuid.uuid4().hex[:6]}",
        "--dead-letter-topic",
        dead_letter,
        "--exit-when-idle",
        "3",
        *pipeline.topics["native"],
        *pipeline.topics["ocsf"],
    )
    assert code == 0, err
    return counts_line(err)


async def engine_counts(url: str, prefix: str) -> dict[str, Counter[str]]:
    """format -> event type -> documents."""
    fields = {"native": "event_type", "ocsf": "unmapped.event_type"}
    engine = client(url)
    try:
        out = {}
        for fmt, field in fields.items():
            body = {"size": 0, "aggs": {"t": {"terms": {"field": field, "size": 100}}}}
            result = await request(engine, "POST", f"/{prefix}-{fmt}-*/_search", body)
            out[fmt] = Counter({b["key"]: b["doc_count"] for b in buckets(result, "t")})
            total = result["hits"]["total"]
            assert sum(out[fmt].values()) == total["value"], "every document has its type"
        return out
    finally:
        await engine.close()


async def test_each_event_in_kafka_is_one_document_and_a_rerun_adds_none(
    pipeline: Pipeline, indexed: Indexed, kafka_bootstrap: str
) -> None:
    distinct = sum(sum(c.values()) for c in pipeline.kafka.values())
    assert distinct > 2000, pipeline.kafka  # baseline + 4 hours of a 300-member team, 2 formats
    assert set(pipeline.kafka["native"]) >= {
        "team.snapshot",
        "member.snapshot",
        "member.activity",
        "member.suspended",
        "web_session.started",
        "session.network_changed",
        "app.linked",
        "audit.event",
    }
    assert pipeline.kafka["native"] == pipeline.kafka["ocsf"], "one fact, two formats"

    counts = await engine_counts(indexed.url, indexed.prefix)
    assert counts == pipeline.kafka
    first = indexed.first
    assert first["received"] == pipeline.records
    assert first["created"] == distinct
    assert (first["dead_lettered"], first["undecodable"]) == (0, 0)

    again = await index_all(
        pipeline, indexed.url, kafka_bootstrap, indexed.prefix, indexed.dead_letter_topic
    )
    assert (again["created"], again["already_indexed"]) == (0, distinct)
    engine = client(indexed.url)
    try:
        await request(engine, "POST", f"/{indexed.prefix}-*/_refresh")
    finally:
        await engine.close()
    assert await engine_counts(indexed.url, indexed.prefix) == pipeline.kafka


async def test_indexing_everything_adds_no_field_to_the_mappings(indexed: Indexed) -> None:
    engine = client(indexed.url)
    try:
        mappings = await request(engine, "GET", f"/{indexed.prefix}-*/_mapping")
    finally:
        await engine.close()
    assert len(mappings) == 10  # one backing index per topic and format
    for index, body in mappings.items():
        fmt = index.split("-")[1]
        assert flat_mapping(body["mappings"]["properties"]) == template_mapping(fmt), index
        assert str(body["mappings"]["dynamic"]).lower() == "false"


# --- detections ----------------------------------------------------------------------------------


async def new_country_sessions(engine: Any, fmt: str, prefix: str, now: datetime) -> set[str]:
    started = await run_query(engine, f"new-country-{fmt}", prefix, now)
    found = set()
    for source in hits_sources(started):
        if fmt == "native":
            member = source["user"]["team_member_id"]
            session, country = source["device"]["session_id"], source["network"]["country"]
        else:
            member, session = source["user"]["uid"], source["session"]["uid"]
            country = source["src_endpoint"]["location"]["country"]
        check = await run_query(
            engine,
            f"new-country-{fmt}-check",
            prefix,
            now,
            MEMBER_ID=member,
            COUNTRY=country,
            SESSION_ID=session,
        )
        if check["count"] == 0:
            found.add(session)
    return found


async def suspended_today(engine: Any, fmt: str, prefix: str, now: datetime) -> set[str]:
    result = await run_query(engine, f"suspended-today-{fmt}", prefix, now)
    return {b["id"]["buckets"][0]["key"] for b in buckets(result, "members")}


async def apps_linked(engine: Any, fmt: str, prefix: str, now: datetime) -> dict[str, int]:
    result = await run_query(engine, f"apps-linked-{fmt}", prefix, now)
    return {b["key"]: b["members"]["value"] for b in buckets(result, "apps")}


async def admins(engine: Any, fmt: str, prefix: str, now: datetime) -> set[str]:
    result = await run_query(engine, f"admins-{fmt}", prefix, now)
    return {b["key"] for b in buckets(result, "admins")}


async def sign_ins(
    engine: Any, fmt: str, prefix: str, now: datetime, members: set[str] | None
) -> list[tuple[str, datetime, str]]:
    """(member, time, country) of the doc's sign-in query; without ``members``, its ``terms``
    filter is dropped (every member)."""
    method, path, body = query(f"sign-ins-{fmt}", prefix, now, ADMIN_IDS=sorted(members or ["x"]))
    if members is None:
        body["query"]["bool"]["filter"] = [
            f for f in body["query"]["bool"]["filter"] if "terms" not in f
        ]
    result = await request(engine, method, path, body)
    rows = []
    for s in hits_sources(result):
        if fmt == "native":
            when = truth.parse_time(s["event_time"])
            rows.append((s["user"]["team_member_id"], when, s["network"]["country"]))
        else:
            when = datetime.fromtimestamp(s["time"] / 1000, UTC)
            rows.append((s["user"]["uid"], when, s["src_endpoint"]["location"]["country"]))
    return rows


@pytest.mark.parametrize("fmt", FORMATS)
async def test_detection_queries_answer_what_the_simulator_did(
    fmt: str, pipeline: Pipeline, indexed: Indexed
) -> None:
    now, changes, prefix = pipeline.now, pipeline.changes, indexed.prefix
    engine = client(indexed.url)
    try:
        # web sessions from a new country in the last hour: some started, not all are new
        expected = truth.new_country_web_sessions(pipeline.truth0, changes, now - HOUR, now)
        started_last_hour = {
            c["subject_id"]
            for c in changes
            if c["kind"] == "web_session.started" and truth.parse_time(c["at"]) >= now - HOUR
        }
        assert 1 <= len(expected) < len(started_last_hour), "the seed holds the pattern"
        assert await new_country_sessions(engine, fmt, prefix, now) == expected

        # members suspended today
        midnight = now.replace(hour=0, minute=0, second=0)
        expected_suspended = truth.suspended_between(changes, midnight, now)
        assert expected_suspended
        assert await suspended_today(engine, fmt, prefix, now) == expected_suspended

        # apps linked by more than N members in the last day
        n = 2
        linked = await apps_linked(engine, fmt, prefix, now)
        expected_apps = truth.apps_linked_by_more_than(changes, n, now - DAY, now)
        assert expected_apps
        assert {app: count for app, count in linked.items() if count > n} == expected_apps
        assert truth.apps_linked_by_more_than(changes, 0, now - DAY, now) == linked

        # admins who signed in from two countries within an hour (and, since the simulated
        # admins sign in about once a week, every member with a one-day window)
        expected_admins = truth.admins(pipeline.truth0, [r.role_id for r in ADMIN_ROLES])
        assert expected_admins
        assert await admins(engine, fmt, prefix, now) == expected_admins
        logins = truth.sign_ins(pipeline.audit_log)
        week = now - timedelta(days=7)
        found_admins = truth.two_countries_within(
            await sign_ins(engine, fmt, prefix, now, expected_admins), HOUR, week, now
        )
        assert found_admins == truth.two_countries_within(logins, HOUR, week, now, expected_admins)
        found_members = truth.two_countries_within(
            await sign_ins(engine, fmt, prefix, now, None), DAY, week, now
        )
        expected_members = truth.two_countries_within(logins, DAY, week, now)
        assert expected_members
        assert found_members == expected_members
    finally:
        await engine.close()
