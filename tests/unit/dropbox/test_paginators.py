from collections import deque
from datetime import UTC, datetime
from typing import Any

import pytest
from dbx_fakes import FakeDropbox, envelope, json_response, make_client

from streamer.clock import ManualClock
from streamer.dropbox import (
    Page,
    audit_pages,
    linked_apps_pages,
    members_devices_pages,
    members_pages,
)
from streamer.dropbox.pagination import MAX_RESTARTS
from streamer.errors import DropboxApiError, RouteError


class ScriptedClient:
    """An ``rpc`` that checks each call against a script of (route, arg, answer)."""

    def __init__(self, *script: tuple[str, object, object]) -> None:
        self.script = deque(script)
        self.calls: list[tuple[str, object]] = []

    async def rpc(self, route: str, arg: object) -> Any:
        self.calls.append((route, arg))
        want_route, want_arg, answer = self.script.popleft()
        assert (route, arg) == (want_route, want_arg)
        if isinstance(answer, Exception):
            raise answer
        return answer


def conflict(route: str, tag: str, **fields: Any) -> RouteError:
    return RouteError(route, tag, {".tag": tag, **fields})


async def collect(pages: Any) -> list[Page]:
    return [page async for page in pages]


LIST, CONTINUE = "team/members/list_v2", "team/members/list/continue_v2"
FIRST = {"limit": 1000, "include_removed": True}


async def test_members_pages_follow_has_more_through_empty_pages() -> None:
    client = ScriptedClient(
        (LIST, FIRST, {"members": [{"n": 1}], "cursor": "c1", "has_more": True}),
        (CONTINUE, {"cursor": "c1"}, {"members": [], "cursor": "c2", "has_more": True}),
        (CONTINUE, {"cursor": "c2"}, {"members": [{"n": 2}], "cursor": "c3", "has_more": False}),
    )
    pages = await collect(members_pages(client))
    assert [p.records for p in pages] == [[{"n": 1}], [], [{"n": 2}]]
    assert [p.cursor for p in pages] == ["c1", "c2", "c3"]
    assert not any(p.restarted for p in pages)
    assert not client.script


async def test_members_invalid_cursor_restarts_from_list_v2() -> None:
    client = ScriptedClient(
        (LIST, FIRST, {"members": [{"n": 1}], "cursor": "c1", "has_more": True}),
        (CONTINUE, {"cursor": "c1"}, conflict(CONTINUE, "invalid_cursor")),
        (LIST, FIRST, {"members": [{"n": 1}], "cursor": "d1", "has_more": True}),
        (CONTINUE, {"cursor": "d1"}, {"members": [{"n": 2}], "cursor": "d2", "has_more": False}),
    )
    pages = await collect(members_pages(client))
    assert [p.restarted for p in pages] == [False, True, False]
    assert pages[-1].records == [{"n": 2}]


async def test_members_other_route_errors_propagate() -> None:
    client = ScriptedClient(
        (LIST, FIRST, {"members": [], "cursor": "c1", "has_more": True}),
        (CONTINUE, {"cursor": "c1"}, conflict(CONTINUE, "other")),
    )
    with pytest.raises(RouteError):
        await collect(members_pages(client))


async def test_a_cursor_invalidated_over_and_over_eventually_fails() -> None:
    script: list[tuple[str, object, object]] = [
        (LIST, FIRST, {"members": [], "cursor": "c", "has_more": True})
    ]
    for _ in range(MAX_RESTARTS + 1):
        script.append((CONTINUE, {"cursor": "c"}, conflict(CONTINUE, "invalid_cursor")))
        script.append((LIST, FIRST, {"members": [], "cursor": "c", "has_more": True}))
    with pytest.raises(RouteError, match="invalid_cursor"):
        await collect(members_pages(ScriptedClient(*script[:-1])))


DEVICES = "team/devices/list_members_devices"
FLAGS = {
    "include_web_sessions": True,
    "include_desktop_clients": True,
    "include_mobile_clients": True,
}


async def test_devices_send_the_flags_every_call_and_restart_without_cursor_on_reset() -> None:
    client = ScriptedClient(
        (DEVICES, FLAGS, {"devices": [{"m": 1}], "has_more": True, "cursor": "a"}),
        (DEVICES, {**FLAGS, "cursor": "a"}, conflict(DEVICES, "reset")),
        (DEVICES, FLAGS, {"devices": [{"m": 1}], "has_more": True, "cursor": "b"}),
        (DEVICES, {**FLAGS, "cursor": "b"}, {"devices": [], "has_more": False}),
    )
    pages = await collect(members_devices_pages(client))
    assert [p.records for p in pages] == [[{"m": 1}], [{"m": 1}], []]
    assert [p.restarted for p in pages] == [False, True, False]
    assert pages[-1].cursor is None  # optional on this route


APPS = "team/linked_apps/list_members_linked_apps"


async def test_linked_apps_start_with_an_empty_arg_and_restart_on_reset() -> None:
    client = ScriptedClient(
        (APPS, {}, {"apps": [{"a": 1}], "has_more": True, "cursor": "x"}),
        (APPS, {"cursor": "x"}, conflict(APPS, "reset")),
        (APPS, {}, {"apps": [{"a": 1}], "has_more": True, "cursor": "y"}),
        (APPS, {"cursor": "y"}, {"apps": [{"a": 2}], "has_more": False, "cursor": "z"}),
    )
    pages = await collect(linked_apps_pages(client))
    assert [p.records for p in pages] == [[{"a": 1}], [{"a": 1}], [{"a": 2}]]
    assert pages[1].restarted


async def test_has_more_without_a_cursor_is_an_error_not_a_loop() -> None:
    client = ScriptedClient((APPS, {}, {"apps": [], "has_more": True}))
    with pytest.raises(DropboxApiError, match="without giving a cursor"):
        await collect(linked_apps_pages(client))


EVENTS, EVENTS_CONTINUE = "team_log/get_events", "team_log/get_events/continue"
START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 2, tzinfo=UTC)


async def test_audit_sends_the_time_range_and_keeps_the_newest_cursor() -> None:
    first = {
        "limit": 500,
        "time": {"start_time": "2026-01-01T00:00:00Z", "end_time": "2026-01-02T00:00:00Z"},
        "category": {".tag": "logins"},
    }
    client = ScriptedClient(
        (EVENTS, first, {"events": [{"e": 2}, {"e": 1}], "cursor": "k1", "has_more": True}),
        (EVENTS_CONTINUE, {"cursor": "k1"}, {"events": [], "cursor": "k2", "has_more": True}),
        (
            EVENTS_CONTINUE,
            {"cursor": "k2"},
            {"events": [{"e": 3}], "cursor": "k3", "has_more": False},
        ),
    )
    pages = await collect(audit_pages(client, start=START, end=END, category="logins", limit=500))
    assert [p.cursor for p in pages] == ["k1", "k2", "k3"]
    assert pages[0].records == [{"e": 2}, {"e": 1}]  # unsorted pages pass through as they are


async def test_audit_with_a_stored_cursor_continues_from_it() -> None:
    client = ScriptedClient(
        (
            EVENTS_CONTINUE,
            {"cursor": "saved"},
            {"events": [], "cursor": "newer", "has_more": False},
        ),
    )
    pages = await collect(audit_pages(client, cursor="saved"))
    assert [(p.records, p.cursor, p.has_more) for p in pages] == [([], "newer", False)]


async def test_audit_reset_restarts_get_events_from_the_reset_timestamp() -> None:
    client = ScriptedClient(
        (
            EVENTS_CONTINUE,
            {"cursor": "old"},
            conflict(EVENTS_CONTINUE, "reset", reset="2017-01-25T15:51:30Z"),
        ),
        (
            EVENTS,
            {"limit": 1000, "time": {"start_time": "2017-01-25T15:51:30Z"}},
            {"events": [{"e": 9}], "cursor": "r1", "has_more": False},
        ),
    )
    pages = await collect(audit_pages(client, start=START, cursor="old"))
    assert [(p.records, p.cursor, p.restarted) for p in pages] == [([{"e": 9}], "r1", True)]


async def test_audit_bad_cursor_restarts_from_start() -> None:
    client = ScriptedClient(
        (
            EVENTS,
            {"limit": 1000, "time": {"start_time": "2026-01-01T00:00:00Z"}},
            {"events": [], "cursor": "k1", "has_more": True},
        ),
        (EVENTS_CONTINUE, {"cursor": "k1"}, conflict(EVENTS_CONTINUE, "bad_cursor")),
        (
            EVENTS,
            {"limit": 1000, "time": {"start_time": "2026-01-01T00:00:00Z"}},
            {"events": [{"e": 1}], "cursor": "k2", "has_more": False},
        ),
    )
    pages = await collect(audit_pages(client, start=START))
    assert [p.restarted for p in pages] == [False, True]


async def test_audit_get_events_errors_are_not_swallowed() -> None:
    client = ScriptedClient(
        (EVENTS, {"limit": 1000}, conflict(EVENTS, "invalid_time_range")),
    )
    with pytest.raises(RouteError, match="invalid_time_range"):
        await collect(audit_pages(client))


async def test_paginators_restart_through_the_real_client_on_a_409() -> None:
    """End to end through DropboxClient: the wire 409 body becomes a restart."""
    fake = FakeDropbox().on(
        LIST,
        json_response(200, {"members": [{"n": 1}], "cursor": "c1", "has_more": True}),
        json_response(200, {"members": [{"n": 1}], "cursor": "d1", "has_more": False}),
    )
    fake.on(CONTINUE, json_response(409, envelope("invalid_cursor")))
    client = make_client(fake, ManualClock())
    pages = await collect(members_pages(client))
    assert [p.restarted for p in pages] == [False, True]
    assert [c.url.rsplit("/2/", 1)[1] for c in fake.api_calls] == [LIST, CONTINUE, LIST]
