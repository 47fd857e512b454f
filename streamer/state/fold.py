"""The process's states: every stream's store, and how a state-topic record folds into them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, MutableMapping

from streamer.state.keys import split_record_key
from streamer.state.store import StateStore

__all__ = ["StateStores", "fold", "fold_record"]

StateStores = defaultdict[str, StateStore]
"""Stream key (``acme/members``, ``state.keys.stream_key``) → that stream's store. Each
store keeps its states packed (100k members' states are ~4x smaller as bytes than as dicts),
and compressed with a dictionary of its own once it is large (~3x smaller again)."""


def fold(store: MutableMapping[str, bytes], changes: Mapping[str, bytes | None]) -> None:
    """Apply committed changes to a store: a new packed state, or ``None`` to delete."""
    for subject, value in changes.items():
        if value is None:
            if subject in store:  # not pop(): it would decompress the old value
                del store[subject]
        else:
            store[subject] = value  # the store interns the subject


def fold_record(states: StateStores, key: bytes, value: bytes | None) -> None:
    """Fold one state-topic record into the stores (later records win, tombstones delete)."""
    stream, subject = split_record_key(key)
    # a right-sized copy of the consumer's buffer; decoded lazily by whoever reads it
    fold(states[stream], {subject: None if value is None else bytes(value)})
