#!/usr/bin/env python3
"""Index dropbox-streamer topics into OpenSearch or Elasticsearch, the way a SIEM pipeline should.

Two commands:

    python opensearch_indexer.py install --url http://localhost:9200
    python opensearch_indexer.py index --url http://localhost:9200 \\
        --bootstrap-servers kafka:9092 --group siem-opensearch \\
        --dead-letter-topic dropbox.siem-dead-letter \\
        dropbox.team dropbox.members dropbox.sessions dropbox.apps dropbox.audit

``install`` puts the index templates of ``deploy/opensearch/`` (component templates first) and
creates, per topic and format, the first backing index ``dropbox-<format>-<stream>-000001``
behind the write alias ``dropbox-<format>-<stream>`` (rollover: ISM/ILM, docs/recipes/
opensearch.md). Running it again updates the templates and leaves existing indices alone.

``index`` extends ``consumer.py`` (read_committed, offsets committed only after a batch is
handled) with one bulk request per fetched batch through the official client's bulk helper:

- the document id is the event id (``event_id`` header; native ``event_id``, OCSF
  ``metadata.uid``) and the bulk action is ``create``: an event indexed before (a re-delivery,
  a replay, a second consumer group) is answered 409 and counted as ``already_indexed``, never
  written twice. Within one backing index: an event re-delivered after its index rolled over
  lands in the new one (the window is the uncommitted batch, rollover is monthly);
- the index is the write alias of the record's topic and format (``format`` header);
  ``require_alias`` makes a deleted alias an error instead of an auto-created, unmapped index;
- throttling (429) is retried by the helper with backoff; server errors (5xx) and connection
  failures are retried by this script (``--retries``); if the engine still fails, the script
  exits 1 and the batch's offsets are not committed, so the next start re-reads it;
- a document the engine rejects (a 4xx such as a mapping conflict), a record that is not a JSON
  object and an event without an id go to the dead-letter topic: the original key, value and
  headers plus ``dead_letter_reason`` and ``source_topic/partition/offset`` headers; the
  offsets are committed once Kafka has acknowledged those writes.

Kafka over TLS or SASL: the options of ``consumer.py`` (``--security-protocol``,
``--ssl-cafile``, ``--sasl-mechanism``, ``--sasl-username``; password in
``KAFKA_SASL_PASSWORD``); the engine's password in ``OPENSEARCH_PASSWORD``.

Needs ``opensearch-py[async]`` (OpenSearch 1.x-3.x and Elasticsearch 7.10 OSS) and ``aiokafka``.
Exit codes: 0 done (``--exit-when-idle`` or a signal), 1 the engine or Kafka kept failing,
2 usage, 3 not set up (templates or aliases missing, dead-letter topic missing).
Tested end to end by ``tests/siem/`` against real OpenSearch 2.19 and Elasticsearch 7.10.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from consumer import (
    Delivery,
    Stats,
    add_security_arguments,
    consume,
    event_id_of,
    security_kwargs,
)
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConnectionError as EngineConnectionError
from opensearchpy.exceptions import NotFoundError, TransportError
from opensearchpy.helpers import async_streaming_bulk

STREAMS = ("team", "members", "sessions", "apps", "audit")
FORMATS = ("native", "ocsf")
DEFAULT_TEMPLATES = Path(__file__).resolve().parents[2] / "deploy" / "opensearch"
TEMPLATE_PREFIX = "dropbox"  # what the shipped templates are named after
REASON_LIMIT = 2000  # characters of the engine's error kept in the dead-letter header


class SetupError(Exception):
    """Something ``install`` (or the operator) must create first; exit code 3."""


class IndexingError(Exception):
    """The engine kept failing after the retries; exit code 1, offsets not committed."""


def alias_name(prefix: str, fmt: str, stream: str) -> str:
    return f"{prefix}-{fmt}-{stream}"


def stream_of(topic: str, overrides: Mapping[str, str]) -> str:
    """Which stream a topic carries: ``--stream TOPIC=STREAM``, else the topic's last dotted
    part (``dropbox.audit`` -> ``audit``, as the streamer's default topic names are)."""
    stream = overrides.get(topic) or topic.rsplit(".", 1)[-1]
    if stream not in STREAMS:
        raise ValueError(
            f"cannot tell which stream topic {topic!r} carries: pass --stream {topic}=STREAM "
            f"(one of {', '.join(STREAMS)})"
        )
    return stream


def format_of(delivery: Delivery) -> str:
    """``ocsf`` for records the streamer marked so (``format`` header), else ``native``."""
    if delivery.headers.get("format") == b"ocsf":
        return "ocsf"
    if delivery.event is not None and "class_uid" in delivery.event:
        return "ocsf"
    return "native"


# --- install -------------------------------------------------------------------------------------


def load_templates(directory: Path, prefix: str) -> dict[str, dict[str, Any]]:
    """``{"component_templates/<name>": body, "index_templates/<name>": body}`` with the names,
    index patterns and compositions renamed from ``dropbox-`` to ``<prefix>-``."""

    def rename(name: str) -> str:
        return prefix + name[len(TEMPLATE_PREFIX) :] if name.startswith(TEMPLATE_PREFIX) else name

    out: dict[str, dict[str, Any]] = {}
    for kind in ("component_templates", "index_templates"):
        files = sorted((directory / kind).glob("*.json"))
        if not files:
            raise SetupError(f"no templates in {directory / kind}: pass --templates DIR")
        for path in files:
            body = json.loads(path.read_text(encoding="utf-8"))
            if kind == "index_templates":
                body["index_patterns"] = [rename(p) for p in body["index_patterns"]]
                body["composed_of"] = [rename(c) for c in body["composed_of"]]
                body["_meta"]["write_alias"] = rename(body["_meta"]["write_alias"])
            out[f"{kind}/{rename(path.stem)}"] = body
    return out


async def install(client: AsyncOpenSearch, directory: Path, prefix: str) -> list[str]:
    """Put every template, then create each missing write alias with its first index.
    Returns what was created or updated, one line each."""
    done: list[str] = []
    templates = load_templates(directory, prefix)
    for key, body in templates.items():  # component templates sort first
        kind, name = key.split("/")
        if kind == "component_templates":
            await client.cluster.put_component_template(name=name, body=body)
        else:
            await client.indices.put_index_template(name=name, body=body)
        done.append(f"template {name}")
    for body in templates.values():
        alias = body.get("_meta", {}).get("write_alias")
        if alias is None:
            continue
        if await client.indices.exists_alias(name=alias):
            continue
        if await client.indices.exists(index=alias):
            raise SetupError(
                f"{alias} is an index, not an alias (something wrote to it before the "
                f"templates were installed): reindex it into {alias}-000001 and delete it"
            )
        first = f"{alias}-000001"
        await client.indices.create(
            index=first, body={"aliases": {alias: {"is_write_index": True}}}
        )
        done.append(f"index {first} (write alias {alias})")
    return done


# --- index ---------------------------------------------------------------------------------------


@dataclass
class IndexStats:
    created: int = 0
    already_indexed: int = 0
    dead_lettered: int = 0
    retried: int = 0
    by_alias: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class DeadLetter:
    """Writes rejected records to a Kafka topic and waits until Kafka has them."""

    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self.producer = producer
        self.topic = topic

    async def send(self, rejected: Sequence[tuple[Delivery, str]]) -> None:
        pending = []
        for delivery, reason in rejected:
            headers = [
                *((k, v) for k, v in delivery.headers.items() if not k.startswith("source_")),
                ("dead_letter_reason", reason[:REASON_LIMIT].encode()),
                ("source_topic", delivery.topic.encode()),
                ("source_partition", str(delivery.partition).encode()),
                ("source_offset", str(delivery.offset).encode()),
            ]
            pending.append(
                await self.producer.send(
                    self.topic, value=delivery.value, key=delivery.key, headers=headers
                )
            )
        await asyncio.gather(*pending)  # acknowledged before the offsets are committed


def _reason(item: Mapping[str, Any]) -> str:
    error = item.get("error")
    if isinstance(error, Mapping):
        text = f"{error.get('type')}: {error.get('reason')}"
        cause = error.get("caused_by")
        if isinstance(cause, Mapping):
            text += f" (caused by {cause.get('type')}: {cause.get('reason')})"
        return f"{item.get('status')} {text}"
    return f"{item.get('status')} {error}"


@dataclass
class Options:
    """How the indexer names indices and how hard it tries."""

    prefix: str = TEMPLATE_PREFIX  # indices and aliases are <prefix>-<format>-<stream>
    streams: dict[str, str] = field(default_factory=dict)  # topic -> stream, else by name
    retries: int = 5  # per failing bulk request (and the helper's 429 retries)
    backoff: float = 1.0  # seconds, doubled per retry, at most 60
    chunk_size: int = 500  # documents per bulk request


class Indexer:
    """The batch handler: one bulk request per fetched batch (chunked by the helper)."""

    def __init__(
        self, client: AsyncOpenSearch, dead_letter: DeadLetter, options: Options | None = None
    ) -> None:
        self.client = client
        self.dead_letter = dead_letter
        self.options = options or Options()
        self.stats = IndexStats()

    async def __call__(self, batch: list[Delivery]) -> None:
        rejected: list[tuple[Delivery, str]] = []
        pending: dict[str, list[tuple[Delivery, dict[str, Any]]]] = defaultdict(list)
        for delivery in batch:
            if delivery.event is None:
                rejected.append((delivery, "not a JSON object"))
                continue
            doc_id = event_id_of(delivery.headers, delivery.event)
            if doc_id is None:
                rejected.append((delivery, "no event id (event_id header, event_id, metadata.uid)"))
                continue
            options = self.options
            alias = alias_name(
                options.prefix, format_of(delivery), stream_of(delivery.topic, options.streams)
            )
            action = {"_op_type": "create", "_index": alias, "_id": doc_id}
            pending[doc_id].append((delivery, {**action, "_source": delivery.event}))

        retries = self.options.retries
        for attempt in range(retries + 1):
            if not pending:
                break
            failed = await self._bulk(pending, rejected)
            if not failed:
                break
            if attempt == retries:
                raise IndexingError(
                    f"{len(failed)} documents still failing after {retries} retries, "
                    f"e.g. {failed[0]}"
                )
            self.stats.retried += 1
            await asyncio.sleep(min(self.options.backoff * 2**attempt, 60))

        if rejected:
            await self.dead_letter.send(rejected)
            self.stats.dead_lettered += len(rejected)

    async def _bulk(
        self,
        pending: dict[str, list[tuple[Delivery, dict[str, Any]]]],
        rejected: list[tuple[Delivery, str]],
    ) -> list[str]:
        """One pass over ``pending``: settled documents leave it; returns why the others
        (server errors, connection failures) failed, to be tried again."""
        actions = [action for entries in pending.values() for _, action in entries]
        failed: list[str] = []
        try:
            async for ok, result in async_streaming_bulk(
                self.client,
                actions,
                chunk_size=self.options.chunk_size,
                max_retries=self.options.retries,  # 429: the helper backs off and retries
                initial_backoff=self.options.backoff,
                raise_on_error=False,
                raise_on_exception=True,
                require_alias=True,
            ):
                item = next(iter(result.values()))
                delivery, action = pending[item["_id"]].pop(0)
                if not pending[item["_id"]]:
                    del pending[item["_id"]]
                status = item.get("status", 0)
                if ok:
                    self.stats.created += 1
                    self.stats.by_alias[action["_index"]] += 1
                elif status == 409:
                    self.stats.already_indexed += 1
                elif status == 404 and "index_not_found" in json.dumps(item.get("error")):
                    raise SetupError(f"{action['_index']}: {_reason(item)}: run install")
                elif status == 429 or status >= 500:
                    pending.setdefault(item["_id"], []).append((delivery, action))
                    failed.append(_reason(item))
                else:
                    rejected.append((delivery, _reason(item)))
        except (EngineConnectionError, TransportError) as exc:
            status = exc.status_code if isinstance(exc.status_code, int) else 0
            if 400 <= status < 500 and status != 429:
                raise  # the request itself is wrong: retrying cannot help
            failed.append(f"{type(exc).__name__}: {exc}")
        return failed


async def check_setup(
    client: AsyncOpenSearch,
    admin: AIOKafkaAdminClient,
    topics: Sequence[str],
    streams: Mapping[str, str],
    prefix: str,
    dead_letter_topic: str,
) -> None:
    """Fail before reading anything if an alias or the dead-letter topic is missing."""
    for topic in topics:
        stream = stream_of(topic, streams)
        for fmt in FORMATS:
            alias = alias_name(prefix, fmt, stream)
            try:
                found = await client.indices.exists_alias(name=alias)
            except NotFoundError:
                found = False
            if not found:
                raise SetupError(f"write alias {alias} does not exist: run install first")
    if dead_letter_topic not in set(await admin.list_topics()):
        raise SetupError(
            f"dead-letter topic {dead_letter_topic} does not exist: create it "
            "(same partitions and retention as the event topics)"
        )


async def index(
    url: Sequence[str],
    bootstrap_servers: str,
    topics: Sequence[str],
    group: str,
    dead_letter_topic: str,
    options: Options | None = None,
    *,
    stop: asyncio.Event | None = None,
    exit_when_idle: float | None = None,
    client_options: Mapping[str, Any] | None = None,
    **kafka: Any,
) -> tuple[Stats, IndexStats]:
    """Consume ``topics`` into the engine at ``url`` until ``stop`` (or idle); returns the
    consumer's and the indexer's counts."""
    options = options or Options()
    for topic in topics:
        stream_of(topic, options.streams)  # a usage error before anything connects
    client = AsyncOpenSearch(
        list(url), max_retries=options.retries, retry_on_timeout=True, **(client_options or {})
    )
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **kafka)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=True, **kafka
    )
    try:
        await admin.start()
        try:
            await check_setup(
                client, admin, topics, options.streams, options.prefix, dead_letter_topic
            )
        finally:
            await admin.close()
        await producer.start()
        indexer = Indexer(client, DeadLetter(producer, dead_letter_topic), options)
        consumed = await consume(
            bootstrap_servers,
            topics,
            group,
            handle_batch=indexer,
            stop=stop,
            exit_when_idle=exit_when_idle,
            **kafka,
        )
        return consumed, indexer.stats
    finally:
        await producer.stop()
        await client.close()


# --- command line --------------------------------------------------------------------------------


def _client_options(args: argparse.Namespace) -> dict[str, Any]:
    """Credentials come from the environment (never a command-line argument)."""
    options: dict[str, Any] = {}
    if args.username:
        options["http_auth"] = (args.username, os.environ.get("OPENSEARCH_PASSWORD", ""))
    if args.ca_certs:
        options.update(use_ssl=True, verify_certs=True, ca_certs=args.ca_certs)
    return options


def _streams(pairs: Sequence[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        topic, sep, stream = pair.partition("=")
        if not sep or stream not in STREAMS:
            raise ValueError(f"--stream {pair!r}: expected TOPIC=STREAM, STREAM one of {STREAMS}")
        out[topic] = stream
    return out


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = top.add_subparsers(dest="command", required=True)
    for name, text in (
        ("install", "put the index templates and create the write aliases"),
        ("index", "consume topics into the engine"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--url", action="append", required=True, help="engine URL (repeatable)")
        sub.add_argument("--prefix", default=TEMPLATE_PREFIX, help="index and template prefix")
        sub.add_argument("--username", help="basic auth user; password in $OPENSEARCH_PASSWORD")
        sub.add_argument("--ca-certs", help="CA bundle for an https URL")
        if name == "install":
            sub.add_argument("--templates", type=Path, default=DEFAULT_TEMPLATES)
        else:
            sub.add_argument("topics", nargs="+", help="topics to index, e.g. dropbox.audit")
            sub.add_argument("--bootstrap-servers", required=True, help="host:port[,host:port]")
            sub.add_argument("--group", required=True, help="consumer group (offsets live there)")
            sub.add_argument("--dead-letter-topic", required=True, help="for rejected records")
            sub.add_argument("--stream", action="append", default=[], metavar="TOPIC=STREAM")
            sub.add_argument("--retries", type=int, default=5, help="per failing bulk request")
            sub.add_argument("--chunk-size", type=int, default=500, help="documents per request")
            sub.add_argument("--exit-when-idle", type=float, help="stop after N idle seconds")
            add_security_arguments(sub)  # Kafka TLS / SASL, as consumer.py
    return top


def main(argv: Sequence[str] | None = None) -> int:
    top = parser()
    args = top.parse_args(argv)
    try:
        streams = _streams(getattr(args, "stream", []))
        for topic in getattr(args, "topics", []):
            stream_of(topic, streams)
    except ValueError as exc:
        top.error(str(exc))
    # TLS / SASL settings (a missing SASL password stops here, with one line)
    kafka = security_kwargs(args, os.environ) if args.command == "index" else {}

    async def run_install() -> list[str]:
        client = AsyncOpenSearch(args.url, **_client_options(args))
        try:
            return await install(client, args.templates, args.prefix)
        finally:
            await client.close()

    async def run_index() -> tuple[Stats, IndexStats]:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await index(
            args.url,
            args.bootstrap_servers,
            args.topics,
            args.group,
            args.dead_letter_topic,
            Options(args.prefix, streams, args.retries, chunk_size=args.chunk_size),
            stop=stop,
            exit_when_idle=args.exit_when_idle,
            client_options=_client_options(args),
            **kafka,
        )

    try:
        if args.command == "install":
            for line in asyncio.run(run_install()):
                print(line, file=sys.stderr)
            return 0
        consumed, indexed = asyncio.run(run_index())
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except (IndexingError, EngineConnectionError, TransportError, KafkaError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"received={consumed.received} created={indexed.created} "
        f"already_indexed={indexed.already_indexed} dead_lettered={indexed.dead_lettered} "
        f"duplicates={consumed.duplicates} undecodable={consumed.undecodable} "
        f"retried={indexed.retried}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
