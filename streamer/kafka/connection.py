"""Translate ``KafkaSettings`` into aiokafka client arguments (security, TLS, SASL, OAuth).

Every client (producer, consumer, admin) is built from ``client_kwargs``, so they all connect
the same way. The TLS context comes from ``tls.ssl_context`` (clear errors for bad files), an
OAUTHBEARER client gets its own token provider (``oauth``); when a client cannot connect,
``diagnose.kafka_error`` names the cause.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer

from streamer.config import KafkaSettings
from streamer.kafka.oauth import ClientCredentialsTokenProvider
from streamer.kafka.tls import ssl_context


def client_kwargs(settings: KafkaSettings) -> dict[str, Any]:
    """Keyword arguments shared by the producer, consumer and admin client. Raises
    ``ConfigError`` when a TLS file cannot be used."""
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "client_id": settings.client_id,
        "security_protocol": settings.security_protocol,
        "request_timeout_ms": int(settings.request_timeout * 1000),
    }
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        kwargs["ssl_context"] = ssl_context(settings)
    if settings.security_protocol.startswith("SASL_"):
        kwargs["sasl_mechanism"] = settings.sasl_mechanism
        if settings.sasl_mechanism == "OAUTHBEARER":
            kwargs["sasl_oauth_token_provider"] = ClientCredentialsTokenProvider(
                settings.oauth, timeout=settings.request_timeout
            )
        else:
            assert settings.sasl_password is not None  # enforced by KafkaSettings validation
            kwargs["sasl_plain_username"] = settings.sasl_username
            kwargs["sasl_plain_password"] = settings.sasl_password.get_secret_value()
    return kwargs


async def stop_consumer(consumer: AIOKafkaConsumer) -> None:
    """``consumer.stop()``, minus an aiokafka quirk: when its no-group coordinator task is
    cancelled before it ever ran, ``stop()`` re-raises that task's CancelledError although
    nobody cancelled *us*. Swallow only that case."""
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> list[int]:
    """Partition numbers of ``topic`` (empty if it does not exist). A consumer without a
    subscription tracks no topic metadata, so ask its client to track this one first (aiokafka
    has no public call for that)."""
    partitions = consumer.partitions_for_topic(topic)
    if partitions is None:
        await consumer._client.add_topic(topic)
        partitions = consumer.partitions_for_topic(topic)
    return sorted(partitions or ())
