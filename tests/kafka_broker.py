"""A real single-node Kafka broker for the test session, driven through ``scripts/kafka``.

The script does the work (fetch the jars, make the test CA and certificates, format KRaft
storage with the SCRAM test user, start the JVM, wait until the client listeners answer); this
module only picks free ports and a private state dir, runs it, parses what it prints
(``KafkaSasl``, ``KafkaTls``) and makes sure the JVM goes away again: ``stop()`` from the
fixture finalizer, an ``atexit`` hook as a second line, and a watchdog in the script
(``STREAMER_KAFKA_WATCH_PID``) for when this process is killed outright.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import re
import socket
import subprocess
import threading
import time
import uuid
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, for_code

REPO_ROOT = Path(__file__).resolve().parent.parent
KAFKA_SCRIPT = REPO_ROOT / "scripts" / "kafka"

# generous: the first run may have to fetch ~50 MB of jars with Maven
_START_TIMEOUT_S = 600.0
_STOP_TIMEOUT_S = 60.0


class KafkaSasl(NamedTuple):
    """Where and how to reach the broker's SASL_PLAINTEXT listener."""

    bootstrap_servers: str
    username: str
    password: str
    mechanisms: tuple[str, ...]


class KafkaTls(NamedTuple):
    """The broker's TLS listeners and the files to reach them (``scripts/kafka`` made them)."""

    ssl: str  # bootstrap servers: TLS, server authentication only
    mtls: str  # TLS, client certificate required
    sasl_ssl: str  # SASL over TLS: PLAIN, SCRAM-SHA-256/512 (KafkaSasl's user), OAUTHBEARER
    expired: str  # TLS with an expired server certificate
    wrong_host: str  # TLS with a certificate for kafka.wrong-host.invalid
    cafile: Path  # the CA every broker certificate (and the client's) was signed by
    client_certfile: Path
    client_keyfile: Path
    oauth_signing_key: Path  # the key the SASL_SSL listener's JWKS trusts (ES256)
    oauth_key_id: str


class KafkaStartError(RuntimeError):
    """``scripts/kafka start`` failed; the message carries its output."""


def parse_env_lines(text: str) -> dict[str, str]:
    """Parse the ``KEY=VALUE`` lines that ``scripts/kafka start|status`` print on stdout."""
    env: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key.isidentifier():
            env[key] = value
    return env


def sasl_from_env(env: Mapping[str, str]) -> KafkaSasl | None:
    """The SASL listener described by ``KAFKA_SASL_*`` variables, if they are all there."""
    try:
        return KafkaSasl(
            bootstrap_servers=env["KAFKA_SASL_BOOTSTRAP_SERVERS"],
            username=env["KAFKA_SASL_USERNAME"],
            password=env["KAFKA_SASL_PASSWORD"],
            mechanisms=tuple(m for m in env["KAFKA_SASL_MECHANISMS"].split(",") if m),
        )
    except KeyError:
        return None


def tls_from_env(env: Mapping[str, str]) -> KafkaTls | None:
    """The TLS listeners described by ``KAFKA_*SSL*`` and ``KAFKA_OAUTH_*`` variables, if all
    are there."""
    try:
        return KafkaTls(
            ssl=env["KAFKA_SSL_BOOTSTRAP_SERVERS"],
            mtls=env["KAFKA_MTLS_BOOTSTRAP_SERVERS"],
            sasl_ssl=env["KAFKA_SASL_SSL_BOOTSTRAP_SERVERS"],
            expired=env["KAFKA_SSL_EXPIRED_BOOTSTRAP_SERVERS"],
            wrong_host=env["KAFKA_SSL_WRONG_HOST_BOOTSTRAP_SERVERS"],
            cafile=Path(env["KAFKA_SSL_CAFILE"]),
            client_certfile=Path(env["KAFKA_SSL_CLIENT_CERTFILE"]),
            client_keyfile=Path(env["KAFKA_SSL_CLIENT_KEYFILE"]),
            oauth_signing_key=Path(env["KAFKA_OAUTH_SIGNING_KEY"]),
            oauth_key_id=env["KAFKA_OAUTH_KEY_ID"],
        )
    except KeyError:
        return None


# every port scripts/kafka listens on, by the variable that moves it
_LISTENERS = ("", "_SASL", "_CONTROLLER", "_SSL", "_MTLS", "_SASL_SSL", "_EXPIRED", "_WRONG_HOST")
PORT_VARIABLES = tuple(f"STREAMER_KAFKA{name}_PORT" for name in _LISTENERS)


def free_port_env() -> dict[str, str]:
    """``STREAMER_KAFKA*_PORT`` variables for a ``scripts/kafka`` on free loopback ports."""
    return dict(zip(PORT_VARIABLES, map(str, free_ports(len(PORT_VARIABLES))), strict=True))


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports that were free a moment ago."""
    with contextlib.ExitStack() as stack:
        sockets = [
            stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            for _ in range(count)
        ]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


@dataclass
class KafkaBroker:
    """One ``scripts/kafka`` instance with its own state dir and ports."""

    state_dir: Path
    ports: dict[str, str]  # STREAMER_KAFKA*_PORT variables (free_port_env)
    bootstrap_servers: str = ""
    sasl: KafkaSasl | None = None
    tls: KafkaTls | None = None
    _running: bool = field(default=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def log_file(self) -> Path:
        return self.state_dir / "logs" / "server.log"

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            self.ports,
            STREAMER_KAFKA_HOME=str(self.state_dir),
            STREAMER_KAFKA_WATCH_PID=str(os.getpid()),
        )
        return env

    def _run(self, command: str, timeout: float, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(KAFKA_SCRIPT), command, *args],
            env=self._env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, *, keep_data: bool = False) -> None:
        """Start the JVM; ``keep_data``: on the data a ``stop(keep_data=True)`` kept (same
        ports, topics, offsets and transactions: the end of a broker outage)."""
        with self._lock:
            # registered before the JVM exists, so even an interrupted start is cleaned up
            atexit.register(self.stop)
            self._running = True
            try:
                result = self._run("start", _START_TIMEOUT_S, *self._keep(keep_data))
            except BaseException:
                self._stop_locked()
                raise
            if result.returncode != 0:
                self._stop_locked()
                raise KafkaStartError(
                    f"scripts/kafka start failed (exit {result.returncode}); "
                    f"state dir {self.state_dir}\n{result.stderr}"
                )
            env = parse_env_lines(result.stdout)
            self.bootstrap_servers = env["KAFKA_BOOTSTRAP_SERVERS"]
            self.sasl = sasl_from_env(env)
            self.tls = tls_from_env(env)

    def stop(self, *, keep_data: bool = False) -> None:
        """Stop the JVM (SIGTERM, SIGKILL after a deadline). Idempotent. The data is deleted
        unless ``keep_data`` (then ``start(keep_data=True)`` brings the same broker back)."""
        with self._lock:
            self._stop_locked(keep_data)

    @staticmethod
    def _keep(keep_data: bool) -> tuple[str, ...]:
        return ("--keep-data",) if keep_data else ()

    def _stop_locked(self, keep_data: bool = False) -> None:
        if not self._running:
            return
        self._running = False
        atexit.unregister(self.stop)
        result = self._run("stop", _STOP_TIMEOUT_S, *self._keep(keep_data))
        if result.returncode != 0:
            raise RuntimeError(f"scripts/kafka stop failed:\n{result.stderr}")


def start_broker(state_dir: Path, attempts: int = 3) -> KafkaBroker:
    """Start a broker on fresh free ports; retry if another process grabbed a port meanwhile."""
    error: KafkaStartError | None = None
    for _ in range(attempts):
        broker = KafkaBroker(state_dir, free_port_env())
        try:
            broker.start()
        except KafkaStartError as exc:
            if "already in use" not in str(exc) and "Address already in use" not in str(exc):
                raise
            error = exc
        else:
            return broker
    assert error is not None
    raise error


# --- helpers for tests ---------------------------------------------------------------------------


class KafkaTopicFactory:
    """Creates uniquely named topics (``<prefix>-<random>``) and deletes them again at the end.

    ``await factory(partitions=3, config={"cleanup.policy": "compact"})`` returns the name once
    the topic exists and every partition has a leader, so producers and consumers can use it
    right away (the broker has ``auto.create.topics.enable=false``).
    """

    def __init__(self, admin: AIOKafkaAdminClient, prefix: str, timeout: float = 30.0) -> None:
        self._admin = admin
        self._prefix = re.sub(r"[^a-zA-Z0-9._-]+", "-", prefix).strip("-")[:100] or "test"
        self._timeout = timeout
        self.created: list[str] = []

    async def __call__(
        self, partitions: int = 1, *, config: Mapping[str, str] | None = None
    ) -> str:
        name = f"{self._prefix}-{uuid.uuid4().hex[:10]}"
        response = await self._admin.create_topics(
            [NewTopic(name, partitions, 1, topic_configs=dict(config or {}))]
        )
        for topic, code, *message in response.topic_errors:
            if code:
                raise for_code(code)(f"creating topic {topic}: {message}")
        self.created.append(name)
        await self._wait_for_leaders(name, partitions)
        return name

    async def _wait_for_leaders(self, name: str, partitions: int) -> None:
        deadline = time.monotonic() + self._timeout
        while True:
            (described,) = await self._admin.describe_topics([name])
            leaders = [p["leader"] for p in described["partitions"] if p["error_code"] == 0]
            complete = described["error_code"] == 0 and len(leaders) == partitions
            if complete and all(leader >= 0 for leader in leaders):
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"topic {name} has no leaders after {self._timeout}s: {described}"
                )
            await asyncio.sleep(0.05)

    async def delete_all(self) -> None:
        """Best effort: a failed delete is a warning, never a test failure."""
        if not self.created:
            return
        try:
            await self._admin.delete_topics(self.created)
        except (KafkaError, OSError, TimeoutError) as exc:
            warnings.warn(f"could not delete test topics {self.created}: {exc!r}", stacklevel=1)
        self.created.clear()


async def consume_exactly(
    consumer: AIOKafkaConsumer, count: int, within: float = 30.0
) -> list[Any]:
    """Fetch records until ``count`` arrived or ``within`` seconds passed; return what arrived.

    Returns early only once ``count`` records are in; then it makes one more short fetch so an
    unexpected extra record shows up too. Callers assert on the exact list, so "too few within
    the deadline" and "too many" both fail with the records in the assertion message.
    """
    records: list[Any] = []
    deadline = time.monotonic() + within
    while len(records) < count:
        remaining_ms = int((deadline - time.monotonic()) * 1000)
        if remaining_ms <= 0:
            return records
        batch = await consumer.getmany(timeout_ms=min(remaining_ms, 1000))
        for partition_records in batch.values():
            records.extend(partition_records)
    batch = await consumer.getmany(timeout_ms=200)
    for partition_records in batch.values():
        records.extend(partition_records)
    return records
