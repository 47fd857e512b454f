"""/readyz's verdict (``HealthServer.problems``) for each thing that can be wrong, with the
worker's health surface played by a plain object and time by a manual clock."""

from __future__ import annotations

from dataclasses import dataclass, field

from streamer.clock import ManualClock
from streamer.config import STREAM_NAMES, Settings
from streamer.errors import DropboxAuthError
from streamer.health import HealthServer
from streamer.metrics import Metrics


@dataclass
class Tokens:
    valid: bool = True
    failure: DropboxAuthError | None = None


@dataclass
class Worker:
    name: str = "acme"
    connected: bool = True
    tokens: Tokens = field(default_factory=Tokens)
    disabled: set[str] = field(default_factory=set)
    last_success: dict[str, float] = field(default_factory=dict)

    def publisher_connected(self) -> bool:
        return self.connected


def server(worker: Worker, clock: ManualClock, **streams: dict[str, object]) -> HealthServer:
    settings = Settings.model_validate(
        {
            "teams": {"acme": {"app_key": "k", "app_secret": "s", "refresh_token": "r"}},
            "streams": {
                name: {"poll_interval": 100, **streams.get(name, {})} for name in STREAM_NAMES
            },
        }
    )
    return HealthServer(settings, Metrics(), [worker], clock)  # type: ignore[list-item]


def test_ready_when_every_stream_cycled_recently() -> None:
    clock = ManualClock()
    worker = Worker()
    health = server(worker, clock)
    clock.advance(250)
    worker.last_success = dict.fromkeys(STREAM_NAMES, clock.now().timestamp() - 299)
    assert health.problems() == []


def test_streams_get_three_intervals_of_grace_after_start_then_count_as_stale() -> None:
    clock = ManualClock()
    health = server(Worker(), clock)
    clock.advance(300)
    assert health.problems() == []
    clock.advance(1)
    assert health.problems() == [f"acme/{s}: no successful cycle for 301 s" for s in STREAM_NAMES]


def test_disabled_streams_are_not_waited_for() -> None:
    clock = ManualClock()
    worker = Worker(disabled={"audit"})
    health = server(worker, clock, team={"enabled": False})
    clock.advance(301)
    stale = [p.split(":")[0] for p in health.problems()]
    assert stale == ["acme/members", "acme/sessions", "acme/apps"]


def test_kafka_and_token_problems_are_named() -> None:
    clock = ManualClock()
    refused = DropboxAuthError("team 'acme': Dropbox refused the refresh token (invalid_grant)")
    worker = Worker(connected=False, tokens=Tokens(valid=False, failure=refused))
    assert server(worker, clock).problems() == [
        "acme: Kafka producer not connected",
        "acme: Dropbox refused the credentials (team 'acme': Dropbox refused the refresh token "
        "(invalid_grant))",
    ]
    worker.tokens = Tokens(valid=False)
    worker.connected = True
    assert server(worker, clock).problems() == ["acme: no valid access token"]
