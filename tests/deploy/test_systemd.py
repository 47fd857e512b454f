"""The systemd unit (deploy/systemd/dropbox-streamer.service): `systemd-analyze verify` accepts
it without a warning, `systemd-analyze security` rates its exposure OK, and what it runs and
sets is what the streamer's CLI and settings accept.

verify runs against a scratch root (--root) holding the unit, the distribution's own units it
depends on, and a stand-in executable at ExecStart's path (verify only checks that one is
there); what the command line means is checked against the CLI itself below. Skipped with the
reason only where systemd-analyze is missing (.ci/run installs it).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from streamer.config import load_settings
from streamer.run_command import run

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "deploy" / "systemd" / "dropbox-streamer.service"
SYSTEM_UNITS = [Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")]


def section_lines(wanted: str) -> list[tuple[str, str]]:
    """(key, value) of one section, in order (keys repeat, so no dict)."""
    section = ""
    out = []
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if line.startswith("["):
            section = line
        elif line and not line.startswith("#") and section == f"[{wanted}]":
            key, _, value = line.partition("=")
            out.append((key, value))
    return out


def values(key: str, section: str = "Service") -> list[str]:
    return [value for k, value in section_lines(section) if k == key]


@pytest.fixture
def analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.skip("systemd-analyze is not installed (.ci/run installs the systemd package)")
    return found


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A scratch file system root with the unit, the system's units and ExecStart's path."""
    units = next((d for d in SYSTEM_UNITS if (d / "sysinit.target").exists()), None)
    if units is None:
        pytest.skip("no systemd unit directory with sysinit.target on this machine")
    shutil.copytree(units, tmp_path / "usr/lib/systemd/system", symlinks=True)
    (tmp_path / "etc/systemd/system").mkdir(parents=True)
    shutil.copy(UNIT, tmp_path / "etc/systemd/system" / UNIT.name)
    (executable, *_) = shlex.split(values("ExecStart")[0])
    stand_in = tmp_path / executable.lstrip("/")
    stand_in.parent.mkdir(parents=True)
    stand_in.write_text("#!/bin/sh\n")
    stand_in.chmod(0o755)
    return tmp_path


def test_systemd_analyze_verify_accepts_the_unit_without_warnings(analyze: str, root: Path) -> None:
    result = subprocess.run(
        [analyze, "verify", f"--root={root}", str(root / "etc/systemd/system" / UNIT.name)],
        capture_output=True,
        text=True,
        check=False,
    )
    # verify exits 0 on unknown keys and only warns: any output is a finding
    assert result.returncode == 0, result.stderr
    assert result.stdout + result.stderr == ""


def test_systemd_rates_the_units_exposure_ok(analyze: str, root: Path) -> None:
    result = subprocess.run(
        [analyze, "security", "--offline=true", f"--root={root}", "--threshold=20",
         str(root / "etc/systemd/system" / UNIT.name)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, summary or result.stderr  # exposure above 2.0 of 10
    assert "OK" in summary


def test_restarts_on_failure_but_not_for_errors_a_human_must_fix() -> None:
    assert values("Restart") == ["on-failure"]
    (prevent,) = values("RestartPreventExitStatus")
    # 2 configuration, 3 credentials refused, 4 missing scope (docs/operations.md exit codes)
    assert prevent.split() == ["2", "3", "4"]
    assert values("KillSignal") == ["SIGTERM"]


def test_execstart_is_a_run_command_the_cli_accepts() -> None:
    (command,) = values("ExecStart")
    words = shlex.split(command)
    assert Path(words[0]).name == "streamer"
    assert words[1] == "run"
    ctx = run.make_context("run", words[2:])
    assert str(ctx.params["config_path"]) == "/etc/dropbox-streamer/streamer.toml"


def test_secrets_come_from_credentials_the_settings_read_as_files(tmp_path: Path) -> None:
    """Each ``..._FILE=%d/NAME`` names a credential the unit loads, and with the credentials
    directory played by a temporary one, the settings read the secrets from those files."""
    credentials = dict(value.split(":", 1) for value in values("LoadCredential"))
    assert all(
        path.startswith("/etc/dropbox-streamer/credentials/") for path in credentials.values()
    )
    env = {}
    for assignment in values("Environment"):
        name, _, value = assignment.partition("=")
        if value.startswith("%d/"):
            credential = value.removeprefix("%d/")
            assert credential in credentials, f"{name} reads {credential}, which is not loaded"
            (tmp_path / credential).write_text(f"value-of-{credential}\n")
            value = str(tmp_path / credential)
        env[name] = value
    assert not [name for name in env if name.endswith(("SECRET", "TOKEN", "PASSWORD"))]
    config = tmp_path / "streamer.toml"
    config.write_text('[teams.main]\napp_key = "k"\n')
    team = load_settings(config, env).teams["main"]
    assert team.app_secret.get_secret_value() == "value-of-main_app_secret"
    assert team.refresh_token.get_secret_value() == "value-of-main_refresh_token"


def test_runs_as_a_throwaway_user_and_starts_with_the_system() -> None:
    assert values("DynamicUser") == ["yes"]
    assert values("WantedBy", "Install") == ["multi-user.target"]
    assert "network-online.target" in values("After", "Unit")
