"""Create the topics at start-up when allowed, otherwise verify that they exist."""

from __future__ import annotations

from typing import NoReturn

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from streamer.config import KafkaSettings
from streamer.errors import KafkaUnavailableError
from streamer.kafka.connection import client_kwargs
from streamer.kafka.diagnose import kafka_error

# The state topic keeps the newest value per key forever: cursors and the previous poll.
STATE_TOPIC_CONFIG = {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}


def wanted_topics(settings: KafkaSettings, streams: list[str]) -> dict[str, dict[str, str]]:
    topics: dict[str, dict[str, str]] = {settings.topics.for_stream(s): {} for s in streams}
    topics[settings.topics.state] = dict(STATE_TOPIC_CONFIG)
    return topics


async def ensure_topics(settings: KafkaSettings, streams: list[str]) -> list[str]:
    """Return the topics created; raise ``KafkaUnavailableError`` naming missing ones."""
    wanted = wanted_topics(settings, streams)
    admin = AIOKafkaAdminClient(**client_kwargs(settings))
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if missing and not settings.create_topics:
            _refuse_missing(missing, settings)
        created = []
        for name in missing:
            topic = NewTopic(
                name,
                num_partitions=settings.partitions,
                replication_factor=settings.replication_factor,
                topic_configs=wanted[name],
            )
            try:
                response = await admin.create_topics([topic])
            except TopicAlreadyExistsError:
                continue  # another worker won the race: fine
            _raise_for_create_errors(response, settings)
            created.append(name)
    except KafkaUnavailableError:
        raise
    except (KafkaError, OSError) as exc:
        raise await kafka_error(settings, exc, "to check topics") from None
    else:
        return created
    finally:
        await admin.close()


def _refuse_missing(missing: list[str], settings: KafkaSettings) -> NoReturn:
    raise KafkaUnavailableError(
        f"topics missing on {settings.bootstrap_servers}: {', '.join(missing)}; "
        "create them (the state topic with cleanup.policy=compact) or set "
        "kafka.create_topics = true"
    )


def _raise_for_create_errors(response: object, settings: KafkaSettings) -> None:
    # CreateTopicsResponse.topic_errors: (name, error_code, [error_message])
    for entry in getattr(response, "topic_errors", []):
        name, code = entry[0], entry[1]
        message = entry[2] if len(entry) > 2 else None
        if code not in (0, 36):  # 36 = TOPIC_ALREADY_EXISTS
            raise KafkaUnavailableError(
                f"Kafka refused to create topic {name!r} (error {code}: {message}); create it "
                f"by hand or check that partitions={settings.partitions} and "
                f"replication_factor={settings.replication_factor} suit the cluster"
            )
