"""The HTTP seam: the only client-side module that imports aiohttp.

Everything above it (client, token refresh, OAuth) talks to a ``Transport``: one ``post`` that
takes bytes or a form mapping and returns status, headers and the whole body. Tests pass a
``MockTransport`` built from a plain async function instead of patching anything.

Network failures surface as ``TransportError``; ``retriable`` says whether trying again can
help (a reset connection can; an untrusted certificate cannot).
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import aiohttp

from streamer import __version__
from streamer.errors import DropboxApiError

USER_AGENT = f"dropbox-streamer/{__version__}"


class TransportError(DropboxApiError):
    """The request did not produce an HTTP response (timeout, reset, TLS failure, ...)."""

    def __init__(self, message: str, *, retriable: bool = True) -> None:
        super().__init__(message)
        self.retriable = retriable


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup (fakes often pass plain dicts)."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Request:
    """What a ``MockTransport`` handler receives."""

    url: str
    headers: Mapping[str, str]
    data: bytes | Mapping[str, str]
    timeout: float


class Transport(Protocol):
    async def post(
        self,
        url: str,
        *,
        headers: Mapping[str, str],
        data: bytes | Mapping[str, str],
        timeout: float,  # noqa: ASYNC109 - per-request HTTP timeout, the seam's contract
    ) -> Response: ...


Handler = Callable[[Request], Awaitable[Response]]


class MockTransport:
    """A transport built from ``async def handler(request) -> Response``; for tests."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.requests: list[Request] = []

    async def post(
        self,
        url: str,
        *,
        headers: Mapping[str, str],
        data: bytes | Mapping[str, str],
        timeout: float,  # noqa: ASYNC109 - per-request HTTP timeout, the seam's contract
    ) -> Response:
        request = Request(url=url, headers=dict(headers), data=data, timeout=timeout)
        self.requests.append(request)
        return await self._handler(request)

    def __repr__(self) -> str:
        return f"MockTransport(requests={len(self.requests)})"


class AiohttpTransport:
    """One pooled ``aiohttp.ClientSession`` shared by every team in the process.

    The session is created on first use so the transport can be built outside a running loop.
    """

    def __init__(
        self,
        *,
        ca_file: str | None = None,
        limit: int = 100,
        ssl_context: ssl.SSLContext | None = None,
        connect_timeout: float = 10.0,
        ca_files: Sequence[str] = (),
    ) -> None:
        extra = [*([ca_file] if ca_file else []), *ca_files]
        if ssl_context is None and extra:
            # extra CAs are trusted *in addition to* the system store: one process may serve a
            # simulator team and a real one through this one session
            ssl_context = ssl.create_default_context()
            for path in extra:
                ssl_context.load_verify_locations(cafile=path)
        self._ssl = ssl_context
        self._limit = limit
        self._connect_timeout = connect_timeout
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._limit,
                ttl_dns_cache=300,
                ssl=self._ssl if self._ssl is not None else True,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": USER_AGENT},
                # proxies and netrc come from settings, never implicitly from the environment
                trust_env=False,
                raise_for_status=False,
            )
        return self._session

    async def post(
        self,
        url: str,
        *,
        headers: Mapping[str, str],
        data: bytes | Mapping[str, str],
        timeout: float,  # noqa: ASYNC109 - per-request HTTP timeout, the seam's contract
    ) -> Response:
        session = self._get_session()
        client_timeout = aiohttp.ClientTimeout(
            total=timeout, connect=min(self._connect_timeout, timeout)
        )
        payload: bytes | dict[str, str] = data if isinstance(data, bytes) else dict(data)
        try:
            async with session.post(
                url, headers=dict(headers), data=payload, timeout=client_timeout
            ) as resp:
                body = await resp.read()
                return Response(status=resp.status, headers=dict(resp.headers), body=body)
        except Exception as exc:
            raise _map_error(url, exc) from exc

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    def __repr__(self) -> str:
        return f"AiohttpTransport(limit={self._limit}, custom_ca={self._ssl is not None})"


def _map_error(url: str, exc: Exception) -> Exception:
    """aiohttp/OS failures → ``TransportError``; anything else (a bug) passes through."""
    # order matters: certificate errors are ClientConnectorErrors, which are otherwise retriable
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        return TransportError(
            f"TLS failure talking to {url}: {exc}; is the CA file (--ca-file) right?",
            retriable=False,
        )
    if isinstance(exc, aiohttp.InvalidURL):
        return TransportError(f"invalid URL {url!r}", retriable=False)
    if isinstance(exc, TimeoutError):
        return TransportError(f"timed out talking to {url}")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return TransportError(f"truncated response from {url}: {exc}")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return TransportError(f"server disconnected: {url}")
    if isinstance(exc, aiohttp.ClientError | OSError):
        return TransportError(f"cannot talk to {url}: {type(exc).__name__}: {exc}")
    return exc
