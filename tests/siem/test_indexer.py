"""docs/recipes/opensearch_indexer.py on its own, against the real broker and both real engines:
rejected documents go to the dead-letter topic and the offsets move on; an engine that keeps
failing stops the indexer before it commits (a restart indexes everything); a rollover of the
write alias is invisible to the indexer; a missing alias or dead-letter topic stops it before
it reads anything."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import orjson
import pytest
import pytest_asyncio
from aiohttp import ClientSession, web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streamer.events.envelope import Event
from streamer.events.formats import encode_native
from tests.kafka_broker import KafkaSasl, KafkaTopicFactory, consume_exactly
from tests.siem.support import (
    ROOT,
    client,
    counts_line,
    flat_mapping,
    indexer,
    request,
    run_indexer,
    template_mapping,
)

sys.path.insert(0, str(ROOT / "tests" / "unit" / "events"))
from event_support import sample_events

# the session's first test also starts both engines; a deadline, not a speed target
pytestmark = [pytest.mark.kafka, pytest.mark.search, pytest.mark.timeout(600)]


@pytest_asyncio.fixture
async def installed(search_url: str) -> AsyncIterator[str]:
    """A fresh prefix with the templates and aliases installed; deleted afterwards."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    code, err = await run_indexer("install", "--url", search_url, "--prefix", prefix)
    assert code == 0, err
    assert err.count(f"index {prefix}-") == 10, err
    yield prefix
    engine = client(search_url)
    try:
        await request(engine, "DELETE", f"/{prefix}-*")
        await request(engine, "DELETE", f"/_index_template/{prefix}-*")
    finally:
        await engine.close()


def audit_events(count: int, offset: int = 0) -> list[Event]:
    """``count`` distinct events (distinct ids) for the audit alias."""
    base = sample_events()["audit.event"]
    return [replace(base, event_id=str(uuid.UUID(int=offset + i))) for i in range(count)]


async def produce(bootstrap: str, topic: str, records: list[tuple[bytes, list[Any]]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for value, headers in records:
            await producer.send_and_wait(topic, value, key=b"k", headers=headers)
    finally:
        await producer.stop()


def native(event: Event) -> tuple[bytes, list[Any]]:
    value, headers = encode_native(event)
    return value, list(headers)


async def read_raw(bootstrap: str, topic: str, expected: int) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        return await consume_exactly(consumer, expected)
    finally:
        await consumer.stop()


async def count(url: str, index: str) -> int:
    engine = client(url)
    try:
        await request(engine, "POST", f"/{index}/_refresh")
        result = await request(engine, "GET", f"/{index}/_count")
        return int(result["count"])
    finally:
        await engine.close()


async def run(url: str, bootstrap: str, topic: str, group: str, prefix: str, dlq: str) -> Any:
    recipe = indexer()
    options = recipe.Options(prefix, {topic: "audit"}, retries=2, backoff=0.05)
    return await recipe.index([url], bootstrap, [topic], group, dlq, options, exit_when_idle=2)


async def test_rejected_documents_go_to_the_dead_letter_topic_and_the_offsets_move_on(
    search_url: str, installed: str, kafka_bootstrap: str, kafka_topic_factory: KafkaTopicFactory
) -> None:
    topic, dlq = await kafka_topic_factory(2), await kafka_topic_factory(1)
    good = audit_events(3)
    bad_time = audit_events(1, offset=100)[0]
    value, headers = native(bad_time)
    bad_value = value.replace(b'"event_time":"', b'"event_time":"yesterday ', 1)
    records = [
        *map(native, good),
        (bad_value, headers),  # the engine rejects it: not a date
        (b"not json at all", [("event_id", b"x")]),
        (orjson.dumps({"hello": "world"}), []),  # no id anywhere
        native(good[0]),  # a re-delivery: dropped by the consumer
    ]
    await produce(kafka_bootstrap, topic, records)
    group = f"g{uuid.uuid4().hex[:8]}"

    consumed, stats = await run(search_url, kafka_bootstrap, topic, group, installed, dlq)

    assert (consumed.received, consumed.duplicates) == (7, 1)
    assert (stats.created, stats.dead_lettered) == (3, 3)
    assert await count(search_url, f"{installed}-native-audit") == 3
    by_value = {m.value: dict(m.headers) for m in await read_raw(kafka_bootstrap, dlq, 3)}
    assert set(by_value) == {bad_value, b"not json at all", orjson.dumps({"hello": "world"})}
    rejected = by_value[bad_value]
    assert rejected["dead_letter_reason"].startswith(b"400 mapper_parsing_exception")
    assert b"event_time" in rejected["dead_letter_reason"]
    assert rejected["event_id"] == bad_time.event_id.encode()  # original headers kept
    assert rejected["source_topic"] == topic.encode()
    assert by_value[b"not json at all"]["dead_letter_reason"] == b"not a JSON object"
    assert by_value[orjson.dumps({"hello": "world"})]["dead_letter_reason"].startswith(
        b"no event id"
    )

    again, _ = await run(search_url, kafka_bootstrap, topic, group, installed, dlq)
    assert again.received == 0, "offsets were committed after the bulk and the dead letters"


async def failing_bulk_proxy(target: str) -> tuple[web.AppRunner, str]:
    """An HTTP proxy to the engine that answers every _bulk with 503."""
    session = ClientSession()

    async def forward(request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/_bulk"):
            return web.json_response({"error": "unavailable"}, status=503)
        async with session.request(
            request.method,
            target + request.path_qs,
            data=await request.read(),
            headers={"content-type": request.headers.get("content-type", "application/json")},
        ) as upstream:
            body = await upstream.read()
            return web.Response(body=body, status=upstream.status, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    app.on_cleanup.append(lambda _: session.close())
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def test_an_engine_that_keeps_failing_stops_the_indexer_before_it_commits(
    search_url: str, installed: str, kafka_bootstrap: str, kafka_topic_factory: KafkaTopicFactory
) -> None:
    topic, dlq = await kafka_topic_factory(1), await kafka_topic_factory(1)
    await produce(kafka_bootstrap, topic, [native(e) for e in audit_events(5)])
    group = f"g{uuid.uuid4().hex[:8]}"
    runner, proxy = await failing_bulk_proxy(search_url)
    try:
        with pytest.raises(indexer().IndexingError, match="503"):
            await run(proxy, kafka_bootstrap, topic, group, installed, dlq)
    finally:
        await runner.cleanup()
    assert await count(search_url, f"{installed}-native-audit") == 0

    consumed, stats = await run(search_url, kafka_bootstrap, topic, group, installed, dlq)
    assert (consumed.received, stats.created) == (5, 5), "the same group reads it all again"
    assert await count(search_url, f"{installed}-native-audit") == 5


async def test_indexing_goes_on_through_a_rollover_of_the_write_alias(
    search_url: str, installed: str, kafka_bootstrap: str, kafka_topic_factory: KafkaTopicFactory
) -> None:
    topic, dlq = await kafka_topic_factory(1), await kafka_topic_factory(1)
    alias = f"{installed}-native-audit"
    group = f"g{uuid.uuid4().hex[:8]}"
    await produce(kafka_bootstrap, topic, [native(e) for e in audit_events(4)])
    await run(search_url, kafka_bootstrap, topic, group, installed, dlq)

    engine = client(search_url)
    try:
        rolled = await request(engine, "POST", f"/{alias}/_rollover")
        assert rolled["rolled_over"]
        assert rolled["new_index"] == f"{alias}-000002"
        await produce(kafka_bootstrap, topic, [native(e) for e in audit_events(3, offset=50)])
        _, stats = await run(search_url, kafka_bootstrap, topic, group, installed, dlq)
        assert stats.created == 3
        assert await count(search_url, f"{alias}-000001") == 4
        assert await count(search_url, f"{alias}-000002") == 3
        assert await count(search_url, alias) == 7  # searching the alias sees both
        aliases = await request(engine, "GET", f"/_alias/{alias}")
        writes = {i for i, a in aliases.items() if a["aliases"][alias].get("is_write_index")}
        assert writes == {f"{alias}-000002"}
        mapping = await request(engine, "GET", f"/{alias}-000002/_mapping")
        properties = mapping[f"{alias}-000002"]["mappings"]["properties"]
        assert flat_mapping(properties) == template_mapping("native")
    finally:
        await engine.close()


async def test_a_missing_alias_or_dead_letter_topic_stops_it_before_reading(
    search_url: str, installed: str, kafka_bootstrap: str, kafka_topic_factory: KafkaTopicFactory
) -> None:
    topic = await kafka_topic_factory(1)
    common = ["--url", search_url, "--bootstrap-servers", kafka_bootstrap, "--group", "g"]
    code, err = await run_indexer(
        "index", *common, "--prefix", "nothing-installed", "--dead-letter-topic", topic,
        "--stream", f"{topic}=audit", topic,
    )  # fmt: skip
    assert code == 3, err
    assert "nothing-installed-native-audit does not exist: run install first" in err
    code, err = await run_indexer(
        "index", *common, "--prefix", installed, "--dead-letter-topic", "no-such-topic",
        "--stream", f"{topic}=audit", topic,
    )  # fmt: skip
    assert code == 3, err
    assert "dead-letter topic no-such-topic does not exist" in err


async def test_a_topic_of_no_known_stream_is_a_usage_error() -> None:
    code, err = await run_indexer(
        "index", "--url", "http://127.0.0.1:9", "--bootstrap-servers", "127.0.0.1:9",
        "--group", "g", "--dead-letter-topic", "d", "events",
    )  # fmt: skip
    assert code == 2
    assert "cannot tell which stream topic 'events' carries: pass --stream events=STREAM" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("topic", "stream"),
    [("dropbox.audit", "audit"), ("acme.prod.members", "members"), ("x.team", "team")],
)
def test_topics_name_their_stream_by_the_last_dotted_part(topic: str, stream: str) -> None:
    assert indexer().stream_of(topic, {}) == stream


def test_install_renames_templates_patterns_and_aliases_to_the_prefix() -> None:
    templates = indexer().load_templates(ROOT / "deploy" / "opensearch", "acme")
    body = templates["index_templates/acme-ocsf-audit"]
    assert body["index_patterns"] == ["acme-ocsf-audit-*"]
    assert body["composed_of"] == ["acme-settings", "acme-ocsf-mappings"]
    assert body["_meta"]["write_alias"] == "acme-ocsf-audit"
    assert sorted(k for k in templates if k.startswith("component")) == [
        "component_templates/acme-native-mappings",
        "component_templates/acme-ocsf-mappings",
        "component_templates/acme-settings",
    ]


async def test_it_reads_through_the_sasl_listener_with_the_consumer_recipes_options(
    search_url: str,
    installed: str,
    kafka_bootstrap: str,
    kafka_sasl: KafkaSasl,
    kafka_topic_factory: KafkaTopicFactory,
) -> None:
    topic, dlq = await kafka_topic_factory(1), await kafka_topic_factory(1)
    await produce(kafka_bootstrap, topic, [native(e) for e in audit_events(2)])
    mechanism = kafka_sasl.mechanisms[-1]
    code, err = await run_indexer(
        "index", "--url", search_url, "--prefix", installed,
        "--bootstrap-servers", kafka_sasl.bootstrap_servers,
        "--security-protocol", "SASL_PLAINTEXT", "--sasl-mechanism", mechanism,
        "--sasl-username", kafka_sasl.username, "--group", f"g{uuid.uuid4().hex[:8]}",
        "--dead-letter-topic", dlq, "--stream", f"{topic}=audit", "--exit-when-idle", "2",
        topic,
        env={"KAFKA_SASL_PASSWORD": kafka_sasl.password},
    )  # fmt: skip
    assert code == 0, err
    assert counts_line(err)["created"] == 2
    assert kafka_sasl.password not in err
