"""How an event becomes a Kafka record's value and headers: the topic's format.

``native``: ``Event.to_json()`` and ``Event.headers()``. ``ocsf``: the OCSF form
(``streamer.events.ocsf``) with the same headers plus ``format=ocsf`` and ``ocsf_class_uid``.
The key is the same in both (``Event.key()``), so per-member order holds either way.
The worker picks one encoder per stream at start-up (``kafka.formats.<stream>``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from streamer.events.envelope import Event
from streamer.events.ocsf import encode_ocsf

__all__ = ["ENCODERS", "Encoder", "encode_native", "encoders"]

Encoder = Callable[[Event], tuple[bytes, list[tuple[str, bytes]]]]
"""Event → (record value, record headers)."""


def encode_native(event: Event) -> tuple[bytes, list[tuple[str, bytes]]]:
    return event.to_json(), event.headers()


ENCODERS: dict[str, Encoder] = {"native": encode_native, "ocsf": encode_ocsf}
"""Format name (``kafka.formats.<stream>``) → its encoder."""


def encoders(formats: Mapping[str, str]) -> dict[str, Encoder]:
    """``{stream: format}`` → ``{stream: encoder}``; raises ``KeyError`` for an unknown format."""
    return {stream: ENCODERS[name] for stream, name in formats.items()}
