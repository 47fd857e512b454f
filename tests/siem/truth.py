"""What the detection queries of docs/recipes/opensearch.md must answer, computed from the
simulator's own ground truth: ``GET /admin/truth`` taken at the baseline poll, the changes list
(``GET /admin/changes``) and the audit log it serves. Pure functions over that JSON."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

JSON = dict[str, Any]
STARTED = ("web_session.started", "desktop_client.linked", "mobile_client.linked")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _within(change: Mapping[str, Any], since: datetime, until: datetime) -> bool:
    return since <= parse_time(change["at"]) <= until


def new_country_web_sessions(
    truth0: JSON, changes: Sequence[JSON], since: datetime, until: datetime
) -> set[str]:
    """Web sessions started in [since, until] from a country that none of the member's other
    sessions (any kind, ever seen: at the baseline or since) came from."""
    countries: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for session_id, session in truth0["sessions"].items():
        countries[session["member_id"]][session_id].add(session["country"])
    for change in changes:
        member, session_id, details = change["member_id"], change["subject_id"], change["details"]
        if change["kind"] in STARTED:
            countries[member][session_id].add(details["country"])
        elif change["kind"] == "session.network_changed" and "country" in details:
            countries[member][session_id].update(details["country"])
    found = set()
    for change in changes:
        if change["kind"] != "web_session.started" or not _within(change, since, until):
            continue
        member, session_id = change["member_id"], change["subject_id"]
        others = set().union(*(c for s, c in countries[member].items() if s != session_id))
        if change["details"]["country"] not in others:
            found.add(session_id)
    return found


def suspended_between(changes: Sequence[JSON], since: datetime, until: datetime) -> set[str]:
    """Members suspended in [since, until]."""
    return {
        c["member_id"]
        for c in changes
        if c["kind"] == "member.suspended" and _within(c, since, until)
    }


def apps_linked_by_more_than(
    changes: Sequence[JSON], n: int, since: datetime, until: datetime
) -> dict[str, int]:
    """App id -> number of distinct members who linked it in [since, until], if more than n."""
    members: dict[str, set[str]] = defaultdict(set)
    for c in changes:
        if c["kind"] == "app.linked" and _within(c, since, until):
            members[c["subject_id"]].add(c["member_id"])
    return {app: len(who) for app, who in members.items() if len(who) > n}


def admins(truth: JSON, admin_role_ids: Iterable[str]) -> set[str]:
    """Members holding an admin role."""
    wanted = set(admin_role_ids)
    return {m for m, member in truth["members"].items() if wanted & set(member["roles"])}


def sign_ins(audit_log: Iterable[JSON]) -> list[tuple[str, datetime, str]]:
    """(member id, time, country code) of every successful sign-in (``login_success``)."""
    out = []
    for event in audit_log:
        if event["event_type"][".tag"] != "login_success":
            continue
        actor = event["actor"].get("user") or event["actor"].get("admin") or {}
        country = event.get("origin", {}).get("geo_location", {}).get("country")
        if actor.get("team_member_id") and country:
            out.append((actor["team_member_id"], parse_time(event["timestamp"]), country))
    return out


def two_countries_within(
    logins: Iterable[tuple[str, datetime, str]],
    window: timedelta,
    since: datetime,
    until: datetime,
    members: set[str] | None = None,
) -> set[str]:
    """Members with two sign-ins in [since, until], at most ``window`` apart, from different
    countries (optionally only among ``members``)."""
    by_member: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for member, when, country in logins:
        if since <= when <= until and (members is None or member in members):
            by_member[member].append((when, country))
    return {m for m, seen in by_member.items() if has_two_countries_within(seen, window)}


def has_two_countries_within(seen: Iterable[tuple[datetime, str]], window: timedelta) -> bool:
    ordered = sorted(seen)
    for i, (when, country) in enumerate(ordered):
        for later, other in ordered[i + 1 :]:
            if later - when > window:
                break
            if other != country:
                return True
    return False
