"""scripts/search-engine's command line, without starting a node (the SIEM tests start real
ones through tests/siem/search_engine.py): wrong input gives one clear line and an exit code."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.siem.search_engine import SCRIPT


def run(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STREAMER_SEARCH_HOME": str(home)}
    return subprocess.run(
        [str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_an_unknown_engine_is_named_with_the_known_ones(tmp_path: Path) -> None:
    result = run("start", "solr", home=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "search-engine: error: unknown engine 'solr' (opensearch or elasticsearch)"
    )


def test_a_missing_engine_name_is_asked_for(tmp_path: Path) -> None:
    result = run("stop", home=tmp_path)
    assert result.returncode == 1
    assert "name the engine: opensearch or elasticsearch" in result.stderr


def test_status_of_a_node_that_is_not_running_exits_3(tmp_path: Path) -> None:
    result = run("status", "elasticsearch", home=tmp_path)
    assert result.returncode == 3
    assert result.stdout == ""
    assert f"elasticsearch not running (state dir {tmp_path})" in result.stderr


def test_without_a_command_it_prints_its_usage(tmp_path: Path) -> None:
    result = run(home=tmp_path)
    assert result.returncode == 2
    assert "scripts/search-engine start ENGINE" in result.stderr
