"""The managed-Kafka configuration blocks of docs/operations.md, taken as written and pointed
at the test broker's listener of the same kind: only the addresses, the CA (the test CA is
not a public one), the client certificate, the user and the token endpoint are swapped; the
protocol, mechanism, OAuth scope and extensions stay the block's. `streamer check`'s Kafka
row must then be "reachable". Proves the blocks are valid settings and that each combination
works against a real broker; not that the service (Confluent, MSK, ...) accepts it."""

from __future__ import annotations

import re
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from streamer.check import check_kafka
from streamer.config import Settings
from tests.kafka_broker import KafkaSasl, KafkaTls
from tests.oauth_endpoint import TokenEndpoint

pytestmark = pytest.mark.kafka

DOC = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
SECTION = DOC.split("## Kafka security", 1)[1].split("\n## ", 1)[0]


def blocks() -> list[tuple[str, dict[str, Any]]]:
    """``(service, parsed TOML)`` for every ```toml block under a ### heading."""
    found = []
    for part in SECTION.split("\n### ")[1:]:
        service = part.split("\n", 1)[0].strip()
        for n, text in enumerate(re.findall(r"```toml\n(.*?)```", part, flags=re.DOTALL)):
            found.append((f"{service} #{n + 1}", tomllib.loads(text)))
    return found


BLOCKS = blocks()


def test_each_managed_service_has_a_block() -> None:
    services = {name.split(" #")[0].split(" (")[0] for name, _ in BLOCKS}
    wanted = {"Confluent Cloud", "Amazon MSK", "Azure Event Hubs", "Aiven for Apache Kafka"}
    assert services >= wanted


@pytest.fixture
async def token_endpoint(kafka_tls: KafkaTls) -> AsyncIterator[TokenEndpoint]:
    endpoint = TokenEndpoint(kafka_tls.oauth_signing_key, kafka_tls.oauth_key_id)
    async with endpoint.running():
        yield endpoint


def on_test_broker(
    kafka: dict[str, Any], tls: KafkaTls, sasl: KafkaSasl, endpoint: TokenEndpoint
) -> dict[str, Any]:
    """The block's ``[kafka]`` with the test broker's addresses and credentials."""
    kafka = dict(kafka)
    protocol, mechanism = kafka["security_protocol"], kafka.get("sasl_mechanism")
    kafka["ssl_cafile"] = tls.cafile
    if protocol == "SSL":
        kafka["bootstrap_servers"] = tls.mtls if "ssl_certfile" in kafka else tls.ssl
        if "ssl_certfile" in kafka:
            kafka["ssl_certfile"], kafka["ssl_keyfile"] = tls.client_certfile, tls.client_keyfile
    else:
        kafka["bootstrap_servers"] = tls.sasl_ssl
    if mechanism == "OAUTHBEARER":
        oauth = dict(kafka["oauth"])
        oauth.update(token_url=endpoint.url, client_id=endpoint.client_id)
        oauth["client_secret"] = endpoint.client_secret
        kafka["oauth"] = oauth
    elif mechanism is not None:
        kafka["sasl_username"], kafka["sasl_password"] = sasl.username, sasl.password
    kafka["request_timeout"] = 10
    return kafka


@pytest.mark.parametrize(("name", "block"), BLOCKS, ids=[name for name, _ in BLOCKS])
async def test_the_documented_block_connects_to_the_same_kind_of_listener(
    name: str,
    block: dict[str, Any],
    kafka_tls: KafkaTls,
    kafka_sasl: KafkaSasl,
    token_endpoint: TokenEndpoint,
) -> None:
    team = {"app_key": "k", "app_secret": "s", "refresh_token": "r"}
    kafka = on_test_broker(block["kafka"], kafka_tls, kafka_sasl, token_endpoint)
    settings = Settings.model_validate({"teams": {"acme": team}, "kafka": kafka})
    rows = await check_kafka(settings)
    how = " ".join(filter(None, [kafka["security_protocol"], kafka.get("sasl_mechanism")]))
    assert (rows[0].status, rows[0].detail) == ("ok", f"reachable ({how})"), rows[0]
    if "oauth" in block["kafka"]:
        assert token_endpoint.scopes == [block["kafka"]["oauth"]["scope"]]
