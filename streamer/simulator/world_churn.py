"""How a simulated team comes to be and changes: the initial members, the audit history before
the start, background audit noise, and the seeded changes of ``World.advance``.

Each change function applies one change at time ``t`` (state, ``Change`` records, audit records)
or returns False when it finds no eligible subject. Eligibility enforces the one-change-per-
subject-per-advance rule through ``state.round``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from streamer.simulator.generate import (
    ADMIN_ROLES,
    APPS,
    FILE_PATHS,
    LOCATIONS,
    ROLE_MEMBER,
    ROLE_TEAM_ADMIN,
    ROLE_USER_ADMIN,
    SURNAMES,
    AuditRec,
    MemberRec,
    SessionRec,
    between,
    distinct,
    email_slug,
    ip_address,
    nearby_location,
    one_of,
    opaque_id,
    weighted,
)
from streamer.simulator.world_state import DAY, HOUR, TeamState

_LOGIN_METHODS = ("password", "password", "password", "saml", "google_oauth", "web_session")
_LOGIN_FAILURES = (
    ("Invalid email or password.", "invalid_credentials"),
    ("Your session has expired. Please sign in again.", "session_expired"),
    ("The two-step verification code was incorrect.", "bad_2fa_code"),
)
_AGE = {"web": 60 * DAY, "desktop": 730 * DAY, "mobile": 540 * DAY}
_START_KIND = {"web": "web_session.started", "desktop": "desktop_client.linked"}
_START_KIND["mobile"] = "mobile_client.linked"
_END_KIND = {"web": "web_session.ended", "desktop": "desktop_client.unlinked"}
_END_KIND["mobile"] = "mobile_client.unlinked"

# ── the team at the start ───────────────────────────────────────────────────────────────────


def initial_member(st: TeamState, i: int) -> None:
    """Member ``i`` as of ``st.start``: ~85% active, 5% invited, 5% suspended, 5% removed.
    Member 0 is always an active team admin."""
    rng, now = st.rng, st.start
    r = rng.random()
    status = "active" if i == 0 or r < 0.85 else "invited" if r < 0.9 else "suspended"
    if status == "suspended" and r >= 0.95:
        status = "removed"
    m = st.new_member(status)
    if status == "invited":
        m.invited_on = now - between(rng, 600, 30 * DAY)
        return
    joined = m.joined_on = now - between(rng, HOUR, 4 * 365 * DAY)
    upper = now
    if status == "active":
        if i == 0 or rng.random() < 0.02:
            m.role = ROLE_TEAM_ADMIN if i == 0 else one_of(rng, ADMIN_ROLES)
            if m.role in (ROLE_TEAM_ADMIN, ROLE_USER_ADMIN):
                st.actors.append(m.idx)
    elif status == "suspended":
        m.suspended_on = upper = between(rng, joined + 1, now - 60)
    else:
        m.removed_at = between(rng, joined + 1, now - 60)
        m.is_recoverable = rng.random() < 0.7
        m.is_disconnected = rng.random() < 0.1
        m.groups = ()
        return
    for _ in range(int(rng.random() * (2 * st.devices + 1))):
        r = rng.random()
        kind = "web" if r < 0.4 else "desktop" if r < 0.7 else "mobile"
        created = between(rng, max(joined, upper - _AGE[kind]), upper)
        st.add_session(m, kind, created, between(rng, created, upper))
    if rng.random() < 0.5:
        m.apps = {}
        for a in distinct(rng, len(APPS), one_of(rng, (1, 1, 1, 2, 2, 3))):
            m.apps[a] = between(rng, joined, upper)


def history(st: TeamState, lo: int, hi: int, cap: int) -> None:
    """The audit log of [lo, hi): what the start state implies (joins, invites, suspensions,
    removals, new sessions and devices, IP changes, app links) plus background events, at most
    ``cap`` (the latest)."""
    rng = st.rng
    recs: list[AuditRec] = []

    def inside(t: int | None) -> bool:
        return t is not None and lo <= t < hi

    payload: tuple[str | None, ...]
    for m in st.members:
        if m.status == "invited" and m.invited_on is not None and inside(m.invited_on):
            payload = ("not_joined", "invited", "member_invite")
            recs.append(st.rec(m.invited_on, "member_change_status", m, payload, admin=True))
        elif m.status != "invited" and m.joined_on is not None and inside(m.joined_on):
            payload = ("invited", "active", "join")
            recs.append(st.rec(m.joined_on, "member_change_status", m, payload, sessionless=True))
        if m.status == "suspended" and m.suspended_on is not None and inside(m.suspended_on):
            payload = ("active", "suspended", None)
            recs.append(st.rec(m.suspended_on, "member_change_status", m, payload, admin=True))
        if m.status == "removed" and m.removed_at is not None and inside(m.removed_at):
            payload = ("active", "removed", one_of(rng, ("delete", "offboard")))
            recs.append(st.rec(m.removed_at, "member_change_status", m, payload, admin=True))
        for s in (m.sessions or {}).values():
            if inside(s.created):
                recs.append(_linked_rec(st, m, s, s.created))
            if inside(s.updated) and s.updated > s.created and rng.random() < 0.3:
                recs.append(st.rec(s.updated, f"device_change_ip_{s.kind}", m, (s,), session=s))
        for a, linked in (m.apps or {}).items():
            if inside(linked):
                recs.append(st.rec(linked, "app_link_user", m, (st.app_ids[a], APPS[a].name)))
    wanted = min(cap, round(st.audit_rate * st.counts["active"] * (hi - lo) / DAY))
    for _ in range(max(0, wanted - len(recs))):
        who = st.pick(lambda m: m.status == "active")
        if who is not None and who.joined_on is not None and who.joined_on < hi - 1:
            t = between(rng, max(lo, who.joined_on), hi - 1)
            recs.extend(background(st, who, t, hi))
    recs.sort(key=lambda r: r.ts)  # stable: same-second events keep their order
    for rec in recs[-cap:] if cap > 0 else []:
        st.log(rec)


def _linked_rec(st: TeamState, m: MemberRec, s: SessionRec, t: int) -> AuditRec:
    if s.kind == "web":
        return st.rec(t, "login_success", m, (one_of(st.rng, _LOGIN_METHODS),), session=s)
    return st.rec(t, "device_link_success", m, (s,), session=s)


def _unlinked_rec(st: TeamState, m: MemberRec, s: SessionRec, t: int) -> AuditRec:
    if s.kind == "web":
        return st.rec(t, "logout", m, session=s)
    return st.rec(t, "device_unlink", m, (s,), session=s)


def background(st: TeamState, m: MemberRec, t: int, hi: int | None = None) -> list[AuditRec]:
    """Audit events of active member ``m`` at ``t`` that change nothing a poll can see. With
    ``hi`` (history), also whole past sessions: sign-in then sign-out, or link then unlink,
    both before ``hi``."""
    rng = st.rng
    r = rng.random()
    if hi is not None and r < 0.22:
        end = min(t + between(rng, 300, 8 * HOUR), hi - 1)
        if end <= t:
            return []
        kind = "web" if r < 0.16 else one_of(rng, ("desktop", "mobile"))
        past = st.add_session(m, kind, t, end)
        st.drop_session(m, past.sid)
        return [_linked_rec(st, m, past, t), _unlinked_rec(st, m, past, end)]
    r = rng.random()
    if r < 0.45:
        return [st.rec(t, "file_download", m, _file(st, m))]
    if r < 0.65:
        level = one_of(rng, ("reader", "reader", "writer", "none"))
        return [st.rec(t, "shared_link_create", m, (*_file(st, m), level))]
    if r < 0.8:
        message, technical = one_of(rng, _LOGIN_FAILURES)
        payload = (one_of(rng, _LOGIN_METHODS), message, technical)
        return [st.rec(t, "login_fail", m, payload, sessionless=True)]
    if r < 0.92:
        return [st.rec(t, "password_change", m)]
    prev, new = (("disabled", "authenticator", "sms")[i] for i in distinct(rng, 3, 2))
    return [st.rec(t, "tfa_change_status", m, (prev, new))]


def _file(st: TeamState, m: MemberRec) -> tuple[str, str, int]:
    """(path, file id, namespace id) of a file in ``m``'s home folder."""
    return one_of(st.rng, FILE_PATHS), "id:" + opaque_id(st.rng, "")[2:24], m.member_folder_id


def background_now(st: TeamState, t: int) -> None:
    m = st.pick(lambda m: m.status == "active")
    if m is not None:
        for rec in background(st, m, t):
            st.log(rec)


# ── changes ─────────────────────────────────────────────────────────────────────────────────


def _lock(st: TeamState, m: MemberRec) -> None:
    st.round.locked.add(m.idx)
    st.round.busy.add(m.idx)


def _free(st: TeamState) -> Callable[[MemberRec], bool]:
    """Predicate: may still have a member-level change in this round."""
    busy = st.round.busy
    return lambda m: m.idx not in busy


def _member_invited(st: TeamState, t: int) -> bool:
    m = st.new_member("invited")
    m.invited_on = t
    _lock(st, m)
    st.change("member.invited", m, None, t, {"email": m.email})
    payload = ("not_joined", "invited", "member_invite")
    st.log(st.rec(t, "member_change_status", m, payload, admin=True))
    return True


def _member_joined(st: TeamState, t: int) -> bool:
    free = _free(st)
    m = st.pick(lambda m: m.status == "invited" and free(m)) if st.rng.random() < 0.8 else None
    if m is not None:  # accepted an invite
        st.set_status(m, "active")
        m.joined_on, m.invited_on, m.email_verified = t, None, True
        _lock(st, m)
        st.change("member.joined", m, None, t, {"previous_status": "invited"})
        payload = ("invited", "active", "join")
        st.log(st.rec(t, "member_change_status", m, payload, sessionless=True))
        return True
    m = st.new_member("active")  # added directly (directory sync / auto-approve)
    m.joined_on = t
    _lock(st, m)
    st.change("member.joined", m, None, t, {"previous_status": None})
    payload = ("not_joined", "active", "auto_approve")
    st.log(st.rec(t, "member_change_status", m, payload, admin=True))
    return True


def _member_suspended(st: TeamState, t: int) -> bool:
    free = _free(st)
    m = st.pick(lambda m: m.status == "active" and m.role is ROLE_MEMBER and free(m))
    if m is None:
        return False
    st.set_status(m, "suspended")
    m.suspended_on = t
    _lock(st, m)
    st.change("member.suspended", m, None, t, {})
    st.log(st.rec(t, "member_change_status", m, ("active", "suspended", None), admin=True))
    return True


def _member_unsuspended(st: TeamState, t: int) -> bool:
    free = _free(st)
    m = st.pick(lambda m: m.status == "suspended" and free(m))
    if m is None:
        return False
    st.set_status(m, "active")
    m.suspended_on = None
    _lock(st, m)
    st.change("member.unsuspended", m, None, t, {})
    st.log(st.rec(t, "member_change_status", m, ("suspended", "active", None), admin=True))
    return True


def _member_removed(st: TeamState, t: int) -> bool:
    free = _free(st)
    m = st.pick(lambda m: m.status in ("active", "suspended") and m.role is ROLE_MEMBER and free(m))
    if m is None:
        return False
    rng = st.rng
    previous = m.status
    st.set_status(m, "removed")
    m.removed_at, m.suspended_on, m.groups = t, None, ()
    m.is_recoverable = rng.random() < 0.8
    m.is_disconnected = rng.random() < 0.1
    _lock(st, m)
    details = {
        "previous_status": previous,
        "is_recoverable": m.is_recoverable,
        "is_disconnected": m.is_disconnected,
    }
    st.change("member.removed", m, None, t, details)
    payload = (previous, "removed", one_of(rng, ("delete", "offboard")))
    st.log(st.rec(t, "member_change_status", m, payload, admin=True))
    for s in (m.sessions or {}).values():
        st.change(_END_KIND[s.kind], m, s.sid, t, {"reason": "member_removed"})
    for a in m.apps or {}:
        details = {"app_name": APPS[a].name, "reason": "member_removed"}
        st.change("app.unlinked", m, st.app_ids[a], t, details)
    m.sessions = None
    m.apps = None
    return True


def _member_updated(st: TeamState, t: int) -> bool:
    free = _free(st)
    m = st.pick(lambda m: m.status in ("active", "suspended") and free(m))
    if m is None:
        return False
    rng = st.rng
    fields: dict[str, list[object]] = {}
    recs: list[tuple[str, tuple[object, ...]]] = []
    r = rng.random()
    if r < 0.2:  # a new surname; half the time the address follows
        old = _name(m)
        m.surname = one_of(rng, [s for s in SURNAMES if s != m.surname])
        m.forget_who()
        fields["name"] = [old, _name(m)]
        recs.append(("member_change_name", (m.given, old["surname"], m.given, m.surname)))
        if rng.random() < 0.5:
            local = f"{email_slug(m.given)}.{email_slug(m.surname)}"
            recs.append(_new_email(st, m, local, fields))
    elif r < 0.5:  # a new address style
        first, last = email_slug(m.given), email_slug(m.surname)
        n = between(rng, 1, 99)
        local = one_of(rng, (f"{first[:1]}{last}", f"{first}_{last}", f"{first}.{last}.{n}"))
        recs.append(_new_email(st, m, local, fields))
    elif r < 0.85:  # joins or leaves a group
        old_groups = [st.group_ids[g] for g in m.groups]
        others = [g for g in range(1, len(st.group_ids)) if g not in m.groups]
        if others and (len(m.groups) <= 1 or rng.random() < 0.6):
            g = one_of(rng, others)
            m.groups = tuple(sorted((*m.groups, g)))
            recs.append(("group_add_member", (st.group_ids[g], st.group_names[g])))
        else:
            g = one_of(rng, m.groups[1:])
            m.groups = tuple(x for x in m.groups if x != g)
            recs.append(("group_remove_member", (st.group_ids[g], st.group_names[g])))
        fields["groups"] = [old_groups, [st.group_ids[g] for g in m.groups]]
    else:  # external id from the HR system
        old_ext = m.external_id
        st.set_external_id(m, st.new_external_id())
        fields["external_id"] = [old_ext, m.external_id]
        if old_ext is None:
            recs.append(("member_add_external_id", (m.external_id,)))
        else:
            recs.append(("member_change_external_id", (old_ext, m.external_id)))
    _lock(st, m)
    st.change("member.updated", m, None, t, {"fields": sorted(fields), **fields})
    for etype, payload in recs:
        st.log(st.rec(t, etype, m, payload, admin=True))
    return True


def _name(m: MemberRec) -> dict[str, str]:
    return {"given_name": m.given, "surname": m.surname, "display_name": m.display_name}


def _new_email(
    st: TeamState, m: MemberRec, local: str, fields: dict[str, list[object]]
) -> tuple[str, tuple[object, ...]]:
    old = m.email
    st.set_email(m, st.free_email(local))
    fields["email"] = [old, m.email]
    return "member_change_email", (old, m.email)


def _session_user(st: TeamState) -> MemberRec | None:
    locked = st.round.locked
    return st.pick(lambda m: m.status == "active" and m.idx not in locked)


def _starter(kind: str) -> Callable[[TeamState, int], bool]:
    def start(st: TeamState, t: int) -> bool:
        m = _session_user(st)
        if m is None:
            return False
        s = st.add_session(m, kind, t, t)
        st.round.sessions.add(s.sid)
        st.round.busy.add(m.idx)
        details = {"ip_address": s.ip, "country": LOCATIONS[s.loc].country}
        st.change(_START_KIND[kind], m, s.sid, t, details)
        st.log(_linked_rec(st, m, s, t))
        return True

    return start


def _untouched(st: TeamState, m: MemberRec, kind: str | None) -> list[SessionRec]:
    touched = st.round.sessions
    return [
        s
        for s in (m.sessions or {}).values()
        if (kind is None or s.kind == kind) and s.sid not in touched
    ]


def _session_owner(st: TeamState, kind: str | None) -> tuple[MemberRec, SessionRec] | None:
    locked = st.round.locked
    m = st.pick(
        lambda m: (
            m.status == "active"
            and m.sessions is not None
            and m.idx not in locked
            and bool(_untouched(st, m, kind))
        )
    )
    if m is None:
        return None
    return m, one_of(st.rng, _untouched(st, m, kind))


def _ender(kind: str) -> Callable[[TeamState, int], bool]:
    def end(st: TeamState, t: int) -> bool:
        found = _session_owner(st, kind)
        if found is None:
            return False
        m, s = found
        st.drop_session(m, s.sid)
        st.round.sessions.add(s.sid)
        st.round.busy.add(m.idx)
        reason = "signed_out" if kind == "web" else "unlinked"
        st.change(_END_KIND[kind], m, s.sid, t, {"reason": reason})
        st.log(_unlinked_rec(st, m, s, t))
        return True

    return end


def _network_changed(st: TeamState, t: int) -> bool:
    found = _session_owner(st, None)
    if found is None:
        return False
    m, s = found
    rng = st.rng
    loc = nearby_location(rng, m.loc)
    ip = ip_address(rng, loc)
    while ip == s.ip:
        ip = ip_address(rng, loc)
    new = replace(s, loc=loc, ip=ip, updated=t)
    assert m.sessions is not None
    m.sessions[s.sid] = new  # same key: keeps its place in the listing
    st.round.sessions.add(s.sid)
    st.round.busy.add(m.idx)
    details: dict[str, object] = {"session_type": s.kind, "ip_address": [s.ip, ip]}
    old_country, new_country = LOCATIONS[s.loc].country, LOCATIONS[loc].country
    if old_country != new_country:
        details["country"] = [old_country, new_country]
    st.change("session.network_changed", m, s.sid, t, details)
    st.log(st.rec(t, f"device_change_ip_{s.kind}", m, (new,), session=new))
    return True


def _app_linked(st: TeamState, t: int) -> bool:
    m = _session_user(st)
    if m is None:
        return False
    touched = st.round.apps
    choices = [
        a
        for a in range(len(APPS))
        if (m.apps is None or a not in m.apps) and (m.idx, a) not in touched
    ]
    if not choices:
        return False
    a = one_of(st.rng, choices)
    if m.apps is None:
        m.apps = {}
    m.apps[a] = t
    touched.add((m.idx, a))
    st.round.busy.add(m.idx)
    st.change("app.linked", m, st.app_ids[a], t, {"app_name": APPS[a].name})
    st.log(st.rec(t, "app_link_user", m, (st.app_ids[a], APPS[a].name)))
    return True


def _app_unlinked(st: TeamState, t: int) -> bool:
    locked, touched = st.round.locked, st.round.apps

    def untouched(m: MemberRec) -> list[int]:
        return [a for a in m.apps or {} if (m.idx, a) not in touched]

    m = st.pick(lambda m: m.status == "active" and m.idx not in locked and bool(untouched(m)))
    if m is None:
        return False
    a = one_of(st.rng, untouched(m))
    assert m.apps is not None
    del m.apps[a]
    if not m.apps:
        m.apps = None
    touched.add((m.idx, a))
    st.round.busy.add(m.idx)
    details = {"app_name": APPS[a].name, "reason": "unlinked"}
    st.change("app.unlinked", m, st.app_ids[a], t, details)
    st.log(st.rec(t, "app_unlink_user", m, (st.app_ids[a], APPS[a].name)))
    return True


# kind -> (relative frequency, how to apply it); member.removed also ends sessions / unlinks apps
CHANGES: dict[str, tuple[int, Callable[[TeamState, int], bool]]] = {
    "member.invited": (4, _member_invited),
    "member.joined": (5, _member_joined),
    "member.updated": (8, _member_updated),
    "member.suspended": (2, _member_suspended),
    "member.unsuspended": (2, _member_unsuspended),
    "member.removed": (2, _member_removed),
    "web_session.started": (18, _starter("web")),
    "web_session.ended": (14, _ender("web")),
    "desktop_client.linked": (5, _starter("desktop")),
    "desktop_client.unlinked": (4, _ender("desktop")),
    "mobile_client.linked": (5, _starter("mobile")),
    "mobile_client.unlinked": (4, _ender("mobile")),
    "session.network_changed": (14, _network_changed),
    "app.linked": (6, _app_linked),
    "app.unlinked": (5, _app_unlinked),
}
_KINDS = tuple(CHANGES)
_CUM_WEIGHTS = tuple(sum(CHANGES[k][0] for k in _KINDS[: i + 1]) for i in range(len(_KINDS)))


def random_change(st: TeamState, t: int) -> None:
    """Apply one change at ``t``, of a kind drawn by frequency (up to 3 draws if the drawn kind
    finds nothing eligible, e.g. no suspended member to unsuspend)."""
    for _ in range(3):
        kind = _KINDS[weighted(st.rng, _CUM_WEIGHTS)]
        if CHANGES[kind][1](st, t):
            return
