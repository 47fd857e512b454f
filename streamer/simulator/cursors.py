"""Opaque, tamper-evident cursors.

A cursor is ``urlsafe_b64(json_payload + hmac_sha256(secret, json_payload)[:12])`` without
padding. The payload is a small dict: ``k`` (which listing), ``g`` (the cursor epoch: bumping
it invalidates every outstanding cursor), ``n`` (a sequence number, so every response carries a
fresh cursor) and listing-specific positions/filters. Anything that does not verify - a cursor
of another listing, a stale epoch handled by the caller, bit flips, garbage - decodes to ``None``
and the route answers its own bad-cursor error.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
from typing import Any

import orjson

_MAC_LEN = 12


class CursorCodec:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._seq = itertools.count(1)
        self.epoch = 1

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()[:_MAC_LEN]

    def encode(self, kind: str, fields: dict[str, Any]) -> str:
        payload = orjson.dumps({"k": kind, "g": self.epoch, "n": next(self._seq), **fields})
        raw = payload + self._mac(payload)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    def decode(self, kind: str, cursor: str) -> dict[str, Any] | None:
        """The payload of a genuine cursor of ``kind`` (any epoch), else ``None``."""
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError):
            return None
        if len(raw) <= _MAC_LEN:
            return None
        payload, mac = raw[:-_MAC_LEN], raw[-_MAC_LEN:]
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(data, dict) or data.get("k") != kind:
            return None
        return data

    def is_stale(self, data: dict[str, Any]) -> bool:
        return data.get("g") != self.epoch

    def invalidate_all(self) -> None:
        """Every cursor issued so far becomes stale (the route answers reset/invalid_cursor)."""
        self.epoch += 1
