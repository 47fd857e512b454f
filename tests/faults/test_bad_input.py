"""Bad input: configuration that is malformed, incomplete, mistyped or misspelt, secret files that
cannot be read, bad flags and dates, Kafka that cannot be reached. Each is one clear line on
stderr and a documented exit code (``streamer.errors.EXIT_CODES``), never a traceback, and the
stored state is not touched: the state topic keeps exactly what it held and no topic appears.

Every case runs ``streamer`` as an operator would: a subprocess with a configuration file that
is valid except for the one thing under test, pointing at the real broker and at a state topic
that already holds a checkpoint.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streamer.config import STREAM_NAMES
from streamer.errors import EXIT_CODES
from tests.faults.conftest import Reliability
from tests.faults.harness import Record, cli_command, cli_env, merge, read_all, toml, worker_config

pytestmark = pytest.mark.kafka

PREFIX = "badinput"
CHECKPOINT = (b"acme/members/dbmid:kept", b'{"status": "active", "rev": 7}')


@dataclass(frozen=True)
class Case:
    """``config``: changes to the valid configuration (``None`` deletes a key); ``raw``: the
    file's whole text instead; ``edit``: (old, new) text replaced in the file; ``args``: the
    command line after ``streamer``; ``env``: extra environment; ``files``: name -> bytes (or
    ``None`` for a directory) created beside the file."""

    expected_code: int
    says: str  # a fragment of the one error line
    args: tuple[str, ...] = ("run", "--once", "--config", "{config}")
    config: dict[str, Any] | None = None
    raw: str | None = None
    edit: tuple[str, str] | None = None
    env: dict[str, str] | None = None
    files: dict[str, bytes | None] | None = None


def run(*flags: str) -> tuple[str, ...]:
    return ("run", "--config", "{config}", *flags)


def secret_file(key: str) -> dict[str, Any]:
    return {"teams": {"acme": {key: None, f"{key}_file": "{dir}/secret"}}}


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


CASES: dict[str, Case] = {
    # --- the file itself ---
    "config file missing": Case(2, "does not exist", args=("run", "--config", "{dir}/nope.toml")),
    "config file is a directory": Case(2, "is a directory", args=("run", "--config", "{dir}")),
    "config file not TOML": Case(2, "is not valid TOML", raw="[teams.acme\napp_key = 1\n"),
    "config file empty": Case(2, "teams: required", raw=""),
    # --- shape and types ---
    "unknown key (a typo)": Case(
        2, "kafka.bootstrap: unknown key", config={"kafka": {"bootstrap": "x:1"}}
    ),
    "unknown section": Case(2, "kafak: unknown key", config={"kafak": {"partitions": 1}}),
    "team without refresh token": Case(
        2, "teams.acme.refresh_token: required", config={"teams": {"acme": {"refresh_token": None}}}
    ),
    "no team at all": Case(2, "teams", config={"teams": {"acme": None}}),
    "text for a number": Case(2, "kafka.partitions", config={"kafka": {"partitions": "six"}}),
    "table for a string": Case(
        2, "teams.acme.app_key", config={"teams": {"acme": {"app_key": {"x": 1}}}}
    ),
    "negative timeout": Case(2, "http.timeout", config={"http": {"timeout": -1}}),
    "unknown delivery mode": Case(2, "kafka.delivery", config={"kafka": {"delivery": "twice"}}),
    "URL that is not http(s)": Case(
        2, "teams.acme.api_url", config={"teams": {"acme": {"api_url": "ftp://x"}}}
    ),
    "team name with a space": Case(2, "team name", edit=("[teams.acme]", '[teams."acme corp"]')),
    "SASL without credentials": Case(
        2, "needs sasl_mechanism", config={"kafka": {"security_protocol": "SASL_PLAINTEXT"}}
    ),
    "wrong type from the environment": Case(
        2, "STREAMER_KAFKA__PARTITIONS", env={"STREAMER_KAFKA__PARTITIONS": "many"}
    ),
    # --- secret files ---
    "secret file missing": Case(2, "does not exist", config=secret_file("refresh_token")),
    "secret file is a directory": Case(
        2, "cannot be read", config=secret_file("refresh_token"), files={"secret": None}
    ),
    "secret file not UTF-8": Case(
        2, "not UTF-8 text", config=secret_file("app_secret"), files={"secret": b"\xff\xfe\x00"}
    ),
    "secret file empty": Case(
        2, "must not be empty", config=secret_file("app_secret"), files={"secret": b"\n"}
    ),
    # --- flags and dates ---
    "unknown flag": Case(2, "--bogus", args=run("--bogus")),
    "unknown command": Case(2, "runn", args=("runn",)),
    "bad log level": Case(2, "--log-level", args=run("--log-level", "LOUD")),
    "--since without --backfill": Case(2, "only apply with --backfill", args=run("--since", "7d")),
    "--backfill without --since": Case(2, "needs --since", args=run("--backfill")),
    "a date that is not a date": Case(
        2, "is not a date", args=run("--backfill", "--since", "yesterday")
    ),
    "a month 13": Case(2, "is not a date", args=run("--backfill", "--since", "2026-13-01")),
    "--since after --until": Case(
        2,
        "must be before --until",
        args=run("--backfill", "--since", "2026-02-01", "--until", "2026-01-01"),
    ),
    "--replay with --once": Case(2, "--replay", args=run("--replay", "--once")),
    "check with a bad config": Case(
        2,
        "kafka.partitions",
        args=("check", "--config", "{config}"),
        config={"kafka": {"partitions": 0}},
    ),
    # --- Kafka that cannot be reached ---
    "bootstrap port closed": Case(
        5, "Kafka", config={"kafka": {"bootstrap_servers": "127.0.0.1:{closed}"}}
    ),
    "bootstrap host unknown": Case(
        5, "Kafka", config={"kafka": {"bootstrap_servers": "kafka.invalid:9092"}}
    ),
}


@dataclass
class Stored:
    """The state topic as the cases found it, to prove they left it alone."""

    bootstrap: str
    state_topic: str
    records: list[Record]
    topics: set[str]


async def topic_names(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stored(kafka_bootstrap: str) -> AsyncIterator[Stored]:
    """The topics of the base configuration, with one checkpoint in the state topic."""
    prefix = f"{PREFIX}{int(time.time() * 1000)}"
    names = {s: f"{prefix}.{s}" for s in (*STREAM_NAMES, "state")}
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, 1, 1) for n in names.values()])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(names["state"], CHECKPOINT[1], key=CHECKPOINT[0])
    finally:
        await producer.stop()
    records = await read_all(kafka_bootstrap, [names["state"]])
    assert [(r.key, r.value) for r in records] == [CHECKPOINT]
    yield Stored(kafka_bootstrap, names["state"], records, await topic_names(kafka_bootstrap))


def base_config(stored: Stored) -> dict[str, Any]:
    config = worker_config("http://127.0.0.1:9", stored.bootstrap, prefix=stored.state_topic[:-6])
    config["kafka"]["request_timeout"] = 5
    return config


def without_none(tree: dict[str, Any]) -> dict[str, Any]:
    return {
        k: without_none(v) if isinstance(v, dict) else v for k, v in tree.items() if v is not None
    }


def render(case: Case, stored: Stored, tmp: Path) -> tuple[list[str], dict[str, str]]:
    """Write the case's files; its command line and environment."""

    def fill(text: str) -> str:
        return text.format(dir=tmp, config=tmp / "streamer.toml", closed=unused_port())

    for name, content in (case.files or {}).items():
        if content is None:
            (tmp / name).mkdir()
        else:
            (tmp / name).write_bytes(content)
    text = case.raw
    if text is None:
        text = fill(toml(without_none(merge(base_config(stored), case.config or {}))))
    if case.edit is not None:
        assert case.edit[0] in text
        text = text.replace(*case.edit)
    (tmp / "streamer.toml").write_text(text)
    return [fill(a) for a in case.args], case.env or {}


@pytest.mark.parametrize("name", list(CASES))
async def test_bad_input_is_one_clear_line_a_documented_code_and_no_state_change(
    name: str, stored: Stored, tmp_path: Path, reliability: Reliability
) -> None:
    case = CASES[name]
    args, env = render(case, stored, tmp_path)
    started = time.monotonic()
    result = await asyncio.to_thread(
        subprocess.run,
        cli_command(*args),
        env=cli_env(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    took = time.monotonic() - started
    lines = result.stderr.splitlines()

    assert result.returncode == case.expected_code, result.stderr
    assert case.expected_code in EXIT_CODES
    assert "Traceback" not in result.stderr
    # besides log records (JSON lines, when it got as far as logging): the one error line
    prose = [line for line in lines if not line.startswith("{")]
    assert len(prose) == 1, result.stderr
    assert prose[0] == lines[-1], "the error is the last word"
    assert prose[0].startswith("error: "), prose[0]
    assert case.says in prose[0], prose[0]
    assert "sim-app-secret" not in result.stderr  # secrets never reach the output
    assert "sim-refresh-token" not in result.stderr
    assert took < 60

    # the stored state is exactly as it was, and no topic appeared
    after = await read_all(stored.bootstrap, [stored.state_topic])
    assert [(r.key, r.value, r.offset) for r in after] == [
        (r.key, r.value, r.offset) for r in stored.records
    ]
    assert await topic_names(stored.bootstrap) - stored.topics == set()
    said = prose[0].replace(str(tmp_path), "<dir>")
    reliability.record(name, kind="input", note=f"exit {result.returncode}: {said}")
