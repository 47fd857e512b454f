"""TeamApi wires one team's token manager, rate gate and client from its settings."""

from __future__ import annotations

from dbx_fakes import APP_KEY, APP_SECRET, REFRESH_TOKEN, TOKEN_URL, text_response, token_ok

from streamer.clock import ManualClock
from streamer.config import HttpSettings, TeamSettings
from streamer.dropbox import MockTransport, Request, Response
from streamer.dropbox.team import TeamApi


async def test_token_refresh_waits_out_429s_within_the_configured_retry_budget() -> None:
    # more 429s than the token manager's own default (6 attempts) allows
    answers = [text_response(429, "too_many_requests", {"Retry-After": "2"})] * 9
    answers.append(token_ok("sl.fresh"))

    async def token_endpoint(request: Request) -> Response:
        return answers.pop(0)

    team = TeamSettings(
        app_key=APP_KEY,
        app_secret=APP_SECRET,  # type: ignore[arg-type]
        refresh_token=REFRESH_TOKEN,  # type: ignore[arg-type]
        token_url=TOKEN_URL,
    )
    api = TeamApi.build(
        "acme",
        team,
        HttpSettings(max_attempts=12, retry_budget=60),
        transport=MockTransport(token_endpoint),
        clock=ManualClock(),
    )
    assert await api.tokens.access_token() == "sl.fresh"
    assert answers == []
