"""Kafka TLS and SASL settings: contradictory or incomplete combinations are refused when the
configuration loads, and every unusable TLS file is one ``ConfigError`` naming the key, its
environment variable and the fix (never OpenSSL's "PEM lib", never a password prompt)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from streamer.config import KafkaSettings, load_settings
from streamer.errors import ConfigError
from streamer.kafka.connection import client_kwargs
from streamer.kafka.oauth import ClientCredentialsTokenProvider
from streamer.kafka.tls import ssl_context

TEAM = {
    "STREAMER_TEAMS__ACME__APP_KEY": "k",
    "STREAMER_TEAMS__ACME__APP_SECRET": "s",
    "STREAMER_TEAMS__ACME__REFRESH_TOKEN": "r",
}


def load(**kafka: str) -> KafkaSettings:
    env = {f"STREAMER_KAFKA__{k.upper()}": v for k, v in kafka.items()}
    return load_settings(None, {**TEAM, **env}).kafka


@pytest.mark.parametrize(
    ("kafka", "message"),
    [
        (
            {"security_protocol": "PLAINTEXT", "ssl_cafile": "/ca.pem"},
            "ssl_cafile is set but security_protocol PLAINTEXT does not use TLS",
        ),
        (
            {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN",
             "sasl_username": "u", "sasl_password": "p", "ssl_certfile": "/c.pem"},
            "ssl_certfile is set but security_protocol SASL_PLAINTEXT does not use TLS",
        ),
        (
            {"security_protocol": "SSL", "ssl_keyfile": "/k.pem"},
            "ssl_keyfile needs ssl_certfile",
        ),
        (
            {"security_protocol": "SASL_SSL", "sasl_mechanism": "OAUTHBEARER"},
            "needs oauth.token_url, oauth.client_id, oauth.client_secret",
        ),
        (
            {"security_protocol": "SASL_SSL", "sasl_mechanism": "OAUTHBEARER",
             "sasl_username": "u", "oauth__token_url": "https://idp/token",
             "oauth__client_id": "c", "oauth__client_secret": "s"},
            "sasl_username are not used with OAUTHBEARER",
        ),
        (
            {"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "sasl_username": "u",
             "sasl_password": "p", "oauth__client_id": "c"},
            "oauth.client_id is set but the connection does not use OAUTHBEARER",
        ),
        (
            {"security_protocol": "SASL_SSL", "sasl_mechanism": "OAUTHBEARER",
             "oauth__token_url": "http://idp.example.com/token", "oauth__client_id": "c",
             "oauth__client_secret": "s"},
            "must be an https:// URL (http:// only for a loopback address)",
        ),
        (
            {"security_protocol": "SASL_SSL", "sasl_mechanism": "OAUTHBEARER",
             "oauth__token_url": "file:///etc/passwd", "oauth__client_id": "c",
             "oauth__client_secret": "s"},
            "must be an https:// URL",
        ),
        (
            {"security_protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI"},
            "sasl_mechanism",
        ),
    ],
)  # fmt: skip
def test_contradictory_kafka_security_is_refused_at_load(
    kafka: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        load(**kafka)
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


def test_oauthbearer_reads_its_secret_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("the-client-secret\n")
    kafka = load(
        security_protocol="SASL_SSL",
        sasl_mechanism="OAUTHBEARER",
        oauth__token_url="http://127.0.0.1:8080/token",
        oauth__client_id="client",
        oauth__client_secret_file=str(secret),
    )
    assert kafka.oauth.client_secret is not None
    assert kafka.oauth.client_secret.get_secret_value() == "the-client-secret"
    assert "the-client-secret" not in repr(kafka)
    assert kafka.secrets() == ["the-client-secret"]
    provider = client_kwargs(kafka)["sasl_oauth_token_provider"]
    assert isinstance(provider, ClientCredentialsTokenProvider)
    assert "the-client-secret" not in repr(provider)


# --- TLS files -------------------------------------------------------------------------------


class Files:
    """A CA, a client certificate and its key (plain and encrypted), and some wrong files."""

    def __init__(self, root: Path) -> None:
        ca = trustme.CA()
        cert = ca.issue_cert("streamer-client")
        self.root = root
        self.ca = self.write("ca.pem", ca.cert_pem.bytes())
        self.cert = self.write("client.pem", cert.cert_chain_pems[0].bytes())
        self.key = self.write("client.key", cert.private_key_pem.bytes())
        key = serialization.load_pem_private_key(cert.private_key_pem.bytes(), password=None)
        self.encrypted = self.write(
            "client-encrypted.key",
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"key-password-8d2"),
            ),
        )
        other = trustme.CA().issue_cert("someone-else")
        self.other_key = self.write("other.key", other.private_key_pem.bytes())
        self.garbage = self.write("garbage.pem", b"this is not PEM\n")
        self.combined = self.write(
            "combined.pem", cert.cert_chain_pems[0].bytes() + cert.private_key_pem.bytes()
        )

    def write(self, name: str, data: bytes) -> Path:
        path = self.root / name
        path.write_bytes(data)
        return path


@pytest.fixture
def files(tmp_path: Path) -> Files:
    return Files(tmp_path)


def tls(**settings: Any) -> KafkaSettings:
    return KafkaSettings(security_protocol="SSL", **settings)


def test_a_complete_mutual_tls_setup_loads(files: Files) -> None:
    context = ssl_context(tls(ssl_cafile=files.ca, ssl_certfile=files.cert, ssl_keyfile=files.key))
    assert context.check_hostname is True
    encrypted = tls(
        ssl_certfile=files.cert, ssl_keyfile=files.encrypted, ssl_key_password="key-password-8d2"
    )
    assert ssl_context(encrypted).check_hostname is True
    assert ssl_context(tls(ssl_certfile=files.combined)) is not None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (lambda f: {"ssl_cafile": f.root / "missing.pem"},
         "kafka.ssl_cafile (env STREAMER_KAFKA__SSL_CAFILE): file {root}/missing.pem does not"),
        (lambda f: {"ssl_cafile": f.root},
         "kafka.ssl_cafile (env STREAMER_KAFKA__SSL_CAFILE): {root} is a directory"),
        (lambda f: {"ssl_cafile": f.garbage}, "holds no PEM certificate"),
        (lambda f: {"ssl_cafile": f.key}, "holds no PEM certificate"),
        (lambda f: {"ssl_certfile": f.root / "missing.pem", "ssl_keyfile": f.key},
         "kafka.ssl_certfile (env STREAMER_KAFKA__SSL_CERTFILE): file {root}/missing.pem does not"),
        (lambda f: {"ssl_certfile": f.cert, "ssl_keyfile": f.root},
         "kafka.ssl_keyfile (env STREAMER_KAFKA__SSL_KEYFILE): {root} is a directory"),
        (lambda f: {"ssl_certfile": f.garbage, "ssl_keyfile": f.key},
         "holds no PEM certificate (-----BEGIN CERTIFICATE-----); convert a PKCS#12 file"),
        (lambda f: {"ssl_certfile": f.cert, "ssl_keyfile": f.garbage}, "holds no PEM private key"),
        (lambda f: {"ssl_certfile": f.cert},
         "kafka.ssl_certfile (env STREAMER_KAFKA__SSL_CERTFILE): {root}/client.pem holds no "
         "private key; set kafka.ssl_keyfile"),
        (lambda f: {"ssl_certfile": f.cert, "ssl_keyfile": f.other_key},
         "the private key does not belong to the certificate"),
        (lambda f: {"ssl_certfile": f.cert, "ssl_keyfile": f.encrypted},
         "the private key is encrypted; set kafka.ssl_key_password"),
        (lambda f: {"ssl_certfile": f.cert, "ssl_keyfile": f.encrypted,
                    "ssl_key_password": "not-the-password"},
         "wrong password for the encrypted private key"),
    ],
)  # fmt: skip
def test_an_unusable_tls_file_is_one_config_error(
    files: Files, settings: Any, message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        ssl_context(tls(**settings(files)))
    text = str(refused.value)
    assert message.format(root=files.root) in text
    assert "\n" not in text
    assert "not-the-password" not in text
    assert "PEM lib" not in text


def test_hostname_verification_is_off_only_when_asked(files: Files) -> None:
    assert ssl_context(tls(ssl_cafile=files.ca)).check_hostname is True
    context = ssl_context(tls(ssl_cafile=files.ca, ssl_check_hostname=False))
    assert context.check_hostname is False
    assert context.verify_mode.name == "CERT_REQUIRED", "the chain is still verified"
