"""Paging loops for the listing routes, as async generators of ``Page``.

Each loop follows the route's own rules (see the cheat sheet in docs): keep going while
``has_more`` even when a page is empty, keep the newest cursor, and when Dropbox invalidates a
cursor start the listing over and mark the first page of the new pass ``restarted=True``:

* snapshot streams (members, devices, apps) should drop what earlier pages of the pass gave;
* the audit log restarts from a timestamp, so its caller dedupes the overlap by event id.

Records are the raw JSON dicts; turning them into models is the caller's business.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from streamer.clock import format_dropbox_time, parse_dropbox_time
from streamer.errors import DropboxApiError, RouteError

# A cursor that keeps being invalidated would otherwise loop forever.
MAX_RESTARTS = 5

MEMBERS_LIST = "team/members/list_v2"
MEMBERS_CONTINUE = "team/members/list/continue_v2"
MEMBERS_DEVICES = "team/devices/list_members_devices"
LINKED_APPS = "team/linked_apps/list_members_linked_apps"
AUDIT_EVENTS = "team_log/get_events"
AUDIT_CONTINUE = "team_log/get_events/continue"


class RpcClient(Protocol):
    async def rpc(self, route: str, arg: object) -> Any: ...


@dataclass(frozen=True)
class Page:
    records: list[dict[str, Any]]
    cursor: str | None  # the cursor to store after this page (the newest one)
    has_more: bool
    restarted: bool = False  # this page begins a fresh pass after an invalidated cursor


def _page(result: Any, key: str, restarted: bool) -> Page:
    if not isinstance(result, dict) or not isinstance(result.get(key), list):
        raise DropboxApiError(f"unexpected listing answer: no {key!r} list")
    cursor = result.get("cursor")
    return Page(
        records=result[key],
        cursor=cursor if isinstance(cursor, str) else None,
        has_more=bool(result.get("has_more", False)),
        restarted=restarted,
    )


def _next_cursor(page: Page, route: str) -> str:
    if page.cursor is None:
        raise DropboxApiError(f"route {route!r} said has_more without giving a cursor")
    return page.cursor


def _count_restart(restarts: int, error: RouteError) -> int:
    if restarts >= MAX_RESTARTS:
        raise error
    return restarts + 1


async def members_pages(
    client: RpcClient, *, include_removed: bool = True, limit: int = 1000
) -> AsyncIterator[Page]:
    """team/members/list_v2, then list/continue_v2; 409 ``invalid_cursor`` → start over."""
    first = {"limit": limit, "include_removed": include_removed}
    page = _page(await client.rpc(MEMBERS_LIST, first), "members", restarted=False)
    restarts = 0
    while True:
        yield page
        if not page.has_more:
            return
        try:
            result = await client.rpc(
                MEMBERS_CONTINUE, {"cursor": _next_cursor(page, MEMBERS_LIST)}
            )
        except RouteError as exc:
            if exc.tag != "invalid_cursor":
                raise
            restarts = _count_restart(restarts, exc)
            page = _page(await client.rpc(MEMBERS_LIST, first), "members", restarted=True)
        else:
            page = _page(result, "members", restarted=False)


async def _same_route_pages(
    client: RpcClient, route: str, key: str, base: dict[str, Any]
) -> AsyncIterator[Page]:
    """Routes that page by calling themselves again with ``cursor``; 409 ``reset`` → no cursor."""
    page = _page(await client.rpc(route, base), key, restarted=False)
    restarts = 0
    while True:
        yield page
        if not page.has_more:
            return
        try:
            result = await client.rpc(route, {**base, "cursor": _next_cursor(page, route)})
        except RouteError as exc:
            if exc.tag != "reset":
                raise
            restarts = _count_restart(restarts, exc)
            page = _page(await client.rpc(route, base), key, restarted=True)
        else:
            page = _page(result, key, restarted=False)


def members_devices_pages(client: RpcClient) -> AsyncIterator[Page]:
    """team/devices/list_members_devices; records are ``MemberDevices`` dicts."""
    # the SDK repeats the include_* flags with every cursor call; so do we
    flags = {
        "include_web_sessions": True,
        "include_desktop_clients": True,
        "include_mobile_clients": True,
    }
    return _same_route_pages(client, MEMBERS_DEVICES, "devices", flags)


def linked_apps_pages(client: RpcClient) -> AsyncIterator[Page]:
    """team/linked_apps/list_members_linked_apps; records are ``MemberLinkedApps`` dicts."""
    return _same_route_pages(client, LINKED_APPS, "apps", {})


async def audit_pages(
    client: RpcClient,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    cursor: str | None = None,
    category: str | None = None,
    limit: int = 1000,
) -> AsyncIterator[Page]:
    """team_log/get_events (or /continue from ``cursor``) while ``has_more``.

    409 ``reset`` carries a timestamp: start over from it (``restarted=True``; the overlap is
    the caller's to dedupe by event id). ``bad_cursor``: start over from ``start``. Pages are not
    sorted by time; the last page's cursor is the one to poll with later.
    """

    def first(since: datetime | None) -> dict[str, Any]:
        arg: dict[str, Any] = {"limit": limit}
        time_range: dict[str, str] = {}
        if since is not None:
            time_range["start_time"] = format_dropbox_time(since)
        if end is not None:
            time_range["end_time"] = format_dropbox_time(end)
        if time_range:
            arg["time"] = time_range
        if category is not None:
            arg["category"] = {".tag": category}
        return arg

    restarts = 0
    restarted = False
    if cursor is None:
        route, arg = AUDIT_EVENTS, first(start)
    else:
        route, arg = AUDIT_CONTINUE, {"cursor": cursor}
    while True:
        try:
            result = await client.rpc(route, arg)
        except RouteError as exc:
            if route != AUDIT_CONTINUE or exc.tag not in ("reset", "bad_cursor"):
                raise
            restarts = _count_restart(restarts, exc)
            route, arg, restarted = AUDIT_EVENTS, first(_reset_point(exc, start)), True
            continue
        page = _page(result, "events", restarted)
        restarted = False
        yield page
        if not page.has_more:
            return
        route, arg = AUDIT_CONTINUE, {"cursor": _next_cursor(page, AUDIT_EVENTS)}


def _reset_point(error: RouteError, start: datetime | None) -> datetime | None:
    if error.tag == "reset" and isinstance(error.error, dict):
        value = error.error.get("reset")
        if isinstance(value, str):
            try:
                return parse_dropbox_time(value)
            except ValueError:
                pass
    return start
