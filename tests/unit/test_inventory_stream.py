"""InventoryStream across an interrupted listing: what a restart within the same snapshot slot
emits again (nothing already committed) and what it leaves behind (no bookkeeping).

The stream is driven as the worker drives it: each batch's state is folded into the context
only once the batch counts as committed; a crash abandons the generator; a restart sees the
committed state packed, as ``restore_state`` reads it back from Kafka, in a ``StateStore``
small enough a threshold that it holds the states compressed.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from datetime import timedelta
from typing import Any

import pytest

from streamer.clock import ManualClock
from streamer.config import Settings
from streamer.dropbox.pagination import MEMBERS_CONTINUE, MEMBERS_LIST
from streamer.errors import RouteError
from streamer.simulator.world import World
from streamer.state import META, PROGRESS, StateStore, pack_state
from streamer.streams.base import StreamContext
from streamer.streams.inventory import MEMBERS, InventoryStream

PAGE = 7


class PagedMembers:
    """``rpc`` for the members listing of a simulated team, ``PAGE`` members per page; the
    cursor of page ``reset_at`` (counting from 1) comes back as invalid, once."""

    def __init__(self, world: World, reset_at: int | None = None) -> None:
        self.infos = [world.member_info(m) for m in world.member_order()]
        self.reset_at = reset_at

    async def rpc(self, route: str, arg: Any) -> Any:
        start = 0 if route == MEMBERS_LIST else int(arg["cursor"])
        assert route in (MEMBERS_LIST, MEMBERS_CONTINUE)
        if route == MEMBERS_CONTINUE and start == PAGE * (self.reset_at or -1):
            self.reset_at = None
            raise RouteError(route, "invalid_cursor", {".tag": "invalid_cursor"})
        end = start + PAGE
        return {
            "members": self.infos[start:end],
            "cursor": str(end),
            "has_more": end < len(self.infos),
        }


@pytest.fixture
def world() -> World:
    return World(members=30, seed=5)


def context(
    world: World,
    state: MutableMapping[str, Any],
    clock: ManualClock,
    *,
    reset_at: int | None = None,
    first_poll: str = "snapshot",
    snapshot_interval: float = 86400,
) -> StreamContext:
    settings = Settings.model_validate(
        {
            "teams": {"acme": {"app_key": "k", "app_secret": "s", "refresh_token": "r"}},
            "events": {"first_poll": first_poll, "snapshot_interval": snapshot_interval},
        }
    )
    return StreamContext(
        team="acme",
        team_id=world.team_id,
        team_name=world.team_name,
        client=PagedMembers(world, reset_at),  # type: ignore[arg-type]
        clock=clock,
        settings=settings,
        store=state,
        directory=lambda member_id: None,
        peers=lambda stream: state,
    )


def commit(ctx: StreamContext, state: dict[str, Any]) -> None:
    for subject, value in state.items():
        if value is None:
            ctx.store.pop(subject, None)
        else:
            ctx.store[subject] = pack_state(value)  # as the worker folds it in


async def poll(ctx: StreamContext, *, pages: int | None = None) -> list[str]:
    """Commit ``pages`` batches (all when None), then abandon the listing; the event ids of
    what was committed."""
    ids: list[str] = []
    stream = InventoryStream(MEMBERS).poll(ctx)
    try:
        async for batch in stream:
            commit(ctx, batch.state)
            ids += [e.event_id for e in batch.events]
            if pages is not None:
                pages -= 1
                if pages == 0:
                    break  # the crash: the next page is never committed
    finally:
        await stream.aclose()
    return ids


def restored(state: dict[str, Any]) -> StateStore:
    packed = ((subject, pack_state(value)) for subject, value in state.items())
    store = StateStore(((s, v) for s, v in packed if v is not None), train_at=7)
    assert store.compressed
    return store


@pytest.mark.parametrize("committed_pages", [1, 2, 4])
async def test_a_listing_restarted_in_the_same_slot_repeats_no_committed_snapshot(
    world: World, committed_pages: int
) -> None:
    clock = ManualClock(start=world.now)
    whole = await poll(context(world, {}, clock))
    assert len(whole) == len(set(whole)) == len(world.member_order())  # one snapshot each

    state: dict[str, Any] = {}
    first = await poll(context(world, state, clock), pages=committed_pages)
    clock.advance(60)  # the restart comes a minute later, within the same slot
    second = await poll(context(world, restored(state), clock))

    assert len(first) == committed_pages * PAGE
    assert sorted(first + second) == sorted(whole)


async def test_the_finished_listing_leaves_no_progress_markers(world: World) -> None:
    clock = ManualClock(start=world.now)
    state: dict[str, Any] = {}
    await poll(context(world, state, clock), pages=2)
    assert [s for s in state if s.startswith(PROGRESS)], "an unfinished listing keeps markers"

    ctx = context(world, restored(state), clock)
    await poll(ctx)

    assert not [s for s in ctx.store if s.startswith(PROGRESS)]
    assert ctx.stored(META) is not None
    assert ctx.snapshot_slot() is None  # done for this slot


async def test_markers_of_an_earlier_slot_do_not_hold_back_the_next_snapshot(
    world: World,
) -> None:
    clock = ManualClock(start=world.now)
    state: dict[str, Any] = {}
    await poll(context(world, state, clock), pages=2)
    clock.advance(timedelta(days=1).total_seconds())  # the next slot: snapshot everything

    ctx = context(world, restored(state), clock)
    ids = await poll(ctx)

    assert len(ids) == len(world.member_order())
    assert not [s for s in ctx.store if s.startswith(PROGRESS)]


@pytest.mark.parametrize("first_poll", ["snapshot", "changes"])
async def test_a_cursor_reset_mid_listing_repeats_nothing_even_before_commits(
    world: World, first_poll: str
) -> None:
    clock = ManualClock(start=world.now)
    whole = await poll(context(world, {}, clock, first_poll=first_poll))

    # Dropbox invalidates the cursor after page 3: the listing starts over. The worker commits
    # pages behind the stream (prefetch), so here nothing is committed until the end.
    ctx = context(world, {}, clock, reset_at=3, first_poll=first_poll)
    batches = [b async for b in InventoryStream(MEMBERS).poll(ctx)]
    ids = [e.event_id for b in batches for e in b.events]

    assert sorted(ids) == sorted(whole)
    assert len(ids) == len(set(ids))


async def test_a_baseline_restarted_without_scheduled_snapshots_keeps_its_slot(
    world: World,
) -> None:
    # snapshot_interval = 0: no scheduled snapshots, but the quiet first poll is one, its slot
    # the time it began; a restart a minute later must not snapshot the committed pages again
    clock = ManualClock(start=world.now)
    state: dict[str, Any] = {}
    first = await poll(context(world, state, clock, snapshot_interval=0), pages=2)
    clock.advance(60)
    second = await poll(context(world, restored(state), clock, snapshot_interval=0))

    assert len(first) + len(second) == len(world.member_order())
    assert len(set(first + second)) == len(world.member_order())
