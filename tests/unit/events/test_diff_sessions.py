"""Sessions: started / ended, linked / unlinked, network changes, silent updates, state."""

from __future__ import annotations

from datetime import UTC, datetime

from event_support import (
    apply_devices,
    check_event,
    ctx,
    desktop_client,
    devices_projection,
    devices_record,
    mobile_client,
    one_devices,
    web_session,
)

from streamer.dropbox.models import MemberDevices
from streamer.events.envelope import Event, UserRef
from streamer.events.sessions import devices_state, diff_member_devices
from streamer.state import pack_state

TMID = "dbmid:AAHhy7WsR0x-u4ZCqiDl5Fz5zvuL3kmspwU"
USER = UserRef(team_member_id=TMID, email="franz@acme.example", name="Franz F", status="active")
LATER = ctx(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))


def devices(**lists: list[dict]) -> MemberDevices:
    return one_devices(devices_record(TMID, **lists))


def everything() -> MemberDevices:
    return devices(web=[web_session()], desktop=[desktop_client()], mobile=[mobile_client()])


def types(events: list[Event]) -> list[str]:
    return [e.event_type for e in events]


def test_new_sessions_start_and_clients_link_dated_by_created() -> None:
    events, state = diff_member_devices(None, everything(), USER, ctx())
    assert types(events) == [
        "web_session.started",
        "desktop_client.linked",
        "mobile_client.linked",
    ]
    web, desktop, mobile = events
    assert web.event_time == datetime(2026, 2, 1, 8, 0, tzinfo=UTC)
    assert web.user == USER
    assert web.network == {"ip_address": "203.0.113.7", "country": "United States"}
    assert web.device == {
        "kind": "web",
        "session_id": "dbwsid:1",
        "os": "Mac OS X",
        "browser": "Safari",
        "user_agent": "Mozilla/5.0 (Macintosh) Safari/605.1.15",
        "expires": datetime(2026, 3, 30, 8, 0, tzinfo=UTC),
        "created": datetime(2026, 2, 1, 8, 0, tzinfo=UTC),
        "updated": datetime(2026, 2, 28, 9, 30, tzinfo=UTC),
    }
    assert desktop.device is not None
    assert desktop.device["client_type"] == "mac"
    assert desktop.device["host_name"] == "franz-mbp"
    assert desktop.device["platform"] == "Mac OS X 14.2"
    assert mobile.device is not None
    assert mobile.device["device_name"] == "Franz's iPhone"
    assert mobile.device["os_version"] == "17.3"
    assert mobile.device["last_carrier"] == "Orange"
    assert web.raw is not None
    assert web.raw["session_id"] == "dbwsid:1"
    assert isinstance(state, dict)
    assert set(state["sessions"]) == {
        "dbwsid:1",
        "dbdsid:1",
        "dbmsid:1",
    }
    for event in events:
        check_event(event)


def test_gone_sessions_end_and_clients_unlink_at_observation() -> None:
    _, prev = diff_member_devices(None, everything(), USER, ctx())
    events, state = diff_member_devices(prev, devices(), USER, LATER)
    assert types(events) == [
        "web_session.ended",
        "desktop_client.unlinked",
        "mobile_client.unlinked",
    ]
    assert state is None  # nothing left: delete the subject
    web, desktop, mobile = events
    assert all(e.event_time == LATER.observed_at for e in events)
    # described from the state: enough to say which device it was and where it was last
    assert web.device == {
        "kind": "web",
        "session_id": "dbwsid:1",
        "browser": "Safari",
        "os": "Mac OS X",
        "created": datetime(2026, 2, 1, 8, 0, tzinfo=UTC),
        "updated": datetime(2026, 2, 28, 9, 30, tzinfo=UTC),
    }
    assert web.network == {"ip_address": "203.0.113.7", "country": "United States"}
    assert desktop.device is not None
    assert desktop.device["host_name"] == "franz-mbp"
    assert mobile.device is not None
    assert mobile.device["device_name"] == "Franz's iPhone"
    assert web.raw is None
    for event in events:
        check_event(event)


def test_a_member_no_longer_listed_ends_everything() -> None:
    _, prev = diff_member_devices(None, everything(), USER, ctx())
    events, state = diff_member_devices(prev, None, None, LATER)
    assert len(events) == 3
    assert state is None
    assert all(e.user == {"team_member_id": TMID} for e in events)
    assert diff_member_devices(None, None, None, LATER) == ([], None)


def test_ip_or_country_change_is_session_network_changed() -> None:
    _, prev = diff_member_devices(None, devices(web=[web_session()]), USER, ctx())
    moved = devices(
        web=[web_session(ip_address="198.51.100.9", updated="2026-03-02T07:59:00Z")],
    )
    events, state = diff_member_devices(prev, moved, USER, LATER)
    assert types(events) == ["session.network_changed"]
    event = events[0]
    assert event.changes == {"ip_address": {"old": "203.0.113.7", "new": "198.51.100.9"}}
    assert event.network == {"ip_address": "198.51.100.9", "country": "United States"}
    assert event.event_time == datetime(2026, 3, 2, 7, 59, tzinfo=UTC)
    check_event(event)
    travelled = devices(web=[web_session(ip_address="198.51.100.9", country="Canada")])
    events, _ = diff_member_devices(state, travelled, USER, LATER)
    assert events[0].changes == {"country": {"old": "United States", "new": "Canada"}}


def test_only_updated_changes_make_no_event_but_the_state_keeps_last_seen() -> None:
    _, prev = diff_member_devices(None, devices(web=[web_session()]), USER, ctx())
    active = devices(web=[web_session(updated="2026-03-02T07:00:00Z", user_agent="Other/1.0")])
    events, state = diff_member_devices(prev, active, USER, LATER)
    assert events == []
    assert isinstance(state, dict)
    assert state is not prev
    assert state["sessions"]["dbwsid:1"][4] == int(datetime(2026, 3, 2, 7, tzinfo=UTC).timestamp())


def test_unchanged_sessions_return_the_same_state_object() -> None:
    _, prev = diff_member_devices(None, everything(), USER, ctx())
    events, state = diff_member_devices(prev, everything(), USER, LATER)
    assert events == []
    assert state is prev
    packed = pack_state(prev)
    events, state = diff_member_devices(packed, everything(), USER, LATER)
    assert events == []
    assert state is packed


def test_members_without_sessions_need_no_state() -> None:
    assert diff_member_devices(None, devices(), USER, ctx()) == ([], None)
    assert devices_state(devices(web=[], mobile=[])) is None


def test_a_session_id_listed_under_another_kind_is_a_new_session() -> None:
    _, prev = diff_member_devices(None, devices(web=[web_session("dbxsid:9")]), USER, ctx())
    now_mobile = devices(mobile=[mobile_client("dbxsid:9")])
    events, state = diff_member_devices(prev, now_mobile, USER, LATER)
    assert types(events) == ["web_session.ended", "mobile_client.linked"]
    assert apply_devices(events, prev) == devices_projection(state)


def test_a_session_listed_twice_counts_once() -> None:
    twice = devices(web=[web_session(), web_session(ip_address="10.0.0.1")])
    events, state = diff_member_devices(None, twice, USER, ctx())
    assert types(events) == ["web_session.started"]
    assert isinstance(state, dict)
    assert state["sessions"]["dbwsid:1"][1] == "203.0.113.7"


def test_sessions_without_optional_fields() -> None:
    bare = devices(
        web=[web_session(ip_address=None, country=None, created=None, updated=None, expires=None)],
        mobile=[mobile_client(client_version=None, os_version=None, last_carrier=None)],
    )
    events, state = diff_member_devices(None, bare, None, ctx())
    assert events[0].network is None
    assert events[0].event_time == ctx().observed_at
    assert events[0].device == {
        "kind": "web",
        "session_id": "dbwsid:1",
        "os": "Mac OS X",
        "browser": "Safari",
        "user_agent": "Mozilla/5.0 (Macintosh) Safari/605.1.15",
    }
    assert events[0].user == {"team_member_id": TMID}
    for event in events:
        check_event(event)
    gone, _ = diff_member_devices(state, None, None, LATER)
    assert gone[0].network is None
    assert gone[0].device == {
        "kind": "web",
        "session_id": "dbwsid:1",
        "browser": "Safari",
        "os": "Mac OS X",
    }


def test_unknown_client_types_flow_through() -> None:
    odd = devices(desktop=[desktop_client(client_type={".tag": "chromeos"})])
    events, state = diff_member_devices(None, odd, USER, ctx())
    assert events[0].device is not None
    assert events[0].device["client_type"] == "chromeos"
    assert events[0].raw is not None
    assert events[0].raw["client_type"] == {".tag": "chromeos"}
    gone, _ = diff_member_devices(state, None, USER, LATER)
    assert gone[0].device is not None
    assert gone[0].device["client_type"] == "chromeos"


# --- ids ---------------------------------------------------------------------------------------


def test_start_and_end_ids_depend_on_the_session_only() -> None:
    a, sa = diff_member_devices(None, devices(web=[web_session()]), USER, ctx())
    b, sb = diff_member_devices(None, devices(web=[web_session()]), None, LATER)
    assert a[0].event_id == b[0].event_id
    end_a, _ = diff_member_devices(sa, None, USER, ctx())
    end_b, _ = diff_member_devices(sb, None, None, LATER)
    assert end_a[0].event_id == end_b[0].event_id != a[0].event_id


def test_network_change_ids_depend_on_the_new_network_and_time() -> None:
    _, prev = diff_member_devices(None, devices(web=[web_session()]), USER, ctx())

    def moved(ip: str, updated: str) -> str:
        cur = devices(web=[web_session(ip_address=ip, updated=updated)])
        events, _ = diff_member_devices(prev, cur, USER, LATER)
        return events[0].event_id

    assert moved("10.0.0.1", "2026-03-02T07:00:00Z") == moved("10.0.0.1", "2026-03-02T07:00:00Z")
    assert moved("10.0.0.1", "2026-03-02T07:00:00Z") != moved("10.0.0.2", "2026-03-02T07:00:00Z")
    assert moved("10.0.0.1", "2026-03-02T07:00:00Z") != moved("10.0.0.1", "2026-03-02T07:30:00Z")


def test_state_shape() -> None:
    state = devices_state(everything())
    assert state == {
        "team_member_id": TMID,
        "sessions": {
            "dbwsid:1": [
                "web",
                "203.0.113.7",
                "United States",
                1769932800,
                1772271000,
                "Safari",
                "Mac OS X",
            ],
            "dbdsid:1": [
                "desktop",
                "198.51.100.20",
                "Germany",
                1761991200,
                1772272800,
                "mac",
                "franz-mbp",
            ],
            "dbmsid:1": [
                "mobile",
                "192.0.2.44",
                "France",
                1766599200,
                1772176500,
                "iphone",
                "Franz's iPhone",
            ],
        },
    }
