"""A stream's batch as the Kafka records one commit writes. Pure: no I/O.

Events go to their stream's topic (``kafka.topics.<stream>``) in that topic's format
(``kafka.formats.<stream>``); the ``member.activity`` summaries a sessions listing measures
go to the members topic, as every fact about a member does. States are packed (the very
JSON bytes written to the state topic) and keyed by ``state.record_key``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from streamer.config import STREAM_NAMES, KafkaSettings
from streamer.dropbox.models import RejectedRecord
from streamer.events.formats import Encoder, encoders
from streamer.kafka.publisher import OutRecord
from streamer.state import pack_state, record_key
from streamer.streams.base import Batch

__all__ = ["Outbox", "Prepared", "merge"]

MEMBERS = "members"


@dataclass
class Prepared:
    """A stream's batch as the commit sends it: events encoded, states packed.

    Made as soon as the stream yields the batch, so the pages waiting for a commit are held
    as record bytes, not as events that reference the API page's parsed dicts (``raw``):
    at 100k members the parsed pages were the largest part of the worker's peak memory.
    """

    records: list[OutRecord]
    state: dict[str, bytes | None]
    """subject -> packed state; ``None`` deletes the subject."""
    rejected: list[RejectedRecord]
    api_records: int
    """How many API records the batch covers (for metrics)."""
    by_type: dict[str, int]
    newest: datetime | None
    """The newest event time in the batch (backfill progress)."""


class Outbox:
    """Where each stream's records go (topic, format) and how states are keyed."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self._routes: dict[str, tuple[str, Encoder]] = {
            stream: (kafka.topics.for_stream(stream), encoder)
            for stream, encoder in encoders(
                {s: kafka.formats.for_stream(s) for s in STREAM_NAMES}
            ).items()
        }
        self._state_topic = kafka.topics.state

    def prepare(self, stream: str, batch: Batch) -> Prepared:
        """``stream``'s batch as records: its events to its topic, the member events to the
        members topic, each in its topic's format."""
        by_type: dict[str, int] = {}
        newest: datetime | None = None
        records: list[OutRecord] = []
        for route, events in ((stream, batch.events), (MEMBERS, batch.member_events)):
            topic, encode = self._routes[route]
            for event in events:
                records.append(OutRecord(topic, event.key(), *encode(event)))
                by_type[event.event_type] = by_type.get(event.event_type, 0) + 1
                if newest is None or event.event_time > newest:
                    newest = event.event_time
        return Prepared(
            records=records,
            # kept packed, as the very JSON bytes written to Kafka: 4x less memory than dicts
            # (and the store compresses them once it is large)
            state={subject: pack_state(value) for subject, value in batch.state.items()},
            rejected=batch.rejected,
            api_records=batch.records,
            by_type=by_type,
            newest=newest,
        )

    def state_records(
        self, team: str, namespace: str, state: Mapping[str, bytes | None]
    ) -> list[OutRecord]:
        """The state topic's records of a prepared batch's states (``None``: a tombstone)."""
        topic = self._state_topic
        return [
            OutRecord(topic, record_key(team, namespace, subject), value)
            for subject, value in state.items()
        ]


def merge(batches: list[Prepared]) -> Prepared:
    """Consecutive pages as one batch: records in order, later state of a subject wins."""
    merged = Prepared([], {}, [], 0, {}, None)
    for batch in batches:
        merged.records.extend(batch.records)
        merged.state.update(batch.state)
        merged.rejected.extend(batch.rejected)
        merged.api_records += batch.api_records
        for event_type, count in batch.by_type.items():
            merged.by_type[event_type] = merged.by_type.get(event_type, 0) + count
        if batch.newest is not None and (merged.newest is None or batch.newest > merged.newest):
            merged.newest = batch.newest
    return merged
