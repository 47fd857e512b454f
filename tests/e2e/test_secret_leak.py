"""Secrets never leave the process: not in logs (at DEBUG), error messages, metrics or repr.

The CLI runs as an operator runs it, with distinctive secret values given the ways operators
give them (a ``*_FILE`` variable, plain variables), against a simulator that only accepts
those values and the broker's SASL listener with PLAIN (the mechanism that sends the password
itself). Everything it prints, every endpoint it serves, and the error output of a run whose
refresh token was revoked is searched for the secrets and for every access token the
simulator issued. A second run goes over TLS with OAUTHBEARER and an encrypted client key:
the key password, the OAuth client secret and every Kafka token issued are searched for too,
also in the errors of a token endpoint that echoes the secret and of a wrong key password.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization

from streamer.clock import SystemClock
from streamer.config import STREAM_NAMES, load_settings
from streamer.dropbox.auth import TokenManager
from streamer.dropbox.client import DropboxClient
from streamer.dropbox.ratelimit import RateGate
from streamer.dropbox.retry import RetryPolicy
from streamer.dropbox.transport import AiohttpTransport
from streamer.errors import ConfigError
from streamer.kafka.connection import client_kwargs
from streamer.kafka.publisher import Publisher
from streamer.simulator import Faults, SimulatorConfig, SimulatorServer
from streamer.simulator.oauth import Credentials
from tests.e2e.streamer_process import DEADLINE, StreamerProcess, run_streamer, write_toml
from tests.kafka_broker import KafkaSasl, KafkaTls
from tests.oauth_endpoint import TokenEndpoint

pytestmark = pytest.mark.kafka

APP_KEY = "leaktest-app-key"
APP_SECRET = "APPSECRET-q7Zx3Vn9Lw2Kd8"
REFRESH_TOKEN = "REFRESHTOK-Hy4Pm6Tc1Rb5Gs0"


def config(tmp_path: Path, sim_url: str, sasl: KafkaSasl) -> Path:
    prefix = f"leak{uuid.uuid4().hex[:8]}"
    return write_toml(
        tmp_path / "streamer.toml",
        {
            "teams.acme": {
                "app_key": APP_KEY,
                "api_url": sim_url,
                "token_url": f"{sim_url}/oauth2/token",
            },
            "kafka": {
                "bootstrap_servers": sasl.bootstrap_servers,
                "security_protocol": "SASL_PLAINTEXT",
                "sasl_mechanism": "PLAIN",
                "sasl_username": sasl.username,
                "partitions": 1,
                "outage_limit": 30,
            },
            "kafka.topics": {name: f"{prefix}.{name}" for name in (*STREAM_NAMES, "state")},
            "streams.audit": {"poll_interval": 0.5},
            "metrics": {"enabled": True, "host": "127.0.0.1", "port": 0},
        },
    )


def secret_env(tmp_path: Path, sasl: KafkaSasl) -> dict[str, str]:
    secret_file = tmp_path / "app_secret"
    secret_file.write_text(APP_SECRET + "\n")
    return {
        "STREAMER_TEAMS__ACME__APP_SECRET_FILE": str(secret_file),
        "STREAMER_TEAMS__ACME__REFRESH_TOKEN": REFRESH_TOKEN,
        "STREAMER_KAFKA__SASL_PASSWORD": sasl.password,
    }


async def scrape(port: int, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, await response.text()


async def until(what: str, check: Callable[[], Any]) -> None:
    deadline = asyncio.get_running_loop().time() + DEADLINE
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def cycles_ok(metrics_text: str, stream: str) -> float:
    prefix = f'streamer_cycles_total{{outcome="ok",stream="{stream}",team="acme"}} '
    for line in metrics_text.splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix) :])
    return 0.0


async def serving_port(run: StreamerProcess) -> int:
    """The metrics port the running service logged."""
    record = await run.wait_for_log(lambda r: r.get("event") == "metrics_serving")
    return int(record["port"])


async def every_stream_cycled(port: int) -> None:
    async def all_cycled() -> bool:
        text = (await scrape(port, "/metrics"))[1]
        return all(cycles_ok(text, s) >= 1 for s in STREAM_NAMES)

    await until("a first cycle of every stream", all_cycled)


async def served_texts(port: int) -> dict[str, str]:
    return {path: (await scrape(port, path))[1] for path in ("/metrics", "/healthz", "/readyz")}


def in_process_texts(config_path: Path, env: dict[str, str]) -> list[str]:
    """repr/str of the settings and the clients built from them, and a config error."""
    settings = load_settings(config_path, env)
    team = settings.teams["acme"]
    transport = AiohttpTransport()
    clock = SystemClock()
    tokens = TokenManager(
        team="acme",
        token_url=team.token_url,
        app_key=team.app_key,
        app_secret=team.app_secret,
        refresh_token=team.refresh_token,
        transport=transport,
        clock=clock,
    )
    client = DropboxClient(
        team="acme",
        api_url=team.api_url,
        tokens=tokens,
        transport=transport,
        gate=RateGate(clock),
        retry=RetryPolicy(),
        clock=clock,
    )
    publisher = Publisher(settings.kafka, clock=clock)
    texts = [repr(settings), str(settings), settings.model_dump_json(), repr(settings.kafka)]
    texts += [repr(team), repr(tokens), str(tokens), repr(client), repr(publisher)]
    # a configuration error next to the secrets names keys, never values
    with pytest.raises(ConfigError) as bad:
        load_settings(config_path, {**env, "STREAMER_TEAMS__ACME__API_URL": REFRESH_TOKEN})
    texts.append(str(bad.value))
    return texts


async def test_no_secret_reaches_logs_errors_metrics_or_repr(
    tmp_path: Path, kafka_sasl: KafkaSasl
) -> None:
    credentials = Credentials(app_key=APP_KEY, app_secret=APP_SECRET, refresh_token=REFRESH_TOKEN)
    server = SimulatorServer(SimulatorConfig(members=60, seed=21, credentials=credentials))
    env = secret_env(tmp_path, kafka_sasl)
    texts: dict[str, str] = {}
    async with server.running(host="127.0.0.1", port=0) as sim:
        path = config(tmp_path, sim.url, kafka_sasl)
        run = await StreamerProcess.start(
            "run", "--config", str(path), "--log-level", "DEBUG", env=env
        )
        try:
            port = await serving_port(run)
            await every_stream_cycled(port)
            # every access token dies: the next audit cycle gets a 401 and refreshes
            sim.expire_tokens()
            audit_before = cycles_ok((await scrape(port, "/metrics"))[1], "audit")

            async def refreshed() -> bool:
                text = (await scrape(port, "/metrics"))[1]
                return cycles_ok(text, "audit") > audit_before

            await until("an audit cycle after the tokens expired", refreshed)
            texts |= await served_texts(port)
            code = await run.terminate()
        finally:
            await run.kill()
        assert code == 0, run.output
        texts["run --log-level DEBUG"] = run.output
        issued = list(sim.tokens.tokens)  # every access token the simulator handed out

        check = await run_streamer("check", "--config", str(path), env=env)
        assert check.proc.returncode == 0, check.output
        texts["check"] = check.output

        sim.revoke_refresh_token(access_tokens=True)
        revoked = await run_streamer(
            "run", "--once", "--config", str(path), "--log-level", "DEBUG", env=env
        )
        texts["run after revocation"] = revoked.output
    for i, text in enumerate(in_process_texts(path, env)):
        texts[f"in-process text {i}"] = text

    # the runs did what the test needs them to have done
    records = run.log_lines()
    events = [r.get("event") for r in records]
    assert "api_request" in events, "DEBUG lines should be there"
    assert sim.counters.get("oauth2/token", 200) >= 2, "a second token should have been issued"
    assert (
        sim.counters.get("team_log/get_events/continue", 401)
        + sim.counters.get("team_log/get_events", 401)
        >= 1
    )
    assert {r["stream"] for r in records if r.get("event") == "cycle_done"} == set(STREAM_NAMES)
    assert revoked.proc.returncode == 3
    assert "streamer auth" in "".join(revoked.stderr)
    assert len(issued) >= 2

    basic = base64.b64encode(f"{APP_KEY}:{APP_SECRET}".encode()).decode()
    secrets = [APP_SECRET, REFRESH_TOKEN, kafka_sasl.password, basic, *issued]
    leaks = [
        (where, secret[:6] + "...")
        for where, text in texts.items()
        for secret in secrets
        if secret in text
    ]
    assert leaks == []


async def test_a_400_quoting_the_bearer_token_back_leaks_it_nowhere(
    tmp_path: Path, kafka_sasl: KafkaSasl
) -> None:
    credentials = Credentials(app_key=APP_KEY, app_secret=APP_SECRET, refresh_token=REFRESH_TOKEN)
    # the first API call (team/get_info at start-up) is answered with a 400 quoting the
    # Authorization header, the way a proxy or an API error page may echo a request
    faults = Faults(echo_token_next=1, routes=["team/get_info"])
    server = SimulatorServer(
        SimulatorConfig(members=5, seed=3, credentials=credentials, faults=faults)
    )
    env = secret_env(tmp_path, kafka_sasl)
    async with server.running(host="127.0.0.1", port=0) as sim:
        path = config(tmp_path, sim.url, kafka_sasl)
        run = await run_streamer(
            "run", "--once", "--config", str(path), "--log-level", "DEBUG", env=env
        )
    assert sim.counters.get("team/get_info", 400) == 1
    assert run.proc.returncode == 4, run.output
    (issued,) = sim.tokens.tokens
    error = [line for line in run.stderr if line.startswith("error:")]
    assert error, run.output
    assert "rejected the request (400)" in error[0]
    assert "Bearer ***" in error[0]  # what was quoted is still visible, the token is not
    for secret in (issued, APP_SECRET, REFRESH_TOKEN, kafka_sasl.password):
        assert secret not in run.output


# --- Kafka over TLS with OAUTHBEARER: the key password, the client secret, the tokens -------

KEY_PASSWORD = "KEYPASS-Wd5Rt8Yn3Lq"
CLIENT_SECRET = "OAUTHSECRET-Zx7Mv4Bc9Nf"


def encrypted_key(tls: KafkaTls, path: Path) -> Path:
    """The broker-issued client key, encrypted with ``KEY_PASSWORD``."""
    key = serialization.load_pem_private_key(tls.client_keyfile.read_bytes(), password=None)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(KEY_PASSWORD.encode()),
        )
    )
    return path


def oauth_config(tmp_path: Path, sim_url: str, tls: KafkaTls) -> Path:
    prefix = f"leak{uuid.uuid4().hex[:8]}"
    return write_toml(
        tmp_path / "oauth.toml",
        {
            "teams.acme": {
                "app_key": APP_KEY,
                "api_url": sim_url,
                "token_url": f"{sim_url}/oauth2/token",
            },
            "kafka": {
                "bootstrap_servers": tls.sasl_ssl,
                "security_protocol": "SASL_SSL",
                "sasl_mechanism": "OAUTHBEARER",
                "ssl_cafile": str(tls.cafile),
                # the SASL_SSL listener asks for no client certificate, but the key is loaded
                # (and its password used) all the same
                "ssl_certfile": str(tls.client_certfile),
                "ssl_keyfile": str(encrypted_key(tls, tmp_path / "client-encrypted.key")),
                "partitions": 1,
                "outage_limit": 30,
            },
            "kafka.topics": {name: f"{prefix}.{name}" for name in (*STREAM_NAMES, "state")},
            "metrics": {"enabled": True, "host": "127.0.0.1", "port": 0},
        },
    )


def oauth_env(tmp_path: Path, endpoint: TokenEndpoint) -> dict[str, str]:
    secret_file = tmp_path / "oauth_secret"
    secret_file.write_text(CLIENT_SECRET + "\n")
    key_password = tmp_path / "key_password"
    key_password.write_text(KEY_PASSWORD + "\n")
    (tmp_path / "wrong").write_text(KEY_PASSWORD[::-1] + "\n")
    return {
        "STREAMER_TEAMS__ACME__APP_SECRET": APP_SECRET,
        "STREAMER_TEAMS__ACME__REFRESH_TOKEN": REFRESH_TOKEN,
        "STREAMER_KAFKA__SSL_KEY_PASSWORD_FILE": str(key_password),
        "STREAMER_KAFKA__OAUTH__TOKEN_URL": endpoint.url,
        "STREAMER_KAFKA__OAUTH__CLIENT_ID": endpoint.client_id,
        "STREAMER_KAFKA__OAUTH__CLIENT_SECRET_FILE": str(secret_file),
    }


async def test_no_kafka_tls_or_oauth_secret_reaches_logs_errors_metrics_or_repr(
    tmp_path: Path, kafka_tls: KafkaTls
) -> None:
    credentials = Credentials(app_key=APP_KEY, app_secret=APP_SECRET, refresh_token=REFRESH_TOKEN)
    server = SimulatorServer(SimulatorConfig(members=20, seed=22, credentials=credentials))
    endpoint = TokenEndpoint(
        kafka_tls.oauth_signing_key, kafka_tls.oauth_key_id, client_secret=CLIENT_SECRET
    )
    texts: dict[str, str] = {}
    async with server.running(host="127.0.0.1", port=0) as sim, endpoint.running():
        path = oauth_config(tmp_path, sim.url, kafka_tls)
        env = oauth_env(tmp_path, endpoint)
        run = await StreamerProcess.start(
            "run", "--config", str(path), "--log-level", "DEBUG", env=env
        )
        try:
            await every_stream_cycled(port := await serving_port(run))
            texts |= await served_texts(port)
            code = await run.terminate()
        finally:
            await run.kill()
        assert code == 0, run.output
        texts["run --log-level DEBUG"] = run.output

        check = await run_streamer("check", "--config", str(path), env=env)
        assert check.proc.returncode == 0, check.output
        texts["check"] = check.output

        # refusals that could quote a secret: a token endpoint echoing the client secret it
        # was sent, and a wrong key password
        endpoint.mode = "echo"
        echoed = await run_streamer("run", "--once", "--config", str(path), env=env)
        assert echoed.proc.returncode == 5, echoed.output
        texts["token endpoint echoing the secret"] = echoed.output
        endpoint.mode = "ok"
        wrong_password = {"STREAMER_KAFKA__SSL_KEY_PASSWORD_FILE": str(tmp_path / "wrong")}
        wrong = await run_streamer(
            "run", "--once", "--config", str(path), env={**env, **wrong_password}
        )
        assert wrong.proc.returncode == 2, wrong.output
        assert "wrong password for the encrypted private key" in wrong.output
        texts["wrong key password"] = wrong.output

        settings = load_settings(path, env)
        provider = client_kwargs(settings.kafka)["sasl_oauth_token_provider"]
        texts["repr"] = " ".join(
            [repr(settings), str(settings), settings.model_dump_json(), repr(provider)]
        )

    assert endpoint.issued, "tokens were issued"
    records = run.log_lines()
    assert {r["stream"] for r in records if r.get("event") == "cycle_done"} == set(STREAM_NAMES)
    assert any(r.get("event") == "kafka_oauth_token" for r in records), "DEBUG lines are there"
    basic = base64.b64encode(f"{endpoint.client_id}:{CLIENT_SECRET}".encode()).decode()
    secrets = [KEY_PASSWORD, KEY_PASSWORD[::-1], CLIENT_SECRET, APP_SECRET, REFRESH_TOKEN, basic]
    secrets += endpoint.issued
    leaks = [
        (where, secret[:6] + "...")
        for where, text in texts.items()
        for secret in secrets
        if secret in text
    ]
    assert leaks == []
