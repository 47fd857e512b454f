"""World: a deterministic, realistic team; lookups; the audit log and its filters."""

from __future__ import annotations

import itertools
import json
import time
from collections import Counter
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from streamer.clock import format_dropbox_time, parse_dropbox_time
from streamer.simulator.world import Change, World


def snapshot(world: World) -> str:
    """Everything the world serves, as one JSON string."""
    order = world.member_order()
    return json.dumps(
        {
            "team": world.team_info(),
            "members": [world.member_info(m) for m in order],
            "devices": [world.member_devices(m) for m in order],
            "single": [world.member_devices_single(m) for m in order],
            "apps": [world.member_linked_apps(m) for m in order],
            "audit": world.audit_log(),
            "truth": world.truth(),
            "changes": [asdict(c) for c in world.changes],
            "now": format_dropbox_time(world.now),
        },
        default=str,
        sort_keys=True,
    )


def churn(world: World) -> World:
    for seconds in (600, 3600, 7200):
        world.advance(seconds)
    return world


def test_same_seed_same_world_and_same_changes() -> None:
    a = churn(World(members=120, seed=42, churn=10.0))
    b = churn(World(members=120, seed=42, churn=10.0))
    assert snapshot(a) == snapshot(b)
    assert len(a.changes) > 20


def test_different_seed_or_size_gives_a_different_world() -> None:
    base = snapshot(World(members=60, seed=1))
    assert snapshot(World(members=60, seed=2)) != base
    assert snapshot(World(members=61, seed=1)) != base


def test_status_mix_and_status_dependent_fields() -> None:
    world = World(members=3000, seed=9)
    statuses: Counter[str] = Counter()
    for member_id in world.member_order():
        info = world.member_info(member_id)
        profile = info["profile"]
        status = profile["status"][".tag"]
        statuses[status] += 1
        assert ("invited_on" in profile) == (status == "invited")
        assert ("suspended_on" in profile) == (status == "suspended")
        assert ("joined_on" in profile) == (status != "invited")
        assert ("roles" in info) == (status in ("active", "suspended"))
        if status == "removed":
            assert set(profile["status"]) == {".tag", "is_recoverable", "is_disconnected"}
            assert profile["groups"] == []
        if status in ("invited", "removed"):
            assert world.member_devices(member_id) is None
            assert world.member_linked_apps(member_id) is None
            assert world.member_devices_single(member_id) == {
                "active_web_sessions": [],
                "desktop_client_sessions": [],
                "mobile_client_sessions": [],
            }
        assert world.is_removed(member_id) == (status == "removed")
    share = {k: v / 3000 for k, v in statuses.items()}
    assert share["active"] == pytest.approx(0.85, abs=0.03)
    for status in ("invited", "suspended", "removed"):
        assert share[status] == pytest.approx(0.05, abs=0.015)


def test_team_has_realistic_devices_apps_and_optional_fields() -> None:
    world = World(members=1000, seed=4, devices_per_member=3.0)
    sessions: Counter[str] = Counter()
    seated = with_apps = external = secondary = persistent = 0
    for member_id in world.member_order():
        profile = world.member_info(member_id)["profile"]
        external += "external_id" in profile
        secondary += "secondary_emails" in profile
        persistent += "persistent_id" in profile
        if profile["status"][".tag"] not in ("active", "suspended"):
            continue
        seated += 1
        devices = world.member_devices(member_id) or {}
        for key in ("web_sessions", "desktop_clients", "mobile_clients"):
            sessions[key] += len(devices.get(key, []))
        with_apps += world.member_linked_apps(member_id) is not None
    assert sum(sessions.values()) / seated == pytest.approx(3.0, rel=0.15)
    assert all(n > 0.2 * seated for n in sessions.values())
    assert with_apps / seated == pytest.approx(0.5, abs=0.08)
    assert 0 < secondary < external < 1000
    assert 0 < persistent < 1000


def test_team_info_counts_follow_the_membership() -> None:
    world = World(members=400, seed=8, churn=30.0)
    for _ in range(4):
        info = world.team_info()
        seats = sum(not world.is_removed(m) for m in world.member_order())
        assert info["num_provisioned_users"] == info["num_used_licenses"] == seats
        assert info["num_licensed_users"] >= seats
        assert info["name"] == world.team_name
        assert info["team_id"] == world.team_id
        world.advance(3 * 3600)


def test_find_member_by_id_email_and_external_id() -> None:
    world = World(members=200, seed=6)
    found = 0
    for member_id in world.member_order():
        profile = world.member_info(member_id)["profile"]
        assert world.find_member("team_member_id", member_id) == member_id
        assert world.find_member("email", profile["email"].upper()) == member_id
        if "external_id" in profile:
            found += 1
            assert world.find_member("external_id", profile["external_id"]) == member_id
    assert found
    assert world.find_member("team_member_id", "dbmid:nobody") is None
    assert world.find_member("email", "nobody@example.com") is None
    assert world.find_member("external_id", "nope") is None
    with pytest.raises(ValueError, match="selector"):
        world.find_member("account_id", "x")
    with pytest.raises(KeyError):
        world.member_info("dbmid:nobody")


def test_a_changed_email_is_found_and_the_old_one_is_not() -> None:
    world = World(members=300, seed=12, churn=40.0)
    changed: list[Change] = []
    while not changed:
        changed = [
            c
            for c in world.advance(3600)
            if c.kind == "member.updated" and "email" in c.details["fields"]
        ]
    old, new = changed[0].details["email"]
    assert world.find_member("email", new) == changed[0].member_id
    assert world.find_member("email", old) is None


def events_matching(
    log: list[dict[str, Any]],
    start: datetime | None,
    end: datetime | None,
    category: str | None,
    event_type: str | None = None,
    account_id: str | None = None,
) -> list[int]:
    """The filter of team_log/get_events, by brute force over the wire JSON."""
    out = []
    for i, e in enumerate(log):
        t = parse_dropbox_time(e["timestamp"])
        accounts = {e["context"]["account_id"]}
        accounts |= {e["actor"].get("user", e["actor"].get("admin", {})).get("account_id")}
        if (
            (start is None or t >= start)
            and (end is None or t < end)
            and (category is None or e["event_category"][".tag"] == category)
            and (event_type is None or e["event_type"][".tag"] == event_type)
            and (account_id is None or account_id in accounts)
        ):
            out.append(i)
    return out


def test_audit_events_filters_like_get_events() -> None:
    world = churn(World(members=150, seed=13, churn=10.0))
    log = world.audit_log()
    first = parse_dropbox_time(log[0]["timestamp"])
    admin_account = world.member_info(world.admin_member_id())["profile"]["account_id"]
    some_account = log[len(log) // 2]["context"]["account_id"]
    cases: list[tuple[Any, ...]] = [
        (None, None, None),
        (first + timedelta(days=2), None, None),
        (None, first + timedelta(days=3), "logins"),
        (first + timedelta(days=1), first + timedelta(days=1, hours=5), None),
        (world.now - timedelta(hours=2), world.now, "devices"),
        (world.now - timedelta(minutes=7), None, None),
        (None, None, "members"),
        (None, None, None, "login_fail"),
        (None, None, None, None, admin_account),
        (first, world.now, "file_operations", None, some_account),
        (world.now + timedelta(seconds=1), None, None),
    ]
    for start, end, category, *rest in cases:
        expected = events_matching(log, start, end, category, *rest)
        event_type, account_id = ([*rest, None, None])[:2]
        got = world.audit_events(start, end, category, event_type=event_type, account_id=account_id)
        assert got == expected, (start, end, category, rest)
    assert world.audit_events(None, None, None) == list(range(len(log)))


def test_audit_log_is_append_only_and_slightly_out_of_order() -> None:
    # dense enough (an event every ~2 s) that logging 2% of events 1-4 s early reorders some
    world = World(members=200, seed=14, churn=10.0, audit_rate=200.0)
    log = world.audit_log()
    before = json.dumps(log)
    n = len(log)
    world.advance(6 * 3600)
    assert world.audit_log() is log  # one list, extended
    assert len(log) == world.audit_count() > n
    assert json.dumps(log[:n]) == before
    assert world.audit_event(n) == log[n]
    stamps = [parse_dropbox_time(e["timestamp"]) for e in log]
    backwards = [b - a for a, b in itertools.pairwise(stamps) if b < a]
    assert backwards  # "not guaranteed sorted", as the API warns
    assert all(d >= timedelta(seconds=-4) for d in backwards)
    assert all(parse_dropbox_time(e["timestamp"]) <= world.now for e in log)


def test_audit_log_is_sorted_without_jitter_and_history_is_capped() -> None:
    world = World(members=100, seed=15, audit_jitter=0.0, audit_cap=300, audit_days=3)
    log = world.audit_log()
    assert len(log) == 300
    stamps = [e["timestamp"] for e in log]
    assert stamps == sorted(stamps)
    assert stamps[0] >= format_dropbox_time(world.now - timedelta(days=3))
    assert stamps[-1] < format_dropbox_time(world.now)
    world.advance(3600)
    stamps = [e["timestamp"] for e in world.audit_log()]
    assert stamps == sorted(stamps)
    assert len(World(members=100, seed=15, audit_rate=0.0).audit_log()) < 50


def test_start_time_and_validation() -> None:
    start = datetime(2025, 6, 30, 12, 0, 0, tzinfo=UTC)
    world = World(members=10, seed=1, start=start)
    assert world.now == start
    world.advance(90)
    assert world.now == start + timedelta(seconds=90)
    with pytest.raises(ValueError, match="timezone"):
        World(start=datetime(2026, 1, 1))  # noqa: DTZ001 - the naive time it refuses
    with pytest.raises(ValueError, match="member"):
        World(members=0)


def test_a_large_team_builds_quickly() -> None:
    began = time.process_time()
    world = World(members=5000, seed=0)
    assert time.process_time() - began < 5.0  # ~0.15 s here; generous for slow CI
    assert len(world.member_order()) == 5000
    assert world.audit_count() == 2 * 5000 + 1000
    assert 40 < len(world.advance(3600)) < 80
