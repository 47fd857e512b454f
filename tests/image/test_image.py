"""The container image as users get it: built from the project's Dockerfile (scripts/image
build), then run with podman against the test broker and the simulator, the simulator itself
being ``streamer simulate`` from the same image, over HTTPS with a throwaway CA that reaches the
image only through the EXTRA_CA_CERTS build argument.

Docker Hub cannot be reached here, so the base is a stand-in made from Debian 12 packages
(Python 3.11; scripts/image stand-in-base) unless STREAMER_TEST_PYTHON_IMAGE names one (an
image, or a root file system .tar to import).
Skipped, with the reason, only where podman (or, for the stand-in, mmdebstrap) is missing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from streamer.config import STREAM_NAMES
from tests.image.podman import Podman, private_podman, unavailable
from tests.integration.connector_support import read_topics
from tests.kafka_broker import free_ports

# the first test builds the base (mmdebstrap) and the image: minutes on a busy 2-core machine
pytestmark = [pytest.mark.kafka, pytest.mark.image, pytest.mark.timeout(2400)]

REPO = Path(__file__).resolve().parents[2]
IMAGE = "localhost/dropbox-streamer:test"
BASE = "localhost/streamer-test-base:3.11"
MEMBERS = 30
# where corporate and proxy CAs are installed on Debian-like hosts: a TLS-inspecting proxy
# between this machine and the package index has to be trusted by pip inside the build too
HOST_EXTRA_CAS = Path("/usr/local/share/ca-certificates")


@pytest.fixture(scope="module")
def podman() -> Iterator[Podman]:
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    with private_podman() as podman:
        yield podman


def engine(podman: Podman) -> dict[str, str]:
    return {**os.environ, "CONTAINER_ENGINE": " ".join(podman.command)}


@pytest.fixture(scope="module")
def base_image(podman: Podman) -> str:
    given = os.environ.get("STREAMER_TEST_PYTHON_IMAGE")
    if given and given.endswith(".tar"):
        # a root file system made earlier (mmdebstrap ... base.tar): saves minutes when iterating
        podman("import", "--change", 'CMD ["python3"]', given, BASE, timeout=600)
        return BASE
    if given:
        return given
    if os.geteuid() != 0:
        pytest.skip("the stand-in base image is made with mmdebstrap as root; or set "
                    "STREAMER_TEST_PYTHON_IMAGE to a Python 3.11 image")  # fmt: skip
    if subprocess.run(["which", "mmdebstrap"], capture_output=True, check=False).returncode:
        pytest.skip("mmdebstrap is not installed (apt-get install mmdebstrap), and "
                    "STREAMER_TEST_PYTHON_IMAGE names no base image")  # fmt: skip
    subprocess.run(
        [REPO / "scripts" / "image", "stand-in-base", BASE],
        env=engine(podman),
        check=True,
        timeout=900,
    )
    return BASE


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path]:
    """A throwaway CA and the simulator's certificate from it, readable by the image's user."""
    ca = trustme.CA()
    directory = tmp_path_factory.mktemp("tls")
    ca.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(
        directory / "server.pem"
    )
    ca.cert_pem.write_to_path(directory / "ca.pem")
    directory.chmod(0o755)
    for path in directory.iterdir():
        path.chmod(0o644)
    return ca, directory


@pytest.fixture(scope="module")
def image(podman: Podman, base_image: str, tls: tuple[trustme.CA, Path], tmp_path_factory:
          pytest.TempPathFactory) -> tuple[str, Path]:  # fmt: skip
    """The image, built by scripts/image from the Dockerfile, and the SBOM built beside it."""
    _, tls_dir = tls
    extra_cas = [p.read_text() for p in sorted(HOST_EXTRA_CAS.glob("**/*.crt"))]
    extra_cas.append((tls_dir / "ca.pem").read_text())
    build_args = {"PYTHON_IMAGE": base_image, "EXTRA_CA_CERTS": "\n".join(extra_cas)}
    if os.environ.get("PIP_INDEX_URL"):
        build_args["PIP_INDEX_URL"] = os.environ["PIP_INDEX_URL"]
    sbom = tmp_path_factory.mktemp("dist") / "sbom.cdx.json"
    options = ["--isolation", "chroot", "--pull=never" if base_image == BASE else "--pull=missing"]
    for name, value in build_args.items():
        options += ["--build-arg", f"{name}={value}"]
    subprocess.run(
        [REPO / "scripts" / "image", "build", IMAGE, "--sbom", str(sbom), "--", *options],
        env=engine(podman),
        check=True,
        timeout=1800,
    )
    return IMAGE, sbom


def follow(podman: Podman, container: str, needle: str, timeout: float = 120) -> str:
    """The container's output up to the first line containing ``needle``; fails if the
    container exits (or ``timeout`` passes) first."""
    seen: list[str] = []
    # the context manager closes the pipe and reaps `podman logs` however this ends
    with subprocess.Popen(
        [*podman.command, "logs", "--follow", container],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as proc:
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                seen.append(line)
                if needle in line:
                    return "".join(seen)
        finally:
            timer.cancel()
            proc.kill()
    raise AssertionError(f"{container} never printed {needle!r}:\n{''.join(seen)}")


@pytest.fixture(scope="module")
def simulator(
    podman: Podman, image: tuple[str, Path], tls: tuple[trustme.CA, Path]
) -> Iterator[str]:
    """``streamer simulate`` from the image, over HTTPS on the host's loopback; its URL."""
    _, tls_dir = tls
    (port,) = free_ports(1)
    name = f"sim-{uuid.uuid4().hex[:8]}"
    podman(
        "run", "--detach", "--name", name, *podman.run_options,
        "--volume", f"{tls_dir}:/tls:ro", image[0],
        "simulate", "--host", "127.0.0.1", "--port", str(port), "--members", str(MEMBERS),
        "--seed", "5", "--tls-cert", "/tls/server.pem", "--tls-key", "/tls/server.pem",
    )  # fmt: skip
    try:
        follow(podman, name, "simulator listening on")
        yield f"https://127.0.0.1:{port}"
    finally:
        podman("rm", "--force", "--time", "5", name, check=False)


@pytest.fixture
def streamer_env(
    simulator: str, kafka_bootstrap: str, tmp_path: Path
) -> tuple[dict[str, str], list[str]]:
    """The image's environment for one team on the simulator, its secrets mounted as files
    (as Docker secrets and Kubernetes do), topics of its own; and the volume options."""
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o755)
    (secrets / "app_secret").write_text("sim-app-secret\n")
    (secrets / "refresh_token").write_text("sim-refresh-token\n")
    for path in secrets.iterdir():
        path.chmod(0o644)
    prefix = f"img{uuid.uuid4().hex[:8]}"
    (metrics_port,) = free_ports(1)
    env = {
        "STREAMER_TEAMS__MAIN__APP_KEY": "sim-app-key",
        "STREAMER_TEAMS__MAIN__APP_SECRET_FILE": "/run/secrets/app_secret",
        "STREAMER_TEAMS__MAIN__REFRESH_TOKEN_FILE": "/run/secrets/refresh_token",
        "STREAMER_TEAMS__MAIN__API_URL": simulator,
        "STREAMER_TEAMS__MAIN__TOKEN_URL": f"{simulator}/oauth2/token",
        "STREAMER_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
        "STREAMER_KAFKA__PARTITIONS": "1",
        "STREAMER_METRICS__PORT": str(metrics_port),
        **{
            f"STREAMER_KAFKA__TOPICS__{name.upper()}": f"{prefix}.{name}"
            for name in (*STREAM_NAMES, "state")
        },
    }
    return env, ["--volume", f"{secrets}:/run/secrets:ro"]


def env_options(env: dict[str, str]) -> list[str]:
    return [option for key, value in env.items() for option in ("--env", f"{key}={value}")]


def test_the_image_runs_as_a_non_root_user(podman: Podman, image: tuple[str, Path]) -> None:
    (config,) = json.loads(podman("image", "inspect", image[0]).stdout)
    assert config["Config"]["User"] == "10001:10001"
    result = podman.run(image[0], "-c", "import os; print(os.getuid(), os.getgid())",
                        options=["--entrypoint", "python"])  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["10001", "10001"]


def test_streamer_check_passes_in_the_image(
    podman: Podman, image: tuple[str, Path], streamer_env: tuple[dict[str, str], list[str]]
) -> None:
    env, volumes = streamer_env
    result = podman.run(image[0], "check", options=[*env_options(env), *volumes])
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("ok") and "kafka" in line for line in lines), result.stdout
    assert not [line for line in lines if line.startswith("FAIL")], result.stdout


async def test_run_once_in_the_image_publishes_every_member(
    podman: Podman,
    image: tuple[str, Path],
    streamer_env: tuple[dict[str, str], list[str]],
    kafka_bootstrap: str,
) -> None:
    env, volumes = streamer_env
    result = podman.run(image[0], "run", "--once", options=[*env_options(env), *volumes])
    assert result.returncode == 0, result.stderr
    read, _ = await read_topics(kafka_bootstrap, [env["STREAMER_KAFKA__TOPICS__MEMBERS"]])
    assert read.types()["member.snapshot"] == MEMBERS
    team, _ = await read_topics(kafka_bootstrap, [env["STREAMER_KAFKA__TOPICS__TEAM"]])
    assert team.messages, "the team stream published nothing"


def test_running_image_is_healthy_as_non_root_and_sigterm_exits_0(
    podman: Podman, image: tuple[str, Path], streamer_env: tuple[dict[str, str], list[str]]
) -> None:
    env, volumes = streamer_env
    name = f"streamer-{uuid.uuid4().hex[:8]}"
    podman("run", "--detach", "--name", name, *podman.run_options, *env_options(env),
           *volumes, image[0])  # fmt: skip
    try:
        follow(podman, name, '"cycle_done"')
        # the image's own HEALTHCHECK command, run by podman inside the container
        health = podman("healthcheck", "run", name, check=False)
        assert health.returncode == 0, health.stdout + health.stderr
        status = podman("exec", name, "cat", "/proc/1/status").stdout
        uids = re.search(r"^Uid:\s+(\d+)\s+(\d+)", status, re.MULTILINE)
        assert uids is not None, status
        assert uids.groups() == ("10001", "10001")  # real and effective user of `streamer`
        podman("kill", "--signal", "TERM", name)
        exit_code = podman("wait", name, timeout=90).stdout.strip()
        printed = podman("logs", name)
        logs = printed.stdout + printed.stderr
        assert exit_code == "0", logs
        assert '"stopped"' in logs
    finally:
        podman("rm", "--force", "--time", "5", name, check=False)


def installed_distributions(podman: Podman, image: str) -> dict[str, str]:
    script = (
        "import importlib.metadata as m, json; "
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    )
    result = podman.run(image, "-c", script, options=["--entrypoint", "python"])
    assert result.returncode == 0, result.stderr
    found: dict[str, str] = json.loads(result.stdout)
    return {normalize(name): version for name, version in found.items()}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_sbom_beside_the_image_lists_exactly_what_the_image_installed(
    podman: Podman, image: tuple[str, Path]
) -> None:
    bom: dict[str, Any] = json.loads(image[1].read_text())
    assert (bom["bomFormat"], bom["specVersion"]) == ("CycloneDX", "1.5")
    project = bom["metadata"]["component"]
    listed = {normalize(c["name"]): c["version"] for c in bom["components"]}
    listed[normalize(project["name"])] = project["version"]
    for component in bom["components"]:
        assert component["purl"] == f"pkg:pypi/{component['name']}@{component['version']}"
    assert listed == installed_distributions(podman, image[0])
