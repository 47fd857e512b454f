"""One measured run of the streamer, in its own process (started by ``bench/run.py``).

Runs ``run_service`` exactly as ``streamer run --once`` (or ``--replay``/a second ``--once``
for the idle poll) does, and writes a JSON result: the sync's wall time and CPU time (from the
first API request, i.e. the team's connect, to the last stream's end; Kafka topic creation and
producer start-up are before it), events published by type, the process's peak RSS (VmHWM) and
total CPU. Optionally profiles the whole run with pyinstrument.

    python bench/child.py --config run.toml --result out.json [--profile prof.txt]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from streamer.app import RunOptions, run_service
from streamer.config import load_settings
from streamer.logs import configure_logging
from streamer.metrics import Metrics

try:
    from streamer.run_command import tune_gc
except ImportError:  # the code before the tuning (bench/baseline.json) had none

    def tune_gc() -> None:
        pass


from streamer.worker import TeamWorker


def peak_rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _sample_rss(timeline: list[tuple[float, int]], stop: threading.Event) -> None:
    """VmRSS (MB) every 0.2 s: shows whether memory grows with the states or jumps."""
    started = time.perf_counter()
    while not stop.wait(0.2):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                timeline.append(
                    (round(time.perf_counter() - started, 1), int(line.split()[1]) // 1024)
                )


def _instrument(marks: dict[str, float]) -> None:
    """Note when the sync starts (the team's first API call) and ends (its streams are done)."""
    connect, run = TeamWorker.connect, TeamWorker.run

    async def timed_connect(self: TeamWorker) -> None:
        marks.setdefault("start_wall", time.perf_counter())
        marks.setdefault("start_cpu", time.process_time())
        await connect(self)

    async def timed_run(self: TeamWorker, stop: asyncio.Event, **kw: Any) -> None:
        await run(self, stop, **kw)
        marks["end_wall"] = time.perf_counter()
        marks["end_cpu"] = time.process_time()

    TeamWorker.connect = timed_connect  # type: ignore[method-assign]
    TeamWorker.run = timed_run  # type: ignore[method-assign]


def _events(metrics: Metrics) -> dict[str, int]:
    out: dict[str, int] = {}
    for family in metrics.registry.collect():
        if family.name == "streamer_events":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    etype = sample.labels["event_type"]
                    out[etype] = out.get(etype, 0) + int(sample.value)
    return out


def _publish_latency(metrics: Metrics) -> dict[str, float]:
    """Commits (events + their state, acknowledged) and their mean duration."""
    count = total = 0.0
    for family in metrics.registry.collect():
        if family.name == "streamer_publish_latency_seconds":
            for sample in family.samples:
                if sample.name.endswith("_count"):
                    count += sample.value
                elif sample.name.endswith("_sum"):
                    total += sample.value
    return {"commits": count, "mean_s": total / count if count else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--replay", action="store_true")
    parser.add_argument("--profile", type=Path, help="write a pyinstrument text profile here")
    args = parser.parse_args()

    settings = load_settings(args.config, os.environ)
    configure_logging(level=settings.log.level, fmt=settings.log.format)
    metrics = Metrics()
    marks: dict[str, float] = {}
    _instrument(marks)
    options = RunOptions(once=not args.replay, replay=args.replay, serve_metrics=False)

    profiler = None
    if args.profile is not None:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001, async_mode="disabled")
        profiler.start()
    tune_gc()  # as `streamer run` does
    timeline: list[tuple[float, int]] = []
    sampling = threading.Event()
    threading.Thread(target=_sample_rss, args=(timeline, sampling), daemon=True).start()
    started = time.perf_counter()
    asyncio.run(run_service(settings, options, asyncio.Event(), metrics=metrics))
    service_wall = time.perf_counter() - started
    sampling.set()
    if profiler is not None:
        profiler.stop()
        args.profile.write_text(profiler.output_text(unicode=True, color=False))

    usage = resource.getrusage(resource.RUSAGE_SELF)
    events = _events(metrics)
    result = {
        "sync_wall": marks["end_wall"] - marks["start_wall"],
        "sync_cpu": marks["end_cpu"] - marks["start_cpu"],
        "service_wall": service_wall,
        "process_cpu": usage.ru_utime + usage.ru_stime,
        "peak_rss_kb": peak_rss_kb(),
        "events": sum(events.values()),
        "events_by_type": events,
        "rss_mb_timeline": timeline,
        "publish": _publish_latency(metrics),
    }
    args.result.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
