"""The streamer over the TLS modes managed Kafka clusters use, against the test broker's real
TLS listeners (scripts/kafka): TLS with server authentication, mutual TLS, SASL over TLS
(SCRAM and PLAIN) and OAUTHBEARER (client credentials from a local token endpoint; the broker
checks the JWT's signature against its JWKS).

Over each: `streamer check`, `run --once` in both delivery modes, `tail`, and the consumer
recipe (docs/recipes/consumer.py; it has no OAuth). Then every way a TLS or SASL handshake is
refused: one line naming the cause, exit 5, and never "cannot reach Kafka".
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme

from streamer.simulator import SimulatorConfig, SimulatorServer
from tests.e2e.streamer_process import StreamerProcess, run_streamer, streamer_config
from tests.integration.connector_support import read_topics
from tests.kafka_broker import KafkaSasl, KafkaTls
from tests.oauth_endpoint import TokenEndpoint

pytestmark = pytest.mark.kafka

MEMBERS = 12
RECIPE = Path(__file__).resolve().parents[2] / "docs" / "recipes" / "consumer.py"


@pytest.fixture
async def sim() -> AsyncIterator[Any]:
    server = SimulatorServer(SimulatorConfig(members=MEMBERS, seed=16))
    async with server.running(host="127.0.0.1", port=0) as running:
        yield running


@pytest.fixture
async def token_endpoint(kafka_tls: KafkaTls) -> AsyncIterator[TokenEndpoint]:
    endpoint = TokenEndpoint(kafka_tls.oauth_signing_key, kafka_tls.oauth_key_id)
    async with endpoint.running():
        yield endpoint


@dataclass
class Connection:
    """How to reach one listener: the ``[kafka]`` keys, the secrets (environment) and the
    consumer recipe's flags (None: the recipe cannot, e.g. OAUTHBEARER)."""

    kafka: dict[str, Any]
    env: dict[str, str] = field(default_factory=dict)
    recipe: list[str] | None = None


def connect(
    how: str,
    tls: KafkaTls,
    sasl: KafkaSasl,
    endpoint: TokenEndpoint,
    tmp_path: Path,
    *,
    oauth_secret: str | None = None,
) -> Connection:
    ca = ["--ssl-cafile", str(tls.cafile)]
    if how in ("ssl", "mtls"):
        kafka: dict[str, Any] = {"security_protocol": "SSL", "ssl_cafile": tls.cafile}
        recipe = ["--security-protocol", "SSL", *ca]
        if how == "ssl":
            return Connection({**kafka, "bootstrap_servers": tls.ssl}, recipe=recipe)
        cert, key = tls.client_certfile, tls.client_keyfile
        kafka |= {"bootstrap_servers": tls.mtls, "ssl_certfile": cert, "ssl_keyfile": key}
        return Connection(
            kafka, recipe=[*recipe, "--ssl-certfile", str(cert), "--ssl-keyfile", str(key)]
        )
    if how.startswith("sasl_ssl-"):
        mechanism = how.removeprefix("sasl_ssl-")
        password = sasl.password
        return Connection(
            {
                "bootstrap_servers": tls.sasl_ssl,
                "security_protocol": "SASL_SSL",
                "ssl_cafile": tls.cafile,
                "sasl_mechanism": mechanism,
                "sasl_username": sasl.username,
            },
            env={"STREAMER_KAFKA__SASL_PASSWORD": password, "KAFKA_SASL_PASSWORD": password},
            recipe=[
                *("--security-protocol", "SASL_SSL", *ca, "--sasl-mechanism", mechanism),
                *("--sasl-username", sasl.username),
            ],
        )
    assert how == "oauthbearer"
    secret_file = tmp_path / "oauth_client_secret"
    secret_file.write_text((oauth_secret or endpoint.client_secret) + "\n")
    return Connection(
        {
            "bootstrap_servers": tls.sasl_ssl,
            "security_protocol": "SASL_SSL",
            "ssl_cafile": tls.cafile,
            "sasl_mechanism": "OAUTHBEARER",
        },
        env={
            "STREAMER_KAFKA__OAUTH__TOKEN_URL": endpoint.url,
            "STREAMER_KAFKA__OAUTH__CLIENT_ID": endpoint.client_id,
            "STREAMER_KAFKA__OAUTH__CLIENT_SECRET_FILE": str(secret_file),
            "STREAMER_KAFKA__OAUTH__SCOPE": "kafka.write",
        },
    )


async def recipe(connection: Connection, topic: str) -> list[str]:
    """The consumer recipe's CLI over the connection: the events it printed."""
    assert connection.recipe is not None
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(RECIPE),
        "--bootstrap-servers",
        connection.kafka["bootstrap_servers"],
        "--group",
        f"recipe-{uuid.uuid4().hex[:8]}",
        "--exit-when-idle",
        "2",
        *connection.recipe,
        topic,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **connection.env},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return out.decode().splitlines()


# SSL, mutual TLS and SASL_SSL get everything; PLAIN (what Confluent Cloud and Event Hubs take)
# one run more over SASL_SSL; OAUTHBEARER all but the recipe (it has no OAuth)
CONNECTIONS = ["ssl", "mtls", "sasl_ssl-SCRAM-SHA-512", "sasl_ssl-PLAIN", "oauthbearer"]


@pytest.mark.parametrize("how", CONNECTIONS)
async def test_check_run_tail_and_recipe_work_over_the_tls_listener(
    how: str,
    sim: Any,
    tmp_path: Path,
    kafka_tls: KafkaTls,
    kafka_sasl: KafkaSasl,
    kafka_bootstrap: str,
    token_endpoint: TokenEndpoint,
) -> None:
    connection = connect(how, kafka_tls, kafka_sasl, token_endpoint, tmp_path)
    env = connection.env
    everything = how != "sasl_ssl-PLAIN"

    if everything:
        path = tmp_path / "check.toml"
        streamer_config(path, sim.url, connection.kafka)
        check = await run_streamer("check", "--config", str(path), env=env)
        protocol = connection.kafka["security_protocol"]
        assert check.proc.returncode == 0, check.output
        assert f"reachable ({protocol}" in check.output

    for delivery in ("at_least_once", "exactly_once") if everything else ("exactly_once",):
        path = tmp_path / f"{delivery}.toml"
        topics = streamer_config(path, sim.url, connection.kafka, delivery=delivery)
        run = await run_streamer("run", "--once", "--config", str(path), env=env)
        assert run.proc.returncode == 0, run.output
        # read back over the plaintext listener: the events really went through
        read, _ = await read_topics(kafka_bootstrap, [topics["members"]])
        assert read.types()["member.snapshot"] == MEMBERS, (delivery, read.types())
        state, _ = await read_topics(kafka_bootstrap, [topics["state"]])
        assert state.messages, "checkpoints go through the same TLS producer"

    if not everything:
        return
    # the exactly-once topics, read back over TLS: `tail` and the recipe (read_committed)
    members = len(read.messages)
    tail = await run_streamer(
        "tail", "--config", str(path), "--topic", topics["members"], "--from-beginning",
        "--limit", str(members), env=env,
    )  # fmt: skip
    assert tail.proc.returncode == 0, tail.output
    assert len(tail.stdout) == members
    if connection.recipe is not None:
        events = await recipe(connection, topics["members"])
        assert len(events) == members
    if how == "oauthbearer":
        assert token_endpoint.requests >= 1
        assert set(token_endpoint.scopes) == {"kafka.write"}, "the configured scope is asked for"


# --- refused handshakes -----------------------------------------------------------------------


def other_ca(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A CA the broker does not know, and a client certificate and key it issued."""
    ca = trustme.CA()
    cert = ca.issue_cert("streamer-client")
    paths = tmp_path / "other-ca.pem", tmp_path / "other-client.pem", tmp_path / "other.key"
    ca.cert_pem.write_to_path(str(paths[0]))
    cert.cert_chain_pems[0].write_to_path(str(paths[1]))
    cert.private_key_pem.write_to_path(str(paths[2]))
    return paths


def the_error_line(run: StreamerProcess) -> str:
    """The one ``error:`` line, the last one printed, and no traceback."""
    errors = [line for line in run.stderr if line.startswith("error: ")]
    assert errors == run.stderr[-1:], run.output
    assert "Traceback" not in run.output
    return errors[0]


Case = Callable[[KafkaTls, KafkaSasl, str, Path], Connection]


def _tls(bootstrap: str, cafile: Path, **more: Any) -> Connection:
    return Connection(
        {"bootstrap_servers": bootstrap, "security_protocol": "SSL", "ssl_cafile": cafile, **more}
    )


def _sasl_ssl(tls: KafkaTls, sasl: KafkaSasl, password: str) -> Connection:
    return Connection(
        {
            "bootstrap_servers": tls.sasl_ssl,
            "security_protocol": "SASL_SSL",
            "ssl_cafile": tls.cafile,
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": sasl.username,
        },
        env={"STREAMER_KAFKA__SASL_PASSWORD": password},
    )


REFUSALS: dict[str, tuple[Case, str]] = {
    "a CA that did not sign the broker's certificate": (
        lambda tls, sasl, plain, tmp: _tls(tls.ssl, other_ca(tmp)[0]),
        "not signed by a CA we trust",
    ),
    "an expired broker certificate": (
        lambda tls, sasl, plain, tmp: _tls(tls.expired, tls.cafile),
        "certificate has expired",
    ),
    "a broker certificate for another host": (
        lambda tls, sasl, plain, tmp: _tls(tls.wrong_host, tls.cafile),
        "does not name the host dialled",
    ),
    "no client certificate for mutual TLS": (
        lambda tls, sasl, plain, tmp: _tls(tls.mtls, tls.cafile),
        "requires a client certificate",
    ),
    "a client certificate from another CA": (
        lambda tls, sasl, plain, tmp: _tls(
            tls.mtls,
            tls.cafile,
            ssl_certfile=other_ca(tmp)[1],
            ssl_keyfile=tmp / "other.key",
        ),
        "refused our client certificate",
    ),
    "a wrong SASL password over TLS": (
        lambda tls, sasl, plain, tmp: _sasl_ssl(tls, sasl, "not-the-password"),
        "authentication failed",
    ),
    "a plaintext client on a TLS port": (
        lambda tls, sasl, plain, tmp: Connection({"bootstrap_servers": tls.ssl}),
        "closed the connection without answering",
    ),
    "a TLS client on a plaintext port": (
        lambda tls, sasl, plain, tmp: _tls(plain, tls.cafile),
        "closed the connection during the TLS handshake",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
async def test_a_refused_handshake_names_its_cause_and_exits_5(
    case: str,
    sim: Any,
    tmp_path: Path,
    kafka_tls: KafkaTls,
    kafka_sasl: KafkaSasl,
    kafka_bootstrap: str,
) -> None:
    build, cause = REFUSALS[case]
    connection = build(kafka_tls, kafka_sasl, kafka_bootstrap, tmp_path)
    path = tmp_path / "streamer.toml"
    streamer_config(path, sim.url, connection.kafka)

    run = await run_streamer("run", "--once", "--config", str(path), env=connection.env)
    assert run.proc.returncode == 5, run.output
    error = the_error_line(run)
    assert cause in error
    assert "cannot reach" not in error
    assert sim.counters.snapshot() == {}, "nothing is fetched while Kafka refuses us"


@pytest.mark.parametrize("command", ["check", "tail"])
async def test_check_and_tail_name_the_refusal_too(
    command: str, sim: Any, tmp_path: Path, kafka_tls: KafkaTls, kafka_sasl: KafkaSasl
) -> None:
    connection = _sasl_ssl(kafka_tls, kafka_sasl, "not-the-password")
    path = tmp_path / "streamer.toml"
    streamer_config(path, sim.url, connection.kafka)
    args = ["--limit", "1"] if command == "tail" else []
    result = await run_streamer(command, "--config", str(path), *args, env=connection.env)
    assert result.proc.returncode == 5, result.output
    assert "Kafka authentication failed" in result.output
    assert "SCRAM-SHA-512 as user" in result.output
    assert "not-the-password" not in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("mode", "cause"),
    [
        ("wrong secret", "refused the client credentials (HTTP 401 invalid_client"),
        ("foreign_key", "Kafka authentication failed"),
        ("garbage", "answered 200 with something not JSON"),
        ("huge", "answered with more than 256 KiB"),
        ("no_expiry", "gave no expires_in and the token has no exp claim"),
    ],
)
async def test_an_oauth_failure_names_its_cause_and_exits_5(
    mode: str,
    cause: str,
    sim: Any,
    tmp_path: Path,
    kafka_tls: KafkaTls,
    kafka_sasl: KafkaSasl,
    token_endpoint: TokenEndpoint,
) -> None:
    secret = "not-the-client-secret" if mode == "wrong secret" else None
    connection = connect(
        "oauthbearer", kafka_tls, kafka_sasl, token_endpoint, tmp_path, oauth_secret=secret
    )
    if secret is None:
        token_endpoint.mode = mode  # type: ignore[assignment]
    path = tmp_path / "streamer.toml"
    streamer_config(path, sim.url, connection.kafka)

    run = await run_streamer("run", "--once", "--config", str(path), env=connection.env)
    assert run.proc.returncode == 5, run.output
    assert cause in the_error_line(run)
    assert token_endpoint.client_secret not in run.output


async def test_hostname_verification_off_connects_with_a_warning(
    sim: Any, tmp_path: Path, kafka_tls: KafkaTls
) -> None:
    path = tmp_path / "streamer.toml"
    kafka = _tls(kafka_tls.wrong_host, kafka_tls.cafile, ssl_check_hostname=False).kafka
    streamer_config(path, sim.url, kafka)
    check = await run_streamer("check", "--config", str(path), env={})
    assert check.proc.returncode == 0, check.output
    assert "WARN" in check.output
    assert "ssl_check_hostname = false" in check.output
    assert "kafka_hostname_check_off" in check.output, "and the log says it too"


async def test_an_unusable_client_key_is_a_configuration_error(
    sim: Any, tmp_path: Path, kafka_tls: KafkaTls
) -> None:
    path = tmp_path / "streamer.toml"
    missing = tmp_path / "nowhere" / "client.key"
    kafka = _tls(
        kafka_tls.mtls,
        kafka_tls.cafile,
        ssl_certfile=kafka_tls.client_certfile,
        ssl_keyfile=missing,
    ).kafka
    streamer_config(path, sim.url, kafka)
    run = await run_streamer("run", "--once", "--config", str(path), env={})
    assert run.proc.returncode == 2, run.output
    assert the_error_line(run) == (
        f"error: kafka.ssl_keyfile (env STREAMER_KAFKA__SSL_KEYFILE): file {missing} does not "
        "exist\n"
    )
