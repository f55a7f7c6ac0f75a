"""Supervised worker threads (mo-threads' ``Thread``, microio's ``ServiceThread``).

A :class:`SupervisedThread` runs a blocking function in a plain thread and hands it a
``please_stop`` :class:`Signal`. ``join()`` returns the function's value or re-raises its
exception in the parent; a join that times out raises :class:`ThreadJoinTimeoutError`
instead of returning as if all were well. A :class:`ThreadGroup` (also behind
``AsyncRunner.start_thread``) stops and joins its threads in reverse start order.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Generic, Self, TypeVar

from ._core import Outcome, TAExceptionGroup, check_may_block
from ._signal import Signal

__all__ = ["SupervisedThread", "ThreadGroup", "ThreadJoinTimeoutError"]

T = TypeVar("T")

logger = logging.getLogger("threaded_async")
_local = threading.local()


class _Default:
    """Marker type of the "use the group's join_timeout" default."""


_DEFAULT = _Default()


class ThreadJoinTimeoutError(TimeoutError):
    """A supervised thread did not finish within the join timeout (it is still running)."""


class SupervisedThread(Generic[T]):
    """A named worker thread running ``target(*args, please_stop=signal, **kwargs)``.

    The target must return soon after ``please_stop`` is set (``while not please_stop:``).
    Inside the thread, :meth:`current` returns this object; call ``started()`` on it to
    complete a readiness handshake (:meth:`wait_started`). All methods are safe from any
    thread.
    """

    def __init__(self, name: str, target: Callable[..., T], /, *args: Any, **kwargs: Any) -> None:
        if not callable(target):
            raise TypeError(f"target must be callable, not {target!r}")
        self.name = name
        self.please_stop: Signal = Signal(f"{name} please_stop")
        #: Set when the thread has finished (returned or raised).
        self.stopped: Signal = Signal(f"{name} stopped")
        self._target = target
        self._args = args
        self._kwargs = kwargs
        self._outcome: Outcome[T] = Outcome()
        self._ready: Outcome[None] = Outcome()
        self._released = False
        self._release_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def __repr__(self) -> str:
        state = "stopped" if self.stopped else ("running" if self._thread.is_alive() else "new")
        return f"<SupervisedThread {self.name!r} {state}>"

    @classmethod
    def current(cls) -> SupervisedThread[Any]:
        """The supervised thread the caller runs in (RuntimeError in any other thread)."""
        thread: SupervisedThread[Any] | None = getattr(_local, "thread", None)
        if thread is None:
            raise RuntimeError("SupervisedThread.current() called outside a supervised thread")
        return thread

    @classmethod
    def current_or_none(cls) -> SupervisedThread[Any] | None:
        """The supervised thread the caller runs in, or None in any other thread."""
        return getattr(_local, "thread", None)

    def start(self) -> Self:
        """Start the thread (once; RuntimeError the second time). Never blocks."""
        self._thread.start()
        return self

    def _run(self) -> None:
        _local.thread = self
        try:
            value = self._target(*self._args, please_stop=self.please_stop, **self._kwargs)
        except BaseException as exc:
            self._ready.try_set_exception(exc)
            with self._release_lock:
                self._outcome.try_set_exception(exc)
                log = self._released
            if log:
                logger.error("released thread %r failed", self.name, exc_info=exc)
        else:
            self._ready.try_set_result(None)
            self._outcome.try_set_result(value)
        finally:
            self.stopped.go()

    def started(self) -> None:
        """Called by the thread itself: readiness reached; :meth:`wait_started` returns."""
        self._ready.try_set_result(None)

    def wait_started(self, timeout: float | None = None) -> None:
        """Block until the thread called ``started()`` (or returned).

        Re-raises, with its traceback, the exception the thread died of before it was
        ready. Raises ``ThreadJoinTimeoutError`` on timeout.
        """
        try:
            self._ready.wait(timeout, None, f"thread {self.name!r} to start")
        except TimeoutError:
            raise ThreadJoinTimeoutError(
                f"thread {self.name!r} did not report started() within {timeout} s"
            ) from None

    def stop(self) -> None:
        """Set ``please_stop`` (any thread, never blocks)."""
        self.please_stop.go()

    def join(self, timeout: float | None = None) -> T:
        """Wait for the thread to finish; return its value or re-raise its exception.

        Raises :class:`ThreadJoinTimeoutError` if it is still running after ``timeout``
        (never silently returns). Does not stop the thread: call :meth:`stop` first.
        """
        if threading.current_thread() is self._thread:
            raise RuntimeError(f"thread {self.name!r} cannot join itself")
        check_may_block("SupervisedThread.join()", "`await thread.stopped`")
        return self._join(timeout)

    def _join(self, timeout: float | None) -> T:
        if not self.stopped.is_set() and not self._stopped_wait(timeout):
            raise ThreadJoinTimeoutError(
                f"thread {self.name!r} is still running after {timeout} s "
                "(it does not check please_stop?)"
            )
        self._thread.join()
        return self._outcome.unwrap()

    def _stopped_wait(self, timeout: float | None) -> bool:
        # Signal.wait refuses loop threads; a group join at runner exit may legitimately
        # run on one (a blocking stop() called from a coroutine), so park directly.
        waiter = threading.Event()
        self.stopped.then(waiter.set)
        return waiter.wait(timeout)

    def _failure_delivered(self) -> bool:
        """Whether join() or wait_started() already raised the thread's exception to a
        caller (then the group does not raise it again at exit)."""
        return self._outcome.retrieved or self._ready.retrieved

    def release(self) -> None:
        """Stop caring about the result: a later failure is logged instead of raised."""
        with self._release_lock:
            if self._released:
                return
            self._released = True
            exc = self._outcome.exception()
        if exc is not None:
            logger.error("released thread %r failed", self.name, exc_info=exc)


class ThreadGroup:
    """Starts supervised threads and, at exit, stops and joins them in reverse order.

    ``with ThreadGroup() as group: group.start("reader", read_loop)``. Leaving the block
    (or :meth:`stop_and_join`) sets every ``please_stop`` of a thread not yet joined, joins
    the newest first and raises a :class:`TAExceptionGroup` of what failed, including a
    :class:`ThreadJoinTimeoutError` for each thread still running after ``timeout``.
    """

    def __init__(self, *, join_timeout: float | None = 10.0) -> None:
        self.join_timeout = join_timeout
        self._threads: list[SupervisedThread[Any]] = []
        self._lock = threading.Lock()
        self._closed = False

    def start(
        self,
        fn: Callable[..., T],
        /,
        *args: Any,
        name: str | None = None,
        wait_started: bool = False,
        **kwargs: Any,
    ) -> SupervisedThread[T]:
        """Start ``fn(*args, please_stop=..., **kwargs)`` in a new supervised thread.

        With ``wait_started=True``, blocks until the thread calls
        ``SupervisedThread.current().started()`` and re-raises its startup failure.
        Raises RuntimeError once the group is stopping.
        """
        thread = SupervisedThread(name or getattr(fn, "__name__", "worker"), fn, *args, **kwargs)
        with self._lock:
            if self._closed:
                raise RuntimeError("this thread group is stopped; it starts no more threads")
            self._threads.append(thread)
        thread.start()
        if wait_started:
            thread.wait_started(self.join_timeout)
        return thread

    @property
    def threads(self) -> list[SupervisedThread[Any]]:
        """The threads started so far, oldest first."""
        return list(self._threads)

    def stop_and_join(self, timeout: float | _Default | None = _DEFAULT) -> None:
        """Stop and join every thread, newest first; raise a group of their failures.

        Each join waits up to ``timeout`` (default: ``join_timeout``). A thread still
        running is reported (logged and raised as ThreadJoinTimeoutError), never ignored.
        Called from one of the group's own threads, that thread is asked to stop but not
        joined (it cannot wait for itself); its result is then nobody's to collect.
        """
        wait = self.join_timeout if isinstance(timeout, _Default) else timeout
        with self._lock:
            self._closed = True
            threads, self._threads = self._threads, []
        errors: list[Exception] = []
        # ThreadGroup and SupervisedThread are one mechanism in two classes: the group
        # reads its threads' join and failure bookkeeping (the three ignores below).
        me = SupervisedThread.current_or_none()
        for thread in reversed(threads):
            thread.stop()
            if thread is me:
                continue
            delivered = thread._failure_delivered()  # pyright: ignore[reportPrivateUsage]
            try:
                thread._join(wait)  # pyright: ignore[reportPrivateUsage]
            except ThreadJoinTimeoutError as exc:
                logger.error("%s", exc)
                errors.append(exc)
            except Exception as exc:
                if not thread._released and not delivered:  # pyright: ignore[reportPrivateUsage]
                    errors.append(exc)
        if errors:
            raise TAExceptionGroup("supervised threads failed", errors)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_and_join()
