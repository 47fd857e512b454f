"""Short-lived access tokens from the long-lived refresh token.

``TokenManager`` refreshes ahead of expiry (``skew_seconds``), reacts to a 401 by refreshing
once, and makes sure only one refresh is in flight however many tasks ask at once (the others
await the same answer). Refusals that a retry cannot fix (``invalid_grant``: revoked or unlinked;
``invalid_client``: wrong app key/secret) are remembered, so a dead link costs one request, not
one per task. Token and secret values live only in ``SecretStr`` and never reach logs, messages
or ``repr``.
"""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta

import structlog
from pydantic import SecretStr

from streamer.clock import Clock
from streamer.dropbox.oauth import (
    DEFAULT_TOKEN_URL,
    TOKEN_MAX_BYTES,
    basic_auth,
    expires_in_of,
    parse_token_body,
    redact,
    token_error,
)
from streamer.dropbox.retry import RetryPolicy, parse_retry_after
from streamer.dropbox.transport import Response, Transport, TransportError
from streamer.errors import DropboxApiError, DropboxAuthError, RetryBudgetExhausted
from streamer.metrics import Metrics

log = structlog.get_logger(__name__)

# Dropbox documents only "short-lived"; 4 h is what it issues. Used when expires_in is absent.
ASSUMED_EXPIRES_IN = 14400
RETRIABLE_STATUSES = frozenset({408, 429}) | frozenset(range(500, 600))


class TokenManager:
    def __init__(
        self,
        *,
        team: str,
        token_url: str = DEFAULT_TOKEN_URL,
        app_key: str,
        app_secret: SecretStr,
        refresh_token: SecretStr,
        transport: Transport,
        clock: Clock,
        skew_seconds: float = 300,
        metrics: Metrics | None = None,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.team = team
        self._token_url = token_url
        self._app_key = app_key
        self._app_secret = app_secret
        self._refresh_token = refresh_token
        self._transport = transport
        self._clock = clock
        self._skew = skew_seconds
        self._metrics = metrics
        self._retry = retry or RetryPolicy(max_attempts=6, budget_seconds=120.0)
        self._rng = rng or random.Random()
        self._timeout = timeout
        self._token: SecretStr | None = None
        self._refresh_at = 0.0  # monotonic time from which the token counts as due
        self._expires_mono = 0.0
        self._expires_at: datetime | None = None
        self._inflight: asyncio.Task[str] | None = None
        self._fatal: DropboxAuthError | None = None
        self.refreshes = 0

    # -- health -------------------------------------------------------------------------------

    @property
    def valid(self) -> bool:
        """Holds an unexpired access token and the refresh token has not been refused."""
        return (
            self._fatal is None
            and self._token is not None
            and self._clock.monotonic() < self._expires_mono
        )

    @property
    def expires_at(self) -> datetime | None:
        """Wall-clock expiry of the current access token (None before the first refresh)."""
        return self._expires_at

    @property
    def failure(self) -> DropboxAuthError | None:
        """The refusal that ended this link, if any (for health checks)."""
        return self._fatal

    # -- tokens -------------------------------------------------------------------------------

    async def access_token(self) -> str:
        """A usable access token, refreshing first if missing or within the skew of expiry."""
        self._raise_if_dead()
        if self._token is not None and self._clock.monotonic() < self._refresh_at:
            return self._token.get_secret_value()
        return await self._refresh_once()

    async def refresh_after_expired(self, stale: str) -> str:
        """Called after a 401 on ``stale``: refresh, unless another task already replaced it."""
        self._raise_if_dead()
        current = self._token.get_secret_value() if self._token is not None else None
        if current is not None and current != stale and self._clock.monotonic() < self._refresh_at:
            return current
        return await self._refresh_once()

    def _raise_if_dead(self) -> None:
        if self._fatal is not None:
            raise DropboxAuthError(self._fatal.message)

    async def _refresh_once(self) -> str:
        # single flight: every caller awaits the same task; shield so one caller's
        # cancellation does not cancel the refresh the others are waiting for
        if self._inflight is None or self._inflight.done():
            self._inflight = asyncio.create_task(self._refresh(), name=f"refresh-token:{self.team}")
            self._inflight.add_done_callback(_consume_exception)
        return await asyncio.shield(self._inflight)

    async def _refresh(self) -> str:
        tracker = self._retry.tracker(self._clock, self._rng)
        form = {
            "grant_type": "refresh_token",
            "refresh_token": self._refresh_token.get_secret_value(),
        }
        headers = {
            "Authorization": basic_auth(self._app_key, self._app_secret),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        while True:
            sent_at = self._clock.monotonic()
            delay: float | None = None
            try:
                response = await self._transport.post(
                    self._token_url,
                    headers=headers,
                    data=form,
                    timeout=self._timeout,
                    max_bytes=TOKEN_MAX_BYTES,
                )
            except TransportError as exc:
                if not exc.retriable:
                    self._count("error")
                    raise
                problem = str(exc)
            else:
                if response.status == 200:
                    try:
                        return self._accept(response, sent_at)
                    except DropboxApiError as exc:
                        problem = exc.message
                elif response.status in RETRIABLE_STATUSES:
                    problem = f"HTTP {response.status}"
                    if response.status == 429:
                        delay = parse_retry_after(response.header("Retry-After"), self._clock.now())
                else:
                    raise self._refused(response)
            wait = tracker.failed(problem, delay=delay)
            if wait is None:
                self._count("error")
                raise RetryBudgetExhausted(
                    f"refreshing the access token of team {self.team!r} failed: {tracker.summary()}"
                )
            self._count("retry")
            log.warning("token_refresh_retry", team=self.team, problem=problem, wait=round(wait, 3))
            await self._clock.sleep(wait)

    def _accept(self, response: Response, sent_at: float) -> str:
        data = parse_token_body(response.body)
        expires_in = expires_in_of(data) or ASSUMED_EXPIRES_IN
        # short-lived tokens (e.g. a simulator's 60 s) must not be "due" the moment they arrive
        margin = min(self._skew, expires_in / 2)
        token: str = data["access_token"]
        self._token = SecretStr(token)
        self._expires_mono = sent_at + expires_in
        self._refresh_at = self._expires_mono - margin
        self._expires_at = self._clock.now() + timedelta(seconds=expires_in)
        self.refreshes += 1
        self._count("success")
        log.debug("token_refreshed", team=self.team, expires_in=expires_in)
        return token

    def _refused(self, response: Response) -> DropboxAuthError:
        if response.status not in (400, 401, 403):
            self._count("error")
            redirect = " (a redirect: not followed)" if 300 <= response.status < 400 else ""
            return DropboxAuthError(
                f"the token endpoint {self._token_url} answered HTTP {response.status}"
                f"{redirect}; check the token URL in the configuration"
            )
        error = token_error(response.status, response.body, grant="refresh_token")
        message = redact(
            f"team {self.team!r}: {error.message}",
            self._refresh_token.get_secret_value(),
            self._app_secret.get_secret_value(),
        )
        # a refused refresh token or app secret will not start working by itself: remember it
        self._fatal = DropboxAuthError(message)
        self._count("refused")
        log.error("token_refresh_refused", team=self.team, status=response.status)
        return DropboxAuthError(message)

    def _count(self, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.token_refreshes.labels(team=self.team, outcome=outcome).inc()

    def __repr__(self) -> str:
        return (
            f"TokenManager(team={self.team!r}, app_key={self._app_key!r}, valid={self.valid}, "
            f"expires_at={self._expires_at.isoformat() if self._expires_at else None})"
        )

    __str__ = __repr__


def _consume_exception(task: asyncio.Task[str]) -> None:
    # callers re-raise it; this only silences "exception was never retrieved" when none waited
    if not task.cancelled():
        task.exception()
