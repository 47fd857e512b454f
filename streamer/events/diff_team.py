"""Team: previous settings + current team info and features → ``team.changed`` + state.

State (one per team)::

    {"rev": 2, "settings": {"name": "…", "num_licensed_users": 5,
                            "policies.sharing.shared_link_create_policy": "team_only",
                            "features.upload_api_rate_limit": "limit",
                            "features.upload_api_rate_limit.limit": 25000, …}}

``settings`` is ``normalize.team_settings`` (a flat dotted-path dict). The first poll only
records the state (``team.snapshot`` describes the team); after that every poll whose
settings differ emits one ``team.changed`` with ``changes`` per dotted path (``null`` =
absent). ``rev`` counts those events, so a setting flipped back and forth gets new ids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from streamer.dropbox.models import FeatureValue, TeamGetInfoResult
from streamer.events.envelope import Change, Event, EventContext
from streamer.events.ids import digest, event_id
from streamer.events.normalize import team_raw, team_settings
from streamer.events.states import Stored, load_state

__all__ = ["diff_team", "team_state"]


def team_state(
    info: TeamGetInfoResult | Mapping[str, Any],
    features: Sequence[FeatureValue | Mapping[str, Any]] = (),
    rev: int = 0,
) -> dict[str, Any]:
    return {"rev": rev, "settings": team_settings(info, features)}


def diff_team(
    stored: Stored | None,
    info: TeamGetInfoResult | Mapping[str, Any],
    features: Sequence[FeatureValue | Mapping[str, Any]],
    ctx: EventContext,
) -> tuple[list[Event], Stored]:
    """``team.changed`` (or nothing) and the new state (``stored`` itself when unchanged)."""
    prev = load_state(stored)
    rev = prev.get("rev", 0) if prev is not None else 0
    state = team_state(info, features, rev)
    if prev is None:
        return [], state
    if state == prev and stored is not None:
        return [], stored
    old: dict[str, Any] = prev.get("settings", {})
    new: dict[str, Any] = state["settings"]
    changes = {
        key: Change(old=old.get(key), new=new.get(key))
        for key in sorted(old.keys() | new.keys())
        if old.get(key) != new.get(key)
    }
    if not changes:
        return [], state
    event = Event(
        event_id=event_id(ctx.team_id, "team.changed", rev, digest(changes)),
        event_type="team.changed",
        event_time=ctx.observed_at,
        observed_time=ctx.observed_at,
        team=ctx.team,
        changes=changes,
        raw=team_raw(info, features, ctx),
    )
    state["rev"] = rev + 1
    return [event], state
