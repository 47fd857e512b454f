"""Translate ``KafkaSettings`` into aiokafka client arguments (security, TLS, SASL)."""

from __future__ import annotations

from typing import Any

from aiokafka.helpers import create_ssl_context

from streamer.config import KafkaSettings


def client_kwargs(settings: KafkaSettings) -> dict[str, Any]:
    """Keyword arguments shared by the producer, consumer and admin client."""
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "client_id": settings.client_id,
        "security_protocol": settings.security_protocol,
        "request_timeout_ms": int(settings.request_timeout * 1000),
    }
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        kwargs["ssl_context"] = create_ssl_context(
            cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None,
            certfile=str(settings.ssl_certfile) if settings.ssl_certfile else None,
            keyfile=str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
        )
    if settings.security_protocol.startswith("SASL_"):
        assert settings.sasl_password is not None  # enforced by KafkaSettings validation
        kwargs["sasl_mechanism"] = settings.sasl_mechanism
        kwargs["sasl_plain_username"] = settings.sasl_username
        kwargs["sasl_plain_password"] = settings.sasl_password.get_secret_value()
    return kwargs
