import asyncio
import base64
from datetime import timedelta

import pytest
import structlog
from dbx_fakes import (
    APP_KEY,
    APP_SECRET,
    INVALID_CLIENT,
    INVALID_GRANT,
    REFRESH_TOKEN,
    SERVER_ERROR,
    FakeDropbox,
    Request,
    Response,
    json_response,
    make_tokens,
    sample,
    text_response,
    token_ok,
)

from streamer.clock import ManualClock
from streamer.dropbox import RetryPolicy, TransportError
from streamer.errors import DropboxAuthError, RetryBudgetExhausted
from streamer.metrics import Metrics


async def test_first_use_refreshes_with_a_form_encoded_basic_auth_grant() -> None:
    fake = FakeDropbox()
    tokens = make_tokens(fake, ManualClock())
    assert await tokens.access_token() == "sl.ACCESS-1"
    (call,) = fake.token_calls
    assert call.data == {"grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN}
    assert call.headers["Content-Type"] == "application/x-www-form-urlencoded"
    basic = base64.b64encode(f"{APP_KEY}:{APP_SECRET}".encode()).decode()
    assert call.headers["Authorization"] == f"Basic {basic}"


async def test_token_is_reused_until_within_the_skew_of_expiry() -> None:
    clock = ManualClock()
    fake = FakeDropbox(expires_in=14400)
    tokens = make_tokens(fake, clock, skew_seconds=300)
    assert await tokens.access_token() == "sl.ACCESS-1"
    clock.advance(14400 - 301)
    assert await tokens.access_token() == "sl.ACCESS-1"
    assert len(fake.token_calls) == 1
    clock.advance(2)  # now 299 s before expiry: refresh ahead of it
    assert await tokens.access_token() == "sl.ACCESS-2"
    assert len(fake.token_calls) == 2


async def test_short_lived_tokens_are_not_refreshed_on_every_call() -> None:
    clock = ManualClock()
    fake = FakeDropbox(expires_in=60)  # shorter than the 300 s skew, as a simulator may issue
    tokens = make_tokens(fake, clock, skew_seconds=300)
    await tokens.access_token()
    clock.advance(20)
    await tokens.access_token()
    assert len(fake.token_calls) == 1
    clock.advance(15)  # past half the lifetime
    assert await tokens.access_token() == "sl.ACCESS-2"


async def test_fifty_concurrent_callers_cause_exactly_one_refresh() -> None:
    fake = FakeDropbox()
    release = asyncio.Event()

    async def slow_grant(request: Request) -> Response:
        await release.wait()
        return token_ok("sl.SHARED")

    fake.on_token(slow_grant)
    tokens = make_tokens(fake, ManualClock())
    callers = [asyncio.create_task(tokens.access_token()) for _ in range(50)]
    await asyncio.sleep(0)
    release.set()
    assert set(await asyncio.gather(*callers)) == {"sl.SHARED"}
    assert len(fake.token_calls) == 1


async def test_refresh_after_expired_skips_the_refresh_when_another_task_already_did_it() -> None:
    fake = FakeDropbox()
    tokens = make_tokens(fake, ManualClock())
    stale = await tokens.access_token()
    # many tasks hit 401 with the same stale token at once: one refresh between them
    fresh = await asyncio.gather(*(tokens.refresh_after_expired(stale) for _ in range(20)))
    assert set(fresh) == {"sl.ACCESS-2"}
    assert len(fake.token_calls) == 2
    # a late task reporting the old token gets the new one without a new request
    assert await tokens.refresh_after_expired(stale) == "sl.ACCESS-2"
    assert len(fake.token_calls) == 2


async def test_revoked_refresh_token_gives_a_clear_error_with_the_remedy() -> None:
    fake = FakeDropbox().on_token(INVALID_GRANT)
    tokens = make_tokens(fake, ManualClock())
    with pytest.raises(DropboxAuthError) as caught:
        await tokens.access_token()
    message = str(caught.value)
    assert "invalid_grant" in message
    assert "streamer auth url" in message
    assert "streamer auth exchange" in message
    assert caught.value.exit_code == 3
    assert not tokens.valid
    assert tokens.failure is not None


async def test_a_refused_refresh_token_is_not_asked_for_again() -> None:
    fake = FakeDropbox().on_token(INVALID_GRANT)
    tokens = make_tokens(fake, ManualClock())
    results = await asyncio.gather(
        *(tokens.access_token() for _ in range(10)), return_exceptions=True
    )
    assert all(isinstance(r, DropboxAuthError) for r in results)
    with pytest.raises(DropboxAuthError):
        await tokens.access_token()
    assert len(fake.token_calls) == 1


async def test_invalid_client_names_the_app_key_and_secret() -> None:
    fake = FakeDropbox().on_token(INVALID_CLIENT)
    with pytest.raises(DropboxAuthError, match="app key and app secret"):
        await make_tokens(fake, ManualClock()).access_token()


async def test_server_errors_and_transport_failures_on_refresh_are_retried() -> None:
    clock = ManualClock()

    async def reset(request: Request) -> Response:
        raise TransportError("connection reset")

    fake = FakeDropbox().on_token(SERVER_ERROR, reset, text_response(502, "bad gateway"))
    metrics = Metrics()
    tokens = make_tokens(fake, clock, metrics)
    assert await tokens.access_token() == "sl.ACCESS-1"
    assert len(fake.token_calls) == 4
    assert len(clock.slept) == 3
    assert sample(metrics, "streamer_token_refreshes_total", team="acme", outcome="retry") == 3
    assert sample(metrics, "streamer_token_refreshes_total", team="acme", outcome="success") == 1


async def test_refresh_honours_retry_after_on_429() -> None:
    clock = ManualClock()
    fake = FakeDropbox().on_token(text_response(429, "too many", {"Retry-After": "7"}))
    await make_tokens(fake, clock).access_token()
    assert clock.slept == [7.0]


async def test_refresh_gives_up_after_its_retry_budget() -> None:
    fake = FakeDropbox().on_token(*[SERVER_ERROR] * 10)
    tokens = make_tokens(fake, ManualClock(), retry=RetryPolicy(max_attempts=3))
    with pytest.raises(RetryBudgetExhausted, match="HTTP 503"):
        await tokens.access_token()
    assert len(fake.token_calls) == 3


async def test_non_retriable_transport_error_surfaces_at_once() -> None:
    async def bad_cert(request: Request) -> Response:
        raise TransportError("TLS failure", retriable=False)

    fake = FakeDropbox().on_token(bad_cert)
    with pytest.raises(TransportError, match="TLS"):
        await make_tokens(fake, ManualClock()).access_token()
    assert len(fake.token_calls) == 1


async def test_health_properties_track_expiry() -> None:
    clock = ManualClock()
    tokens = make_tokens(FakeDropbox(expires_in=3600), clock)
    assert not tokens.valid
    assert tokens.expires_at is None
    await tokens.access_token()
    assert tokens.valid
    assert tokens.expires_at == clock.now() + timedelta(seconds=3600)
    clock.advance(3600)
    assert not tokens.valid


async def test_secrets_never_show_in_repr_errors_or_logs() -> None:
    fake = FakeDropbox()
    # a server that echoes the refresh token back in its error text must not leak it either
    fake.on_token(
        token_ok("sl.ACCESS-SECRETVALUE"),
        json_response(
            400, {"error": "invalid_grant", "error_description": f"bad token {REFRESH_TOKEN}"}
        ),
    )
    clock = ManualClock()
    tokens = make_tokens(fake, clock)
    with structlog.testing.capture_logs() as logs:
        access = await tokens.access_token()
        clock.advance(20000)
        with pytest.raises(DropboxAuthError) as caught:
            await tokens.access_token()
    texts = [repr(tokens), str(tokens), str(caught.value), repr(caught.value), repr(logs)]
    for text in texts:
        for secret in (APP_SECRET, REFRESH_TOKEN, access):
            assert secret not in text
    assert "***" in str(caught.value)
