"""Actors: objects whose methods run one message at a time on a runner's loop thread.

An :class:`Actor` owns a mailbox. Any thread (or coroutine on any loop) sends it messages
with :meth:`Actor.call` (which returns a :class:`Reply`) or :meth:`Actor.tell`
(fire-and-forget); the actor's task on the loop runs them in arrival order. A handler that
raises fails only its own reply; the actor keeps running. Sends after the actor stopped
raise :class:`ActorStoppedError` at once, and messages still queued when it stops fail
with it, so no caller is ever left waiting.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Final, Generic, ParamSpec, Self, TypeVar, overload

from ._core import (
    CANCELLED,
    USE_DEFAULT_TIMEOUT,
    AsyncWaiter,
    LoopToken,
    Outcome,
    ResultView,
    RunnerClosedError,
    failure_answer,
    resolve_future,
    token_of,
)
from ._runner import AsyncRunner
from ._signal import Signal

__all__ = ["Actor", "ActorProxy", "ActorStoppedError", "Cadence", "Reply"]

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")
A = TypeVar("A", bound="Actor")

logger = logging.getLogger("threaded_async")

_release_var: contextvars.ContextVar[Callable[[], None] | None] = contextvars.ContextVar(
    "threaded_async_actor_release", default=None
)


class ActorStoppedError(RunnerClosedError):
    """The actor is stopped (or stopping): the message was refused or never handled.

    A :class:`RunnerClosedError` (so a ``RuntimeError``). Raised at once by ``call`` and
    ``tell`` on a stopped actor, and delivered to the reply of every message that was
    still queued when the actor stopped.
    """


class Cadence:
    """Values :meth:`Actor.on_tick` returns to say when it wants to run again.

    Mirrors threadmsg's thread-function return values: ``WAIT`` (``None``) runs it again
    after the next message; ``NOW`` (``0``) runs it again at once (queued messages are
    handled in between); a positive number runs it again that many seconds later;
    ``STOP`` (any negative number) stops the actor.
    """

    WAIT: Final = None
    NOW: Final = 0.0
    STOP: Final = -1.0

    @staticmethod
    def after(seconds: float) -> float:
        """Run again ``seconds`` from now (must be positive)."""
        if not seconds > 0:
            raise ValueError("Cadence.after() needs a positive number of seconds")
        return float(seconds)


class Reply(ResultView[T]):
    """The answer to one :meth:`Actor.call`: wait on it from a thread, await it, or add a
    callback. ``None`` is a reply like any other value.
    """

    __slots__ = ("_what",)

    def __init__(self, outcome: Outcome[T], token: LoopToken | None, what: str) -> None:
        super().__init__(outcome, token)
        self._what = what

    def __repr__(self) -> str:
        return f"<Reply to {self._what} {'done' if self.done() else 'pending'}>"

    def wait(self, timeout: float | None = USE_DEFAULT_TIMEOUT) -> T:
        """Block the calling thread until the handler finished; return what it returned.

        Re-raises the handler's exception, or :class:`ActorStoppedError` if the actor
        stopped before handling the message. Raises ``EventLoopTimeoutError`` when
        ``timeout`` passes (the message is still handled later; wait again if you like);
        ``USE_DEFAULT_TIMEOUT`` uses the runner's ``call_in_loop_timeout``. Raises
        ``RuntimeError`` on the actor's own loop thread: ``await`` the reply there.
        """
        return self._blocking_wait(timeout, "Reply.wait()", "`await reply`")

    async def wait_async(self) -> T:
        """Await the result in a coroutine on any loop (same outcomes as :meth:`wait`)."""
        return await self._wait_async()

    def result(self) -> T:
        """The result now: returns it, re-raises the failure, or InvalidStateError if pending."""
        return self._outcome.unwrap()

    def then(self, callback: Callable[[Reply[T]], object]) -> Reply[T]:
        """Call ``callback(reply)`` once the reply is ready (now, if it is).

        Runs in the actor's loop thread (or in this thread if already done); it must be
        quick. Inside it, :meth:`result` does not block. Returns ``self``.
        """
        self._outcome.add_done_callback(lambda _: callback(self))
        return self


class _Message:
    """One queued call: what to run, and the outcome its Reply views (None for tell)."""

    __slots__ = ("args", "fn", "kwargs", "outcome")

    def __init__(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        outcome: Outcome[Any] | None,
    ) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.outcome = outcome


class ActorProxy(Generic[A]):
    """``actor.proxy.method(*args)`` is ``actor.call("method", *args)`` (returns a Reply)."""

    __slots__ = ("_actor",)

    def __init__(self, actor: A) -> None:
        self._actor = actor

    def __getattr__(self, name: str) -> Callable[..., Reply[Any]]:
        actor = self._actor
        _lookup(actor, name)  # fail fast on typos

        def send(*args: Any, **kwargs: Any) -> Reply[Any]:
            return actor.call(name, *args, **kwargs)

        return send


class Actor:
    """Base class: subclass it, write methods, send them messages from anywhere.

    Each message runs on the runner's loop thread, one at a time, in arrival order (per
    sender). Methods may be plain or ``async``. Hooks, all optional and run on the loop:
    ``async on_start()`` (its failure is re-raised by :meth:`start`), ``async on_tick()``
    returning a :class:`Cadence` value (threadmsg's thread function), and
    ``async on_stop()`` (called exactly once when the actor stops, for clean-up).

    A handler may call :meth:`release` to let the next message start while it still runs
    (opt-in concurrency, microio's ``release`` baton).

    Start it with :meth:`start` (its own runner) or ``start(runner)`` (a shared one), or
    use ``with MyActor() as actor:``.
    """

    def __init__(self) -> None:
        self._mailbox: deque[_Message] = deque()
        self._lock = threading.Lock()
        self._accepting = False
        #: The actor's task parks here while its mailbox is empty (woken by a send).
        self._waiter: AsyncWaiter | None = None
        self._runner: AsyncRunner | None = None
        self._token: LoopToken | None = None
        self._owns_runner = False
        self._started: Outcome[None] = Outcome()
        self._stop_requested = False
        self._inflight: set[asyncio.Task[None]] = set()
        #: Set once the actor has stopped and ``on_stop`` has run.
        self.stopped: Signal = Signal(f"{type(self).__name__} stopped")

    def __repr__(self) -> str:
        state = "stopped" if self.stopped else ("running" if self._accepting else "new")
        return f"<{type(self).__name__} actor {state}>"

    # -- hooks ---------------------------------------------------------------------------
    async def on_start(self) -> None:
        """Runs on the loop before the first message; an exception aborts :meth:`start`."""

    async def on_tick(self) -> float | None:
        """Override to run periodically; return a :class:`Cadence` value.

        Not called unless overridden. First called right after ``on_start``. If it
        raises, the error is logged and the actor carries on as if it returned ``WAIT``.
        """
        return Cadence.WAIT

    async def on_stop(self) -> None:
        """Runs on the loop exactly once when the actor stops (clean-up)."""

    # -- lifecycle -----------------------------------------------------------------------
    def start(self, runner: AsyncRunner | None = None, *, timeout: float | None = 10.0) -> Self:
        """Start the actor on ``runner`` (or on a runner of its own) and run ``on_start``.

        Blocks the calling thread until ``on_start`` finished; re-raises its exception
        (with its traceback), after which the actor is stopped. Raises RuntimeError if it
        was started before, and RuntimeError on the runner's loop thread.
        """
        with self._lock:
            if self._runner is not None or self.stopped:
                raise RuntimeError(f"{self!r} was already started; an actor starts once")
            if runner is None:
                runner = AsyncRunner(name=f"threaded_async-actor-{type(self).__name__}")
                self._owns_runner = True
            self._runner = runner
            self._token = token = token_of(runner)
        assert token is not None
        token.check_may_block("Actor.start()", "a start from another thread")
        if self._owns_runner:
            runner.start()
        runner.add_stop_callback(self._runner_closed)
        runner.create_task(self._main(), task_creation_timeout=None)
        try:
            self._started.wait(timeout, token, f"{type(self).__name__}.on_start()")
        except BaseException:
            if self._owns_runner:
                runner.stop()
            raise
        return self

    def request_stop(self) -> None:
        """Ask the actor to stop (any thread, never blocks).

        New messages are refused from now on; queued ones fail with ActorStoppedError;
        the handler running now finishes, then ``on_stop`` runs and :attr:`stopped` is set.
        """
        with self._lock:
            self._stop_requested = True
            self._accepting = False
            pending = list(self._mailbox)
            self._mailbox.clear()
        _fail(pending)
        self._wake()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop the actor and wait until it has stopped (and its own runner, if any).

        Blocks the calling thread (RuntimeError on the loop thread: use
        :meth:`request_stop` there). Raises ``TimeoutError`` if it has not stopped within
        ``timeout``. Calling it again, or on an actor never started, is harmless.
        """
        runner = self._runner
        if runner is None:  # never started: nothing to clean up, but refuse a later start
            self.stopped.go()
            return
        if self._token is not None:
            self._token.check_may_block("Actor.stop()", "request_stop() and `await actor.stopped`")
        self.request_stop()
        if runner.is_running and not self.stopped.wait(timeout):
            raise TimeoutError(f"{self!r} did not stop within {timeout} s")
        if self._owns_runner:
            runner.stop(timeout)

    def __enter__(self) -> Self:
        if self._runner is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- sending -------------------------------------------------------------------------
    def _resolve(self, method: Callable[..., Any] | str) -> Callable[..., Any]:
        if isinstance(method, str):
            return _lookup(self, method)
        if getattr(method, "__self__", None) is not self:
            raise TypeError(
                f"call()/tell() take a method of this actor (e.g. actor.add) or its name, "
                f"not {method!r}"
            )
        return method

    def _send(self, msg: _Message) -> None:
        with self._lock:
            if not self._accepting:
                if self._runner is None:
                    raise ActorStoppedError(f"{self!r} has not been started; call start()")
                raise ActorStoppedError(f"{self!r} is stopped; the message was refused")
            self._mailbox.append(msg)
            waiter = self._waiter
            self._waiter = None
        if waiter is not None:
            waiter.wake()

    @overload
    def call(
        self, method: Callable[P, Awaitable[R]], /, *args: P.args, **kwargs: P.kwargs
    ) -> Reply[R]: ...
    @overload
    def call(self, method: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> Reply[R]: ...
    @overload
    def call(self, method: str, /, *args: Any, **kwargs: Any) -> Reply[Any]: ...
    def call(self, method: Callable[..., Any] | str, /, *args: Any, **kwargs: Any) -> Reply[Any]:
        """Queue ``method(*args, **kwargs)`` for the actor; return its :class:`Reply`.

        ``method`` is a bound method of this actor (typed: ``actor.call(actor.add, 1, 2)``
        is a ``Reply[int]``) or its name. Any thread, never blocks. Raises
        ActorStoppedError at once if the actor is not running, AttributeError/TypeError
        for something that is not a method of this actor.
        """
        fn = self._resolve(method)
        outcome: Outcome[Any] = Outcome()
        reply: Reply[Any] = Reply(outcome, self._token, f"{type(self).__name__}.{fn.__name__}()")
        self._send(_Message(fn, args, kwargs, outcome))
        return reply

    def tell(self, method: Callable[..., Any] | str, /, *args: Any, **kwargs: Any) -> None:
        """Queue ``method(*args, **kwargs)`` without a reply (any thread, never blocks).

        A failure of the handler is logged (logger ``threaded_async``), never silent.
        Raises ActorStoppedError at once if the actor is not running.
        """
        self._send(_Message(self._resolve(method), args, kwargs, None))

    @property
    def proxy(self) -> ActorProxy[Self]:
        """``actor.proxy.add(1, 2)`` is ``actor.call("add", 1, 2)``."""
        return ActorProxy(self)

    def release(self) -> None:
        """Inside a handler: let the next message start now, while this one continues.

        Only for ``async`` handlers; the rest of the handler runs concurrently with the
        following messages (whenever it suspends). Calling it twice is harmless. Raises
        RuntimeError outside a handler.
        """
        release = _release_var.get()
        if release is None:
            raise RuntimeError("Actor.release() can only be called inside an async handler")
        release()

    # -- the loop side -------------------------------------------------------------------
    def _wake(self) -> None:
        with self._lock:
            waiter = self._waiter
            self._waiter = None
        if waiter is not None:
            waiter.wake()

    def _runner_closed(self) -> None:
        with self._lock:
            self._accepting = False
            pending = list(self._mailbox)
            self._mailbox.clear()
        _fail(pending)
        self._started.try_set_exception(ActorStoppedError("the runner closed before start"))
        self.stopped.go()

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await self.on_start()
        except BaseException as exc:
            with self._lock:
                self._stop_requested = True
            self._started.try_set_exception(exc)
            try:
                await self.on_stop()
            finally:
                self.stopped.go()
            if isinstance(exc, Exception):
                return
            raise
        with self._lock:
            self._accepting = not self._stop_requested
        self._started.try_set_result(None)
        try:
            await self._serve(loop)
        finally:
            with self._lock:
                self._accepting = False
                self._stop_requested = True
                pending = list(self._mailbox)
                self._mailbox.clear()
            _fail(pending)
            try:
                if self._inflight:
                    await asyncio.gather(*self._inflight, return_exceptions=True)
                await self.on_stop()
            finally:
                self.stopped.go()

    async def _serve(self, loop: asyncio.AbstractEventLoop) -> None:
        ticking = type(self).on_tick is not Actor.on_tick
        next_tick: float | None = loop.time() if ticking else None
        tick_after_message = False
        while True:
            if next_tick is not None and loop.time() >= next_tick:
                next_tick = None
                try:
                    cadence = await self.on_tick()
                except Exception:
                    logger.exception("%r: on_tick() failed; waiting for the next message", self)
                    cadence = Cadence.WAIT
                tick_after_message = False
                if cadence is None:
                    tick_after_message = True
                elif cadence < 0:
                    return
                else:
                    next_tick = loop.time() + cadence
                    if cadence == 0:
                        await asyncio.sleep(0)  # let senders and other tasks in
            waiter: AsyncWaiter | None = None
            with self._lock:
                if self._stop_requested:
                    return
                msg = self._mailbox.popleft() if self._mailbox else None
                if msg is None:
                    waiter = self._waiter = AsyncWaiter(self._token)
            if waiter is None:
                assert msg is not None
                await self._handle(msg)
                if tick_after_message:
                    next_tick = loop.time()
                continue
            if next_tick is not None and next_tick <= loop.time():
                with self._lock:
                    self._waiter = None
                continue
            fut = waiter.fut
            timer = loop.call_at(next_tick, resolve_future, fut) if next_tick is not None else None
            try:
                await fut
            finally:
                if timer is not None:
                    timer.cancel()
                with self._lock:
                    if self._waiter is waiter:
                        self._waiter = None

    async def _handle(self, msg: _Message) -> None:
        fn = msg.fn
        reply = msg.outcome
        try:
            result = fn(*msg.args, **msg.kwargs)
        except BaseException as exc:
            if _deliver_error(reply, exc, fn):
                raise  # it stops the loop; the caller is answered first
            return
        if not inspect.isawaitable(result):
            if reply is not None:
                reply.try_set_result(result)
            return
        released: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def release() -> None:
            if not released.done():
                released.set_result(None)

        async def run(awaitable: Awaitable[Any]) -> None:
            _release_var.set(release)
            try:
                value = await awaitable
            except asyncio.CancelledError:
                if reply is not None:
                    reply.try_set_exception(
                        ActorStoppedError("the actor stopped while handling the message")
                    )
                raise
            except BaseException as exc:
                if _deliver_error(reply, exc, fn):
                    raise
            else:
                if reply is not None:
                    reply.try_set_result(value)
            finally:
                release()

        task = asyncio.get_running_loop().create_task(run(result))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        try:
            await released
        except asyncio.CancelledError:
            task.cancel()
            raise


_RESERVED = frozenset(
    {"start", "stop", "request_stop", "call", "tell", "proxy", "release", "stopped"}
    | {"on_start", "on_stop", "on_tick"}
)


def _lookup(actor: Actor, name: str) -> Callable[..., Any]:
    """The handler for a message sent by name (AttributeError if there is none)."""
    if name.startswith("_") or name in _RESERVED:
        raise AttributeError(f"{name!r} is not a message {type(actor).__name__} accepts")
    fn = getattr(actor, name, None)
    if not callable(fn):
        raise AttributeError(f"{type(actor).__name__} has no method {name!r}")
    return fn


def _fail(messages: list[_Message]) -> None:
    for msg in messages:
        if msg.outcome is not None:
            msg.outcome.try_set_exception(
                ActorStoppedError("the actor stopped before handling this message")
            )


def _deliver_error(reply: Outcome[Any] | None, exc: BaseException, fn: Callable[..., Any]) -> bool:
    """Answer a message whose handler raised ``exc``, by the one policy of answers
    (:func:`failure_answer`): the caller gets the exception, or CancelledError for an
    interrupt. Returns whether it interrupts the loop (must be re-raised)."""
    state, value, interrupts = failure_answer(exc, on_loop=True)
    if reply is not None:
        if state == CANCELLED:
            reply.cancel(f"the actor's handler was interrupted: {exc!r}")
        else:
            reply.try_set_exception(value)
    else:
        logger.error("actor handler %s failed (sent with tell)", fn.__qualname__, exc_info=exc)
    return interrupts
