"""Error wire format over real HTTP: 400 plain text, 401/409/429 JSON envelopes that decode
STRICTLY with the SDK's error validators, exact Content-Type, 404 / 405."""

from __future__ import annotations

from typing import Any

import dropbox.auth as a
import dropbox.team as t
import dropbox.team_log as tl
import pytest

from streamer.clock import ManualClock
from streamer.simulator import SimulatorServer
from tests.integration import test_simulator_support as support
from tests.integration.test_simulator_support import Api, Reply, strict

# fixtures shared by the simulator tests
api = support.api
clock = support.clock
sim = support.sim


def assert_text_400(reply: Reply, route: str, fragment: str) -> None:
    assert reply.status == 400, reply.text
    assert reply.content_type.startswith("text/plain")
    assert reply.text.startswith(f'Error in call to API function "{route}": ')
    assert fragment in reply.text


def route_error(reply: Reply, validator: Any) -> dict[str, Any]:
    """A 409: exact JSON content type; the envelope's error decodes strictly."""
    assert reply.status == 409, reply.text
    assert reply.content_type == "application/json"
    body = reply.json
    assert set(body) == {"error_summary", "error"}
    strict(validator, body["error"])
    assert body["error_summary"].startswith(body["error"][".tag"] + "/")
    return dict(body["error"])


def auth_error(reply: Reply) -> dict[str, Any]:
    assert reply.status == 401, reply.text
    assert reply.content_type == "application/json"
    body = reply.json
    strict(a.AuthError_validator, body["error"])
    assert body["error_summary"].startswith(body["error"][".tag"] + "/")
    return dict(body["error"])


# --- 400 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "raw", "fragment"),
    [
        ("team/members/list_v2", b"{not json", "request body: could not decode input as JSON"),
        ("team/members/list_v2", b"", "request body: could not decode input as JSON"),
        ("team/members/list_v2", b"[]", "request body: expected object, got list"),
        (
            "team/members/list_v2",
            b'{"limit": 0}',
            "request body: limit: 0 is not within range [1, 1000]",
        ),
        ("team/members/list_v2", b'{"limit": 1001}', "limit: 1001 is not within range [1, 1000]"),
        ("team/members/list_v2", b'{"limit": "5"}', "limit: expected integer, got string"),
        ("team/members/list_v2", b'{"limit": 2.5}', "limit: expected integer, got float"),
        (
            "team/members/list_v2",
            b'{"include_removed": "yes"}',
            "include_removed: 'yes' is not a valid boolean",
        ),
        ("team/members/list/continue_v2", b"{}", "missing required field 'cursor'"),
        ("team/members/list/continue_v2", b'{"cursor": 5}', "cursor"),
        ("team/get_info", b'{"x": 1}', "expected null, got object"),
        (
            "team/members/get_info_v2",
            b'{"members": [{".tag": "nick", "nick": "x"}]}',
            "unknown tag 'nick'",
        ),
        (
            "team/features/get_values",
            b'{"features": ["no_such_feature"]}',
            "unknown tag 'no_such_feature'",
        ),
        (
            "team/devices/list_members_devices",
            b'{"include_web_sessions": 1}',
            "is not a valid boolean",
        ),
        ("team_log/get_events", b'{"limit": 0}', "limit: 0 is not within range [1, 1000]"),
        ("team_log/get_events", b'{"category": "nope"}', "category: unknown tag 'nope'"),
        (
            "team_log/get_events",
            b'{"time": {"start_time": "2026-01-01T00:00:00.5Z"}}',
            "time.start_time",
        ),
        ("team_log/get_events", b'{"account_id": "dbid:short"}', "account_id"),
    ],
)
async def test_bad_arguments_are_plain_text_400(
    api: Api, route: str, raw: bytes, fragment: str
) -> None:
    assert_text_400(await api.rpc(route, raw=raw), route, fragment)


async def test_unknown_request_fields_are_tolerated(api: Api) -> None:
    reply = await api.rpc("team/members/list_v2", {"limit": 3, "brand_new_field": {"x": 1}})
    assert reply.status == 200


async def test_request_content_type_is_checked(api: Api) -> None:
    reply = await api.rpc(
        "team/get_info", raw=b"null", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert_text_400(
        reply,
        "team/get_info",
        'Bad HTTP "Content-Type" header: "application/x-www-form-urlencoded"',
    )
    ok = await api.rpc(
        "team/get_info", raw=b"null", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert ok.status == 200
    cors = await api.rpc(
        "team/get_info",
        raw=b"null",
        headers={"Content-Type": "text/plain; charset=dropbox-cors-hack"},
    )
    assert cors.status == 200


async def test_authorization_header_problems_are_400(api: Api) -> None:
    missing = await api.post(
        "/2/team/get_info", body=b"null", headers={"Content-Type": "application/json"}
    )
    assert_text_400(missing, "team/get_info", 'Must provide HTTP header "Authorization"')
    basic = await api.rpc("team/get_info", headers={"Authorization": "Basic c2ltOnNpbQ=="})
    assert_text_400(basic, "team/get_info", 'Expecting "Bearer <oauth2-access-token>"')
    malformed = await api.rpc("team/get_info", token="has spaces in it")
    assert_text_400(malformed, "team/get_info", "access token is malformed")


async def test_unknown_route_is_404_text_and_get_is_405(api: Api) -> None:
    reply = await api.rpc("team/groups/list_everything", {})
    assert reply.status == 404
    assert reply.content_type.startswith("text/plain")
    assert "Unknown API function" in reply.text
    reply = await api.get("/2/team/get_info")
    assert reply.status == 405
    assert reply.content_type.startswith("text/plain")


# --- 401 ----------------------------------------------------------------------------------------


async def test_unknown_token_is_invalid_access_token(api: Api) -> None:
    error = auth_error(await api.rpc("team/get_info", token="sl.not-a-token"))
    assert error == {".tag": "invalid_access_token"}
    assert (await api.rpc("team/get_info", token="sl.not-a-token")).json[
        "error_summary"
    ] == "invalid_access_token/.."


async def test_expired_token(api: Api, sim: SimulatorServer, clock: ManualClock) -> None:
    assert (await api.rpc("team/get_info")).status == 200
    clock.advance(sim.faults.token_lifetime_s - 1)
    assert (await api.rpc("team/get_info")).status == 200
    clock.advance(1)
    assert auth_error(await api.rpc("team/get_info")) == {".tag": "expired_access_token"}
    # the lifetime knob applies to tokens minted afterwards
    sim.faults.token_lifetime_s = 60
    short = sim.issue_token()
    clock.advance(59)
    assert (await api.rpc("team/get_info", token=short)).status == 200
    clock.advance(1)
    assert auth_error(await api.rpc("team/get_info", token=short))[".tag"] == "expired_access_token"


async def test_admin_expires_all_tokens_at_once(api: Api) -> None:
    assert (await api.rpc("team/get_info")).status == 200
    reply = await api.post("/admin/expire_tokens")
    assert reply.json == {"expired": 1}
    assert auth_error(await api.rpc("team/get_info")) == {".tag": "expired_access_token"}


@pytest.mark.parametrize(
    ("route", "arg", "scope"),
    [
        ("team_log/get_events", {}, "events.read"),
        ("team_log/get_events/continue", {"cursor": "x"}, "events.read"),
        ("team/members/list_v2", {}, "members.read"),
        ("team/devices/list_members_devices", {}, "sessions.list"),
        ("team/get_info", None, "team_info.read"),
    ],
)
async def test_missing_scope(
    api: Api, sim: SimulatorServer, route: str, arg: Any, scope: str
) -> None:
    everything = frozenset(sim.config.scopes)
    token = sim.issue_token(everything - {scope})
    error = auth_error(await api.rpc(route, arg, token=token))
    assert error == {".tag": "missing_scope", "required_scope": scope}
    assert (await api.rpc(route, arg, token=token)).json["error_summary"] == "missing_scope/.."


# --- 409 ----------------------------------------------------------------------------------------


async def test_members_continue_with_bad_cursor(api: Api) -> None:
    page = (await api.rpc("team/members/list_v2", {"limit": 2})).json
    tampered = page["cursor"][:-2] + ("AA" if not page["cursor"].endswith("AA") else "BB")
    for cursor in ["garbage", "", tampered]:
        error = route_error(
            await api.rpc("team/members/list/continue_v2", {"cursor": cursor}),
            t.MembersListContinueError_validator,
        )
        assert error == {".tag": "invalid_cursor"}


async def test_cursor_of_another_listing_is_rejected(api: Api) -> None:
    devices = (await api.rpc("team/devices/list_members_devices", {})).json
    reply = await api.rpc("team/members/list/continue_v2", {"cursor": devices["cursor"]})
    assert route_error(reply, t.MembersListContinueError_validator) == {".tag": "invalid_cursor"}


async def test_devices_and_apps_bad_cursor_is_reset(api: Api) -> None:
    reply = await api.rpc("team/devices/list_members_devices", {"cursor": "forged"})
    assert route_error(reply, t.ListMembersDevicesError_validator) == {".tag": "reset"}
    reply = await api.rpc("team/linked_apps/list_members_linked_apps", {"cursor": "forged"})
    assert route_error(reply, t.ListMembersAppsError_validator) == {".tag": "reset"}


async def test_team_log_bad_cursor_and_reset(api: Api, sim: SimulatorServer) -> None:
    reply = await api.rpc("team_log/get_events/continue", {"cursor": "forged"})
    assert route_error(reply, tl.GetTeamEventsContinueError_validator) == {".tag": "bad_cursor"}
    page = (await api.rpc("team_log/get_events", {"limit": 10})).json
    last_ts = page["events"][-1]["timestamp"]
    sim.cursors.invalidate_all()
    error = route_error(
        await api.rpc("team_log/get_events/continue", {"cursor": page["cursor"]}),
        tl.GetTeamEventsContinueError_validator,
    )
    assert error == {".tag": "reset", "reset": last_ts}
    reply = await api.rpc("team_log/get_events/continue", {"cursor": page["cursor"]})
    assert reply.json["error_summary"] == "reset/.."


async def test_member_not_found(api: Api) -> None:
    reply = await api.rpc("team/devices/list_member_devices", {"team_member_id": "dbmid:nobody"})
    assert route_error(reply, t.ListMemberDevicesError_validator) == {".tag": "member_not_found"}
    reply = await api.rpc(
        "team/linked_apps/list_member_linked_apps", {"team_member_id": "dbmid:nobody"}
    )
    assert route_error(reply, t.ListMemberAppsError_validator) == {".tag": "member_not_found"}


async def test_empty_features_list(api: Api) -> None:
    reply = await api.rpc("team/features/get_values", {"features": []})
    assert route_error(reply, t.FeaturesGetValuesBatchError_validator) == {
        ".tag": "empty_features_list"
    }


async def test_team_log_argument_errors(api: Api) -> None:
    reply = await api.rpc(
        "team_log/get_events",
        {"time": {"start_time": "2026-01-02T00:00:00Z", "end_time": "2026-01-01T00:00:00Z"}},
    )
    assert route_error(reply, tl.GetTeamEventsError_validator) == {".tag": "invalid_time_range"}
    reply = await api.rpc(
        "team_log/get_events", {"category": "logins", "event_type": "login_success"}
    )
    assert route_error(reply, tl.GetTeamEventsError_validator) == {".tag": "invalid_filters"}
    reply = await api.rpc("team_log/get_events", {"account_id": "dbid:" + "A" * 35})
    assert route_error(reply, tl.GetTeamEventsError_validator) == {".tag": "account_id_not_found"}


# --- 429 ----------------------------------------------------------------------------------------


async def test_token_bucket_answers_429_with_retry_after(
    api: Api, sim: SimulatorServer, clock: ManualClock
) -> None:
    sim.faults.update({"rate_limit_rps": 0.5, "burst": 3})
    statuses = [(await api.rpc("team/get_info")).status for _ in range(3)]
    assert statuses == [200, 200, 200]
    reply = await api.rpc("team/get_info")
    assert reply.status == 429
    assert reply.content_type == "application/json"
    assert reply.headers["Retry-After"] == "2"  # one token per 2 s
    body = reply.json
    assert body == {
        "error_summary": "too_many_requests/..",
        "error": {"reason": {".tag": "too_many_requests"}, "retry_after": 2},
    }
    strict(a.RateLimitError_validator, body["error"])
    clock.advance(1.5)
    assert (await api.rpc("team/get_info")).headers["Retry-After"] == "1"  # rounded up
    clock.advance(0.5)
    assert (await api.rpc("team/get_info")).status == 200
    assert sim.counters.get("team/get_info", 429) == 2
    # admin routes are never limited
    assert all([(await api.get("/admin/counters")).status == 200 for _ in range(10)])


async def test_plain_text_429(api: Api, sim: SimulatorServer) -> None:
    sim.faults.update({"throttle_next": 1, "throttle_retry_after": 9, "rate_limit_text_body": True})
    reply = await api.rpc("team/get_info")
    assert reply.status == 429
    assert reply.content_type.startswith("text/plain")
    assert reply.headers["Retry-After"] == "9"
