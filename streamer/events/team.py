"""Team: the team's settings state, its diff (``team.changed``) and ``team.snapshot``.

State (one per team)::

    {"rev": 2, "settings": {"name": "…", "num_licensed_users": 5,
                            "policies.sharing.shared_link_create_policy": "team_only",
                            "features.upload_api_rate_limit": "limit",
                            "features.upload_api_rate_limit.limit": 25000, …}}

``settings`` is ``team_settings`` (a flat dotted-path dict). The first poll only records the
state (``team.snapshot`` describes the team); after that every poll whose settings differ
emits one ``team.changed`` with ``changes`` per dotted path (``null`` = absent). ``rev``
counts those events, so a setting flipped back and forth gets new ids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from streamer.dropbox.models import FeatureValue, TeamGetInfoResult
from streamer.events.entity import Entity
from streamer.events.envelope import Change, Event, EventContext, UserRef
from streamer.events.ids import SnapshotSlot, digest, event_id, slot_part
from streamer.state import Stored, load_state

__all__ = [
    "SUBJECT",
    "TEAM",
    "TeamRecord",
    "diff_team",
    "team_raw",
    "team_settings",
    "team_snapshot",
    "team_state",
]

SUBJECT = "team"
"""The team stream's one subject."""


class TeamRecord(NamedTuple):
    """What one team poll reads: ``team/get_info`` and ``team/features/get_values``."""

    info: TeamGetInfoResult | Mapping[str, Any]
    features: Sequence[FeatureValue | Mapping[str, Any]] = ()


def _received(record: TeamGetInfoResult | FeatureValue | Mapping[str, Any]) -> dict[str, Any]:
    return (
        record.received() if isinstance(record, TeamGetInfoResult | FeatureValue) else dict(record)
    )


def _flatten(value: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        tag = value.get(".tag")
        if tag is not None and path:
            # (a tag that is not a string is malformed: kept as it is, never looked up)
            last = path.rpartition(".")[2]
            if isinstance(tag, str) and len(value) == 2 and tag in value and last == tag:
                # {".tag": "x", "x": v} at path …x: the tag only repeats the name
                _flatten(value[tag], path, out)
                return
            out[path] = tag
        for key, item in value.items():
            if key != ".tag":
                _flatten(item, f"{path}.{key}" if path else key, out)
    elif value is not None and path:
        out[path] = value


def team_settings(team: TeamRecord) -> dict[str, Any]:
    """Team info, policies and feature values as one flat ``{dotted.path: value}`` dict.

    A union becomes its tag at its path, and the fields that came with it sit below it:
    ``policies.sharing.shared_link_create_policy = "team_only"``,
    ``features.upload_api_rate_limit = "limit"``, ``features.upload_api_rate_limit.limit =
    25000``. Unknown fields and tags flow through the same way.
    """
    out: dict[str, Any] = {}
    _flatten(_received(team.info), "", out)
    for feature in team.features:
        wire = _received(feature)
        tag = wire.get(".tag")
        if isinstance(tag, str) and tag in wire:
            _flatten(wire[tag], f"features.{tag}", out)
    return out


def team_state(team: TeamRecord, rev: int = 0) -> dict[str, Any]:
    return {"rev": rev, "settings": team_settings(team)}


def diff_team(
    stored: Stored | None, record: TeamRecord | None, user: UserRef | None, ctx: EventContext
) -> tuple[list[Event], Stored | None]:
    """``team.changed`` (or nothing) and the new state (``stored`` itself when unchanged).

    The first state is only recorded. ``record=None`` keeps the state (a team is never
    gone); ``user`` is not used.
    """
    if record is None:
        return [], stored
    prev = load_state(stored)
    rev = prev.get("rev", 0) if prev is not None else 0
    state = team_state(record, rev)
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
    state["rev"] = rev + 1
    if ctx.quiet:
        return [], state
    eid = event_id(ctx.team_id, "team.changed", rev, digest(changes))
    return [ctx.event("team.changed", eid, changes=changes, raw=team_raw(record, ctx))], state


def team_snapshot(team: TeamRecord, ctx: EventContext, slot: SnapshotSlot | None = None) -> Event:
    """``team.snapshot`` carrying ``settings``; id = (team, type, slot)."""
    eid = event_id(ctx.team_id, "team.snapshot", slot_part(slot, ctx.observed_at))
    return ctx.event("team.snapshot", eid, settings=team_settings(team), raw=team_raw(team, ctx))


def team_raw(team: TeamRecord, ctx: EventContext) -> dict[str, Any] | None:
    """``raw`` of team events: ``{"info": <get_info result>, "features": [<values>]}``."""
    if not ctx.include_raw:
        return None
    return {"info": ctx.raw(team.info), "features": [ctx.raw(f) for f in team.features]}


def _snapshots(
    team: TeamRecord, user: UserRef | None, ctx: EventContext, slot: SnapshotSlot | None
) -> list[Event]:
    return [team_snapshot(team, ctx, slot)]


def _subject(team: TeamRecord) -> str:
    return SUBJECT


TEAM: Entity[TeamRecord] = Entity("team", _subject, diff_team, _snapshots)
