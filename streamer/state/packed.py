"""A state as a dict, and packed: the JSON bytes the state topic and the stores hold.

Every entity's ``diff`` takes the previous state either as a dict or packed, and when nothing
changed returns that very object. Holding the packed form is what keeps a large team small:
100k members with a few sessions and an app each take about 116 MB as bytes but about 460 MB
as dicts (measured; see ``docs/events.md``). The stores (``state.store.StateStore``) go
further: once a store is large it holds the bytes zstd-compressed with a dictionary trained on
its own values (~3x smaller; 120 MB -> 52 MB of memory for those 100k members) and hands out
the plain JSON bytes again on each read.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["State", "Stored", "load_state", "pack_state"]

State = dict[str, Any]
"""A state as a JSON-able dict (each entity module of ``events`` documents its shape)."""

Stored = State | bytes
"""A state as a dict or packed as JSON bytes."""


def pack_state(state: Stored | None) -> bytes | None:
    """A state as compact JSON bytes (``None`` stays ``None``: delete the subject).

    The bytes are a right-sized copy: an ``orjson.dumps`` result is carved from a larger
    buffer, and keeping hundreds of thousands of them alive fragments the heap badly
    (measured: 1.6 GB instead of 116 MB for 300k states).
    """
    if state is None:
        return None
    if isinstance(state, bytes):
        return state
    return bytes(memoryview(orjson.dumps(state)))


def load_state(stored: Stored | None) -> State | None:
    """The dict form of a stored state (decoding packed bytes)."""
    if stored is None or isinstance(stored, dict):
        return stored
    value = orjson.loads(stored)
    if not isinstance(value, dict):
        # ValueError like the JSON decode errors a corrupt record raises: one family to catch
        raise ValueError(  # noqa: TRY004
            f"a stored state must be a JSON object, not {type(value).__name__}"
        )
    return value
