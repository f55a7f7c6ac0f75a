"""Cancel scopes: regions of a coroutine that any thread, or a signal handler, can cancel.

A :class:`CancelScope` is entered by one task (``with scope:`` or ``async with scope:``).
Anybody may call :meth:`CancelScope.cancel` at any time, from any thread: it only sets a
flag and, when the scope is active, schedules the delivery on the task's loop with
``call_soon_threadsafe`` (no lock is taken, so it is safe in a signal handler).

Delivery is ``task.cancel()`` run from a loop callback, never while the task's coroutine is
executing, so the resulting :class:`asyncio.CancelledError` is always thrown at an ``await``
*inside* the scope. The scope's exit catches it and takes its request back with
``Task.uncancel()`` (the protocol ``asyncio.timeout`` and ``asyncio.TaskGroup`` follow), so
the task goes on after the block and nothing leaks into unrelated code. A delivery that was
scheduled but had not happened when the block ended is dropped.

asyncio cancellation is edge-triggered: code that swallows the ``CancelledError`` keeps
running. :func:`checkpoint` is the level-triggered complement: it raises whenever the
calling task is inside a cancelled scope.
"""

from __future__ import annotations

import asyncio
import math
import threading
from types import TracebackType
from typing import Any, Self

from ._core import check_timeout

__all__ = ["CancelScope", "ScopeGroup", "checkpoint", "fail_after", "move_on_after"]

_NEW = 0
_ACTIVE = 1
_EXITED = 2

#: The active scopes of each task, outermost first (each task only touches its own key).
_stacks: dict[asyncio.Task[Any], list[CancelScope]] = {}


class CancelScope:
    """A region of one task's code that can be cancelled from anywhere.

    ``cancel()`` may be called before, during or after the region runs, from any thread
    or a signal handler; it never blocks. While the region runs, the task sees
    ``CancelledError`` at its next ``await``; the scope's exit catches it
    (:attr:`cancelled_caught` becomes True) and the task continues after the block.
    A cancellation requested before entry is delivered at the first ``await`` inside.
    After the region ended, ``cancel()`` does nothing.

    A ``CancelledError`` that does not come from this scope (the task itself was cancelled,
    e.g. by runner shutdown, or an enclosing cancelled scope owns it) goes through
    unchanged. Scopes nest; a cancelled outer scope catches at its own exit.

    Args:
        deadline: Cancel the region when the loop's clock (``loop.time()``, so a
            :class:`VirtualClock` too) reaches this time. Default: never.

    A scope is entered once, by a coroutine running in an asyncio task; it covers that
    task only (tasks it creates are not cancelled by it; use :class:`TaskGroup`).
    """

    __slots__ = (
        "_cancel_called",
        "_cancelled_caught",
        "_cancelling",
        "_deadline",
        "_deadline_hit",
        "_delay",
        "_delivered",
        "_fail",
        "_group",
        "_loop",
        "_reason",
        "_state",
        "_task",
        "_timer",
    )

    def __init__(self, *, deadline: float = math.inf) -> None:
        if isinstance(deadline, bool) or not isinstance(deadline, int | float):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"deadline must be a number, not {type(deadline).__name__}")
        self._deadline = float(deadline)
        self._delay: float | None = None
        self._fail = False
        self._group: ScopeGroup | None = None
        self._task: asyncio.Task[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._state = _NEW
        self._reason: str | None = None
        self._cancel_called = False
        self._cancelled_caught = False
        self._deadline_hit = False
        self._delivered = False
        self._cancelling = 0
        self._timer: asyncio.Handle | None = None

    def __repr__(self) -> str:
        state = ("new", "active", "exited")[self._state]
        extra = " cancelled" if self._cancel_called else ""
        return f"<{type(self).__name__} {state}{extra}>"

    # -- state (any thread, never blocks) ------------------------------------------------
    @property
    def cancel_called(self) -> bool:
        """True once :meth:`cancel` was called or the deadline passed."""
        return self._cancel_called

    @property
    def cancelled_caught(self) -> bool:
        """True if the region ended with this scope's cancellation and the exit caught it."""
        return self._cancelled_caught

    @property
    def cancel_reason(self) -> str | None:
        """The reason given to :meth:`cancel` (``"deadline exceeded"`` for a deadline)."""
        return self._reason

    @property
    def deadline_exceeded(self) -> bool:
        """True if the scope was cancelled by its deadline (not by :meth:`cancel`)."""
        return self._deadline_hit

    @property
    def active(self) -> bool:
        """True while a task is inside the region."""
        return self._state == _ACTIVE

    @property
    def deadline(self) -> float:
        """The loop time at which the region is cancelled (``math.inf``: never).

        For :func:`move_on_after` / :func:`fail_after` scopes not entered yet it is
        ``math.inf``: their deadline is counted from entry.
        """
        return self._deadline

    @deadline.setter
    def deadline(self, value: float) -> None:
        """Move the deadline. Before entry from anywhere; while active only on its loop."""
        if isinstance(value, bool) or not isinstance(value, int | float):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"deadline must be a number, not {type(value).__name__}")
        if self._state == _ACTIVE:
            loop = self._loop
            assert loop is not None
            if asyncio._get_running_loop() is not loop:
                raise RuntimeError(
                    "an active CancelScope's deadline can only be moved from its own event "
                    "loop; from another thread use cancel()"
                )
            self._deadline = float(value)
            self._arm_timer(loop)
        else:
            self._deadline = float(value)
            self._delay = None

    # -- cancelling (any thread) ---------------------------------------------------------
    def cancel(self, reason: str | None = None) -> None:
        """Cancel the region; safe from any thread and from signal handlers.

        Never blocks and takes no lock. Idempotent: the first reason is kept. If the region
        is running, its task sees ``CancelledError`` at its next ``await`` (one loop
        iteration later); before entry, at the first ``await`` inside; after exit, nothing
        happens.
        """
        if self._cancel_called:
            return
        self._reason = reason
        self._cancel_called = True
        # Ordering with __enter__: we set the flag, then read the state; __enter__ sets the
        # state, then reads the flag. One of the two always schedules the delivery.
        if self._state == _ACTIVE:
            loop = self._loop
            if loop is not None:
                try:
                    loop.call_soon_threadsafe(self._deliver)
                except RuntimeError:  # loop closed: the task is gone already
                    pass

    # -- loop side -----------------------------------------------------------------------
    def _deliver(self) -> None:
        """Loop callback: cancel the task (it is suspended inside the region)."""
        if self._state != _ACTIVE or self._delivered:
            return
        task = self._task
        assert task is not None
        self._delivered = True
        task.cancel(self._reason)

    def _on_deadline(self) -> None:
        self._timer = None
        if self._state != _ACTIVE or self._cancel_called:
            return
        self._deadline_hit = True
        self._reason = "deadline exceeded"
        self._cancel_called = True
        self._deliver()

    def _arm_timer(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._cancel_called or self._deadline == math.inf:
            return
        if self._deadline <= loop.time():
            # Deliver from a callback, never inline: the task is running right now.
            self._timer = loop.call_soon(self._on_deadline)
        else:
            self._timer = loop.call_at(self._deadline, self._on_deadline)

    def __enter__(self) -> Self:
        task = asyncio.current_task() if asyncio._get_running_loop() is not None else None
        if task is None:
            raise RuntimeError(
                "a CancelScope must be entered by a coroutine running in an asyncio task"
            )
        if self._state != _NEW:
            raise RuntimeError("a CancelScope can be entered only once; create a new one")
        loop = task.get_loop()
        if self._delay is not None:
            self._deadline = loop.time() + self._delay
        self._task = task
        self._loop = loop
        self._cancelling = task.cancelling()
        _stacks.setdefault(task, []).append(self)
        group = self._group
        if group is not None:
            # ScopeGroup and CancelScope are one mechanism split in two classes.
            group._add(self)  # pyright: ignore[reportPrivateUsage]  # may cancel us (latch) before we are active: delivery below
        self._state = _ACTIVE
        if self._cancel_called:
            loop.call_soon(self._deliver)
        else:
            self._arm_timer(loop)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        task = self._task
        if self._state != _ACTIVE or task is None:
            raise RuntimeError("this CancelScope is not active")
        stack = _stacks.get(task)
        if not stack or stack[-1] is not self:
            raise RuntimeError("cancel scopes must be exited in the reverse order of entry")
        if not isinstance(exc, GeneratorExit) and (  # GeneratorExit: closed by the GC
            asyncio._get_running_loop() is None or asyncio.current_task() is not task
        ):
            raise RuntimeError("a CancelScope must be exited by the task that entered it")
        stack.pop()
        if not stack:
            del _stacks[task]
        self._state = _EXITED
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._group is not None:
            self._group._remove(self)  # pyright: ignore[reportPrivateUsage]  # see __enter__
        if self._delivered:
            task.uncancel()
        if not self._cancel_called or not isinstance(exc, asyncio.CancelledError):
            return False
        # Ours only if no enclosing scope of this task is cancelled (it will catch it) and
        # nobody else has asked for the task to be cancelled meanwhile.
        if any(scope._cancel_called for scope in stack):
            return False
        if task.cancelling() > self._cancelling:
            return False
        self._cancelled_caught = True
        if self._fail and self._deadline_hit:
            raise TimeoutError(f"the deadline of {self!r} was exceeded") from exc
        return True

    async def __aenter__(self) -> Self:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        return self.__exit__(exc_type, exc, tb)


class _RelativeScope(CancelScope):
    """A scope whose deadline is counted from its entry; with ``fail``, a deadline hit
    raises TimeoutError from the exit (:func:`fail_after`)."""

    __slots__ = ()

    def __init__(self, seconds: float, fail: bool) -> None:
        delay = check_timeout(seconds, "seconds")
        assert delay is not None
        super().__init__()
        self._delay = delay
        self._fail = fail

    def __repr__(self) -> str:
        return super().__repr__().replace(type(self).__name__, "CancelScope", 1)


class _GroupScope(CancelScope):
    """A scope that belongs to a :class:`ScopeGroup` while it is active."""

    __slots__ = ()

    def __init__(self, group: ScopeGroup, deadline: float) -> None:
        super().__init__(deadline=deadline)
        self._group = group

    def __repr__(self) -> str:
        return super().__repr__().replace(type(self).__name__, "CancelScope", 1)


def move_on_after(seconds: float) -> CancelScope:
    """A :class:`CancelScope` cancelled ``seconds`` after it is entered (loop time).

    When the time is up, the region is abandoned at its current ``await`` and execution
    moves on after the block; check :attr:`CancelScope.cancelled_caught` to know.
    """
    if seconds is None:  # pyright: ignore[reportUnnecessaryComparison]
        raise TypeError("seconds must be a number; use CancelScope() for no deadline")
    return _RelativeScope(seconds, False)


def fail_after(seconds: float) -> CancelScope:
    """Like :func:`move_on_after`, but raise :class:`TimeoutError` from the block's exit
    when the deadline cancelled it (a manual ``cancel()`` still just moves on)."""
    if seconds is None:  # pyright: ignore[reportUnnecessaryComparison]
        raise TypeError("seconds must be a number; use CancelScope() for no deadline")
    return _RelativeScope(seconds, True)


def _cancelled_scope(task: asyncio.Task[Any]) -> CancelScope | None:
    """The outermost cancelled scope of ``task`` (the one that will catch), if any."""
    for scope in _stacks.get(task, ()):
        if scope.cancel_called:
            return scope
    return None


async def checkpoint() -> None:
    """Yield to the loop once; raise ``CancelledError`` if inside a cancelled scope.

    Level-triggered: unlike a plain ``await``, it raises *every* time it is called inside
    a cancelled scope, even if an earlier ``CancelledError`` was swallowed. Must be awaited
    in an asyncio task.
    """
    task = asyncio.current_task()
    if task is not None:  # first check
        scope = _cancelled_scope(task)
        if scope is not None:
            raise asyncio.CancelledError(scope.cancel_reason)
    await asyncio.sleep(0)
    if task is not None:
        scope = _cancelled_scope(task)
        if scope is not None:
            raise asyncio.CancelledError(scope.cancel_reason)


class ScopeGroup:
    """A live registry of cancellable regions; :meth:`cancel_all` cancels every one.

    Regions enter with ``with group.scope():``. :meth:`cancel_all` is safe from any
    thread and from signal handlers (it reads an immutable snapshot and takes no lock).
    With ``latch=True`` it also cancels every region entered *after* the call, until
    :meth:`reset`: this closes the race where a job is just about to enter its scope when
    the cancel arrives.
    """

    __slots__ = ("_latch_reason", "_latched", "_lock", "_scopes")

    def __init__(self) -> None:
        self._scopes: tuple[CancelScope, ...] = ()
        self._lock = threading.Lock()  # writers only (loop threads); readers take none
        self._latched = False
        self._latch_reason: str | None = None

    def __repr__(self) -> str:
        latched = " latched" if self._latched else ""
        return f"<ScopeGroup live={len(self._scopes)}{latched}>"

    def scope(self, *, deadline: float = math.inf) -> CancelScope:
        """A new :class:`CancelScope` that belongs to this group while it is active."""
        return _GroupScope(self, deadline)

    def cancel_all(self, reason: str | None = None, *, latch: bool = False) -> int:
        """Cancel every active region of the group; return how many there were.

        Any thread or signal handler; never blocks. ``latch=True`` also cancels regions
        entered later, until :meth:`reset`.
        """
        if latch:
            self._latch_reason = reason
            self._latched = True
        scopes = self._scopes
        for scope in scopes:
            scope.cancel(reason)
        return len(scopes)

    def reset(self) -> None:
        """Release the latch: regions entered from now on run normally (any thread)."""
        self._latched = False
        self._latch_reason = None

    @property
    def latched(self) -> bool:
        """True while a latched :meth:`cancel_all` is in force."""
        return self._latched

    @property
    def live(self) -> int:
        """How many regions of the group are active now."""
        return len(self._scopes)

    def _add(self, scope: CancelScope) -> None:
        with self._lock:
            self._scopes = (*self._scopes, scope)
        # Registered first, latch read second (cancel_all does the reverse).
        if self._latched:
            scope.cancel(self._latch_reason)

    def _remove(self, scope: CancelScope) -> None:
        with self._lock:
            self._scopes = tuple(s for s in self._scopes if s is not scope)
