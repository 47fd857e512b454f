"""The metrics object: its own registry, and checkpoint ages computed at scrape time."""

from __future__ import annotations

from prometheus_client import generate_latest

from streamer.metrics import Metrics


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    value = metrics.registry.get_sample_value(name, labels)
    return value


def test_checkpoint_age_is_now_minus_the_last_checkpoint() -> None:
    metrics = Metrics()
    metrics.checkpointed("acme", "members", 1000.0)
    metrics.checkpointed("acme", "audit", 1090.0)
    metrics.refresh_ages(1100.0)
    assert sample(metrics, "streamer_checkpoint_age_seconds", team="acme", stream="members") == 100
    assert sample(metrics, "streamer_checkpoint_age_seconds", team="acme", stream="audit") == 10
    assert (
        sample(metrics, "streamer_checkpoint_timestamp_seconds", team="acme", stream="members")
        == 1000
    )

    metrics.checkpointed("acme", "members", 1100.0)
    metrics.refresh_ages(1105.0)
    assert sample(metrics, "streamer_checkpoint_age_seconds", team="acme", stream="members") == 5


def test_each_metrics_object_counts_alone() -> None:
    one, two = Metrics(), Metrics()
    one.events.labels("acme", "member.joined").inc(3)
    assert sample(one, "streamer_events_total", team="acme", event_type="member.joined") == 3
    assert sample(two, "streamer_events_total", team="acme", event_type="member.joined") is None
    assert b"streamer_events_total" in generate_latest(one.registry)
