"""The locked dependencies: scripts/lock --check catches a pyproject.toml change without a new
lock, and the SBOM (scripts/lock --sbom) lists exactly what requirements/runtime.txt pins,
with the same file hashes. Runs uv from the project's .venv (a dev dependency) or PATH."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The files scripts/lock works on, copied, so a test can change them."""
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(REPO / name, tmp_path / name)
    for directory in ("requirements", "scripts"):
        shutil.copytree(REPO / directory, tmp_path / directory)
    venv_uv = REPO / ".venv" / "bin" / "uv"
    if venv_uv.exists():
        (tmp_path / ".venv" / "bin").mkdir(parents=True)
        (tmp_path / ".venv" / "bin" / "uv").symlink_to(venv_uv)
    elif shutil.which("uv") is None:
        pytest.skip("uv is not installed (scripts/test installs it into .venv)")
    return tmp_path


def lock_check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [root / "scripts" / "lock", "--check"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_lock_check_passes_on_the_committed_files(checkout: Path) -> None:
    result = lock_check(checkout)
    assert result.returncode == 0, result.stderr


def test_lock_check_names_the_fix_when_pyproject_changed_without_a_new_lock(
    checkout: Path,
) -> None:
    pyproject = checkout / "pyproject.toml"
    text = pyproject.read_text()
    assert '"pyyaml>=6",' in text
    pyproject.write_text(text.replace('"pyyaml>=6",', '"pyyaml>=6.0.1",'))
    result = lock_check(checkout)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "scripts/lock: uv.lock does not match pyproject.toml: run scripts/lock and commit "
        "uv.lock and requirements/"
    )


def test_lock_check_catches_a_hand_edited_requirements_file(checkout: Path) -> None:
    runtime = checkout / "requirements" / "runtime.txt"
    runtime.write_text(runtime.read_text().replace("--hash=sha256:", "--hash=sha256:0", 1))
    result = lock_check(checkout)
    assert result.returncode == 1
    assert "requirements/runtime.txt" in result.stderr
    assert "run scripts/lock" in result.stderr


def pins(requirements: Path) -> dict[str, tuple[str, set[str]]]:
    """name -> (version, sha256 hashes) of a pip requirements file with hashes."""
    text = requirements.read_text().replace("\\\n", " ")
    out = {}
    for line in text.splitlines():
        match = re.match(r"([A-Za-z0-9_.-]+)==(\S+)", line)
        if match:
            hashes = set(re.findall(r"--hash=sha256:([0-9a-f]{64})", line))
            out[match[1].lower()] = (match[2], hashes)
    return out


def test_sbom_lists_the_runtime_pins_with_their_hashes(checkout: Path, tmp_path: Path) -> None:
    sbom = tmp_path / "sbom.cdx.json"
    subprocess.run([checkout / "scripts" / "lock", "--sbom", str(sbom)], check=True, timeout=300)
    bom = json.loads(sbom.read_text())
    assert (bom["bomFormat"], bom["specVersion"]) == ("CycloneDX", "1.5")
    assert bom["metadata"]["component"]["name"] == "dropbox-streamer"
    components = {
        c["name"].lower(): (
            c["version"],
            {
                h["content"]
                for ref in c.get("externalReferences", [])
                for h in ref.get("hashes", [])
                if h["alg"] == "SHA-256"
            },
        )
        for c in bom["components"]
    }
    assert components == pins(checkout / "requirements" / "runtime.txt")
