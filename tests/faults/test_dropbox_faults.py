"""Dropbox misbehaves, one fault per test; the service runs against the simulator over HTTP and
the real broker, and what a read_committed consumer sees is compared with the ground truth.

Recoverable faults (429 storms, 5xx bursts, dropped connections, answers slower than the
timeout, truncated and malformed bodies, unknown fields and tags, cursor resets, tokens that
expire every minute) must cost time, never events: the delivered facts equal the predicted
ones exactly, with no duplicate. Unrecoverable ones (a revoked refresh token, a route that
loses its scope) end the run with one clear line and the documented exit code, and a run
after the fix delivers what was missing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from streamer.errors import EXIT_CODES
from streamer.metrics import Metrics
from streamer.simulator import DEFAULT_SCOPES, Faults, SimulatorConfig
from tests.faults.conftest import Reliability, Simulator, running
from tests.faults.harness import (
    Before,
    Delivered,
    Fact,
    FastClock,
    Worker,
    change_facts,
    event_topics,
    fact_diff,
    first_cycle_facts,
    now_floor,
    read_all,
    run_in_process,
    topics_of,
    worker_config,
    write_config,
)
from tests.faults.test_crash import check_in_flight_only

pytestmark = pytest.mark.kafka

MEMBERS = 60
PAGE = 6  # members per devices / linked-apps page: ~10 pages per listing
DEVICES = "team/devices/list_members_devices"
APPS = "team/linked_apps/list_members_linked_apps"
AUDIT_CONTINUE = "team_log/get_events/continue"


def team(faults: Faults | None = None, **config: Any) -> SimulatorConfig:
    faults = faults or Faults()
    faults.devices_page_size = faults.apps_page_size = PAGE
    return SimulatorConfig(
        members=MEMBERS, seed=21, start=now_floor(), audit_days=1, faults=faults, **config
    )


def count(sim: Simulator, status: int | str, routes: list[str] | None = None) -> int:
    counters = sim.counters.snapshot()
    return sum(n.get(str(status), 0) for r, n in counters.items() if routes is None or r in routes)


async def delivered(bootstrap: str, config: dict[str, Any]) -> Delivered:
    return Delivered.of(await read_all(bootstrap, event_topics(config)))


def exact(got: Delivered, expected: Counter[Fact]) -> None:
    assert got.facts == expected, fact_diff(expected, got.facts)
    assert got.duplicated == 0, list(got.duplicates)[:5]


def retries(metrics: Metrics) -> int:
    """API calls and token refreshes that were tried again."""
    total = 0.0
    for family in (*metrics.api_retries.collect(), *metrics.token_refreshes.collect()):
        for sample in family.samples:
            if sample.name.endswith("_total") and sample.labels.get("outcome", "retry") == "retry":
                total += sample.value
    return int(total)


def record(reliability: Reliability, scenario: str, expected: Counter[Fact], got: Delivered,
           note: str) -> None:  # fmt: skip
    reliability.record(
        scenario,
        runs=1,
        expected=sum(expected.values()),
        delivered=len(got.by_id),
        duplicated=got.duplicated,
        note=note,
    )


# --- recoverable: slower, never lossy ---------------------------------------------------------

RECOVERABLE = {
    # name: (faults, http settings, counter status that proves the fault fired, at least)
    "429 storm": (
        Faults(throttle_next=6, throttle_rate=0.1, throttle_retry_after=1),
        {},
        ("429", 6),
    ),
    "5xx burst": (Faults(error_next=5, error_rate=0.15, error_status=503), {}, ("503", 5)),
    "connection reset": (Faults(drop_next=3, drop_rate=0.1), {}, ("drop", 3)),
    "answer slower than the timeout": (
        Faults(slow_next=2, slow_rate=0.05, slow_ms=2500),
        {"timeout": 1.0},
        None,
    ),
    "truncated JSON": (Faults(truncate_next=3, truncate_rate=0.1), {}, ("truncate", 3)),
    "malformed JSON": (Faults(malformed_next=3, malformed_rate=0.1), {}, ("malformed", 3)),
}


@pytest.mark.parametrize("name", list(RECOVERABLE))
async def test_a_recoverable_fault_costs_time_not_events(
    name: str, kafka_bootstrap: str, reliability: Reliability
) -> None:
    faults, http, proof = RECOVERABLE[name]
    async with running(team(faults)) as sim:
        expected = first_cycle_facts(sim.world)
        config = worker_config(sim.url, kafka_bootstrap, http=http)
        metrics = await run_in_process(config)
        if proof is not None:
            status, at_least = proof
            assert count(sim, status) >= at_least, sim.counters.snapshot()
    got = await delivered(kafka_bootstrap, config)
    exact(got, expected)
    spent = retries(metrics)
    assert spent >= 2, "the fault should have cost retries"
    record(reliability, f"Dropbox: {name}", expected, got, f"{spent} retries")


# --- forward compatibility --------------------------------------------------------------------


async def test_unknown_fields_and_tags_reach_kafka(
    kafka_bootstrap: str, reliability: Reliability
) -> None:
    served: list[bytes] = []  # the team info the team stream was given (connect asks too)

    def team_info(request: web.Request, response: Any) -> None:
        if request.path == "/2/team/get_info":
            served.append(bytes(response.body))
        elif request.path == "/2/team/features/get_values" and len(served) > 1:
            del served[:-1]  # the answer the stream's state came from

    async with running(team(Faults(unknown_field_rate=0.5, unknown_tag_rate=0.5))) as sim:
        expected = first_cycle_facts(sim.world)
        config = worker_config(sim.url, kafka_bootstrap)
        sim.on_response = team_info
        await run_in_process(config)
        sim.on_response = None
        # Next poll: churn, unknown fields again (differently placed: they must not look like
        # changes), no unknown tags (an unknown policy value that becomes known is a change).
        before = Before.of(sim.world)
        changes = sim.advance(4 * 3600)
        expected += change_facts(sim.world, before, changes)
        if b"sim_future_policy" in served[-1]:
            expected[("team.changed", sim.world.team_id)] = 1
        sim.faults.unknown_tag_rate = 0.0
        await run_in_process(config)
    got = await delivered(kafka_bootstrap, config)
    exact(got, expected)

    events = [r.event for r in got.records]
    raw_with_field = [e for e in events if "sim_future_field" in str(e.get("raw"))]
    future_audit = [e for e in events if "sim_future_event" in str(e.get("audit"))]
    future_platform = [
        e for e in events if (e.get("device") or {}).get("client_type") == "sim_future_platform"
    ]
    assert raw_with_field, "unknown fields are kept in raw"
    assert future_audit, "audit events of an unknown type are delivered, typed as they came"
    assert future_platform, "an unknown client platform is delivered as it came"
    record(
        reliability,
        "Dropbox: unknown fields and union tags",
        expected,
        got,
        f"{len(raw_with_field)} with unknown fields, {len(future_audit)} unknown audit types, "
        f"{len(future_platform)} unknown platforms",
    )


# --- cursors ----------------------------------------------------------------------------------


def reset_after(sim: Simulator, route: str, pages: int) -> Callable[[web.Request, Any], None]:
    """Once ``route`` has answered ``pages`` times, its next cursor call answers ``reset``."""
    answered = 0

    def hook(request: web.Request, response: Any) -> None:
        nonlocal answered
        if request.path == f"/2/{route}" and response.status == 200:
            answered += 1
            if answered == pages:
                sim.faults.reset_next += 1

    return hook


async def test_a_cursor_reset_in_the_middle_of_a_listing_loses_and_repeats_nothing(
    kafka_bootstrap: str, reliability: Reliability
) -> None:
    async with running(team(Faults(routes=[DEVICES, APPS, AUDIT_CONTINUE]))) as sim:
        expected = first_cycle_facts(sim.world)
        config = worker_config(sim.url, kafka_bootstrap)
        hooks = [reset_after(sim, DEVICES, 4), reset_after(sim, APPS, 3)]
        sim.on_response = lambda request, response: [h(request, response) for h in hooks]
        await run_in_process(config)
        first_resets = count(sim, 409)
        # the audit log's stored cursor, reset: the log is read again from the reset time
        before = Before.of(sim.world)
        changes = sim.advance(4 * 3600)
        expected += change_facts(sim.world, before, changes)
        sim.on_response = None
        sim.faults.reset_next = 1
        await run_in_process(config)
        audit_resets = count(sim, 409, [AUDIT_CONTINUE])
    assert first_resets >= 2, sim.counters.snapshot()
    assert audit_resets == 1, sim.counters.snapshot()
    got = await delivered(kafka_bootstrap, config)
    exact(got, expected)
    record(reliability, "Dropbox: cursor reset mid-listing (devices, apps, audit)", expected,
           got, f"{first_resets + audit_resets} resets")  # fmt: skip


# --- tokens -----------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_access_tokens_expiring_every_minute_are_transparent(
    kafka_bootstrap: str, reliability: Reliability
) -> None:
    # Both sides run 60x faster: a 60 s token lives one real second. Each answer takes 20 s
    # of that time, so the sync spans several token lifetimes; a call may meet a token that
    # just died (401 expired_access_token), the rest ride on the refresh ahead of expiry.
    clock = FastClock(60)
    faults = Faults(token_lifetime_s=60, latency_ms=20_000)
    async with running(team(faults), clock=clock) as sim:
        expected = first_cycle_facts(sim.world)
        config = worker_config(sim.url, kafka_bootstrap, http={"max_concurrency": 2})
        started = clock.monotonic()
        await run_in_process(config, clock=clock)
        simulated = clock.monotonic() - started
        refreshes = count(sim, 200, ["oauth2/token"])
    assert simulated > 4 * 60, f"the sync took only {simulated:.0f} simulated seconds"
    assert refreshes >= simulated // 60, sim.counters.snapshot()
    got = await delivered(kafka_bootstrap, config)
    exact(got, expected)
    record(reliability, "Dropbox: access token expires every 60 s", expected, got,
           f"{refreshes} tokens over {simulated / 60:.0f} simulated minutes")  # fmt: skip


def one_error_line(worker: Worker) -> str:
    """The single ``error:`` line a fatal exit prints (and no traceback)."""
    stderr = worker.stderr()
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert errors[0] == stderr.splitlines()[-1]
    return errors[0]


async def test_a_refresh_token_revoked_mid_run_exits_3_and_a_new_one_recovers(
    kafka_bootstrap: str, tmp_path: Path, reliability: Reliability
) -> None:
    async with running(team()) as sim:
        expected = first_cycle_facts(sim.world)
        config = worker_config(sim.url, kafka_bootstrap)
        path = write_config(tmp_path / "streamer.toml", config)
        answered = 0

        def revoke_after_some_pages(request: web.Request, response: Any) -> None:
            nonlocal answered
            answered += 1
            if answered == 12:  # the app is unlinked: tokens die, refresh is refused
                sim.server.revoke_refresh_token(access_tokens=True)

        sim.on_response = revoke_after_some_pages
        worker = await Worker(path, name="revoked").start()
        code = await worker.wait(60)
        line = one_error_line(worker)
        sim.on_response = None
        sim.faults.refresh_token_revoked = False  # a new refresh token, as after re-linking
        again = await Worker(path, name="relinked").start()
        assert await again.wait(60) == 0, again.tail()

    assert code == 3, worker.tail()
    assert "revoked refresh token" in EXIT_CODES[3]  # what the documentation says
    assert "streamer auth" in line, line
    assert "sim-refresh-token" not in worker.stderr(), "no secret in the output"
    got = await delivered(kafka_bootstrap, config)
    assert got.facts == expected, fact_diff(expected, got.facts)
    state = await read_all(kafka_bootstrap, [topics_of(config)["state"]])
    check_in_flight_only(got, state, [worker])
    record(reliability, "Dropbox: refresh token revoked mid-run, then re-linked", expected, got,
           "exit 3 with one line; the next run completed")  # fmt: skip


# --- scopes -----------------------------------------------------------------------------------


async def test_a_route_losing_its_scope_exits_4_naming_the_scope(
    kafka_bootstrap: str, tmp_path: Path, reliability: Reliability
) -> None:
    async with running(team()) as sim:
        expected = first_cycle_facts(sim.world)
        config = worker_config(sim.url, kafka_bootstrap)
        path = write_config(tmp_path / "streamer.toml", config)
        before = Before.of(sim.world)
        assert await (await Worker(path, name="granted").start()).wait(60) == 0
        changes = sim.advance(4 * 3600)
        # an admin unticks sessions.list: new tokens lack it, the live ones expire
        sim.oauth.scopes = frozenset(DEFAULT_SCOPES) - {"sessions.list"}
        sim.expire_tokens()
        worker = await Worker(path, name="revoked-scope").start()
        code = await worker.wait(60)
        line = one_error_line(worker)
        sim.oauth.scopes = frozenset(DEFAULT_SCOPES)  # ticked again, new refresh token
        sim.expire_tokens()
        assert await (await Worker(path, name="regranted").start()).wait(60) == 0
        expected += change_facts(sim.world, before, changes)

    assert code == 4, worker.tail()
    assert "missing scope" in EXIT_CODES[4]
    assert "sessions.list" in line
    assert "App Console" in line
    got = await delivered(kafka_bootstrap, config)
    assert got.facts == expected, fact_diff(expected, got.facts)
    state = await read_all(kafka_bootstrap, [topics_of(config)["state"]])
    check_in_flight_only(got, state, [worker])
    record(reliability, "Dropbox: sessions.list scope removed mid-life, then granted", expected,
           got, "exit 4 naming the scope; the next run delivered the rest")  # fmt: skip


async def test_losing_events_read_turns_the_audit_stream_off_and_the_rest_goes_on(
    kafka_bootstrap: str, reliability: Reliability
) -> None:
    async with running(team()) as sim:
        expected = first_cycle_facts(sim.world)
        config = worker_config(sim.url, kafka_bootstrap)
        await run_in_process(config)
        before = Before.of(sim.world)
        changes = sim.advance(4 * 3600)
        sim.oauth.scopes = frozenset(DEFAULT_SCOPES) - {"events.read"}
        sim.expire_tokens()
        await run_in_process(config)
        missing_scope = count(sim, 401, ["team_log/get_events/continue"])
    churn = change_facts(sim.world, before, changes)
    audit = ("audit.event", "-")
    expected += Counter({k: v for k, v in churn.items() if k != audit})
    assert missing_scope >= 1
    got = await delivered(kafka_bootstrap, config)
    exact(got, expected)
    record(reliability, "Dropbox: events.read removed (audit turns itself off)", expected, got,
           f"{churn[audit]} audit events not readable without the scope")  # fmt: skip
