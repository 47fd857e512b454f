"""The connector end to end: the simulator over HTTP, the real Kafka broker, the real service.

Predictions come from the simulator's ground truth (``world.truth()`` and the changes that
``advance`` reports), never from the connector's own output.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from streamer.clock import ManualClock, SystemClock, parse_dropbox_time
from streamer.simulator import Faults, SimulatorConfig, SimulatorServer
from tests.integration.connector_support import (
    event_topics,
    make_settings,
    read_topics,
    run_once,
)

pytestmark = pytest.mark.kafka

MEMBERS = 500
LOOKBACK = timedelta(days=2)

STARTED = {"web": "web_session.started", "desktop": "desktop_client.linked",
           "mobile": "mobile_client.linked"}  # fmt: skip
FIRST_SEEN = {"active": "member.joined", "invited": "member.invited",
              "suspended": "member.suspended"}  # fmt: skip


TOPIC_OF_PREFIX = {
    "team": "team",
    "member": "members",
    "web_session": "sessions",
    "desktop_client": "sessions",
    "mobile_client": "sessions",
    "session": "sessions",
    "app": "apps",
    "audit": "audit",
}


@pytest.fixture
async def sim() -> AsyncIterator[Any]:
    server = SimulatorServer(SimulatorConfig(members=MEMBERS, seed=7))
    async with server.running(host="127.0.0.1", port=0, ssl_context=None) as running:
        yield running


def clock_at(sim: Any) -> ManualClock:
    return ManualClock(start=sim.world.now)


def predicted_first_cycle(sim: Any, *, with_changes: bool) -> Counter[str]:
    truth = sim.world.truth()
    members = truth["members"].values()
    expected: Counter[str] = Counter()
    expected["team.snapshot"] = 1
    expected["member.snapshot"] = len(truth["members"])
    expected["member.activity"] = sum(1 for m in members if m["status"] != "removed")
    expected["session.snapshot"] = len(truth["sessions"])
    expected["app.snapshot"] = len(truth["apps"])
    since = sim.world.now - LOOKBACK
    expected["audit.event"] = len(sim.world.audit_events(since, None, None))
    if with_changes:
        for member in members:
            if member["status"] in FIRST_SEEN:
                expected[FIRST_SEEN[member["status"]]] += 1
        for session in truth["sessions"].values():
            expected[STARTED[session["kind"]]] += 1
        expected["app.linked"] = len(truth["apps"])
    return +expected


async def test_first_cycle_is_a_quiet_baseline_of_snapshots(sim: Any, kafka_bootstrap: str) -> None:
    settings = make_settings(sim.url, kafka_bootstrap)
    await run_once(settings, clock_at(sim))
    read, _ = await read_topics(kafka_bootstrap, event_topics(settings))

    assert read.types() == predicted_first_cycle(sim, with_changes=False)
    ids = [e["event_id"] for e in read.events]
    assert len(ids) == len(set(ids))


async def test_first_cycle_can_report_everything_found_as_changes(
    sim: Any, kafka_bootstrap: str
) -> None:
    settings = make_settings(sim.url, kafka_bootstrap, events={"first_poll": "changes"})
    await run_once(settings, clock_at(sim))
    read, _ = await read_topics(kafka_bootstrap, event_topics(settings))

    assert read.types() == predicted_first_cycle(sim, with_changes=True)
    ids = [e["event_id"] for e in read.events]
    assert len(ids) == len(set(ids))


async def test_events_are_keyed_by_member_and_carry_headers(sim: Any, kafka_bootstrap: str) -> None:
    settings = make_settings(sim.url, kafka_bootstrap)
    await run_once(settings, clock_at(sim))
    read, _ = await read_topics(kafka_bootstrap, event_topics(settings))

    team_id = sim.world.team_id
    for message in read.messages:
        event = message.event
        assert event is not None
        user = event.get("user")
        expected_key = user["team_member_id"] if user else team_id
        assert message.key == expected_key.encode()
        assert message.headers == {
            "event_type": event["event_type"].encode(),
            "event_id": event["event_id"].encode(),
            "schema_version": event["schema_version"].encode(),
            "team_id": team_id.encode(),
        }
        prefix = event["event_type"].split(".")[0]
        assert message.topic.rsplit(".", 1)[1] == TOPIC_OF_PREFIX[prefix]


async def test_sample_events_match_the_ground_truth_field_by_field(
    sim: Any, kafka_bootstrap: str
) -> None:
    settings = make_settings(sim.url, kafka_bootstrap, events={"first_poll": "changes"})
    await run_once(settings, clock_at(sim))
    read, _ = await read_topics(kafka_bootstrap, event_topics(settings))
    truth = sim.world.truth()

    joined = read.of_type("member.joined")
    for event in joined[:25]:
        member = truth["members"][event["user"]["team_member_id"]]
        assert event["user"]["email"] == member["email"]
        assert event["user"]["name"] == member["display_name"]
        assert event["user"]["status"] == "active"
        assert event["user"].get("account_id") == member["account_id"]
        assert event["event_time"] == member["joined_on"]

    for event in read.of_type("web_session.started")[:25]:
        session = truth["sessions"][event["device"]["session_id"]]
        assert event["user"]["team_member_id"] == session["member_id"]
        member = truth["members"][session["member_id"]]
        assert event["user"]["email"] == member["email"]  # enriched from the members stream
        assert event["device"]["kind"] == "web"
        assert event["network"].get("ip_address") == session.get("ip_address")
        assert event["network"].get("country") == session.get("country")
        assert event["device"]["browser"] == session["browser"]

    for event in read.of_type("app.linked")[:25]:
        key = f"{event['user']['team_member_id']}/{event['app']['app_id']}"
        assert event["app"]["app_name"] == truth["apps"][key]["app_name"]


async def test_next_cycle_emits_exactly_the_changes_that_happened(
    sim: Any, kafka_bootstrap: str
) -> None:
    settings = make_settings(sim.url, kafka_bootstrap)
    clock = clock_at(sim)
    await run_once(settings, clock)
    _, end = await read_topics(kafka_bootstrap, event_topics(settings))
    audit_before = sim.world.truth()["audit_events"]

    changes = sim.advance(3600)
    clock.advance(3600)
    assert changes, "the simulator should have produced churn in an hour"
    await run_once(settings, clock)
    read, _ = await read_topics(kafka_bootstrap, event_topics(settings), start=end)

    expected = Counter(c.kind for c in changes)
    expected["audit.event"] = sim.world.truth()["audit_events"] - audit_before
    assert read.types() == +expected
    # and the same subjects, not just the same counts
    subjects = Counter(
        (e["event_type"], (e.get("device") or {}).get("session_id")
         or (e.get("app") or {}).get("app_id") or e["user"]["team_member_id"])
        for e in read.events if e["event_type"] != "audit.event"
    )  # fmt: skip
    assert subjects == Counter((c.kind, c.subject_id or c.member_id) for c in changes)


async def test_restart_resumes_from_stored_state_without_reemitting(
    sim: Any, kafka_bootstrap: str
) -> None:
    settings = make_settings(sim.url, kafka_bootstrap)
    clock = clock_at(sim)
    await run_once(settings, clock)
    _, end = await read_topics(kafka_bootstrap, event_topics(settings))

    clock.advance(600)  # same snapshot slot; nothing changed at the source
    await run_once(settings, clock)  # a new process: state comes back from Kafka
    read, _ = await read_topics(kafka_bootstrap, event_topics(settings), start=end)
    assert read.types() == Counter()


async def test_exactly_once_mode_has_no_duplicates_for_read_committed(
    sim: Any, kafka_bootstrap: str
) -> None:
    settings = make_settings(
        sim.url, kafka_bootstrap, kafka={"delivery": "exactly_once", "transactional_id": "eos-t"}
    )
    clock = clock_at(sim)
    await run_once(settings, clock)
    sim.advance(1800)
    clock.advance(1800)
    await run_once(settings, clock)
    await run_once(settings, clock)

    read, _ = await read_topics(kafka_bootstrap, event_topics(settings), committed=True)
    ids = [e["event_id"] for e in read.events]
    assert len(ids) == len(set(ids))
    assert read.types()["member.snapshot"] == MEMBERS  # first cycle only
    state, _ = await read_topics(kafka_bootstrap, [settings.kafka.topics.state], committed=True)
    assert state.messages, "checkpoints are written in the same transactions"


async def test_rate_limiting_slows_the_run_but_loses_nothing(
    kafka_bootstrap: str,
) -> None:
    # small pages: ~70 requests, far more than 20/s with a bucket of 2 allows
    faults = Faults(rate_limit_rps=20, burst=2, devices_page_size=10, apps_page_size=10)
    server = SimulatorServer(SimulatorConfig(members=300, seed=3, faults=faults))
    async with server.running(host="127.0.0.1", port=0, ssl_context=None) as sim:
        settings = make_settings(
            sim.url,
            kafka_bootstrap,
            streams={"audit": {"enabled": False}},
            events={"snapshot_interval": 0, "first_poll": "changes"},
            http={"max_concurrency": 8},
        )
        metrics = await run_once(settings, SystemClock())
        read, _ = await read_topics(kafka_bootstrap, event_topics(settings))
        truth = sim.world.truth()
        assert sum(sim.counters.get(r, 429) for r in sim.counters.snapshot()) > 0
        assert metrics.api_rate_limited.labels("acme")._value.get() > 0

    expected: Counter[str] = Counter()
    for member in truth["members"].values():
        if member["status"] in FIRST_SEEN:
            expected[FIRST_SEEN[member["status"]]] += 1
    for session in truth["sessions"].values():
        expected[STARTED[session["kind"]]] += 1
    expected["app.linked"] = len(truth["apps"])
    assert read.types() == +expected


async def test_token_expiry_mid_run_is_transparent(sim: Any, kafka_bootstrap: str) -> None:
    settings = make_settings(sim.url, kafka_bootstrap)
    clock = clock_at(sim)
    metrics = await run_once(settings, clock)
    _, end = await read_topics(kafka_bootstrap, event_topics(settings))

    # Tokens now live 1 s, and the next cycle takes longer than that: 10 members per devices
    # page, each answer 30 ms late, ~40 pages in a row. The worker's clock stands still, so
    # only the server's 401 expired_access_token can tell it the token died.
    sim.faults.token_lifetime_s = 1
    sim.faults.latency_ms = 30
    sim.faults.devices_page_size = 10
    changes = sim.advance(3600)
    clock.advance(3600)
    await run_once(settings, clock, metrics=metrics)
    read, _ = await read_topics(kafka_bootstrap, event_topics(settings), start=end)
    assert sim.counters.get("team/devices/list_members_devices", 401) >= 1
    kinds = Counter(c.kind for c in changes)
    assert Counter({k: read.types()[k] for k in kinds}) == kinds


async def test_replay_reemits_inventory_without_touching_state(
    sim: Any, kafka_bootstrap: str
) -> None:
    settings = make_settings(sim.url, kafka_bootstrap)
    clock = clock_at(sim)
    await run_once(settings, clock)
    _, end = await read_topics(kafka_bootstrap, event_topics(settings))
    _, state_end = await read_topics(kafka_bootstrap, [settings.kafka.topics.state])

    clock.advance(60)
    await run_once(settings, clock, replay=True)
    read, _ = await read_topics(kafka_bootstrap, event_topics(settings), start=end)
    truth = sim.world.truth()
    assert read.types() == Counter(
        {
            "team.snapshot": 1,
            "member.snapshot": len(truth["members"]),
            "session.snapshot": len(truth["sessions"]),
            "app.snapshot": len(truth["apps"]),
        }
    )
    state, _ = await read_topics(kafka_bootstrap, [settings.kafka.topics.state], start=state_end)
    assert state.messages == []

    clock.advance(60)  # the live worker carries on as if nothing happened
    await run_once(settings, clock)
    after, _ = await read_topics(kafka_bootstrap, event_topics(settings), start=end)
    assert sum(1 for e in after.events if not e["event_type"].endswith(".snapshot")) == 0


async def test_backfill_replays_the_audit_log_window_beside_the_live_cursor(
    sim: Any, kafka_bootstrap: str
) -> None:
    settings = make_settings(sim.url, kafka_bootstrap)
    clock = clock_at(sim)
    until = sim.world.now - timedelta(days=1)
    since = until - timedelta(days=4)
    await run_once(settings, clock, backfill=(since, until))
    read, _ = await read_topics(kafka_bootstrap, [settings.kafka.topics.audit])

    log = sim.world.audit_log()
    expected = [log[i] for i in sim.world.audit_events(since, until, None)]
    assert len(read.events) == len(expected)
    assert {e["event_time"] for e in read.events} <= {r["timestamp"] for r in expected}
    for event in read.events:
        assert since <= parse_dropbox_time(event["event_time"]) < until

    # The live stream is untouched: its first run still reads its own lookback window.
    _, end = await read_topics(kafka_bootstrap, [settings.kafka.topics.audit])
    await run_once(settings, clock)
    live, _ = await read_topics(kafka_bootstrap, [settings.kafka.topics.audit], start=end)
    assert len(live.events) == len(sim.world.audit_events(sim.world.now - LOOKBACK, None, None))
    # events in both windows carry the same id, so consumers dedupe them
    overlap = {e["event_id"] for e in live.events} & {e["event_id"] for e in read.events}
    in_both = [
        r for r in expected if parse_dropbox_time(r["timestamp"]) >= sim.world.now - LOOKBACK
    ]
    assert len(overlap) == len(in_both)


async def test_audit_stream_turns_itself_off_without_events_read(kafka_bootstrap: str) -> None:
    scopes = ("account_info.read", "team_info.read", "members.read", "sessions.list")
    server = SimulatorServer(SimulatorConfig(members=40, seed=1, scopes=scopes))
    async with server.running(host="127.0.0.1", port=0, ssl_context=None) as sim:
        settings = make_settings(sim.url, kafka_bootstrap)
        await run_once(settings, ManualClock(start=sim.world.now))
        read, _ = await read_topics(kafka_bootstrap, event_topics(settings))
        assert sim.counters.get("team_log/get_events", 401) == 1
    assert read.types()["audit.event"] == 0
    assert read.types()["member.snapshot"] == 40


async def test_one_process_serves_several_teams_with_separate_state(
    kafka_bootstrap: str,
) -> None:
    first = SimulatorServer(SimulatorConfig(members=30, seed=11))
    second = SimulatorServer(SimulatorConfig(members=45, seed=12))
    async with (
        first.running(host="127.0.0.1", port=0, ssl_context=None) as a,
        second.running(host="127.0.0.1", port=0, ssl_context=None) as b,
    ):
        settings = make_settings(a.url, kafka_bootstrap)
        teams = {
            "east": settings.teams["acme"],
            "west": settings.teams["acme"].model_copy(
                update={"api_url": b.url, "token_url": f"{b.url}/oauth2/token"}
            ),
        }
        settings = settings.model_copy(update={"teams": teams})
        clock = ManualClock(start=max(a.world.now, b.world.now))
        await run_once(settings, clock)
        read, _ = await read_topics(kafka_bootstrap, event_topics(settings))
        state, _ = await read_topics(kafka_bootstrap, [settings.kafka.topics.state])

    snapshots = read.of_type("member.snapshot")
    by_team = Counter(e["team"]["id"] for e in snapshots)
    assert by_team == {a.world.team_id: 30, b.world.team_id: 45}
    state_teams = {m.key.decode().split("/")[0] for m in state.messages if m.key}
    assert state_teams == {"east", "west"}
