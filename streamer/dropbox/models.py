"""Pydantic models of the Dropbox API records the streams read, and page parsers.

Tolerant by design, because Dropbox adds fields and union tags without notice:

- every model keeps unknown fields (``extra="allow"``) and dumps them back unchanged;
- a union is a ``Tagged`` model: ``tag`` (wire name ``.tag``) plus whatever fields sit next to
  it; an unknown tag is kept as it is, never rejected; the bare-string form ``"active"`` is
  accepted too;
- no id patterns or lengths are enforced; only what the spec marks required is required.

A record that still fails (a required field missing, a wrong type) must not sink its page: the
``parse_*`` helpers validate a whole page in one go and, only when that fails, sort the good
records from the bad, returning the bad ones as ``RejectedRecord`` for a dead-letter topic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, NamedTuple, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

__all__ = [
    "ActiveWebSession",
    "ApiApp",
    "DesktopClientSession",
    "DeviceSession",
    "FeatureValue",
    "MemberDevices",
    "MemberLinkedApps",
    "MemberStatus",
    "MobileClientSession",
    "Name",
    "ParseResult",
    "RejectedRecord",
    "SecondaryEmail",
    "Tagged",
    "TeamEvent",
    "TeamGetInfoResult",
    "TeamMemberInfoV2",
    "TeamMemberProfile",
    "TeamMemberRole",
    "Timestamp",
    "parse_events",
    "parse_features",
    "parse_linked_apps",
    "parse_member_devices",
    "parse_members",
    "parse_team_info",
    "parse_team_infos",
]


def _as_utc(value: datetime) -> datetime:
    # Dropbox always sends "...Z". Anything else is brought to UTC so events always say "Z";
    # a naive value is taken as UTC rather than as local time.
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    if value.utcoffset():
        return value.astimezone(UTC)
    return value


Timestamp = Annotated[datetime, AfterValidator(_as_utc)]
"""A ``DropboxTimestamp`` (``2015-05-12T15:50:38Z``) as a timezone-aware UTC datetime."""


class Record(BaseModel):
    """Base of every API record: unknown fields are kept and dumped back by their wire name."""

    model_config = ConfigDict(
        extra="allow",
        validate_by_alias=True,
        validate_by_name=True,
        serialize_by_alias=True,
    )

    __slots__ = ("_wire",)
    # The dict this record was validated from, set by the page parsers (``received``). A plain
    # slot, not a pydantic private attribute: those cost a Python call per instance.

    def wire(self) -> dict[str, Any]:
        """The record as it came over the wire (unknown fields included, datetimes as objects)."""
        return self.model_dump(exclude_unset=True)

    def received(self) -> dict[str, Any]:
        """The dict this record was validated from, exactly as Dropbox sent it, when a page
        parser kept it (``parse_*``); else ``wire()``."""
        raw: dict[str, Any] | None = getattr(self, "_wire", None)
        return self.wire() if raw is None else raw


class Tagged(Record):
    """A stone union value: ``{".tag": "removed", "is_recoverable": false, ...}``.

    ``tag`` is whatever Dropbox sent, known to this code or not; the fields next to it stay
    available as ``payload`` (and in ``wire()``).
    """

    tag: str = Field(alias=".tag")

    @model_validator(mode="before")
    @classmethod
    def _bare_tag(cls, data: Any) -> Any:
        return {".tag": data} if isinstance(data, str) else data

    @property
    def payload(self) -> dict[str, Any]:
        """The values that came with the tag (empty for a void member)."""
        return dict(self.model_extra or {})


# --- team/members/list_v2 -------------------------------------------------------------


class MemberStatus(Tagged):
    """``active | invited | suspended | removed{is_recoverable, is_disconnected}``, or newer."""


class Name(Record):
    given_name: str
    surname: str
    familiar_name: str
    display_name: str
    abbreviated_name: str


class SecondaryEmail(Record):
    email: str
    is_verified: bool


class TeamMemberRole(Record):
    role_id: str
    name: str
    description: str


class TeamMemberProfile(Record):
    team_member_id: str
    email: str
    email_verified: bool
    status: MemberStatus
    name: Name
    membership_type: Tagged
    groups: list[str]
    member_folder_id: str
    root_folder_id: str
    external_id: str | None = None
    account_id: str | None = None
    secondary_emails: list[SecondaryEmail] | None = None
    invited_on: Timestamp | None = None
    joined_on: Timestamp | None = None
    suspended_on: Timestamp | None = None
    persistent_id: str | None = None
    is_directory_restricted: bool | None = None
    profile_photo_url: str | None = None


class TeamMemberInfoV2(Record):
    profile: TeamMemberProfile
    roles: list[TeamMemberRole] | None = None


# --- team/devices/list_members_devices --------------------------------------------------


class DeviceSession(Record):
    session_id: str
    ip_address: str | None = None
    country: str | None = None
    """Country name as Dropbox gives it, e.g. ``United States``."""
    created: Timestamp | None = None
    updated: Timestamp | None = None
    """Last activity."""


class ActiveWebSession(DeviceSession):
    user_agent: str
    os: str
    browser: str
    expires: Timestamp | None = None


class DesktopClientSession(DeviceSession):
    host_name: str
    client_type: Tagged
    """``windows | mac | linux`` (+ future tags)."""
    client_version: str
    platform: str
    is_delete_on_unlink_supported: bool


class MobileClientSession(DeviceSession):
    device_name: str
    client_type: Tagged
    """``iphone | ipad | android | windows_phone | blackberry`` (+ future tags)."""
    client_version: str | None = None
    os_version: str | None = None
    last_carrier: str | None = None


class MemberDevices(Record):
    team_member_id: str
    web_sessions: list[ActiveWebSession] | None = None
    desktop_clients: list[DesktopClientSession] | None = None
    mobile_clients: list[MobileClientSession] | None = None


# --- team/linked_apps/list_members_linked_apps ------------------------------------------


class ApiApp(Record):
    app_id: str
    app_name: str
    is_app_folder: bool
    publisher: str | None = None
    publisher_url: str | None = None
    linked: Timestamp | None = None


class MemberLinkedApps(Record):
    team_member_id: str
    linked_api_apps: list[ApiApp]


# --- team/get_info, team/features/get_values (loose: only names matter to us) -----------


class TeamGetInfoResult(Record):
    name: str
    team_id: str
    num_licensed_users: int | None = None
    num_provisioned_users: int | None = None
    num_used_licenses: int | None = None
    policies: dict[str, Any] | None = None


class FeatureValue(Tagged):
    """``{".tag": "<feature>", "<feature>": <value>}``; the value is in ``payload[tag]``."""


# --- team_log/get_events -----------------------------------------------------------------


class TeamEvent(Record):
    """One audit-log record; the deep unions stay plain JSON dicts."""

    timestamp: Timestamp
    event_category: Tagged
    event_type: Tagged
    """``{".tag": "login_success", "description": "(logins) Signed in"}``."""
    details: dict[str, Any]
    actor: dict[str, Any] | None = None
    origin: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    participants: list[dict[str, Any]] | None = None
    assets: list[dict[str, Any]] | None = None
    involve_non_team_member: bool | None = None


# --- parsing pages -----------------------------------------------------------------------

M = TypeVar("M", bound=Record)


@dataclass(frozen=True, slots=True)
class RejectedRecord:
    """A record that failed validation, kept for logging and a dead-letter topic.

    ``raw`` is the record as the page held it (a dict, or whatever malformed value stood
    there); ``reason`` the validation error as text; ``kind`` the API record type.
    ``subject`` is the team member the record is about when it can still be read: a caller
    diffing an inventory must treat that subject as *seen* (keep its previous state), or a
    malformed record would look like a member whose sessions all ended. ``stream`` is the
    stream that read it, set by that stream (``streams.base.parse_page``).
    """

    raw: Any
    reason: str
    kind: str
    subject: str | None = None
    stream: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "kind": self.kind,
            "reason": self.reason,
            "subject": self.subject,
            "raw": self.raw,
        }


class ParseResult(NamedTuple, Generic[M]):
    ok: list[M]
    rejected: list[RejectedRecord]


def _subject(raw: Any) -> str | None:
    if not isinstance(raw, dict):
        return None
    value = raw.get("team_member_id")
    if value is None and isinstance(raw.get("profile"), dict):
        value = raw["profile"].get("team_member_id")
    return value if isinstance(value, str) else None


def _reason(exc: ValidationError, limit: int = 3) -> str:
    parts = [
        f"{'.'.join(str(p) for p in err['loc']) or '<record>'}: {err['msg']}"
        for err in exc.errors(include_url=False)[:limit]
    ]
    more = exc.error_count() - limit
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


class _PageParser(Generic[M]):
    """Validates a page in one call; falls back to record-by-record only when that fails."""

    def __init__(self, model: type[M], kind: str, nested: tuple[str, ...] = ()) -> None:
        self.model = model
        self.kind = kind
        self.nested = nested
        """Fields holding lists of records that events carry as ``raw`` on their own."""
        self._page: TypeAdapter[list[M]] = TypeAdapter(list[model])  # type: ignore[valid-type]

    def __call__(self, records: list[dict[str, Any]]) -> ParseResult[M]:
        try:
            ok = self._page.validate_python(records)
        except ValidationError:
            pass
        else:
            for record, raw in zip(ok, records, strict=True):
                self._keep(record, raw)
            return ParseResult(ok, [])
        ok = []
        rejected: list[RejectedRecord] = []
        for raw in records if isinstance(records, list) else [records]:
            try:
                record = self.model.model_validate(raw)
            except ValidationError as exc:
                rejected.append(RejectedRecord(raw, _reason(exc), self.kind, _subject(raw)))
            else:
                self._keep(record, raw)
                ok.append(record)
        return ParseResult(ok, rejected)

    def _keep(self, record: Record, raw: Any) -> None:
        """Remember the dicts ``record`` (and its nested records) came from, for ``wire()``."""
        if type(raw) is not dict:
            return
        object.__setattr__(record, "_wire", raw)
        for name in self.nested:
            items = getattr(record, name)
            if items:
                for item, item_raw in zip(items, raw[name], strict=True):
                    if type(item_raw) is dict:
                        object.__setattr__(item, "_wire", item_raw)


parse_members = _PageParser(TeamMemberInfoV2, "member")
"""``members`` of ``team/members/list_v2`` (and ``continue_v2``) → ``(ok, rejected)``."""
parse_member_devices = _PageParser(
    MemberDevices, "member_devices", ("web_sessions", "desktop_clients", "mobile_clients")
)
"""``devices`` of ``team/devices/list_members_devices`` → ``(ok, rejected)``."""
parse_linked_apps = _PageParser(MemberLinkedApps, "member_linked_apps", ("linked_api_apps",))
"""``apps`` of ``team/linked_apps/list_members_linked_apps`` → ``(ok, rejected)``."""
parse_events = _PageParser(TeamEvent, "team_event")
"""``events`` of ``team_log/get_events`` (and ``continue``) → ``(ok, rejected)``."""
parse_features = _PageParser(FeatureValue, "feature_value")
"""``values`` of ``team/features/get_values`` → ``(ok, rejected)``."""
parse_team_infos = _PageParser(TeamGetInfoResult, "team_info")
"""``team/get_info`` results (a list of the one result) → ``(ok, rejected)``."""


def parse_team_info(record: dict[str, Any]) -> TeamGetInfoResult:
    """``team/get_info`` result; raises ``pydantic.ValidationError`` (a ``ValueError``)."""
    return TeamGetInfoResult.model_validate(record)
