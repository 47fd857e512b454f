"""Retry policy as data: what each failure means, how long to back off, when to give up.

Pure: no I/O, time comes from an injected clock, randomness from an injected ``random.Random``.

Failures are classified by a small table (HTTP status, error ``.tag``) → action, in the spirit
of Airbyte's CDK error handlers, so the client asks the table instead of growing an if-ladder.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum

from streamer.clock import Clock


class Action(Enum):
    RETRY = "retry"  # transient: back off with jitter, try again
    REFRESH = "refresh"  # the access token went stale: refresh once, retry at once
    PAUSE = "pause"  # rate limited: pause the whole team's gate for Retry-After, then retry
    FAIL = "fail"  # retrying cannot help; surface an error


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str  # short word for logs and the ``api_retries{reason}`` metric


# First match wins: (status or status range, error tag or None for any) → decision.
RULES: tuple[tuple[int | range, str | None, Decision], ...] = (
    (400, None, Decision(Action.FAIL, "bad_request")),
    (401, "expired_access_token", Decision(Action.REFRESH, "expired_token")),
    # a token can be revoked/rotated under us; one refresh tells a stale token from a dead link
    (401, "invalid_access_token", Decision(Action.REFRESH, "invalid_token")),
    (401, "missing_scope", Decision(Action.FAIL, "missing_scope")),
    (401, None, Decision(Action.FAIL, "unauthorized")),
    (403, None, Decision(Action.FAIL, "forbidden")),
    (408, None, Decision(Action.RETRY, "timeout")),
    (409, None, Decision(Action.FAIL, "route_error")),
    (429, None, Decision(Action.PAUSE, "rate_limited")),
    (range(500, 600), None, Decision(Action.RETRY, "server_error")),
)

TRANSPORT_ERROR = Decision(Action.RETRY, "transport")
MALFORMED_RESPONSE = Decision(Action.RETRY, "malformed")

# A server's wait is honoured up to an hour: beyond that (``inf``, 10**15, a date next year) it
# is a broken or hostile answer, and the retry budget gives up on it instead of the process
# sleeping forever (or crashing on an overflowing sleep).
MAX_RETRY_AFTER = 3600.0
DEFAULT_RETRY_AFTER = 5.0  # when a 429 names no wait (the SDK's default too)
# A refresh that another 401 follows may just be unlucky (the token expired during a long
# pause); two refreshes in a row that Dropbox still refuses mean the link is dead.
MAX_REFRESHES_IN_A_ROW = 2


def bounded_wait(seconds: object) -> float | None:
    """A server-given wait as a float in [0, MAX_RETRY_AFTER]; None if not a number."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        return None
    try:
        value = float(seconds)
    except OverflowError:  # an int beyond float's range
        return MAX_RETRY_AFTER
    if math.isnan(value):
        return None
    return min(max(0.0, value), MAX_RETRY_AFTER)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds a ``Retry-After`` header asks for: delta-seconds or an HTTP-date (RFC 9110).

    None when absent or unreadable (the caller falls back); bounded by ``bounded_wait``.
    """
    if value is None:
        return None
    text = value.strip()
    try:
        return bounded_wait(float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT ("-0000" parses as naive)
        when = when.replace(tzinfo=UTC)
    return bounded_wait((when - now).total_seconds())


def classify(status: int, tag: str | None = None) -> Decision:
    """The action for a non-200 answer with the given error tag."""
    for rule_status, rule_tag, decision in RULES:
        matches = status in rule_status if isinstance(rule_status, range) else status == rule_status
        if matches and (rule_tag is None or rule_tag == tag):
            return decision
    return Decision(Action.FAIL, f"http_{status}")


@dataclass(frozen=True)
class RetryPolicy:
    """Retry budget: at most ``max_attempts`` tries within ``budget_seconds`` of the first."""

    max_attempts: int = 10
    base: float = 0.5
    cap: float = 30.0
    budget_seconds: float = 600.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base <= 0 or self.cap < self.base:
            raise ValueError("RetryPolicy needs max_attempts ≥ 1 and 0 < base ≤ cap")

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(cap, base·2^attempt)], ``attempt`` counting from 0.

        Full jitter spreads retries of many tasks out instead of synchronising them.
        """
        ceiling = min(self.cap, self.base * 2.0 ** min(attempt, 60))
        return rng.uniform(0.0, ceiling)

    def tracker(self, clock: Clock, rng: random.Random) -> RetryTracker:
        return RetryTracker(self, clock, rng)


class RetryTracker:
    """Counts the failed attempts of one logical request and decides the wait before the next."""

    def __init__(self, policy: RetryPolicy, clock: Clock, rng: random.Random) -> None:
        self.policy = policy
        self._clock = clock
        self._rng = rng
        self._started = clock.monotonic()
        self.attempts = 0
        self.last_error = "none"

    @property
    def elapsed(self) -> float:
        return self._clock.monotonic() - self._started

    def failed(self, description: str, *, delay: float | None = None) -> float | None:
        """Record a failed attempt; return the wait before the next one, or None if spent.

        ``delay`` overrides the jittered backoff (a server's Retry-After). Giving up early when
        the wait would overrun the budget beats sleeping only to give up afterwards.
        """
        self.last_error = description
        wait = self.policy.backoff(self.attempts, self._rng) if delay is None else delay
        self.attempts += 1
        if self.attempts >= self.policy.max_attempts:
            return None
        if self.elapsed + wait > self.policy.budget_seconds:
            return None
        return wait

    def summary(self) -> str:
        return (
            f"gave up after {self.attempts} attempt(s) in {self.elapsed:.1f}s; "
            f"last error: {self.last_error}"
        )
