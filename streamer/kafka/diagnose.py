"""Why a Kafka client could not connect, in one line an operator can act on.

aiokafka's bootstrap catches every connection error, logs it and raises a bare
``KafkaConnectionError("Unable to bootstrap from ...")``: an untrusted certificate, a missing
client certificate and a wrong password all look like "cannot reach Kafka". After such a
failure, ``explain`` opens one connection the way aiokafka does (same TLS context, same SASL
settings, through aiokafka's own ``create_conn``) and names the cause from what that raises.
A refusal (TLS or authentication) is a ``KafkaRefusedError``: waiting will not fix it.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import orjson
from aiokafka.conn import create_conn
from aiokafka.errors import (
    IllegalSaslStateError,
    KafkaConnectionError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)
from aiokafka.protocol.admin import SaslAuthenticateRequest, SaslHandShakeRequest
from aiokafka.protocol.metadata import MetadataRequest

from streamer.config import KafkaSettings
from streamer.errors import ConfigError, KafkaRefusedError, KafkaUnavailableError
from streamer.kafka.connection import client_kwargs
from streamer.kafka.oauth import TokenEndpointError

PROBE_TIMEOUT = 10.0
"""Seconds for the diagnostic connection at most (less with a shorter request timeout)."""

# OpenSSL verify codes (X509_V_ERR_*) and the TLS alerts a broker sends
_EXPIRED, _NOT_YET_VALID = 10, 9
_HOST_MISMATCH = (62, 64)  # hostname, IP address
_UNTRUSTED = (2, 18, 19, 20, 21)
_CLIENT_CERT_ALERTS = (
    "CERTIFICATE_REQUIRED",
    "BAD_CERTIFICATE",
    "UNKNOWN_CA",
    "CERTIFICATE_UNKNOWN",
    "CERTIFICATE_EXPIRED",
    "CERTIFICATE_REVOKED",
    "HANDSHAKE_FAILURE",
)


async def kafka_error(
    settings: KafkaSettings, exc: BaseException, doing: str
) -> KafkaUnavailableError:
    """The error to raise after a Kafka client failed ``doing`` something (e.g. "to check
    topics"): the cause when one can be named, otherwise "cannot reach Kafka"."""
    server = settings.bootstrap_servers
    cause = classify(exc, settings, server) or await explain(settings)
    if cause is not None:
        return cause
    return KafkaUnavailableError(
        f"cannot reach Kafka at {server}{' ' + doing if doing else ''} "
        f"({type(exc).__name__}); check kafka.bootstrap_servers and the security settings"
    )


async def explain(settings: KafkaSettings) -> KafkaUnavailableError | None:
    """The cause of a failed connection to the first bootstrap server that fails, or None when
    the probe connects (the failure was elsewhere or passed) or the server is simply
    unreachable (the caller's "cannot reach" message is then the right one)."""
    try:
        kwargs = client_kwargs(settings)
    except ConfigError:
        return None  # the caller built its client from the same settings: not reached
    timeout = min(PROBE_TIMEOUT, settings.request_timeout)
    for server in settings.bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        if not host or not port.isdigit():
            continue
        try:
            async with asyncio.timeout(timeout + 1):
                await _probe(host.strip("[]"), int(port), kwargs, timeout)
        except Exception as exc:  # noqa: BLE001 - whatever the probe raised is classified; the rest means "no idea"
            cause = classify(exc, settings, server.strip())
            if cause is not None:
                return cause
    return None


async def _probe(host: str, port: int, kwargs: dict[str, Any], seconds: float) -> None:
    """Connect as the client would and send one request past the handshake (a listener that
    expected SASL or TLS and got neither closes the connection only then)."""
    probe = {key: kwargs[key] for key in _PROBE_KEYS if key in kwargs}
    oauth = kwargs.get("sasl_mechanism") == "OAUTHBEARER"
    if oauth:  # the SASL exchange is done below, by hand
        probe = {k: v for k, v in probe.items() if not k.startswith("sasl_")}
        probe["security_protocol"] = probe["security_protocol"].removeprefix("SASL_")
        probe["security_protocol"] = probe["security_protocol"].replace("PLAIN", "PLAINTEXT")
    conn = await create_conn(host, port, request_timeout_ms=int(seconds * 1000), **probe)
    try:
        if oauth:
            await _oauthbearer(conn, kwargs["sasl_oauth_token_provider"])
        await conn.send(MetadataRequest([]))
    finally:
        conn.close()


_PROBE_KEYS = (
    "security_protocol",
    "ssl_context",
    "sasl_mechanism",
    "sasl_plain_username",
    "sasl_plain_password",
    "sasl_oauth_token_provider",
    "client_id",
)


async def _oauthbearer(conn: Any, provider: Any) -> None:
    """SASL/OAUTHBEARER, reading the broker's answer: aiokafka ignores the error challenge of
    RFC 7628 (``{"status":"invalid_token"}``) and carries on as if authenticated, so a
    rejected token only shows up later as odd metadata. Raises ``SaslAuthenticationFailed``."""
    handshake = await conn.send(SaslHandShakeRequest("OAUTHBEARER"))
    if handshake.error_code or "OAUTHBEARER" not in handshake.enabled_mechanisms:
        raise UnsupportedSaslMechanismError(
            f"enabled: {', '.join(handshake.enabled_mechanisms) or 'none'}"
        )
    token = await provider.token()
    extensions = "".join(f"\x01{k}={v}" for k, v in provider.extensions().items())
    message = f"n,,\x01auth=Bearer {token}{extensions}\x01\x01".encode()
    answer = await conn.send(SaslAuthenticateRequest(message))
    if answer.error_code:
        raise SaslAuthenticationFailed(answer.error_message or "")
    if answer.sasl_auth_bytes:  # an error challenge: what the broker disliked
        try:
            status = orjson.loads(answer.sasl_auth_bytes).get("status", "invalid_token")
        except (orjson.JSONDecodeError, AttributeError):
            status = "invalid_token"
        raise SaslAuthenticationFailed(f"OAUTHBEARER status {status}")


def classify(
    exc: BaseException, settings: KafkaSettings, server: str
) -> KafkaUnavailableError | None:
    """One line for what ``create_conn`` raised, or None for plain unreachability."""
    tls = settings.security_protocol in ("SSL", "SASL_SSL")
    at = f"Kafka at {server}"
    if isinstance(exc, TokenEndpointError):
        error = KafkaRefusedError if exc.refused else KafkaUnavailableError
        return error(f"OAUTHBEARER for {at}: {exc}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return KafkaRefusedError(f"TLS handshake with {at} failed: {_certificate(exc, settings)}")
    if isinstance(exc, SaslAuthenticationFailed):
        detail = _sasl_detail(exc, settings)
        return KafkaRefusedError(f"Kafka authentication failed at {server}: {detail}")
    if isinstance(exc, UnsupportedSaslMechanismError):
        return KafkaRefusedError(
            f"{at} does not offer SASL mechanism {settings.sasl_mechanism}: {exc}; "
            "check kafka.sasl_mechanism"
        )
    if isinstance(exc, IllegalSaslStateError):
        return KafkaRefusedError(
            f"{at} did not accept a SASL handshake: this listener does not use SASL; check "
            "kafka.security_protocol and the port"
        )
    ssl_error = _ssl_error_in(exc)
    if ssl_error is not None:
        return _tls_refusal(ssl_error, settings, at)
    closed = isinstance(exc, ConnectionResetError | asyncio.IncompleteReadError) or (
        isinstance(exc, KafkaConnectionError)
        and isinstance(exc.__cause__, ConnectionError | asyncio.IncompleteReadError)
    )
    if closed and tls:
        return KafkaRefusedError(
            f"{at} closed the connection during the TLS handshake: is it a TLS listener? "
            "Check kafka.security_protocol (SSL / SASL_SSL need a TLS port) and the port"
        )
    if closed:
        return KafkaRefusedError(
            f"{at} closed the connection without answering: a TLS or SASL listener does that "
            "to a client using neither; check kafka.security_protocol and the port"
        )
    return None


def _certificate(exc: ssl.SSLCertVerificationError, settings: KafkaSettings) -> str:
    code, message = exc.verify_code, exc.verify_message
    trusted = f"kafka.ssl_cafile {settings.ssl_cafile}" if settings.ssl_cafile else "system CAs"
    if code == _EXPIRED:
        return (
            "the broker's certificate has expired; the cluster must renew it (or this "
            "machine's clock is wrong)"
        )
    if code == _NOT_YET_VALID:
        return "the broker's certificate is not valid yet; check this machine's clock"
    if code in _HOST_MISMATCH:
        return (
            f"the broker's certificate does not name the host dialled ({message}); use a "
            "bootstrap address the certificate lists (kafka.ssl_check_hostname = false only "
            "as a last resort)"
        )
    if code in _UNTRUSTED:
        return (
            f"the broker's certificate is not signed by a CA we trust ({message}; trusted: "
            f"{trusted}); set kafka.ssl_cafile to the cluster's CA certificate"
        )
    return f"the broker's certificate was rejected: {message} (trusted: {trusted})"


def _sasl_detail(exc: SaslAuthenticationFailed, settings: KafkaSettings) -> str:
    said = str(exc.args[0]) if exc.args else ""
    mechanism = settings.sasl_mechanism
    if mechanism == "OAUTHBEARER":
        what = "the broker rejected the OAuth token; check kafka.oauth (token_url, scope, "
        what += "extensions) against what the cluster expects (issuer, audience, signing key)"
    else:
        what = (
            f"{mechanism} as user {settings.sasl_username!r} was refused; check "
            "kafka.sasl_username and kafka.sasl_password"
        )
    return f"{what} (broker: {said})" if said else what


def _ssl_error_in(exc: BaseException) -> ssl.SSLError | None:
    """The TLS error itself, or the one that broke the connection aiokafka reports as closed
    (with TLS 1.3 the broker's alert about our certificate arrives after the handshake)."""
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _tls_refusal(error: ssl.SSLError, settings: KafkaSettings, at: str) -> KafkaUnavailableError:
    reason = str(error.reason or error)
    if any(alert in reason for alert in _CLIENT_CERT_ALERTS):
        if settings.ssl_certfile is None:
            return KafkaRefusedError(
                f"{at} requires a client certificate (mutual TLS; TLS alert {reason}); set "
                "kafka.ssl_certfile and kafka.ssl_keyfile"
            )
        return KafkaRefusedError(
            f"{at} refused our client certificate {settings.ssl_certfile} (TLS alert "
            f"{reason}): it must be valid and signed by a CA the cluster trusts"
        )
    if "WRONG_VERSION_NUMBER" in reason or "RECORD_LAYER" in reason or "EOF" in reason:
        return KafkaRefusedError(
            f"{at} does not speak TLS on this port ({reason}); check kafka.security_protocol "
            "and the port"
        )
    return KafkaRefusedError(f"TLS handshake with {at} failed ({reason})")
