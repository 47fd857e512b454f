"""The simulated Dropbox team: a pure, deterministic model that changes over time.

``World(members=..., seed=...)`` builds a team as of ``start`` (members in every status, their web
sessions, desktop and mobile clients, linked apps) plus ``audit_days`` of audit log before it.
``advance(seconds)`` moves simulated time forward and applies seeded churn: members invited,
joining, suspended, removed, renamed; sessions starting, ending, changing network; apps linked
and unlinked. Each change is reported as a :class:`Change` and logged as audit events, and the
wire views (``member_info``, ``member_devices``, ...) answer from the new state at once.

Guarantees the connector tests rely on:

* Same arguments and the same sequence of ``advance`` calls give identical JSON and changes; no
  wall clock, no global random. ``advance(0)`` changes nothing.
* Within one ``advance`` every subject changes at most once: a member has at most one
  member-level change (``member.*``), and then no session or app change; a session or a
  (member, app) pair has at most one change. Removing a member also ends its sessions and
  unlinks its apps, each reported as its own change. So diffing two polls recovers ``changes``.
* Admins (any admin role) are never suspended or removed; ``admin_member_id()`` stays valid.
* The audit log is append-only; events are appended in time order except that a fraction
  (``audit_jitter``) is logged 1-4 seconds early, as the real API warns can happen.

Layout: :mod:`.generate` (catalogues, ids, records), :mod:`.world_state` (state + primitives),
:mod:`.world_churn` (what happens), :mod:`.world_wire` (records → Dropbox JSON), this facade.
Members and sessions are ``__slots__`` records; JSON is built on demand, except the audit log's,
which ``audit_log()`` builds once per event and keeps (the server reads it on every request).
"""

from __future__ import annotations

import gc
import math
from bisect import bisect_left
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from streamer.simulator import world_churn
from streamer.simulator import world_wire as wire
from streamer.simulator.generate import APPS
from streamer.simulator.world_state import (
    DAY,
    HOUR,
    MAX_JITTER,
    Change,
    Round,
    TeamState,
    to_datetime,
)

__all__ = ["CHURN_PER_MEMBER_HOUR", "Change", "World"]

JSON = dict[str, Any]
CHURN_PER_MEMBER_HOUR = 0.01  # changes per seated member per simulated hour at churn=1.0


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Bulk building allocates millions of objects that all stay alive: without this, the
    cyclic GC rescans them again and again (40% of building 100,000 members)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class World:
    team_id: str
    team_name: str
    changes: list[Change]

    def __init__(
        self,
        *,
        members: int = 50,
        seed: int = 0,
        start: datetime = datetime(2026, 1, 1, tzinfo=UTC),
        devices_per_member: float = 3.0,
        audit_days: int = 7,
        churn: float = 1.0,
        audit_rate: float = 5.0,
        audit_cap: int | None = None,
        audit_jitter: float = 0.02,
    ) -> None:
        """``churn``: multiplier of ``CHURN_PER_MEMBER_HOUR``. ``audit_rate``: background audit
        events (downloads, shared links, failed sign-ins, ...) per active member per day, in the
        history and in ``advance``. ``audit_cap``: most events in the initial history (default
        ``2 * members + 1000``). ``audit_jitter``: fraction of events logged a few seconds
        early (0 for a strictly ordered log)."""
        if members < 1:
            raise ValueError("a team has at least one member (its admin)")
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if min(devices_per_member, audit_days, churn, audit_rate, audit_jitter) < 0:
            raise ValueError("rates and counts must not be negative")
        st = self._st = TeamState(
            seed=seed,
            start=math.floor(start.timestamp()),
            devices=devices_per_member,
            audit_rate=audit_rate,
            jitter=audit_jitter,
        )
        self._churn = churn
        self._elapsed = 0.0
        self._audit_wire: list[JSON] = []
        self._encoder = wire.AuditEncoder()
        self.team_id = st.team_id
        self.team_name = st.team_name
        self.changes = st.changes
        with _gc_paused():
            for i in range(members):
                world_churn.initial_member(st, i)
            st.licensed = -(-st.seats * 11 // 50) * 5  # 10% headroom, in blocks of 5
            cap = 2 * members + 1000 if audit_cap is None else audit_cap
            world_churn.history(st, st.start - audit_days * DAY, st.start, cap)

    # ── time and churn ────────────────────────────────────────────────────────────────────

    @property
    def now(self) -> datetime:
        return to_datetime(self._st.now)

    def advance(self, seconds: float) -> list[Change]:
        """Move simulated time forward (whole seconds; fractions accumulate) and apply churn:
        on average ``CHURN_PER_MEMBER_HOUR * churn`` changes per seated member per hour.
        Returns the new changes (also appended to ``changes``)."""
        if not seconds >= 0 or math.isinf(seconds):
            raise ValueError(f"cannot advance by {seconds!r} seconds")
        st = self._st
        self._elapsed += seconds
        target = st.start + math.floor(self._elapsed)
        t0 = st.now
        if target <= t0:
            return []
        rng, span = st.rng, target - t0
        n_changes = st.poisson(CHURN_PER_MEMBER_HOUR * self._churn * st.seats * span / HOUR)
        n_noise = st.poisson(st.audit_rate * st.counts["active"] * span / DAY)
        slots = sorted(
            [(rng.randint(t0 + 1, target), 0) for _ in range(n_changes)]
            + [(rng.randint(t0 + 1, target), 1) for _ in range(n_noise)]
        )
        first = len(st.changes)
        st.round = Round()
        with _gc_paused():
            for t, background in slots:
                if background:
                    world_churn.background_now(st, t)
                else:
                    world_churn.random_change(st, t)
        st.round = Round()
        st.now = target
        return st.changes[first:]

    def advance_to(self, when: datetime) -> list[Change]:
        """``advance`` up to ``when`` (nothing happens if it is not after ``now``)."""
        return self.advance(max(0.0, when.timestamp() - self._st.start - self._elapsed))

    # ── team ──────────────────────────────────────────────────────────────────────────────

    def team_info(self) -> JSON:
        """``TeamGetInfoResult``; the license counts follow the membership."""
        st = self._st
        return wire.team_info(st.team_name, st.team_id, st.licensed, st.seats, st.policies)

    def feature_values(self, features: list[str]) -> list[JSON]:
        """One ``FeatureValue`` per requested feature tag; KeyError for an unknown tag."""
        return [wire.feature_value(f, self._st.features[f]) for f in features]

    def admin_member_id(self) -> str:
        """An active team admin (the one who linked the app)."""
        return self._st.members[0].team_member_id

    # ── members ───────────────────────────────────────────────────────────────────────────

    def member_order(self) -> list[str]:
        """Every member id ever (removed too), append-only: new members go at the end."""
        return list(self._st.order)

    def is_removed(self, member_id: str) -> bool:
        return self._st.member(member_id).status == "removed"

    def member_info(self, member_id: str) -> JSON:
        """``TeamMemberInfoV2``. KeyError for an unknown id (as for every per-member call)."""
        st = self._st
        return wire.member_info(st.member(member_id), st.group_ids, st.root_ns)

    def find_member(self, tag: str, value: str) -> str | None:
        """Resolve a ``UserSelectorArg``: tag team_member_id | external_id | email (any case)."""
        st = self._st
        if tag == "team_member_id":
            return value if value in st.by_id else None
        if tag == "external_id":
            idx = st.by_ext.get(value)
        elif tag == "email":
            idx = st.by_email.get(value.lower())
        else:
            raise ValueError(f"unknown selector tag {tag!r}")
        return None if idx is None else st.members[idx].team_member_id

    # ── devices and apps ──────────────────────────────────────────────────────────────────

    def member_devices(
        self, member_id: str, *, web: bool = True, desktop: bool = True, mobile: bool = True
    ) -> JSON | None:
        """``MemberDevices`` for list_members_devices (a list per included kind, possibly
        empty); None if the member is removed or has nothing of the included kinds."""
        m = self._st.member(member_id)
        if m.status == "removed" or not m.sessions:
            return None
        w, d, mo = wire.split_sessions(m.sessions)
        if not ((web and w) or (desktop and d) or (mobile and mo)):
            return None
        out: JSON = {"team_member_id": m.team_member_id}
        if web:
            out["web_sessions"] = w
        if desktop:
            out["desktop_clients"] = d
        if mobile:
            out["mobile_clients"] = mo
        return out

    def member_devices_single(
        self, member_id: str, *, web: bool = True, desktop: bool = True, mobile: bool = True
    ) -> JSON:
        """``ListMemberDevicesResult`` for list_member_devices; empty lists when nothing."""
        m = self._st.member(member_id)
        w, d, mo = wire.split_sessions(m.sessions if m.status != "removed" else None)
        out: JSON = {}
        if web:
            out["active_web_sessions"] = w
        if desktop:
            out["desktop_client_sessions"] = d
        if mobile:
            out["mobile_client_sessions"] = mo
        return out

    def member_linked_apps(self, member_id: str) -> JSON | None:
        """``MemberLinkedApps``; None if the member has no apps or is removed."""
        st = self._st
        m = st.member(member_id)
        if m.status == "removed" or not m.apps:
            return None
        apps = [wire.api_app(st.app_ids[a], a, linked) for a, linked in m.apps.items()]
        return {"team_member_id": m.team_member_id, "linked_api_apps": apps}

    # ── audit log ─────────────────────────────────────────────────────────────────────────

    def audit_log(self) -> list[JSON]:
        """Every ``TeamEvent`` in append order. The same list object every time, extended as
        the log grows; treat it and its dicts as read-only (events share sub-dicts)."""
        built, recs = self._audit_wire, self._st.audit
        if len(built) < len(recs):
            with _gc_paused():
                built.extend(map(self._encoder.event, recs[len(built) :]))
        return built

    def audit_count(self) -> int:
        return len(self._st.audit)

    def audit_event(self, index: int) -> JSON:
        """One ``TeamEvent`` (without building the whole log)."""
        if index < len(self._audit_wire):
            return self._audit_wire[index]
        return self._encoder.event(self._st.audit[index])

    def audit_events(
        self,
        start: datetime | None,
        end: datetime | None,
        category: str | None,
        *,
        event_type: str | None = None,
        account_id: str | None = None,
    ) -> list[int]:
        """Indexes (ascending, i.e. append order) of the events with ``start <= timestamp <
        end``, in ``category``; optionally only of ``event_type`` / with ``account_id`` as
        actor or context. Timestamps are whole seconds, so fractional bounds round up."""
        st = self._st
        log = st.audit
        lo = 0 if start is None else math.ceil(start.timestamp())
        hi = None if end is None else math.ceil(end.timestamp())
        # a logged timestamp trails the running max by at most MAX_JITTER, so bisecting the
        # running max bounds the scan: nothing before `first` reaches lo, nothing from `last`
        # on is below hi
        first = bisect_left(st.audit_tmax, lo)
        last = len(log) if hi is None else bisect_left(st.audit_tmax, hi + MAX_JITTER)
        out: list[int] = []
        for i in range(first, last):
            r = log[i]
            if r.ts < lo or (hi is not None and r.ts >= hi):
                continue
            if category is not None and wire.EVENT_TYPES[r.etype][0] != category:
                continue
            if event_type is not None and r.etype != event_type:
                continue
            if account_id is not None and account_id not in r.accounts():
                continue
            out.append(i)
        return out

    # ── ground truth ──────────────────────────────────────────────────────────────────────

    def truth(self) -> JSON:
        """Plain-JSON state now: ``members`` (all, incl. removed) by id, ``sessions`` by session
        id, ``apps`` by "<member_id>/<app_id>", and the audit log size."""
        st = self._st
        members: JSON = {}
        sessions: JSON = {}
        apps: JSON = {}
        for m in st.members:
            roles = wire.member_roles(m) or []
            removed = m.status == "removed"
            members[m.team_member_id] = {
                "status": m.status,
                "email": m.email,
                "email_verified": m.email_verified,
                "given_name": m.given,
                "surname": m.surname,
                "display_name": m.display_name,
                "external_id": m.external_id,
                "account_id": m.account_id,
                "groups": [st.group_ids[g] for g in m.groups],
                "roles": [r["role_id"] for r in roles],
                "invited_on": None if m.invited_on is None else wire.ts(m.invited_on),
                "joined_on": None if m.joined_on is None else wire.ts(m.joined_on),
                "suspended_on": None if m.suspended_on is None else wire.ts(m.suspended_on),
                "is_recoverable": m.is_recoverable if removed else None,
                "is_disconnected": m.is_disconnected if removed else None,
            }
            for s in (m.sessions or {}).values():
                rec = wire.device_session(s)
                del rec["session_id"]
                if "client_type" in rec:
                    rec["client_type"] = rec["client_type"][".tag"]
                sessions[s.sid] = {"member_id": m.team_member_id, "kind": s.kind} | rec
            for a, linked in (m.apps or {}).items():
                apps[f"{m.team_member_id}/{st.app_ids[a]}"] = {
                    "member_id": m.team_member_id,
                    "app_id": st.app_ids[a],
                    "app_name": APPS[a].name,
                    "linked": wire.ts(linked),
                }
        return {
            "members": members,
            "sessions": sessions,
            "apps": apps,
            "audit_events": len(st.audit),
        }
