"""What every stream shares: the batch it yields and the context it runs in.

A stream is an async generator of ``Batch``es. Each batch holds the events of one API page and
the state subjects they advance; the worker commits both together (see ``kafka.publisher``)
and only then folds the state into ``StreamContext.store``. A stream never writes Kafka.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

from streamer.clock import Clock
from streamer.config import Settings
from streamer.dropbox import DropboxClient
from streamer.dropbox.models import ParseResult, Record, RejectedRecord
from streamer.events.envelope import Event, EventContext, UserRef
from streamer.state import META, load_state
from streamer.streams.latch import MemberLatch

R = TypeVar("R", bound=Record)

PAGES_AHEAD = 8
"""API pages a stream fetches ahead of the one it is turning into events: the next request
is in flight while a page is processed, and a stream waiting at its ``members_latch`` gets a
head start: on a first sync the device listing (the longest chain) runs only as fast as the
members listing opens its members, and 8 rather than 4 pages ahead took 10k members at 50 ms
from 5.4-5.8 s to 5.2-5.5 s. Bounded memory: a device or app page (~100 members) is ~1 MB
parsed; streams of 1000-record pages (members, audit: ~3-10 MB parsed) keep
``BIG_PAGES_AHEAD``."""
BIG_PAGES_AHEAD = 1
YIELD_EVERY = 50
"""Records a stream turns into events before it lets the event loop run other tasks: a page
of 1000 members takes ~40 ms of CPU, and meanwhile another stream's answer (the device
listing, the longest chain) would wait unread, adding to every step of that chain."""


@dataclass
class Batch:
    events: list[Event] = field(default_factory=list)
    """For this stream's topic."""
    member_events: list[Event] = field(default_factory=list)
    """Facts about members this stream measured (``member.activity``): the members topic."""
    state: dict[str, Any] = field(default_factory=dict)
    """subject -> new state value; ``None`` deletes the subject."""
    rejected: list[RejectedRecord] = field(default_factory=list)
    """Records that failed validation (logged and counted; never silently dropped)."""
    records: int = 0
    """How many API records this batch covers (for metrics)."""


@dataclass
class StreamContext:
    team: str  # configured team name: labels logs, metrics and state keys
    team_id: str
    team_name: str
    client: DropboxClient
    clock: Clock
    settings: Settings
    store: MutableMapping[str, bytes]
    """This stream's store: subject -> packed state (a ``StateStore``, compressed in memory;
    each read of a compressed value is a fresh ``bytes``)."""
    directory: Callable[[str], UserRef | None]
    peers: Callable[[str], Mapping[str, Any]]
    """The store of another stream of the same team."""
    replay: bool = False
    """Emit snapshots of everything, diff nothing, write no state (``--replay``)."""
    members_latch: MemberLatch | None = None
    """Set while the members stream's first listing runs beside this stream: wait at it
    before reading a member's directory entry (``streams.latch``). Fetching starts at once."""

    def event_context(self, *, quiet: bool = False) -> EventContext:
        return EventContext(
            team_id=self.team_id,
            team_name=self.team_name,
            observed_at=self.clock.now(),
            include_raw=self.settings.events.include_raw,
            quiet=quiet,
        )

    def baseline(self) -> bool:
        """True while this stream has not completed its first listing and the first poll is
        a quiet baseline (``events.first_poll = "snapshot"``): record state, emit snapshots,
        but no "joined"/"started"/"linked" event for everything that already existed."""
        if self.replay or self.settings.events.first_poll != "snapshot":
            return False
        return not (self.stored(META) or {}).get("baselined")

    def snapshot_slot(self) -> int | None:
        """The snapshot slot to emit in this cycle, or None when none is due.

        Slots are ``floor(unix time / interval)``: every worker and every restart agree on
        them, so a snapshot re-emitted after a crash carries the same event ids.
        """
        now = self.clock.now().timestamp()
        if self.replay:
            return int(now)
        interval = self.settings.events.snapshot_interval
        due = int(now // interval) if interval > 0 else None
        if self.baseline():
            return due if due is not None else int(now)
        if due is None:
            return None
        meta = self.stored(META) or {}
        return None if meta.get("snapshot_slot") == due else due

    def stored(self, subject: str) -> dict[str, Any] | None:
        """This stream's state of ``subject`` as a dict (decoding packed bytes)."""
        return load_state(self.store.get(subject))

    def peer(self, stream: str, subject: str) -> Any:
        """Another stream's state of ``subject`` (e.g. sessions, for activity summaries)."""
        return self.peers(stream).get(subject)


def parse_page(
    stream: str,
    parse: Callable[[list[dict[str, Any]]], ParseResult[R]],
    records: list[dict[str, Any]],
) -> tuple[list[R], list[RejectedRecord]]:
    """The one way a stream reads API records: typed records, and the rejected ones
    stamped with the stream that read them."""
    ok, rejected = parse(records)
    return ok, [replace(r, stream=stream) for r in rejected]


class Stream(Protocol):
    name: str

    def poll(self, ctx: StreamContext) -> AsyncIterator[Batch]: ...
