"""``scripts/demo`` as a person runs it: events scroll, Ctrl-C stops everything.

Opt-in (it starts its own Kafka broker and takes about a minute):
``STREAMER_DEMO_TEST=1 .venv/bin/pytest tests/e2e/test_demo_script.py``. The broker, the
simulator and the metrics endpoint get free ports and a private state dir, so it runs beside
other brokers.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.kafka_broker import free_port_env, free_ports

REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("STREAMER_DEMO_TEST") != "1",
        reason="opt-in: STREAMER_DEMO_TEST=1 (starts its own broker, about a minute)",
    ),
    pytest.mark.timeout(300),
]

CHANGE = re.compile(
    r"\s(member\.(joined|invited|updated|suspended|unsuspended|removed)"
    r"|web_session\.(started|ended)|(desktop|mobile)_client\.(linked|unlinked)"
    r"|session\.network_changed|app\.(linked|unlinked))\s"
)


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_demo_shows_events_then_ctrl_c_cleans_everything_up(tmp_path: Path) -> None:
    sim_port, metrics_port = free_ports(2)
    env = {
        **os.environ,
        **free_port_env(),
        "STREAMER_KAFKA_HOME": str(tmp_path / "kafka"),
        "DEMO_SIM_PORT": str(sim_port),
        "DEMO_METRICS_PORT": str(metrics_port),
    }
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    demo = subprocess.Popen(
        [str(REPO / "scripts" / "demo")],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    lines: list[str] = []
    errors: list[str] = []
    readers = [
        threading.Thread(target=lambda: lines.extend(demo.stdout or []), daemon=True),
        threading.Thread(target=lambda: errors.extend(demo.stderr or []), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        deadline = time.monotonic() + 180
        while sum(1 for line in lines if CHANGE.search(line)) < 5:
            assert demo.poll() is None, "".join(errors)
            assert time.monotonic() < deadline, "no changes scrolled by:\n" + "".join(errors)
            time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics") as response:
            metrics = response.read().decode()
        published = sum(
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("streamer_events_total{")
        )
        assert published >= len([line for line in lines if "  " in line]) > 0
    finally:
        os.killpg(demo.pid, signal.SIGINT)  # what Ctrl-C does to the foreground job
        code = demo.wait(timeout=90)
    for reader in readers:
        reader.join(timeout=10)

    assert code == 0, "".join(errors)
    assert "==> stopping" in "".join(errors)
    assert not listening(sim_port)
    assert not listening(metrics_port)
    assert not listening(int(env["STREAMER_KAFKA_PORT"])), "the broker the demo started is stopped"
    status = subprocess.run(
        [str(REPO / "scripts" / "kafka"), "status"], env=env, capture_output=True, check=False
    )
    assert status.returncode != 0
