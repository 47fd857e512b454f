"""The mutable state of a simulated team and the primitive operations on it.

``TeamState`` holds the members (with their sessions and apps), the indexes that find them, the
audit log records and the seeded random generator. Its methods are the building blocks that
:mod:`streamer.simulator.world_churn` composes into changes; the public face is
:class:`streamer.simulator.world.World`. Everything here draws randomness only from ``rng``, so
the same calls in the same order give the same state.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from random import Random
from typing import Any

from streamer.simulator import world_wire as wire
from streamer.simulator.generate import (
    APPS,
    CARRIERS,
    DESKTOP_VERSIONS,
    FIRST_NAMES,
    GROUP_NAMES,
    LOCATIONS,
    MOBILE_VERSIONS,
    MOBILES,
    ROLE_MEMBER,
    SURNAMES,
    TEAM_NAMES,
    AuditRec,
    MemberRec,
    SessionRec,
    below,
    between,
    digits_id,
    distinct,
    email_slug,
    hex_id,
    host_name,
    ip_address,
    nearby_location,
    one_of,
    opaque_id,
    pick_browser,
    pick_desktop,
    pick_location,
)

JSON = dict[str, Any]
HOUR = 3600
DAY = 86400
MAX_JITTER = 4  # seconds an audit event may be logged before its predecessor


@dataclass(frozen=True)
class Change:
    """One thing that happened in ``World.advance``.

    ``kind`` is an event type of docs/architecture.md, ``member_id`` a team_member_id,
    ``subject_id`` the session id (web / desktop / mobile / network changes) or the app id (app
    changes), else None; ``at`` is whole seconds UTC. ``details`` by kind:

    ======================================  ===================================================
    member.invited                          ``{"email"}``
    member.joined                           ``{"previous_status": "invited" | None}`` (None:
                                            added directly as an active member)
    member.updated                          ``{"fields": [...], <field>: [old, new], ...}``;
                                            fields among ``email``, ``name`` (values
                                            ``{"given_name", "surname", "display_name"}``),
                                            ``groups`` (group id lists), ``external_id``
    member.suspended / member.unsuspended   ``{}``
    member.removed                          ``{"previous_status", "is_recoverable",
                                            "is_disconnected"}``; its sessions and apps go too,
                                            each as its own change with reason member_removed
    web_session.started / *_client.linked   ``{"ip_address", "country"}``
    web_session.ended / *_client.unlinked   ``{"reason": "signed_out" | "unlinked" |
                                            "member_removed"}``
    session.network_changed                 ``{"session_type", "ip_address": [old, new]}``, plus
                                            ``"country": [old, new]`` if the country changed
    app.linked                              ``{"app_name"}``
    app.unlinked                            ``{"app_name", "reason": "unlinked" |
                                            "member_removed"}``
    ======================================  ===================================================
    """

    kind: str
    member_id: str
    subject_id: str | None
    at: datetime
    details: dict[str, Any]


def to_datetime(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class Round:
    """Who already changed in the current ``advance`` call (each subject changes at most once)."""

    __slots__ = ("apps", "busy", "locked", "sessions")

    def __init__(self) -> None:
        self.locked: set[int] = set()  # members with a member-level change: nothing else for them
        self.busy: set[int] = set()  # members with any change: no member-level change any more
        self.sessions: set[str] = set()
        self.apps: set[tuple[int, int]] = set()


class TeamState:
    def __init__(
        self, *, seed: int, start: int, devices: float, audit_rate: float, jitter: float
    ) -> None:
        self.rng = rng = Random(seed)
        self.start = start
        self.now = start
        self.devices = devices
        self.audit_rate = audit_rate
        self.jitter = jitter
        self.changes: list[Change] = []
        self.round = Round()

        self.team_name = one_of(rng, TEAM_NAMES)
        self.domain = email_slug(self.team_name) + ".com"
        self.team_id = opaque_id(rng, "dbtid:")
        self.root_ns = str(between(rng, 1_000_000_000, 1_999_999_999))
        self.next_ns = between(rng, 2_000_000_000, 2_900_000_000)
        self.next_ext = between(rng, 10_000, 90_000)
        self.group_names = [f"Everyone at {self.team_name}", *GROUP_NAMES]
        self.group_ids = [hex_id(rng, "g:") for _ in self.group_names]
        self.app_ids = [opaque_id(rng, "dbaid:") for _ in APPS]
        self.policies = wire.policies(
            {
                "shared_folder_member_policy": one_of(rng, ("team", "anyone")),
                "shared_folder_join_policy": one_of(rng, ("from_team_only", "from_anyone")),
                "shared_link_create_policy": one_of(rng, ("default_public", "default_team_only")),
                "group_creation_policy": one_of(rng, ("admins_only", "admins_and_members")),
                "shared_folder_link_restriction_policy": "anyone",
                "enforce_link_password_policy": "optional",
                "default_link_expiration_days_policy": one_of(rng, ("none", "day_30", "day_90")),
                "shared_link_default_permissions_policy": "default",
            },
            emm_state="disabled",
            office_addin=one_of(rng, ("disabled", "enabled")),
            suggest_members_policy="enabled",
            top_level_content_policy="admin_only",
        )
        self.features: dict[str, bool | int | None] = {
            "upload_api_rate_limit": one_of(rng, (None, 25_000, 1_000_000)),
            "has_team_shared_dropbox": True,
            "has_team_file_events": True,
            "has_team_selective_sync": True,
            "has_distinct_member_homes": True,
        }
        self.licensed = 0

        self.members: list[MemberRec] = []
        self.order: list[str] = []  # team_member_ids, append-only
        self.by_id: dict[str, int] = {}
        self.by_email: dict[str, int] = {}
        self.by_ext: dict[str, int] = {}
        self.email_seq: dict[str, int] = {}
        self.counts = {"active": 0, "invited": 0, "suspended": 0, "removed": 0}
        self.actors: list[int] = []  # admins who act in the admin console
        self.console_ip: dict[int, str] = {}
        self.audit: list[AuditRec] = []
        self.audit_tmax: list[int] = []  # running max of logged timestamps, for bisecting

    # ── lookups and randomness ────────────────────────────────────────────────────────────

    def member(self, member_id: str) -> MemberRec:
        return self.members[self.by_id[member_id]]

    @property
    def seats(self) -> int:
        return len(self.members) - self.counts["removed"]

    def poisson(self, lam: float) -> int:
        rng = self.rng
        if lam <= 0:
            return 0
        if lam > 50:
            return max(0, round(rng.gauss(lam, math.sqrt(lam))))
        limit, k, p = math.exp(-lam), 0, rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k

    def pick(self, ok: Callable[[MemberRec], bool], tries: int = 60) -> MemberRec | None:
        """A random member passing ``ok`` (rejection sampling; None if unlucky)."""
        ms, rng = self.members, self.rng
        for _ in range(tries):
            m = ms[below(rng, len(ms))]
            if ok(m):
                return m
        return None

    # ── members ───────────────────────────────────────────────────────────────────────────

    def free_email(self, local: str) -> str:
        """A free address ``local@domain``, numbered if taken."""
        while True:
            n = self.email_seq.get(local, 0) + 1
            self.email_seq[local] = n
            email = f"{local}{'' if n == 1 else n}@{self.domain}"
            if email not in self.by_email:
                return email

    def new_member(self, status: str) -> MemberRec:
        """Append a member with name, ids and profile extras; timestamps are the caller's."""
        rng = self.rng
        given, surname = one_of(rng, FIRST_NAMES), one_of(rng, SURNAMES)
        self.next_ns += between(rng, 1, 4000)
        extra = [1 + g for g in distinct(rng, len(self.group_ids) - 1, one_of(rng, (0, 1, 1, 2)))]
        m = MemberRec(
            idx=len(self.members),
            team_member_id=opaque_id(rng, "dbmid:"),
            account_id=opaque_id(rng, "dbid:"),
            email=self.free_email(f"{email_slug(given)}.{email_slug(surname)}"),
            given=given,
            surname=surname,
            status=status,
            role=ROLE_MEMBER,
            loc=pick_location(rng),
            member_folder_id=self.next_ns,
            groups=(0, *sorted(extra)),
            email_verified=status != "invited",
        )
        if rng.random() < 0.4:
            self.set_external_id(m, self.new_external_id())
        if rng.random() < 0.25:
            m.persistent_id = "00u" + opaque_id(rng, "")[2:19]
        if rng.random() < 0.3:
            vers = between(rng, 1_500_000_000_000, 1_760_000_000_000)
            m.photo_url = (
                "https://dl-web.dropbox.com/account_photo/get/dbaphid%3A"
                f"{opaque_id(rng, '')}?size=128x128&vers={vers}"
            )
        if rng.random() < 0.05:
            local = m.email.split("@", 1)[0]
            m.secondary = ((f"{local}@{email_slug(self.team_name)}.io", rng.random() < 0.7),)
        self.members.append(m)
        self.order.append(m.team_member_id)
        self.by_id[m.team_member_id] = m.idx
        self.by_email[m.email] = m.idx
        self.counts[status] += 1
        return m

    def new_external_id(self) -> str:
        self.next_ext += between(self.rng, 1, 9)
        return f"E{self.next_ext:06d}"

    def set_external_id(self, m: MemberRec, value: str) -> None:
        if m.external_id is not None:
            del self.by_ext[m.external_id]
        m.external_id = value
        self.by_ext[value] = m.idx
        m.forget_who()

    def set_email(self, m: MemberRec, email: str) -> None:
        del self.by_email[m.email]
        m.email = email
        self.by_email[email] = m.idx
        m.forget_who()

    def set_status(self, m: MemberRec, status: str) -> None:
        self.counts[m.status] -= 1
        self.counts[status] += 1
        m.status = status

    # ── sessions ──────────────────────────────────────────────────────────────────────────

    def add_session(self, m: MemberRec, kind: str, created: int, updated: int) -> SessionRec:
        rng = self.rng
        loc = m.loc if rng.random() < 0.85 else nearby_location(rng, m.loc)
        ip = ip_address(rng, loc)
        if kind == "web":
            s = SessionRec(
                digits_id(rng, "dbwsid:"), kind, m.idx, loc, ip, created, updated,
                pick_browser(rng), None, None, created + between(rng, 90, 365) * DAY, None, None,
            )  # fmt: skip
        elif kind == "desktop":
            model = pick_desktop(rng)
            s = SessionRec(
                digits_id(rng, "dbdsid:"), kind, m.idx, loc, ip, created, updated, model,
                host_name(rng, model, m.given), one_of(rng, DESKTOP_VERSIONS), None, None, None,
            )  # fmt: skip
        else:
            model = below(rng, len(MOBILES))
            mm = MOBILES[model]
            name = mm.device_name
            if rng.random() < 0.3:
                name = f"{m.given}'s {name.split(' ')[0]}"
            carrier = one_of(rng, CARRIERS[LOCATIONS[loc].code]) if mm.cellular else None
            s = SessionRec(
                digits_id(rng, "dbmsid:"), kind, m.idx, loc, ip, created, updated, model, name,
                one_of(rng, MOBILE_VERSIONS), None, one_of(rng, mm.os_versions), carrier,
            )  # fmt: skip
        if m.sessions is None:
            m.sessions = {}
        m.sessions[s.sid] = s
        return s

    def drop_session(self, m: MemberRec, sid: str) -> SessionRec:
        assert m.sessions is not None
        s = m.sessions.pop(sid)
        if not m.sessions:
            m.sessions = None
        return s

    # ── audit log ─────────────────────────────────────────────────────────────────────────

    def rec(
        self,
        t: int,
        etype: str,
        m: MemberRec,
        payload: tuple[Any, ...] = (),
        *,
        session: SessionRec | None = None,
        admin: bool = False,
        sessionless: bool = False,
    ) -> AuditRec:
        """An audit record about ``m`` at ``t``. Origin: ``session`` if given; an admin's console
        if ``admin``; else one of ``m``'s sessions (only its network if ``sessionless``)."""
        rng = self.rng
        who = m.who()
        if admin:
            a = self.members[one_of(rng, self.actors)]
            ip = self.console_ip.get(a.idx)
            if ip is None:
                ip = self.console_ip[a.idx] = ip_address(rng, a.loc)
            return AuditRec(t, etype, who, a.who(), ip, a.loc, "web", None, payload)
        if session is None and m.sessions:
            session = one_of(rng, list(m.sessions.values()))
        if session is None:
            return AuditRec(
                t, etype, who, None, ip_address(rng, m.loc), m.loc, "web", None, payload
            )
        if sessionless:
            return AuditRec(t, etype, who, None, session.ip, session.loc, "web", None, payload)
        return AuditRec(
            t, etype, who, None, session.ip, session.loc, session.kind, session.sid, payload
        )

    def log(self, rec: AuditRec) -> None:
        """Append ``rec`` (``rec.ts`` = its true time); a few are logged seconds early."""
        if self.jitter and self.rng.random() < self.jitter:
            rec.ts -= between(self.rng, 1, MAX_JITTER)
        self.audit.append(rec)
        tmax = self.audit_tmax
        tmax.append(max(rec.ts, tmax[-1]) if tmax else rec.ts)

    def change(
        self, kind: str, m: MemberRec, subject: str | None, t: int, details: dict[str, Any]
    ) -> None:
        self.changes.append(Change(kind, m.team_member_id, subject, to_datetime(t), details))
