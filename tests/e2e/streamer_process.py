"""Run ``streamer`` as an operator does, a subprocess, and keep everything it prints.

The simulator runs in the test's own event loop, so it keeps answering while the test awaits
the subprocess; output is read as it comes, so a test can wait for a line (e.g. the metrics
port) while the process runs on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from streamer.config import STREAM_NAMES

STREAMER = [sys.executable, "-m", "streamer.cli"]
DEADLINE = 60.0


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_toml(path: Path, tables: Mapping[str, Mapping[str, Any]]) -> Path:
    """A TOML file from ``{"teams.acme": {"app_key": "k"}, "kafka": {...}}``."""
    lines = []
    for table, values in tables.items():
        lines.append(f"[{table}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def streamer_config(
    path: Path, sim_url: str, kafka: Mapping[str, Any], **extra: Any
) -> dict[str, str]:
    """A config for one team on the simulator (its default credentials) and ``[kafka]`` from
    ``kafka`` and ``extra``, with fresh topic names, test-sized timeouts and no metrics
    server. Returns the topics by stream (and ``state``)."""
    prefix = f"e2e{uuid.uuid4().hex[:8]}"
    topics = {name: f"{prefix}.{name}" for name in (*STREAM_NAMES, "state")}
    write_toml(
        path,
        {
            "teams.acme": {
                "app_key": "sim-app-key",
                "app_secret": "sim-app-secret",
                "refresh_token": "sim-refresh-token",
                "api_url": sim_url,
                "token_url": f"{sim_url}/oauth2/token",
            },
            "kafka": {
                "client_id": prefix,
                "partitions": 1,
                "outage_limit": 20,
                "request_timeout": 10,
                **kafka,
                **extra,
            },
            "kafka.topics": topics,
            "metrics": {"enabled": False},
        },
    )
    return topics


@dataclass
class StreamerProcess:
    proc: asyncio.subprocess.Process
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    _readers: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    async def start(cls, *args: str, env: Mapping[str, str]) -> StreamerProcess:
        proc = await asyncio.create_subprocess_exec(
            *STREAMER,
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
        )
        running = cls(proc)
        assert proc.stdout is not None
        assert proc.stderr is not None
        running._readers = [
            asyncio.create_task(_read(proc.stdout, running.stdout)),
            asyncio.create_task(_read(proc.stderr, running.stderr)),
        ]
        return running

    @property
    def output(self) -> str:
        return "".join(self.stdout) + "".join(self.stderr)

    def log_lines(self, start: int = 0, end: int | None = None) -> list[dict[str, Any]]:
        """stderr lines ``[start:end]`` that are JSON log records."""
        records = []
        for line in self.stderr[start:end]:
            with contextlib.suppress(orjson.JSONDecodeError):
                record = orjson.loads(line)
                if isinstance(record, dict):
                    records.append(record)
        return records

    async def wait_for_log(self, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + DEADLINE
        seen = 0
        while True:
            end = len(self.stderr)
            for record in self.log_lines(seen, end):
                if check(record):
                    return record
            seen = end
            if self.proc.returncode is not None:
                raise AssertionError(f"streamer exited {self.proc.returncode}:\n{self.output}")
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no such log line within {DEADLINE} s:\n{self.output}")
            await asyncio.sleep(0.05)

    async def wait(self) -> int:
        code = await asyncio.wait_for(self.proc.wait(), DEADLINE)
        await asyncio.gather(*self._readers)
        return code

    async def terminate(self) -> int:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        return await self.wait()

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()
        for reader in self._readers:
            reader.cancel()


async def _read(stream: asyncio.StreamReader, into: list[str]) -> None:
    # chunks, not readline(): a line longer than the reader's limit must not stop the reading
    # (an undrained pipe would block the child)
    pending = b""
    while chunk := await stream.read(1 << 16):
        *lines, pending = (pending + chunk).split(b"\n")
        into.extend(line.decode("utf-8", errors="replace") + "\n" for line in lines)
    if pending:
        into.append(pending.decode("utf-8", errors="replace"))


async def run_streamer(*args: str, env: Mapping[str, str]) -> StreamerProcess:
    """Run to completion; the returncode is in ``.proc.returncode``."""
    process = await StreamerProcess.start(*args, env=env)
    try:
        await process.wait()
    finally:
        await process.kill()
    return process
