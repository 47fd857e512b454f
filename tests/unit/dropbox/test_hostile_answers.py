"""Hostile or broken answers from Dropbox (or whatever answers in its place) stay bounded.

Each case was a crash, a hang, a leak or a spurious exit before: an endless ``Retry-After``,
an ``expires_in`` that overflows a datetime, a 400 that quotes the bearer token back, a token
that went stale while its request waited out a 429 pause, an oversized body, a redirect.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from dbx_fakes import (
    API,
    EXPIRED,
    FakeDropbox,
    Request,
    Response,
    json_response,
    make_client,
    make_tokens,
    text_response,
)

from streamer.clock import ManualClock
from streamer.dropbox import DropboxClient, RateGate, RetryPolicy, TransportError
from streamer.dropbox.oauth import MAX_EXPIRES_IN, TOKEN_MAX_BYTES
from streamer.dropbox.retry import MAX_RETRY_AFTER, bounded_wait, parse_retry_after
from streamer.errors import BadRequestError, DropboxApiError, DropboxAuthError

ROUTE = "team/members/list_v2"
OK = json_response(200, {"members": [], "cursor": "c1", "has_more": False})
NOW = datetime(2026, 1, 1, tzinfo=UTC)


# -- Retry-After --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("30", 30.0),
        (" 2.5 ", 2.5),
        ("-5", 0.0),
        ("inf", MAX_RETRY_AFTER),
        ("1e400", MAX_RETRY_AFTER),
        ("99999999999999999999", MAX_RETRY_AFTER),
        ("nan", None),
        ("soon", None),
        ("", None),
        (None, None),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        (format_datetime(NOW - timedelta(days=1), usegmt=True), 0.0),
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER),
    ],
)
def test_retry_after_is_read_as_seconds_or_a_date_and_bounded(
    header: str | None, seconds: float | None
) -> None:
    assert parse_retry_after(header, NOW) == seconds


@pytest.mark.parametrize("value", [True, "30", None, [1], float("nan")])
def test_a_body_retry_after_that_is_not_a_number_is_ignored(value: object) -> None:
    assert bounded_wait(value) is None


async def test_retry_after_inf_pauses_the_team_an_hour_at_most_and_the_team_goes_on() -> None:
    clock = ManualClock()
    gate = RateGate(clock, max_concurrency=4, rng=random.Random(5))
    fake = FakeDropbox().on(ROUTE, text_response(429, "", {"Retry-After": "inf"}), OK)
    client = make_client(fake, clock, gate=gate)
    # an hour is beyond the default 600 s budget: this request gives up at once...
    with pytest.raises(DropboxApiError, match="HTTP 429"):
        await client.rpc(ROUTE, {})
    # ...and the team's next request waits the bounded pause out instead of forever
    started = clock.monotonic()
    assert (await client.rpc(ROUTE, {}))["cursor"] == "c1"
    waited = clock.monotonic() - started
    assert 0 < waited <= MAX_RETRY_AFTER * 1.1 + 0.25


# -- expires_in ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expires_in", "believed"),
    [
        (10**15, MAX_EXPIRES_IN),
        (1e300, MAX_EXPIRES_IN),
        ("14400", 14400),
        (-5, 14400),  # not positive: the 4 h Dropbox issues is assumed
        (0, 14400),
        (True, 14400),
        ("soon", 14400),
        (None, 14400),
    ],
)
async def test_expires_in_is_bounded_to_a_day_and_nonsense_is_ignored(
    expires_in: object, believed: int
) -> None:
    clock = ManualClock()
    body = {"access_token": "sl.ACCESS-x", "token_type": "bearer", "expires_in": expires_in}
    fake = FakeDropbox().on_token(json_response(200, body))
    tokens = make_tokens(fake, clock)
    assert await tokens.access_token() == "sl.ACCESS-x"
    assert tokens.expires_at == NOW + timedelta(seconds=believed)


# -- the bearer token quoted back ---------------------------------------------------------------


async def test_a_400_quoting_the_bearer_token_is_redacted_in_the_error() -> None:
    async def echo(request: Request) -> Response:
        quoted = request.headers["Authorization"]
        return text_response(400, f'Error in call to API function "{ROUTE}": bad header "{quoted}"')

    fake = FakeDropbox().on(ROUTE, echo)
    with pytest.raises(BadRequestError) as caught:
        await make_client(fake, ManualClock()).rpc(ROUTE, {})
    (token,) = fake.issued
    for text in (str(caught.value), caught.value.text, repr(caught.value)):
        assert token not in text
    assert 'bad header "Bearer ***"' in str(caught.value)


# -- a token that goes stale while its request waits at the gate --------------------------------


def expiring(fake: FakeDropbox, lifetime: float) -> None:
    """The API answers 401 expired_access_token for a token older than ``lifetime``."""

    async def api(request: Request) -> Response:
        token = request.headers["Authorization"].removeprefix("Bearer ")
        return EXPIRED if fake.clock.monotonic() - fake.issued_at[token] >= lifetime else OK

    fake.on(ROUTE, api)


async def test_the_access_token_is_taken_after_the_gate_lets_the_request_through() -> None:
    clock = ManualClock()
    fake = FakeDropbox(expires_in=600, clock=clock)
    fake.on(ROUTE, text_response(429, "", {"Retry-After": "1200"}))
    expiring(fake, lifetime=600)
    client = make_client(fake, clock, retry=RetryPolicy(max_attempts=5, budget_seconds=3600))
    assert (await client.rpc(ROUTE, {}))["cursor"] == "c1"
    # the 429, then the same call with a token refreshed after the pause: no 401 in between
    assert len(fake.api_calls) == 2
    assert len(fake.token_calls) == 2


async def test_short_tokens_and_a_long_429_pause_do_not_end_in_a_spurious_auth_error() -> None:
    clock = ManualClock()
    fake = FakeDropbox(expires_in=600, clock=clock)
    # a 401, the refresh, then a 429 pause longer than the new token lives
    fake.on(ROUTE, EXPIRED, text_response(429, "", {"Retry-After": "1200"}))
    expiring(fake, lifetime=600)
    client = make_client(fake, clock, retry=RetryPolicy(max_attempts=5, budget_seconds=3600))
    assert (await client.rpc(ROUTE, {}))["cursor"] == "c1"
    assert len(fake.token_calls) == 3


# -- oversized bodies and redirects -------------------------------------------------------------


async def test_an_api_answer_over_the_limit_fails_the_request_without_retrying() -> None:
    clock = ManualClock()
    fake = FakeDropbox().on(ROUTE, json_response(200, {"pad": "x" * 5000}))
    client = DropboxClient(
        team="acme",
        api_url=API,
        tokens=make_tokens(fake, clock),
        transport=fake.transport,
        gate=RateGate(clock),
        retry=RetryPolicy(),
        clock=clock,
        max_response_bytes=4096,
    )
    with pytest.raises(TransportError, match=r"larger than 4 KiB") as caught:
        await client.rpc(ROUTE, {})
    assert not caught.value.retriable
    assert len(fake.api_calls) == 1
    assert fake.api_calls[0].max_bytes == 4096


async def test_the_token_endpoint_gets_a_far_smaller_limit() -> None:
    fake = FakeDropbox().on_token(
        json_response(200, {"access_token": "sl.x", "pad": "x" * TOKEN_MAX_BYTES})
    )
    with pytest.raises(TransportError, match="larger than 64 KiB"):
        await make_tokens(fake, ManualClock()).access_token()
    assert [r.max_bytes for r in fake.token_calls] == [TOKEN_MAX_BYTES]


async def test_a_redirect_from_the_api_is_an_error_that_says_it_was_not_followed() -> None:
    moved = text_response(307, "", {"Location": "https://elsewhere.example/2/" + ROUTE})
    fake = FakeDropbox().on(ROUTE, moved)
    with pytest.raises(DropboxApiError, match=r"HTTP 307.*not followed"):
        await make_client(fake, ManualClock()).rpc(ROUTE, {})
    assert len(fake.api_calls) == 1


async def test_a_redirect_from_the_token_endpoint_is_refused_and_not_retried() -> None:
    moved = text_response(307, "", {"Location": "https://elsewhere.example/oauth2/token"})
    fake = FakeDropbox().on_token(moved)
    with pytest.raises(DropboxAuthError, match=r"HTTP 307 \(a redirect: not followed"):
        await make_tokens(fake, ManualClock()).access_token()
    assert len(fake.token_calls) == 1
