"""The listing reconciler: one listing of an inventory stream against the stored states.

Pure and synchronous: it is fed ``(subject, record)`` pairs page by page and reads the
stores it is given; it returns batches (events + the state changes they cover) and never
awaits, fetches or commits. ``streams.inventory.InventoryStream`` drives the I/O around it.

Per page: each subject is diffed against its stored state (``Entity.diff``), and snapshotted
when a snapshot is due. After a complete listing (``finish``): every stored subject that was
not listed has vanished; its diff against "nothing" closes it (member removed, sessions
ended, apps unlinked) and its state is deleted. A listing cut short by a crash or a stop is
simply started again: subjects already committed diff as unchanged, so nothing is emitted
twice. A listing that Dropbox restarts (a cursor reset) skips the subjects this listing
already handled; a change to one of them in between is seen by the next poll.

Snapshots (and activity summaries) are due per slot, and the slot is recorded in ``META``
only by the last batch. So that a listing restarted within the slot does not snapshot again
what it already committed, each page that snapshots records its subjects under a PROGRESS
subject (``~snapshot:<first subject>``), committed with the page's events (in the same
transaction in exactly-once mode); the last batch deletes them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from streamer.dropbox.models import RejectedRecord
from streamer.events.entity import Entity
from streamer.events.envelope import Event, EventContext, UserRef
from streamer.events.ids import SnapshotSlot
from streamer.state import META, PROGRESS, Stored, is_bookkeeping, load_state
from streamer.streams.base import Batch

__all__ = ["TAIL_BATCH", "Listing", "Plan", "Summary"]

R = TypeVar("R")

TAIL_BATCH = 1000
"""At most this many events per batch after the listing (vanished subjects, summaries)."""

Summary = Callable[
    [str, "Stored | None", "UserRef | None", EventContext, SnapshotSlot], Event | None
]
"""(member id, its fresh state of this stream, directory entry, context, slot) → the
member's summary event, emitted with each snapshot (members the listing did not show get
one too, from no state)."""


@dataclass(frozen=True)
class Plan:
    """What this listing emits besides changes, decided before it starts."""

    baseline: bool
    """A quiet first listing: states and snapshots, no change events."""
    replay: bool
    """Snapshots of everything, no diff, no state written (``--replay``)."""
    slot: SnapshotSlot | None
    """The snapshot slot due in this listing, or None."""
    done: frozenset[str] = frozenset()
    """Subjects an interrupted listing already snapshotted in this slot."""
    progress: tuple[str, ...] = ()
    """The PROGRESS subjects found at the start (deleted by the last batch)."""

    @classmethod
    def of(
        cls,
        store: Mapping[str, bytes],
        *,
        baseline: bool,
        replay: bool,
        slot: SnapshotSlot | None,
        scheduled: bool,
    ) -> Plan:
        """The plan for a listing over ``store``; ``scheduled``: snapshot slots come from
        ``events.snapshot_interval`` (else a baseline's slot is the time it began)."""
        progress = tuple(s for s in store if s.startswith(PROGRESS))
        if baseline and not scheduled and progress:
            # no scheduled slots: a baseline restarted after a crash keeps the slot its
            # committed pages were snapshotted in
            slot = (load_state(store.get(progress[0])) or {}).get("slot", slot)
        done: set[str] = set()
        if slot is not None:
            for marker in progress:
                value = load_state(store.get(marker)) or {}
                if value.get("slot") == slot:
                    done.update(value.get("subjects", ()))
        return cls(baseline, replay, slot, frozenset(done), progress)


@dataclass
class Listing(Generic[R]):
    """One listing of one inventory stream, reconciled subject by subject.

    ``store`` is the stream's live store (batches are folded into it as they are
    committed); ``directory`` gives a member's ``user`` part (``None``: the entity is the
    directory itself); ``members`` is the members stream's store (whom summaries cover).
    """

    entity: Entity[R]
    store: Mapping[str, bytes]
    plan: Plan
    directory: Callable[[str], UserRef | None] | None = None
    summary: Summary | None = None
    members: Mapping[str, bytes] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    """Subjects this listing has handled (or found rejected: listed all the same)."""
    _markers: list[str] = field(default_factory=list)
    _snapped: list[str] = field(default_factory=list)  # the page's snapshotted subjects

    def __post_init__(self) -> None:
        self._markers = list(self.plan.progress)

    def start_page(self, rejected: list[RejectedRecord], records: int) -> Batch:
        """The batch of a new page; its records come through ``add``."""
        # A record that failed validation was still listed: never mistake it for gone.
        self.seen.update(r.subject for r in rejected if r.subject)
        self._snapped = []
        return Batch(rejected=rejected, records=records)

    def add(self, batch: Batch, pairs: Iterable[tuple[str, R]], ctx: EventContext) -> None:
        """Reconcile ``(subject, record)`` pairs of the page into its batch."""
        plan, entity, store = self.plan, self.entity, self.store
        for subject, record in pairs:
            if subject in self.seen:
                # listed again after a cursor reset: this listing has handled it (its state
                # may not be committed yet, so a second diff would repeat its events)
                continue
            self.seen.add(subject)
            # once: snapshot, diff and summary share it
            user = self.directory(subject) if self.directory is not None else None
            due = plan.slot if subject not in plan.done else None  # this subject's snapshot
            if due is not None:
                batch.events.extend(entity.snapshots(record, user, ctx, due))
                self._snapped.append(subject)
            if plan.replay:
                continue
            stored = store.get(subject)
            events, state = entity.diff(stored, record, user, ctx)
            batch.events.extend(events)
            if state is not stored:  # a diff returns what it was given when nothing changed
                batch.state[subject] = state
            if due is not None and self.summary is not None:
                summary = self.summary(subject, state, user, ctx, due)
                if summary is not None:
                    batch.member_events.append(summary)

    def end_page(self, batch: Batch) -> Batch:
        """The page's batch, with its PROGRESS marker when it snapshotted subjects."""
        if self._snapped and not self.plan.replay:
            marker = PROGRESS + self._snapped[0]
            batch.state[marker] = {"slot": self.plan.slot, "subjects": self._snapped}
            self._markers.append(marker)
        return batch

    def finish(self, ctx: EventContext) -> Iterator[Batch]:
        """After the whole listing: the vanished subjects, the summaries of the members it
        did not show, and the bookkeeping (at most ``TAIL_BATCH`` events per batch)."""
        plan, store = self.plan, self.store
        if plan.replay:
            return
        final = Batch()
        for subject in [s for s in list(store) if not is_bookkeeping(s) and s not in self.seen]:
            user = self.directory(subject) if self.directory is not None else None
            events, _ = self.entity.diff(store[subject], None, user, ctx)
            final.events.extend(events)
            final.state[subject] = None
            if len(final.events) >= TAIL_BATCH:
                yield final  # bounded memory when many subjects vanish at once
                final = Batch()
        stored_meta = load_state(store.get(META))
        meta: dict[str, Any] = {**(stored_meta or {}), "baselined": True}
        if plan.slot is not None:
            if self.summary is not None:
                for member_id in [
                    m for m in list(self.members) if not is_bookkeeping(m) and m not in self.seen
                ]:
                    user = self.directory(member_id) if self.directory is not None else None
                    summary = self.summary(member_id, None, user, ctx, plan.slot)
                    if summary is not None:
                        final.member_events.append(summary)
                    if len(final.events) + len(final.member_events) >= TAIL_BATCH:
                        yield final  # e.g. 30k members without a device: not one batch
                        final = Batch()
            meta["snapshot_slot"] = plan.slot
        for marker in self._markers:
            final.state[marker] = None  # the slot goes into META with this very batch
        if meta != stored_meta:
            final.state[META] = meta
        yield final
