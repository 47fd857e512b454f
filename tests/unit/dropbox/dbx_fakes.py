"""Fakes for the client-layer tests: canned Dropbox answers behind a ``MockTransport``.

Bodies are the exact ones from docs (dropbox-api.md §1.2, §3). No sockets, no real sleeps.
"""

from __future__ import annotations

import random
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from pydantic import SecretStr

from streamer.clock import ManualClock
from streamer.dropbox import (
    DropboxClient,
    MockTransport,
    RateGate,
    Request,
    Response,
    RetryPolicy,
    TokenManager,
)
from streamer.metrics import Metrics

API = "https://api.example.test"
TOKEN_URL = "https://api.example.test/oauth2/token"
APP_KEY = "appkey-public-123"
# distinctive values, so a test can search any text for them
APP_SECRET = "APPSECRET-s3cr3t-9f8e7d"
REFRESH_TOKEN = "REFRESHTOKEN-nBiM85CZALsAAAAAAAAAAQXHBoNp"

JSON = {
    "Content-Type": "application/json",
    "X-Dropbox-Request-Id": "9a64573c9c6137aee07442aeb73fe6c2",
}


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status=status, headers={**JSON, **(headers or {})}, body=orjson.dumps(body))


def text_response(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status=status, headers={"Content-Type": "text/plain", **(headers or {})}, body=text.encode()
    )


def envelope(tag: str, **fields: Any) -> dict[str, Any]:
    return {"error_summary": f"{tag}/..", "error": {".tag": tag, **fields}}


EXPIRED = json_response(401, envelope("expired_access_token"))
INVALID_TOKEN = json_response(401, envelope("invalid_access_token"))
MISSING_SCOPE = json_response(401, envelope("missing_scope", required_scope="groups.read"))
RATE_LIMITED_BODY = {
    "error_summary": "too_many_requests/..",
    "error": {"reason": {".tag": "too_many_requests"}, "retry_after": 300},
}
INVALID_GRANT = json_response(
    400, {"error": "invalid_grant", "error_description": "refresh token is invalid or revoked"}
)
INVALID_CLIENT = json_response(400, {"error": "invalid_client: Invalid client_id or client_secret"})
BAD_REQUEST = text_response(
    400,
    "Error in call to API function \"team/members/list_v2\": request body: unknown tag ''",
)
SERVER_ERROR = text_response(503, "service unavailable")

Handler = Callable[[Request], Awaitable[Response]]
Item = Response | Handler


def token_ok(token: str, expires_in: int = 14400) -> Response:
    return json_response(
        200, {"access_token": token, "token_type": "bearer", "expires_in": expires_in}
    )


class FakeDropbox:
    """Queues of answers per route (the last one repeats) plus an automatic token endpoint."""

    def __init__(self, expires_in: int = 14400, clock: ManualClock | None = None) -> None:
        self.routes: dict[str, deque[Item]] = defaultdict(deque)
        self.token_answers: deque[Item] = deque()
        self.expires_in = expires_in
        self.clock = clock or ManualClock()
        self.issued: list[str] = []
        self.issued_at: dict[str, float] = {}  # token → monotonic time it was issued
        self.transport = MockTransport(self.handle)

    def on(self, route: str, *answers: Item) -> FakeDropbox:
        self.routes[route].extend(answers)
        return self

    def on_token(self, *answers: Item) -> FakeDropbox:
        self.token_answers.extend(answers)
        return self

    @property
    def api_calls(self) -> list[Request]:
        return [r for r in self.transport.requests if r.url != TOKEN_URL]

    @property
    def token_calls(self) -> list[Request]:
        return [r for r in self.transport.requests if r.url == TOKEN_URL]

    async def handle(self, request: Request) -> Response:
        if request.url == TOKEN_URL:
            if self.token_answers:
                return await _answer(self.token_answers.popleft(), request)
            token = f"sl.ACCESS-{len(self.issued) + 1}"
            self.issued.append(token)
            self.issued_at[token] = self.clock.monotonic()
            return token_ok(token, self.expires_in)
        route = request.url.removeprefix(f"{API}/2/")
        queue = self.routes[route]
        if not queue:
            raise AssertionError(f"unexpected call to {route}")
        item = queue.popleft() if len(queue) > 1 else queue[0]
        return await _answer(item, request)


async def _answer(item: Item, request: Request) -> Response:
    return item if isinstance(item, Response) else await item(request)


def make_tokens(
    fake: FakeDropbox, clock: ManualClock, metrics: Metrics | None = None, **kwargs: Any
) -> TokenManager:
    return TokenManager(
        team="acme",
        token_url=TOKEN_URL,
        app_key=APP_KEY,
        app_secret=SecretStr(APP_SECRET),
        refresh_token=SecretStr(REFRESH_TOKEN),
        transport=fake.transport,
        clock=clock,
        metrics=metrics,
        rng=random.Random(7),
        **kwargs,
    )


def make_client(
    fake: FakeDropbox,
    clock: ManualClock,
    *,
    metrics: Metrics | None = None,
    retry: RetryPolicy | None = None,
    gate: RateGate | None = None,
) -> DropboxClient:
    return DropboxClient(
        team="acme",
        api_url=API,
        tokens=make_tokens(fake, clock, metrics),
        transport=fake.transport,
        gate=gate or RateGate(clock, max_concurrency=8, rng=random.Random(3)),
        retry=retry or RetryPolicy(max_attempts=5, budget_seconds=600),
        clock=clock,
        metrics=metrics,
        rng=random.Random(11),
    )


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return value or 0.0
