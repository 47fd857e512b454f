"""When the sessions and apps streams may read a member's directory entry.

Their events carry the member's ``user`` (email, name, status) from the members stream's
committed state. On a first sync that state is being written while they run. Waiting for the
whole members listing (100 pages at 100k members, ~20 s of CPU) left the device and app
listings, the longest cursor chains, idle and the team's rate limit unused. Both listings
come in the team's member order, so waiting per member lets them follow the members listing a
page behind instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Container


class StoppedWaiting(Exception):
    """``stop`` was set while a stream waited for the members stream."""


class MemberLatch:
    """Opens per member once the members stream has committed it, and for every member once
    that stream's first listing is over (a member it never listed stays unknown: ``None``)."""

    def __init__(self, members: Container[str], stop: asyncio.Event) -> None:
        self._members = members  # the members stream's store (committed subjects)
        self._stop = stop
        self._complete = False
        self._advanced = asyncio.Event()

    @property
    def complete(self) -> bool:
        return self._complete

    def is_open(self, member_id: str) -> bool:
        return self._complete or member_id in self._members

    async def wait(self, member_id: str) -> None:
        """Return once ``member_id`` can be looked up; ``StoppedWaiting`` if stopped first."""
        while not self.is_open(member_id):
            await self._next()

    async def wait_complete(self) -> None:
        """Return once the members stream's first listing is over (its state is whole)."""
        while not self._complete:
            await self._next()

    def advanced(self) -> None:
        """The members stream committed a batch: wake the waiters to look again."""
        self._advanced.set()
        self._advanced = asyncio.Event()

    def finish(self) -> None:
        """The members stream's first cycle ended (done, failed or stopped)."""
        self._complete = True
        self.advanced()

    async def _next(self) -> None:
        if self._stop.is_set():
            raise StoppedWaiting
        advanced = asyncio.ensure_future(self._advanced.wait())
        stopped = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait((advanced, stopped), return_when=asyncio.FIRST_COMPLETED)
        finally:
            advanced.cancel()
            stopped.cancel()
        if self._stop.is_set():
            raise StoppedWaiting
