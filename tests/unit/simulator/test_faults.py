"""Fault knobs, token bucket and fault decisions: pure logic on a manual clock and seeded RNG."""

from __future__ import annotations

import random

import pytest

from streamer.clock import ManualClock
from streamer.simulator.faults import FaultInjector, Faults, TokenBucket


def injector(seed: int = 1, **knobs: object) -> FaultInjector:
    return FaultInjector(Faults(**knobs), random.Random(seed), ManualClock())  # type: ignore[arg-type]


# --- knobs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "knobs",
    [
        {"error_rate": 1.5},
        {"drop_rate": -0.1},
        {"error_next": -1},
        {"latency_ms": -1.0},
        {"error_status": 404},
        {"devices_page_size": 0},
        {"token_lifetime_s": 0},
        {"throttle_retry_after": 0},
        {"burst": -1},
    ],
)
def test_impossible_knobs_are_rejected(knobs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=next(iter(knobs))):
        Faults(**knobs)  # type: ignore[arg-type]


def test_update_is_all_or_nothing() -> None:
    faults = Faults()
    with pytest.raises(ValueError, match="error_rate"):
        faults.update({"latency_ms": 5, "error_rate": 2})
    assert faults.latency_ms == 0.0
    faults.update({"latency_ms": 5, "error_rate": 0.5, "routes": ["team/get_info"]})
    assert (faults.latency_ms, faults.error_rate, faults.routes) == (5.0, 0.5, ["team/get_info"])
    assert isinstance(faults.latency_ms, float)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"nope": 1}, "unknown knob"),
        ({"error_next": 1.5}, "integer"),
        ({"error_next": True}, "integer"),
        ({"error_rate": "0.1"}, "number"),
        ({"refresh_token_revoked": 1}, "boolean"),
        ({"routes": "team/get_info"}, "list"),
    ],
)
def test_update_checks_types(patch: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Faults().update(patch)


def test_to_dict_round_trips() -> None:
    faults = Faults(error_rate=0.25, routes=["x"])
    copy = Faults()
    copy.update(faults.to_dict())
    assert copy == faults


# --- token bucket -----------------------------------------------------------------------------


def test_bucket_allows_burst_then_asks_to_wait_whole_seconds() -> None:
    clock = ManualClock()
    bucket = TokenBucket(clock, rate=2.0, burst=3)
    assert [bucket.take() for _ in range(3)] == [0, 0, 0]
    assert bucket.take() == 1  # 0.5 s until the next token → rounded up
    clock.advance(0.5)
    assert bucket.take() == 0
    assert bucket.take() == 1


def test_bucket_retry_after_rounds_up_and_is_at_least_one() -> None:
    clock = ManualClock()
    bucket = TokenBucket(clock, rate=0.2, burst=1)  # one token every 5 s
    assert bucket.take() == 0
    assert bucket.take() == 5
    clock.advance(4.5)
    assert bucket.take() == 1  # 0.5 s left → 1
    clock.advance(0.5)
    assert bucket.take() == 0


def test_bucket_refills_only_up_to_burst() -> None:
    clock = ManualClock()
    bucket = TokenBucket(clock, rate=10.0, burst=2)
    clock.advance(3600)
    assert [bucket.take() for _ in range(3)] == [0, 0, 1]


def test_bucket_default_burst_is_rate_rounded_up_and_zero_rate_is_unlimited() -> None:
    clock = ManualClock()
    assert TokenBucket(clock, rate=2.5, burst=0).burst == 3
    unlimited = TokenBucket(clock, rate=0.0, burst=0)
    assert all(unlimited.take() == 0 for _ in range(1000))


def test_injector_rate_limit_follows_live_knobs() -> None:
    inj = injector(rate_limit_rps=1.0, burst=1)
    assert inj.rate_limit("team") == 0
    assert inj.rate_limit("team") == 1
    assert inj.rate_limit("other-team") == 0  # one bucket per team
    inj.faults.rate_limit_rps = 0.0
    assert inj.rate_limit("team") == 0
    inj.faults.update({"rate_limit_rps": 100.0, "burst": 5})
    assert [inj.rate_limit("team") for _ in range(6)] == [0, 0, 0, 0, 0, 1]


def test_injector_rate_limit_with_the_default_burst_really_limits() -> None:
    # burst 0 means "the rate rounded up"; asking again with the same knobs must not refill
    inj = injector(rate_limit_rps=2.0, burst=0)
    assert [inj.rate_limit("team") for _ in range(3)] == [0, 0, 1]


# --- decisions --------------------------------------------------------------------------------


def test_no_knobs_no_faults() -> None:
    inj = injector()
    for _ in range(100):
        d = inj.decide("team/get_info")
        assert (d.action, d.delay_s) == (None, 0.0)
        assert inj.body_fault("team/get_info") is None
        assert not inj.cursor_reset("team/get_info")
        assert inj.page_shape("team_log/get_events", 10) == 10


def test_next_n_counts_down() -> None:
    inj = injector(error_next=2, drop_next=1)
    actions = [inj.decide("r").action for _ in range(4)]
    assert actions == ["drop", "error", "error", None]
    assert (inj.faults.error_next, inj.faults.drop_next) == (0, 0)


def test_throttle_and_slow() -> None:
    inj = injector(
        throttle_next=1, throttle_retry_after=7, slow_next=1, slow_ms=2500, latency_ms=10
    )
    first = inj.decide("r")
    assert (first.action, first.retry_after) == ("throttle", 7)
    second = inj.decide("r")
    assert second.action == "slow"
    assert second.delay_s == pytest.approx(2.51)
    assert inj.decide("r").delay_s == pytest.approx(0.01)


def test_rates_are_deterministic_for_a_seed() -> None:
    def run(seed: int) -> list[str | None]:
        inj = injector(seed, error_rate=0.3, drop_rate=0.1)
        return [inj.decide("r").action for _ in range(200)]

    assert run(7) == run(7)
    assert run(7) != run(8)
    actions = run(7)
    assert 20 < actions.count("error") < 100
    assert 5 < actions.count("drop") < 40


def test_jitter_stays_within_bounds() -> None:
    inj = injector(latency_ms=100, jitter_ms=50)
    delays = [inj.decide("r").delay_s for _ in range(200)]
    assert all(0.1 <= d < 0.15 for d in delays)
    assert max(delays) - min(delays) > 0.02


def test_routes_knob_limits_faults_to_named_routes() -> None:
    inj = injector(error_rate=1.0, truncate_rate=1.0, reset_rate=1.0, routes=["team/get_info"])
    assert inj.decide("team/members/list_v2").action is None
    assert inj.body_fault("team/members/list_v2") is None
    assert not inj.cursor_reset("team/members/list/continue_v2")
    assert inj.decide("team/get_info").action == "error"
    assert inj.body_fault("team/get_info") == "truncate"


def test_body_faults_and_resets() -> None:
    inj = injector(truncate_next=1, malformed_next=1, reset_next=2)
    assert [inj.body_fault("r") for _ in range(3)] == ["truncate", "malformed", None]
    assert [inj.cursor_reset("r") for _ in range(3)] == [True, True, False]


def test_page_shapes() -> None:
    assert injector(empty_page_rate=1.0).page_shape("r", 10) == 0
    shorts = [injector(s, short_page_rate=1.0).page_shape("r", 10) for s in range(50)]
    assert all(1 <= n <= 9 for n in shorts)
    assert injector(short_page_rate=1.0).page_shape("r", 1) == 1  # cannot be shorter


def test_noise_draws() -> None:
    inj = injector()
    assert not any(inj.noise(0.0) for _ in range(100))
    assert all(inj.noise(1.0) for _ in range(100))
