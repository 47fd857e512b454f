"""Records of :mod:`streamer.simulator.generate` → exact Dropbox API v2 JSON.

Stone encoding rules (see the API notes): optional fields are omitted when absent, never null;
void union members are ``{".tag": t}``; struct-valued union members are inlined next to ``.tag``;
union-valued ones nest under a key named like the tag; a struct with enumerated subtypes carries
its subtype as ``.tag`` where the declared type is the parent (``DeviceSessionLogInfo``,
``UserLogInfo``, ``SessionLogInfo``, ``AppLogInfo``: required there), not where it is the leaf
itself (``DesktopDeviceSessionLogInfo.session_info`` is ``{"session_id": ...}``, as the SDK's
own encoder writes it; its decoder would tolerate a ``.tag`` there).
Every function returns a fresh dict except ``AuditEncoder.event``, whose dicts share parts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from streamer.clock import format_dropbox_time
from streamer.simulator.generate import (
    APPS,
    BROWSERS,
    DESKTOPS,
    LOCATIONS,
    MOBILES,
    AuditRec,
    MemberRec,
    SessionRec,
    Who,
    abbreviate,
)

JSON = dict[str, Any]


def ts(epoch: int) -> str:
    return format_dropbox_time(datetime.fromtimestamp(epoch, UTC))


def tag(name: str) -> JSON:
    return {".tag": name}


# ── team ──────────────────────────────────────────────────────────────────────────────────


def team_info(name: str, team_id: str, licensed: int, provisioned: int, policies: JSON) -> JSON:
    return {
        "name": name,
        "team_id": team_id,
        "num_licensed_users": max(licensed, provisioned),
        "num_provisioned_users": provisioned,
        "num_used_licenses": provisioned,
        "policies": policies,
    }


def policies(sharing: dict[str, str], **others: str) -> JSON:
    return {"sharing": {k: tag(v) for k, v in sharing.items()}} | {
        k: tag(v) for k, v in others.items()
    }


def feature_value(feature: str, value: bool | int | None) -> JSON:
    """``FeatureValue``: tagged by the feature, nesting the feature's own value union."""
    inner: JSON
    if feature == "upload_api_rate_limit":
        inner = tag("unlimited") if value is None else {".tag": "limit", "limit": value}
    elif feature == "has_team_file_events":
        inner = {".tag": "enabled", "enabled": value}
    elif feature in (
        "has_team_shared_dropbox",
        "has_team_selective_sync",
        "has_distinct_member_homes",
    ):
        inner = {".tag": feature, feature: value}
    else:
        raise KeyError(feature)
    return {".tag": feature, feature: inner}


# ── members ───────────────────────────────────────────────────────────────────────────────


def member_status(m: MemberRec) -> JSON:
    if m.status == "removed":
        return {
            ".tag": "removed",
            "is_recoverable": m.is_recoverable,
            "is_disconnected": m.is_disconnected,
        }
    return tag(m.status)


def member_profile(m: MemberRec, group_ids: list[str], root_folder_id: str) -> JSON:
    p: JSON = {"team_member_id": m.team_member_id}
    if m.external_id is not None:
        p["external_id"] = m.external_id
    p["account_id"] = m.account_id
    p["email"] = m.email
    p["email_verified"] = m.email_verified
    if m.secondary:
        p["secondary_emails"] = [{"email": e, "is_verified": v} for e, v in m.secondary]
    p["status"] = member_status(m)
    p["name"] = {
        "given_name": m.given,
        "surname": m.surname,
        "familiar_name": m.given,
        "display_name": m.display_name,
        "abbreviated_name": abbreviate(m.given, m.surname),
    }
    p["membership_type"] = tag("full")
    if m.status == "invited" and m.invited_on is not None:
        p["invited_on"] = ts(m.invited_on)
    if m.joined_on is not None:
        p["joined_on"] = ts(m.joined_on)
    if m.status == "suspended" and m.suspended_on is not None:
        p["suspended_on"] = ts(m.suspended_on)
    if m.persistent_id is not None:
        p["persistent_id"] = m.persistent_id
        p["is_directory_restricted"] = False
    if m.photo_url is not None:
        p["profile_photo_url"] = m.photo_url
    p["groups"] = [group_ids[g] for g in m.groups]
    p["member_folder_id"] = str(m.member_folder_id)
    p["root_folder_id"] = root_folder_id
    return p


def member_roles(m: MemberRec) -> list[JSON] | None:
    """Roles of members who hold a seat (active / suspended); invited and removed have none."""
    if m.status not in ("active", "suspended"):
        return None
    role = m.role
    return [{"role_id": role.role_id, "name": role.name, "description": role.description}]


def member_info(m: MemberRec, group_ids: list[str], root_folder_id: str) -> JSON:
    info: JSON = {"profile": member_profile(m, group_ids, root_folder_id)}
    roles = member_roles(m)
    if roles is not None:
        info["roles"] = roles
    return info


# ── devices and apps ──────────────────────────────────────────────────────────────────────


def device_session(s: SessionRec) -> JSON:
    """``ActiveWebSession`` / ``DesktopClientSession`` / ``MobileClientSession``."""
    d: JSON = {
        "session_id": s.sid,
        "ip_address": s.ip,
        "country": LOCATIONS[s.loc].country,
        "created": ts(s.created),
        "updated": ts(s.updated),
    }
    if s.kind == "web":
        b = BROWSERS[s.model]
        d["user_agent"] = b.user_agent
        d["os"] = b.os
        d["browser"] = b.browser
        if s.expires is not None:
            d["expires"] = ts(s.expires)
    elif s.kind == "desktop":
        dm = DESKTOPS[s.model]
        d["host_name"] = s.name
        d["client_type"] = tag(dm.client_type)
        d["client_version"] = s.version
        d["platform"] = dm.platform
        d["is_delete_on_unlink_supported"] = dm.delete_on_unlink
    else:
        d["device_name"] = s.name
        d["client_type"] = tag(MOBILES[s.model].client_type)
        if s.version is not None:
            d["client_version"] = s.version
        if s.os_version is not None:
            d["os_version"] = s.os_version
        if s.carrier is not None:
            d["last_carrier"] = s.carrier
    return d


def split_sessions(
    sessions: dict[str, SessionRec] | None,
) -> tuple[list[JSON], list[JSON], list[JSON]]:
    web: list[JSON] = []
    desktop: list[JSON] = []
    mobile: list[JSON] = []
    for s in (sessions or {}).values():
        (web if s.kind == "web" else desktop if s.kind == "desktop" else mobile).append(
            device_session(s)
        )
    return web, desktop, mobile


def api_app(app_id: str, app: int, linked: int) -> JSON:
    spec = APPS[app]
    d: JSON = {"app_id": app_id, "app_name": spec.name}
    if spec.publisher is not None:
        d["publisher"] = spec.publisher
    if spec.publisher_url is not None:
        d["publisher_url"] = spec.publisher_url
    d["linked"] = ts(linked)
    d["is_app_folder"] = spec.is_app_folder
    return d


# ── audit log ─────────────────────────────────────────────────────────────────────────────

# event type tag -> (category, EventType description as in the SDK / spec)
EVENT_TYPES: dict[str, tuple[str, str]] = {
    "login_success": ("logins", "(logins) Signed in"),
    "login_fail": ("logins", "(logins) Failed to sign in"),
    "logout": ("logins", "(logins) Signed out"),
    "device_link_success": ("devices", "(devices) Linked device"),
    "device_unlink": ("devices", "(devices) Disconnected device"),
    "device_change_ip_web": (
        "devices",
        "(devices) Changed IP address associated with active web session",
    ),
    "device_change_ip_desktop": (
        "devices",
        "(devices) Changed IP address associated with active desktop session",
    ),
    "device_change_ip_mobile": (
        "devices",
        "(devices) Changed IP address associated with active mobile session",
    ),
    "member_change_status": (
        "members",
        "(members) Changed member status (invited, joined, suspended, etc.)",
    ),
    "member_change_email": ("members", "(members) Changed team member email"),
    "member_change_name": ("members", "(members) Changed team member name"),
    "member_add_external_id": ("members", "(members) Added an external ID for team member"),
    "member_change_external_id": ("members", "(members) Changed the external ID for team member"),
    "group_add_member": ("groups", "(groups) Added team members to group"),
    "group_remove_member": ("groups", "(groups) Removed team members from group"),
    "app_link_user": ("apps", "(apps) Linked app for member"),
    "app_unlink_user": ("apps", "(apps) Unlinked app for member"),
    "password_change": ("passwords", "(passwords) Changed password"),
    "tfa_change_status": (
        "tfa",
        "(tfa) Enabled/disabled/changed two-factor authentication setting",
    ),
    "shared_link_create": ("sharing", "(sharing) Created shared link"),
    "file_download": ("file_operations", "(file_operations) Downloaded files and/or folders"),
}


def _member_log_info(w: Who) -> JSON:
    """``TeamMemberLogInfo`` with its ``.tag`` (as ``UserLogInfo`` / ``ContextLogInfo`` need)."""
    d: JSON = {
        ".tag": "team_member",
        "account_id": w.account_id,
        "display_name": w.display_name,
        "email": w.email,
        "team_member_id": w.team_member_id,
    }
    if w.external_id is not None:
        d["member_external_id"] = w.external_id
    return d


def _device_session_log_info(s: SessionRec) -> JSON:
    """``DeviceSessionLogInfo`` with its subtype tag."""
    d: JSON = {
        ".tag": f"{s.kind}_device_session",
        "ip_address": s.ip,
        "created": ts(s.created),
        "updated": ts(s.updated),
        "session_info": {"session_id": s.sid},
    }
    if s.kind == "web":
        b = BROWSERS[s.model]
        d |= {"user_agent": b.user_agent, "os": b.os, "browser": b.browser}
    elif s.kind == "desktop":
        dm = DESKTOPS[s.model]
        d |= {
            "host_name": s.name,
            "client_type": tag(dm.client_type),
            "client_version": s.version,
            "platform": dm.platform,
            "is_delete_on_unlink_supported": dm.delete_on_unlink,
        }
    else:
        d |= {"device_name": s.name, "client_type": tag(MOBILES[s.model].client_type)}
        if s.version is not None:
            d["client_version"] = s.version
        if s.os_version is not None:
            d["os_version"] = s.os_version
        if s.carrier is not None:
            d["last_carrier"] = s.carrier
    return d


def _file_asset(path: str, file_id: str, ns_id: int) -> JSON:
    return {
        ".tag": "file",
        "path": {
            "contextual": path,
            "namespace_relative": {
                "ns_id": str(ns_id),
                "relative_path": path,
                "is_shared_namespace": False,
            },
        },
        "display_name": path.rsplit("/", 1)[-1],
        "file_id": file_id,
    }


def _status_action(action: str) -> JSON:
    if action in ("member_invite", "auto_approve"):
        return {".tag": "team_invite_details", "invite_method": tag(action)}
    if action == "join":
        return {
            ".tag": "team_join_details",
            "linked_apps": [],
            "linked_devices": [],
            "linked_shared_folders": [],
        }
    return {".tag": "remove_action", "remove_action": tag(action)}  # delete | offboard | leave


_VOID_TAGS: dict[str, JSON] = {}
_DETAILS_TAGS = {e: f"{e}_details" for e in EVENT_TYPES}


def _shared_tag(name: str) -> JSON:
    """``{".tag": name}``, one object per name: for the (read-only) audit events only."""
    found = _VOID_TAGS.get(name)
    if found is None:
        found = _VOID_TAGS[name] = {".tag": name}
    return found


def _details(rec: AuditRec) -> tuple[JSON, list[JSON] | None, list[JSON] | None]:
    """``EventDetails`` of ``rec``, and the event's ``participants`` and ``assets`` (or None).

    Payloads by event type: login_success (login_method,); login_fail (login_method, message,
    technical message); device_link_success, device_unlink, device_change_ip_* (SessionRec,);
    member_change_status (previous | None, new, action | None); member_change_email (old, new);
    member_change_name (old given, old surname, new given, new surname);
    member_add_external_id (new,); member_change_external_id (old, new); group_add_member,
    group_remove_member (group id, group name); app_link_user, app_unlink_user (app id, name);
    tfa_change_status (previous, new); file_download (path, file id, ns id);
    shared_link_create (path, file id, ns id, access level); logout, password_change ().
    """
    e = rec.etype
    p = rec.payload
    tag = _shared_tag
    d: JSON = {".tag": _DETAILS_TAGS[e]}
    participants: list[JSON] | None = None
    assets: list[JSON] | None = None
    if e == "login_success":
        d |= {"is_emm_managed": False, "login_method": tag(p[0])}
    elif e == "login_fail":
        d |= {
            "is_emm_managed": False,
            "login_method": tag(p[0]),
            "error_details": {"user_friendly_message": p[1], "technical_error_message": p[2]},
        }
    elif e in ("logout", "password_change"):
        pass
    elif e == "device_link_success":
        d["device_session_info"] = _device_session_log_info(p[0])
    elif e == "device_unlink":
        s: SessionRec = p[0]
        d["session_info"] = {".tag": s.kind, "session_id": s.sid}
        if s.name is not None:
            d["display_name"] = s.name
        d["delete_data"] = False
    elif e == "device_change_ip_web":
        d["user_agent"] = BROWSERS[p[0].model].user_agent
    elif e in ("device_change_ip_desktop", "device_change_ip_mobile"):
        d["device_session_info"] = _device_session_log_info(p[0])
    elif e == "member_change_status":
        prev, new, action = p
        if prev is not None:
            d["previous_value"] = tag(prev)
        d["new_value"] = tag(new)
        if action is not None:
            d["action"] = _status_action(action)
    elif e == "member_change_email":
        d |= {"new_value": p[1], "previous_value": p[0]}
    elif e == "member_change_name":
        d |= {
            "new_value": {"given_name": p[2], "surname": p[3]},
            "previous_value": {"given_name": p[0], "surname": p[1]},
        }
    elif e == "member_add_external_id":
        d["new_value"] = p[0]
    elif e == "member_change_external_id":
        d |= {"new_value": p[1], "previous_value": p[0]}
    elif e in ("group_add_member", "group_remove_member"):
        participants = [{".tag": "group", "group_id": p[0], "display_name": p[1]}]
        if e == "group_add_member":
            d["is_group_owner"] = False
    elif e in ("app_link_user", "app_unlink_user"):
        d["app_info"] = {".tag": "user_linked_app", "app_id": p[0], "display_name": p[1]}
    elif e == "tfa_change_status":
        d |= {"new_value": tag(p[1]), "previous_value": tag(p[0])}
    elif e == "shared_link_create":
        assets = [_file_asset(p[0], p[1], p[2])]
        d["shared_link_access_level"] = tag(p[3])
    elif e == "file_download":
        assets = [_file_asset(p[0], p[1], p[2])]
    else:  # pragma: no cover - guarded by EVENT_TYPES
        raise ValueError(f"unknown event type {e!r}")
    return d, participants, assets


class AuditEncoder:
    """``AuditRec`` → ``team_log.TeamEvent``.

    Events share their constant parts and per-member / per-origin parts (``event_type``,
    ``event_category``, actor and context, origin of a known session or admin console): a big
    log stays a fraction of its naive size. So the returned dicts are read-only; copy to change.
    """

    def __init__(self) -> None:
        self._types = {
            e: ({".tag": e, "description": desc}, tag(cat))
            for e, (cat, desc) in EVENT_TYPES.items()
        }
        self._people: dict[Who, tuple[JSON, JSON, JSON]] = {}  # context, user, admin actor
        self._origins: dict[tuple[str, int, str, str | None, bool], JSON] = {}

    def _person(self, w: Who) -> tuple[JSON, JSON, JSON]:
        found = self._people.get(w)
        if found is None:
            info = _member_log_info(w)
            found = self._people[w] = (
                info,
                {".tag": "user", "user": info},
                {".tag": "admin", "admin": info},
            )
        return found

    def _origin(self, rec: AuditRec) -> JSON:
        admin = rec.admin is not None
        key = (rec.ip, rec.loc, rec.sess_kind, rec.sid, admin)
        found = self._origins.get(key)
        if found is not None:
            return found
        loc = LOCATIONS[rec.loc]
        geo = {"city": loc.city, "region": loc.region, "country": loc.code, "ip_address": rec.ip}
        access: JSON
        if admin:
            access = _shared_tag("admin_console")
        else:
            session: JSON = tag(rec.sess_kind)
            if rec.sid is not None:
                session["session_id"] = rec.sid
            access = {".tag": "end_user", "end_user": session}
        origin = {"geo_location": geo, "access_method": access}
        if admin or rec.sid is not None:  # worth keeping: shared by many events
            self._origins[key] = origin
        return origin

    def event(self, rec: AuditRec) -> JSON:
        event_type, category = self._types[rec.etype]
        context = self._person(rec.who)
        actor = context[1] if rec.admin is None else self._person(rec.admin)[2]
        details, participants, assets = _details(rec)
        if participants is None and assets is None:  # built in one go: no dict resizing
            return {
                "timestamp": ts(rec.ts),
                "event_category": category,
                "actor": actor,
                "origin": self._origin(rec),
                "involve_non_team_member": False,
                "context": context[0],
                "event_type": event_type,
                "details": details,
            }
        out: JSON = {
            "timestamp": ts(rec.ts),
            "event_category": category,
            "actor": actor,
            "origin": self._origin(rec),
            "involve_non_team_member": False,
            "context": context[0],
        }
        if participants is not None:
            out["participants"] = participants
        if assets is not None:
            out["assets"] = assets
        out["event_type"] = event_type
        out["details"] = details
        return out
