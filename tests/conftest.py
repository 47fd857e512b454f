"""Shared pytest fixtures, one section per concern. Keep each section self-contained."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from tests.kafka_broker import (
    KafkaBroker,
    KafkaSasl,
    KafkaStartError,
    KafkaTls,
    KafkaTopicFactory,
    sasl_from_env,
    start_broker,
    tls_from_env,
)

# ================================================================================================
# Kafka: a real broker (scripts/kafka, helpers in tests/kafka_broker.py)
#
# With KAFKA_BOOTSTRAP_SERVERS set, tests use that broker as it is. Otherwise the session starts
# its own single-node KRaft broker (Java 17+; the jars come from tests/kafka/pom.xml, fetched by
# `scripts/kafka provision`, which scripts/test runs first) on free loopback ports with a state
# dir under pytest's tmp dir, and stops it at session end (finalizer, atexit, and a watchdog for
# a killed pytest). Broker log: <pytest tmp>/kafka0/logs/server.log.
#
# The broker does not auto-create topics: create them with `kafka_topic_factory` / `new_topic`.
# Tests that need Kafka carry the marker: `pytestmark = pytest.mark.kafka`.
# ================================================================================================


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker | None]:
    """The broker this session started, or None when KAFKA_BOOTSTRAP_SERVERS names one."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield None
        return
    try:
        broker = start_broker(tmp_path_factory.mktemp("kafka"))
    except KafkaStartError as exc:
        pytest.fail(
            f"{exc}\nKafka tests need Java 17+ (and mvn, once) or KAFKA_BOOTSTRAP_SERVERS; "
            "deselect them with -m 'not kafka'.",
            pytrace=False,
        )
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: KafkaBroker | None) -> str:
    """Bootstrap servers of the PLAINTEXT listener, e.g. ``127.0.0.1:40123``."""
    if kafka_broker is None:
        return os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    return kafka_broker.bootstrap_servers


@pytest.fixture(scope="session")
def kafka_sasl(kafka_broker: KafkaBroker | None) -> KafkaSasl:
    """The SASL_PLAINTEXT listener: (bootstrap_servers, username, password, mechanisms)."""
    if kafka_broker is None:
        sasl = sasl_from_env(os.environ)
        if sasl is None:
            pytest.skip(
                "KAFKA_BOOTSTRAP_SERVERS names an external broker and no SASL listener is given "
                "(set KAFKA_SASL_BOOTSTRAP_SERVERS, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD, "
                "KAFKA_SASL_MECHANISMS, as `export $(scripts/kafka start)` does)"
            )
        return sasl
    assert kafka_broker.sasl is not None
    return kafka_broker.sasl


@pytest.fixture(scope="session")
def kafka_tls(kafka_broker: KafkaBroker | None) -> KafkaTls:
    """The TLS listeners (SSL, mutual TLS, SASL_SSL with OAUTHBEARER, and two with bad
    certificates) and the CA, client certificate and OAuth signing key to use them."""
    if kafka_broker is None:
        tls = tls_from_env(os.environ)
        if tls is None:
            pytest.skip(
                "KAFKA_BOOTSTRAP_SERVERS names an external broker and no TLS listeners are "
                "given (the KAFKA_*SSL* and KAFKA_OAUTH_* variables `export $(scripts/kafka "
                "start)` sets)"
            )
        return tls
    assert kafka_broker.tls is not None
    return kafka_broker.tls


@pytest.fixture
async def kafka_topic_factory(
    kafka_bootstrap: str, request: pytest.FixtureRequest
) -> AsyncIterator[KafkaTopicFactory]:
    """``await kafka_topic_factory(partitions=1, config=None) -> str``: a fresh, empty topic
    named after the test; all of them are deleted when the test ends."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="tests-admin")
    await admin.start()
    factory = KafkaTopicFactory(admin, prefix=request.node.name)
    try:
        yield factory
    finally:
        try:
            await factory.delete_all()
        finally:
            await admin.close()


@pytest.fixture
async def new_topic(kafka_topic_factory: KafkaTopicFactory, request: pytest.FixtureRequest) -> str:
    """A fresh topic with one partition; for more:
    ``@pytest.mark.parametrize("new_topic", [3], indirect=True)``."""
    partitions: int = getattr(request, "param", 1)
    return await kafka_topic_factory(partitions)


# ---------------------------------------------------------------------------- end of Kafka section
