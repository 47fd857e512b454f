"""Where a state lives: stream keys, state-topic keys and the bookkeeping subjects.

Every ``team/stream`` and ``team/stream/subject`` string of the code is built here.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "META",
    "PROGRESS",
    "is_bookkeeping",
    "record_key",
    "split_record_key",
    "stream_key",
]

META: Final = "~meta"
"""The subject holding a stream's own bookkeeping (snapshot slot, baseline done)."""
PROGRESS: Final = "~snapshot:"
"""Prefix (+ the first subject of a page) of the subjects recording which subjects an
interrupted listing has already snapshotted in the current slot (``streams.reconcile``)."""


def is_bookkeeping(subject: str) -> bool:
    """``META`` and ``PROGRESS`` subjects: never a team member."""
    return subject.startswith("~")


def stream_key(team: str, stream: str) -> str:
    """The key of one stream's store among the process's states: ``acme/members``.

    ``stream`` is a stream's name or a namespace of its own (``backfill``)."""
    return f"{team}/{stream}"


def record_key(team: str, stream: str, subject: str) -> bytes:
    """The state topic's record key of one subject: ``acme/members/dbmid:…``."""
    return f"{team}/{stream}/{subject}".encode()


def split_record_key(key: bytes) -> tuple[str, str]:
    """A state-topic key → (stream key, subject); the subject may hold ``/``."""
    team, stream, subject = key.decode().split("/", 2)
    return stream_key(team, stream), subject
