"""A small OAuth 2 token endpoint for the OAUTHBEARER tests: the client credentials grant,
issuing JWTs signed (ES256) with the key whose public half the test broker's SASL_SSL
listener trusts (``scripts/kafka`` writes both at format time: KAFKA_OAUTH_SIGNING_KEY and
jwks.json). The broker checks the signature, ``exp`` and ``sub``, as against a real identity
provider.

``mode`` makes it misbehave the ways identity providers and proxies do (garbage, a huge body,
no expiry, a redirect, an outage); ``requests`` counts what it was asked.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import orjson
from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

Mode = Literal[
    "ok",
    "garbage",  # 200 with an HTML page
    "huge",  # 200 with 64 MiB
    "no_expiry",  # no expires_in and an opaque token (no exp claim)
    "redirect",  # 307 to another host
    "unavailable",  # 503
    "expired",  # a token whose exp has passed
    "no_token",  # 200 JSON without access_token
    "foreign_key",  # a well-formed token signed with a key the broker does not trust
    "echo",  # 400 whose description quotes the client secret it was sent
]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass
class TokenEndpoint:
    signing_key: Path
    key_id: str
    client_id: str = "streamer-client"
    client_secret: str = "oauth-client-secret-Qm7Vx2Kp9"
    lifetime: int = 3600
    mode: Mode = "ok"
    requests: int = 0
    issued: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)
    url: str = ""

    def jwt(self, subject: str, scope: str, lifetime: float) -> str:
        key = serialization.load_pem_private_key(self.signing_key.read_bytes(), password=None)
        if self.mode == "foreign_key":
            key = ec.generate_private_key(ec.SECP256R1())
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        now = int(time.time())
        header = {"alg": "ES256", "typ": "JWT", "kid": self.key_id}
        claims: dict[str, object] = {"sub": subject, "iat": now, "exp": now + int(lifetime)}
        claims["iss"] = self.url
        if scope:  # Kafka's broker refuses an empty scope claim
            claims["scope"] = scope
        signing_input = f"{_b64url(orjson.dumps(header))}.{_b64url(orjson.dumps(claims))}"
        r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        form = await request.post()
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return web.json_response(
                {"error": "invalid_client", "error_description": "client authentication failed"},
                status=401,
            )
        if self.mode == "echo":
            echoed = f"cannot use {self.client_secret}"
            return web.json_response(
                {"error": "invalid_request", "error_description": echoed}, status=400
            )
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        scope = str(form.get("scope", ""))
        self.scopes.append(scope)
        if self.mode == "unavailable":
            return web.Response(status=503, text="upstream unavailable")
        if self.mode == "garbage":
            return web.Response(status=200, text="<html>Sign in to continue</html>")
        if self.mode == "redirect":
            raise web.HTTPTemporaryRedirect("http://127.0.0.1:9/elsewhere")
        if self.mode == "huge":
            response = web.StreamResponse(status=200)
            await response.prepare(request)
            chunk = b"x" * (1 << 16)
            try:
                for _ in range(1 << 10):  # 64 MiB, unless the client hangs up first
                    await response.write(chunk)
            except ConnectionError:
                pass  # it did: what the client is expected to do
            return response
        if self.mode == "no_token":
            return web.json_response({"token_type": "Bearer", "expires_in": 3600})
        lifetime = -60 if self.mode == "expired" else self.lifetime
        token = self.jwt(self.client_id, scope, lifetime)
        self.issued.append(token)
        if self.mode == "no_expiry":
            # no expires_in and an opaque token: nothing says when it expires
            opaque = "opaque-" + _b64url(token.encode())[:40]
            self.issued.append(opaque)
            return web.json_response({"access_token": opaque, "token_type": "Bearer"})
        return web.json_response(
            {"access_token": token, "token_type": "Bearer", "expires_in": self.lifetime}
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[TokenEndpoint]:
        app = web.Application()
        app.router.add_post("/oauth2/token", self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/oauth2/token"
        try:
            yield self
        finally:
            await runner.cleanup()
