"""Every route over real HTTP: bodies decode STRICTLY with the SDK validators and page through
exactly the World's data."""

from __future__ import annotations

from typing import Any

import dropbox.team as t
import dropbox.team_common as tc
import dropbox.team_log as tl
import orjson

from streamer.clock import format_dropbox_time
from streamer.simulator import SimulatorServer
from tests.integration import test_simulator_support as support
from tests.integration.test_simulator_support import Api, encode, strict

# fixtures shared by the simulator tests
api = support.api
clock = support.clock
sim = support.sim

FEATURES = [
    t.Feature.upload_api_rate_limit,
    t.Feature.has_team_shared_dropbox,
    t.Feature.has_team_file_events,
    t.Feature.has_team_selective_sync,
    t.Feature.has_distinct_member_homes,
]


async def test_void_routes_accept_null(api: Api, sim: SimulatorServer) -> None:
    reply = await api.rpc("team/get_info", raw=b"null")
    assert reply.status == 200
    assert reply.content_type == "application/json"
    assert reply.json == sim.world.team_info()
    strict(t.get_info.result_type, reply.json)
    assert (await api.rpc("team/get_info", raw=b"{}")).status == 200

    admin = await api.ok(
        "team/token/get_authenticated_admin", None, t.token_get_authenticated_admin.result_type
    )
    admin_id = sim.world.admin_member_id()
    assert admin["admin_profile"] == sim.world.member_info(admin_id)["profile"]


async def test_features_get_values(api: Api, sim: SimulatorServer) -> None:
    arg = encode(t.features_get_values.arg_type, t.FeaturesGetValuesBatchArg(features=FEATURES))
    body = await api.ok("team/features/get_values", arg, t.features_get_values.result_type)
    names = [f[".tag"] for f in arg["features"]]
    assert body == {"values": sim.world.feature_values(names)}
    assert len(body["values"]) == 5
    # bare-string tags are fine too
    body = await api.ok("team/features/get_values", {"features": ["has_team_file_events"]})
    assert body == {"values": sim.world.feature_values(["has_team_file_events"])}


async def list_members(api: Api, limit: int, include_removed: bool) -> list[dict[str, Any]]:
    arg = encode(
        t.members_list_v2.arg_type, t.MembersListArg(limit=limit, include_removed=include_removed)
    )
    page = await api.ok("team/members/list_v2", arg, t.members_list_v2.result_type)
    members = list(page["members"])
    assert len(page["members"]) <= limit
    cursors = {page["cursor"]}
    while page["has_more"]:
        assert len(page["members"]) == limit  # only the last page may be short
        arg = encode(
            t.members_list_continue_v2.arg_type, t.MembersListContinueArg(cursor=page["cursor"])
        )
        page = await api.ok(
            "team/members/list/continue_v2", arg, t.members_list_continue_v2.result_type
        )
        members.extend(page["members"])
        cursors.add(page["cursor"])
    assert len(cursors) > 1 or len(members) <= limit
    return members


async def test_members_list_pages_through_everyone(api: Api, sim: SimulatorServer) -> None:
    world = sim.world
    active = [m for m in world.member_order() if not world.is_removed(m)]
    for limit in (7, 1000):
        members = await list_members(api, limit, include_removed=False)
        assert [m["profile"]["team_member_id"] for m in members] == active
        assert members == [world.member_info(m) for m in active]
    everyone = await list_members(api, 13, include_removed=True)
    assert [m["profile"]["team_member_id"] for m in everyone] == world.member_order()
    assert any(world.is_removed(m) for m in world.member_order()), "world has no removed member"


async def test_members_list_defaults_and_limit(api: Api, sim: SimulatorServer) -> None:
    page = await api.ok("team/members/list_v2", {}, t.members_list_v2.result_type)
    active = [m for m in sim.world.member_order() if not sim.world.is_removed(m)]
    assert len(page["members"]) == len(active)
    assert page["has_more"] is False
    page = await api.ok("team/members/list_v2", {"limit": 1, "future_field": 1})  # lenient
    assert len(page["members"]) == 1
    assert page["has_more"] is True


async def test_members_listing_survives_a_changing_world(api: Api, sim: SimulatorServer) -> None:
    page = await api.ok("team/members/list_v2", {"limit": 10})
    seen = [m["profile"]["team_member_id"] for m in page["members"]]
    changes = sim.advance(30 * 86400)
    assert changes, "a month of churn should change something"
    while page["has_more"]:
        page = await api.ok(
            "team/members/list/continue_v2",
            {"cursor": page["cursor"]},
            t.members_list_continue_v2.result_type,
        )
        seen.extend(m["profile"]["team_member_id"] for m in page["members"])
    assert len(seen) == len(set(seen))
    order = sim.world.member_order()
    assert set(seen) >= {m for m in order[10:] if not sim.world.is_removed(m)}


async def test_members_get_info_v2(api: Api, sim: SimulatorServer) -> None:
    world = sim.world
    order = world.member_order()
    first, second = world.member_info(order[0])["profile"], world.member_info(order[1])["profile"]
    selectors = [
        t.UserSelectorArg.team_member_id(first["team_member_id"]),
        t.UserSelectorArg.email(second["email"]),
        t.UserSelectorArg.team_member_id("dbmid:nobody"),
        t.UserSelectorArg.email("nobody@example.com"),
    ]
    with_external = [m for m in order if "external_id" in world.member_info(m)["profile"]]
    if with_external:
        ext = world.member_info(with_external[0])["profile"]["external_id"]
        selectors.append(t.UserSelectorArg.external_id(ext))
    arg = encode(t.members_get_info_v2.arg_type, t.MembersGetInfoV2Arg(members=selectors))
    body = await api.ok("team/members/get_info_v2", arg, t.members_get_info_v2.result_type)
    items = body["members_info"]
    assert items[0] == {".tag": "member_info", **world.member_info(order[0])}
    assert items[1] == {".tag": "member_info", **world.member_info(order[1])}
    assert items[2] == {".tag": "id_not_found", "id_not_found": "dbmid:nobody"}
    assert items[3] == {".tag": "id_not_found", "id_not_found": "nobody@example.com"}
    if with_external:
        assert items[4] == {".tag": "member_info", **world.member_info(with_external[0])}


async def test_list_members_devices_pages_through_all_devices(
    api: Api, sim: SimulatorServer
) -> None:
    world = sim.world
    expected = [d for m in world.member_order() if (d := world.member_devices(m)) is not None]
    sim.faults.devices_page_size = 25
    assert len(expected) > 25, "need more than one page"
    route = t.devices_list_members_devices
    first = encode(route.arg_type, t.ListMembersDevicesArg())
    page = await api.ok("team/devices/list_members_devices", first, route.result_type)
    got = list(page["devices"])
    pages = 1
    while page["has_more"]:
        arg = encode(route.arg_type, t.ListMembersDevicesArg(cursor=page["cursor"]))
        page = await api.ok("team/devices/list_members_devices", arg, route.result_type)
        got.extend(page["devices"])
        pages += 1
    assert got == expected
    assert pages == -(-len(expected) // sim.faults.devices_page_size)


async def test_device_include_flags(api: Api, sim: SimulatorServer) -> None:
    arg = {
        "include_web_sessions": False,
        "include_desktop_clients": True,
        "include_mobile_clients": False,
    }
    page = await api.ok(
        "team/devices/list_members_devices", arg, t.devices_list_members_devices.result_type
    )
    assert page["devices"]
    for entry in page["devices"]:
        assert set(entry) <= {"team_member_id", "desktop_clients"}
        assert (
            entry["desktop_clients"]
            == sim.world.member_devices(entry["team_member_id"])["desktop_clients"]
        )


async def test_list_member_devices(api: Api, sim: SimulatorServer) -> None:
    world = sim.world
    member = next(m for m in world.member_order() if world.member_devices(m) is not None)
    route = t.devices_list_member_devices
    arg = encode(route.arg_type, t.ListMemberDevicesArg(team_member_id=member))
    body = await api.ok("team/devices/list_member_devices", arg, route.result_type)
    assert body == world.member_devices_single(member)
    body = await api.ok(
        "team/devices/list_member_devices",
        {"team_member_id": member, "include_web_sessions": False},
    )
    assert "active_web_sessions" not in body


async def test_list_members_linked_apps_pages_through_all_apps(
    api: Api, sim: SimulatorServer
) -> None:
    world = sim.world
    expected = [a for m in world.member_order() if (a := world.member_linked_apps(m)) is not None]
    assert expected, "world has no linked apps"
    sim.faults.apps_page_size = 10
    route = t.linked_apps_list_members_linked_apps
    page = await api.ok(
        "team/linked_apps/list_members_linked_apps",
        encode(route.arg_type, t.ListMembersAppsArg()),
        route.result_type,
    )
    got = list(page["apps"])
    while page["has_more"]:
        assert len(page["apps"]) == 10
        arg = encode(route.arg_type, t.ListMembersAppsArg(cursor=page["cursor"]))
        page = await api.ok("team/linked_apps/list_members_linked_apps", arg, route.result_type)
        got.extend(page["apps"])
    assert got == expected


async def read_events(api: Api, arg: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    page = await api.ok("team_log/get_events", arg, tl.get_events.result_type)
    events = list(page["events"])
    cursors = [page["cursor"]]
    while page["has_more"]:
        page = await api.ok(
            "team_log/get_events/continue",
            {"cursor": page["cursor"]},
            tl.get_events_continue.result_type,
        )
        events.extend(page["events"])
        cursors.append(page["cursor"])
    assert len(set(cursors)) == len(cursors), "cursor must change on every call"
    return events, page["cursor"]


async def test_team_log_pages_through_the_audit_log(api: Api, sim: SimulatorServer) -> None:
    world = sim.world
    log = world.audit_log()
    expected = [log[i] for i in world.audit_events(None, None, None)]
    assert len(expected) > 100
    arg = encode(tl.get_events.arg_type, tl.GetTeamEventsArg(limit=100))
    events, _ = await read_events(api, arg)
    assert events == expected


async def test_team_log_filters(api: Api, sim: SimulatorServer) -> None:
    world = sim.world
    log = world.audit_log()
    logins = [log[i] for i in world.audit_events(None, None, "logins")]
    arg = encode(
        tl.get_events.arg_type, tl.GetTeamEventsArg(limit=50, category=tl.EventCategory.logins)
    )
    assert (await read_events(api, arg))[0] == logins

    start = world.now.replace(hour=0, minute=0, second=0)
    window = [log[i] for i in world.audit_events(start, world.now, None)]
    time_range = tc.TimeRange(
        start_time=start.replace(tzinfo=None), end_time=world.now.replace(tzinfo=None)
    )
    arg = encode(tl.get_events.arg_type, tl.GetTeamEventsArg(limit=1000, time=time_range))
    assert arg["time"]["start_time"] == format_dropbox_time(start)
    assert (await read_events(api, arg))[0] == window

    if logins:
        tag = logins[0]["event_type"][".tag"]
        same_type = [
            e
            for e in (log[i] for i in world.audit_events(None, None, None))
            if e["event_type"][".tag"] == tag
        ]
        got, _ = await read_events(api, {"event_type": {".tag": tag}})
        assert got == same_type


async def test_team_log_continue_polls_new_events(api: Api, sim: SimulatorServer) -> None:
    events, cursor = await read_events(api, {"limit": 500})
    assert len(events) == len(sim.world.audit_log())
    empty = await api.ok(
        "team_log/get_events/continue", {"cursor": cursor}, tl.get_events_continue.result_type
    )
    assert (empty["events"], empty["has_more"]) == ([], False)
    assert empty["cursor"] != cursor
    before = len(sim.world.audit_log())
    sim.advance(6 * 3600)
    new = sim.world.audit_log()[before:]
    assert new, "six hours should produce audit events"
    got: list[dict[str, Any]] = []
    page = {"cursor": empty["cursor"], "has_more": True}
    while True:
        page = await api.ok(
            "team_log/get_events/continue",
            {"cursor": page["cursor"]},
            tl.get_events_continue.result_type,
        )
        got.extend(page["events"])
        if not page["has_more"]:
            break
    assert got == new


async def test_every_response_has_a_request_id(api: Api) -> None:
    replies = [
        await api.rpc("team/get_info"),
        await api.rpc("team/nope"),
        await api.rpc("team/members/list_v2", {"limit": 0}),
        await api.rpc("team/get_info", token="sl.unknown"),
        await api.get("/admin/counters"),
        await api.token_request(
            {
                "grant_type": "refresh_token",
                "refresh_token": "x",
                "client_id": "sim-app-key",
                "client_secret": "sim-app-secret",
            }
        ),
    ]
    ids = [r.headers["X-Dropbox-Request-Id"] for r in replies]
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert len(set(ids)) == len(ids)


async def snapshot(api: Api) -> dict[str, Any]:
    """Everything the listings show (one big page each)."""
    members = await api.ok("team/members/list_v2", {"include_removed": True})
    assert not members["has_more"]
    devices: list[Any] = []
    apps: list[Any] = []
    for route, key, out in (
        ("team/devices/list_members_devices", "devices", devices),
        ("team/linked_apps/list_members_linked_apps", "apps", apps),
    ):
        page = await api.ok(route, {})
        out.extend(page[key])
        while page["has_more"]:
            page = await api.ok(route, {"cursor": page["cursor"]})
            out.extend(page[key])
    web_only = await api.ok(
        "team/devices/list_members_devices",
        {"include_desktop_clients": False, "include_mobile_clients": False},
    )
    return {
        "members": members["members"],
        "devices": devices,
        "apps": apps,
        "web_only": web_only["devices"],
        "team": await api.ok("team/get_info"),
    }


def world_snapshot(sim: SimulatorServer) -> dict[str, Any]:
    world = sim.world
    order = world.member_order()
    return {
        "members": [world.member_info(m) for m in order],
        "devices": [d for m in order if (d := world.member_devices(m)) is not None],
        "apps": [a for m in order if (a := world.member_linked_apps(m)) is not None],
        "web_only": [
            d for m in order if (d := world.member_devices(m, desktop=False, mobile=False))
        ][: sim.faults.devices_page_size],
        "team": world.team_info(),
    }


async def test_cached_pages_follow_world_changes(api: Api, sim: SimulatorServer) -> None:
    """The server caches encoded records and drops only what a Change touches: after each
    advance every listing must still equal the World's fresh answer."""
    sim.faults.devices_page_size = 1000
    sim.faults.apps_page_size = 1000
    before = await snapshot(api)
    assert before == world_snapshot(sim)
    for days in (1, 7, 60):
        sim.advance(days * 86400)
        after = await snapshot(api)
        assert after == world_snapshot(sim)
    assert orjson.dumps(before) != orjson.dumps(after)


async def test_warm_up_fills_caches_without_changing_answers(
    api: Api, sim: SimulatorServer
) -> None:
    sim.faults.devices_page_size = 1000
    sim.faults.apps_page_size = 1000
    await sim.warm_up()
    assert await snapshot(api) == world_snapshot(sim)
    sim.advance(3 * 86400)
    await sim.warm_up()
    assert await snapshot(api) == world_snapshot(sim)
