"""The Dropbox RPC routes: argument decoding, paging, cursors, route errors.

Each handler takes the decoded JSON argument and returns a ``web.Response`` (or raises
``ArgError`` for a 400). Authentication, scopes, rate limits and transport faults are the
server's business (``server.py``); this module is only about what a route answers.

Paging:

* ``team/members/list_v2`` honours ``limit`` (1..1000, default 1000); ``continue_v2`` answers
  ``invalid_cursor`` for a bad, stale or reset cursor.
* ``team/devices/list_members_devices`` / ``team/linked_apps/list_members_linked_apps`` page
  ``Faults.devices_page_size`` / ``apps_page_size`` members at a time (members with nothing to
  list are skipped) and answer ``reset`` for a bad, stale or reset cursor.
* ``team_log/get_events`` honours ``limit``; pages may be short or empty with ``has_more=true``
  (knobs), the cursor changes on every call, and ``continue`` with the last cursor returns events
  appended since. Bad cursor → ``bad_cursor``; stale/reset → ``reset`` with a timestamp to
  restart from (the timestamp of the last event delivered, so nothing is lost).

Positions are indexes into the append-only ``world.member_order()`` / ``world.audit_log()``, so a
world that changes between pages never breaks a listing.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from aiohttp import web

from streamer.clock import format_dropbox_time, parse_dropbox_time
from streamer.simulator import http_wire as wire
from streamer.simulator.cursors import CursorCodec
from streamer.simulator.faults import FaultInjector
from streamer.simulator.http_view import DeviceFlags, WorldView
from streamer.simulator.http_wire import fail

FEATURES = frozenset(
    {
        "upload_api_rate_limit",
        "has_team_shared_dropbox",
        "has_team_file_events",
        "has_team_selective_sync",
        "has_distinct_member_homes",
    }
)
EVENT_CATEGORIES = frozenset(
    {
        "admin_alerting",
        "apps",
        "comments",
        "dash",
        "data_governance",
        "devices",
        "domains",
        "encryption",
        "file_operations",
        "file_requests",
        "groups",
        "logins",
        "members",
        "paper",
        "passwords",
        "protect",
        "reports",
        "sharing",
        "showcase",
        "signatures",
        "sso",
        "team_folders",
        "team_policies",
        "team_profile",
        "tfa",
        "trusted_teams",
    }
)
_EVENT_TYPE_TAG = re.compile(r"^[a-z0-9_]+$")
_SELECTORS = ("team_member_id", "external_id", "email")
_TRUE, _FALSE = b"true", b"false"

Handler = Callable[[Any], web.Response]
CursorProblem = Literal["bad", "reset"]


@dataclass(frozen=True)
class Route:
    name: str
    scope: str
    handler: Handler


def _page(items: list[bytes], key: bytes, tail: dict[str, Any]) -> web.Response:
    body = b'{"' + key + b'":[' + b",".join(items) + b"]," + orjson.dumps(tail)[1:]
    return wire.json_response(body)


def _flags(a: dict[str, Any]) -> DeviceFlags:
    return (
        wire.opt_bool(a, "include_web_sessions", True),
        wire.opt_bool(a, "include_desktop_clients", True),
        wire.opt_bool(a, "include_mobile_clients", True),
    )


class Api:
    def __init__(self, view: WorldView, cursors: CursorCodec, injector: FaultInjector) -> None:
        self.view = view
        self.cursors = cursors
        self.injector = injector

    def routes(self) -> dict[str, Route]:
        table = [
            ("team/get_info", "team_info.read", self.team_get_info),
            ("team/features/get_values", "team_info.read", self.features_get_values),
            ("team/token/get_authenticated_admin", "team_info.read", self.authenticated_admin),
            ("team/members/list_v2", "members.read", self.members_list),
            ("team/members/list/continue_v2", "members.read", self.members_continue),
            ("team/members/get_info_v2", "members.read", self.members_get_info),
            ("team/devices/list_members_devices", "sessions.list", self.members_devices),
            ("team/devices/list_member_devices", "sessions.list", self.member_devices),
            ("team/linked_apps/list_members_linked_apps", "sessions.list", self.members_apps),
            ("team/linked_apps/list_member_linked_apps", "sessions.list", self.member_apps),
            ("team_log/get_events", "events.read", self.get_events),
            ("team_log/get_events/continue", "events.read", self.get_events_continue),
        ]
        return {name: Route(name, scope, handler) for name, scope, handler in table}

    def _cursor(self, kind: str, cursor: str, route: str) -> dict[str, Any] | CursorProblem:
        """The decoded payload, or why it cannot be used (forged/garbage vs. stale/reset)."""
        data = self.cursors.decode(kind, cursor)
        if data is None:
            return "bad"
        if self.cursors.is_stale(data) or self.injector.cursor_reset(route):
            return "reset"
        return data

    # --- team ---------------------------------------------------------------------------------
    def team_get_info(self, arg: Any) -> web.Response:
        wire.void(arg)
        return wire.json_response(self.view.team_info())

    def features_get_values(self, arg: Any) -> web.Response:
        raw = wire.list_of(wire.struct(arg), "features")
        features = [wire.union_tag(f, FEATURES.__contains__, "features")[0] for f in raw]
        if not features:
            return wire.route_error("empty_features_list")
        values = self.view.world.feature_values(features)
        return wire.json_response(orjson.dumps({"values": values}))

    def authenticated_admin(self, arg: Any) -> web.Response:
        wire.void(arg)
        profile = self.view.member_info(self.view.world.admin_member_id())["profile"]
        return wire.json_response(orjson.dumps({"admin_profile": profile}))

    # --- members ------------------------------------------------------------------------------
    def members_list(self, arg: Any) -> web.Response:
        a = wire.struct(arg)
        limit = wire.opt_uint32(a, "limit", 1000, 1, 1000)
        include_removed = wire.opt_bool(a, "include_removed", False)
        return self._members_page(0, limit, include_removed)

    def members_continue(self, arg: Any) -> web.Response:
        cursor = wire.req_str(wire.struct(arg), "cursor")
        data = self._cursor("m", cursor, "team/members/list/continue_v2")
        if isinstance(data, str):
            return wire.route_error("invalid_cursor")
        return self._members_page(data["p"], data["l"], data["r"])

    def _members_page(self, pos: int, limit: int, include_removed: bool) -> web.Response:
        view = self.view
        positions = view.positions(include_removed)
        i = bisect_left(positions, pos)
        chunk = positions[i : i + limit]
        order = view.order
        items = [view.member(order[p]) for p in chunk]
        next_pos = chunk[-1] + 1 if chunk else pos
        cursor = self.cursors.encode("m", {"p": next_pos, "l": limit, "r": include_removed})
        has_more = i + limit < len(positions)
        return _page(items, b"members", {"cursor": cursor, "has_more": has_more})

    def members_get_info(self, arg: Any) -> web.Response:
        raw = wire.list_of(wire.struct(arg), "members")
        out: list[bytes] = []
        for selector in raw:
            tag, obj = wire.union_tag(selector, _SELECTORS.__contains__, "members")
            if tag not in obj:
                fail(f"missing '{tag}' key", "members")
            value = wire.check_str(
                obj[tag], "members", tag, max_length=64 if tag == "external_id" else None
            )
            member_id = self.view.world.find_member(tag, value)
            if member_id is None:
                out.append(orjson.dumps({".tag": "id_not_found", "id_not_found": value}))
            else:
                out.append(b'{".tag":"member_info",' + self.view.member(member_id)[1:])
        return wire.json_response(b'{"members_info":[' + b",".join(out) + b"]}")

    # --- devices ------------------------------------------------------------------------------
    def members_devices(self, arg: Any) -> web.Response:
        a = wire.struct(arg)
        flags = _flags(a)
        cursor = wire.opt_str(a, "cursor")
        pos = 0
        if cursor is not None:
            data = self._cursor("d", cursor, "team/devices/list_members_devices")
            if isinstance(data, str):
                return wire.route_error("reset")
            pos = data["p"]
        size = self.injector.faults.devices_page_size
        return self._scan(pos, size, lambda m: self.view.devices(m, flags), "d", b"devices")

    def member_devices(self, arg: Any) -> web.Response:
        a = wire.struct(arg)
        member_id = wire.req_str(a, "team_member_id")
        flags = _flags(a)
        if self.view.world.find_member("team_member_id", member_id) is None:
            return wire.route_error("member_not_found")
        return wire.json_response(self.view.member_devices_single(member_id, flags))

    # --- linked apps --------------------------------------------------------------------------
    def members_apps(self, arg: Any) -> web.Response:
        a = wire.struct(arg)
        cursor = wire.opt_str(a, "cursor")
        pos = 0
        if cursor is not None:
            data = self._cursor("a", cursor, "team/linked_apps/list_members_linked_apps")
            if isinstance(data, str):
                return wire.route_error("reset")
            pos = data["p"]
        size = self.injector.faults.apps_page_size
        return self._scan(pos, size, self.view.apps, "a", b"apps")

    def member_apps(self, arg: Any) -> web.Response:
        member_id = wire.req_str(wire.struct(arg), "team_member_id")
        if self.view.world.find_member("team_member_id", member_id) is None:
            return wire.route_error("member_not_found")
        return wire.json_response(self.view.member_apps_single(member_id))

    def _scan(
        self, pos: int, size: int, entry: Callable[[str], bytes | None], kind: str, key: bytes
    ) -> web.Response:
        """Up to ``size`` members with something to list, from ``pos`` in member order."""
        order = self.view.order
        n = len(order)
        items: list[bytes] = []
        while pos < n and len(items) < size:
            encoded = entry(order[pos])
            if encoded is not None:
                items.append(encoded)
            pos += 1
        while pos < n and entry(order[pos]) is None:  # look ahead: is there really more?
            pos += 1
        cursor = self.cursors.encode(kind, {"p": pos})
        return _page(items, key, {"has_more": pos < n, "cursor": cursor})

    # --- team_log -----------------------------------------------------------------------------
    def get_events(self, arg: Any) -> web.Response:
        a = wire.struct(arg)
        limit = wire.opt_uint32(a, "limit", 1000, 1, 1000)
        account_id = wire.opt_str(a, "account_id")
        if account_id is not None and len(account_id) != 40:
            if len(account_id) < 40:
                fail(
                    f"'{account_id}' must be at least 40 characters, got {len(account_id)}",
                    "account_id",
                )
            fail(
                f"'{account_id}' must be at most 40 characters, got {len(account_id)}", "account_id"
            )
        start = end = None
        time = a.get("time")
        if time is not None:
            if not isinstance(time, dict):
                fail(f"expected object, got {wire.type_name(time)}", "time")
            start = wire.opt_timestamp(time, "start_time", "time")
            end = wire.opt_timestamp(time, "end_time", "time")
        category = event_type = None
        if a.get("category") is not None:
            category = wire.union_tag(a["category"], EVENT_CATEGORIES.__contains__, "category")[0]
        if a.get("event_type") is not None:
            event_type = wire.union_tag(
                a["event_type"],
                lambda t: bool(_EVENT_TYPE_TAG.match(t)) and t != "other",
                "event_type",
            )[0]
        if category is not None and event_type is not None:
            return wire.route_error("invalid_filters")
        if start is not None and end is not None and start > end:
            return wire.route_error("invalid_time_range")
        if account_id is not None and not self.view.account_exists(account_id):
            return wire.route_error("account_id_not_found")
        query = {
            "s": None if start is None else format_dropbox_time(start),
            "e": None if end is None else format_dropbox_time(end),
            "c": category,
            "a": account_id,
            "t": event_type,
            "l": limit,
        }
        return self._events_page(0, query, "team_log/get_events")

    def get_events_continue(self, arg: Any) -> web.Response:
        cursor = wire.req_str(wire.struct(arg), "cursor")
        data = self._cursor("e", cursor, "team_log/get_events/continue")
        if data == "bad":
            return wire.route_error("bad_cursor")
        if data == "reset":
            payload = self.cursors.decode("e", cursor) or {}
            return wire.route_error("reset", self._reset_time(payload))
        return self._events_page(data["p"], data, "team_log/get_events/continue")

    def _reset_time(self, data: dict[str, Any]) -> str:
        """Where a client should restart: the last event it got (re-delivery, never a gap)."""
        pos = int(data.get("p", 0))
        view = self.view
        if 0 < pos <= view.audit_size:
            return view.event_timestamp(pos - 1)
        if data.get("s"):
            return str(data["s"])
        if view.audit_size:
            return view.event_timestamp(0)
        return format_dropbox_time(view.world.now)

    def _events_page(self, pos: int, q: dict[str, Any], route: str) -> web.Response:
        view = self.view
        start = None if q["s"] is None else parse_dropbox_time(q["s"])
        end = None if q["e"] is None else parse_dropbox_time(q["e"])
        matches = view.matches(start, end, q["c"], q["a"], q["t"])
        limit = int(q["l"])
        i = bisect_left(matches, pos)
        take = self.injector.page_shape(route, limit)
        chunk = matches[i : i + take]
        items = [view.event(j) for j in chunk]
        next_pos = chunk[-1] + 1 if chunk else pos
        has_more = take == 0 or i + take < len(matches)
        fields = {k: q[k] for k in ("s", "e", "c", "a", "t", "l")}
        cursor = self.cursors.encode("e", {"p": next_pos, **fields})
        return _page(items, b"events", {"cursor": cursor, "has_more": has_more})
