#!/usr/bin/env python3
"""A plain Python consumer of dropbox-streamer topics, the way a SIEM forwarder should read them.

- ``isolation_level="read_committed"``: in ``exactly_once`` delivery mode the streamer writes
  each page in a Kafka transaction; an aborted one (a crash, a fenced worker) is never seen.
- Offsets are committed only after the events are handled: a crash re-delivers, never loses.
- Duplicates are dropped by topic and event id with a bounded LRU: ``at_least_once`` delivery
  (and a re-delivery after a crash) can repeat an event on its topic, always with the same id.
  The id is the ``event_id`` header, present on native and OCSF records alike (``event_id`` in
  the native JSON, ``metadata.uid`` in OCSF); a native and an OCSF topic carry one fact with
  one id, and both copies are handled.

- A batch handler (``handle_batch``) gets every fetched batch at once, undecodable records
  included, and the offsets are committed when it returns: what bulk writers need
  (``opensearch_indexer.py`` indexes each batch with one bulk request).

Needs only ``aiokafka`` (``pip install aiokafka``). Prints one JSON event per line:

    python consumer.py --bootstrap-servers kafka:9092 --group siem-forwarder \\
        dropbox.audit dropbox.members dropbox.sessions

Over TLS, mutual TLS or SASL (the password comes from ``KAFKA_SASL_PASSWORD``, never from the
command line, which every user of the machine can read):

    KAFKA_SASL_PASSWORD=... python consumer.py --bootstrap-servers kafka:9094 \\
        --security-protocol SASL_SSL --ssl-cafile ca.pem --sasl-mechanism SCRAM-SHA-512 \\
        --sasl-username siem --group siem-forwarder dropbox.audit

Replace ``handle`` (or pass your own to ``consume``) to forward events somewhere else.
Tested against a real broker by ``tests/integration/test_recipe_consumer.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.helpers import create_ssl_context


class Deduper:
    """Remembers the newest ``capacity`` event ids (least recently seen are forgotten first)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def seen(self, event_id: str) -> bool:
        """True if ``event_id`` was seen recently; records it either way."""
        if event_id in self._ids:
            self._ids.move_to_end(event_id)
            return True
        self._ids[event_id] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return False


def event_id_of(headers: Mapping[str, bytes], event: Mapping[str, Any]) -> str | None:
    """The dedupe key: the ``event_id`` header, else the id inside the JSON (native or OCSF)."""
    header = headers.get("event_id")
    if header:
        return header.decode()
    if isinstance(event.get("event_id"), str):
        return str(event["event_id"])
    uid = (event.get("metadata") or {}).get("uid")
    return uid if isinstance(uid, str) else None


@dataclass
class Stats:
    received: int = 0
    handled: int = 0
    duplicates: int = 0
    undecodable: int = 0


@dataclass
class Delivery:
    """One record of a fetched batch, for a batch handler: where it came from, its bytes, and
    the decoded event (None when the value is not a JSON object)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]
    event: dict[str, Any] | None


Handler = Callable[[dict[str, Any], Mapping[str, bytes]], Awaitable[None]]
BatchHandler = Callable[[list[Delivery]], Awaitable[None]]


async def print_event(event: dict[str, Any], headers: Mapping[str, bytes]) -> None:
    sys.stdout.write(json.dumps(event, separators=(",", ":"), ensure_ascii=False) + "\n")


async def caught_up(consumer: AIOKafkaConsumer) -> bool:
    """Every assigned partition read up to its last stable offset (known once fetched)."""
    assigned = consumer.assignment()
    if not assigned:
        return False
    for partition in assigned:
        end = consumer.last_stable_offset(partition)
        if end is None or await consumer.position(partition) < end:
            return False
    return True


async def consume(
    bootstrap_servers: str,
    topics: Sequence[str],
    group_id: str,
    *,
    handle: Handler = print_event,
    handle_batch: BatchHandler | None = None,
    stop: asyncio.Event | None = None,
    exit_when_idle: float | None = None,
    dedupe_capacity: int = 100_000,
    **kafka: Any,
) -> Stats:
    """Consume ``topics`` as consumer group ``group_id`` until ``stop`` is set (or, with
    ``exit_when_idle``, until no record arrived for that many seconds after every partition was
    read to its end). With ``handle_batch``, each fetched batch (duplicates dropped,
    undecodable records kept with ``event=None``) goes to it in one call instead of event by
    event to ``handle``; an exception from either stops the consumer before that batch's
    offsets are committed. ``kafka``: more ``AIOKafkaConsumer`` arguments
    (``security_protocol``, ``sasl_mechanism``, ...)."""
    stop = stop or asyncio.Event()
    dedupe = Deduper(dedupe_capacity)
    stats = Stats()
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        isolation_level="read_committed",
        enable_auto_commit=False,
        auto_offset_reset="earliest",  # a new group starts at the oldest retained event
        **kafka,
    )
    await consumer.start()
    try:
        idle = 0.0
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=500)
            if not batches:
                if await caught_up(consumer):  # not idle while joining or still behind
                    idle += 0.5
                if exit_when_idle is not None and idle >= exit_when_idle:
                    break
                continue
            idle = 0.0
            batch: list[Delivery] = []
            for records in batches.values():
                for record in records:
                    stats.received += 1
                    headers = {k: v for k, v in record.headers}
                    try:
                        event = json.loads(record.value)
                    except (TypeError, ValueError):
                        event = None
                    if not isinstance(event, dict):
                        stats.undecodable += 1  # not a JSON object: never guess
                        event = None
                    else:
                        event_id = event_id_of(headers, event)
                        # per topic: a native and an OCSF topic carry the same fact with the
                        # same id, and both are wanted; a re-delivery comes on the same topic
                        if event_id is not None and dedupe.seen(f"{record.topic}/{event_id}"):
                            stats.duplicates += 1
                            continue
                    batch.append(
                        Delivery(
                            record.topic,
                            record.partition,
                            record.offset,
                            record.key,
                            record.value,
                            headers,
                            event,
                        )
                    )
            if handle_batch is not None:
                await handle_batch(batch)
                stats.handled += sum(d.event is not None for d in batch)
            else:
                for delivery in batch:
                    if delivery.event is not None:  # log undecodable ones in real life
                        await handle(delivery.event, delivery.headers)
                        stats.handled += 1
            await consumer.commit()  # only after the batch is handled
    finally:
        await consumer.stop()
    return stats


def add_security_arguments(parser: argparse.ArgumentParser) -> None:
    """The command-line options ``security_kwargs`` reads (opensearch_indexer.py has them too)."""
    parser.add_argument(
        "--security-protocol",
        default="PLAINTEXT",
        choices=["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"],
    )
    parser.add_argument("--ssl-cafile", help="CA bundle (PEM) for the brokers (default: system)")
    parser.add_argument("--ssl-certfile", help="client certificate (PEM), for mutual TLS")
    parser.add_argument("--ssl-keyfile", help="client private key (PEM), for mutual TLS")
    parser.add_argument("--sasl-mechanism", choices=["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
    parser.add_argument("--sasl-username", help="password: KAFKA_SASL_PASSWORD in the environment")


def security_kwargs(args: argparse.Namespace, environ: Mapping[str, str]) -> dict[str, Any]:
    """``AIOKafkaConsumer`` arguments for TLS / mutual TLS / SASL from the command line."""
    kafka: dict[str, Any] = {"security_protocol": args.security_protocol}
    if args.security_protocol in ("SSL", "SASL_SSL"):
        # verifies the broker's certificate and host name; system CAs without --ssl-cafile
        kafka["ssl_context"] = create_ssl_context(
            cafile=args.ssl_cafile, certfile=args.ssl_certfile, keyfile=args.ssl_keyfile
        )
    if args.security_protocol.startswith("SASL_"):
        password = environ.get("KAFKA_SASL_PASSWORD")
        if not (args.sasl_mechanism and args.sasl_username and password):
            raise SystemExit(
                f"{args.security_protocol} needs --sasl-mechanism, --sasl-username and "
                "KAFKA_SASL_PASSWORD in the environment"
            )
        kafka.update(
            sasl_mechanism=args.sasl_mechanism,
            sasl_plain_username=args.sasl_username,
            sasl_plain_password=password,
        )
    return kafka


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("topics", nargs="+", help="topics to read, e.g. dropbox.audit")
    parser.add_argument("--bootstrap-servers", required=True, help="host:port[,host:port]")
    parser.add_argument("--group", required=True, help="consumer group id (offsets live there)")
    parser.add_argument("--dedupe-capacity", type=int, default=100_000, help="ids remembered")
    parser.add_argument("--exit-when-idle", type=float, help="stop after N idle seconds")
    add_security_arguments(parser)
    args = parser.parse_args(argv)
    kafka = security_kwargs(args, os.environ)

    async def run() -> Stats:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await consume(
            args.bootstrap_servers,
            args.topics,
            args.group,
            stop=stop,
            exit_when_idle=args.exit_when_idle,
            dedupe_capacity=args.dedupe_capacity,
            **kafka,
        )

    stats = asyncio.run(run())
    print(
        f"received={stats.received} handled={stats.handled} duplicates={stats.duplicates} "
        f"undecodable={stats.undecodable}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
