"""Team: ``team/get_info`` + ``team/features/get_values`` → team snapshot / changed."""

from __future__ import annotations

from collections.abc import AsyncIterator

from streamer.events.diff import diff_team
from streamer.events.normalize import team_snapshot
from streamer.streams.base import META, Batch, StreamContext

FEATURES = [
    "upload_api_rate_limit",
    "has_team_shared_dropbox",
    "has_team_file_events",
    "has_team_selective_sync",
    "has_distinct_member_homes",
]
SUBJECT = "team"


class TeamStream:
    name = "team"

    async def poll(self, ctx: StreamContext) -> AsyncIterator[Batch]:
        info = await ctx.client.rpc("team/get_info", None)
        features = await ctx.client.rpc(
            "team/features/get_values", {"features": [{".tag": f} for f in FEATURES]}
        )
        values = features.get("values", []) if isinstance(features, dict) else []
        ectx = ctx.event_context()
        batch = Batch(records=1)
        slot = ctx.snapshot_slot()
        if slot is not None:
            batch.events.append(team_snapshot(info, values, ectx, slot))
            if not ctx.replay:
                batch.state[META] = {"snapshot_slot": slot, "baselined": True}
        if not ctx.replay:
            previous = ctx.state.get(SUBJECT)
            events, state = diff_team(previous, info, values, ectx)
            batch.events.extend(events)
            if state is not previous:
                batch.state[SUBJECT] = state
        yield batch
