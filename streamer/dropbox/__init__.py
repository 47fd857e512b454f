"""The Dropbox API client: transport seam, retries, per-team rate gate, tokens, paging.

Public surface: code outside this package imports the client from here (the API's record
types and their page parsers are the public module ``streamer.dropbox.models``)::

    transport = AiohttpTransport()                     # one per process
    api = TeamApi.build(name, team_settings, http_settings, transport=transport, clock=clock)
    tokens = TokenManager(team=..., app_key=..., app_secret=..., refresh_token=...,
                          transport=transport, clock=clock)
    client = DropboxClient(team=..., tokens=tokens, transport=transport,
                           gate=RateGate(clock), retry=RetryPolicy(), clock=clock)
    async for page in members_pages(client): ...
"""

from streamer.dropbox.auth import TokenManager
from streamer.dropbox.client import DEFAULT_API_URL, DropboxClient
from streamer.dropbox.oauth import (
    DEFAULT_SCOPES,
    DEFAULT_TOKEN_URL,
    DEFAULT_WEB_URL,
    Pkce,
    TokenGrant,
    authorize_url,
    exchange_code,
)
from streamer.dropbox.pagination import (
    Page,
    audit_pages,
    linked_apps_pages,
    members_devices_pages,
    members_pages,
)
from streamer.dropbox.ratelimit import RateGate, Slot
from streamer.dropbox.retry import Action, Decision, RetryPolicy, classify
from streamer.dropbox.team import TeamApi
from streamer.dropbox.transport import (
    AiohttpTransport,
    MockTransport,
    Request,
    Response,
    Transport,
    TransportError,
)

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_SCOPES",
    "DEFAULT_TOKEN_URL",
    "DEFAULT_WEB_URL",
    "Action",
    "AiohttpTransport",
    "Decision",
    "DropboxClient",
    "MockTransport",
    "Page",
    "Pkce",
    "RateGate",
    "Request",
    "Response",
    "RetryPolicy",
    "Slot",
    "TeamApi",
    "TokenGrant",
    "TokenManager",
    "Transport",
    "TransportError",
    "audit_pages",
    "authorize_url",
    "classify",
    "exchange_code",
    "linked_apps_pages",
    "members_devices_pages",
    "members_pages",
]
