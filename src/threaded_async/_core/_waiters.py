"""Waiters: the one mechanism every primitive uses to park a thread or a coroutine.

A *thread waiter* is a plain lock created locked: the waiting thread blocks in
``acquire`` and any thread wakes it with ``release`` (no polling, interruptible by
Ctrl-C on POSIX). An *async waiter* is an :class:`asyncio.Future` on the waiting
coroutine's loop: from that loop's thread it is resolved directly, from any other thread
through ``call_soon_threadsafe`` (which, on our own loop, writes to the self-pipe only
when the loop is actually asleep).

Primitives keep waiters in a :class:`WaiterList` and follow one protocol: register the
waiter, re-check the condition, then park. Producers change the state first and look for
waiters second. Under the GIL each step is atomic, so one side always sees the other and
no wake-up is lost.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .._runner import AsyncRunner

__all__ = [
    "AsyncWaiter",
    "ThreadWaiter",
    "Waiter",
    "WaiterList",
    "block",
    "check_may_block",
    "resolve_future",
]

_get_ident = threading.get_ident
_allocate_lock = threading.Lock
_get_running_loop = asyncio._get_running_loop  # pyright: ignore[reportPrivateUsage]
_Future = asyncio.Future


class Waiter(Protocol):
    def wake(self) -> None: ...


class ThreadWaiter:
    """A thread parked on a lock; ``wake`` may be called from any thread, any number of times."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = _allocate_lock()
        self._lock.acquire()

    def wake(self) -> None:
        """Release the parked thread (idempotent). Any thread; never blocks."""
        try:
            self._lock.release()
        except RuntimeError:  # already woken
            pass

    def park(self, timeout: float | None) -> bool:
        """Block until woken (True) or the timeout passes (False)."""
        if timeout is None:
            return self._lock.acquire()
        return self._lock.acquire(True, timeout)


def resolve_future(fut: asyncio.Future[None]) -> None:
    """Set ``fut`` to None unless it is done (a callback for the future's own loop)."""
    if not fut.done():
        fut.set_result(None)


class AsyncWaiter:
    """A coroutine parked on a future of its own loop.

    Create it in the coroutine that will await ``fut``. Passing the runner the primitive
    belongs to lets a coroutine on that runner's own loop skip the running-loop lookup
    (a ``getpid`` system call on Python 3.11).
    """

    __slots__ = ("fut", "loop", "thread_id")

    def __init__(self, runner: AsyncRunner | None = None) -> None:
        ident = _get_ident()
        self.thread_id = ident
        stepping = runner._stepping if runner is not None else None  # pyright: ignore[reportPrivateUsage]
        if stepping is not None and ident == runner._thread_id:  # pyright: ignore[reportOptionalMemberAccess, reportPrivateUsage]
            # What BaseEventLoop.create_future does, minus the method call.
            self.loop: asyncio.AbstractEventLoop = stepping
            self.fut: asyncio.Future[None] = _Future(loop=stepping)
            return
        loop = asyncio.get_running_loop()
        self.loop = loop
        self.fut = loop.create_future()

    def wake(self) -> None:
        """Resolve the future so the coroutine resumes (idempotent). Any thread; never
        blocks; a no-op once the waiter's loop is closed."""
        if _get_ident() == self.thread_id:
            if not self.fut.done():
                self.fut.set_result(None)
            return
        loop = self.loop
        # Our own loop can resolve the future from this thread, saving the loop the
        # iteration that would run a resolve_future callback (see resolve_threadsafe).
        resolve = getattr(loop, "resolve_threadsafe", None)
        try:
            if resolve is not None:
                resolve(self.fut)
            else:
                loop.call_soon_threadsafe(resolve_future, self.fut)
        except RuntimeError:  # the waiter's loop is closed: nobody is left to wake
            pass


class WaiterList(deque[Waiter]):
    """FIFO list of parked waiters; removals take a lock (the slow path only).

    A deque subclass so that the hot paths' "is anybody waiting?" test (``if waiters:``)
    is a C-level length check, not a Python ``__bool__`` call.

    Adding takes no lock: ``deque.append`` is atomic under the GIL, and every removal
    below pops or removes exactly the waiters it handles, so a waiter appended meanwhile
    stays in the list. A removal racing with an append therefore either handles the new
    waiter or leaves it registered, and the waiter's re-check (the protocol above) covers
    a change made before the removal.
    """

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        super().__init__()
        self._lock = _allocate_lock()

    if TYPE_CHECKING:

        def add(self, waiter: Waiter) -> None:
            """Register ``waiter`` at the end of the list (any thread; no lock)."""

    else:
        add = deque.append  # a C method: no Python frame on the hot path

    def discard(self, waiter: Waiter) -> bool:
        """Remove ``waiter``; False if it was already taken by a waker."""
        with self._lock:
            try:
                self.remove(waiter)
            except ValueError:
                return False
            return True

    def wake_one(self) -> None:
        """Wake the oldest waiter, if any (any thread; never blocks)."""
        with self._lock:
            if not self:
                return
            waiter = self.popleft()
        waiter.wake()

    def wake_all(self) -> None:
        """Wake every waiter (any thread; never blocks)."""
        waiters: list[Waiter] = []
        try:
            with self._lock:
                # Pop exactly the waiters counted now (not clear()): one appended between
                # the count and the pops must stay registered, not vanish unwoken.
                popleft = self.popleft
                for _ in range(len(self)):
                    waiters.append(popleft())
        finally:  # even if interrupted (Ctrl-C), wake every waiter already popped
            for waiter in waiters:
                waiter.wake()


def check_may_block(runner: AsyncRunner | None, what: str, instead: str) -> None:
    """Refuse a blocking call that would deadlock the event loop it waits for.

    With a runner: refused on the runner's own loop thread. Without one: refused on any
    thread that is running an event loop (we cannot tell which loop would answer).
    """
    if runner is not None:
        if _get_ident() != runner._thread_id:  # pyright: ignore[reportPrivateUsage]
            return
    elif _get_running_loop() is None:
        return
    raise RuntimeError(
        f"{what} blocks the calling thread, but this thread runs the event loop that has to "
        f"answer it, so it would deadlock. Use {instead} instead."
    )


def block(waiter: ThreadWaiter, timeout: float | None, runner: AsyncRunner | None) -> bool:
    """Park ``waiter``; the runner wakes it too if it closes meanwhile."""
    if runner is None:
        return waiter.park(timeout)
    blocked = runner._blocked  # pyright: ignore[reportPrivateUsage]
    blocked.add(waiter)
    try:
        if runner._closed:  # pyright: ignore[reportPrivateUsage]
            return True
        return waiter.park(timeout)
    finally:
        blocked.discard(waiter)
