"""The transport seam without sockets: error mapping and the Response helpers.

The real ``AiohttpTransport`` is exercised over HTTP(S) in
tests/integration/test_client_against_simulator.py.
"""

import ssl
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest
import trustme

from streamer.dropbox import MockTransport, Request, Response, TransportError
from streamer.dropbox.transport import AiohttpTransport, _map_error

URL = "https://api.example.test/2/team/get_info"


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (TimeoutError(), "timed out"),
        (aiohttp.ServerDisconnectedError(), "disconnected"),
        (aiohttp.ClientPayloadError("Response payload is not completed"), "truncated"),
        (aiohttp.ClientOSError(104, "Connection reset by peer"), "reset by peer"),
        (ConnectionResetError(104, "Connection reset by peer"), "reset by peer"),
        (aiohttp.ServerTimeoutError("read timeout"), "timed out"),
    ],
)
def test_network_failures_map_to_retriable_transport_errors(error: Exception, words: str) -> None:
    mapped = _map_error(URL, error)
    assert isinstance(mapped, TransportError)
    assert mapped.retriable
    assert words in str(mapped)


def test_certificate_failures_are_not_retriable_and_mention_the_ca_file() -> None:
    key = SimpleNamespace(host="api.example.test", port=443, ssl=True, is_ssl=True)
    error = aiohttp.ClientConnectorCertificateError(key, ssl.SSLCertVerificationError("bad"))
    mapped = _map_error(URL, error)
    assert isinstance(mapped, TransportError)
    assert not mapped.retriable
    assert "--ca-file" in str(mapped)


def test_programming_errors_are_not_disguised_as_network_trouble() -> None:
    error = TypeError("bug")
    assert _map_error(URL, error) is error


def test_response_header_lookup_ignores_case() -> None:
    response = Response(429, {"retry-after": "3"}, b"")
    assert response.header("Retry-After") == "3"
    assert response.header("X-Missing") is None


async def test_mock_transport_records_requests_and_answers_from_a_function() -> None:
    async def handler(request: Request) -> Response:
        return Response(200, {}, request.data if isinstance(request.data, bytes) else b"")

    transport = MockTransport(handler)
    response = await transport.post(URL, headers={"A": "b"}, data=b"null", timeout=5)
    assert response.body == b"null"
    assert transport.requests == [Request(URL, {"A": "b"}, b"null", 5)]


def test_aiohttp_transport_repr() -> None:
    transport = AiohttpTransport(limit=7)
    assert repr(transport) == "AiohttpTransport(limit=7, custom_ca=False)"


def test_each_ca_file_gets_its_own_context_on_top_of_the_system_store(tmp_path: Path) -> None:
    paths = []
    for name in ("sim-a", "sim-b"):
        path = tmp_path / f"{name}.pem"
        trustme.CA().cert_pem.write_to_path(str(path))
        paths.append(str(path))
    system = len(ssl.create_default_context().get_ca_certs())
    transport = AiohttpTransport()
    view_a, view_b = transport.for_ca_file(paths[0]), transport.for_ca_file(paths[1])
    contexts = [view._context for view in (view_a, view_b)]  # type: ignore[attr-defined]
    assert [len(c.get_ca_certs()) for c in contexts] == [system + 1, system + 1]
    assert contexts[0].get_ca_certs() != contexts[1].get_ca_certs()
    # teams sharing a CA file share its context; a team without one uses the system store
    assert transport.for_ca_file(paths[0])._context is contexts[0]  # type: ignore[attr-defined]
    assert transport.for_ca_file(None) is transport
