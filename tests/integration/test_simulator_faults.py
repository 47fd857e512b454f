"""Fault injection over real HTTP, counters and admin endpoints."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import dropbox.team as t
import dropbox.team_log as tl
import orjson
import pytest
from dropbox.stone_validators import ValidationError

from streamer.clock import ManualClock
from streamer.simulator import SimulatorServer
from tests.integration import test_simulator_support as support
from tests.integration.test_simulator_support import Api, lenient, make_config, strict

# fixtures shared by the simulator tests
api = support.api
clock = support.clock
sim = support.sim


async def test_injected_5xx_then_recovery(api: Api, sim: SimulatorServer) -> None:
    sim.faults.update({"error_next": 2, "error_status": 503})
    replies = [await api.rpc("team/get_info") for _ in range(3)]
    assert [r.status for r in replies] == [503, 503, 200]
    assert all("X-Dropbox-Request-Id" in r.headers for r in replies)
    sim.faults.update({"error_next": 1, "error_status": 500})
    assert (await api.rpc("team/members/list_v2", {})).status == 500
    assert sim.counters.snapshot() == {
        "team/get_info": {"503": 2, "200": 1},
        "team/members/list_v2": {"500": 1},
    }


async def test_dropped_connection(api: Api, sim: SimulatorServer) -> None:
    sim.faults.drop_next = 1
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.rpc("team/get_info")
    assert (await api.rpc("team/get_info")).status == 200
    assert sim.counters.snapshot()["team/get_info"] == {"drop": 1, "200": 1}


async def test_truncated_body(api: Api, sim: SimulatorServer) -> None:
    sim.faults.truncate_next = 1
    with pytest.raises(aiohttp.ClientPayloadError):
        await api.rpc("team/members/list_v2", {})
    assert (await api.rpc("team/members/list_v2", {})).status == 200
    assert sim.counters.get("team/members/list_v2", "truncate") == 1


async def test_malformed_body(api: Api, sim: SimulatorServer) -> None:
    sim.faults.malformed_next = 1
    reply = await api.rpc("team/members/list_v2", {})
    assert reply.status == 200
    assert reply.content_type == "application/json"
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(reply.body)
    assert orjson.loads((await api.rpc("team/members/list_v2", {})).body)


async def test_slow_answer_outlasts_client_timeout() -> None:
    server = SimulatorServer(make_config(slow_next=1, slow_ms=3000.0))  # real clock
    async with server.running() as sim, aiohttp.ClientSession() as session:
        api = Api(session, sim)
        with pytest.raises(asyncio.TimeoutError):
            async with asyncio.timeout(0.3):
                await api.rpc("team/get_info")
        reply = await api.rpc("team/get_info")
        assert reply.status == 200


async def test_latency_uses_the_server_clock(
    api: Api, sim: SimulatorServer, clock: ManualClock
) -> None:
    sim.faults.update({"latency_ms": 250, "jitter_ms": 0})
    await api.rpc("team/get_info")
    assert clock.slept == [0.25]
    await api.get("/admin/counters")  # admin routes are never delayed
    assert clock.slept == [0.25]


async def test_faults_can_target_routes(api: Api, sim: SimulatorServer) -> None:
    sim.faults.update({"error_rate": 1.0, "routes": ["team/devices/list_members_devices"]})
    assert (await api.rpc("team/get_info")).status == 200
    assert (await api.rpc("team/devices/list_members_devices", {})).status == 503


async def test_token_endpoint_can_fail_too(api: Api, sim: SimulatorServer) -> None:
    sim.faults.error_next = 1
    form = {"grant_type": "refresh_token", "refresh_token": "sim-refresh-token",
            "client_id": "sim-app-key", "client_secret": "sim-app-secret"}  # fmt: skip
    assert (await api.token_request(form)).status == 503
    assert (await api.token_request(form)).status == 200


async def test_fault_pattern_is_deterministic() -> None:
    async def run() -> list[int]:
        server = SimulatorServer(make_config(error_rate=0.3), clock=ManualClock())
        async with server.running() as sim, aiohttp.ClientSession() as session:
            api = Api(session, sim)
            return [(await api.rpc("team/get_info")).status for _ in range(40)]

    first, second = await run(), await run()
    assert first == second
    assert 200 in first
    assert 503 in first


# --- forward compatibility noise ----------------------------------------------------------------


async def test_unknown_fields_and_tags_need_lenient_decoding(
    api: Api, sim: SimulatorServer
) -> None:
    sim.faults.update({"unknown_field_rate": 1.0, "unknown_tag_rate": 1.0})
    checks: list[tuple[str, Any, Any]] = [
        ("team/get_info", None, t.get_info.result_type),
        ("team/members/list_v2", {"limit": 5}, t.members_list_v2.result_type),
        ("team/devices/list_members_devices", {}, t.devices_list_members_devices.result_type),
        (
            "team/linked_apps/list_members_linked_apps",
            {},
            t.linked_apps_list_members_linked_apps.result_type,
        ),
        ("team_log/get_events", {"limit": 20}, tl.get_events.result_type),
    ]
    for route, arg, validator in checks:
        body = (await api.rpc(route, arg)).json
        with pytest.raises(ValidationError):
            strict(validator, body)
        lenient(validator, body)  # what the SDK does: must not fail (closed unions untouched)

    devices = lenient(
        t.devices_list_members_devices.result_type,
        (await api.rpc("team/devices/list_members_devices", {})).json,
    )
    clients = [
        c for d in devices.devices for c in (d.desktop_clients or []) + (d.mobile_clients or [])
    ]
    assert clients
    assert all(c.client_type.is_other() for c in clients)
    events = lenient(
        tl.get_events.result_type, (await api.rpc("team_log/get_events", {"limit": 20})).json
    )
    assert all(e.event_type.is_other() and e.details.is_other() for e in events.events)
    info = lenient(t.get_info.result_type, (await api.rpc("team/get_info", None)).json)
    assert info.policies.emm_state.is_other()
    group_creation = info.policies.sharing.group_creation_policy  # closed union: never touched
    assert group_creation.is_admins_only() or group_creation.is_admins_and_members()


async def test_noise_off_again_is_strict_clean(api: Api, sim: SimulatorServer) -> None:
    sim.faults.unknown_field_rate = 1.0
    await api.rpc("team/members/list_v2", {})
    sim.faults.unknown_field_rate = 0.0
    strict(t.members_list_v2.result_type, (await api.rpc("team/members/list_v2", {})).json)


# --- cursor resets and page shapes --------------------------------------------------------------


async def test_reset_knob_hits_continue_calls(api: Api, sim: SimulatorServer) -> None:
    members = (await api.rpc("team/members/list_v2", {"limit": 5})).json
    devices = (await api.rpc("team/devices/list_members_devices", {})).json
    apps = (await api.rpc("team/linked_apps/list_members_linked_apps", {})).json
    events = (await api.rpc("team_log/get_events", {"limit": 5})).json
    sim.faults.reset_next = 4
    reply = await api.rpc("team/members/list/continue_v2", {"cursor": members["cursor"]})
    assert (reply.status, reply.json["error"]) == (409, {".tag": "invalid_cursor"})
    reply = await api.rpc("team/devices/list_members_devices", {"cursor": devices["cursor"]})
    assert (reply.status, reply.json["error"]) == (409, {".tag": "reset"})
    reply = await api.rpc("team/linked_apps/list_members_linked_apps", {"cursor": apps["cursor"]})
    assert (reply.status, reply.json["error"]) == (409, {".tag": "reset"})
    reply = await api.rpc("team_log/get_events/continue", {"cursor": events["cursor"]})
    assert reply.status == 409
    assert reply.json["error"] == {".tag": "reset", "reset": events["events"][-1]["timestamp"]}
    strict(tl.GetTeamEventsContinueError_validator, reply.json["error"])
    # first calls (no cursor) are never reset, and the knob is used up
    sim.faults.reset_next = 1
    assert (await api.rpc("team/members/list_v2", {})).status == 200
    assert (
        await api.rpc("team/members/list/continue_v2", {"cursor": members["cursor"]})
    ).status == 409
    assert (
        await api.rpc("team/members/list/continue_v2", {"cursor": members["cursor"]})
    ).status == 200


async def test_short_and_empty_team_log_pages_still_deliver_everything(
    api: Api, sim: SimulatorServer
) -> None:
    sim.faults.update({"empty_page_rate": 0.25, "short_page_rate": 0.25})
    expected = [sim.world.audit_log()[i] for i in sim.world.audit_events(None, None, None)]
    page = (await api.rpc("team_log/get_events", {"limit": 40})).json
    got = list(page["events"])
    sizes = [len(page["events"])]
    while page["has_more"]:
        page = (await api.rpc("team_log/get_events/continue", {"cursor": page["cursor"]})).json
        strict(tl.get_events_continue.result_type, page)
        got.extend(page["events"])
        sizes.append(len(page["events"]))
    assert got == expected
    assert 0 in sizes[:-1]
    assert any(0 < n < 40 for n in sizes[:-1])


# --- counters and admin -------------------------------------------------------------------------


async def test_counters_over_http(api: Api, sim: SimulatorServer) -> None:
    await api.rpc("team/get_info")
    await api.rpc("team/get_info")
    await api.rpc("team/members/list_v2", {"limit": 0})
    await api.rpc("team/unknown_route", {})
    reply = await api.get("/admin/counters")
    assert reply.json == {
        "team/get_info": {"200": 2},
        "team/members/list_v2": {"400": 1},
        "(unknown)": {"404": 1},
    }
    assert (await api.post("/admin/counters/reset")).status == 200
    assert (await api.get("/admin/counters")).json == {}
    assert sim.counters.snapshot() == {}


async def test_admin_faults_patch(api: Api, sim: SimulatorServer) -> None:
    reply = await api.post("/admin/faults", body=b'{"error_rate": 0.5, "latency_ms": 3}')
    assert reply.status == 200
    assert reply.json["error_rate"] == 0.5
    assert (sim.faults.error_rate, sim.faults.latency_ms) == (0.5, 3.0)
    bad = await api.post("/admin/faults", body=b'{"error_rate": 3}')
    assert bad.status == 400
    assert "error_rate" in bad.json["error"]
    unknown = await api.post("/admin/faults", body=b'{"warp_drive": true}')
    assert unknown.status == 400
    assert (await api.get("/admin/faults")).json == sim.faults.to_dict()


async def test_admin_time_and_truth(api: Api, sim: SimulatorServer) -> None:
    info = (await api.get("/admin/info")).json
    assert info["team_id"] == sim.world.team_id
    assert info["refresh_token"] == "sim-refresh-token"
    reply = await api.post("/admin/advance", body=b'{"seconds": 86400}')
    assert reply.status == 200
    body = reply.json
    assert body["changes"], "a day of churn changes something"
    assert body["now"] != info["now"]
    first = body["changes"][0]
    assert set(first) == {"kind", "member_id", "subject_id", "at", "details"}
    assert first["kind"] == sim.world.changes[0].kind
    since = (await api.get("/admin/changes", params={"since": "1"})).json
    assert since["next"] == len(sim.world.changes)
    assert since["changes"] == body["changes"][1:]
    truth = (await api.get("/admin/truth")).json
    assert truth == orjson.loads(orjson.dumps(sim.world.truth()))
    assert (await api.post("/admin/advance", body=b'{"seconds": -1}')).status == 400
    assert (await api.post("/admin/advance", body=b"nope")).status == 400
