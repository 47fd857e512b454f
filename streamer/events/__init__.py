"""Events: the envelope, normalization of API records, change detection. Pure, no I/O."""

from streamer.events.diff import (
    apps_state,
    devices_state,
    diff_member,
    diff_member_apps,
    diff_member_devices,
    diff_team,
    member_activity,
    member_state,
    team_state,
    vanished_member,
)
from streamer.events.envelope import SCHEMA_VERSION, Event, EventContext, UserRef
from streamer.events.ids import event_id
from streamer.events.normalize import (
    app_snapshots,
    audit_event,
    member_snapshot,
    session_snapshots,
    team_snapshot,
    user_ref,
    user_ref_from_state,
)

__all__ = [
    "SCHEMA_VERSION",
    "Event",
    "EventContext",
    "UserRef",
    "app_snapshots",
    "apps_state",
    "audit_event",
    "devices_state",
    "diff_member",
    "diff_member_apps",
    "diff_member_devices",
    "diff_team",
    "event_id",
    "member_activity",
    "member_snapshot",
    "member_state",
    "session_snapshots",
    "team_snapshot",
    "team_state",
    "user_ref",
    "user_ref_from_state",
    "vanished_member",
]
