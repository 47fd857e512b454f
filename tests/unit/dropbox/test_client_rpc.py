import asyncio
import random

import orjson
import pytest
from dbx_fakes import (
    API,
    APP_SECRET,
    BAD_REQUEST,
    EXPIRED,
    INVALID_TOKEN,
    MISSING_SCOPE,
    RATE_LIMITED_BODY,
    REFRESH_TOKEN,
    SERVER_ERROR,
    FakeDropbox,
    Request,
    Response,
    envelope,
    json_response,
    make_client,
    sample,
    text_response,
)

from streamer.clock import ManualClock
from streamer.dropbox import RateGate, RetryPolicy, TransportError
from streamer.errors import (
    BadRequestError,
    DropboxApiError,
    DropboxAuthError,
    MissingScopeError,
    RetryBudgetExhausted,
    RouteError,
)
from streamer.metrics import Metrics

ROUTE = "team/members/list_v2"
OK = json_response(200, {"members": [], "cursor": "c1", "has_more": False})


async def test_rpc_posts_json_with_bearer_token_and_returns_the_result() -> None:
    fake = FakeDropbox().on(ROUTE, OK)
    client = make_client(fake, ManualClock())
    result = await client.rpc(ROUTE, {"limit": 2, "include_removed": False})
    assert result == {"members": [], "cursor": "c1", "has_more": False}
    (call,) = fake.api_calls
    assert call.url == f"{API}/2/{ROUTE}"
    assert call.headers["Authorization"] == "Bearer sl.ACCESS-1"
    assert call.headers["Content-Type"] == "application/json"
    assert orjson.loads(call.data) == {"limit": 2, "include_removed": False}  # type: ignore[arg-type]


async def test_void_routes_send_the_literal_null_body() -> None:
    fake = FakeDropbox().on("team/get_info", json_response(200, {"name": "Acme"}))
    await make_client(fake, ManualClock()).rpc("team/get_info", None)
    assert fake.api_calls[0].data == b"null"


async def test_400_plain_text_is_a_bad_request_and_not_retried() -> None:
    fake = FakeDropbox().on(ROUTE, BAD_REQUEST)
    with pytest.raises(BadRequestError, match="unknown tag"):
        await make_client(fake, ManualClock()).rpc(ROUTE, {})
    assert len(fake.api_calls) == 1


async def test_expired_token_is_refreshed_once_and_the_call_retried() -> None:
    fake = FakeDropbox().on(ROUTE, EXPIRED, OK)
    metrics = Metrics()
    client = make_client(fake, ManualClock(), metrics=metrics)
    assert (await client.rpc(ROUTE, {}))["cursor"] == "c1"
    assert [c.headers["Authorization"] for c in fake.api_calls] == [
        "Bearer sl.ACCESS-1",
        "Bearer sl.ACCESS-2",
    ]
    labels = {"team": "acme", "route": ROUTE, "reason": "expired_token"}
    assert sample(metrics, "streamer_api_retries_total", **labels) == 1


async def test_a_401_right_after_a_refresh_refreshes_once_more_before_giving_up() -> None:
    fake = FakeDropbox().on(ROUTE, EXPIRED, EXPIRED, OK)
    assert (await make_client(fake, ManualClock()).rpc(ROUTE, {}))["cursor"] == "c1"
    assert len(fake.api_calls) == 3
    assert len(fake.token_calls) == 3


async def test_a_third_expiry_in_a_row_after_two_refreshes_is_an_auth_error() -> None:
    fake = FakeDropbox().on(ROUTE, EXPIRED, EXPIRED, EXPIRED, OK)
    with pytest.raises(DropboxAuthError, match="expired_access_token"):
        await make_client(fake, ManualClock()).rpc(ROUTE, {})
    assert len(fake.api_calls) == 3
    assert len(fake.token_calls) == 3


async def test_invalid_access_token_refreshes_twice_then_fails() -> None:
    fake = FakeDropbox().on(ROUTE, INVALID_TOKEN)
    with pytest.raises(DropboxAuthError, match="invalid_access_token"):
        await make_client(fake, ManualClock()).rpc(ROUTE, {})
    assert len(fake.api_calls) == 3
    assert len(fake.token_calls) == 3


async def test_missing_scope_names_the_route_and_the_scope() -> None:
    fake = FakeDropbox().on("team/groups/list", MISSING_SCOPE)
    with pytest.raises(MissingScopeError) as caught:
        await make_client(fake, ManualClock()).rpc("team/groups/list", {})
    assert caught.value.required_scope == "groups.read"
    assert caught.value.route == "team/groups/list"
    assert len(fake.api_calls) == 1


async def test_409_becomes_a_route_error_with_its_tag_and_is_not_retried() -> None:
    body = envelope("reset", reset="2017-01-25T15:51:30Z")
    fake = FakeDropbox().on("team_log/get_events/continue", json_response(409, body))
    with pytest.raises(RouteError) as caught:
        await make_client(fake, ManualClock()).rpc("team_log/get_events/continue", {"cursor": "x"})
    assert caught.value.tag == "reset"
    assert caught.value.error == {".tag": "reset", "reset": "2017-01-25T15:51:30Z"}
    assert len(fake.api_calls) == 1


async def test_403_is_an_api_error_with_the_request_id() -> None:
    body = envelope("invalid_account_type", invalid_account_type={".tag": "endpoint"})
    fake = FakeDropbox().on(ROUTE, json_response(403, body))
    with pytest.raises(DropboxApiError, match="9a64573c9c6137aee07442aeb73fe6c2"):
        await make_client(fake, ManualClock()).rpc(ROUTE, {})
    assert len(fake.api_calls) == 1


async def test_server_errors_are_retried_with_jittered_backoff() -> None:
    clock = ManualClock()
    fake = FakeDropbox().on(ROUTE, SERVER_ERROR, text_response(500, "oops"), OK)
    assert (await make_client(fake, clock).rpc(ROUTE, {}))["cursor"] == "c1"
    assert len(fake.api_calls) == 3
    assert len(clock.slept) == 2
    assert 0 <= clock.slept[0] <= 0.5
    assert 0 <= clock.slept[1] <= 1.0


async def test_malformed_or_truncated_json_on_200_is_retried() -> None:
    truncated = Response(200, {"Content-Type": "application/json"}, b'{"members": [{"profile"')
    fake = FakeDropbox().on(ROUTE, truncated, OK)
    metrics = Metrics()
    assert (await make_client(fake, ManualClock(), metrics=metrics).rpc(ROUTE, {}))["cursor"]
    labels = {"team": "acme", "route": ROUTE, "reason": "malformed"}
    assert sample(metrics, "streamer_api_retries_total", **labels) == 1


async def test_transport_errors_are_retried_but_not_non_retriable_ones() -> None:
    async def reset(request: Request) -> Response:
        raise TransportError("connection reset by peer")

    async def bad_cert(request: Request) -> Response:
        raise TransportError("TLS failure", retriable=False)

    fake = FakeDropbox().on(ROUTE, reset, OK)
    assert await make_client(fake, ManualClock()).rpc(ROUTE, {})
    fake = FakeDropbox().on(ROUTE, bad_cert)
    with pytest.raises(TransportError, match="TLS"):
        await make_client(fake, ManualClock()).rpc(ROUTE, {})
    assert len(fake.api_calls) == 1


async def test_retry_budget_exhaustion_names_the_route_and_last_error() -> None:
    fake = FakeDropbox().on(ROUTE, SERVER_ERROR)
    client = make_client(fake, ManualClock(), retry=RetryPolicy(max_attempts=4))
    with pytest.raises(RetryBudgetExhausted) as caught:
        await client.rpc(ROUTE, {})
    message = str(caught.value)
    assert ROUTE in message
    assert "4 attempt(s)" in message
    assert "HTTP 503" in message
    assert len(fake.api_calls) == 4
    assert caught.value.exit_code == 4


@pytest.mark.parametrize(
    ("answer", "expected_pause"),
    [
        (text_response(429, "slow down", {"Retry-After": "30"}), 30.0),
        (json_response(429, RATE_LIMITED_BODY), 300.0),  # body retry_after, no header
        (text_response(429, "too many requests"), 5.0),  # neither: the 5 s default
    ],
)
async def test_429_pauses_for_retry_after_then_retries(
    answer: Response, expected_pause: float
) -> None:
    clock = ManualClock()
    times: list[float] = []

    async def ok(request: Request) -> Response:
        times.append(clock.monotonic())
        return OK

    fake = FakeDropbox().on(ROUTE, answer, ok)
    start = clock.monotonic()
    assert await make_client(fake, clock).rpc(ROUTE, {})
    assert times[0] - start >= expected_pause
    assert times[0] - start <= expected_pause * 1.1 + 0.25


async def test_a_429_pauses_every_task_of_the_team_and_concurrency_comes_back_gradually() -> None:
    clock = ManualClock()
    gate = RateGate(clock, max_concurrency=4, rng=random.Random(5))
    state = {"limited": True, "in_flight": 0}
    log: list[tuple[float, int]] = []  # (time sent, requests in flight) of each request
    limited_at: list[float] = []

    async def api(request: Request) -> Response:
        state["in_flight"] += 1
        log.append((clock.monotonic(), state["in_flight"]))
        try:
            await asyncio.sleep(0)
            if not state["limited"]:
                state["limited"] = True
                limited_at.append(clock.monotonic())
                return text_response(429, "", {"Retry-After": "60"})
            return OK
        finally:
            state["in_flight"] -= 1

    fake = FakeDropbox().on(ROUTE, api)
    client = make_client(fake, clock, gate=gate)
    await client.rpc(ROUTE, {})  # warm the token so every task starts together
    state["limited"] = False
    log.clear()
    results = await asyncio.gather(*(client.rpc(ROUTE, {}) for _ in range(12)))
    assert len(results) == 12
    resume = limited_at[-1] + 60
    late = [entry for entry in log if entry[0] >= resume]
    early = [entry for entry in log if entry[0] < resume]
    # only requests already in flight when the 429 came back were sent before the pause ended
    assert len(early) <= 4
    # the first request after the pause goes alone; width then grows one success at a time
    assert [n for _, n in late[:3]] == [1, 1, 2]
    assert max(n for _, n in late) == 4
    assert gate.limit == 4


async def test_429_counts_against_the_retry_budget() -> None:
    clock = ManualClock()
    answer = json_response(429, RATE_LIMITED_BODY)  # retry_after 300
    fake = FakeDropbox().on(ROUTE, answer)
    client = make_client(fake, clock, retry=RetryPolicy(max_attempts=10, budget_seconds=100))
    with pytest.raises(RetryBudgetExhausted, match="HTTP 429"):
        await client.rpc(ROUTE, {})
    assert len(fake.api_calls) == 1  # waiting 300 s would overrun a 100 s budget


async def test_metrics_count_requests_rate_limits_and_gate_wait() -> None:
    clock = ManualClock()
    metrics = Metrics()
    fake = FakeDropbox().on(ROUTE, text_response(429, "", {"Retry-After": "10"}), SERVER_ERROR, OK)
    await make_client(fake, clock, metrics=metrics).rpc(ROUTE, {})
    for status in ("429", "503", "200"):
        labels = {"team": "acme", "route": ROUTE, "status": status}
        assert sample(metrics, "streamer_api_requests_total", **labels) == 1
    assert sample(metrics, "streamer_api_rate_limited_total", team="acme") == 1
    assert sample(metrics, "streamer_rate_gate_wait_seconds_total", team="acme") >= 10
    retries = {"team": "acme", "route": ROUTE, "reason": "rate_limited"}
    assert sample(metrics, "streamer_api_retries_total", **retries) == 1
    assert sample(metrics, "streamer_token_refreshes_total", team="acme", outcome="success") == 1


async def test_errors_and_repr_never_carry_tokens_or_secrets() -> None:
    fake = FakeDropbox().on(ROUTE, EXPIRED, EXPIRED)
    client = make_client(fake, ManualClock())
    with pytest.raises(DropboxAuthError) as caught:
        await client.rpc(ROUTE, {})
    for text in (str(caught.value), repr(caught.value), repr(client)):
        for secret in (APP_SECRET, REFRESH_TOKEN, *fake.issued):
            assert secret not in text
