"""A caching read view of the World, shaped for the routes.

The World is static between ``advance`` calls, so everything derived from it (member order,
filtered positions, encoded records) is cached. ``sync`` runs at the start of every request and
notices when the world moved on (``(world.now, len(world.changes))`` differs, so calls of
``world.advance`` made directly on the object are noticed too). It then drops only what the new
``Change`` records touch: the World guarantees that diffing two snapshots recovers exactly its
changes, so a member without a change has the same member / devices / apps JSON as before. (With
``incremental=False`` every cache is dropped instead.) Records are kept as orjson-encoded fragments
and spliced into pages, which makes a 1000-member page a join of 1000 byte strings.
Unknown-field / unknown-tag noise bypasses the cache (it is random per record).

The audit log is append-only, so its encoded events are kept across generations.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol

import orjson

from streamer.simulator import http_noise as noise
from streamer.simulator.faults import FaultInjector

DeviceFlags = tuple[bool, bool, bool]  # include web, desktop, mobile


def _encode(value: Any) -> bytes:
    """orjson output for long-term caching: orjson hands back bytes with several KB of spare
    capacity; an exact-size copy makes the cache ~6x smaller (and costs nothing measurable)."""
    return memoryview(orjson.dumps(value)).tobytes()


class ChangeLike(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def member_id(self) -> str: ...
    @property
    def subject_id(self) -> str | None: ...
    @property
    def at(self) -> datetime: ...
    @property
    def details(self) -> dict[str, Any]: ...


class WorldLike(Protocol):
    """The part of ``streamer.simulator.world.World`` the server uses."""

    team_id: str
    team_name: str

    @property
    def now(self) -> datetime: ...
    @property
    def changes(self) -> Sequence[ChangeLike]: ...
    def advance(self, seconds: float) -> Sequence[ChangeLike]: ...
    def team_info(self) -> dict[str, Any]: ...
    def feature_values(self, features: list[str]) -> list[dict[str, Any]]: ...
    def admin_member_id(self) -> str: ...
    def member_order(self) -> list[str]: ...
    def is_removed(self, member_id: str) -> bool: ...
    def member_info(self, member_id: str) -> dict[str, Any]: ...
    def find_member(self, tag: str, value: str) -> str | None: ...
    def member_devices(
        self, member_id: str, *, web: bool = True, desktop: bool = True, mobile: bool = True
    ) -> dict[str, Any] | None: ...
    def member_devices_single(
        self, member_id: str, *, web: bool = True, desktop: bool = True, mobile: bool = True
    ) -> dict[str, Any]: ...
    def member_linked_apps(self, member_id: str) -> dict[str, Any] | None: ...
    def audit_log(self) -> list[dict[str, Any]]: ...
    def audit_events(
        self,
        start: datetime | None,
        end: datetime | None,
        category: str | None,
        *,
        event_type: str | None = None,
        account_id: str | None = None,
    ) -> list[int]: ...
    def truth(self) -> dict[str, Any]: ...


class WorldView:
    def __init__(
        self, world: WorldLike, injector: FaultInjector, *, incremental: bool = True
    ) -> None:
        self.world = world
        self.injector = injector
        self.incremental = incremental
        self._key: tuple[datetime, int] | None = None
        self._seen = 0  # changes already applied to the caches
        self._order: list[str] = []
        self._positions: dict[bool, list[int]] = {}
        self._members: dict[str, bytes] = {}
        self._devices: dict[DeviceFlags, dict[str, bytes | None]] = {}
        self._apps: dict[str, bytes | None] = {}
        self._team_info: bytes | None = None
        self._audit: list[dict[str, Any]] = []
        self._events: list[bytes] = []
        self._matches: dict[tuple[Any, ...], list[int]] = {}
        self._accounts: set[Any] | None = None

    # --- generation ---------------------------------------------------------------------------
    def sync(self) -> None:
        world = self.world
        key = (world.now, len(world.changes))
        if key == self._key:
            return
        changes = world.changes
        if self.incremental and self._key is not None and self._seen <= len(changes):
            self._forget([c for c in changes[self._seen :]])
        else:
            self._members.clear()
            self._devices.clear()
            self._apps.clear()
            self._positions.clear()
            self._accounts = None
        self._key = key
        self._seen = len(changes)
        self._order = world.member_order()
        self._team_info = None
        self._matches.clear()
        self._audit = world.audit_log()
        if len(self._audit) < len(self._events):
            self._events.clear()

    def _forget(self, changes: list[ChangeLike]) -> None:
        touched = {c.member_id for c in changes}
        for member_id in touched:
            self._members.pop(member_id, None)
            self._apps.pop(member_id, None)
            for per_member in self._devices.values():
                per_member.pop(member_id, None)
        if any(c.kind.startswith("member.") for c in changes):
            self._positions.clear()
            self._accounts = None

    @property
    def noisy(self) -> bool:
        f = self.injector.faults
        return f.unknown_field_rate > 0 or f.unknown_tag_rate > 0

    def _field(self) -> bool:
        return self.injector.noise(self.injector.faults.unknown_field_rate)

    def _tag(self) -> bool:
        return self.injector.noise(self.injector.faults.unknown_tag_rate)

    # --- team ---------------------------------------------------------------------------------
    def team_info(self) -> bytes:
        if self.noisy:
            return orjson.dumps(noise.team_info(self.world.team_info(), self._field, self._tag))
        if self._team_info is None:
            self._team_info = orjson.dumps(self.world.team_info())
        return self._team_info

    # --- members ------------------------------------------------------------------------------
    @property
    def order(self) -> list[str]:
        return self._order

    def warm_chunks(self, chunk: int = 500) -> Iterator[None]:
        """Fill the caches a chunk at a time (yields between chunks); stops if the world moves."""
        self.sync()
        key = self._key
        flags: DeviceFlags = (True, True, True)
        for include_removed in (False, True):
            self.positions(include_removed)
        order = list(self._order)
        for start in range(0, len(order), chunk):
            if self._key != key or self.noisy:
                return
            for member_id in order[start : start + chunk]:
                self.member(member_id)
                self.devices(member_id, flags)
                self.apps(member_id)
            yield
        for start in range(0, len(self._audit), chunk * 4):
            self._plain_event(min(len(self._audit), start + chunk * 4) - 1)
            yield

    def positions(self, include_removed: bool) -> list[int]:
        """Positions in ``member_order`` that the members listing shows."""
        cached = self._positions.get(include_removed)
        if cached is None:
            if include_removed:
                cached = list(range(len(self._order)))
            else:
                removed = self.world.is_removed
                cached = [i for i, m in enumerate(self._order) if not removed(m)]
            self._positions[include_removed] = cached
        return cached

    def member(self, member_id: str) -> bytes:
        if self.noisy:
            return orjson.dumps(noise.member(self.world.member_info(member_id), self._field))
        cached = self._members.get(member_id)
        if cached is None:
            cached = self._members[member_id] = _encode(self.world.member_info(member_id))
        return cached

    def member_info(self, member_id: str) -> dict[str, Any]:
        return self.world.member_info(member_id)

    # --- devices and apps ---------------------------------------------------------------------
    def devices(self, member_id: str, flags: DeviceFlags) -> bytes | None:
        """An encoded MemberDevices entry, or None if the member has nothing to list."""
        cache = self._devices.get(flags)
        if cache is None:
            cache = self._devices[flags] = {}
        noisy = self.noisy
        if not noisy and member_id in cache:
            return cache[member_id]
        web, desktop, mobile = flags
        record = self.world.member_devices(member_id, web=web, desktop=desktop, mobile=mobile)
        if record is not None and noisy:
            return orjson.dumps(noise.devices(record, self._field, self._tag))
        encoded = None if record is None else _encode(record)
        cache[member_id] = encoded
        return encoded

    def member_devices_single(self, member_id: str, flags: DeviceFlags) -> bytes:
        web, desktop, mobile = flags
        record = self.world.member_devices_single(
            member_id, web=web, desktop=desktop, mobile=mobile
        )
        if self.noisy:
            record = noise.devices(record, self._field, self._tag)
        return orjson.dumps(record)

    def apps(self, member_id: str) -> bytes | None:
        if not self.noisy and member_id in self._apps:
            return self._apps[member_id]
        record = self.world.member_linked_apps(member_id)
        encoded = None
        if record is not None:
            if self.noisy:
                return orjson.dumps(noise.apps(record, self._field))
            encoded = _encode(record)
        self._apps[member_id] = encoded
        return encoded

    def member_apps_single(self, member_id: str) -> bytes:
        record = self.world.member_linked_apps(member_id) or {}
        result = {"linked_api_apps": record.get("linked_api_apps", [])}
        if self.noisy:
            result = noise.apps(result, self._field)
        return orjson.dumps(result)

    # --- audit log ----------------------------------------------------------------------------
    def event(self, index: int) -> bytes:
        if self.noisy:
            return orjson.dumps(noise.event(self._audit[index], self._field, self._tag))
        return self._plain_event(index)

    def event_timestamp(self, index: int) -> str:
        return str(self._audit[index]["timestamp"])

    @property
    def audit_size(self) -> int:
        return len(self._audit)

    def matches(
        self,
        start: datetime | None,
        end: datetime | None,
        category: str | None,
        account_id: str | None,
        event_type: str | None,
    ) -> list[int]:
        """Ascending audit-log indexes that pass every filter (cached per generation)."""
        key = (start, end, category, account_id, event_type)
        cached = self._matches.get(key)
        if cached is None:
            cached = self.world.audit_events(
                start, end, category, event_type=event_type, account_id=account_id
            )
            self._matches[key] = cached
        return cached

    def _plain_event(self, index: int) -> bytes:
        events = self._events
        if index >= len(events):
            events.extend(_encode(e) for e in self._audit[len(events) : index + 1])
        return events[index]

    def account_exists(self, account_id: str) -> bool:
        if self._accounts is None:
            info = self.world.member_info
            self._accounts = {info(m)["profile"].get("account_id") for m in self._order}
        return account_id in self._accounts
