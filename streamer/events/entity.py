"""What the listing reconciler (``streams.reconcile``) needs of an entity: one signature each.

Every inventory entity (members, sessions, apps; the team too) is described the same way:

- ``subject(record)``: the state subject a record is about (the team member's id);
- ``diff(stored, record, user, ctx)``: the stored state (dict or packed bytes) and the
  current record (``None``: no longer listed) → ``(events, new state)``, the new state being
  ``stored`` itself when nothing changed and ``None`` when the subject is gone; with
  ``ctx.quiet`` the same state, no events built (a baseline poll records state only);
- ``snapshots(record, user, ctx, slot)``: the snapshot events of one record.

``user`` is the member's ``user`` part from the members stream's state (the directory) when
the caller has it; the members entity builds its own from the record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from streamer.events.envelope import Event, EventContext, UserRef
from streamer.events.ids import SnapshotSlot
from streamer.state import Stored

R = TypeVar("R")
R_contra = TypeVar("R_contra", contravariant=True)

__all__ = ["Diff", "Entity", "Snapshots"]


class Diff(Protocol[R_contra]):
    def __call__(
        self,
        stored: Stored | None,
        record: R_contra | None,
        user: UserRef | None,
        ctx: EventContext,
    ) -> tuple[list[Event], Stored | None]: ...


Snapshots = Callable[[R, "UserRef | None", EventContext, "SnapshotSlot | None"], list[Event]]
"""(record, its member's directory entry, context, slot) → snapshot events."""


@dataclass(frozen=True, slots=True)
class Entity(Generic[R]):
    name: str
    subject: Callable[[R], str]
    diff: Diff[R]
    snapshots: Snapshots[R]
