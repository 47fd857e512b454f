"""The HTTP seam of the Dropbox client: the only module of it that imports aiohttp (the Kafka
OAUTHBEARER token fetch, ``kafka/oauth.py``, has its own small one that words its errors for
``kafka.oauth``).

Everything above it (client, token refresh, OAuth) talks to a ``Transport``: one ``post`` that
takes bytes or a form mapping and returns status, headers and the whole body, and
``for_ca_file`` that gives the view one team uses (its own extra CA, nobody else's). Tests pass
a ``MockTransport`` built from a plain async function instead of patching anything.

What a hostile or broken server can make the client do is bounded here, in one place: a body
larger than ``max_bytes`` (counted after decompression, so a gzip bomb is cut off too) is refused
once that many bytes have arrived, and redirects are never followed (a 307 from the token
endpoint would re-send the refresh token to whatever host it names).

Network failures surface as ``TransportError``; ``retriable`` says whether trying again can
help (a reset connection can; an untrusted certificate or an oversized answer cannot).
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import aiohttp

from streamer import __version__
from streamer.errors import DropboxApiError

USER_AGENT = f"dropbox-streamer/{__version__}"
DEFAULT_MAX_BYTES = (
    64 * 1024 * 1024
)  # the largest real page is a few MB; see http.max_response_bytes


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
    max_bytes: int | None = None


class Transport(Protocol):
    async def post(
        self,
        url: str,
        *,
        headers: Mapping[str, str],
        data: bytes | Mapping[str, str],
        timeout: float,  # noqa: ASYNC109 - per-request HTTP timeout, the seam's contract
        max_bytes: int | None = None,
    ) -> Response:
        """POST and return the whole answer; ``max_bytes`` (None: the transport's own limit)
        bounds the body: a larger one raises a non-retriable ``TransportError``."""
        ...

    def for_ca_file(self, ca_file: Path | str | None) -> Transport:
        """The transport one team uses: trusting ``ca_file`` besides the system store."""
        ...


def too_large(url: str, limit: int) -> TransportError:
    return TransportError(
        f"the answer from {url} is larger than {_size(limit)}; refusing to read it "
        "(raise http.max_response_bytes if a real page is that large)",
        retriable=False,
    )


def _size(count: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale and count % scale == 0:
            return f"{count // scale} {unit}"
    return f"{count} bytes"


Handler = Callable[[Request], Awaitable[Response]]


class MockTransport:
    """A transport built from ``async def handler(request) -> Response``; for tests."""

    def __init__(self, handler: Handler, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._handler = handler
        self._max_bytes = max_bytes
        self.requests: list[Request] = []

    async def post(
        self,
        url: str,
        *,
        headers: Mapping[str, str],
        data: bytes | Mapping[str, str],
        timeout: float,  # noqa: ASYNC109 - per-request HTTP timeout, the seam's contract
        max_bytes: int | None = None,
    ) -> Response:
        request = Request(
            url=url, headers=dict(headers), data=data, timeout=timeout, max_bytes=max_bytes
        )
        self.requests.append(request)
        response = await self._handler(request)
        limit = max_bytes if max_bytes is not None else self._max_bytes
        if len(response.body) > limit:  # as the real transport does, so callers see the same
            raise too_large(url, limit)
        return response

    def for_ca_file(self, ca_file: Path | str | None) -> MockTransport:
        return self

    def __repr__(self) -> str:
        return f"MockTransport(requests={len(self.requests)})"


class AiohttpTransport:
    """One pooled ``aiohttp.ClientSession`` shared by every team in the process.

    Each team talks through ``for_ca_file(team.ca_file)``: the same session and pool, but its
    own TLS context, so one team's extra CA (a simulator's, a TLS proxy's) is trusted for that
    team only. aiohttp keys pooled connections by TLS context, so they are never mixed up.
    The session is created on first use so the transport can be built outside a running loop.
    """

    def __init__(
        self,
        *,
        ca_file: str | None = None,
        limit: int = 100,
        ssl_context: ssl.SSLContext | None = None,
        connect_timeout: float = 10.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        if ssl_context is None and ca_file:
            ssl_context = _trusting(ca_file)
        self._ssl = ssl_context
        self._limit = limit
        self._connect_timeout = connect_timeout
        self._max_bytes = max_bytes
        self._session: aiohttp.ClientSession | None = None
        self._contexts: dict[str, ssl.SSLContext] = {}  # per CA file, shared by its teams

    def for_ca_file(self, ca_file: Path | str | None) -> Transport:
        if not ca_file:
            return self
        key = str(ca_file)
        context = self._contexts.get(key)
        if context is None:
            context = self._contexts[key] = _trusting(key)
        return _TlsView(self, context)

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._limit, ttl_dns_cache=300)
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
        max_bytes: int | None = None,
    ) -> Response:
        return await self.send(url, headers, data, timeout, max_bytes, self._ssl)

    async def send(
        self,
        url: str,
        headers: Mapping[str, str],
        data: bytes | Mapping[str, str],
        timeout: float,  # noqa: ASYNC109 - per-request HTTP timeout
        max_bytes: int | None,
        context: ssl.SSLContext | None,
    ) -> Response:
        session = self._get_session()
        client_timeout = aiohttp.ClientTimeout(
            total=timeout, connect=min(self._connect_timeout, timeout)
        )
        payload: bytes | dict[str, str] = data if isinstance(data, bytes) else dict(data)
        limit = max_bytes if max_bytes is not None else self._max_bytes
        try:
            async with session.post(
                url,
                headers=dict(headers),
                data=payload,
                timeout=client_timeout,
                allow_redirects=False,
                ssl=context if context is not None else True,
            ) as resp:
                body = await _read_bounded(resp, url, limit)
                return Response(status=resp.status, headers=dict(resp.headers), body=body)
        except TransportError:
            raise
        except Exception as exc:
            raise _map_error(url, exc) from exc

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    def __repr__(self) -> str:
        return f"AiohttpTransport(limit={self._limit}, custom_ca={self._ssl is not None})"


class _TlsView:
    """One team's view of the shared transport: the same pool, its own TLS context."""

    def __init__(self, base: AiohttpTransport, context: ssl.SSLContext) -> None:
        self._base = base
        self._context = context

    async def post(
        self,
        url: str,
        *,
        headers: Mapping[str, str],
        data: bytes | Mapping[str, str],
        timeout: float,  # noqa: ASYNC109 - per-request HTTP timeout, the seam's contract
        max_bytes: int | None = None,
    ) -> Response:
        return await self._base.send(url, headers, data, timeout, max_bytes, self._context)

    def for_ca_file(self, ca_file: Path | str | None) -> Transport:
        return self._base.for_ca_file(ca_file)

    def __repr__(self) -> str:
        return f"{self._base!r} with its own CA"


def _trusting(ca_file: str) -> ssl.SSLContext:
    """The system trust store plus one extra CA (the simulator's, a TLS proxy's)."""
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=ca_file)
    return context


async def _read_bounded(resp: aiohttp.ClientResponse, url: str, limit: int) -> bytes:
    """The body, or ``too_large`` as soon as more than ``limit`` bytes have arrived.

    A declared Content-Length over the limit is refused before reading; the count is of the
    decoded bytes, so a small compressed body that inflates past the limit is cut off too.
    """
    if resp.content_length is not None and resp.content_length > limit:
        resp.close()  # drop the connection rather than drain the body to reuse it
        raise too_large(url, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_any():
        size += len(chunk)
        if size > limit:
            resp.close()
            raise too_large(url, limit)
        chunks.append(chunk)
    return b"".join(chunks)


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
