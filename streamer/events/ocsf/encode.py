"""One native event → its OCSF form, and the Kafka record value and headers of it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from streamer.events.envelope import Event, encode_json
from streamer.events.ocsf import audit, base, native
from streamer.events.ocsf.classes import (
    Json,
)


def ocsf_json(event: Event) -> bytes:
    """``to_ocsf(event)`` as compact JSON (UTF-8, datetimes in ``unmapped`` as ``…Z``)."""
    return encode_json(to_ocsf(event))


def encode_ocsf(event: Event) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The Kafka record value and headers of ``event`` in OCSF (the key stays ``event.key()``)."""
    data = to_ocsf(event)
    return encode_json(data), ocsf_headers(event, data)


def ocsf_headers(event: Event, data: Mapping[str, Any]) -> list[tuple[str, bytes]]:
    """The native headers plus ``format=ocsf`` and the OCSF class (for routing without parsing)."""
    return [
        *event.headers(),
        ("format", b"ocsf"),
        ("ocsf_class_uid", str(data["class_uid"]).encode()),
    ]


def to_ocsf(event: Event) -> Json:
    """The OCSF form of ``event`` (see ``docs/ocsf.md`` for the mapping)."""
    mapper = _BUILDERS.get(event.event_type)
    out = mapper(event) if mapper is not None else None
    if out is None:
        out = base.catch_all(event, event.event_type)
    unmapped = event.to_dict()
    raw = unmapped.pop("raw", None)
    out["unmapped"] = unmapped
    if raw is not None:
        out["raw_data"] = encode_json(raw).decode()
    return out


_BUILDERS: dict[str, Callable[[Event], Json | None]] = {
    **native.BUILDERS,
    "audit.event": audit.audit_event,
}
"""Event type → its OCSF builder (``None`` from a builder: the catch-all Base Event)."""
