"""OCSF objects built from the envelope's parts: user, location, endpoint, OS, device, session."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from streamer.events.envelope import DeviceRef, Event, NetworkRef, TeamRef, UserRef
from streamer.events.ocsf import base
from streamer.events.ocsf.classes import (
    Json,
)

# the OCSF email_t pattern: an address outside it is kept in ``unmapped`` only
EMAIL = re.compile(r"^[a-zA-Z0-9!#$%&'*+\-/=?^_`{|}~.]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+$")


def user(user: UserRef, team: TeamRef, event: Event | None = None) -> Json:
    """OCSF ``user`` from the envelope's: uid = team member id, name = email (the login)."""
    out: Json = {"uid": user["team_member_id"], "type_id": 1, "type": "User"}
    email = user.get("email")
    if email:
        out["name"] = email
        if EMAIL.match(email):
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
        if holds_admin_role(member.get("roles")):
            out["type_id"], out["type"] = 2, "Admin"
        groups = member.get("groups")
        if groups:
            out["groups"] = [{"uid": g} for g in groups]
    return out


# Dropbox lists every member's roles, and a member without admin rights holds the role named
# "Member" ("Use Dropbox with no admin permissions"); any other role is an admin role.
_NON_ADMIN_ROLES = frozenset({"member"})


def holds_admin_role(roles: Any) -> bool:
    """Whether a member's ``roles`` (the envelope's list of ``{role_id, name}``) grant admin
    rights: OCSF's user type is Admin only then, not for the plain "Member" role."""
    if not isinstance(roles, list):
        return False
    return any(
        isinstance(role, Mapping)
        and str(role.get("name", "")).strip().casefold() not in _NON_ADMIN_ROLES
        for role in roles
    )


def valid_ip(value: Any) -> str | None:
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


def location_of(network: NetworkRef | Mapping[str, Any] | None) -> Json | None:
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


def endpoint(network: NetworkRef | Mapping[str, Any] | None, uid: str | None = None) -> Json | None:
    """``src_endpoint``: the IP and its location; the session id when there is no IP."""
    out: Json = {}
    ip = valid_ip((network or {}).get("ip_address"))
    if ip is not None:
        out["ip"] = ip
    elif uid:
        out["uid"] = uid
    else:
        return None
    location = location_of(network)
    if location is not None:
        out["location"] = location
    return out


_DEVICE_TYPES = {"web": (8, "Browser"), "desktop": (2, "Desktop"), "mobile": (5, "Mobile")}


def os_of(name: str | None, hint: str | None = None, version: str | None = None) -> Json | None:
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


def device(
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
        os = os_of(device.get("platform"), client_type)
    elif kind == "mobile":
        if device.get("device_name"):
            out["name"] = device["device_name"]
        tag = str(client_type) if client_type else None
        os = os_of(_MOBILE_OS.get(tag or "", tag), tag, device.get("os_version"))
    else:
        browser = device.get("browser")
        if browser:
            out["name"] = browser
        os = os_of(device.get("os"))
    if os is not None:
        out["os"] = os
    for key, name in (("created", "created_time"), ("updated", "last_seen_time")):
        ms = base.time_of(device.get(key))
        if ms is not None:
            out[name] = ms
    ip = valid_ip((network or {}).get("ip_address"))
    if ip is not None:
        out["ip"] = ip
    location = location_of(network)
    if location is not None:
        out["location"] = location
    if owner is not None:
        out["owner"] = owner
    if not any(k in out for k in ("uid", "name", "hostname", "ip")):
        out["name"] = type_name  # a device needs one identifying attribute
    return out


def session(device: DeviceRef) -> Json:
    out: Json = {"uid": device.get("session_id", ""), "issuer": "Dropbox"}
    created = base.time_of(device.get("created"))
    if created is not None:
        out["created_time"] = created
    expires = base.time_of(device.get("expires"))
    if expires is not None:
        out["expiration_time"] = expires
    return out


def who(event: Event) -> str:
    user = event.user
    if user is None:
        return ""
    return str(user.get("email") or user.get("name") or user["team_member_id"])
