"""OAuth 2 pieces: the authorize URL, the code exchange, and token-endpoint error mapping.

Used once by an operator (``streamer auth url`` / ``streamer auth exchange``) to obtain the
long-lived refresh token, and by ``TokenManager`` for the refresh grant's error handling.
Token values only ever live in ``SecretStr``; bodies of successful token answers are never
echoed into messages because they hold tokens.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

import orjson
from pydantic import SecretStr

from streamer.dropbox.transport import Transport
from streamer.errors import DropboxApiError, DropboxAuthError

DEFAULT_WEB_URL = "https://www.dropbox.com"
DEFAULT_TOKEN_URL = "https://api.dropboxapi.com/oauth2/token"
# what the streamer's streams need; events.read only for the audit stream
DEFAULT_SCOPES: tuple[str, ...] = (
    "account_info.read",
    "team_info.read",
    "members.read",
    "sessions.list",
    "events.read",
)
# A token answer is a few hundred bytes; anything near this is not one (and is not read).
TOKEN_MAX_BYTES = 64 * 1024
# Dropbox issues 4 h tokens; a longer promise (10**15 s) is believed for a day at most, and a
# 401 before then is handled by refreshing anyway.
MAX_EXPIRES_IN = 86400
REAUTH_HINT = "create a new refresh token with `streamer auth url` and `streamer auth exchange`"


@dataclass(frozen=True)
class Pkce:
    """PKCE verifier/challenge pair (S256), for a flow that needs no app secret at exchange."""

    verifier: str
    challenge: str

    @classmethod
    def generate(cls) -> Pkce:
        verifier = secrets.token_urlsafe(64)  # 86 chars, within RFC 7636's 43..128
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
        return cls(verifier=verifier, challenge=challenge)


def authorize_url(
    app_key: str,
    *,
    web_url: str = DEFAULT_WEB_URL,
    scopes: Iterable[str] = DEFAULT_SCOPES,
    state: str | None = None,
    pkce: Pkce | None = None,
    redirect_uri: str | None = None,
) -> str:
    """The URL a team admin opens to link the app; ``offline`` so a refresh token is issued."""
    params: list[tuple[str, str]] = [
        ("response_type", "code"),
        ("client_id", app_key),
        ("token_access_type", "offline"),
    ]
    scope = " ".join(scopes)
    if scope:
        params.append(("scope", scope))
    if redirect_uri is not None:
        params.append(("redirect_uri", redirect_uri))
    if state is not None:
        params.append(("state", state))
    if pkce is not None:
        params += [("code_challenge", pkce.challenge), ("code_challenge_method", "S256")]
    return f"{web_url.rstrip('/')}/oauth2/authorize?{urlencode(params)}"


@dataclass(frozen=True)
class TokenGrant:
    refresh_token: SecretStr
    access_token: SecretStr
    expires_in: int | None
    scope: tuple[str, ...]
    team_id: str | None
    account_id: str | None

    def missing_scopes(self, wanted: Iterable[str] = DEFAULT_SCOPES) -> tuple[str, ...]:
        return tuple(s for s in wanted if s not in self.scope)


def basic_auth(app_key: str, app_secret: SecretStr) -> str:
    raw = f"{app_key}:{app_secret.get_secret_value()}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def redact(text: str, *values: str) -> str:
    """Replace any secret value that a server might have echoed back.

    Values under 8 characters are left alone: real secrets are long, and masking a short
    string (a test's "c") would garble every word containing it.
    """
    for value in values:
        if len(value) >= 8:
            text = text.replace(value, "***")
    return text


def token_error(
    status: int, body: bytes, *, grant: Literal["refresh_token", "authorization_code"]
) -> DropboxAuthError:
    """Map a 4xx from the token endpoint to an error that tells the operator what to do."""
    code, description = _oauth_error(body)
    detail = f"{code}: {description}" if description else code
    if code == "invalid_grant":
        if grant == "refresh_token":
            return DropboxAuthError(
                f"Dropbox refused the refresh token ({detail}): it was revoked or the app was "
                f"unlinked from the team; {REAUTH_HINT}, then update the configuration"
            )
        return DropboxAuthError(
            f"Dropbox refused the authorization code ({detail}): codes are single-use, expire "
            "within minutes and must use the same redirect URI; run `streamer auth url` again"
        )
    if code == "invalid_client":
        return DropboxAuthError(
            f"Dropbox rejected the app credentials ({detail}): check the app key and app secret "
            "(App Console → Settings)"
        )
    return DropboxAuthError(
        f"the Dropbox token endpoint refused the request (HTTP {status} {detail})"
    )


def _oauth_error(body: bytes) -> tuple[str, str]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        text = body.decode("utf-8", errors="replace").strip()[:200]
        return (text.split(":", 1)[0].strip() or "unknown_error"), ""
    if not isinstance(data, dict):
        return "unknown_error", ""
    error = str(data.get("error", "unknown_error"))
    description = str(data.get("error_description", ""))
    # seen in the wild: {"error": "invalid_client: Invalid client_id or client_secret"}
    if ":" in error:
        error, _, extra = error.partition(":")
        description = description or extra.strip()
    return error.strip(), description[:200]


def parse_token_body(body: bytes) -> dict[str, Any]:
    """Decode a 200 token answer; never quotes the body (it holds tokens)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
        raise DropboxApiError("the Dropbox token endpoint returned a malformed answer")
    return data


def expires_in_of(data: Mapping[str, Any]) -> int | None:
    """``expires_in`` in [1, MAX_EXPIRES_IN] s; None if absent, not positive or not a number."""
    value = data.get("expires_in")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        seconds = int(value)  # a numeric string too, as the SDK accepts
    except (TypeError, ValueError, OverflowError):  # OverflowError: inf
        return None
    if seconds < 1:
        return None
    return min(seconds, MAX_EXPIRES_IN)


async def exchange_code(
    transport: Transport,
    *,
    token_url: str = DEFAULT_TOKEN_URL,
    app_key: str,
    app_secret: SecretStr | None,
    code: str,
    redirect_uri: str | None = None,
    code_verifier: str | None = None,
    timeout: float = 30.0,  # noqa: ASYNC109 - passed to the transport as its HTTP timeout
) -> TokenGrant:
    """Trade a one-time authorization code for the long-lived refresh token.

    Not retried: the code is single-use, so a retry after a lost answer would only fail.
    """
    form = {"grant_type": "authorization_code", "code": code.strip()}
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if redirect_uri is not None:
        form["redirect_uri"] = redirect_uri
    if code_verifier is not None:
        form["code_verifier"] = code_verifier
    if app_secret is not None:
        headers["Authorization"] = basic_auth(app_key, app_secret)
    else:
        form["client_id"] = app_key  # PKCE: public client, no secret
    response = await transport.post(
        token_url, headers=headers, data=form, timeout=timeout, max_bytes=TOKEN_MAX_BYTES
    )
    if response.status in (400, 401, 403):
        error = token_error(response.status, response.body, grant="authorization_code")
        secret = app_secret.get_secret_value() if app_secret else ""
        raise DropboxAuthError(redact(error.message, secret))
    if response.status != 200:
        raise DropboxApiError(
            f"the Dropbox token endpoint answered HTTP {response.status}; try again later"
        )
    data = parse_token_body(response.body)
    refresh = data.get("refresh_token")
    if not isinstance(refresh, str) or not refresh:
        raise DropboxAuthError(
            "Dropbox issued no refresh token: the authorize URL must carry "
            "token_access_type=offline (use `streamer auth url`)"
        )
    return TokenGrant(
        refresh_token=SecretStr(refresh),
        access_token=SecretStr(data["access_token"]),
        expires_in=expires_in_of(data),
        scope=tuple(str(data.get("scope") or "").split()),
        team_id=_opt_str(data.get("team_id")),
        account_id=_opt_str(data.get("account_id")),
    )


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
