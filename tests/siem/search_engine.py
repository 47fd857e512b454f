"""A real single-node OpenSearch or Elasticsearch for the test session, driven through
``scripts/search-engine`` the way ``tests/kafka_broker.py`` drives ``scripts/kafka``.

The script does the work (fetch and unpack the distribution from Maven Central once, write the
config, start the JVM as a dedicated user when we are root, wait for a green cluster); this
module picks free ports and a state dir the service user can reach, runs it, parses what it
prints, and makes sure the JVM goes away again: ``stop()`` from the fixture finalizer, an
``atexit`` hook, and the script's watchdog (``STREAMER_SEARCH_WATCH_PID``) for a killed pytest.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from tests.kafka_broker import free_ports, parse_env_lines

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "search-engine"
ENGINES = ("opensearch", "elasticsearch")
URL_VARIABLE = {"opensearch": "OPENSEARCH_URL", "elasticsearch": "ELASTICSEARCH_URL"}

# generous: the first run fetches ~90 MB with Maven; a busy 2-core machine starts a node in ~25 s
_START_TIMEOUT_S = 600.0
_STOP_TIMEOUT_S = 60.0


class SearchEngineStartError(RuntimeError):
    """``scripts/search-engine start`` failed; the message carries its output."""


@dataclass
class SearchEngine:
    """One ``scripts/search-engine`` node with its own state dir and ports."""

    engine: str
    state_dir: Path
    port: int
    transport_port: int
    url: str = ""
    _running: bool = field(default=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            STREAMER_SEARCH_HOME=str(self.state_dir),
            STREAMER_SEARCH_PORT=str(self.port),
            STREAMER_SEARCH_TRANSPORT_PORT=str(self.transport_port),
            STREAMER_SEARCH_WATCH_PID=str(os.getpid()),
        )
        return env

    def _run(self, command: str, timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SCRIPT), command, self.engine],
            env=self._env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self) -> None:
        with self._lock:
            atexit.register(self.stop)  # before the JVM exists: an interrupted start is cleaned
            self._running = True
            try:
                result = self._run("start", _START_TIMEOUT_S)
            except BaseException:
                self._stop_locked()
                raise
            if result.returncode != 0:
                self._stop_locked()
                raise SearchEngineStartError(
                    f"scripts/search-engine start {self.engine} failed (exit "
                    f"{result.returncode}); state dir {self.state_dir}\n{result.stderr}"
                )
            self.url = parse_env_lines(result.stdout)[URL_VARIABLE[self.engine]]

    def stop(self) -> None:
        """Stop the JVM and delete the state dir. Idempotent."""
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        if not self._running:
            return
        self._running = False
        atexit.unregister(self.stop)
        result = self._run("stop", _STOP_TIMEOUT_S)
        if result.returncode != 0:
            raise RuntimeError(f"scripts/search-engine stop failed:\n{result.stderr}")
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def log_tail(self, lines: int = 60) -> str:
        log = self.state_dir / "logs" / "streamer-search.log"
        try:
            return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return f"(no log at {log})"


def state_dir(engine: str) -> Path:
    """A fresh dir under the system temp dir: as root the node runs as another user, who cannot
    reach pytest's private (0700) base temp dir."""
    path = Path(tempfile.mkdtemp(prefix=f"streamer-{engine}-"))
    path.chmod(0o755)
    return path


def start_engine(engine: str, attempts: int = 3) -> SearchEngine:
    """Start a node on fresh free ports; retry if another process grabbed a port meanwhile."""
    error: SearchEngineStartError | None = None
    for _ in range(attempts):
        port, transport_port = free_ports(2)
        node = SearchEngine(engine, state_dir(engine), port, transport_port)
        try:
            node.start()
        except SearchEngineStartError as exc:
            shutil.rmtree(node.state_dir, ignore_errors=True)
            if "already in use" not in str(exc) and "BindException" not in str(exc):
                raise
            error = exc
        else:
            return node
    assert error is not None
    raise error
