"""Waiters: the one mechanism every primitive uses to park a thread or a coroutine.

A *thread waiter* is a plain lock created locked: the waiting thread blocks in
``acquire`` and any thread wakes it with ``release`` (no polling, interruptible by
Ctrl-C on POSIX). An *async waiter* is an :class:`asyncio.Future` on the waiting
coroutine's loop: from that loop's thread it is resolved directly, from any other thread
through the loop's ``resolve_threadsafe`` (our loop: the future is set at once and the
loop woken only if it sleeps) or ``call_soon_threadsafe`` (any other loop).

Primitives keep waiters in a :class:`WaiterList` and follow one protocol: register the
waiter, re-check the condition, then park. Producers change the state first and look for
waiters second. Under the GIL each step is atomic, so one side always sees the other and
no wake-up is lost.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

__all__ = [
    "AsyncWaiter",
    "LoopHint",
    "ThreadWaiter",
    "Waiter",
    "WaiterList",
    "check_may_block",
    "resolve_future",
]

_get_ident = threading.get_ident
_allocate_lock = threading.Lock
_TIMEOUT_MAX = threading.TIMEOUT_MAX
# asyncio's C accessor of the running loop (None when there is none); public
# asyncio.get_running_loop() raises instead, which costs more on the paths that ask.
_get_running_loop = asyncio._get_running_loop
_Future = asyncio.Future


class Waiter(Protocol):
    """Anything parked that can be woken: a :class:`ThreadWaiter` or an :class:`AsyncWaiter`."""

    def wake(self) -> None:
        """Wake the parked thread or coroutine (any thread, idempotent, never blocks)."""
        ...


class LoopHint(Protocol):
    """Where a coroutine probably runs: the thread and loop of one runner (a LoopToken).

    It lets a coroutine on that loop create its waiter without asking asyncio for the
    running loop (a ``getpid`` system call on Python 3.11).
    """

    @property
    def thread_id(self) -> int | None: ...

    @property
    def stepping(self) -> asyncio.AbstractEventLoop | None: ...


class ThreadWaiter:
    """A thread parked on a lock; ``wake`` may be called from any thread, any number of times.

    A thread that runs an inline loop while it waits (``SteppingEventLoop.drive``) sets
    :attr:`also_wake`: waking the waiter then wakes that loop too.
    """

    __slots__ = ("_lock", "also_wake")

    def __init__(self) -> None:
        self._lock = _allocate_lock()
        self._lock.acquire()
        #: Called after the release (another thread waking a waiter whose thread drives a
        #: loop must wake that loop's poll); None for a thread parked on the lock.
        self.also_wake: Callable[[], object] | None = None

    def wake(self) -> None:
        """Release the parked thread (idempotent). Any thread; never blocks."""
        try:
            self._lock.release()
        except RuntimeError:  # already woken
            pass
        also = self.also_wake
        if also is not None:
            also()

    def woken(self) -> bool:
        """Whether it was woken (any thread, never blocks)."""
        return not self._lock.locked()

    def park(self, timeout: float | None) -> bool:
        """Block until woken (True) or the timeout passes (False). A timeout too long for
        the platform's lock (infinity included) means no limit."""
        if timeout is None or timeout > _TIMEOUT_MAX:
            return self._lock.acquire()
        return self._lock.acquire(True, timeout)


def resolve_future(fut: asyncio.Future[None]) -> None:
    """Set ``fut`` to None unless it is done (a callback for the future's own loop)."""
    if not fut.done():
        fut.set_result(None)


class AsyncWaiter:
    """A coroutine parked on a future of its own loop.

    Create it in the coroutine that will await ``fut``. ``hint``: the loop the coroutine
    probably runs on (a LoopToken); on that loop the running-loop lookup is skipped.
    """

    __slots__ = ("fut", "loop", "thread_id")

    def __init__(self, hint: LoopHint | None = None) -> None:
        ident = _get_ident()
        self.thread_id: int = ident
        if hint is not None and ident == hint.thread_id:
            stepping = hint.stepping
            if stepping is not None:
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
        if waiter not in self:  # (taken: usually so, after a wake-up; nobody re-adds it)
            return False
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
        if len(self) == 1:  # (one host waiting: the common case)
            try:
                with self._lock:
                    waiter = self.popleft()
            except IndexError:  # taken meanwhile
                return
            waiter.wake()
            return
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


def check_may_block(what: str, instead: str) -> None:
    """Refuse a blocking call on a thread that runs an event loop.

    For waits that belong to no runner: we cannot tell which loop would answer, so any
    running loop is refused (a runner's own waits use ``LoopToken.check_may_block``).
    """
    if _get_running_loop() is not None:
        raise RuntimeError(
            f"{what} blocks the calling thread, but this thread runs the event loop that has to "
            f"answer it, so it would deadlock. Use {instead} instead."
        )
