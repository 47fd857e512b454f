"""Fixtures of the fault-injection suite: a simulator that outlives the workers it serves, and
the recorder behind docs/reliability.md.

Set ``STREAMER_RELIABILITY_RESULTS=<file>`` and every scenario that passes appends one JSON line
(scenario, runs, events expected / delivered / duplicated, the command that reproduces it);
``scripts/reliability`` runs the suite that way and renders the table.
"""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from streamer.clock import Clock
from streamer.simulator import SimulatorConfig, SimulatorServer

RESULTS_ENV = "STREAMER_RELIABILITY_RESULTS"
REPO = Path(__file__).resolve().parents[2]

ResponseHook = Callable[[web.Request, web.StreamResponse], None]


class Simulator:
    """An in-process simulator (this test's event loop serves it) plus a hook that sees every
    API response as it is sent: ``sim.on_response = fn(request, response)``."""

    def __init__(self, server: SimulatorServer) -> None:
        self.server = server
        self.on_response: ResponseHook | None = None
        server.app.on_response_prepare.append(self._hook)

    async def _hook(self, request: web.Request, response: web.StreamResponse) -> None:
        if self.on_response is not None and request.path.startswith(("/2/", "/oauth2/")):
            self.on_response(request, response)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.server, name)


@asynccontextmanager
async def running(config: SimulatorConfig, clock: Clock | None = None) -> AsyncIterator[Simulator]:
    sim = Simulator(SimulatorServer(config, clock=clock))
    async with sim.server.running(host="127.0.0.1", port=0, ssl_context=None):
        yield sim


@dataclass
class Reliability:
    """Collects one result line per scenario; written only if the test passes."""

    nodeid: str
    lines: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def record(
        self,
        scenario: str,
        *,
        runs: int = 1,
        expected: int | None = None,
        delivered: int | None = None,
        duplicated: int | None = None,
        kills: int = 0,
        note: str = "",
        command: str | None = None,
        kind: str = "delivery",
    ) -> None:
        """One result. Lines with the same ``scenario`` are added up in the table (runs,
        events, kills); ``command`` reproduces them (default: this very test); ``kind``:
        "delivery" (events counted) or "input" (a bad-input case: exit code and message)."""
        self.lines.append(
            {
                "scenario": scenario,
                "kind": kind,
                "runs": runs,
                "expected": expected,
                "delivered": delivered,
                "duplicated": duplicated,
                "kills": kills,
                "note": note,
                "seconds": round(time.monotonic() - self.started, 1),
                "command": command or f".venv/bin/pytest {shlex.quote(self.nodeid)}",
            }
        )


@pytest.fixture
def reliability(request: pytest.FixtureRequest) -> Iterator[Reliability]:
    recorder = Reliability(request.node.nodeid)
    yield recorder
    target = os.environ.get(RESULTS_ENV)
    report = getattr(request.node, "rep_call", None)
    if target and recorder.lines and report is not None and report.passed:
        with Path(target).open("ab") as out:
            for line in recorder.lines:
                out.write(orjson.dumps(line) + b"\n")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report
