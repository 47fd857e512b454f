"""Fault knobs of the simulator and the pure logic that turns them into per-request decisions.

``Faults`` is the one mutable bag of knobs. The server reads it on every request, so changing an
attribute (in process, through ``POST /admin/faults`` or with a CLI flag at start-up) takes
effect on the next request. Knobs come in two flavours:

* ``*_rate``: a probability in [0, 1] drawn per request (or per record / per page where noted);
* ``*_next``: "the next N eligible requests" - a counter that the injector decrements.

Everything random comes from one seeded ``random.Random`` and time from an injectable ``Clock``,
so a run with the same seed and the same request sequence makes the same decisions.
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from streamer.clock import Clock

Action = Literal["drop", "error", "throttle", "slow", "redirect", "echo"]
BodyAction = Literal["truncate", "malformed", "huge"]


@dataclass
class Faults:
    """Runtime knobs. All rates are probabilities in [0, 1]; ``*_next`` are countdowns."""

    # --- latency -----------------------------------------------------------------------------
    latency_ms: float = 0.0  # fixed delay before every API answer
    jitter_ms: float = 0.0  # plus uniform [0, jitter_ms)
    # --- rate limit: one token bucket per team ------------------------------------------------
    rate_limit_rps: float = 0.0  # 0 = unlimited
    burst: int = 0  # bucket size; 0 = max(1, ceil(rate_limit_rps))
    rate_limit_text_body: bool = False  # answer 429 with a plain-text body instead of JSON
    # --- injected 429 regardless of the bucket ------------------------------------------------
    throttle_rate: float = 0.0
    throttle_next: int = 0
    throttle_retry_after: int = 1
    # --- injected 5xx -----------------------------------------------------------------------
    error_rate: float = 0.0
    error_next: int = 0
    error_status: int = 503  # 500..599
    # --- connection dropped without a response -------------------------------------------------
    drop_rate: float = 0.0
    drop_next: int = 0
    # --- answer late (longer than a client's timeout) ------------------------------------------
    slow_rate: float = 0.0
    slow_next: int = 0
    slow_ms: float = 30_000.0
    # --- broken 200 bodies ----------------------------------------------------------------------
    truncate_rate: float = 0.0  # Content-Length promises more than is sent, then the socket closes
    truncate_next: int = 0
    malformed_rate: float = 0.0  # a complete response whose body is not valid JSON
    malformed_next: int = 0
    huge_next: int = 0  # a 200 body of huge_bytes (valid JSON, streamed without a length)
    huge_bytes: int = 1 << 30
    huge_declared: bool = False  # announce the huge body's size in Content-Length
    # --- hostile answers ------------------------------------------------------------------------
    redirect_next: int = 0  # 307 to redirect_to + the request's path (an attacker's host)
    redirect_to: str = ""
    echo_token_next: int = 0  # a 400 whose text quotes the request's Authorization header
    # --- forward-compatibility noise (per record) ----------------------------------------------
    unknown_field_rate: float = 0.0  # extra, unknown fields in records
    unknown_tag_rate: float = 0.0  # unknown tags in OPEN unions only
    # --- cursors ------------------------------------------------------------------------------
    reset_rate: float = 0.0  # continue calls answer the route's reset / invalid_cursor error
    reset_next: int = 0
    # --- team_log page shapes -------------------------------------------------------------------
    empty_page_rate: float = 0.0  # zero events but has_more=true
    short_page_rate: float = 0.0  # fewer events than the limit although more exist
    # --- page sizes chosen by the server --------------------------------------------------------
    devices_page_size: int = 100  # members per list_members_devices page
    apps_page_size: int = 100  # members per list_members_linked_apps page
    # --- OAuth ----------------------------------------------------------------------------------
    token_lifetime_s: int = 14_400
    refresh_token_revoked: bool = False
    # --- scope of the request faults (None = every API route incl. oauth2/token) ---------------
    routes: list[str] | None = None

    _RATES: ClassVar[frozenset[str]] = frozenset(
        {
            "throttle_rate",
            "error_rate",
            "drop_rate",
            "slow_rate",
            "truncate_rate",
            "malformed_rate",
            "unknown_field_rate",
            "unknown_tag_rate",
            "reset_rate",
            "empty_page_rate",
            "short_page_rate",
        }
    )

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first knob with an impossible value."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in self._RATES and not 0.0 <= value <= 1.0:
                raise ValueError(f"{f.name} must be within [0, 1], got {value}")
            if f.name.endswith("_next") and value < 0:
                raise ValueError(f"{f.name} must be >= 0, got {value}")
        for name in ("latency_ms", "jitter_ms", "rate_limit_rps", "slow_ms"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.burst < 0:
            raise ValueError(f"burst must be >= 0, got {self.burst}")
        if self.throttle_retry_after < 1:
            raise ValueError("throttle_retry_after must be >= 1")
        if not 500 <= self.error_status <= 599:
            raise ValueError(f"error_status must be a 5xx status, got {self.error_status}")
        if self.redirect_next and not self.redirect_to.startswith(("http://", "https://")):
            raise ValueError("redirect_next needs redirect_to, an http(s) URL")
        for name in ("devices_page_size", "apps_page_size", "token_lifetime_s", "huge_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def update(self, patch: dict[str, Any]) -> None:
        """Apply a JSON patch of knobs: all valid, or nothing changes (``ValueError``)."""
        kinds = {f.name: f.type for f in dataclasses.fields(self)}
        candidate = dataclasses.replace(self)  # validated copy first
        for key, value in patch.items():
            if key not in kinds:
                raise ValueError(f"unknown knob {key!r}")
            setattr(candidate, key, _coerce(key, str(kinds[key]), value))
        candidate.validate()
        for key in patch:
            setattr(self, key, getattr(candidate, key))


def _coerce(key: str, kind: str, value: Any) -> Any:
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{key} must be a boolean")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{key} must be an integer")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{key} must be a number")
        return float(value)
    if kind == "str":
        if not isinstance(value, str):
            raise ValueError(f"{key} must be a string")
        return value
    # routes: list[str] | None
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key} must be a list of route names or null")
    return list(value)


class TokenBucket:
    """Classic token bucket on a monotonic clock: ``rate`` tokens/s, at most ``burst`` saved."""

    def __init__(self, clock: Clock, rate: float, burst: int) -> None:
        self._clock = clock
        self._tokens = 0.0
        self._last = clock.monotonic()
        self.rate = 0.0
        self.burst = 1
        self.configure(rate, burst)

    def configure(self, rate: float, burst: int) -> None:
        """Change rate/burst; a new configuration starts with a full bucket."""
        burst = burst if burst > 0 else max(1, math.ceil(rate))
        if (rate, burst) == (self.rate, self.burst):
            return  # the same limit (called on every request): keep the bucket's level
        self.rate = rate
        self.burst = burst
        self._tokens = float(self.burst)
        self._last = self._clock.monotonic()

    def take(self) -> int:
        """Take one token: 0 if granted, else whole seconds until one is available (>= 1)."""
        if self.rate <= 0:
            return 0
        now = self._clock.monotonic()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0
        return max(1, math.ceil((1.0 - self._tokens) / self.rate))


@dataclass(frozen=True)
class Decision:
    """What to do with one API request before it is handled."""

    delay_s: float = 0.0
    action: Action | None = None
    retry_after: int = 0  # for "throttle"


NO_FAULT = Decision()


@dataclass
class FaultInjector:
    """Turns ``Faults`` into decisions. Pure logic: seeded RNG + injected clock, no I/O."""

    faults: Faults
    rng: random.Random
    clock: Clock
    buckets: dict[str, TokenBucket] = field(default_factory=dict)

    def _fires(self, rate: float, next_attr: str) -> bool:
        remaining: int = getattr(self.faults, next_attr)
        if remaining > 0:
            setattr(self.faults, next_attr, remaining - 1)
            return True
        return rate > 0.0 and self.rng.random() < rate

    def applies_to(self, route: str) -> bool:
        routes = self.faults.routes
        return routes is None or route in routes

    def decide(self, route: str) -> Decision:
        """Latency and transport-level faults for one request (before authentication)."""
        f = self.faults
        if not self.applies_to(route):
            return NO_FAULT
        delay = f.latency_ms / 1000.0
        if f.jitter_ms > 0:
            delay += self.rng.random() * f.jitter_ms / 1000.0
        if self._fires(0.0, "redirect_next"):
            return Decision(delay, "redirect")
        if self._fires(0.0, "echo_token_next"):
            return Decision(delay, "echo")
        if self._fires(f.drop_rate, "drop_next"):
            return Decision(delay, "drop")
        if self._fires(f.error_rate, "error_next"):
            return Decision(delay, "error")
        if self._fires(f.throttle_rate, "throttle_next"):
            return Decision(delay, "throttle", f.throttle_retry_after)
        if self._fires(f.slow_rate, "slow_next"):
            return Decision(delay + f.slow_ms / 1000.0, "slow")
        if delay:
            return Decision(delay)
        return NO_FAULT

    def rate_limit(self, team_id: str) -> int:
        """Token bucket of the team: 0 = go ahead, else the Retry-After seconds."""
        f = self.faults
        if f.rate_limit_rps <= 0:
            return 0
        bucket = self.buckets.get(team_id)
        if bucket is None:
            bucket = self.buckets[team_id] = TokenBucket(self.clock, f.rate_limit_rps, f.burst)
        else:
            bucket.configure(f.rate_limit_rps, f.burst)
        return bucket.take()

    def body_fault(self, route: str) -> BodyAction | None:
        """Break a successful (200) body? Decided after the handler ran."""
        f = self.faults
        if not self.applies_to(route):
            return None
        if self._fires(f.truncate_rate, "truncate_next"):
            return "truncate"
        if self._fires(f.malformed_rate, "malformed_next"):
            return "malformed"
        if self._fires(0.0, "huge_next"):
            return "huge"
        return None

    def cursor_reset(self, route: str) -> bool:
        """Should this continue call (a call that carries a valid cursor) answer reset?"""
        return self.applies_to(route) and self._fires(self.faults.reset_rate, "reset_next")

    def page_shape(self, route: str, limit: int) -> int:
        """How many records a team_log page may hold: ``limit``, fewer, or 0."""
        f = self.faults
        if not self.applies_to(route):
            return limit
        if f.empty_page_rate > 0 and self.rng.random() < f.empty_page_rate:
            return 0
        if limit > 1 and f.short_page_rate > 0 and self.rng.random() < f.short_page_rate:
            return self.rng.randint(1, limit - 1)
        return limit

    def noise(self, rate: float) -> bool:
        """Per-record draw for unknown fields / tags."""
        return rate > 0.0 and self.rng.random() < rate
