"""Deterministic event ids: the same fact gets the same id on every run, restart and replay.

An id is a UUID version 5 (SHA-1, RFC 9562) in a fixed namespace over the team id, the
event type and the parts that identify the fact, joined with the ASCII unit separator.
Consumers deduplicate on it, so what goes into it is a contract (``docs/events.md``
lists the parts per event type); changing it re-keys every event.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from typing import Any

import orjson

__all__ = ["NAMESPACE", "SnapshotSlot", "digest", "epoch", "event_id", "slot_part"]

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:dropbox-streamer:event-id")
"""Never change: every event id depends on it."""

_NS = NAMESPACE.bytes
_SEP = "\x1f"  # ASCII unit separator
_ESC = "\x1b"
_DIGEST_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


def _text(part: object) -> str:
    if part is None:
        return ""
    if isinstance(part, bool):
        return "true" if part else "false"
    if isinstance(part, datetime):
        return str(epoch(part))
    text = str(part)
    if _SEP in text or _ESC in text:  # never in Dropbox ids, but keep the join unambiguous
        text = text.replace(_ESC, _ESC + _ESC).replace(_SEP, _ESC + "_")
    return text


def event_id(team_id: str, event_type: str, *parts: object) -> str:
    """``uuid5(NAMESPACE, team_id ␟ event_type ␟ part…)`` as its canonical string.

    ``None`` counts as the empty string, booleans as ``true``/``false``, datetimes as whole
    epoch seconds; a part holding the separator is escaped. Same output as
    ``str(uuid.uuid5(...))`` in about half the time.
    """
    name = _SEP.join([team_id, event_type, *[_text(p) for p in parts]])
    raw = bytearray(hashlib.sha1(_NS + name.encode(), usedforsecurity=False).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x50  # version 5
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def digest(value: Any) -> str:
    """SHA-256 (hex, 32 chars) of canonical JSON: sorted keys, ``Z`` datetimes."""
    try:
        data = orjson.dumps(value, option=_DIGEST_OPTIONS)
    except TypeError:
        # orjson stops at 64-bit integers; an unknown Dropbox field could hold a bigger one
        data = json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
        ).encode()
    return hashlib.sha256(data).hexdigest()[:32]


def _default(value: object) -> str:
    if isinstance(value, datetime):
        return orjson.dumps(value, option=_DIGEST_OPTIONS).decode().strip('"')
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def epoch(value: datetime | None) -> int | None:
    """Whole seconds since the epoch (how states store timestamps), ``None`` stays ``None``."""
    return None if value is None else int(value.timestamp())


SnapshotSlot = int | str
"""Identifies one snapshot run, e.g. ``floor(unix time / interval)``; part of snapshot ids."""


def slot_part(slot: SnapshotSlot | None, observed_at: datetime) -> str:
    """The id part of a snapshot slot, defaulting to the observation second (then the ids
    of a snapshot differ per run)."""
    return str(epoch(observed_at) if slot is None else slot)
