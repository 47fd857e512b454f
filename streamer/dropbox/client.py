"""``DropboxClient.rpc``: one API call, with retries, the team's rate gate and 401 refresh.

What each answer means is decided by the table in ``retry.py``; this module only carries the
decision out (sleep, pause the gate, refresh the token) or turns it into the right exception.

The access token is taken only once the gate has let the request through: a request that
waited out a long 429 pause must not send a token that expired meanwhile. Whatever an answer
quotes back (a 400 echoing the ``Authorization`` header) is stripped of the token before it
reaches an error message or a log line.
"""

from __future__ import annotations

import random
from typing import Any

import orjson
import structlog

from streamer.clock import Clock
from streamer.dropbox.auth import TokenManager
from streamer.dropbox.oauth import redact
from streamer.dropbox.ratelimit import RateGate
from streamer.dropbox.retry import (
    DEFAULT_RETRY_AFTER,
    MALFORMED_RESPONSE,
    MAX_REFRESHES_IN_A_ROW,
    TRANSPORT_ERROR,
    Action,
    Decision,
    RetryPolicy,
    bounded_wait,
    classify,
    parse_retry_after,
)
from streamer.dropbox.transport import DEFAULT_MAX_BYTES, Response, Transport, TransportError
from streamer.errors import (
    BadRequestError,
    DropboxApiError,
    DropboxAuthError,
    MissingScopeError,
    RetryBudgetExhausted,
    RouteError,
)
from streamer.metrics import Metrics

log = structlog.get_logger(__name__)

DEFAULT_API_URL = "https://api.dropboxapi.com"


class DropboxClient:
    def __init__(
        self,
        *,
        team: str,
        api_url: str = DEFAULT_API_URL,
        tokens: TokenManager,
        transport: Transport,
        gate: RateGate,
        retry: RetryPolicy,
        clock: Clock,
        metrics: Metrics | None = None,
        timeout: float = 30.0,
        rng: random.Random | None = None,
        max_response_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.team = team
        self._api_url = api_url.rstrip("/")
        self._tokens = tokens
        self._transport = transport
        self._gate = gate
        self._retry = retry
        self._clock = clock
        self._metrics = metrics
        self._timeout = timeout
        self._rng = rng or random.Random()
        self._max_bytes = max_response_bytes

    async def rpc(self, route: str, arg: object) -> Any:
        """POST ``{api_url}/2/{route}`` with JSON ``arg`` (None → ``null``); return the result."""
        url = f"{self._api_url}/2/{route}"
        body = orjson.dumps(arg)  # None encodes as b"null", what Void routes expect
        tracker = self._retry.tracker(self._clock, self._rng)
        refreshes = 0  # refreshes since the last answer that was not a 401
        while True:
            response: Response | None = None
            decision, problem = TRANSPORT_ERROR, ""
            async with self._gate.slot() as slot:
                if slot.waited > 0 and self._metrics is not None:
                    self._metrics.rate_gate_wait.labels(team=self.team).inc(slot.waited)
                # after the gate: the wait may have outlasted the token we held before it
                token = await self._tokens.access_token()
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                sent = self._clock.monotonic()
                try:
                    response = await self._transport.post(
                        url,
                        headers=headers,
                        data=body,
                        timeout=self._timeout,
                        max_bytes=self._max_bytes,
                    )
                except TransportError as exc:
                    if not exc.retriable:
                        raise
                    problem = str(exc)
            self._count_request(route, response)
            log.debug(
                "api_request",
                team=self.team,
                route=route,
                status=response.status if response is not None else "error",
                seconds=round(self._clock.monotonic() - sent, 3),
                gate_wait=round(slot.waited, 3),
            )

            delay: float | None = None
            if response is not None:
                if response.status == 200:
                    try:
                        result = orjson.loads(response.body)
                    except orjson.JSONDecodeError:
                        decision, problem = MALFORMED_RESPONSE, "HTTP 200 with malformed JSON"
                    else:
                        self._gate.note_success(slot)
                        return result
                else:
                    decision, problem = self._judge(route, response, token, refreshes)
                    if decision.action is Action.REFRESH:
                        refreshes += 1
                        self._count_retry(route, decision)
                        await self._tokens.refresh_after_expired(token)
                        continue
                    refreshes = 0
                    if decision.action is Action.PAUSE:
                        delay = self._pause(response)

            wait = tracker.failed(problem, delay=delay)
            if wait is None:
                raise RetryBudgetExhausted(f"route {route!r}: {tracker.summary()}")
            self._count_retry(route, decision)
            # a 429 was announced once by _pause; its retries are detail
            (log.debug if decision.action is Action.PAUSE else log.warning)(
                "api_retry",
                team=self.team,
                route=route,
                reason=decision.reason,
                problem=problem,
                attempt=tracker.attempts,
                wait=round(wait, 3),
            )
            if decision.action is Action.RETRY:
                await self._clock.sleep(wait)
            # PAUSE: the gate holds this and every other request of the team back

    def _judge(
        self, route: str, response: Response, token: str, refreshes: int
    ) -> tuple[Decision, str]:
        """Classify a non-200 answer; raise at once when the action is FAIL."""
        error = _error_union(response)
        tag = _tag(error)
        decision = classify(response.status, tag)
        if decision.action is Action.REFRESH and refreshes >= MAX_REFRESHES_IN_A_ROW:
            raise DropboxAuthError(
                f"team {self.team!r}: Dropbox rejected {refreshes} freshly refreshed access "
                f"tokens in a row ({tag}) on {route!r}; the link may have been revoked: check "
                "the app in the Admin Console, or create a new refresh token with "
                "`streamer auth url` / `streamer auth exchange`"
            )
        if decision.action is Action.FAIL:
            raise self._failure(route, response, error, tag, token)
        return decision, f"HTTP {response.status}" + (f" {tag}" if tag else "")

    def _failure(
        self, route: str, response: Response, error: object, tag: str | None, token: str
    ) -> DropboxApiError | DropboxAuthError:
        status = response.status
        if status == 400:
            # a 400 may quote the request back, Authorization header included
            return BadRequestError(route, redact(response.text, token))
        if status == 401 and tag == "missing_scope" and isinstance(error, dict):
            return MissingScopeError(route, str(error.get("required_scope", "?")))
        if status == 401:
            return DropboxAuthError(
                f"team {self.team!r}: Dropbox refused the access token on {route!r} "
                f"({tag or 'HTTP 401'})"
            )
        if status == 409:
            return RouteError(route, tag or "other", error)
        request_id = response.header("X-Dropbox-Request-Id") or "-"
        redirect = "; a redirect, not followed: check api_url" if 300 <= status < 400 else ""
        return DropboxApiError(
            f"route {route!r} answered HTTP {status}"
            + (f" {tag!r}" if tag else "")
            + f" (request id {request_id}){redirect}"
        )

    def _pause(self, response: Response) -> float:
        retry_after = _retry_after(response, self._clock)
        already = self._gate.paused()
        paused = self._gate.pause(retry_after)
        if self._metrics is not None:
            self._metrics.api_rate_limited.labels(team=self.team).inc()
        # one warning per pause, not one per request that ran into it
        (log.debug if already else log.warning)(
            "rate_limited", team=self.team, retry_after=retry_after, paused_for=round(paused, 3)
        )
        return paused

    def _count_request(self, route: str, response: Response | None) -> None:
        if self._metrics is not None:
            status = str(response.status) if response is not None else "error"
            self._metrics.api_requests.labels(team=self.team, route=route, status=status).inc()

    def _count_retry(self, route: str, decision: Decision) -> None:
        if self._metrics is not None:
            self._metrics.api_retries.labels(
                team=self.team, route=route, reason=decision.reason
            ).inc()

    def __repr__(self) -> str:
        return f"DropboxClient(team={self.team!r}, api_url={self._api_url!r})"


def _error_union(response: Response) -> object:
    """The ``error`` member of a JSON error envelope, or None for plain-text bodies."""
    try:
        data = orjson.loads(response.body)
    except orjson.JSONDecodeError:
        return None
    return data.get("error") if isinstance(data, dict) else None


def _tag(error: object) -> str | None:
    if isinstance(error, dict):
        tag = error.get(".tag")
        return tag if isinstance(tag, str) else None
    if isinstance(error, str):  # bare-string union form
        return error
    return None


def _retry_after(response: Response, clock: Clock) -> float:
    """Retry-After header, else the body's ``retry_after``, else 5 s; at most an hour."""
    seconds = parse_retry_after(response.header("Retry-After"), clock.now())
    if seconds is None:
        error = _error_union(response)
        if isinstance(error, dict):
            seconds = bounded_wait(error.get("retry_after"))
    return DEFAULT_RETRY_AFTER if seconds is None else seconds
