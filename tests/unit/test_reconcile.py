"""The listing reconciler on its own: pairs and stored states in, batches out, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from streamer.dropbox.models import TeamMemberInfoV2, parse_members
from streamer.events.envelope import EventContext
from streamer.events.members import MEMBERS, member_state
from streamer.simulator.world import World
from streamer.state import META, PROGRESS, pack_state
from streamer.streams.base import Batch
from streamer.streams.reconcile import Listing, Plan

CTX = EventContext("dbtid:1", "Acme", datetime(2026, 1, 2, tzinfo=UTC))


def _members(n: int = 4) -> list[TeamMemberInfoV2]:
    world = World(members=n, seed=3)
    return parse_members([world.member_info(m) for m in world.member_order()]).ok


def _pairs(infos: list[TeamMemberInfoV2]) -> list[tuple[str, TeamMemberInfoV2]]:
    return [(MEMBERS.subject(info), info) for info in infos]


def _listing(store: dict[str, bytes], plan: Plan) -> Listing[TeamMemberInfoV2]:
    return Listing(MEMBERS, store, plan)


def _page(listing: Listing[TeamMemberInfoV2], pairs: list[Any], ctx: EventContext = CTX) -> Batch:
    batch = listing.start_page([], len(pairs))
    listing.add(batch, pairs, ctx)
    return listing.end_page(batch)


def test_unchanged_subjects_write_nothing_and_a_new_one_its_state_and_events() -> None:
    infos = sorted(_members(), key=lambda i: i.profile.status.tag != "active")
    assert infos[0].profile.status.tag == "active"
    store = {MEMBERS.subject(i): pack_state(member_state(i)) or b"" for i in infos[1:]}
    batch = _page(_listing(store, Plan(baseline=False, replay=False, slot=None)), _pairs(infos))

    new = MEMBERS.subject(infos[0])
    assert list(batch.state) == [new]  # only the member the store did not know
    assert [(e.event_type, e.user and e.user["team_member_id"]) for e in batch.events] == [
        ("member.joined", new)
    ]


def test_a_subject_listed_again_after_a_cursor_reset_is_skipped() -> None:
    pairs = _pairs(_members())
    listing = _listing({}, Plan(baseline=False, replay=False, slot=7))
    first = _page(listing, pairs)
    again = _page(listing, pairs[:2])

    assert len([e for e in first.events if e.event_type == "member.snapshot"]) == len(pairs)
    assert again.events == []
    assert again.state == {}
    assert PROGRESS + pairs[0][0] in first.state  # the page's snapshots are recorded


def test_finish_closes_unlisted_subjects_and_records_the_slot() -> None:
    infos = _members()
    gone = infos[-1]
    store = {MEMBERS.subject(i): pack_state(member_state(i)) or b"" for i in infos}
    listing = _listing(store, Plan(baseline=False, replay=False, slot=7))
    _page(listing, _pairs(infos[:-1]))
    (final,) = listing.finish(CTX)

    assert final.state[MEMBERS.subject(gone)] is None
    assert [e.event_type for e in final.events] == (
        [] if gone.profile.status.tag == "removed" else ["member.removed"]
    )
    assert final.state[META] == {"baselined": True, "snapshot_slot": 7}


def test_a_replay_snapshots_but_diffs_and_writes_nothing() -> None:
    infos = _members()
    listing = _listing({}, Plan(baseline=False, replay=True, slot=7))
    batch = _page(listing, _pairs(infos))

    assert {e.event_type for e in batch.events} == {"member.snapshot"}
    assert batch.state == {}
    assert list(listing.finish(CTX)) == []


def test_the_plan_skips_subjects_an_interrupted_listing_already_snapshotted() -> None:
    store = {PROGRESS + "a": pack_state({"slot": 7, "subjects": ["a", "b"]}) or b""}
    plan = Plan.of(store, baseline=False, replay=False, slot=7, scheduled=True)
    assert plan.done == {"a", "b"}
    assert plan.progress == (PROGRESS + "a",)
    assert Plan.of(store, baseline=False, replay=False, slot=8, scheduled=True).done == set()
