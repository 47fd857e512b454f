"""The TLS context for the brokers, from ``KafkaSettings``; every problem with the files is one
``ConfigError`` naming the key, its environment variable and what to do.

Python's ``ssl`` reports a bad file as ``[SSL] PEM lib`` or ``[X509: KEY_VALUES_MISMATCH]``;
an encrypted key without a password would even make OpenSSL prompt on the terminal. Each file
is therefore loaded on its own, with a password callback, and the errors are translated.
Hostname verification is on unless ``ssl_check_hostname = false``, which logs a warning once.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import structlog

from streamer.config import KafkaSettings, env_name
from streamer.errors import ConfigError

log = structlog.get_logger(__name__)

_warned_hostname_off = False


class _NoPassword(Exception):
    """Raised from the password callback: the key is encrypted and no password is set."""


def ssl_context(settings: KafkaSettings) -> ssl.SSLContext:
    """A client context: the configured CA (or the system CAs), the client certificate and key
    for mutual TLS, hostname verification unless turned off. Raises ``ConfigError``."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if settings.ssl_cafile is not None:
        _load_ca(context, settings.ssl_cafile)
    if settings.ssl_certfile is not None:
        _load_client_cert(context, settings)
    if not settings.ssl_check_hostname:
        context.check_hostname = False
        _warn_hostname_off(settings)
    return context


def _key(name: str) -> str:
    return f"kafka.{name} (env {env_name(('kafka', name))})"


def _readable(path: Path, name: str) -> None:
    """The file exists and can be read: a clearer line than OpenSSL's for the common cases."""
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except FileNotFoundError:
        raise ConfigError(f"{_key(name)}: file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"{_key(name)}: {path} is a directory, not a PEM file") from None
    except OSError as exc:
        raise ConfigError(f"{_key(name)}: file {path} cannot be read: {exc.strerror}") from None


def _load_ca(context: ssl.SSLContext, path: Path) -> None:
    _readable(path, "ssl_cafile")
    try:
        context.load_verify_locations(cafile=str(path))
    except (ssl.SSLError, ValueError) as exc:
        raise ConfigError(
            f"{_key('ssl_cafile')}: {path} holds no PEM certificate ({_reason(exc)}); give the "
            "CA certificate(s) of the cluster in PEM (-----BEGIN CERTIFICATE-----)"
        ) from None


def _load_client_cert(context: ssl.SSLContext, settings: KafkaSettings) -> None:
    certfile, keyfile = settings.ssl_certfile, settings.ssl_keyfile
    assert certfile is not None
    _readable(certfile, "ssl_certfile")
    if keyfile is not None:
        _readable(keyfile, "ssl_keyfile")
    key_name = "ssl_keyfile" if keyfile is not None else "ssl_certfile"
    password = settings.ssl_key_password

    def give_password() -> bytes:
        if password is None:
            raise _NoPassword
        return password.get_secret_value().encode()

    try:
        context.load_cert_chain(
            str(certfile), str(keyfile) if keyfile else None, password=give_password
        )
    except _NoPassword:
        raise ConfigError(
            f"{_key(key_name)}: the private key is encrypted; set kafka.ssl_key_password "
            "(or ssl_key_password_file)"
        ) from None
    except ssl.SSLError as exc:
        reason = _reason(exc)
        if "KEY_VALUES_MISMATCH" in reason:
            message = (
                f"{_key(key_name)}: the private key does not belong to the certificate in "
                f"{certfile}; give the key that was issued with it"
            )
        else:
            message = _classify_pem_error(certfile, keyfile, reason, password is not None)
        raise ConfigError(message) from None


def _classify_pem_error(
    certfile: Path, keyfile: Path | None, reason: str, with_password: bool
) -> str:
    """OpenSSL says only "PEM lib": look at the files to say which one is wrong."""
    if "-----BEGIN CERTIFICATE-----" not in _head(certfile):
        return (
            f"{_key('ssl_certfile')}: {certfile} holds no PEM certificate "
            "(-----BEGIN CERTIFICATE-----); convert a PKCS#12 file with "
            "`openssl pkcs12 -in client.p12 -out client.pem -nodes`"
        )
    if keyfile is None:
        if "PRIVATE KEY-----" not in _head(certfile):
            return (
                f"{_key('ssl_certfile')}: {certfile} holds no private key; set "
                "kafka.ssl_keyfile to the client's key (PEM)"
            )
        keyfile_name, key_path = "ssl_certfile", certfile
    else:
        keyfile_name, key_path = "ssl_keyfile", keyfile
    key_text = _head(key_path)
    if "PRIVATE KEY-----" not in key_text:
        return (
            f"{_key(keyfile_name)}: {key_path} holds no PEM private key "
            "(-----BEGIN PRIVATE KEY-----)"
        )
    if with_password and "ENCRYPTED" in key_text:
        return (
            f"{_key(keyfile_name)}: wrong password for the encrypted private key "
            "(kafka.ssl_key_password)"
        )
    return f"{_key(keyfile_name)}: the client certificate or key cannot be loaded ({reason})"


def _head(path: Path) -> str:
    try:
        return path.read_bytes()[: 1 << 20].decode("ascii", errors="replace")
    except OSError:
        return ""


def _reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason) if reason else str(exc)


def _warn_hostname_off(settings: KafkaSettings) -> None:
    global _warned_hostname_off
    if not _warned_hostname_off:
        _warned_hostname_off = True
        log.warning(
            "kafka_hostname_check_off",
            bootstrap_servers=settings.bootstrap_servers,
            detail="kafka.ssl_check_hostname = false: any certificate from a trusted CA is "
            "accepted for any broker",
        )
