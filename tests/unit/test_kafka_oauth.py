"""The OAUTHBEARER token provider against a real local token endpoint (tests/oauth_endpoint.py)
on a manual clock: tokens are reused, fetched again ahead of expiry, kept through a failed
refresh while still valid, and every hostile answer is one clear error that never quotes the
secret or the answer."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr

from streamer.clock import ManualClock
from streamer.config import KafkaOAuthSettings
from streamer.kafka.oauth import (
    MAX_LIFETIME,
    ClientCredentialsTokenProvider,
    TokenEndpointError,
    parse_token_answer,
)
from tests.oauth_endpoint import TokenEndpoint


@pytest.fixture
async def endpoint(tmp_path: Path) -> AsyncIterator[TokenEndpoint]:
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "signing.key"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = TokenEndpoint(path, "test-key", lifetime=600)
    async with server.running():
        yield server


def provider(
    endpoint: TokenEndpoint, clock: ManualClock | None = None, **settings: Any
) -> ClientCredentialsTokenProvider:
    oauth = KafkaOAuthSettings(
        token_url=endpoint.url,
        client_id=endpoint.client_id,
        client_secret=SecretStr(endpoint.client_secret),
        **settings,
    )
    return ClientCredentialsTokenProvider(oauth, timeout=10, clock=clock or now_clock())


def now_clock() -> ManualClock:
    """A manual clock starting at the real time: the endpoint's JWTs carry real ``exp``s."""
    return ManualClock(start=datetime.now(UTC))


async def test_a_token_is_fetched_once_and_reused(endpoint: TokenEndpoint) -> None:
    tokens = provider(endpoint, scope="kafka.write kafka.read")
    first = await tokens.token()
    assert await tokens.token() == first
    assert endpoint.requests == 1
    assert endpoint.scopes == ["kafka.write kafka.read"]
    assert first == endpoint.issued[0]


async def test_concurrent_connections_share_one_fetch(endpoint: TokenEndpoint) -> None:
    tokens = provider(endpoint)
    got = await asyncio.gather(*(tokens.token() for _ in range(10)))
    assert len(set(got)) == 1
    assert endpoint.requests == 1


async def test_the_token_is_fetched_again_at_80_percent_of_its_lifetime(
    endpoint: TokenEndpoint,
) -> None:
    clock = now_clock()
    tokens = provider(endpoint, clock)
    first = await tokens.token()
    clock.advance(600 * 0.8 - 1)
    assert await tokens.token() == first
    clock.advance(2)  # now past 80 % of the 600 s: refreshed ahead of expiry
    endpoint.lifetime = 900  # (a new token, whatever the second it is issued in)
    second = await tokens.token()
    assert second != first
    assert endpoint.requests == 2


async def test_a_failed_refresh_keeps_the_valid_token_until_it_expires(
    endpoint: TokenEndpoint,
) -> None:
    clock = now_clock()
    tokens = provider(endpoint, clock)
    first = await tokens.token()
    endpoint.mode = "unavailable"
    clock.advance(500)  # due for refresh, 100 s of validity left
    assert await tokens.token() == first
    assert endpoint.requests == 2
    assert await tokens.token() == first, "no new attempt right away"
    assert endpoint.requests == 2
    clock.advance(101)  # expired: now the failure counts
    with pytest.raises(TokenEndpointError, match="answered HTTP 503") as failed:
        await tokens.token()
    assert failed.value.refused is False, "an outage may pass"


async def test_client_credentials_go_in_basic_auth_url_encoded(endpoint: TokenEndpoint) -> None:
    endpoint.client_id = "client:with/odd chars"
    tokens = provider(endpoint)
    # the endpoint compares the raw id; RFC 6749 wants it form-encoded first, so it refuses
    with pytest.raises(TokenEndpointError, match="refused the client credentials") as refused:
        await tokens.token()
    assert refused.value.refused is True
    assert endpoint.client_secret not in str(refused.value)
    basic = base64.b64encode(f"{endpoint.client_id}:{endpoint.client_secret}".encode()).decode()
    assert basic not in str(refused.value)


@pytest.mark.parametrize(
    ("mode", "message", "refused"),
    [
        ("garbage", "answered 200 with something not JSON", True),
        ("huge", "answered with more than 256 KiB", True),
        ("no_expiry", "gave no expires_in and the token has no exp claim", True),
        ("redirect", "answered HTTP 307 (redirects are not followed)", True),
        ("unavailable", "answered HTTP 503", False),
        ("expired", "issued a token that has already expired", True),
        ("no_token", "answered 200 without an access_token", True),
    ],
)
async def test_a_hostile_answer_is_one_clear_error(
    endpoint: TokenEndpoint, mode: str, message: str, refused: bool
) -> None:
    endpoint.mode = mode  # type: ignore[assignment]
    with pytest.raises(TokenEndpointError) as failed:
        await provider(endpoint).token()
    text = str(failed.value)
    assert message in text
    assert text.startswith(f"the OAuth token endpoint {endpoint.url} ")
    assert failed.value.refused is refused
    assert "\n" not in text
    assert endpoint.client_secret not in text
    assert not any(token in text for token in endpoint.issued)


async def test_an_unreachable_endpoint_may_come_back(endpoint: TokenEndpoint) -> None:
    url = endpoint.url
    tokens = provider(endpoint)
    tokens._url = url.replace(str(_port(url)), "1")  # nothing listens on port 1
    with pytest.raises(TokenEndpointError, match="cannot reach the OAuth token endpoint") as e:
        await tokens.token()
    assert e.value.refused is False


def _port(url: str) -> int:
    return int(url.split(":")[2].split("/")[0])


async def test_extensions_and_repr(endpoint: TokenEndpoint) -> None:
    extensions = {"logicalCluster": "lkc-abc", "identityPoolId": "pool-xyz"}
    tokens = provider(endpoint, extensions=extensions)
    assert tokens.extensions() == extensions
    token = await tokens.token()
    assert endpoint.client_secret not in repr(tokens)
    assert token not in repr(tokens)


def _jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()

    return f"{part({'alg': 'ES256'})}.{part(claims)}.sig"


def _answer(**fields: Any) -> bytes:
    return orjson.dumps(fields)


@pytest.mark.parametrize(
    ("answer", "lifetime"),
    [
        (_answer(access_token="opaque", expires_in=3600), 3600),
        (_answer(access_token="opaque", expires_in="3599"), 3599),  # Entra ID v1 sends text
        (_answer(access_token="opaque", expires_in=10**15), MAX_LIFETIME),
        (_answer(access_token=_jwt({"exp": 1000 + 300})), 300),  # no expires_in: the JWT's exp
        (_answer(access_token=_jwt({"exp": 1000 + 300}), expires_in=3600), 300),  # earlier wins
    ],
)
def test_the_lifetime_comes_from_expires_in_or_the_jwt(answer: bytes, lifetime: float) -> None:
    assert parse_token_answer(answer, now=1000, where="x")[1] == lifetime


@pytest.mark.parametrize(
    "answer",
    [
        _answer(access_token="opaque", expires_in=0),
        _answer(access_token="opaque", expires_in=-5),
        _answer(access_token="opaque", expires_in=True),
        _answer(access_token="opaque", expires_in="soon"),
        _answer(access_token="opaque", expires_in=[3600]),
        b'{"access_token": "opaque", "expires_in": 1e999}',
        _answer(access_token="   ", expires_in=3600),
        _answer(access_token=42, expires_in=3600),
        b"[]",
        b"\xff\xfe",
    ],
)
def test_a_malformed_answer_is_refused(answer: bytes) -> None:
    with pytest.raises(TokenEndpointError) as failed:
        parse_token_answer(answer, now=1000, where="x")
    assert failed.value.refused
    assert "opaque" not in str(failed.value)
