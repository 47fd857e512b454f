"""Small asyncio helpers with no I/O of their own."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


@contextlib.asynccontextmanager
async def _pumped(source: AsyncIterator[T], size: int) -> AsyncIterator[asyncio.Queue[Any]]:
    """Run ``source`` in a task that feeds a queue of at most ``size`` items, each tagged
    ``("item", x)``, then ``("done", None)`` or ``("error", exc)``; stop and close it on exit."""
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(size)

    async def pump() -> None:
        try:
            async for item in source:
                await queue.put(("item", item))
            await queue.put(("done", None))
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            await queue.put(("error", exc))

    task = asyncio.create_task(pump())
    try:
        yield queue
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()


async def prefetch(
    source: AsyncIterator[T],
    size: int,
    *,
    after: Callable[[], Awaitable[object]] | None = None,
) -> AsyncIterator[T]:
    """Iterate ``source`` in a task, at most ``size`` items ahead of the consumer.

    Lets the next page be fetched while the current one is committed to Kafka, without
    letting fetching run away when Kafka is slow (the queue is bounded). With ``after``,
    fetching starts at once but the first item is handed out only once ``after()`` is done.
    """
    async with _pumped(source, size) as queue:
        if after is not None:
            await after()
        while True:
            kind, value = await queue.get()
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value


async def prefetch_many(source: AsyncIterator[T], size: int) -> AsyncIterator[list[T]]:
    """Like ``prefetch``, but each step hands out everything queued by then (at least one).

    For group commits: while the consumer waits on a slow sink (Kafka acknowledgements),
    up to ``size`` items pile up, and the next step takes them all at once. An error of the
    source is raised after the items that came before it have been handed out.
    """
    async with _pumped(source, size) as queue:
        while True:
            kind, value = await queue.get()
            items: list[T] = []
            while kind == "item":
                items.append(value)
                if queue.empty():
                    break
                kind, value = queue.get_nowait()
            if items:
                yield items
            if kind == "error":
                raise value
            if kind == "done":
                return
