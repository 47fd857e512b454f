"""What the worker remembers between polls, in one vocabulary.

Glossary::

    subject      what one state is about: a team member's id (members, sessions, apps), "team",
                 the audit "cursor" (or a backfill window), or a bookkeeping subject
    bookkeeping  a subject starting with "~": META (a stream's snapshot slot, baseline done) and
                 PROGRESS markers (subjects already snapshotted in an interrupted listing)
    state        the JSON object of one subject of one stream (``State`` as a dict)
    packed       a state as its JSON bytes: the state topic's value (``Stored`` = dict or bytes)
    store        one stream's states: subject -> packed state (``StateStore``; compressed in
                 memory once large)
    stream key   "<team>/<stream>" (or "<team>/backfill"): which store (``stream_key``)
    states       every store of the process, by stream key (``StateStores``)
    record key   "<team>/<stream>/<subject>": the state topic's key (``record_key``)
    fold         apply committed changes to a store: a new packed state, or ``None`` to delete

A state is written to the compacted state topic with the events it covers (the same
transaction in exactly-once mode), folded into its store only after that commit, and read
back at start-up (``kafka.state.restore_state``).
"""

from streamer.state.fold import StateStores, fold, fold_record
from streamer.state.keys import (
    META,
    PROGRESS,
    is_bookkeeping,
    record_key,
    split_record_key,
    stream_key,
)
from streamer.state.packed import State, Stored, load_state, pack_state
from streamer.state.store import SAMPLES, TRAIN_AT, StateStore

__all__ = [
    "META",
    "PROGRESS",
    "SAMPLES",
    "TRAIN_AT",
    "State",
    "StateStore",
    "StateStores",
    "Stored",
    "fold",
    "fold_record",
    "is_bookkeeping",
    "load_state",
    "pack_state",
    "record_key",
    "split_record_key",
    "stream_key",
]
