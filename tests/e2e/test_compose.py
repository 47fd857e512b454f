"""docker-compose.yml and the Dockerfile: validated by ``docker compose config`` where the
docker CLI has compose, and, everywhere, read as data and checked against the code they drive
(the streamer's settings, the CLI's options, the health endpoint)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from streamer.clock import SystemClock
from streamer.config import Settings, load_settings
from streamer.health import HealthServer
from streamer.metrics import Metrics
from streamer.run_command import tail
from streamer.simulator.command import simulate

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
COMPOSE_TOML = REPO / "config" / "compose.toml"


def compose_command() -> list[str] | None:
    """``docker compose`` (v2 plugin) or the standalone ``docker-compose``, if either works."""
    candidates = [["docker", "compose"], ["docker-compose"]]
    for command in candidates:
        if shutil.which(command[0]) is None:
            continue
        probe = subprocess.run([*command, "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return command
    return None


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose["services"]
    return result


def env_of(service: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in (service.get("environment") or {}).items()}


@pytest.mark.parametrize("profile", ["demo", "live"])
def test_docker_compose_config_accepts_the_file(profile: str) -> None:
    command = compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    result = subprocess.run(
        [*command, "-f", str(COMPOSE), "--profile", profile, "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "DROPBOX_APP_KEY": "app-key"},
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr


def test_kafka_is_one_kraft_node_that_supports_transactions(compose: dict[str, Any]) -> None:
    kafka = services(compose)["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = env_of(kafka)
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    node = env["KAFKA_NODE_ID"]
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{node}@kafka:9093"
    assert "CONTROLLER://:9093" in env["KAFKA_LISTENERS"].split(",")
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
    for key in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert env[key] == "1", key
    # the data directory is on a named volume, so events and state survive a restart
    data_dir = env["KAFKA_LOG_DIRS"]
    volume, _, mounted = kafka["volumes"][0].partition(":")
    assert mounted == data_dir
    assert volume in compose["volumes"]


def test_services_have_health_checks_and_start_after_what_they_need(
    compose: dict[str, Any],
) -> None:
    all_services = services(compose)
    for name, service in all_services.items():
        check = service.get("healthcheck") or {}
        if name != "tail":  # a foreground printer, nothing to probe
            assert check.get("test"), f"{name} has no health check"
        for needed, how in (service.get("depends_on") or {}).items():
            assert how["condition"] == "service_healthy", (name, needed)
            assert all_services[needed]["healthcheck"].get("test"), (name, needed)
    assert set(all_services["streamer"]["depends_on"]) == {"kafka"}
    assert set(all_services["streamer-demo"]["depends_on"]) == {"kafka", "simulator"}
    assert set(all_services["tail"]["depends_on"]) == {"streamer-demo"}


def test_profiles_keep_the_demo_and_the_real_team_apart(compose: dict[str, Any]) -> None:
    by_profile: dict[str, set[str]] = {}
    for name, service in services(compose).items():
        for profile in service.get("profiles", ["(always)"]):
            by_profile.setdefault(profile, set()).add(name)
    assert by_profile == {
        "(always)": {"kafka"},
        "demo": {"simulator", "streamer-demo", "tail"},
        "live": {"streamer"},
    }


def settings_for(service: dict[str, Any], replace: dict[str, str] | None = None) -> Settings:
    env = env_of(service)
    for key, value in list(env.items()):
        for old, new in (replace or {}).items():
            value = value.replace(old, new)
        env[key] = value
    assert env["STREAMER_CONFIG"] == "/etc/streamer/compose.toml"
    assert "./config:/etc/streamer:ro" in service["volumes"]
    return load_settings(COMPOSE_TOML, env)


def test_demo_services_are_pointed_at_the_simulator_and_the_compose_broker(
    compose: dict[str, Any],
) -> None:
    all_services = services(compose)
    sim_args = simulator_args(all_services["simulator"])
    sim_port = sim_args[sim_args.index("--port") + 1]
    for name in ("streamer-demo", "tail"):
        settings = settings_for(all_services[name])
        team = settings.teams["main"]
        # http:// is for loopback only: streamer-demo shares the simulator's network namespace
        assert team.api_url == f"http://127.0.0.1:{sim_port}"
        assert team.token_url == f"http://127.0.0.1:{sim_port}/oauth2/token"
        assert (team.app_key, team.app_secret.get_secret_value()) == (
            "sim-app-key",
            "sim-app-secret",
        )
        advertised = env_of(all_services["kafka"])["KAFKA_ADVERTISED_LISTENERS"].split(",")
        assert f"PLAINTEXT://{settings.kafka.bootstrap_servers}" in advertised
    assert all_services["streamer-demo"]["network_mode"] == "service:simulator"
    demo = settings_for(all_services["streamer-demo"])
    assert demo.streams.audit.poll_interval == 5
    assert demo.events.include_raw is False


def live_settings(compose: dict[str, Any], secrets_dir: Path) -> Settings:
    """The live streamer's settings, its Docker secrets played by files in ``secrets_dir``."""
    service = services(compose)["streamer"]
    for name in service["secrets"]:
        assert compose["secrets"][name]["file"] == f"./secrets/{name}"
        (secrets_dir / name).write_text(f"value-of-{name}\n")
    return settings_for(
        service, {"/run/secrets/": f"{secrets_dir}/", "${DROPBOX_APP_KEY:-}": "app-key"}
    )


def test_live_streamer_reads_its_secrets_from_docker_secrets(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    team = live_settings(compose, tmp_path).teams["main"]
    assert team.app_key == "app-key"
    assert team.app_secret.get_secret_value() == "value-of-dropbox_app_secret"
    assert team.refresh_token.get_secret_value() == "value-of-dropbox_refresh_token"
    assert team.api_url == "https://api.dropboxapi.com"  # the real Dropbox
    assert (REPO / "secrets" / ".gitignore").read_text().splitlines()[1] == "*"


def test_metrics_listen_where_the_health_checks_and_published_ports_look(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    all_services = services(compose)
    for name, settings in (
        ("streamer", live_settings(compose, tmp_path)),
        ("streamer-demo", settings_for(all_services["streamer-demo"])),
    ):
        metrics = settings.metrics
        assert metrics.host == "0.0.0.0"
        probe = " ".join(all_services[name]["healthcheck"]["test"])
        assert f"http://127.0.0.1:{metrics.port}/healthz" in probe
        # a service in another's network namespace publishes its ports there
        owner = all_services[name].get("network_mode", "").removeprefix("service:") or name
        published = [p.split("#")[0].strip().rsplit(":", 1) for p in all_services[owner]["ports"]]
        # "127.0.0.1:9464:9464", or a range for scaled workers: "127.0.0.1:9464-9473:9464"
        assert any(
            container == str(metrics.port) and host.startswith(f"127.0.0.1:{metrics.port}")
            for host, container in published
        ), all_services[owner]["ports"]


def test_the_live_streamer_scales_to_several_workers(compose: dict[str, Any]) -> None:
    """`--scale streamer=3` needs no fixed container name and a host port per worker."""
    live = services(compose)["streamer"]
    assert "container_name" not in live
    (published,) = live["ports"]
    host, _ = published.rsplit(":", 1)
    first, _, last = host.removeprefix("127.0.0.1:").partition("-")
    assert int(last) - int(first) + 1 >= 3


def simulator_args(service: dict[str, Any]) -> list[str]:
    assert service["entrypoint"] == ["sh", "-c"]
    (script,) = service["command"]
    script = script.replace("$$(date -u +%Y-%m-%dT%H:%M:%SZ)", "2026-05-01T12:00:00Z")
    words = shlex.split(script)
    assert words[:3] == ["exec", "streamer", "simulate"]
    return words[3:]


def test_the_commands_are_ones_the_cli_accepts(compose: dict[str, Any]) -> None:
    all_services = services(compose)
    args = simulator_args(all_services["simulator"])
    ctx = simulate.make_context("simulate", list(args))
    assert ctx.params["host"] == "0.0.0.0"
    assert ctx.params["start"].isoformat().startswith("2026-05-01T12:00:00")
    ctx = tail.make_context("tail", list(all_services["tail"]["command"][1:]))
    assert ctx.params["brief"] is True
    assert ctx.params["from_beginning"] is True


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_the_image_is_slim_non_root_and_runs_the_streamer() -> None:
    instructions = dockerfile_instructions()
    # the base is a build argument (a mirror, or CI's stand-in), python:3.11-slim by default
    assert ("ARG", "PYTHON_IMAGE=python:3.11-slim") in instructions
    froms = [rest for word, rest in instructions if word == "FROM"]
    assert all(rest.startswith("${PYTHON_IMAGE}") for rest in froms)
    users = [rest for word, rest in instructions if word == "USER"]
    assert users, "the image must not run as root"
    assert users[-1] not in ("root", "0")
    assert ("ENTRYPOINT", '["streamer"]') in instructions
    assert ("CMD", '["run"]') in instructions
    env = " ".join(rest for word, rest in instructions if word == "ENV")
    assert "STREAMER_METRICS__HOST=0.0.0.0" in env


async def test_the_image_health_check_passes_when_healthz_answers(tmp_path: Path) -> None:
    (check,) = [rest for word, rest in dockerfile_instructions() if word == "HEALTHCHECK"]
    command = json.loads(check[check.index("CMD") + len("CMD") :].strip())
    assert command[0] == "python"
    probe = [sys.executable, *command[1:]]
    settings = Settings.model_validate(
        {
            "teams": {"t": {"app_key": "k", "app_secret": "s", "refresh_token": "r"}},
            "metrics": {"host": "127.0.0.1", "port": 0},
        }
    )
    server = HealthServer(settings, Metrics(), [], SystemClock())
    await server.start()
    try:
        env = {**os.environ, "STREAMER_METRICS__PORT": str(server.port)}
        alive = await run(probe, env)
    finally:
        await server.stop()
    dead = await run(probe, env)
    assert alive == 0
    assert dead != 0


async def run(command: list[str], env: dict[str, str]) -> int:
    import asyncio

    proc = await asyncio.create_subprocess_exec(
        *command,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await asyncio.wait_for(proc.wait(), 30)
