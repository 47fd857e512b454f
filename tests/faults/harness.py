"""What the fault-injection suite shares: the worker as a subprocess (``streamer run``), its
configuration file, what the simulator's ground truth predicts, and what a ``read_committed``
consumer finds in Kafka.

Predictions are *facts*: ``(event_type, subject)`` pairs counted in a ``Counter``. The subject
is what the event is about (a member id, a session id, ``<member>/<app>``, the team id; audit
events all share one subject, so their count is compared). Delivered facts are counted over
*distinct* event ids, so "nothing lost and nothing invented" is one equality, and duplicates
(the same event id more than once) are counted apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from streamer.app import RunOptions, run_service
from streamer.clock import Clock, SystemClock
from streamer.config import STREAM_NAMES, Settings
from streamer.kafka.connection import partitions_of, stop_consumer
from streamer.metrics import Metrics
from tests.integration.connector_support import base_config, merge

Fact = tuple[str, str]

# Events about the team carry the team id as subject; audit records are counted, not named.
AUDIT_SUBJECT = "-"
FIRST_SEEN = {"active": "member.joined", "invited": "member.invited",
              "suspended": "member.suspended"}  # fmt: skip
STARTED = {"web": "web_session.started", "desktop": "desktop_client.linked",
           "mobile": "mobile_client.linked"}  # fmt: skip
# A snapshot slot this long never ends during a test (the worker runs on the system clock).
NO_NEW_SLOT = 10 * 365 * 86400.0
LOOKBACK_DAYS = 3  # more than the simulator's audit history: every audit event is predicted


# --- configuration ------------------------------------------------------------------------------


def now_floor() -> datetime:
    """The simulator's start: the real now, whole seconds (the worker runs on the system clock,
    and its audit lookback and snapshot slots are computed from it)."""
    return datetime.fromtimestamp(int(time.time()), UTC)


def worker_config(
    sim_url: str, bootstrap: str, *, prefix: str | None = None, **sections: dict[str, Any]
) -> dict[str, Any]:
    """A complete configuration for one team on the simulator; ``sections`` merge into it."""
    prefix = prefix or f"f{uuid.uuid4().hex[:10]}"
    raw = merge(
        base_config(sim_url, bootstrap, prefix),
        {
            "kafka": {"transactional_id": f"{prefix}-tx", "request_timeout": 10},
            "http": {"timeout": 10},
            # the first poll reports everything found (joined, started, linked): more to lose
            "events": {"snapshot_interval": NO_NEW_SLOT, "first_poll": "changes"},
            "streams": {"audit": {"lookback": LOOKBACK_DAYS * 86400}},
            "log": {"format": "json", "level": "INFO"},
        },
    )
    return merge(raw, sections)


def toml(data: Mapping[str, Any]) -> str:
    """A TOML document for nested tables of strings, numbers and booleans (``None``: left out)."""
    lines: list[str] = []

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, str):
            return orjson.dumps(v).decode()  # a JSON string is a valid TOML basic string
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        raise TypeError(f"cannot write {v!r} as TOML")

    def table(path: list[str], node: Mapping[str, Any]) -> None:
        scalars = {k: v for k, v in node.items() if not isinstance(v, Mapping) and v is not None}
        if path and (scalars or not node):
            lines.append(f"[{'.'.join(path)}]")
        for k, v in scalars.items():
            lines.append(f"{k} = {value(v)}")
        for k, v in node.items():
            if isinstance(v, Mapping):
                table([*path, k], v)

    table([], data)
    return "\n".join(lines) + "\n"


def write_config(path: Path, config: Mapping[str, Any]) -> Path:
    path.write_text(toml(config))
    return path


def topics_of(config: Mapping[str, Any]) -> dict[str, str]:
    return dict(config["kafka"]["topics"])


def event_topics(config: Mapping[str, Any]) -> list[str]:
    topics = topics_of(config)
    return [topics[s] for s in STREAM_NAMES]


# --- the worker as a subprocess -------------------------------------------------------------------


def cli_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment without any STREAMER_* setting (they would override the file)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMER_")}
    env.update(extra or {})
    return env


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "streamer.cli", *args]


@dataclass
class Worker:
    """One ``streamer run`` process; stdout and stderr go to files beside the config."""

    config: Path
    args: tuple[str, ...] = ("--once",)
    env: Mapping[str, str] | None = None
    name: str = "worker"
    proc: asyncio.subprocess.Process | None = None
    started: float = 0.0  # wall clock (time.time()) when the process was started
    ended: float = 0.0
    stderr_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.stderr_path = self.config.with_name(f"{self.name}.stderr")

    async def start(self) -> Worker:
        self.started = time.time()
        with (
            self.stderr_path.open("wb") as err,
            self.config.with_name(f"{self.name}.stdout").open("wb") as out,
        ):
            self.proc = await asyncio.create_subprocess_exec(
                *cli_command("run", "--config", str(self.config), *self.args),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=cli_env(self.env),
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self.ended = time.time()

    async def wait(self, seconds: float) -> int:
        """The exit code (negative: killed by that signal); kills the process after ``seconds``."""
        assert self.proc is not None
        try:
            code = await asyncio.wait_for(self.proc.wait(), seconds)
        except TimeoutError:
            self.kill()
            await self.proc.wait()
            raise AssertionError(
                f"{self.name} did not finish within {seconds} s; stderr tail:\n{self.tail()}"
            ) from None
        if not self.ended:
            self.ended = time.time()
        return code

    async def wait_briefly(self, seconds: float) -> None:
        """Give the process ``seconds`` to exit (a polling step that ends early if it does)."""
        assert self.proc is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.proc.wait(), seconds)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.stderr().splitlines()[-lines:])

    def rss_kib(self) -> int | None:
        """Resident set size from /proc (None once the process is gone)."""
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return None


async def run_to_completion(config: Path, *, name: str, seconds: float = 90.0) -> Worker:
    worker = await Worker(config, name=name).start()
    code = await worker.wait(seconds)
    assert code == 0, f"{name} exited {code}; stderr tail:\n{worker.tail()}"
    return worker


# --- reading Kafka ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]

    @property
    def event(self) -> dict[str, Any]:
        assert self.value is not None
        event: dict[str, Any] = orjson.loads(self.value)
        return event


async def read_all(
    bootstrap: str, topics: Iterable[str], *, committed: bool = True
) -> list[Record]:
    """Every record of ``topics`` up to their current end (``read_committed`` by default)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        isolation_level="read_committed" if committed else "read_uncommitted",
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(t, p) for t in topics for p in await partitions_of(consumer, t)
        ]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        out: list[Record] = []
        pending = {tp for tp in partitions if end[tp] > 0}
        deadline = time.monotonic() + 60
        while pending:
            assert time.monotonic() < deadline, f"could not read {pending} to the end"
            batches = await consumer.getmany(*pending, timeout_ms=500)
            for messages in batches.values():
                out.extend(
                    Record(
                        m.topic, m.partition, m.offset, m.timestamp, m.key, m.value, dict(m.headers)
                    )
                    for m in messages
                )
            for tp in list(pending):
                if await consumer.position(tp) >= end[tp]:
                    pending.discard(tp)
        return out
    finally:
        await stop_consumer(consumer)


class OffsetWatch:
    """Polls the end offsets of some topics (read_uncommitted: records of open transactions
    count) so a test can act the moment a number of records has been written."""

    def __init__(self, bootstrap: str, topics: Iterable[str]) -> None:
        self._bootstrap = bootstrap
        self._topics = list(topics)
        self._consumer: AIOKafkaConsumer | None = None
        self._partitions: list[TopicPartition] = []

    async def __aenter__(self) -> OffsetWatch:
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap)
        await self._consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._consumer is not None:
            await stop_consumer(self._consumer)

    async def total(self) -> int:
        assert self._consumer is not None
        if len(self._partitions) < len(self._topics):  # topics appear when the worker starts
            if not set(self._topics) <= await self._consumer.topics():
                return 0
            self._partitions = [
                TopicPartition(t, p)
                for t in self._topics
                for p in await partitions_of(self._consumer, t)
            ]
        end = await self._consumer.end_offsets(self._partitions)
        return sum(end.values())


# --- predictions from the ground truth ------------------------------------------------------------


def first_cycle_facts(world: Any, *, changes: bool = True) -> Counter[Fact]:
    """What the first complete cycle emits for the world as it is now: snapshots of everything,
    activity summaries, the team snapshot, every audit event, and (first poll reporting
    changes) a first-seen event for every member, session and linked app."""
    truth = world.truth()
    facts: Counter[Fact] = Counter()
    facts[("team.snapshot", world.team_id)] = 1
    for member_id, member in truth["members"].items():
        facts[("member.snapshot", member_id)] += 1
        if member["status"] != "removed":
            facts[("member.activity", member_id)] += 1
        if changes and member["status"] in FIRST_SEEN:
            facts[(FIRST_SEEN[member["status"]], member_id)] += 1
    for session_id, session in truth["sessions"].items():
        facts[("session.snapshot", session_id)] += 1
        if changes:
            facts[(STARTED[session["kind"]], session_id)] += 1
    for key in truth["apps"]:
        facts[("app.snapshot", key)] += 1
        if changes:
            facts[("app.linked", key)] += 1
    facts[("audit.event", AUDIT_SUBJECT)] = truth["audit_events"]
    return +facts


# the member fields of the ground truth that ``member.updated`` reports when they change
MEMBER_FIELDS = ("email", "email_verified", "given_name", "surname", "display_name",
                 "external_id", "account_id", "groups", "roles")  # fmt: skip


@dataclass(frozen=True)
class Before:
    """The ground truth before ``world.advance``, to predict the next cycle from."""

    truth: dict[str, Any]
    team_info: dict[str, Any]
    audit_count: int

    @classmethod
    def of(cls, world: Any) -> Before:
        return cls(world.truth(), world.team_info(), world.audit_count())


def change_facts(world: Any, before: Before, changes: Iterable[Any]) -> Counter[Fact]:
    """What the next cycle emits after ``world.advance`` reported ``changes``: one event per
    change, except that a member's profile change is seen in the truth (a member who joins
    also gets a name and an account, reported beside ``member.joined`` as ``member.updated``);
    ``team.changed`` when the team info differs (its license counts follow the membership);
    and every audit event appended meanwhile."""
    facts: Counter[Fact] = Counter()
    for change in changes:
        if change.kind == "member.updated":
            continue
        if change.kind.startswith("app."):
            subject = f"{change.member_id}/{change.subject_id}"
        else:
            subject = change.subject_id or change.member_id
        facts[(change.kind, subject)] += 1
    after = world.truth()["members"]
    for member_id, old in before.truth["members"].items():
        new = after[member_id]
        if any(old[k] != new[k] for k in MEMBER_FIELDS):
            facts[("member.updated", member_id)] += 1
    if world.team_info() != before.team_info:
        facts[("team.changed", world.team_id)] += 1
    added = world.audit_count() - before.audit_count
    if added:
        facts[("audit.event", AUDIT_SUBJECT)] += added
    return facts


def fact_of(event: Mapping[str, Any]) -> Fact:
    kind = str(event["event_type"])
    if kind == "audit.event":
        return (kind, AUDIT_SUBJECT)
    if kind.startswith("team."):
        return (kind, str(event["team"]["id"]))
    user = str(event["user"]["team_member_id"])
    if kind.startswith("app."):
        return (kind, f"{user}/{event['app']['app_id']}")
    device = event.get("device") or {}
    return (kind, str(device.get("session_id") or user))


# event-type prefix -> the stream that emits it
_EMITTED_BY = {
    "team": "team",
    "member": "members",
    "web_session": "sessions",
    "desktop_client": "sessions",
    "mobile_client": "sessions",
    "session": "sessions",
    "app": "apps",
    "audit": "audit",
}


def stream_of(event_type: str) -> str:
    """The stream whose batches (and checkpoints) carry this event type."""
    if event_type == "member.activity":
        return "sessions"  # taken with the sessions listing, published on the members topic
    return _EMITTED_BY[event_type.split(".", 1)[0]]


@dataclass
class Delivered:
    """What a read_committed consumer found: facts over distinct ids, and the duplicates."""

    records: list[Record]
    by_id: dict[str, list[Record]]
    facts: Counter[Fact]

    @classmethod
    def of(cls, records: list[Record]) -> Delivered:
        by_id: dict[str, list[Record]] = defaultdict(list)
        for record in records:
            by_id[record.headers["event_id"].decode()].append(record)
        facts = Counter(fact_of(copies[0].event) for copies in by_id.values())
        return cls(records, dict(by_id), facts)

    @property
    def duplicates(self) -> dict[str, list[Record]]:
        return {i: copies for i, copies in self.by_id.items() if len(copies) > 1}

    @property
    def duplicated(self) -> int:
        """Records beyond the first copy of each event id."""
        return len(self.records) - len(self.by_id)


def fact_diff(expected: Counter[Fact], delivered: Counter[Fact], limit: int = 10) -> str:
    """A short description of what differs (for assertion messages)."""
    missing = list((expected - delivered).items())[:limit]
    extra = list((delivered - expected).items())[:limit]
    return f"missing {sum((expected - delivered).values())}: {missing}; " + (
        f"unexpected {sum((delivered - expected).values())}: {extra}"
    )


def same_fact_copies(copies: list[Record]) -> bool:
    """Copies of one event id describe the same thing: type, key and subject (snapshots and
    summaries carry the time they were observed, which differs between copies)."""
    first = copies[0].event
    return all(
        c.key == copies[0].key
        and c.event["event_type"] == first["event_type"]
        and fact_of(c.event) == fact_of(first)
        for c in copies[1:]
    )


def within(seconds: float) -> float:
    """A deadline ``seconds`` from now on the monotonic clock."""
    return time.monotonic() + seconds


async def poll_until(condition: Any, *, seconds: float, what: str, every: float = 0.05) -> None:
    """Await ``condition()`` (sync or async) until true; fail naming ``what`` at the deadline."""
    deadline = within(seconds)
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        await asyncio.sleep(every)


def ts_ms(when: float) -> int:
    return int(when * 1000)


class FastClock:
    """Wall and monotonic time running ``factor`` times faster than real time, from now on.
    Shared by the simulator and an in-process worker, it makes minutes of token lifetime pass
    in seconds for both sides alike."""

    def __init__(self, factor: float) -> None:
        self.factor = factor
        self._t0 = time.monotonic()
        self._wall0 = datetime.now(UTC)

    def _elapsed(self) -> float:
        return (time.monotonic() - self._t0) * self.factor

    def monotonic(self) -> float:
        return self._t0 + self._elapsed()

    def now(self) -> datetime:
        return self._wall0 + timedelta(seconds=self._elapsed())

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.factor)


async def run_in_process(
    config: Mapping[str, Any], *, clock: Clock | None = None, metrics: Metrics | None = None
) -> Metrics:
    """One ``--once`` cycle of the service in this process (the simulator keeps serving)."""
    metrics = metrics or Metrics()
    settings = Settings.model_validate(config)
    await asyncio.wait_for(
        run_service(
            settings,
            RunOptions(once=True),
            asyncio.Event(),
            clock=clock or SystemClock(),
            metrics=metrics,
        ),
        90,
    )
    return metrics
