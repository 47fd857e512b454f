"""HTTP endpoints for operators: ``/metrics`` (Prometheus), ``/healthz``, ``/readyz``.

``/healthz`` answers 200 while the process is alive. ``/readyz`` answers 200 only when every
team holds a valid access token, the Kafka producer is connected, and every enabled stream
finished a cycle within three poll intervals (or has not had time to yet); otherwise 503 with
a JSON body naming what is not ready.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streamer.clock import Clock
from streamer.config import STREAM_NAMES, Settings
from streamer.metrics import Metrics

if TYPE_CHECKING:
    from streamer.worker import TeamWorker

STALE_FACTOR = 3


class HealthServer:
    def __init__(
        self, settings: Settings, metrics: Metrics, workers: list[TeamWorker], clock: Clock
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._workers = workers
        self._clock = clock
        self._started = clock.now().timestamp()
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics_page)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._settings.metrics.host, self._settings.metrics.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self._settings.metrics.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _metrics_page(self, _: web.Request) -> web.Response:
        self._metrics.refresh_ages(self._clock.now().timestamp())
        body = generate_latest(self._metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, _: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _readyz(self, _: web.Request) -> web.Response:
        problems = self.problems()
        status = 503 if problems else 200
        body: dict[str, Any] = {"ready": not problems, "problems": problems}
        return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")

    def problems(self) -> list[str]:
        now = self._clock.now().timestamp()
        problems = []
        for worker in self._workers:
            if not worker.publisher_connected():
                problems.append(f"{worker.name}: Kafka producer not connected")
            if not worker.tokens.valid:
                refused = worker.tokens.failure
                problems.append(
                    f"{worker.name}: Dropbox refused the credentials ({refused})"
                    if refused is not None
                    else f"{worker.name}: no valid access token"
                )
            for stream in STREAM_NAMES:
                cfg = self._settings.streams.get(stream)
                if not cfg.enabled or stream in worker.disabled:
                    continue
                limit = STALE_FACTOR * cfg.poll_interval
                last = worker.last_success.get(stream, self._started)
                if now - last > limit:
                    age = f"{now - last:.0f} s"
                    problems.append(f"{worker.name}/{stream}: no successful cycle for {age}")
        return problems
