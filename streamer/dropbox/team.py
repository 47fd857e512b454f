"""One team's API access, wired from its settings: token manager, rate gate, client.

Built in one place so the worker and ``streamer check`` talk to Dropbox the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from streamer.clock import Clock
from streamer.config import HttpSettings, TeamSettings
from streamer.dropbox.auth import TokenManager
from streamer.dropbox.client import DropboxClient
from streamer.dropbox.ratelimit import RateGate
from streamer.dropbox.retry import RetryPolicy
from streamer.dropbox.transport import Transport
from streamer.metrics import Metrics


@dataclass(frozen=True)
class TeamApi:
    tokens: TokenManager
    gate: RateGate
    client: DropboxClient

    @classmethod
    def build(
        cls,
        name: str,
        team: TeamSettings,
        http: HttpSettings,
        *,
        transport: Transport,
        clock: Clock,
        metrics: Metrics | None = None,
    ) -> TeamApi:
        # this team's own TLS trust: its ca_file is trusted for its requests only
        transport = transport.for_ca_file(team.ca_file)
        # one retry budget for every request of the team, token refreshes included: a 429
        # storm on the token endpoint is waited out as long as one on the API
        retry = RetryPolicy(max_attempts=http.max_attempts, budget_seconds=http.retry_budget)
        tokens = TokenManager(
            team=name,
            token_url=team.token_url,
            app_key=team.app_key,
            app_secret=team.app_secret,
            refresh_token=team.refresh_token,
            transport=transport,
            clock=clock,
            metrics=metrics,
            retry=retry,
            timeout=http.timeout,
        )
        gate = RateGate(clock, http.max_concurrency, adaptive=True)
        client = DropboxClient(
            team=name,
            api_url=team.api_url,
            tokens=tokens,
            transport=transport,
            gate=gate,
            retry=retry,
            clock=clock,
            metrics=metrics,
            timeout=http.timeout,
            max_response_bytes=http.max_response_bytes,
        )
        return cls(tokens, gate, client)
