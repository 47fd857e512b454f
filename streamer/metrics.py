"""Prometheus metrics, held in one object with its own registry.

One registry per ``Metrics`` instance (not the global default) so tests and several workers in
one process never see each other's counts. Labels never carry secrets: team labels are the
configured team *names*, never credentials.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.api_requests = Counter(
            "streamer_api_requests",
            "Dropbox API requests by route and HTTP status",
            ["team", "route", "status"],
            registry=r,
        )
        self.api_rate_limited = Counter(
            "streamer_api_rate_limited", "HTTP 429 answers received", ["team"], registry=r
        )
        self.rate_gate_wait = Counter(
            "streamer_rate_gate_wait_seconds",
            "Time requests spent waiting at the rate gate",
            ["team"],
            registry=r,
        )
        self.api_retries = Counter(
            "streamer_api_retries",
            "Requests retried, by reason",
            ["team", "route", "reason"],
            registry=r,
        )
        self.pages = Counter("streamer_pages", "API pages fetched", ["team", "stream"], registry=r)
        self.records = Counter(
            "streamer_records", "Records read from the API", ["team", "stream"], registry=r
        )
        self.rejected = Counter(
            "streamer_records_rejected",
            "API records that failed validation (logged with the reason, not published)",
            ["team", "stream"],
            registry=r,
        )
        self.events = Counter(
            "streamer_events", "Events published, by type", ["team", "event_type"], registry=r
        )
        self.publish_latency = Histogram(
            "streamer_publish_latency_seconds",
            "Send-to-acknowledgement time per batch",
            registry=r,
        )
        self.publish_errors = Counter(
            "streamer_publish_errors", "Failed publish attempts", ["reason"], registry=r
        )
        self.checkpoint_time = Gauge(
            "streamer_checkpoint_timestamp_seconds",
            "Unix time of the last committed checkpoint",
            ["team", "stream"],
            registry=r,
        )
        self.checkpoint_age = Gauge(
            "streamer_checkpoint_age_seconds",
            "Seconds since the last committed checkpoint, as of the scrape",
            ["team", "stream"],
            registry=r,
        )
        self._checkpoints: dict[tuple[str, str], float] = {}
        self.cycles = Counter(
            "streamer_cycles",
            "Stream cycles by outcome (ok, failed)",
            ["team", "stream", "outcome"],
            registry=r,
        )
        self.token_refreshes = Counter(
            "streamer_token_refreshes",
            "Access-token refreshes by outcome",
            ["team", "outcome"],
            registry=r,
        )
        self.last_success = Gauge(
            "streamer_last_success_timestamp_seconds",
            "Unix time of the last successful cycle",
            ["team", "stream"],
            registry=r,
        )

    def checkpointed(self, team: str, stream: str, when: float) -> None:
        """A checkpoint of ``team``/``stream`` was committed at Unix time ``when``."""
        self.checkpoint_time.labels(team, stream).set(when)
        self._checkpoints[(team, stream)] = when

    def refresh_ages(self, now: float) -> None:
        """Bring the age gauges up to ``now`` (called just before each scrape)."""
        for (team, stream), when in self._checkpoints.items():
            self.checkpoint_age.labels(team, stream).set(max(0.0, now - when))
