"""OAuth 2 of the simulator: token store, ``POST /oauth2/token`` and ``GET /oauth2/authorize``.

* Access tokens are ``sl.`` + random; each remembers its scopes and an expiry on the server's
  monotonic clock (``Faults.token_lifetime_s``, default 14400 s). Unknown → 401
  ``invalid_access_token``; past expiry → 401 ``expired_access_token``.
* The team's long-lived refresh token is fixed by configuration (default ``sim-refresh-token``);
  ``Faults.refresh_token_revoked`` makes the token endpoint answer ``invalid_grant``.
* Client authentication: HTTP Basic ``app_key:app_secret`` or ``client_id``/``client_secret`` form
  fields; for the code grant also PKCE (``client_id`` + ``code_verifier``). Parameters come from
  the form body and/or the query string (the JS SDK sends them in the query string).
* ``/oauth2/authorize`` approves at once (it is a demo): with ``redirect_uri`` it redirects to
  ``<redirect_uri>?code=…&state=…``, otherwise it shows the code on a small HTML page.

Error bodies (HTTP 400) follow what Dropbox sends: ``{"error": "invalid_grant", "error_description":
"refresh token is invalid or revoked"}``, ``invalid_request``, ``unsupported_grant_type``,
``invalid_scope``; a wrong secret gives ``{"error": "invalid_client: Invalid client_id or
client_secret"}`` (the only body observed in the wild for that case).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

import orjson
from aiohttp import web

from streamer.clock import Clock
from streamer.simulator.faults import Faults
from streamer.simulator.http_wire import json_response

CODE_LIFETIME_S = 600.0
_MAX_TOKENS = 10_000
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@dataclass(frozen=True)
class Credentials:
    app_key: str = "sim-app-key"
    app_secret: str = "sim-app-secret"
    refresh_token: str = "sim-refresh-token"


@dataclass
class AccessToken:
    scopes: frozenset[str]
    expires_at: float


@dataclass
class AuthCode:
    scopes: frozenset[str]
    redirect_uri: str | None
    offline: bool
    challenge: str | None
    challenge_method: str
    expires_at: float


class TokenStore:
    """Access tokens and authorization codes; expiry measured on ``clock.monotonic()``."""

    def __init__(self, clock: Clock, rng: random.Random) -> None:
        self.clock = clock
        self._rng = rng
        self.tokens: dict[str, AccessToken] = {}
        self.codes: dict[str, AuthCode] = {}

    def _random(self, n: int) -> str:
        return "".join(self._rng.choice(_ALPHABET) for _ in range(n))

    def issue(self, scopes: frozenset[str], lifetime_s: float) -> str:
        if len(self.tokens) >= _MAX_TOKENS:
            self._prune()
        token = "sl." + self._random(60)
        self.tokens[token] = AccessToken(scopes, self.clock.monotonic() + lifetime_s)
        return token

    def _prune(self) -> None:
        now = self.clock.monotonic()
        for token in [t for t, a in self.tokens.items() if a.expires_at <= now]:
            del self.tokens[token]

    def check(self, token: str) -> AccessToken | Literal["expired", "invalid"]:
        entry = self.tokens.get(token)
        if entry is None:
            return "invalid"
        if self.clock.monotonic() >= entry.expires_at:
            return "expired"
        return entry

    def expire_all(self) -> int:
        """Every current access token answers ``expired_access_token`` from now on."""
        now = self.clock.monotonic()
        live = [a for a in self.tokens.values() if a.expires_at > now]
        for entry in live:
            entry.expires_at = float("-inf")
        return len(live)

    def forget_all(self) -> int:
        """Every current access token answers ``invalid_access_token`` from now on."""
        n = len(self.tokens)
        self.tokens.clear()
        return n

    def new_code(self, code: AuthCode) -> str:
        value = "sim-code-" + self._random(32)
        self.codes[value] = code
        return value

    def take_code(self, value: str) -> AuthCode | None:
        """Codes are single use and short lived."""
        code = self.codes.pop(value, None)
        if code is None or self.clock.monotonic() >= code.expires_at:
            return None
        return code


def _oauth_error(error: str, description: str | None = None) -> web.Response:
    body: dict[str, str] = {"error": error}
    if description is not None:
        body["error_description"] = description
    return json_response(orjson.dumps(body), status=400)


def _basic_auth(header: str) -> tuple[str, str] | None:
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    key, sep, secret = decoded.partition(":")
    return (key, secret) if sep else None


def _pkce_ok(code: AuthCode, verifier: str) -> bool:
    if code.challenge is None:
        return False
    if code.challenge_method == "S256":
        digest = hashlib.sha256(verifier.encode()).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == code.challenge
    return verifier == code.challenge


class OAuthEndpoints:
    """aiohttp handlers for the token endpoint and the (auto-approving) authorize page."""

    def __init__(
        self,
        store: TokenStore,
        credentials: Credentials,
        scopes: frozenset[str],
        faults: Faults,
        identity: Callable[[], Mapping[str, str]],
    ) -> None:
        self.store = store
        self.credentials = credentials
        self.scopes = scopes
        self.faults = faults
        self._identity = identity  # uid, account_id, team_id of the authorizing admin

    def issue(self, scopes: frozenset[str] | None = None) -> str:
        """Mint an access token directly (for in-process tests and benchmarks)."""
        return self.store.issue(
            self.scopes if scopes is None else scopes, self.faults.token_lifetime_s
        )

    def _scope_param(self, value: str | None) -> frozenset[str] | None:
        if not value:
            return self.scopes
        wanted = frozenset(value.split())
        return wanted if wanted <= self.scopes else None

    async def token(self, request: web.Request) -> web.Response:
        params: dict[str, str] = dict(request.query)
        if request.can_read_body:
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        grant = params.get("grant_type")
        if not grant:
            return _oauth_error("invalid_request", "Missing grant_type")
        if grant not in ("authorization_code", "refresh_token"):
            return _oauth_error("unsupported_grant_type", f"unsupported grant_type {grant!r}")
        basic = _basic_auth(request.headers.get("Authorization", ""))
        client_id, secret = basic or (params.get("client_id"), params.get("client_secret"))
        if client_id is None:
            return _oauth_error("invalid_request", "No auth function available for given request")
        if client_id != self.credentials.app_key or (
            secret is not None and secret != self.credentials.app_secret
        ):
            return _oauth_error("invalid_client: Invalid client_id or client_secret")
        if grant == "refresh_token":
            if secret is None:
                return _oauth_error(
                    "invalid_request", "No auth function available for given request"
                )
            return self._refresh(params)
        return self._exchange(params, secret is not None)

    def _refresh(self, params: Mapping[str, str]) -> web.Response:
        refresh = params.get("refresh_token")
        if not refresh:
            return _oauth_error("invalid_request", "Missing refresh_token")
        if refresh != self.credentials.refresh_token or self.faults.refresh_token_revoked:
            return _oauth_error("invalid_grant", "refresh token is invalid or revoked")
        scopes = self._scope_param(params.get("scope"))
        if scopes is None:
            return _oauth_error("invalid_scope", "requested scope exceeds the granted scopes")
        body = {
            "access_token": self.issue(scopes),
            "token_type": "bearer",
            "expires_in": self.faults.token_lifetime_s,
        }
        return json_response(orjson.dumps(body))

    def _exchange(self, params: Mapping[str, str], has_secret: bool) -> web.Response:
        value = params.get("code")
        if not value:
            return _oauth_error("invalid_request", "Missing code")
        code = self.store.take_code(value)
        if code is None:
            return _oauth_error("invalid_grant", "code doesn't exist or has expired")
        if code.redirect_uri is not None and params.get("redirect_uri") != code.redirect_uri:
            return _oauth_error("invalid_grant", "redirect_uri mismatch")
        if not has_secret and not _pkce_ok(code, params.get("code_verifier", "")):
            return _oauth_error("invalid_grant", "invalid code verifier")
        body: dict[str, Any] = {
            "access_token": self.issue(code.scopes),
            "token_type": "bearer",
            "expires_in": self.faults.token_lifetime_s,
        }
        if code.offline:
            if self.faults.refresh_token_revoked:
                return _oauth_error("invalid_grant", "refresh token is invalid or revoked")
            body["refresh_token"] = self.credentials.refresh_token
        body["scope"] = " ".join(sorted(code.scopes))
        body.update(self._identity())
        return json_response(orjson.dumps(body))

    async def authorize(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("client_id") != self.credentials.app_key:
            return _html(400, "Invalid client_id", "The app key in the link is not known.")
        if q.get("response_type", "code") != "code":
            return _html(400, "Unsupported response_type", "Only response_type=code is supported.")
        scopes = self._scope_param(q.get("scope"))
        if scopes is None:
            return _html(400, "Invalid scope", "The requested scope is not granted to the app.")
        method = q.get("code_challenge_method", "plain")
        if method not in ("S256", "plain"):
            return _html(400, "Invalid code_challenge_method", "Use S256 or plain.")
        redirect_uri = q.get("redirect_uri")
        code = self.store.new_code(
            AuthCode(
                scopes=scopes,
                redirect_uri=redirect_uri,
                offline=q.get("token_access_type") == "offline",
                challenge=q.get("code_challenge"),
                challenge_method=method,
                expires_at=self.store.clock.monotonic() + CODE_LIFETIME_S,
            )
        )
        if redirect_uri:
            extra = {"code": code, **({"state": q["state"]} if "state" in q else {})}
            sep = "&" if "?" in redirect_uri else "?"
            raise web.HTTPFound(redirect_uri + sep + urlencode(extra))
        return _html(
            200,
            "Access approved (simulator)",
            "Enter this code into the app: "
            f"<code id='code' style='font-size:1.3em'>{html.escape(code)}</code>",
        )


def _html(status: int, title: str, body_html: str) -> web.Response:
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body style='font-family:sans-serif'>"
        f"<h1>{html.escape(title)}</h1><p>{body_html}</p></body></html>"
    )
    return web.Response(text=page, status=status, content_type="text/html")
