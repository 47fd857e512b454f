"""SASL/OAUTHBEARER for aiokafka: access tokens from an OAuth 2 token endpoint with the client
credentials grant (RFC 6749 §4.4), as Confluent Cloud and Azure Event Hubs use.

aiokafka calls ``token()`` whenever it authenticates a new connection. The token is kept and
fetched again once ``REFRESH_AT`` of its lifetime has passed, so a connection never presents a
token about to expire; a failed refresh keeps using the current token while it is still valid
(and says so), so an identity-provider hiccup does not cut Kafka off. The lifetime is the
answer's ``expires_in`` or the JWT's ``exp``, whichever ends first, capped at a day.

The client authenticates with HTTP Basic (client_secret_basic, the way Kafka's own Java client
does). The endpoint's answer is bounded (``MAX_BODY``), redirects are not followed (they would
carry the credentials elsewhere), and nothing from a successful answer is ever quoted: it holds
the token. Failures are ``TokenEndpointError``s: a ``KafkaError`` to aiokafka, which then treats
the connection as failed and tries again later, as it does for any other.
"""

from __future__ import annotations

import asyncio
import base64
import math
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
import structlog
from aiokafka.abc import AbstractTokenProvider
from aiokafka.errors import KafkaError
from pydantic import SecretStr

from streamer import __version__
from streamer.clock import Clock, SystemClock
from streamer.config import KafkaOAuthSettings
from streamer.dropbox.oauth import _oauth_error, redact

log = structlog.get_logger(__name__)

MAX_BODY = 256 * 1024
"""Bytes read from the token endpoint at most: tokens are a few KB."""
MAX_LIFETIME = 86400.0
"""A token claiming to live longer is fetched again after a day anyway."""
REFRESH_AT = 0.8
"""Share of a token's lifetime after which a new one is fetched (Kafka's Java client: 0.8)."""
RETRY_REFRESH_AFTER = 10.0
"""After a failed refresh, seconds before the next try (while the old token still works)."""


class TokenEndpointError(KafkaError):  # type: ignore[misc]  # aiokafka is untyped
    """The token endpoint gave no usable token. ``refused``: retrying cannot help (the
    credentials were refused, or the answer is not a token); otherwise it may (a timeout, 5xx)."""

    def __init__(self, message: str, *, refused: bool) -> None:
        super().__init__(message)
        self.message = message
        self.refused = refused

    def __str__(self) -> str:
        return self.message


class ClientCredentialsTokenProvider(AbstractTokenProvider):  # type: ignore[misc]
    def __init__(
        self,
        settings: KafkaOAuthSettings,
        *,
        timeout: float = 30.0,
        clock: Clock | None = None,
    ) -> None:
        # enforced by KafkaSettings validation when sasl_mechanism = "OAUTHBEARER"
        assert settings.token_url is not None
        assert settings.client_id is not None
        assert settings.client_secret is not None
        self._url = settings.token_url
        self._client_id = settings.client_id
        self._secret = settings.client_secret
        self._scope = settings.scope
        self._extensions = dict(settings.extensions)
        self._ca_file = settings.ca_file
        self._timeout = timeout
        self._clock = clock or SystemClock()
        self._token: SecretStr | None = None
        self._refresh_at = 0.0  # monotonic
        self._expires_at = 0.0  # monotonic
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def token(self) -> str:
        if self._token is not None and self._clock.monotonic() < self._refresh_at:
            return self._token.get_secret_value()
        async with self._lock:  # one fetch at a time; the others take its token
            now = self._clock.monotonic()
            if self._token is not None and now < self._refresh_at:
                return self._token.get_secret_value()
            try:
                return await self._fetch()
            except TokenEndpointError as exc:
                if self._token is None or now >= self._expires_at:
                    raise
                left = self._expires_at - now
                self._refresh_at = now + min(RETRY_REFRESH_AFTER, left / 2)
                log.warning(
                    "kafka_oauth_refresh_failed", error=str(exc), token_valid_for=round(left, 1)
                )
                return self._token.get_secret_value()

    def extensions(self) -> dict[str, str]:
        return dict(self._extensions)

    async def _fetch(self) -> str:
        sent_at, sent_epoch = self._clock.monotonic(), self._clock.now().timestamp()
        form = {"grant_type": "client_credentials"}
        if self._scope:
            form["scope"] = self._scope
        status, body = await _post_form(
            self._url,
            headers={
                "Authorization": _basic(self._client_id, self._secret),
                "Accept": "application/json",
            },
            form=form,
            ca_file=self._ca_file,
            timeout=self._timeout,
        )
        if status != 200:
            raise self._refusal(status, body)
        token, lifetime = parse_token_answer(body, now=sent_epoch, where=self._url)
        self._token = SecretStr(token)
        self._expires_at = sent_at + lifetime
        self._refresh_at = sent_at + lifetime * REFRESH_AT
        self.fetches += 1
        log.debug("kafka_oauth_token", expires_in=round(lifetime, 1))
        return token

    def _refusal(self, status: int, body: bytes) -> TokenEndpointError:
        where = f"the OAuth token endpoint {self._url}"
        if status in (400, 401, 403):
            code, description = _oauth_error(body)
            detail = redact(
                f"{code}: {description}" if description else code, self._secret.get_secret_value()
            )
            return TokenEndpointError(
                f"{where} refused the client credentials (HTTP {status} {detail}); check "
                "kafka.oauth.client_id, client_secret and scope",
                refused=True,
            )
        if status == 429 or status >= 500:
            return TokenEndpointError(f"{where} answered HTTP {status}", refused=False)
        hint = " (redirects are not followed)" if 300 <= status < 400 else ""
        return TokenEndpointError(
            f"{where} answered HTTP {status}{hint}; check kafka.oauth.token_url", refused=True
        )

    def __repr__(self) -> str:
        return (
            f"ClientCredentialsTokenProvider(token_url={self._url!r}, "
            f"client_id={self._client_id!r}, fetches={self.fetches})"
        )


def _basic(client_id: str, secret: SecretStr) -> str:
    # RFC 6749 §2.3.1: both parts form-urlencoded before Basic encoding
    raw = f"{quote(client_id, safe='')}:{quote(secret.get_secret_value(), safe='')}"
    return "Basic " + base64.b64encode(raw.encode()).decode("ascii")


def parse_token_answer(body: bytes, *, now: float, where: str) -> tuple[str, float]:
    """``(access_token, lifetime in seconds)`` from a 200 answer; ``now`` is the wall clock
    (epoch seconds) when the request was sent. Never quotes the body."""
    prefix = f"the OAuth token endpoint {where}"
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise TokenEndpointError(f"{prefix} answered 200 with something not JSON", refused=True)
    token = data.get("access_token")
    if not isinstance(token, str) or not token.strip():
        raise TokenEndpointError(f"{prefix} answered 200 without an access_token", refused=True)
    lifetimes = []
    if data.get("expires_in") is not None:
        expires_in = _number(data["expires_in"])
        if expires_in is None or expires_in <= 0:
            raise TokenEndpointError(
                f"{prefix} answered with an expires_in that is not a positive number",
                refused=True,
            )
        lifetimes.append(expires_in)
    exp = _jwt_exp(token)
    if exp is not None:
        lifetimes.append(exp - now)
    if not lifetimes:
        raise TokenEndpointError(
            f"{prefix} gave no expires_in and the token has no exp claim: there is no telling "
            "when it must be refreshed",
            refused=True,
        )
    lifetime = min(lifetimes)
    if lifetime <= 0:
        raise TokenEndpointError(
            f"{prefix} issued a token that has already expired (its exp claim is in the past "
            "by this machine's clock; check the clock)",
            refused=True,
        )
    return token, min(lifetime, MAX_LIFETIME)


def _number(value: Any) -> float | None:
    # Entra ID's v1 endpoint sends expires_in as a string ("3599")
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _jwt_exp(token: str) -> float | None:
    """The ``exp`` claim of a JWT (unverified: the broker verifies), None if not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        return None
    exp = payload.get("exp") if isinstance(payload, dict) else None
    return _number(exp) if exp is not None else None


async def _post_form(
    url: str,
    *,
    headers: dict[str, str],
    form: dict[str, str],
    ca_file: Path | None,
    timeout: float,  # noqa: ASYNC109 - the HTTP timeout of this one request
) -> tuple[int, bytes]:
    """POST a form; ``(status, body)`` with the body bounded by ``MAX_BODY``. A session per
    call: tokens are fetched a few times an hour, and nothing is left open in between."""
    context = ssl.create_default_context()
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise TokenEndpointError(
                f"kafka.oauth.ca_file {ca_file} cannot be used: {exc}", refused=True
            ) from None
    where = f"the OAuth token endpoint {url}"
    try:
        async with (
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=context),
                headers={"User-Agent": f"dropbox-streamer/{__version__}"},
                trust_env=False,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as session,
            session.post(url, headers=headers, data=form, allow_redirects=False) as response,
        ):
            body = bytearray()
            async for chunk in response.content.iter_chunked(64 * 1024):
                body += chunk
                if len(body) > MAX_BODY:
                    raise TokenEndpointError(
                        f"{where} answered with more than {MAX_BODY // 1024} KiB: not a token "
                        "answer",
                        refused=True,
                    )
            return response.status, bytes(body)
    except aiohttp.ClientSSLError as exc:
        raise TokenEndpointError(
            f"TLS failure talking to {where}: {exc}; if it uses a private CA, set "
            "kafka.oauth.ca_file",
            refused=True,
        ) from None
    except TimeoutError:
        raise TokenEndpointError(
            f"{where} did not answer within {timeout:g} s", refused=False
        ) from None
    except (aiohttp.ClientError, OSError) as exc:
        raise TokenEndpointError(
            f"cannot reach {where}: {type(exc).__name__}: {exc}", refused=False
        ) from None
