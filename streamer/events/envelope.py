"""The event envelope every stream emits, and how it goes onto Kafka (key, headers, JSON).

``Event`` is a slotted dataclass, not a pydantic model: tens of thousands are built per
second, so construction must be cheap and nothing is validated at run time. Its parts (user,
device, ...) are ``TypedDict``s, i.e. plain dicts holding only the keys that have a value, so
``to_json`` is one ``orjson.dumps`` call with no ``null`` noise. The JSON Schema
(``schemas/event.schema.json``) is generated from these same classes by pydantic
(``scripts/gen_schema.py``), which is also how tests validate events.

Datetimes stay ``datetime`` objects until ``to_json``; orjson writes them as
``2026-01-01T00:00:00Z`` (``OPT_UTC_Z``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, Required

import orjson
from pydantic import ConfigDict, with_config
from typing_extensions import TypedDict  # pydantic needs this one on Python < 3.12

SCHEMA_VERSION = "1.0"

_DOCS = ConfigDict(use_attribute_docstrings=True, extra="forbid")
_JSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC

EVENT_TYPES = (
    "team.snapshot",
    "team.changed",
    "member.snapshot",
    "member.invited",
    "member.joined",
    "member.updated",
    "member.suspended",
    "member.unsuspended",
    "member.removed",
    "member.activity",
    "web_session.started",
    "web_session.ended",
    "desktop_client.linked",
    "desktop_client.unlinked",
    "mobile_client.linked",
    "mobile_client.unlinked",
    "session.network_changed",
    "session.snapshot",
    "app.linked",
    "app.unlinked",
    "app.snapshot",
    "audit.event",
)
"""Every event type this version emits (the catalogue in ``docs/events.md``)."""


@with_config(_DOCS)
class TeamRef(TypedDict):
    """The Dropbox team the event belongs to."""

    id: str
    """Team id, ``dbtid:…``."""
    name: str


@with_config(_DOCS)
class UserRef(TypedDict, total=False):
    """The team member the event is about (audit: the acting member, else the context one)."""

    team_member_id: Required[str]
    """``dbmid:…``; also the Kafka key."""
    account_id: str
    """``dbid:…``."""
    email: str
    name: str
    """Display name."""
    status: str
    """``active | invited | suspended | removed`` or a tag this version does not know."""
    external_id: str


@with_config(_DOCS)
class NetworkRef(TypedDict, total=False):
    """Where the activity came from."""

    ip_address: str
    country: str
    """Sessions: the country name as Dropbox gives it; audit: the geo-location country code."""
    city: str
    """Audit only (geo-location)."""
    region: str
    """Audit only (geo-location)."""


@with_config(_DOCS)
class DeviceRef(TypedDict, total=False):
    """A web session, desktop client or mobile client (audit: the session of the origin)."""

    kind: Required[str]
    """``web | desktop | mobile`` (audit: the access-method session tag)."""
    session_id: str
    """``dbwsid:`` / ``dbdsid:`` / ``dbmsid:…``."""
    client_type: str
    """Desktop: ``windows | mac | linux``; mobile: ``iphone | ipad | android | …``."""
    client_version: str
    os: str
    """Web: operating system from the user agent."""
    os_version: str
    browser: str
    user_agent: str
    host_name: str
    """Desktop: the computer's name."""
    device_name: str
    """Mobile: the device's name."""
    platform: str
    """Desktop: e.g. ``Mac OS X 10.12``."""
    last_carrier: str
    is_delete_on_unlink_supported: bool
    created: datetime
    updated: datetime
    """Last activity."""
    expires: datetime


@with_config(_DOCS)
class AppRef(TypedDict, total=False):
    """A third-party API app a member linked to their account."""

    app_id: Required[str]
    """``dbaid:…``."""
    app_name: str
    publisher: str
    publisher_url: str
    linked: datetime
    is_app_folder: bool


@with_config(_DOCS)
class Role(TypedDict):
    role_id: str
    name: str


@with_config(_DOCS)
class SecondaryEmailRef(TypedDict):
    email: str
    is_verified: bool


@with_config(_DOCS)
class MemberDetails(TypedDict, total=False):
    """The member's profile beyond ``user``: on every ``member.*`` event built from a listing."""

    given_name: str
    surname: str
    familiar_name: str
    abbreviated_name: str
    email_verified: bool
    secondary_emails: list[SecondaryEmailRef]
    groups: list[str]
    """Group ids (``g:…``), sorted."""
    roles: list[Role]
    """Admin roles, sorted by ``role_id``."""
    membership_type: str
    persistent_id: str
    is_directory_restricted: bool
    invited_on: datetime
    joined_on: datetime
    suspended_on: datetime
    status_details: dict[str, Any]
    """Fields that came with the status tag, e.g. ``is_recoverable`` for ``removed``."""
    member_folder_id: str
    root_folder_id: str
    profile_photo_url: str


@with_config(_DOCS)
class Change(TypedDict):
    """One changed field: its value before and after (``null`` = absent)."""

    old: Any
    new: Any


@with_config(_DOCS)
class Activity(TypedDict, total=False):
    """``member.activity``: a member's footprint as of the observation."""

    last_seen: datetime
    """Newest ``updated`` over the member's sessions and clients."""
    last_ip_address: str
    last_country: str
    active_web_sessions: int
    desktop_clients: int
    mobile_clients: int
    linked_apps: int


@with_config(_DOCS)
class AuditInfo(TypedDict, total=False):
    """``audit.event``: the team-log record, its unions kept as Dropbox sent them."""

    category: Required[str]
    """Event category tag, e.g. ``logins``."""
    type: Required[str]
    """Event type tag, e.g. ``login_success``."""
    description: str
    actor: dict[str, Any]
    origin: dict[str, Any]
    context: dict[str, Any]
    participants: list[dict[str, Any]]
    assets: list[dict[str, Any]]
    details: dict[str, Any]
    involve_non_team_member: bool


_OPTIONAL = (
    "user",
    "network",
    "device",
    "app",
    "member",
    "changes",
    "activity",
    "audit",
    "settings",
    "raw",
)


@with_config(_DOCS)
@dataclass(slots=True, kw_only=True)
class Event:
    """One fact about a Dropbox team, as published to Kafka (JSON, optional parts omitted)."""

    event_id: str
    """Deterministic: the same fact has the same id across restarts and replays (dedupe key)."""
    event_type: str
    """E.g. ``member.joined``; see ``docs/events.md``."""
    event_time: datetime
    """When it happened per Dropbox where the API says so, else when it was observed."""
    observed_time: datetime
    """When this streamer saw it."""
    team: TeamRef
    schema_version: str = SCHEMA_VERSION
    user: UserRef | None = None
    network: NetworkRef | None = None
    device: DeviceRef | None = None
    app: AppRef | None = None
    member: MemberDetails | None = None
    changes: dict[str, Change] | None = None
    """``*.updated``, ``*.changed``, status transitions: ``{field: {old, new}}``."""
    activity: Activity | None = None
    audit: AuditInfo | None = None
    settings: dict[str, Any] | None = None
    """``team.snapshot``: team info, policies and features, flattened as in ``team.changed``."""
    raw: dict[str, Any] | None = None
    """The Dropbox record the event was built from (``events.include_raw``)."""

    def key(self) -> bytes:
        """Kafka key: the team member, else the team (keeps one subject in one partition)."""
        user = self.user
        return (user["team_member_id"] if user is not None else self.team["id"]).encode()

    def headers(self) -> list[tuple[str, bytes]]:
        return [
            ("event_type", self.event_type.encode()),
            ("event_id", self.event_id.encode()),
            ("schema_version", self.schema_version.encode()),
            ("team_id", self.team["id"].encode()),
        ]

    def to_dict(self) -> dict[str, Any]:
        """The JSON object as a dict; parts that are ``None`` are left out."""
        out: dict[str, Any] = {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "schema_version": self.schema_version,
            "event_time": self.event_time,
            "observed_time": self.observed_time,
            "team": self.team,
        }
        # unrolled (the order of _OPTIONAL): tens of thousands of events per second
        if self.user is not None:
            out["user"] = self.user
        if self.network is not None:
            out["network"] = self.network
        if self.device is not None:
            out["device"] = self.device
        if self.app is not None:
            out["app"] = self.app
        if self.member is not None:
            out["member"] = self.member
        if self.changes is not None:
            out["changes"] = self.changes
        if self.activity is not None:
            out["activity"] = self.activity
        if self.audit is not None:
            out["audit"] = self.audit
        if self.settings is not None:
            out["settings"] = self.settings
        if self.raw is not None:
            out["raw"] = self.raw
        return out

    def to_json(self) -> bytes:
        return encode_json(self.to_dict())


def encode_json(data: Any) -> bytes:
    """Compact JSON, ``Z`` datetimes: the encoding of every record value (native and OCSF)."""
    try:
        # a right-sized copy: orjson's result keeps its whole growth buffer (16 KB for a
        # 1.2 KB event, measured), and commits hold thousands of these until Kafka acks
        return bytes(memoryview(orjson.dumps(data, option=_JSON_OPTIONS)))
    except TypeError:
        # orjson stops at 64-bit integers; an unknown Dropbox field could hold a bigger one
        return json.dumps(
            data, default=_json_default, ensure_ascii=False, separators=(",", ":")
        ).encode()


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        text = (value if value.tzinfo is None else value.astimezone(UTC)).isoformat()
        return text.removesuffix("+00:00") + "Z"
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


class Received(Protocol):
    """An API record that remembers the dict it was validated from (``dropbox.models``)."""

    def received(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class EventContext:
    """What every event of one poll shares: the team and the moment of observation.

    ``event`` builds an event with that shared header, so builders name only what is theirs.
    """

    team_id: str
    team_name: str
    observed_at: datetime
    include_raw: bool = True
    quiet: bool = False
    """A baseline poll: the diffs record the new states but build no change events."""
    team: TeamRef = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "team", TeamRef(id=self.team_id, name=self.team_name))

    def event(
        self, event_type: str, event_id: str, event_time: datetime | None = None, **parts: Any
    ) -> Event:
        """An event of this team, observed now; ``event_time`` defaults to the observation.
        ``parts``: the optional ``Event`` fields (user, device, changes, raw, ...)."""
        return Event(
            event_id=event_id,
            event_type=event_type,
            event_time=event_time or self.observed_at,
            observed_time=self.observed_at,
            team=self.team,
            **parts,
        )

    def raw(self, record: Received | Mapping[str, Any]) -> dict[str, Any] | None:
        """The record as Dropbox sent it, or ``None`` when ``include_raw`` is off."""
        if not self.include_raw:
            return None
        if isinstance(record, dict):
            return record
        if isinstance(record, Mapping):
            return dict(record)
        return record.received()


SCHEMA_ID = "https://github.com/dropbox-streamer/dropbox-streamer/schemas/event.schema.json"


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``Event.to_json()`` output, from these classes.

    Committed as ``schemas/event.schema.json``; regenerate with
    ``python scripts/gen_schema.py`` (a unit test fails when the file drifts).
    """
    from pydantic import TypeAdapter  # only needed here, not on the hot path

    schema = TypeAdapter(Event).json_schema(mode="serialization")
    schema["required"].append("schema_version")  # defaulted in Python, always in the JSON
    props = schema["properties"]
    props["event_id"]["format"] = "uuid"
    props["event_type"]["enum"] = list(EVENT_TYPES)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"dropbox-streamer event, schema_version {SCHEMA_VERSION}",
        **{k: v for k, v in schema.items() if k != "title"},
    }
