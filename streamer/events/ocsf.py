"""Events in OCSF, the Open Cybersecurity Schema Framework, version ``OCSF_VERSION`` (1.8.0).

``to_ocsf(event)`` maps one native ``Event`` to one OCSF event (a plain dict); ``ocsf_json``
encodes it. Pure functions, no I/O. The mapping, class by class, is in ``docs/ocsf.md``;
``tests/unit/events/test_ocsf.py`` validates every event type's OCSF form against the JSON
Schema of the pinned OCSF version (from the ``ocsf-json-schema`` package).

Nothing is lost: ``unmapped`` holds the native envelope without ``raw``, and ``raw_data`` the
Dropbox record as JSON text (when ``events.include_raw`` is on), so the native event is
``{**unmapped, "raw": json.loads(raw_data)}``. Values are only ever put where OCSF defines
them: when an audit record lacks what its OCSF class requires (a file for File Hosting
Activity, a group for Group Management, ...), it becomes the catch-all Base Event instead of
carrying an invented value. No profiles are used (``metadata.profiles`` is absent).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from streamer import __version__
from streamer.events.envelope import (
    DeviceRef,
    Event,
    NetworkRef,
    TeamRef,
    UserRef,
    encode_json,
)

__all__ = [
    "CLASSES",
    "OCSF_VERSION",
    "country_code",
    "encode_ocsf",
    "ocsf_headers",
    "ocsf_json",
    "region_code",
    "to_ocsf",
]

OCSF_VERSION = "1.8.0"
"""The OCSF schema version every OCSF event claims (``metadata.version``) and is tested against."""

# class_uid -> (class name, category_uid, category name, {activity_id: activity name})
CLASSES: dict[int, tuple[str, int, str, dict[int, str]]] = {
    0: ("Base Event", 0, "Uncategorized", {0: "Unknown", 99: "Other"}),
    3001: (
        "Account Change",
        3,
        "Identity & Access Management",
        {
            1: "Create",
            2: "Enable",
            3: "Password Change",
            4: "Password Reset",
            5: "Disable",
            6: "Delete",
            10: "MFA Factor Enable",
            11: "MFA Factor Disable",
            99: "Other",
        },
    ),
    3002: (
        "Authentication",
        3,
        "Identity & Access Management",
        {1: "Logon", 2: "Logoff", 99: "Other"},
    ),
    3004: (
        "Entity Management",
        3,
        "Identity & Access Management",
        {1: "Create", 3: "Update", 4: "Delete", 6: "Enroll", 7: "Unenroll", 99: "Other"},
    ),
    3006: (
        "Group Management",
        3,
        "Identity & Access Management",
        {3: "Add User", 4: "Remove User", 5: "Delete", 6: "Create", 99: "Other"},
    ),
    5001: ("Device Inventory Info", 5, "Discovery", {2: "Collect"}),
    5003: ("User Inventory Info", 5, "Discovery", {2: "Collect"}),
    5023: ("Cloud Resources Inventory Info", 5, "Discovery", {2: "Collect"}),
    6006: (
        "File Hosting Activity",
        6,
        "Application Activity",
        {
            1: "Upload",
            2: "Download",
            3: "Update",
            4: "Delete",
            5: "Rename",
            6: "Copy",
            7: "Move",
            8: "Restore",
            9: "Preview",
            10: "Lock",
            11: "Unlock",
            12: "Share",
            13: "Unshare",
            14: "Open",
            99: "Other",
        },
    ),
}
"""The OCSF classes and activities this mapping emits (names as in the schema; tested)."""

BASE, ACCOUNT_CHANGE, AUTHENTICATION, ENTITY_MANAGEMENT, GROUP_MANAGEMENT = (
    0,
    3001,
    3002,
    3004,
    3006,
)
DEVICE_INVENTORY, USER_INVENTORY, CLOUD_INVENTORY, FILE_HOSTING = 5001, 5003, 5023, 6006
OTHER = 99
COLLECT = 2
SUCCESS, FAILURE = 1, 2

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
# the OCSF email_t pattern: an address outside it is kept in ``unmapped`` only
_EMAIL = re.compile(r"^[a-zA-Z0-9!#$%&'*+\-/=?^_`{|}~.]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+$")

Json = dict[str, Any]


# --- encoding ------------------------------------------------------------------------------


def ocsf_json(event: Event) -> bytes:
    """``to_ocsf(event)`` as compact JSON (UTF-8, datetimes in ``unmapped`` as ``…Z``)."""
    return encode_json(to_ocsf(event))


def encode_ocsf(event: Event) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The Kafka record value and headers of ``event`` in OCSF (the key stays ``event.key()``)."""
    data = to_ocsf(event)
    return encode_json(data), ocsf_headers(event, data)


def ocsf_headers(event: Event, data: Mapping[str, Any]) -> list[tuple[str, bytes]]:
    """The native headers plus ``format=ocsf`` and the OCSF class (for routing without parsing)."""
    return [
        *event.headers(),
        ("format", b"ocsf"),
        ("ocsf_class_uid", str(data["class_uid"]).encode()),
    ]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _ms(value: datetime) -> int:
    """OCSF ``timestamp_t``: milliseconds since the epoch."""
    return (_utc(value) - _EPOCH) // _MS


def _iso(value: datetime) -> str:
    return _utc(value).astimezone(UTC).isoformat().removesuffix("+00:00") + "Z"


def _time_of(value: Any) -> int | None:
    """A ``datetime`` or Dropbox timestamp string as milliseconds, else ``None``."""
    if isinstance(value, datetime):
        return _ms(value)
    if isinstance(value, str):
        try:
            return _ms(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


# --- the event -----------------------------------------------------------------------------


def to_ocsf(event: Event) -> Json:
    """The OCSF form of ``event`` (see ``docs/ocsf.md`` for the mapping)."""
    mapper = _NATIVE.get(event.event_type)
    out = mapper(event) if mapper is not None else None
    if out is None:
        out = _catch_all(event, event.event_type)
    unmapped = event.to_dict()
    raw = unmapped.pop("raw", None)
    out["unmapped"] = unmapped
    if raw is not None:
        out["raw_data"] = encode_json(raw).decode()
    return out


def _base(
    event: Event,
    class_uid: int,
    activity_id: int,
    *,
    activity_name: str | None = None,
    status_id: int | None = SUCCESS,
    message: str | None = None,
    event_code: str | None = None,
) -> Json:
    class_name, category_uid, category_name, activities = CLASSES[class_uid]
    name = activity_name or activities[activity_id]
    out: Json = {
        "class_uid": class_uid,
        "class_name": class_name,
        "category_uid": category_uid,
        "category_name": category_name,
        "activity_id": activity_id,
        "activity_name": name,
        "type_uid": class_uid * 100 + activity_id,
        "type_name": f"{class_name}: {activities[activity_id]}",
        "severity_id": 1,
        "severity": "Informational",
        "time": _ms(event.event_time),
        "metadata": _metadata(event, event_code or event.event_type),
    }
    if status_id is not None:
        out["status_id"] = status_id
        out["status"] = "Success" if status_id == SUCCESS else "Failure"
    if message:
        out["message"] = message
    return out


def _metadata(event: Event, event_code: str) -> Json:
    meta: Json = {
        "version": OCSF_VERSION,
        "uid": event.event_id,
        "product": {"name": "Dropbox", "vendor_name": "Dropbox"},
        "event_code": event_code,
        "tenant_uid": event.team["id"],
        "logged_time": _ms(event.observed_time),
        "loggers": [
            {
                "name": "dropbox-streamer",
                "product": {
                    "name": "dropbox-streamer",
                    "vendor_name": "dropbox-streamer",
                    "version": __version__,
                },
                "logged_time": _ms(event.observed_time),
            }
        ],
    }
    if event.audit is not None:  # collected from a log: its own time, as the log gave it
        meta["original_time"] = _iso(event.event_time)
    return meta


def _catch_all(event: Event, name: str, message: str | None = None) -> Json:
    """Base Event, activity Other, ``activity_name`` = the Dropbox event type. Base Event has
    no ``actor`` or ``user`` without the host profile: who did it stays in ``unmapped``."""
    out = _base(event, BASE, OTHER, activity_name=name, message=message)
    audit = event.audit
    if audit is not None:
        out["metadata"]["event_code"] = audit["type"]
        if _failed(audit["type"]):
            out["status_id"], out["status"] = FAILURE, "Failure"
    return out


# --- parts: user, device, network ----------------------------------------------------------


def _user(user: UserRef, team: TeamRef, event: Event | None = None) -> Json:
    """OCSF ``user`` from the envelope's: uid = team member id, name = email (the login)."""
    out: Json = {"uid": user["team_member_id"], "type_id": 1, "type": "User"}
    email = user.get("email")
    if email:
        out["name"] = email
        if _EMAIL.match(email):
            out["email_addr"] = email
    name = user.get("name")
    if name:
        out["full_name"] = name
    account_id = user.get("account_id")
    if account_id:
        out["account"] = {"uid": account_id, "type_id": 99, "type": "Dropbox account"}
    external_id = user.get("external_id")
    if external_id:
        out["uid_alt"] = external_id
    out["org"] = {"uid": team["id"], "name": team["name"]}
    member = event.member if event is not None else None
    if member is not None:
        if member.get("roles"):
            out["type_id"], out["type"] = 2, "Admin"
        groups = member.get("groups")
        if groups:
            out["groups"] = [{"uid": g} for g in groups]
    return out


def _valid_ip(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return None
    return value


# Common English names that ISO 3166 (and so pycountry) spells differently.
_COUNTRY_ALIASES = {
    "russia": "RU",
    "turkey": "TR",
    "macedonia": "MK",
    "palestine": "PS",
    "vatican": "VA",
    "vatican city": "VA",
    "cape verde": "CV",
    "swaziland": "SZ",
    "burma": "MM",
    "ivory coast": "CI",
}


@lru_cache(maxsize=4096)
def country_code(country: str) -> str | None:
    """ISO 3166-1 alpha-2 code of a country name or code (``United States`` → ``US``).

    Sessions carry the country's name, audit records its code; OCSF wants the code.
    """
    text = country.strip()
    if len(text) == 2 and text.isascii() and text.isalpha():
        return text.upper()
    import pycountry  # loads its database on first use: only when OCSF is on

    try:
        code: str = pycountry.countries.lookup(text).alpha_2
    except LookupError:
        return _COUNTRY_ALIASES.get(text.casefold())
    return code


@lru_cache(maxsize=4096)
def region_code(country: str, region: str) -> str | None:
    """ISO 3166-2 code of a subdivision given by name or code (``US``, ``California`` →
    ``US-CA``); ``None`` when pycountry does not know it under that name."""
    import pycountry

    wanted = region.strip().casefold()
    subdivisions = pycountry.subdivisions.get(country_code=country)  # type: ignore[no-untyped-call]
    for sub in subdivisions or ():
        code: str = sub.code
        if wanted in (sub.name.casefold(), code.casefold(), code.partition("-")[2].casefold()):
            return code
    return None


def _location(network: NetworkRef | Mapping[str, Any] | None) -> Json | None:
    """OCSF ``location``: ISO country and subdivision codes, the city; names it cannot code
    go to ``desc``."""
    if not network:
        return None
    out: Json = {}
    unknown: list[str] = []
    country = network.get("country")
    code = country_code(country) if isinstance(country, str) and country else None
    region = network.get("region")
    city = network.get("city")
    if isinstance(city, str) and city:
        out["city"] = city
    if isinstance(region, str) and region:
        subdivision = region_code(code, region) if code is not None else None
        if subdivision is not None:
            out["region"] = subdivision
        else:
            unknown.append(region)
    if code is not None:
        out["country"] = code
    elif isinstance(country, str) and country:
        unknown.append(country)
    if unknown and out:
        out["desc"] = ", ".join(unknown)
    return out or None


def _endpoint(
    network: NetworkRef | Mapping[str, Any] | None, uid: str | None = None
) -> Json | None:
    """``src_endpoint``: the IP and its location; the session id when there is no IP."""
    out: Json = {}
    ip = _valid_ip((network or {}).get("ip_address"))
    if ip is not None:
        out["ip"] = ip
    elif uid:
        out["uid"] = uid
    else:
        return None
    location = _location(network)
    if location is not None:
        out["location"] = location
    return out


_DEVICE_TYPES = {"web": (8, "Browser"), "desktop": (2, "Desktop"), "mobile": (5, "Mobile")}


def _os(name: str | None, hint: str | None = None, version: str | None = None) -> Json | None:
    """OCSF ``os`` from whatever Dropbox says (an OS name, a platform, a client type tag)."""
    label = name or hint
    if not label:
        return None
    probe = f"{hint or ''} {name or ''}".lower()
    if "windows" in probe:
        type_id = 101 if "phone" in probe or "mobile" in probe else 100
    elif "android" in probe:
        type_id = 201
    elif "ipad" in probe:
        type_id = 302
    elif "iphone" in probe or "ios" in probe:
        type_id = 301
    elif "mac" in probe or "os x" in probe:
        type_id = 300
    elif any(k in probe for k in ("linux", "ubuntu", "fedora", "debian", "chrome")):
        type_id = 200
    else:
        type_id = 99
    out: Json = {"name": label, "type_id": type_id}
    if version:
        out["version"] = version
    return out


_MOBILE_OS = {"iphone": "iOS", "ipad": "iPadOS", "android": "Android", "windows_phone": "Windows"}


def _device(
    device: DeviceRef | Mapping[str, Any],
    network: NetworkRef | Mapping[str, Any] | None,
    owner: Json | None = None,
) -> Json:
    """OCSF ``device`` for a web session (type Browser), desktop or mobile client."""
    kind = str(device.get("kind", ""))
    type_id, type_name = _DEVICE_TYPES.get(kind, (99, kind or "Other"))
    client_type = device.get("client_type")
    if kind == "mobile" and client_type == "ipad":
        type_id, type_name = 4, "Tablet"
    out: Json = {"type_id": type_id, "type": type_name}
    session_id = device.get("session_id")
    if session_id:
        out["uid"] = session_id
    if kind == "desktop":
        host = device.get("host_name")
        if host:
            out["hostname"] = out["name"] = host
        os = _os(device.get("platform"), client_type)
    elif kind == "mobile":
        if device.get("device_name"):
            out["name"] = device["device_name"]
        tag = str(client_type) if client_type else None
        os = _os(_MOBILE_OS.get(tag or "", tag), tag, device.get("os_version"))
    else:
        browser = device.get("browser")
        if browser:
            out["name"] = browser
        os = _os(device.get("os"))
    if os is not None:
        out["os"] = os
    for key, name in (("created", "created_time"), ("updated", "last_seen_time")):
        ms = _time_of(device.get(key))
        if ms is not None:
            out[name] = ms
    ip = _valid_ip((network or {}).get("ip_address"))
    if ip is not None:
        out["ip"] = ip
    location = _location(network)
    if location is not None:
        out["location"] = location
    if owner is not None:
        out["owner"] = owner
    if not any(k in out for k in ("uid", "name", "hostname", "ip")):
        out["name"] = type_name  # a device needs one identifying attribute
    return out


def _session(device: DeviceRef) -> Json:
    out: Json = {"uid": device.get("session_id", ""), "issuer": "Dropbox"}
    created = _time_of(device.get("created"))
    if created is not None:
        out["created_time"] = created
    expires = _time_of(device.get("expires"))
    if expires is not None:
        out["expiration_time"] = expires
    return out


def _who(event: Event) -> str:
    user = event.user
    if user is None:
        return ""
    return str(user.get("email") or user.get("name") or user["team_member_id"])


# --- native event types --------------------------------------------------------------------


def _team_entity(team: TeamRef, data: Any | None = None) -> Json:
    out: Json = {
        "uid": team["id"],
        "name": team["name"],
        "type_id": 4,
        "type": "Organization",
        "org": {"uid": team["id"], "name": team["name"]},
    }
    if data is not None:
        out["data"] = data
    return out


def _team_snapshot(event: Event) -> Json:
    out = _base(event, CLOUD_INVENTORY, COLLECT, status_id=None)
    resource: Json = {"uid": event.team["id"], "name": event.team["name"], "type": "Dropbox team"}
    if event.settings is not None:
        resource["data"] = event.settings
    out["resources"] = [resource]
    return out


def _team_changed(event: Event) -> Json:
    changes = event.changes or {}
    out = _base(event, ENTITY_MANAGEMENT, 3, message=f"team settings changed: {', '.join(changes)}")
    out["entity"] = _team_entity(event.team, {k: c["old"] for k, c in changes.items()})
    out["entity_result"] = _team_entity(event.team, {k: c["new"] for k, c in changes.items()})
    return out


def _member(activity_id: int | Callable[[Event], int], verb: str) -> Callable[[Event], Json | None]:
    def build(event: Event) -> Json | None:
        if event.user is None:
            return None
        activity = activity_id if isinstance(activity_id, int) else activity_id(event)
        out = _base(
            event,
            ACCOUNT_CHANGE,
            activity,
            activity_name="Update" if activity == OTHER else None,
            message=f"member {_who(event)} {verb}",
        )
        out["user"] = _user(event.user, event.team, event)
        return out

    return build


def _joined(event: Event) -> int:
    """Enable when an invitation was accepted, else Create (first seen active)."""
    status = (event.changes or {}).get("status")
    return 2 if status is not None and status["old"] == "invited" else 1


# member state keys (``changes``) -> OCSF user attributes
_USER_CHANGES = {
    "email": "name",
    "display_name": "full_name",
    "external_id": "uid_alt",
}


def _member_updated(event: Event) -> Json | None:
    out = _member(OTHER, "updated")(event)
    if out is None or event.user is None:
        return out
    changes = event.changes or {}
    out["message"] = f"member {_who(event)} updated: {', '.join(changes)}"
    result: Json = {"uid": event.user["team_member_id"]}
    for key, change in changes.items():
        new = change["new"]
        if key in _USER_CHANGES and isinstance(new, str):
            result[_USER_CHANGES[key]] = new
            if key == "email" and _EMAIL.match(new):
                result["email_addr"] = new
        elif key == "account_id" and isinstance(new, str):
            result["account"] = {"uid": new, "type_id": 99, "type": "Dropbox account"}
        elif key == "groups" and isinstance(new, list):
            result["groups"] = [{"uid": g} for g in new]
        elif key == "roles" and isinstance(new, list):
            result["type_id"], result["type"] = (2, "Admin") if new else (1, "User")
    out["user_result"] = result
    return out


def _member_inventory(event: Event) -> Json | None:
    if event.user is None:
        return None
    out = _base(event, USER_INVENTORY, COLLECT, status_id=None)
    out["user"] = _user(event.user, event.team, event)
    return out


def _web_session(activity_id: int) -> Callable[[Event], Json | None]:
    def build(event: Event) -> Json | None:
        if event.user is None or event.device is None:
            return None
        verb = "started" if activity_id == 1 else "ended"
        out = _base(
            event, AUTHENTICATION, activity_id, message=f"web session {verb}: {_who(event)}"
        )
        out["user"] = _user(event.user, event.team)
        out["session"] = _session(event.device)
        out["service"] = {"name": "Dropbox"}
        endpoint = _endpoint(event.network)
        if endpoint is not None:
            out["src_endpoint"] = endpoint
        user_agent = event.device.get("user_agent")
        if user_agent:
            out["http_request"] = {"user_agent": user_agent}
        return out

    return build


def _device_entity(event: Event, network: NetworkRef | Mapping[str, Any] | None) -> Json:
    assert event.device is not None
    owner = _user(event.user, event.team) if event.user is not None else None
    device = _device(event.device, network, owner)
    entity: Json = {"type_id": 1, "type": "Device", "device": device}
    if "uid" in device:
        entity["uid"] = device["uid"]
    if "name" in device:
        entity["name"] = device["name"]
    return entity


def _client(activity_id: int) -> Callable[[Event], Json | None]:
    def build(event: Event) -> Json | None:
        if event.device is None:
            return None
        kind = event.device.get("kind", "")
        verb = "linked" if activity_id == 6 else "unlinked"
        out = _base(
            event, ENTITY_MANAGEMENT, activity_id, message=f"{kind} client {verb}: {_who(event)}"
        )
        out["entity"] = _device_entity(event, event.network)
        return out

    return build


def _network_changed(event: Event) -> Json | None:
    if event.device is None:
        return None
    changes = event.changes or {}
    before: Json = dict(event.network or {})
    for key in ("ip_address", "country"):
        if key in changes:
            old = changes[key]["old"]
            if old is None:
                before.pop(key, None)
            else:
                before[key] = old
    out = _base(
        event,
        ENTITY_MANAGEMENT,
        3,
        message=f"{event.device.get('kind', '')} session network changed: {_who(event)}",
    )
    out["entity"] = _device_entity(event, before)
    out["entity_result"] = _device_entity(event, event.network)
    return out


def _session_snapshot(event: Event) -> Json | None:
    if event.device is None:
        return None
    out = _base(event, DEVICE_INVENTORY, COLLECT, status_id=None)
    owner = _user(event.user, event.team) if event.user is not None else None
    out["device"] = _device(event.device, event.network, owner)
    return out


def _app_data(event: Event) -> Json:
    assert event.app is not None
    return {k: v for k, v in event.app.items() if k not in ("app_id", "app_name")}


def _app(activity_id: int) -> Callable[[Event], Json | None]:
    def build(event: Event) -> Json | None:
        if event.app is None:
            return None
        verb = "linked" if activity_id == 1 else "unlinked"
        app = event.app
        out = _base(
            event,
            ENTITY_MANAGEMENT,
            activity_id,
            message=f"app {app.get('app_name', app['app_id'])} {verb}: {_who(event)}",
        )
        entity: Json = {"uid": app["app_id"], "type_id": 99, "type": "Linked app"}
        if app.get("app_name"):
            entity["name"] = app["app_name"]
        data = _app_data(event)
        if data:
            entity["data"] = data
        if event.user is not None:
            entity["user"] = _user(event.user, event.team)
        out["entity"] = entity
        return out

    return build


def _app_snapshot(event: Event) -> Json | None:
    if event.app is None:
        return None
    out = _base(event, CLOUD_INVENTORY, COLLECT, status_id=None)
    resource: Json = {"uid": event.app["app_id"], "type": "Linked app"}
    if event.app.get("app_name"):
        resource["name"] = event.app["app_name"]
    data = _app_data(event)
    if data:
        resource["data"] = data
    if event.user is not None:
        resource["owner"] = _user(event.user, event.team)
    out["resources"] = [resource]
    return out


# --- audit log (team_log) ------------------------------------------------------------------


def _failed(type_tag: str) -> bool:
    return "fail" in type_tag or "error" in type_tag


def _tag(value: Any) -> str | None:
    if isinstance(value, dict):
        tag = value.get(".tag")
        return tag if isinstance(tag, str) else None
    return value if isinstance(value, str) else None


def _log_user(info: Any, team: TeamRef, *, admin: bool = False) -> Json | None:
    """A team_log ``UserLogInfo`` / context member → OCSF ``user`` (None if it names no one)."""
    if not isinstance(info, dict):
        return None
    uid = info.get("team_member_id") or info.get("account_id")
    email = info.get("email")
    display = info.get("display_name")
    if not (uid or email or display):
        return None
    out: Json = {"type_id": 2, "type": "Admin"} if admin else {"type_id": 1, "type": "User"}
    if isinstance(uid, str):
        out["uid"] = uid
    if isinstance(email, str) and email:
        out["name"] = email
        if _EMAIL.match(email):
            out["email_addr"] = email
    if isinstance(display, str) and display:
        out["full_name"] = display
        out.setdefault("name", display)
    account_id = info.get("account_id")
    if isinstance(account_id, str):
        out["account"] = {"uid": account_id, "type_id": 99, "type": "Dropbox account"}
    external_id = info.get("member_external_id")
    if isinstance(external_id, str) and external_id:
        out["uid_alt"] = external_id
    if info.get("team_member_id"):
        out["org"] = {"uid": team["id"], "name": team["name"]}
    return out


def _audit_actor(audit: Mapping[str, Any], team: TeamRef | None = None) -> Json | None:
    """OCSF ``actor`` of a team_log record: a user or admin, an app, a reseller, Dropbox."""
    actor = audit.get("actor")
    tag = _tag(actor)
    if not isinstance(actor, dict) or tag is None:
        return None
    team = team or {"id": "", "name": ""}
    if tag in ("user", "admin"):
        user = _log_user(actor.get(tag), team, admin=tag == "admin")
        return {"user": user} if user is not None else None
    if tag == "trusted_non_team_member":
        user = _log_user(actor.get("user"), team)
        return {"user": user} if user is not None else None
    if tag == "app":
        app = actor.get("app")
        if not isinstance(app, dict):
            return None
        out: Json = {}
        if isinstance(app.get("app_id"), str):
            out["app_uid"] = app["app_id"]
        if isinstance(app.get("display_name"), str):
            out["app_name"] = app["display_name"]
        return out or None
    if tag == "reseller":
        name = actor.get("reseller_email") or actor.get("reseller_name")
        if not isinstance(name, str):
            return None
        return {"user": {"name": name, "type_id": 99, "type": "Reseller"}}
    if tag == "dropbox":
        return {"invoked_by": "Dropbox"}
    if tag == "anonymous":
        return {"user": {"name": "anonymous", "type_id": 0, "type": "Unknown"}}
    return {"invoked_by": tag}


def _audit_target(event: Event, audit: Mapping[str, Any]) -> Json | None:
    """The member an account-level record is about: context, else a participant, else actor."""
    user = _log_user(audit.get("context"), event.team)
    if user is not None:
        return user
    for participant in audit.get("participants") or ():
        if _tag(participant) == "user":
            user = _log_user(participant.get("user"), event.team)
            if user is not None:
                return user
    actor = _audit_actor(audit, event.team)
    return actor.get("user") if actor is not None else None


def _audit_session_id(audit: Mapping[str, Any]) -> str | None:
    method = (audit.get("origin") or {}).get("access_method")
    if not isinstance(method, dict):
        return None
    tag = method.get(".tag")
    inner = method.get(tag) if isinstance(tag, str) else None
    session = inner if isinstance(inner, dict) else method
    sid = session.get("session_id")
    return sid if isinstance(sid, str) else None


def _audit_common(
    event: Event,
    audit: Mapping[str, Any],
    class_uid: int,
    activity_id: int,
    *,
    activity_name: str | None = None,
) -> Json:
    type_tag = audit["type"]
    out = _base(
        event,
        class_uid,
        activity_id,
        activity_name=activity_name if activity_id == OTHER else None,
        status_id=FAILURE if _failed(type_tag) else SUCCESS,
        message=audit.get("description") or type_tag,
        event_code=type_tag,
    )
    actor = _audit_actor(audit, event.team)
    session_id = _audit_session_id(audit)
    if session_id is not None:
        actor = {**(actor or {}), "session": {"uid": session_id, "issuer": "Dropbox"}}
    if actor is not None:
        out["actor"] = actor
    geo = (audit.get("origin") or {}).get("geo_location")
    endpoint = _endpoint(geo if isinstance(geo, dict) else None, session_id)
    if endpoint is not None:
        out["src_endpoint"] = endpoint
    return out


def _login_activity(type_tag: str) -> int:
    if any(k in type_tag for k in ("logout", "sign_out", "session_end")):
        return 2
    if any(k in type_tag for k in ("login", "sign_in", "session_start", "signed_in")):
        return 1
    return OTHER


def _audit_logins(event: Event, audit: Mapping[str, Any]) -> Json | None:
    actor = _audit_actor(audit, event.team)
    user = (actor or {}).get("user") or _log_user(audit.get("context"), event.team)
    if user is None:
        return None
    type_tag = audit["type"]
    out = _audit_common(
        event, audit, AUTHENTICATION, _login_activity(type_tag), activity_name=type_tag
    )
    out["user"] = user
    out["service"] = {"name": "Dropbox"}
    session_id = _audit_session_id(audit)
    if session_id is not None:
        out["session"] = {"uid": session_id, "issuer": "Dropbox"}
    details = audit.get("details") or {}
    method = _tag(details.get("login_method"))
    if method is not None:
        if method == "saml":
            out["auth_protocol_id"], out["auth_protocol"] = 5, "SAML"
        else:
            out["auth_protocol_id"], out["auth_protocol"] = OTHER, method
        out["is_mfa"] = method == "two_factor_authentication"
    error = details.get("error_details")
    if isinstance(error, dict) and isinstance(error.get("user_friendly_message"), str):
        out["status_detail"] = error["user_friendly_message"]
    return out


def _status_activity(details: Mapping[str, Any]) -> int:
    """``member_change_status``: new status (and previous) → Account Change activity."""
    new, previous = _tag(details.get("new_value")), _tag(details.get("previous_value"))
    if new == "active":
        return 2 if previous in ("invited", "suspended") else 1
    if new == "invited":
        return 1
    if new == "suspended":
        return 5
    if new == "removed":
        return 6
    return OTHER


def _account_activity(category: str, type_tag: str, details: Mapping[str, Any]) -> int:
    if category == "passwords":
        if type_tag == "password_change":
            return 3
        if type_tag.startswith("password_reset"):
            return 4
        return OTHER
    if category == "tfa":
        if type_tag == "tfa_change_status":
            return 11 if _tag(details.get("new_value")) == "disabled" else 10
        if type_tag.startswith("tfa_add_"):
            return 10
        if type_tag.startswith("tfa_remove_"):
            return 11
        return OTHER
    if type_tag == "member_change_status":
        return _status_activity(details)
    return OTHER


def _audit_account(event: Event, audit: Mapping[str, Any]) -> Json | None:
    user = _audit_target(event, audit)
    if user is None:
        return None
    type_tag = audit["type"]
    activity = _account_activity(audit["category"], type_tag, audit.get("details") or {})
    out = _audit_common(event, audit, ACCOUNT_CHANGE, activity, activity_name=type_tag)
    out["user"] = user
    return out


_GROUP_ACTIVITIES = {
    "group_add_member": 3,
    "group_remove_member": 4,
    "group_delete": 5,
    "group_create": 6,
}


def _audit_group(event: Event, audit: Mapping[str, Any]) -> Json | None:
    group: Json | None = None
    for participant in audit.get("participants") or ():
        if _tag(participant) == "group":
            group = {}
            if isinstance(participant.get("group_id"), str):
                group["uid"] = participant["group_id"]
            if isinstance(participant.get("display_name"), str):
                group["name"] = participant["display_name"]
            if isinstance(participant.get("external_id"), str):
                group["uid_alt"] = participant["external_id"]
            if "uid" in group or "name" in group:
                break
            group = None
    if group is None:
        return None
    type_tag = audit["type"]
    activity = _GROUP_ACTIVITIES.get(type_tag, OTHER)
    out = _audit_common(event, audit, GROUP_MANAGEMENT, activity, activity_name=type_tag)
    out["group"] = group
    user = _log_user(audit.get("context"), event.team)
    if user is not None:
        out["user"] = user
    return out


_DEVICE_ACTIVITIES = {"device_link_success": 6, "device_link_fail": 6, "device_unlink": 7}
_APP_ACTIVITIES = {
    "app_link_user": 1,
    "app_link_team": 1,
    "app_unlink_user": 4,
    "app_unlink_team": 4,
}
_SESSION_KINDS = {
    "web_device_session": "web",
    "desktop_device_session": "desktop",
    "mobile_device_session": "mobile",
    "legacy_device_session": "legacy",
    "web": "web",
    "desktop": "desktop",
    "mobile": "mobile",
}


def _audit_device_entity(event: Event, audit: Mapping[str, Any]) -> Json | None:
    details = audit.get("details") or {}
    info = details.get("device_session_info")
    session = details.get("session_info")
    ref: Json = {}
    network: Json = {}
    if isinstance(info, dict):
        ref = {k: v for k, v in info.items() if k not in (".tag", "session_info")}
        ref["kind"] = _SESSION_KINDS.get(str(info.get(".tag")), "other")
        inner = info.get("session_info")
        if isinstance(inner, dict) and isinstance(inner.get("session_id"), str):
            ref["session_id"] = inner["session_id"]
        if _tag(info.get("client_type")):
            ref["client_type"] = _tag(info.get("client_type"))
        network = {"ip_address": info.get("ip_address")}
    elif isinstance(session, dict):
        ref = {"kind": _SESSION_KINDS.get(str(session.get(".tag")), "other")}
        if isinstance(session.get("session_id"), str):
            ref["session_id"] = session["session_id"]
        if isinstance(details.get("display_name"), str):
            ref["device_name"] = details["display_name"]
    elif audit["type"].startswith("device_change_ip"):
        sid = _audit_session_id(audit)
        if sid is None:
            return None
        ref = {"kind": audit["type"].rsplit("_", 1)[1], "session_id": sid}
        geo = (audit.get("origin") or {}).get("geo_location")
        network = dict(geo) if isinstance(geo, dict) else {}
    if not ref.get("session_id") and not ref.get("host_name") and not ref.get("device_name"):
        return None
    if details.get("user_agent") and "user_agent" not in ref:
        ref["user_agent"] = details["user_agent"]
    owner = _log_user(audit.get("context"), event.team)
    device = _device(ref, network, owner)
    entity: Json = {"type_id": 1, "type": "Device", "device": device}
    for key in ("uid", "name"):
        if key in device:
            entity[key] = device[key]
    return entity


def _audit_app_entity(event: Event, audit: Mapping[str, Any]) -> Json | None:
    info = (audit.get("details") or {}).get("app_info")
    if not isinstance(info, dict):
        return None
    entity: Json = {"type_id": 99, "type": "Linked app"}
    if isinstance(info.get("app_id"), str):
        entity["uid"] = info["app_id"]
    if isinstance(info.get("display_name"), str):
        entity["name"] = info["display_name"]
    if "uid" not in entity and "name" not in entity:
        return None
    user = _log_user(audit.get("context"), event.team)
    if user is not None:
        entity["user"] = user
    return entity


def _audit_entity(event: Event, audit: Mapping[str, Any]) -> Json | None:
    type_tag = audit["type"]
    if audit["category"] == "devices":
        entity = _audit_device_entity(event, audit)
        activity = _DEVICE_ACTIVITIES.get(type_tag, 3 if "change_ip" in type_tag else OTHER)
    else:
        entity = _audit_app_entity(event, audit)
        activity = _APP_ACTIVITIES.get(type_tag, OTHER)
    if entity is None:
        return None
    out = _audit_common(event, audit, ENTITY_MANAGEMENT, activity, activity_name=type_tag)
    out["entity"] = entity
    return out


_FILE_ACTIVITIES = {
    "file_add": 1,
    "file_add_from_automation": 1,
    "file_download": 2,
    "file_edit": 3,
    "file_delete": 4,
    "file_permanently_delete": 4,
    "file_rename": 5,
    "file_copy": 6,
    "file_move": 7,
    "file_restore": 8,
    "file_revert": 8,
    "file_rollback_changes": 8,
    "rewind_folder": 8,
    "file_preview": 9,
    "shared_content_download": 2,
    "shared_content_view": 14,
    "shared_link_view": 14,
    "shared_link_download": 2,
}
# sharing record types not in the table above: first keyword found decides
_SHARE_KEYWORDS = (
    ("download", 2),
    ("unshare", 13),
    ("remove", 13),
    ("revoke", 13),
    ("disable", 13),
    ("relinquish", 13),
    ("unmount", 13),
    ("view", 14),
    ("create", 12),
    ("add", 12),
    ("invite", 12),
    ("share", 12),
    ("mount", 12),
)


def _file_activity(type_tag: str) -> int:
    found = _FILE_ACTIVITIES.get(type_tag)
    if found is not None:
        return found
    if type_tag.startswith(("shared_", "sf_", "sharing_")):
        for keyword, activity in _SHARE_KEYWORDS:
            if keyword in type_tag:
                return activity
    if "lock" in type_tag:
        return 11 if "unlock" in type_tag else 10
    return OTHER


_ASSET_NAMES = {
    "file": ("display_name", "file_id", 1, "File"),
    "folder": ("display_name", "file_id", 2, "Folder"),
    "paper_document": ("doc_title", "doc_id", 99, "Paper document"),
    "paper_folder": ("folder_name", "folder_id", 99, "Paper folder"),
    "showcase_document": ("showcase_title", "showcase_id", 99, "Showcase document"),
}


def _asset_file(assets: Any) -> Json | None:
    """OCSF ``file`` from the first team_log asset (file, folder, Paper doc, ...)."""
    for asset in assets or ():
        tag = _tag(asset)
        if tag not in _ASSET_NAMES or not isinstance(asset, dict):
            continue
        name_key, uid_key, type_id, type_name = _ASSET_NAMES[tag]
        path = asset.get("path")
        contextual = path.get("contextual") if isinstance(path, dict) else None
        name = asset.get(name_key)
        if not (isinstance(name, str) and name) and isinstance(contextual, str):
            name = contextual.rstrip("/").rsplit("/", 1)[-1]
        if not (isinstance(name, str) and name):
            continue
        out: Json = {"name": name, "type_id": type_id}
        if type_id == OTHER:
            out["type"] = type_name
        if isinstance(contextual, str) and contextual:
            out["path"] = contextual
        if isinstance(asset.get(uid_key), str):
            out["uid"] = asset[uid_key]
        size = asset.get("file_size")
        if isinstance(size, int) and not isinstance(size, bool):
            out["size"] = size
        return out
    return None


def _audit_file(event: Event, audit: Mapping[str, Any]) -> Json | None:
    file = _asset_file(audit.get("assets"))
    if file is None:
        return None
    type_tag = audit["type"]
    out = _audit_common(
        event, audit, FILE_HOSTING, _file_activity(type_tag), activity_name=type_tag
    )
    if "actor" not in out or "src_endpoint" not in out:
        return None  # both required by File Hosting Activity
    out["file"] = file
    return out


_AUDIT: dict[str, Callable[[Event, Mapping[str, Any]], Json | None]] = {
    "logins": _audit_logins,
    "passwords": _audit_account,
    "tfa": _audit_account,
    "members": _audit_account,
    "groups": _audit_group,
    "devices": _audit_entity,
    "apps": _audit_entity,
    "file_operations": _audit_file,
    "sharing": _audit_file,
}
"""team_log event category → its OCSF builder; other categories are Base Events."""


def _audit_event(event: Event) -> Json | None:
    audit = event.audit
    if audit is None:
        return None
    builder = _AUDIT.get(audit["category"])
    out = builder(event, audit) if builder is not None else None
    if out is None:
        out = _catch_all(event, audit["type"], audit.get("description") or audit["type"])
    return out


_NATIVE: dict[str, Callable[[Event], Json | None]] = {
    "team.snapshot": _team_snapshot,
    "team.changed": _team_changed,
    "member.snapshot": _member_inventory,
    "member.activity": _member_inventory,
    "member.invited": _member(1, "invited"),
    "member.joined": _member(_joined, "joined"),
    "member.updated": _member_updated,
    "member.suspended": _member(5, "suspended"),
    "member.unsuspended": _member(2, "unsuspended"),
    "member.removed": _member(6, "removed"),
    "web_session.started": _web_session(1),
    "web_session.ended": _web_session(2),
    "desktop_client.linked": _client(6),
    "desktop_client.unlinked": _client(7),
    "mobile_client.linked": _client(6),
    "mobile_client.unlinked": _client(7),
    "session.network_changed": _network_changed,
    "session.snapshot": _session_snapshot,
    "app.linked": _app(1),
    "app.unlinked": _app(4),
    "app.snapshot": _app_snapshot,
    "audit.event": _audit_event,
}
"""Native event type → its OCSF builder (``None`` from a builder: the catch-all Base Event)."""
