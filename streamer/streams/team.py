"""Team: ``team/get_info`` + ``team/features/get_values`` → team snapshot / changed."""

from __future__ import annotations

from collections.abc import AsyncIterator

from streamer.dropbox.models import parse_features, parse_team_infos
from streamer.events.team import SUBJECT, TeamRecord, diff_team, team_snapshot
from streamer.state import META
from streamer.streams.base import Batch, StreamContext, parse_page

FEATURES = [
    "upload_api_rate_limit",
    "has_team_shared_dropbox",
    "has_team_file_events",
    "has_team_selective_sync",
    "has_distinct_member_homes",
]


class TeamStream:
    name = "team"

    async def poll(self, ctx: StreamContext) -> AsyncIterator[Batch]:
        info = await ctx.client.rpc("team/get_info", None)
        features = await ctx.client.rpc(
            "team/features/get_values", {"features": [{".tag": f} for f in FEATURES]}
        )
        values = features.get("values", []) if isinstance(features, dict) else []
        infos, rejected = parse_page(self.name, parse_team_infos, [info])
        values, rejected_values = parse_page(self.name, parse_features, values)
        batch = Batch(rejected=rejected + rejected_values, records=1)
        if not infos:
            yield batch  # nothing to compare without the team's info: try again next poll
            return
        team = TeamRecord(infos[0], values)
        ectx = ctx.event_context()
        slot = ctx.snapshot_slot()
        if slot is not None:
            batch.events.append(team_snapshot(team, ectx, slot))
            if not ctx.replay:
                batch.state[META] = {"snapshot_slot": slot, "baselined": True}
        if not ctx.replay:
            previous = ctx.store.get(SUBJECT)
            events, state = diff_team(previous, team, None, ectx)
            batch.events.extend(events)
            if state is not previous:
                batch.state[SUBJECT] = state
        yield batch
