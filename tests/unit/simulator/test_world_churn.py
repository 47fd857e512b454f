"""World.advance: the reported changes are exactly what a poller would see change."""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from streamer.clock import format_dropbox_time, parse_dropbox_time
from streamer.simulator.world import Change, World

ALL_KINDS = {
    "member.invited",
    "member.joined",
    "member.updated",
    "member.suspended",
    "member.unsuspended",
    "member.removed",
    "web_session.started",
    "web_session.ended",
    "desktop_client.linked",
    "desktop_client.unlinked",
    "mobile_client.linked",
    "mobile_client.unlinked",
    "session.network_changed",
    "app.linked",
    "app.unlinked",
}
SESSION_KIND = {"web_session": "web", "desktop_client": "desktop", "mobile_client": "mobile"}
MEMBER_ROLE = "pid_dbtmr:1234"


@dataclass
class Step:
    before: dict[str, Any]
    changes: list[Change]
    after: dict[str, Any]
    audit: range  # indexes of the audit events appended by this step
    start: str
    end: str


@pytest.fixture(scope="module")
def world_and_steps() -> tuple[World, list[Step]]:
    world = World(members=300, seed=11, churn=20.0)
    steps = []
    for seconds in (1800, 3600, 60, 7200, 1800, 900, 3600, 5400):
        before, first, start = world.truth(), world.audit_count(), world.now
        changes = world.advance(seconds)
        assert world.now == start + timedelta(seconds=seconds)
        steps.append(
            Step(
                before,
                changes,
                world.truth(),
                range(first, world.audit_count()),
                format_dropbox_time(start),
                format_dropbox_time(world.now),
            )
        )
    return world, steps


@pytest.fixture(scope="module")
def steps(world_and_steps: tuple[World, list[Step]]) -> list[Step]:
    return world_and_steps[1]


def apply(before: dict[str, Any], changes: list[Change], after: dict[str, Any]) -> dict[str, Any]:
    """Replay ``changes`` on ``before``. Only brand-new records are taken from ``after``."""
    members = copy.deepcopy(before["members"])
    sessions = copy.deepcopy(before["sessions"])
    apps = copy.deepcopy(before["apps"])
    for c in changes:
        at = format_dropbox_time(c.at)
        m = members.get(c.member_id)
        if c.kind == "member.invited" or (
            c.kind == "member.joined" and c.details["previous_status"] is None
        ):
            assert m is None
            new = after["members"][c.member_id]
            assert new["status"] == ("invited" if c.kind == "member.invited" else "active")
            assert new["invited_on" if c.kind == "member.invited" else "joined_on"] == at
            members[c.member_id] = new
        elif c.kind == "member.joined":
            assert m["status"] == "invited"
            m |= {"status": "active", "joined_on": at, "invited_on": None}
            m |= {"email_verified": True, "roles": [MEMBER_ROLE]}
        elif c.kind == "member.suspended":
            assert m["status"] == "active"
            m |= {"status": "suspended", "suspended_on": at}
        elif c.kind == "member.unsuspended":
            assert m["status"] == "suspended"
            m |= {"status": "active", "suspended_on": None}
        elif c.kind == "member.removed":
            assert m["status"] == c.details["previous_status"]
            m |= {"status": "removed", "suspended_on": None, "groups": [], "roles": []}
            m["is_recoverable"] = c.details["is_recoverable"]
            m["is_disconnected"] = c.details["is_disconnected"]
        elif c.kind == "member.updated":
            assert c.details["fields"]
            for field in c.details["fields"]:
                old, new = c.details[field]
                if field == "name":
                    assert {k: m[k] for k in old} == old
                    m |= new
                else:
                    assert m[field] == old
                    m[field] = new
        elif c.kind in ("web_session.started", "desktop_client.linked", "mobile_client.linked"):
            assert c.subject_id not in sessions
            new = after["sessions"][c.subject_id]
            kind = SESSION_KIND[c.kind.split(".")[0]]
            assert (new["member_id"], new["kind"]) == (c.member_id, kind)
            assert new["created"] == new["updated"] == at
            assert c.details == {"ip_address": new["ip_address"], "country": new["country"]}
            sessions[c.subject_id] = new
        elif c.kind in ("web_session.ended", "desktop_client.unlinked", "mobile_client.unlinked"):
            s = sessions.pop(c.subject_id)
            assert (s["member_id"], s["kind"]) == (c.member_id, SESSION_KIND[c.kind.split(".")[0]])
        elif c.kind == "session.network_changed":
            s = sessions[c.subject_id]
            assert s["member_id"] == c.member_id
            assert s["kind"] == c.details["session_type"]
            assert s["ip_address"] == c.details["ip_address"][0] != c.details["ip_address"][1]
            s["ip_address"] = c.details["ip_address"][1]
            if "country" in c.details:
                assert s["country"] == c.details["country"][0] != c.details["country"][1]
                s["country"] = c.details["country"][1]
            s["updated"] = at
        elif c.kind == "app.linked":
            key = f"{c.member_id}/{c.subject_id}"
            assert key not in apps
            new = after["apps"][key]
            assert new["linked"] == at
            assert new["app_name"] == c.details["app_name"]
            apps[key] = new
        elif c.kind == "app.unlinked":
            assert apps.pop(f"{c.member_id}/{c.subject_id}")["app_name"] == c.details["app_name"]
        else:
            pytest.fail(f"unexpected change kind {c.kind}")
    return {"members": members, "sessions": sessions, "apps": apps}


def test_replaying_the_changes_on_the_truth_before_gives_the_truth_after(
    steps: list[Step],
) -> None:
    for step in steps:
        replayed = apply(step.before, step.changes, step.after)
        assert replayed == {k: step.after[k] for k in ("members", "sessions", "apps")}


def test_every_kind_of_change_happens(steps: list[Step]) -> None:
    kinds = Counter(c.kind for step in steps for c in step.changes)
    assert set(kinds) == ALL_KINDS, kinds


def test_changes_are_in_the_advanced_period_in_time_order(steps: list[Step]) -> None:
    for step in steps:
        ats = [format_dropbox_time(c.at) for c in step.changes]
        assert ats == sorted(ats)
        assert all(step.start < at <= step.end for at in ats)
        assert all(c.at.microsecond == 0 for c in step.changes)


def test_each_subject_changes_at_most_once_per_advance(steps: list[Step]) -> None:
    for step in steps:
        member_level = Counter(c.member_id for c in step.changes if c.kind.startswith("member."))
        assert max(member_level.values(), default=0) <= 1
        for c in step.changes:  # a member changing itself has no other (non-cascade) change
            if c.kind.startswith("member.") and c.kind != "member.removed":
                assert [x for x in step.changes if x.member_id == c.member_id] == [c]
        subjects = Counter(
            (c.member_id, c.subject_id) for c in step.changes if c.subject_id is not None
        )
        assert max(subjects.values(), default=0) <= 1


def test_removing_a_member_ends_its_sessions_and_unlinks_its_apps(steps: list[Step]) -> None:
    removals = 0
    for step in steps:
        for c in step.changes:
            if c.kind != "member.removed":
                continue
            removals += 1
            gone_sessions = {
                sid for sid, s in step.before["sessions"].items() if s["member_id"] == c.member_id
            }
            gone_apps = {
                key.split("/")[1]
                for key, a in step.before["apps"].items()
                if a["member_id"] == c.member_id
            }
            cascade = [x for x in step.changes if x.member_id == c.member_id and x is not c]
            assert {x.subject_id for x in cascade} == gone_sessions | gone_apps
            assert all(x.details["reason"] == "member_removed" for x in cascade)
            assert all(x.at == c.at for x in cascade)
    assert removals


def test_the_wire_views_agree_with_the_changes(world_and_steps: tuple[World, list[Step]]) -> None:
    world, steps = world_and_steps
    final = steps[-1].after
    for c in steps[-1].changes:
        if c.kind == "member.removed":
            assert world.is_removed(c.member_id)
            assert world.member_info(c.member_id)["profile"]["status"][".tag"] == "removed"
            assert world.member_devices(c.member_id) is None
            assert world.member_linked_apps(c.member_id) is None
        elif c.kind.startswith("member."):
            status = world.member_info(c.member_id)["profile"]["status"][".tag"]
            assert status == final["members"][c.member_id]["status"]
    live_sessions = {
        s["session_id"]
        for member_id in world.member_order()
        for devices in [world.member_devices(member_id) or {}]
        for key in ("web_sessions", "desktop_clients", "mobile_clients")
        for s in devices.get(key, [])
    }
    assert live_sessions == set(final["sessions"])
    live_apps = {
        f"{member_id}/{a['app_id']}"
        for member_id in world.member_order()
        for a in (world.member_linked_apps(member_id) or {}).get("linked_api_apps", [])
    }
    assert live_apps == set(final["apps"])


def _audited(c: Change, event: dict[str, Any]) -> bool:
    """Is ``event`` the audit record of change ``c``?"""
    etype: str = event["event_type"][".tag"]
    details: dict[str, Any] = event["details"]
    session: str | None = event["origin"]["access_method"].get("end_user", {}).get("session_id")
    device: str | None = (
        details.get("device_session_info", {}).get("session_info", {}).get("session_id")
    )
    if event["context"]["team_member_id"] != c.member_id:
        return False
    if c.kind.startswith("member."):
        if c.kind == "member.updated":
            expected = {
                "email": {"member_change_email"},
                "name": {"member_change_name"},
                "groups": {"group_add_member", "group_remove_member"},
                "external_id": {"member_add_external_id", "member_change_external_id"},
            }[c.details["fields"][-1]]
            return etype in expected
        new = {"member.invited": "invited", "member.suspended": "suspended"}.get(c.kind, "active")
        new = "removed" if c.kind == "member.removed" else new
        return etype == "member_change_status" and details["new_value"][".tag"] == new
    if c.kind == "web_session.started":
        return etype == "login_success" and session == c.subject_id
    if c.kind == "web_session.ended":
        return etype == "logout" and session == c.subject_id
    if c.kind.endswith("_client.linked"):
        return etype == "device_link_success" and device == c.subject_id
    if c.kind.endswith("_client.unlinked"):
        unlinked: str | None = details.get("session_info", {}).get("session_id")
        return etype == "device_unlink" and unlinked == c.subject_id
    if c.kind == "session.network_changed":
        kind = c.details["session_type"]
        found = session if kind == "web" else device
        return etype == f"device_change_ip_{kind}" and found == c.subject_id
    if c.kind in ("app.linked", "app.unlinked"):
        name = "app_link_user" if c.kind == "app.linked" else "app_unlink_user"
        app_id: str | None = details.get("app_info", {}).get("app_id")
        return etype == name and app_id == c.subject_id
    return False


def test_every_change_is_in_the_audit_log_at_its_time(
    world_and_steps: tuple[World, list[Step]],
) -> None:
    world, steps = world_and_steps
    log = world.audit_log()
    for step in steps:
        events = [log[i] for i in step.audit]
        for c in step.changes:
            if c.details.get("reason") == "member_removed":
                continue  # the member_change_status event covers the cascade
            matches = [
                e
                for e in events
                if _audited(c, e)
                and 0 <= (c.at - parse_dropbox_time(e["timestamp"])).total_seconds() <= 4
            ]
            assert matches, c


def test_advance_zero_changes_nothing_and_fractions_accumulate() -> None:
    world = World(members=80, seed=3, churn=50.0)
    truth, now, size = world.truth(), world.now, world.audit_count()
    assert world.advance(0) == []
    assert world.advance(0.4) == []
    assert (world.truth(), world.now, world.audit_count()) == (truth, now, size)
    world.advance(0.6)  # 0.4 + 0.6: one whole second
    assert world.now == now + timedelta(seconds=1)
    with pytest.raises(ValueError, match="advance"):
        world.advance(-1)
    assert world.advance_to(now) == []
    world.advance_to(now + timedelta(hours=2))
    assert world.now == now + timedelta(hours=2)


def test_churn_scales_with_team_size_and_time() -> None:
    def count(members: int, hours: int) -> int:
        world = World(members=members, seed=5, audit_rate=0.0)
        return sum(len(world.advance(3600)) for _ in range(hours))

    # ~1% of seated members per hour (plus removal cascades); Poisson noise allowed
    assert 30 <= count(1000, 6) <= 120
    assert count(1000, 6) > 3 * count(100, 6)


def test_member_order_is_append_only_and_admins_survive_churn(
    world_and_steps: tuple[World, list[Step]],
) -> None:
    world, steps = world_and_steps
    order = world.member_order()
    assert order[: len(steps[0].before["members"])] == list(steps[0].before["members"])
    assert order == list(steps[-1].after["members"])
    assert len(set(order)) == len(order)
    admin = world.admin_member_id()
    info = world.member_info(admin)
    assert info["profile"]["status"] == {".tag": "active"}
    assert [r["name"] for r in info["roles"]] == ["Team admin"]
