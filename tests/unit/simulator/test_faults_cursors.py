"""Opaque cursors: round trip, fresh on every call, tamper-evident, epoch invalidation."""

from __future__ import annotations

import base64

from streamer.simulator.cursors import CursorCodec


def test_round_trip_and_opaque() -> None:
    codec = CursorCodec(b"secret")
    cursor = codec.encode("m", {"p": 42, "l": 10})
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    data = codec.decode("m", cursor)
    assert data is not None
    assert (data["p"], data["l"]) == (42, 10)
    assert not codec.is_stale(data)


def test_every_cursor_is_fresh() -> None:
    codec = CursorCodec(b"secret")
    assert codec.encode("e", {"p": 1}) != codec.encode("e", {"p": 1})


def test_tampered_foreign_and_garbage_cursors_do_not_decode() -> None:
    codec = CursorCodec(b"secret")
    cursor = codec.encode("m", {"p": 1})
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[5] ^= 1
    flipped = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    assert codec.decode("m", flipped) is None
    assert codec.decode("d", cursor) is None  # a members cursor is no devices cursor
    assert CursorCodec(b"other").decode("m", cursor) is None
    for junk in ["", "x", "!!!", "abc", "é", "A" * 100]:
        assert codec.decode("m", junk) is None


def test_invalidate_all_makes_cursors_stale() -> None:
    codec = CursorCodec(b"secret")
    cursor = codec.encode("a", {"p": 3})
    codec.invalidate_all()
    data = codec.decode("a", cursor)
    assert data is not None
    assert codec.is_stale(data)
    fresh = codec.decode("a", codec.encode("a", {"p": 3}))
    assert fresh is not None
    assert not codec.is_stale(fresh)
