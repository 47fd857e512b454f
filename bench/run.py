"""The benchmark: simulator + real Kafka + streamer on loopback, one command, one report.

    .venv/bin/python bench/run.py            # full matrix (1k/10k/100k x 0/50 ms x no/with limit)
    .venv/bin/python bench/run.py --quick    # 1k and 10k, fewer SDK runs
    .venv/bin/python bench/run.py --profile  # also a pyinstrument profile of 10k @ 0 ms

Each team size gets its own simulator process (``streamer simulate`` over TLS, seeded, its
clock starting today so the audit log's last 7 days are real recent history); each case sets
latency / rate limit on it through ``/admin/faults``, zeroes its counters and runs the streamer
in its own process (``bench/child.py``) against fresh topics, i.e. a full sync from no state.
The official-SDK reference script (``bench/sdk_reference.py``) runs against the same simulator.
Writes ``bench/report.json`` and ``bench/report.md`` (see ``bench/README.md`` for the columns).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PYTHON = sys.executable
STREAMER = str(Path(PYTHON).with_name("streamer"))
SIZES = {"1k": 1_000, "10k": 10_000, "100k": 100_000}
SEED = 7
AUDIT_DAYS = 7
MEMBERS_PAGE = 1000  # list_v2 limit the streamer asks for
AUDIT_PAGE = 1000  # get_events limit the streamer asks for
DEVICES_PAGE = APPS_PAGE = 100  # the simulator's default page sizes (members per page)


# --- the matrix -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    size: str
    latency_ms: int
    rate_limit: float  # requests/s per team; 0 = none

    @property
    def name(self) -> str:
        limit = f"{self.rate_limit:g} rps" if self.rate_limit else "no limit"
        return f"{self.size} · {self.latency_ms} ms · {limit}"


def matrix(sizes: list[str], latencies: list[int], rate: float, which: str) -> list[Case]:
    limits = {"both": (0.0, rate), "no": (0.0,), "yes": (rate,)}[which]
    return [
        Case(size, latency, limit) for size in sizes for latency in latencies for limit in limits
    ]


# --- processes --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_measured(cmd: list[str], env: dict[str, str], log: Path) -> tuple[int, dict[str, float]]:
    """Run a child to completion; its own CPU time and peak RSS, apart from everything else."""
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, {
        "cpu": usage.ru_utime + usage.ru_stime,
        "maxrss_kb": float(usage.ru_maxrss),
    }


class Broker:
    """Our own Kafka (scripts/kafka on free ports) unless --bootstrap names one."""

    def __init__(self, work: Path, bootstrap: str | None) -> None:
        self.bootstrap = bootstrap or ""
        self._env: dict[str, str] | None = None
        if bootstrap is None:
            self._env = {
                **os.environ,
                "STREAMER_KAFKA_HOME": str(work / "kafka"),
                "STREAMER_KAFKA_PORT": str(free_port()),
                "STREAMER_KAFKA_SASL_PORT": str(free_port()),
                "STREAMER_KAFKA_CONTROLLER_PORT": str(free_port()),
                "STREAMER_KAFKA_WATCH_PID": str(os.getpid()),
            }

    def __enter__(self) -> Broker:
        if self._env is not None:
            out = subprocess.run(
                [str(REPO / "scripts" / "kafka"), "start"],
                env=self._env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
            self.bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
        return self

    def __exit__(self, *exc: object) -> None:
        if self._env is not None:
            subprocess.run(
                [str(REPO / "scripts" / "kafka"), "stop"], env=self._env, capture_output=True
            )

    def delete_topics(self, prefix: str) -> None:
        async def delete() -> None:
            from aiokafka.admin import AIOKafkaAdminClient

            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
            await admin.start()
            try:
                names = [t for t in await admin.list_topics() if t.startswith(prefix + ".")]
                if names:
                    await admin.delete_topics(names)
            finally:
                await admin.close()

        with contextlib.suppress(Exception):
            asyncio.run(delete())

    def create_topics(self, prefix: str, streams: list[str]) -> None:
        async def create() -> None:
            from aiokafka.admin import AIOKafkaAdminClient, NewTopic

            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
            await admin.start()
            try:
                await admin.create_topics(
                    [
                        NewTopic(f"{prefix}.{s}", num_partitions=6, replication_factor=1)
                        for s in streams
                    ]
                )
            finally:
                await admin.close()

        asyncio.run(create())


@dataclass
class Certs:
    ca: Path
    cert: Path
    key: Path

    @classmethod
    def make(cls, work: Path) -> Certs:
        import trustme

        ca = trustme.CA()
        server = ca.issue_cert("127.0.0.1", "localhost")
        paths = cls(work / "ca.pem", work / "server.pem", work / "server.key")
        ca.cert_pem.write_to_path(str(paths.ca))
        server.cert_chain_pems[0].write_to_path(str(paths.cert))
        server.private_key_pem.write_to_path(str(paths.key))
        return paths


class Simulator:
    """``streamer simulate`` in its own process (it uses ~1 GB at 100k members)."""

    def __init__(self, members: int, certs: Certs, work: Path, start: datetime) -> None:
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.admin = f"https://127.0.0.1:{self.port}/admin"
        self._ssl = __import__("ssl").create_default_context(cafile=str(certs.ca))
        self._log = (work / f"sim-{members}.log").open("wb")
        self._cmd = [
            STREAMER,
            "simulate",
            f"--members={members}",
            f"--seed={SEED}",
            f"--start={start:%Y-%m-%dT%H:%M:%S}",
            f"--audit-days={AUDIT_DAYS}",
            f"--port={self.port}",
            f"--tls-cert={certs.cert}",
            f"--tls-key={certs.key}",
        ]
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Simulator:
        self._proc = subprocess.Popen(self._cmd, stdout=subprocess.PIPE, stderr=self._log)
        assert self._proc.stdout is not None
        for raw in self._proc.stdout:
            if raw.startswith(b"caches warm"):
                break
        else:
            raise RuntimeError(f"simulator exited: see {self._log.name}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(30)
        self._log.close()

    def call(self, path: str, body: Any = None) -> Any:
        data = None if body is None else orjson.dumps(body)
        request = urllib.request.Request(
            f"{self.admin}/{path}", data=data, method="POST" if data is not None else "GET"
        )
        with urllib.request.urlopen(request, context=self._ssl, timeout=120) as response:
            return orjson.loads(response.read())

    def configure(self, latency_ms: float, rate_limit: float) -> None:
        self.call("faults", {"latency_ms": latency_ms, "rate_limit_rps": rate_limit, "burst": 0})
        self.call("counters/reset", {})


# --- what a full sync needs at least ------------------------------------------------------------


@dataclass
class Minimum:
    """Pages each listing needs, from the simulator's ground truth."""

    members: int
    devices: int
    apps: int
    audit: int
    team: int = 2  # get_info + features/get_values

    @classmethod
    def of(cls, truth: dict[str, Any]) -> Minimum:
        with_devices = len({entry["member_id"] for entry in truth["sessions"].values()})
        with_apps = len({entry["member_id"] for entry in truth["apps"].values()})
        return cls(
            members=max(1, math.ceil(len(truth["members"]) / MEMBERS_PAGE)),
            devices=max(1, math.ceil(with_devices / DEVICES_PAGE)),
            apps=max(1, math.ceil(with_apps / APPS_PAGE)),
            audit=max(1, math.ceil(int(truth["audit_events"]) / AUDIT_PAGE) + 0),
        )

    @property
    def requests(self) -> int:
        return self.members + self.devices + self.apps + self.audit + self.team

    @property
    def chain(self) -> int:
        """The longest sequential cursor chain (the streams run concurrently)."""
        return max(self.members, self.devices, self.apps, self.audit)

    def bound(self, latency_ms: float, rate_limit: float) -> float:
        by_latency = self.chain * latency_ms / 1000
        by_rate = self.requests / rate_limit if rate_limit else 0.0
        return max(by_latency, by_rate)


# --- one case -----------------------------------------------------------------------------------


def streamer_config(path: Path, sim: Simulator, certs: Certs, bootstrap: str, prefix: str) -> None:
    topics = "\n".join(
        f'{s} = "{prefix}.{s}"' for s in ("team", "members", "sessions", "apps", "audit", "state")
    )
    path.write_text(
        f"""[teams.acme]
app_key = "sim-app-key"
app_secret = "sim-app-secret"
refresh_token = "sim-refresh-token"
api_url = "{sim.url}"
token_url = "{sim.url}/oauth2/token"
ca_file = "{certs.ca}"

[kafka]
bootstrap_servers = "{bootstrap}"

[kafka.topics]
{topics}

[streams.audit]
lookback = {(AUDIT_DAYS + 1) * 86400}

[metrics]
enabled = false

[log]
level = "INFO"
format = "json"
"""
    )


def prepare_topics(config: Path) -> None:
    """Create the run's topics as the streamer would, and give the broker a moment to elect
    their leaders: a deployment's topics exist already, so the sync is measured without the
    first-produce metadata retries of brand-new topics."""
    from streamer.config import STREAM_NAMES, load_settings
    from streamer.kafka.topics import ensure_topics

    settings = load_settings(config, {})
    asyncio.run(ensure_topics(settings.kafka, list(STREAM_NAMES)))
    time.sleep(1.0)


def api_counts(counters: dict[str, dict[str, int]]) -> dict[str, int]:
    api = {r: c for r, c in counters.items() if not r.startswith("oauth2/")}
    return {
        "requests": sum(sum(c.values()) for c in api.values()),
        "ok": sum(c.get("200", 0) for c in api.values()),
        "rate_limited": sum(c.get("429", 0) for c in api.values()),
    }


@dataclass
class Result:
    case: Case
    kind: str  # "streamer" | "sdk" | "idle"
    sync_wall: float
    sync_cpu: float
    process_cpu: float
    peak_rss_mb: float
    events: int
    requests: int
    ok: int
    rate_limited: int
    min_requests: int
    chain: int
    lower_bound: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def events_per_s(self) -> float:
        return self.events / self.sync_wall if self.sync_wall else 0.0

    @property
    def cpu_per_1k(self) -> float:
        return self.sync_cpu / self.events * 1000 if self.events else 0.0

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["case"] = {**asdict(self.case), "name": self.case.name}
        out["events_per_s"] = self.events_per_s
        out["cpu_per_1k_events"] = self.cpu_per_1k
        return out


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path, broker: Broker, certs: Certs) -> None:
        self.args = args
        self.work = work
        self.broker = broker
        self.certs = certs
        self.results: list[Result] = []

    def streamer(
        self, case: Case, sim: Simulator, minimum: Minimum, *, profile: Path | None = None
    ) -> Result:
        """A full sync from no state, ``repeat`` times (fresh topics each); the median run."""
        runs = []
        repeat = 1 if profile is not None else self.args.repeat.get(case.size, 1)
        for i in range(repeat):
            prefix = f"b{uuid.uuid4().hex[:8]}"
            config = self.work / f"{prefix}.toml"
            streamer_config(config, sim, self.certs, self.broker.bootstrap, prefix)
            prepare_topics(config)
            sim.call("counters/reset", {})
            runs.append(self._child(case, sim, minimum, config, "streamer", profile))
            if i == 0 and case.latency_ms == 0 and not case.rate_limit and profile is None:
                # idle poll: the same team again, state restored from Kafka, nothing changed
                sim.call("counters/reset", {})
                self.results.append(self._child(case, sim, minimum, config, "idle", None))
            self.broker.delete_topics(prefix)
            time.sleep(1.0)  # let the broker finish deleting; the rate limiter's bucket refill
        runs.sort(key=lambda r: r.sync_wall)
        median = runs[len(runs) // 2]
        median.extra["walls"] = [round(r.sync_wall, 3) for r in runs]
        return median

    def _child(
        self,
        case: Case,
        sim: Simulator,
        minimum: Minimum,
        config: Path,
        kind: str,
        profile: Path | None,
    ) -> Result:
        result_file = config.with_suffix(f".{kind}.json")
        cmd = [
            PYTHON,
            str(BENCH / "child.py"),
            "--config",
            str(config),
            "--result",
            str(result_file),
        ]
        if profile is not None:
            cmd += ["--profile", str(profile)]
        code, usage = run_measured(cmd, dict(os.environ), config.with_suffix(f".{kind}.log"))
        if code != 0:
            raise RuntimeError(
                f"streamer failed ({case.name}): see {config.with_suffix(f'.{kind}.log')}"
            )
        data = orjson.loads(result_file.read_bytes())
        counts = api_counts(sim.call("counters"))
        return Result(
            case=case,
            kind=kind,
            sync_wall=data["sync_wall"],
            sync_cpu=data["sync_cpu"],
            process_cpu=usage["cpu"],
            peak_rss_mb=data["peak_rss_kb"] / 1024,
            events=data["events"],
            min_requests=minimum.requests,
            chain=minimum.chain,
            lower_bound=minimum.bound(case.latency_ms, case.rate_limit),
            extra={"events_by_type": data["events_by_type"], "rss_mb": data["rss_mb_timeline"]},
            requests=counts["requests"],
            ok=counts["ok"],
            rate_limited=counts["rate_limited"],
        )

    def sdk(self, case: Case, sim: Simulator, minimum: Minimum, since: datetime) -> Result:
        prefix = f"s{uuid.uuid4().hex[:8]}"
        self.broker.create_topics(prefix, ["team", "members", "sessions", "apps", "audit"])
        result_file = self.work / f"{prefix}.sdk.json"
        env = {
            **os.environ,
            "DROPBOX_API_HOST": f"127.0.0.1:{sim.port}",
            "REQUESTS_CA_BUNDLE": str(self.certs.ca),
            "CURL_CA_BUNDLE": str(self.certs.ca),
            "NO_PROXY": "127.0.0.1,localhost",
        }
        cmd = [
            PYTHON,
            str(BENCH / "sdk_reference.py"),
            f"--bootstrap={self.broker.bootstrap}",
            f"--prefix={prefix}",
            f"--since={since:%Y-%m-%dT%H:%M:%SZ}",
            f"--result={result_file}",
        ]
        code, usage = run_measured(cmd, env, self.work / f"{prefix}.sdk.log")
        if code != 0:
            raise RuntimeError(f"SDK script failed ({case.name}): see {prefix}.sdk.log")
        data = orjson.loads(result_file.read_bytes())
        counts = api_counts(sim.call("counters"))
        self.broker.delete_topics(prefix)
        return Result(
            case=case,
            kind="sdk",
            sync_wall=data["sync_wall"],
            sync_cpu=data["sync_cpu"],
            process_cpu=usage["cpu"],
            peak_rss_mb=data["peak_rss_kb"] / 1024,
            events=data["records"],
            min_requests=minimum.requests,
            chain=minimum.chain,
            lower_bound=minimum.bound(case.latency_ms, case.rate_limit),
            requests=counts["requests"],
            ok=counts["ok"],
            rate_limited=counts["rate_limited"],
        )

    def run(self) -> None:
        args = self.args
        start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        since = start - timedelta(days=AUDIT_DAYS + 1)
        for size in args.sizes:
            log(f"simulator: {size} members")
            with Simulator(SIZES[size], self.certs, self.work, start) as sim:
                minimum = Minimum.of(sim.call("truth"))  # ~1 GB of JSON at 100k: not kept
                need = f"{minimum.requests} requests, chain {minimum.chain}"
                log(f"  minimum {asdict(minimum)}: {need}")
                for case in matrix([size], args.latencies, args.rate_limit, args.rate_limited):
                    sim.configure(case.latency_ms, case.rate_limit)
                    result = self.streamer(case, sim, minimum)
                    self.results.append(result)
                    log(f"  {case.name}: {summary(result)}")
                    if (size, case.latency_ms, case.rate_limit) in args.sdk_cases and args.sdk:
                        sim.configure(case.latency_ms, case.rate_limit)
                        ref = self.sdk(case, sim, minimum, since)
                        self.results.append(ref)
                        log(f"  {case.name} SDK: {summary(ref)}")
                if args.profile and size == "10k":
                    case = Case(size, 0, 0.0)
                    sim.configure(0, 0)
                    self.streamer(case, sim, minimum, profile=args.profile_out)
                    log("  profile written to bench/profile.txt")


def summary(r: Result) -> str:
    return (
        f"{r.sync_wall:.2f} s (bound {r.lower_bound:.2f}), {r.events} events, "
        f"{r.events_per_s:,.0f}/s, {r.cpu_per_1k * 1000:.0f} ms CPU/1k, {r.peak_rss_mb:.0f} MB, "
        f"{r.requests} req ({r.min_requests} min), {r.rate_limited} x 429"
    )


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- report -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1k and 10k only")
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES))
    parser.add_argument(
        "--rate-limit", type=float, default=20.0, help="R for the rate-limited cases"
    )
    parser.add_argument(
        "--profile", action="store_true", help="profile 10k @ 0 ms with pyinstrument"
    )
    parser.add_argument("--profile-out", type=Path, default=BENCH / "profile.txt")
    parser.add_argument("--bootstrap", help="use this Kafka instead of starting one")
    parser.add_argument("--out", type=Path, default=BENCH / "report", help="report path stem")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--latencies", type=int, nargs="+", help="ms (default: 0 50)")
    parser.add_argument("--rate-limited", choices=["both", "no", "yes"], default="both")
    parser.add_argument("--no-sdk", dest="sdk", action="store_false", help="skip the SDK runs")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per 1k/10k case (the median is reported)"
    )
    args = parser.parse_args()
    args.repeat = {"1k": args.repeat, "10k": args.repeat, "100k": 1}
    args.sizes = args.sizes or (["1k", "10k"] if args.quick else list(SIZES))
    args.latencies = args.latencies or [0, 50]
    sdk_cases = {
        ("1k", 0, 0.0),
        ("1k", 50, 0.0),
        ("10k", 0, 0.0),
        ("10k", 50, 0.0),
        ("10k", 50, args.rate_limit),
    }
    if not args.quick:
        sdk_cases |= {("100k", 0, 0.0)}
    args.sdk_cases = sdk_cases

    command = "python bench/run.py " + " ".join(sys.argv[1:])
    commit = git_describe()  # before the run rewrites its own report files
    started = time.time()
    work = Path(tempfile.mkdtemp(prefix="streamer-bench-"))
    try:
        certs = Certs.make(work)
        with Broker(work, args.bootstrap) as broker:
            log(f"kafka at {broker.bootstrap}; work dir {work}")
            bench = Bench(args, work, broker, certs)
            bench.run()
    finally:
        if not args.keep:
            subprocess.run(["rm", "-rf", str(work)], check=False)
    from render import write_report  # bench/render.py

    write_report(
        args.out,
        [r.to_json() for r in bench.results],
        command=command.strip(),
        meta={
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "duration_s": round(time.time() - started),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}",
            "rate_limit": args.rate_limit,
            "git": commit,
        },
    )
    log(f"report: {args.out}.md / .json ({time.time() - started:.0f} s)")


def git_describe() -> str:
    out = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True
    )
    return out.stdout.strip()


if __name__ == "__main__":
    main()
