import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamer.clock import ManualClock
from streamer.dropbox.retry import (
    MALFORMED_RESPONSE,
    TRANSPORT_ERROR,
    Action,
    RetryPolicy,
    classify,
)


@given(attempt=st.integers(min_value=0, max_value=5000), seed=st.integers())
def test_backoff_stays_within_the_capped_exponential_ceiling(attempt: int, seed: int) -> None:
    policy = RetryPolicy(base=0.5, cap=30.0)
    delay = policy.backoff(attempt, random.Random(seed))
    assert 0.0 <= delay <= min(30.0, 0.5 * 2 ** min(attempt, 60))


def test_backoff_ceiling_doubles_until_the_cap() -> None:
    policy = RetryPolicy(base=0.5, cap=30.0)

    class Top(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return b

    assert [policy.backoff(n, Top()) for n in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]


def test_backoff_is_fully_jittered() -> None:
    policy = RetryPolicy(base=0.5, cap=30.0)
    rng = random.Random(1)
    delays = [policy.backoff(6, rng) for _ in range(200)]
    assert len(set(delays)) == 200
    assert min(delays) < 5
    assert max(delays) > 25


@pytest.mark.parametrize(
    ("status", "tag", "action", "reason"),
    [
        (400, None, Action.FAIL, "bad_request"),
        (401, "expired_access_token", Action.REFRESH, "expired_token"),
        (401, "invalid_access_token", Action.REFRESH, "invalid_token"),
        (401, "missing_scope", Action.FAIL, "missing_scope"),
        (401, "user_suspended", Action.FAIL, "unauthorized"),
        (403, "invalid_account_type", Action.FAIL, "forbidden"),
        (409, "reset", Action.FAIL, "route_error"),
        (429, None, Action.PAUSE, "rate_limited"),
        (500, None, Action.RETRY, "server_error"),
        (503, None, Action.RETRY, "server_error"),
        (599, None, Action.RETRY, "server_error"),
        (404, None, Action.FAIL, "http_404"),
    ],
)
def test_failures_are_classified_by_the_table(
    status: int, tag: str | None, action: Action, reason: str
) -> None:
    decision = classify(status, tag)
    assert (decision.action, decision.reason) == (action, reason)


def test_transport_errors_and_malformed_bodies_are_retried() -> None:
    assert TRANSPORT_ERROR.action is Action.RETRY
    assert MALFORMED_RESPONSE.action is Action.RETRY


def test_tracker_gives_up_after_max_attempts() -> None:
    clock = ManualClock()
    tracker = RetryPolicy(max_attempts=3).tracker(clock, random.Random(0))
    assert tracker.failed("HTTP 503") is not None
    assert tracker.failed("HTTP 503") is not None
    assert tracker.failed("HTTP 500") is None
    assert "3 attempt(s)" in tracker.summary()
    assert "last error: HTTP 500" in tracker.summary()


def test_tracker_gives_up_early_when_the_wait_would_overrun_the_budget() -> None:
    clock = ManualClock()
    tracker = RetryPolicy(max_attempts=100, budget_seconds=60).tracker(clock, random.Random(0))
    assert tracker.failed("429", delay=50) == 50
    clock.advance(50)
    assert tracker.failed("429", delay=20) is None  # 50 + 20 > 60: no point sleeping first


def test_tracker_uses_the_server_delay_instead_of_backoff() -> None:
    tracker = RetryPolicy().tracker(ManualClock(), random.Random(0))
    assert tracker.failed("429", delay=12.5) == 12.5


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="base"):
        RetryPolicy(base=5, cap=1)
