"""Small asyncio helpers kept from threaded_async 1.4."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["run_or_raise", "wait_for_or_cancel"]


async def wait_for_or_cancel(
    awaitable: Awaitable[T],
    cancel_event: asyncio.Event,
    timeout: float | None = None,
) -> T:
    """Await ``awaitable``, giving up when ``cancel_event`` is set or ``timeout`` passes.

    A coroutine function: call it on the loop that ``cancel_event`` belongs to (from another
    thread, go through ``runner.run``). Suspends only the caller; woken by the awaitable
    finishing, ``cancel_event.set()`` or the timeout. Raises CancelledError if the event was
    set first (the awaitable is cancelled), TimeoutError on timeout, or what the awaitable
    raised.
    """
    work: asyncio.Future[T] = asyncio.ensure_future(awaitable)
    stop = asyncio.ensure_future(cancel_event.wait())
    try:
        done, _ = await asyncio.wait(
            (work, stop), timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if work in done:
            return work.result()
        if stop in done:
            raise asyncio.CancelledError("the cancel event was set")
        raise TimeoutError(f"timed out after {timeout} seconds")
    finally:
        for fut in (work, stop):
            if not fut.done():
                fut.cancel()
        for fut in (work, stop):
            with contextlib.suppress(BaseException):
                await fut


async def run_or_raise(
    coroutine: Coroutine[Any, Any, T],
    raise_coroutine: Coroutine[Any, Any, Any],
) -> T:
    """Run ``coroutine``; if ``raise_coroutine`` raises first, cancel it and re-raise.

    If ``raise_coroutine`` finishes without raising, the result of ``coroutine`` is still
    awaited and returned. A coroutine function: await it on any loop (from another thread,
    go through ``runner.run``); suspends only the caller; raises what ``coroutine`` or
    ``raise_coroutine`` raised.
    """
    task = asyncio.ensure_future(coroutine)
    watcher = asyncio.ensure_future(raise_coroutine)
    try:
        done, _ = await asyncio.wait((task, watcher), return_when=asyncio.FIRST_COMPLETED)
        if task not in done and watcher.exception() is not None:
            raise watcher.exception()  # type: ignore[misc]
        return await task
    finally:
        for fut in (task, watcher):
            if not fut.done():
                fut.cancel()
        for fut in (task, watcher):
            with contextlib.suppress(BaseException):
                await fut
