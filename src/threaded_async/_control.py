"""Control inversion: coroutines issue requests, the host thread answers them when it chooses."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from types import TracebackType
from typing import Any, Generic, Self, TypeVar, cast, overload

from ._core import (
    PENDING,
    USE_DEFAULT_TIMEOUT,
    AsyncWaiter,
    Deadline,
    InvalidStateError,
    Outcome,
    RunnerClosedError,
    VirtualClock,
    catch_up,
    make_view,
    token_of,
)
from ._future import Future
from ._runner import AsyncRunner
from ._task import BackgroundTask

R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["Client", "ExecutionRequest", "Server", "TraceEntry", "UnknownRequestError"]


@dataclasses.dataclass(frozen=True)
class ExecutionRequest(Generic[R]):
    """A request issued by a client: call ``fun(*args, **kw_args)`` on the host's terms."""

    fun: Callable[..., R]
    args: tuple[Any, ...]
    kw_args: dict[str, Any]

    @property
    def name(self) -> str:
        """The requested function's qualified name (e.g. ``Stub.increment``)."""
        return getattr(self.fun, "__qualname__", None) or repr(self.fun)


@dataclasses.dataclass(frozen=True)
class TraceEntry:
    """One answered request, as recorded by ``Server(record_trace=True)``.

    Two runs of the same client code with the same answers and clock steps record equal
    traces (exceptions are recorded as ``"TypeName: message"`` so they compare).
    """

    request: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    result: Any = None
    error: str | None = None
    time: float | None = None


_new_object: Callable[[type[Any]], Any] = object.__new__


def _new_request(
    fun: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> ExecutionRequest[Any]:
    """``ExecutionRequest(fun, args, kwargs)`` without the frozen dataclass's ``__init__``
    (three ``object.__setattr__`` calls): the same instance, built for the per-request path."""
    request: ExecutionRequest[Any] = _new_object(ExecutionRequest)
    fields = request.__dict__
    fields["fun"] = fun
    fields["args"] = args
    fields["kw_args"] = kwargs
    return request


class UnknownRequestError(LookupError):
    """A request reached a server that has no handler for it."""


class QueuedRequest:
    """A request waiting in a server's queue: the request, the future its answer goes to
    (the view handed to the handler), the outcome behind it when the server made the future
    itself (else None), and the virtual time it was issued at. Internal."""

    __slots__ = ("future", "outcome", "request", "time")

    def __init__(
        self,
        request: ExecutionRequest[Any],
        future: Future[Any],
        outcome: Outcome[Any] | None,
        time: float | None,
    ) -> None:
        self.request = request
        self.future = future
        self.outcome = outcome
        self.time = time

    def done(self) -> bool:
        """Whether the request was answered or its client gave up."""
        outcome = self.outcome
        return outcome.state != PENDING if outcome is not None else self.future.done()


class Client:
    """Base class for the coroutine side of control inversion.

    Subclass it with async stub methods that forward to :meth:`execute`::

        class Stub(Client):
            async def increment(self, n: int) -> int:
                return await self.execute(Stub.increment, n)
    """

    def __init__(self, server: Server) -> None:
        self._server = server

    @property
    def server(self) -> Server:
        return self._server

    @overload
    async def execute(
        self, fun: Callable[..., Coroutine[Any, Any, R]], *args: Any, **kwargs: Any
    ) -> R: ...
    @overload
    async def execute(self, fun: Callable[..., R], *args: Any, **kwargs: Any) -> R: ...
    async def execute(self, fun: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Queue a request for the host and wait (asynchronously) for its answer.

        Must be awaited on the server's loop. Raises what the host's handler raised,
        CancelledError if the server exits before answering. A coroutine function, as in
        1.4 (mocks and ``iscoroutinefunction`` checks rely on that).
        """
        return await self._server.issue(fun, args, kwargs)


class Server:
    """The host side of control inversion: owns a runner and answers client requests.

    Typical use is a game-style update loop on the host thread::

        with MyServer() as server:
            server.create_background_task(agent(Stub(server)))
            while running:
                server.process()          # answer one request (if any)

    Answers come from :meth:`_handle_request` (override it, as in 1.4) or from handlers
    keyed by the stub method: ``Server(handlers={Stub.increment: fn})`` or the
    :meth:`handler` decorator. Handlers take the request's arguments; a sync handler's
    return value or exception is the client's answer; an async handler is run to
    completion on a private event loop of the host thread, inside ``process()``.

    Quiescence: ``process()``, ``process_all()`` and ``create_background_task()`` wait
    until the loop is idle (see :meth:`AsyncRunner.wait_until_idle`), which the default
    :class:`SteppingEventLoop` detects exactly. If the loop never idles (a task polling
    with ``sleep(0)``), they give up after a bounded number of loop iterations, like
    1.4's one-iteration catch-up. With a foreign loop (``loop_factory``, e.g. uvloop)
    idleness cannot be detected: they let the loop run a fixed number of scheduling
    rounds instead, so a client that hops through more steps than that between requests
    may be seen one ``process()`` later (which then returns ``False`` once too often).

    Args:
        queue_size: Accepted for 1.4 compatibility. Requests are not bounded: each client
            coroutine has at most one request in flight per ``execute``.
        handlers: Handlers keyed by the requested function (or its ``__name__``).
        clock: A :class:`VirtualClock` for the server's loop.
        runner: Use this (not yet started) runner instead of creating one.
        record_trace: Record every answered request in :attr:`trace`.

    Raises:
        TypeError: an argument of the wrong type (e.g. a runner passed positionally).
        ValueError: both a runner and a different clock were given.
    """

    def __init__(
        self,
        queue_size: int = 10,
        *,
        handlers: Mapping[Callable[..., Any] | str, Callable[..., Any]] | None = None,
        clock: VirtualClock | None = None,
        runner: AsyncRunner | None = None,
        record_trace: bool = False,
    ) -> None:
        if isinstance(queue_size, bool) or not isinstance(queue_size, int):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(
                f"queue_size must be an int, not {type(queue_size).__name__}"
                " (pass a runner as Server(runner=...))"
            )
        if runner is not None and not isinstance(runner, AsyncRunner):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"runner must be an AsyncRunner, not {type(runner).__name__}")
        if clock is not None and not isinstance(clock, VirtualClock):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"clock must be a VirtualClock, not {type(clock).__name__}")
        if runner is None:
            runner = AsyncRunner(clock=clock)
        elif clock is not None and runner.clock is not clock:
            raise ValueError("pass the clock to the runner, or let the server create the runner")
        self._runner = runner
        token = token_of(runner)
        assert token is not None
        self._token = token
        self._pending: deque[QueuedRequest] = deque()
        self._handlers: dict[Callable[..., Any] | str, Callable[..., Any]] = dict(handlers or {})
        self._trace: list[TraceEntry] | None = [] if record_trace else None
        #: One asyncio.Runner per host thread for async handlers (a loop runs in one
        #: thread at a time), all closed when the server exits.
        self._host_loops = threading.local()
        self._host_runners: list[asyncio.Runner] = []
        self._host_runners_lock = threading.Lock()
        # Requests still queued when the runner closes are cancelled, so that a client on
        # any loop (not only the runner's, whose tasks are cancelled anyway) is told.
        runner.add_stop_callback(self._cancel_queued)
        #: Requests make their own Future unless a subclass overrides create_future (1.4).
        self._default_futures = type(self).create_future is Server.create_future

    # -- configuration -------------------------------------------------------------------
    @property
    def runner(self) -> AsyncRunner:
        """The runner whose loop the clients run on."""
        return self._runner

    @property
    def clock(self) -> VirtualClock | None:
        """The virtual clock of the server's loop, or ``None`` for real time."""
        return self._runner.clock

    @property
    def event_loop_timeout(self) -> float | None:
        """Default timeout of blocking calls (the runner's ``call_in_loop_timeout``)."""
        return self._runner.call_in_loop_timeout

    @event_loop_timeout.setter
    def event_loop_timeout(self, timeout: float | None) -> None:
        self._runner.call_in_loop_timeout = timeout

    @property
    def event_loop_exit_timeout(self) -> float | None:
        """How long exiting waits for the loop to shut down (the runner's ``exit_timeout``)."""
        return self._runner.exit_timeout

    @event_loop_exit_timeout.setter
    def event_loop_exit_timeout(self, timeout: float | None) -> None:
        self._runner.exit_timeout = timeout

    def handler(self, fun: Callable[..., Any] | str) -> Callable[[F], F]:
        """Decorator registering a handler for requests of ``fun``."""

        def register(handler: F) -> F:
            self._handlers[fun] = handler
            return handler

        return register

    @property
    def trace(self) -> list[TraceEntry]:
        """Answered requests in the order they were answered (``record_trace=True``)."""
        if self._trace is None:
            raise RuntimeError("create the server with record_trace=True to record a trace")
        return list(self._trace)

    @property
    def pending(self) -> list[ExecutionRequest[Any]]:
        """The requests waiting for an answer, oldest first (any thread, never blocks)."""
        return [p.request for p in tuple(self._pending) if not p.done()]

    # -- lifecycle -----------------------------------------------------------------------
    def __enter__(self) -> Self:
        self._runner.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._runner.stop()
        finally:
            with self._host_runners_lock:
                runners, self._host_runners = self._host_runners, []
            for host_runner in runners:
                host_runner.close()

    def create_future(self) -> Future[Any]:
        """A :class:`Future` bound to the server's runner."""
        return Future(self._runner)

    def create_client(self) -> Client:
        """A plain :class:`Client` connected to this server."""
        return Client(self)

    def create_background_task(
        self, awaitable: Awaitable[R], timeout: float | None = USE_DEFAULT_TIMEOUT
    ) -> BackgroundTask[R]:
        """Start ``awaitable`` on the server's loop and let it run until it is idle, so the
        requests it issues first are queued when this returns.

        Any thread but the loop's; blocks until the loop is idle (bounded as described
        for the class: never-idle and foreign loops). Raises EventLoopTimeoutError if the
        loop does not respond within ``timeout``."""
        runner = self._runner
        deadline = Deadline(self._token.resolve(timeout))
        task = runner.create_task(awaitable)
        if not runner.in_runner_loop:
            catch_up(self._token, deadline.remaining())
        return task

    # -- the client side (loop thread) ---------------------------------------------------
    async def issue(
        self, fun: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Queue a request and wait for its answer: what :meth:`Client.execute` does.

        A coroutine for the server's loop. Raises what the handler raised, CancelledError
        if the server exits before answering.
        """
        token = self._token
        if not token.running:
            raise token.not_running_error(f"issue a request for {_key_name(fun)}")
        if token.closing:
            # The server is exiting: nobody will answer. Cancelled, like the requests that
            # were still queued when the exit began (a task's finally may issue one).
            raise asyncio.CancelledError("the server is shutting down")
        request = _new_request(fun, args, kwargs)
        clock = self._runner.clock
        stepping = token.stepping
        if self._default_futures:
            # One await on one loop future: no Future.result()/wait_async() frames. The
            # outcome is not published yet, so its waiter is registered without a lock.
            waiter = AsyncWaiter(token)
            outcome: Outcome[Any] = Outcome(waiter)
            future = cast("Future[Any]", make_view(Future, outcome, token))
            if stepping is not None and clock is not None:
                # A request in flight freezes virtual-time autojumps until it is answered.
                stepping.add_jump_hold(outcome)
                outcome.add_done_callback(stepping.release_jump_hold)
            self._pending.append(
                QueuedRequest(request, future, outcome, clock.time() if clock else None)
            )
            try:
                await waiter.fut
            except asyncio.CancelledError:
                outcome.cancel()  # drops our waiter; the host sees the request is gone
                raise
            return outcome.unwrap()
        future = self.create_future()  # a subclass's 1.4 hook: it may publish it
        if stepping is not None and clock is not None:
            stepping.add_jump_hold(future)
            future.add_done_callback(stepping.release_jump_hold)
        self._pending.append(QueuedRequest(request, future, None, clock.time() if clock else None))
        try:
            return await future
        except asyncio.CancelledError:
            future.cancel()
            raise

    # -- the host side -------------------------------------------------------------------
    def _cancel_queued(self) -> None:
        pending = self._pending
        while pending:
            try:
                item = pending.popleft()
            except IndexError:
                break
            item.future.cancel()

    def _pop(self) -> QueuedRequest | None:
        pending = self._pending
        while pending:
            try:
                item = pending.popleft()
            except IndexError:
                return None
            if not item.done():
                return item  # (else its client cancelled it meanwhile)
        return None

    def process(self, timeout: float | None = USE_DEFAULT_TIMEOUT) -> bool:
        """Answer the oldest queued request; return False if there is none.

        If no request is queued, first lets the loop catch up (waits until it is idle, so
        a client that awaited ``sleep(0)`` or subtasks since its last answer is seen). If
        answering emptied the queue, lets the loop catch up again before returning, so the
        client's reaction to the answer has happened by then. A loop that never idles
        (a client polling with ``sleep(0)``) gets a bounded catch-up instead (at most
        1000 loop iterations); a foreign loop (uvloop) cannot report idleness and gets a
        fixed number of scheduling rounds (see the class docstring).

        Blocks the calling thread (RuntimeError on the loop thread); raises
        EventLoopTimeoutError if the loop does not respond within ``timeout`` and
        RunnerClosedError if the server is not running. Exceptions from an overridden
        ``_handle_request`` propagate to the caller.
        """
        token = self._token
        token.check_may_block("Server.process()", "a host thread")
        wait = token.resolve(timeout)
        item = self._pop()  # a busy host's hot path: no deadline, no loop round trip
        deadline: Deadline | None = None
        if item is None:
            deadline = Deadline(wait)
            catch_up(token, deadline.remaining())
            item = self._pop()
            if item is None:
                return False
        self._answer(item)
        if not self._pending and self._runner.is_running:
            catch_up(token, wait if deadline is None else deadline.remaining())
        return True

    def process_all(self, timeout: float | None = USE_DEFAULT_TIMEOUT) -> int:
        """Answer every request queued now (after letting the loop catch up); return how
        many. Requests issued in reaction are left for the next call."""
        token = self._token
        token.check_may_block("Server.process_all()", "a host thread")
        deadline = Deadline(token.resolve(timeout))
        if not self._pending:
            catch_up(token, deadline.remaining())
        count = 0
        for _ in range(len(self._pending)):
            item = self._pop()
            if item is None:
                break
            self._answer(item)
            count += 1
        if count and self._runner.is_running:
            catch_up(token, deadline.remaining())
        return count

    def _answer(self, item: QueuedRequest) -> None:
        future = item.future
        if not self._runner.is_running:
            future.cancel()  # taken from the queue: its client must not wait forever
            raise RunnerClosedError("the server is not running")
        if self._trace is not None:
            future.add_done_callback(lambda f: self._record(item, f))
        try:
            self._handle_request(item.request, future)
        except BaseException as exc:
            # The request is taken: whatever escaped (an overridden _handle_request,
            # Ctrl-C in a slow handler), its client gets an answer, then the host the
            # exception.
            _answer_with(future, exc)
            raise

    def _record(self, item: QueuedRequest, future: Future[Any]) -> None:
        assert self._trace is not None
        request = item.request
        exc = future.exception()
        if future.cancelled():
            entry = TraceEntry(
                request.name, request.args, request.kw_args, None, "cancelled", item.time
            )
        elif exc is not None:
            error = f"{type(exc).__name__}: {exc}"
            entry = TraceEntry(request.name, request.args, request.kw_args, None, error, item.time)
        else:
            result = future.result_nowait()
            entry = TraceEntry(request.name, request.args, request.kw_args, result, None, item.time)
        self._trace.append(entry)

    def _find_handler(self, fun: Callable[..., Any]) -> Callable[..., Any] | None:
        handlers = self._handlers
        try:
            found = handlers.get(fun)
        except TypeError:  # an unhashable callable: no handler can be keyed by it
            found = None
        if found is None:
            name = getattr(fun, "__name__", None)
            if isinstance(name, str):
                found = handlers.get(name)
        return found

    def _handle_request(self, request: ExecutionRequest[Any], future: Future[Any]) -> None:
        """Answer ``request`` by setting ``future``; the default dispatches to handlers.

        Override it as in 1.4, or register handlers. The future may also be set later
        (from any thread) to answer asynchronously.
        """
        handler = self._find_handler(request.fun)
        if handler is None:
            known = ", ".join(sorted(_key_name(k) for k in self._handlers)) or "none"
            future.set_exception(
                UnknownRequestError(
                    f"no handler for request {request.name}; registered handlers: {known}"
                )
            )
            return
        try:
            try:
                result = handler(*request.args, **request.kw_args)
                if inspect.isawaitable(result):
                    result = self._run_on_host_loop(result)
            except BaseException as exc:
                _answer_with(future, exc)
                if not isinstance(exc, Exception):
                    raise  # Ctrl-C, SystemExit...: the client is answered, the host stops
            else:
                future.set_result(result)
        except InvalidStateError:
            if not future.cancelled():
                raise
            # The client stopped waiting (it was cancelled) while the handler ran: the
            # answer has nobody to go to, which is not the host's error.

    def _run_on_host_loop(self, awaitable: Awaitable[Any]) -> Any:
        host_runner: asyncio.Runner | None = getattr(self._host_loops, "runner", None)
        if host_runner is None:
            host_runner = asyncio.Runner()
            self._host_loops.runner = host_runner
            with self._host_runners_lock:
                self._host_runners.append(host_runner)

        async def run() -> Any:
            return await awaitable

        return host_runner.run(run())


def _answer_with(future: Future[Any], exc: BaseException) -> None:
    """Answer a request whose handling raised ``exc`` (unless it is answered already):
    the client sees ``exc``, or CancelledError for an interrupt of the host itself
    (KeyboardInterrupt, SystemExit) or a cancellation."""
    if future.done():
        return
    if isinstance(exc, KeyboardInterrupt | SystemExit | asyncio.CancelledError):
        future.cancel()
        return
    try:
        future.set_exception(exc)
    except (InvalidStateError, RunnerClosedError):  # answered or closed meanwhile
        future.cancel()


def _key_name(key: Callable[..., Any] | str) -> str:
    return key if isinstance(key, str) else getattr(key, "__qualname__", repr(key))
