"""The Helm chart (deploy/helm/dropbox-streamer): `helm lint`, `helm template` for the default
values and the multi-team SASL/TLS example, every rendered object validated against the
Kubernetes API schemas (kubernetes-validate, offline), and the rendered configuration read by
the streamer's own settings loader, so the chart and the code cannot drift apart.

Helm comes from scripts/helm (built from the Go module proxy once, then cached); skipped with
the reason where neither helm nor Go is there to build it.
"""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from streamer.config import load_settings

# the first use builds helm with `go install` (minutes on a busy 2-core machine)
pytestmark = pytest.mark.timeout(1800)

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "dropbox-streamer"
EXAMPLE = CHART / "examples" / "multi-team-sasl-tls.yaml"
SECRET_DIR = "/var/run/secrets/dropbox-streamer"
# the oldest Kubernetes the chart declares (Chart.yaml kubeVersion) and the newest schemas
KUBERNETES_VERSIONS = ("1.25.0", kubernetes_validate.latest_version())
VALUES = {"default": None, "multi-team-sasl-tls": EXAMPLE}


class Rendering(list[dict[str, Any]]):
    """The objects `helm template` rendered, and the teams of the values file used."""

    teams: list[dict[str, Any]]


@pytest.fixture(scope="module")
def helm() -> str:
    result = subprocess.run(
        [REPO / "scripts" / "helm", "--path"], capture_output=True, text=True, check=False
    )
    if result.returncode == 3:  # no Go to build it with
        pytest.skip(result.stderr.strip())
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def run_helm(helm: str, *args: str) -> str:
    result = subprocess.run([helm, *args], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def values_options(name: str) -> list[str]:
    file = VALUES[name]
    return [] if file is None else ["--values", str(file)]


def template(helm: str, *options: str) -> list[dict[str, Any]]:
    """The objects `helm template` renders for release "streamer" in namespace "siem"."""
    out = run_helm(helm, "template", "streamer", str(CHART), "--namespace", "siem", *options)
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module", params=sorted(VALUES))
def rendered(request: pytest.FixtureRequest, helm: str) -> Rendering:
    objects = Rendering(template(helm, *values_options(request.param)))
    values_file = VALUES[request.param] or CHART / "values.yaml"
    objects.teams = yaml.safe_load(values_file.read_text())["teams"]
    return objects


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind]
    return found


@pytest.mark.parametrize("values", sorted(VALUES))
def test_helm_lint_passes_strictly(helm: str, values: str) -> None:
    run_helm(helm, "lint", "--strict", str(CHART), *values_options(values))


def test_every_rendered_object_is_valid_for_the_kubernetes_api(
    rendered: list[dict[str, Any]],
) -> None:
    kinds = {o["kind"] for o in rendered}
    assert {"Deployment", "ConfigMap", "Service", "PodDisruptionBudget"} <= kinds
    for obj in rendered:
        if obj["apiVersion"] == "monitoring.coreos.com/v1":
            continue  # a CRD: no schema ships offline; checked below
        for version in KUBERNETES_VERSIONS:
            # strict: a misspelled or misplaced field fails too
            kubernetes_validate.validate(obj, version, strict=True)


def container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (streamer,) = by_kind(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    result: dict[str, Any] = streamer
    return result


def test_probes_use_the_health_endpoints_on_the_metrics_port(
    rendered: list[dict[str, Any]],
) -> None:
    streamer = container(rendered)
    (port,) = streamer["ports"]
    config = toml_config(rendered)
    assert port == {"name": "metrics", "containerPort": config["metrics"]["port"],
                    "protocol": "TCP"}  # fmt: skip
    assert config["metrics"]["host"] == "0.0.0.0"
    # Helm reads numbers as floats; the TOML must still say 9464, not 9464.0
    assert type(config["metrics"]["port"]) is int
    assert type(config["kafka"]["partitions"]) is int
    assert streamer["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert streamer["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert streamer["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    service = by_kind(rendered, "Service")
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"
    selector = by_kind(rendered, "Deployment")["spec"]["selector"]["matchLabels"]
    assert service["spec"]["selector"] == selector
    assert by_kind(rendered, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == selector


def test_service_monitor_scrapes_the_metrics_port_of_the_service(helm: str) -> None:
    objects = template(helm, "--values", str(EXAMPLE))
    monitor = by_kind(objects, "ServiceMonitor")
    service = by_kind(objects, "Service")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == service["spec"]["ports"][0]["name"]
    assert endpoint["path"] == "/metrics"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"


def dockerfile_user() -> str:
    users = re.findall(r"^USER\s+(\S+)", (REPO / "Dockerfile").read_text(), re.MULTILINE)
    return users[-1]


def test_pods_run_as_the_images_non_root_user_on_a_read_only_root(
    rendered: list[dict[str, Any]],
) -> None:
    pod = by_kind(rendered, "Deployment")["spec"]["template"]["spec"]
    security = pod["securityContext"]
    assert security["runAsNonRoot"] is True
    assert f"{security['runAsUser']}:{security['runAsGroup']}" == dockerfile_user()
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    context = container(rendered)["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert pod["automountServiceAccountToken"] is False


SECRET_KEYS = ("app_secret", "refresh_token", "sasl_password", "client_secret", "password")


def secret_like_keys(table: dict[str, Any], where: str = "") -> list[str]:
    """Keys of the configuration (at any depth) that would hold a secret in clear."""
    found = []
    for key, value in table.items():
        if isinstance(value, dict):
            found += secret_like_keys(value, f"{where}{key}.")
        elif key.endswith(SECRET_KEYS):
            found.append(where + key)
    return found


def test_secrets_are_files_of_a_mounted_secret_so_rotation_reaches_running_pods(
    rendered: list[dict[str, Any]],
) -> None:
    pod = by_kind(rendered, "Deployment")["spec"]["template"]["spec"]
    streamer = container(rendered)
    # no secret in the environment (fixed at pod creation, visible in `kubectl describe`)
    assert not [e for e in streamer["env"] if "valueFrom" in e]
    (mount,) = [m for m in streamer["volumeMounts"] if m["mountPath"] == SECRET_DIR]
    # a subPath mount would never see an updated Secret
    assert "subPath" not in mount
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert volume["secret"]["secretName"]
    config = toml_config(rendered)
    assert secret_like_keys(config) == []
    for team in config["teams"].values():
        for key in ("app_secret_file", "refresh_token_file"):
            assert team[key].startswith(SECRET_DIR + "/")


def toml_config(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return tomllib.loads(by_kind(objects, "ConfigMap")["data"]["streamer.toml"])


def test_the_streamer_accepts_the_rendered_configuration_and_secret_files(
    rendered: Rendering, tmp_path: Path
) -> None:
    """The ConfigMap's TOML and the container's environment, its secret directory played by
    a temporary one, load into valid settings with every secret read from its file."""
    streamer = container(rendered)
    env = {e["name"]: e["value"] for e in streamer["env"]}
    assert env.pop("STREAMER_CONFIG") == "/etc/streamer/streamer.toml"
    text = by_kind(rendered, "ConfigMap")["data"]["streamer.toml"]
    for path in set(re.findall(re.escape(SECRET_DIR) + r"/([\w.-]+)", text)):
        (tmp_path / path).write_text(f"value-of-{path}\n")
    config_path = tmp_path / "streamer.toml"
    config_path.write_text(text.replace(SECRET_DIR, str(tmp_path)))
    for name, table in tomllib.loads(text)["teams"].items():
        if not table["app_key"]:  # the default values leave it to the user
            env[f"STREAMER_TEAMS__{name.upper()}__APP_KEY"] = "app-key-from-the-user"
    settings = load_settings(config_path, env)
    teams = {t["name"]: t for t in rendered.teams}
    assert sorted(settings.teams) == sorted(teams)
    for name, team in settings.teams.items():
        expected = f"value-of-{teams[name]['refreshTokenKey']}"
        assert team.refresh_token.get_secret_value() == expected
        assert team.app_secret.get_secret_value() == f"value-of-{teams[name]['appSecretKey']}"
    if settings.kafka.security_protocol.startswith("SASL_"):
        assert settings.kafka.sasl_password is not None
        assert settings.kafka.sasl_password.get_secret_value() == "value-of-kafka-password"


def test_multi_team_example_runs_three_workers_over_sasl_ssl(helm: str) -> None:
    objects = template(helm, "--values", str(EXAMPLE))
    assert by_kind(objects, "Deployment")["spec"]["replicas"] == 3
    config = toml_config(objects)
    assert sorted(config["teams"]) == ["acme", "globex"]
    assert config["kafka"]["security_protocol"] == "SASL_SSL"
    assert config["kafka"]["ssl_cafile"].startswith(SECRET_DIR + "/")


def bench_peak_rss_mb() -> float:
    report = json.loads((REPO / "bench" / "report.json").read_text())
    return max(float(result["peak_rss_mb"]) for result in report["results"])


def mebibytes(quantity: str) -> float:
    match = re.fullmatch(r"(\d+)(Mi|Gi)", quantity)
    assert match, f"memory quantity {quantity!r}: write it in Mi or Gi"
    return int(match[1]) * (1024 if match[2] == "Gi" else 1)


def test_memory_request_and_limit_cover_the_benchmarks_peak(
    rendered: list[dict[str, Any]],
) -> None:
    resources = container(rendered)["resources"]
    peak = bench_peak_rss_mb()
    # the request holds a full sync of the largest benchmarked team; the limit leaves room
    assert mebibytes(resources["requests"]["memory"]) >= peak
    assert mebibytes(resources["limits"]["memory"]) >= 2 * peak
    assert "cpu" not in resources["limits"]


def test_rolling_updates_and_disruptions_keep_workers_running(
    rendered: list[dict[str, Any]],
) -> None:
    deployment = by_kind(rendered, "Deployment")
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    budget = by_kind(rendered, "PodDisruptionBudget")["spec"]
    assert budget["maxUnavailable"] == 1
    pod = deployment["spec"]["template"]["spec"]
    # SIGTERM flushes Kafka and commits state before exiting: give it time
    assert pod["terminationGracePeriodSeconds"] >= 30
