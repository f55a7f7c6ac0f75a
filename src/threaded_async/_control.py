"""Control inversion: coroutines issue requests, the host thread answers them when it chooses.

The client side is a coroutine on the server's loop: ``await env.move(1)`` queues a
:class:`Request` and waits for its answer. The host side is any thread: it answers the
oldest request (``process``), takes requests as handles to answer now or later
(``take``, ``next_request``, ``gather`` for lockstep), and decides when virtual time moves.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import inspect
import itertools
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable, Mapping
from types import TracebackType
from typing import Any, Concatenate, Generic, ParamSpec, Self, TypeVar, cast, overload

from ._codec import snapshot
from ._core import (
    CANCELLED,
    CATCH_UP_ITERATIONS,
    CATCH_UP_SECONDS,
    EXCEPTION,
    PENDING,
    RESULT,
    USE_DEFAULT_TIMEOUT,
    AsyncWaiter,
    Deadline,
    InvalidStateError,
    LoopToken,
    Outcome,
    RequestHolds,
    RunnerClosedError,
    SteppingEventLoop,
    TaskFamily,
    ThreadWaiter,
    VirtualClock,
    WaiterList,
    catch_up,
    check_timeout,
    current_family,
    make_view,
    token_of,
    wait_idle,
)
from ._future import Future
from ._runner import AsyncRunner
from ._task import BackgroundTask
from ._trace import Trace, TraceEntry

R = TypeVar("R")
C = TypeVar("C", bound="Client")
P = ParamSpec("P")
F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "Client",
    "ExecutionRequest",
    "Request",
    "Server",
    "ServerStatistics",
    "TraceEntry",
    "UnknownRequestError",
    "request",
]


_monotonic = time.monotonic
_get_ident = threading.get_ident


@dataclasses.dataclass(frozen=True)
class ExecutionRequest(Generic[R]):
    """A request issued by a client: call ``fun(*args, **kw_args)`` on the host's terms.

    ``client`` is the name of the client that issued it (None for requests built by hand);
    it takes no part in ``==`` and ``repr``, which stay as in 1.4.
    """

    fun: Callable[..., R]
    args: tuple[Any, ...]
    kw_args: dict[str, Any]
    #: Not compared nor shown: 1.4 code compares and prints requests without it.
    client: str | None = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def name(self) -> str:
        """The requested function's qualified name (e.g. ``Stub.increment``)."""
        return _key_name(self.fun)


_new_object: Callable[[type[Any]], Any] = object.__new__


def _new_request(
    fun: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], client: str | None
) -> ExecutionRequest[Any]:
    """``ExecutionRequest(fun, args, kwargs, client)`` without the frozen dataclass's
    ``__init__`` (four ``object.__setattr__`` calls): the same instance, built for the
    per-request path."""
    request: ExecutionRequest[Any] = _new_object(ExecutionRequest)
    fields = request.__dict__
    fields["fun"] = fun
    fields["args"] = args
    fields["kw_args"] = kwargs
    fields["client"] = client
    return request


class UnknownRequestError(LookupError):
    """A request reached a server that has no handler for it."""


class Request(Generic[R]):
    """One queued request, as a handle the host answers now or later, from any thread.

    Made by the server when a client issues a request; the host gets it from
    :meth:`Server.take`, :meth:`Server.next_request`, :meth:`Server.gather` or
    :meth:`Server.requests`. :meth:`answer` / :meth:`fail` deliver the answer (any thread,
    never blocks); :meth:`Server.dispatch` answers it with the registered handler.

    Attributes:
        client: The name of the client that issued it.
        fun: The requested stub method (the handler key).
        args: Positional arguments.
        kwargs: Keyword arguments.
        issued_at: The virtual time it was issued at (None without a virtual clock).
        taken: Whether a host took it from the queue (process, take, gather...).
    """

    __slots__ = (
        "__weakref__",
        "_execution_request",
        "_future",
        "_outcome",
        "_server",
        "_token",
        "args",
        "client",
        "fun",
        "issued_at",
        "kwargs",
        "taken",
    )

    def __init__(
        self,
        fun: Callable[..., R],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        client: Client | None,
        issued_at: float | None,
        outcome: Outcome[R] | None,
        future: Future[R] | None,
        token: LoopToken,
        server: Server,
        eager: bool = False,
    ) -> None:
        self._server = server
        self.fun: Callable[..., R] = fun
        self.args: tuple[Any, ...] = args
        self.kwargs: dict[str, Any] = kwargs
        self.client: str | None = None if client is None else client.name
        self.issued_at: float | None = issued_at
        #: The server's own outcome (then the Future view is made on demand), or None
        #: when a subclass's create_future() made the future.
        self._outcome = outcome
        self._future = future
        self._execution_request: ExecutionRequest[R] | None = None
        self._token = token
        self.taken: bool = False
        if eager and outcome is not None:
            # The host's _handle_request will want both: make them now, on the loop, not
            # on the host thread in the middle of a frame (where a burst of allocations
            # set off a garbage collection every few hundred answers; see NOTES.md).
            self._future = cast("Future[R]", make_view(Future, outcome, token))
            self._execution_request = _new_request(fun, args, kwargs, self.client)

    def __repr__(self) -> str:
        state = "cancelled" if self.cancelled() else "answered" if self.done() else "pending"
        return f"<Request {self.client!r} {self.name}{self.args!r} {state}>"

    @property
    def name(self) -> str:
        """The request's qualified name, e.g. ``Env.move``."""
        return _key_name(self.fun)

    @property
    def server(self) -> Server:
        """The server the request was issued to."""
        return self._server

    @property
    def execution_request(self) -> ExecutionRequest[R]:
        """The same request as 1.4's :class:`ExecutionRequest` (what ``_handle_request``
        gets)."""
        request = self._execution_request
        if request is None:
            request = _new_request(self.fun, self.args, self.kwargs, self.client)
            self._execution_request = request
        return request

    @property
    def future(self) -> Future[R]:
        """The :class:`Future` the answer goes to (what ``_handle_request`` gets)."""
        future = self._future
        if future is None:
            assert self._outcome is not None
            future = cast("Future[R]", make_view(Future, self._outcome, self._token))
            self._future = future
        return future

    def done(self) -> bool:
        """Whether it was answered, failed, or its client gave up (any thread)."""
        outcome = self._outcome
        return outcome.state != PENDING if outcome is not None else self.future.done()

    def cancelled(self) -> bool:
        """Whether its client gave up on it (was cancelled) or the server cancelled it."""
        outcome = self._outcome
        return outcome.state == CANCELLED if outcome is not None else self.future.cancelled()

    def answer(self, value: R) -> bool:
        """Answer the request: the client's ``await`` returns ``value``.

        Any thread; never blocks. Returns False (and does nothing) if the client gave up
        meanwhile; raises InvalidStateError if it was already answered.
        """
        return self._settle(RESULT, value)

    def fail(self, exception: BaseException) -> bool:
        """Fail the request: the client's ``await`` raises ``exception``.

        Any thread; never blocks. Returns False if the client gave up meanwhile; raises
        InvalidStateError if it was already answered.
        """
        if isinstance(exception, type):
            exception = exception()
        if not isinstance(exception, BaseException):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"fail() needs an exception, not {type(exception).__name__}")
        return self._settle(EXCEPTION, exception)

    def _settle(self, state: int, value: Any) -> bool:
        outcome = self._outcome
        if outcome is None:  # a subclass's future: its own rules
            future = self.future
            if future.cancelled():
                return False
            try:
                if state == RESULT:
                    future.set_result(value)
                else:
                    future.set_exception(value)
            except (InvalidStateError, RunnerClosedError):
                if future.cancelled():
                    return False
                raise
            return True
        if outcome.settle(state, value):
            return True
        if outcome.state == CANCELLED:
            return False
        raise InvalidStateError(f"the request was answered already ({outcome.describe_state()})")

    def answer_after(
        self, seconds: float, value: Any = None, *, exception: BaseException | None = None
    ) -> None:
        """Answer the request (or fail it with ``exception``) once ``seconds`` of the loop's
        time have passed: virtual seconds with a :class:`VirtualClock`, during which
        autojumps and ``advance()`` may move time (this request no longer holds them),
        real seconds otherwise.

        Any thread; never blocks. An answer that finds the client gone is dropped, as
        :meth:`answer` does. Raises ValueError for a negative delay, RunnerClosedError if
        the server is not running.
        """
        delay = check_timeout(seconds, "seconds")
        if delay is None:
            raise ValueError("answer_after needs a finite number of seconds")
        server = self._server
        hold: object = self._outcome if self._outcome is not None else self.future

        def deliver() -> None:
            try:
                if exception is not None:
                    self.fail(exception)
                else:
                    self.answer(value)
            except InvalidStateError:  # answered meanwhile by someone else
                pass

        def schedule() -> None:
            server.release_request_hold(hold)
            asyncio.get_running_loop().call_later(delay, deliver)

        server.runner.call_soon(schedule)


class Client:
    """Base class for the coroutine side of control inversion.

    Subclass it with async stub methods, either written by hand::

        class Env(Client):
            async def move(self, dx: int) -> int:
                return await self.execute(Env.move, dx)

    or with :func:`request`, which writes that body for you::

        class Env(Client):
            @request
            async def move(self, dx: int) -> int: ...

    Every client of a server has a unique :attr:`name` (default: the class name and a
    counter, e.g. ``"Env-1"``), recorded in each request it issues. A client belongs to
    the *agent* that uses it: the task a host started for the agent (a task started with
    ``runner.create_task``, ``server.create_background_task``, or by an env host) and the
    tasks that one spawns (``asyncio.gather``, ``create_task``, a ``TaskGroup``,
    ``wait_for``), found at the client's first request (or given by :meth:`bind_task`).
    It is *live* while any of them runs or while it has a request queued
    (:meth:`Server.gather` waits for live clients only). A client may be created from
    any thread.

    Raises:
        ValueError: the name is already used by another client of the server.
    """

    def __init__(self, server: Server, name: str | None = None) -> None:
        self._server = server
        #: The agent's tasks (see bind_task); None until the client is tied to them.
        self._family: TaskFamily | None = None
        self._name = server.register_client(self, name)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._name!r}>"

    @property
    def server(self) -> Server:
        """The server this client talks to."""
        return self._server

    @property
    def name(self) -> str:
        """The client's unique name on its server. Assigning renames it (ValueError if
        another client of the server has that name), so 1.4 subclasses that set a ``name``
        attribute keep working."""
        return self._name

    @name.setter
    def name(self, name: str) -> None:
        self._name = self._server.rename_client(self, name)

    @property
    def bound(self) -> bool:
        """Whether the client is tied to its agent's tasks yet (see :meth:`bind_task`)."""
        return self._family is not None

    @property
    def live(self) -> bool:
        """Whether the client may still issue requests: before its first request, while a
        task of its agent runs (the task that started the agent or one it spawned), and
        while it has a request queued. Any thread; never blocks."""
        return self.tasks_running() or self._server.has_queued(self)

    def tasks_running(self) -> bool:
        """Internal: whether the client's agent still has a task running (True before the
        client is tied to its agent). Any thread."""
        family = self._family
        return family is None or family.running()

    @overload
    async def execute(
        self, fun: Callable[..., Coroutine[Any, Any, R]], *args: Any, **kwargs: Any
    ) -> R: ...
    @overload
    async def execute(self, fun: Callable[..., R], *args: Any, **kwargs: Any) -> R: ...
    async def execute(self, fun: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Queue a request for the host and wait (asynchronously) for its answer.

        Must be awaited on the server's loop. Raises what the host's handler raised,
        CancelledError if the server exits before answering, RunnerClosedError if the
        server is not running. A coroutine function, as in 1.4 (mocks and
        ``iscoroutinefunction`` checks rely on that).
        """
        return await self._server.issue(fun, args, kwargs, self)

    def bind_task(self, task: asyncio.Task[Any]) -> None:
        """Tie the client to the agent task ``task``: the client is :attr:`live` while that
        task or a task it spawns from then on runs (and while the client has a request
        queued).

        Without it, the client is tied at its first request to the agent of the task that
        issues it (the task a host or the runner started, with the tasks it spawns). Call
        it yourself, on the loop thread, in two cases: an agent that may end before its
        first request (so that :meth:`Server.gather` does not wait for it), and one task
        that runs several agents (``asyncio.gather(agent(a), agent(b))``: bind each
        client to its own agent's task, or each counts as live until the whole gather
        ends). A client is tied once: later calls do nothing. Raises RuntimeError off the
        loop thread.
        """
        if self._family is not None:
            return
        if (
            self._server.runner.loop is not task.get_loop()
            or not self._server.runner.in_runner_loop
        ):
            raise RuntimeError(
                "Client.bind_task() takes a task of the server's loop, on the loop thread"
            )
        self._join(TaskFamily.around(task))

    def tie_to_current_agent(self) -> None:
        """Internal (the server, at the client's first request, on the loop thread): tie
        the client to the agent of the running task: its family, or the task itself."""
        if self._family is not None:
            return
        family = current_family.get()
        if family is None:
            task = asyncio.current_task()
            if task is None:
                return  # not in a task (a callback): tied at a later request
            family = TaskFamily.around(task)
        self._join(family)

    def _join(self, family: TaskFamily) -> None:
        """Tie the client to ``family`` (loop thread)."""
        self._family = family
        family.add_listener(self._server.client_ended)


def request(
    fn: Callable[Concatenate[C, P], Awaitable[R]],
) -> Callable[Concatenate[C, P], Coroutine[Any, Any, R]]:
    """Make an async stub method of a :class:`Client` forward to :meth:`Client.execute`.

    ``@request async def move(self, dx: int) -> int: ...`` behaves exactly like the
    hand-written ``return await self.execute(Env.move, dx)``; the handler key is the
    decorated method (``Env.move``), and type checkers see the method's own signature. The
    body is never run (write ``...``).
    """
    if not inspect.iscoroutinefunction(fn):
        raise TypeError(f"@request needs an async def stub method, not {fn!r}")

    signature = inspect.signature(fn)
    params = list(signature.parameters.values())[1:]  # (self)
    most = (  # how many positional arguments a call can give
        sum(p.kind in _POSITIONAL for p in params)
        if all(p.kind is not inspect.Parameter.VAR_POSITIONAL for p in params)
        else sys.maxsize
    )

    # A call that names a positional parameter (``move(dx=4)``) is bound to the signature
    # first, so the request carries ``(4,)`` as the hand-written ``self.execute(Env.move,
    # dx)`` would, whatever the handler calls its parameter; keyword-only parameters stay
    # keywords, and parameters left out stay out (the handler's defaults apply). A bad
    # call raises TypeError at once, as calling the method would.
    @functools.wraps(fn)
    async def stub(self: C, /, *args: P.args, **kwargs: P.kwargs) -> R:
        if kwargs or len(args) > most:
            bound = signature.bind(self, *args, **kwargs)
            args = bound.args[1:]  # type: ignore[assignment]
            kwargs = bound.kwargs  # type: ignore[assignment]
        if type(self).execute is _CLIENT_EXECUTE:  # what execute() would do, one frame less
            return await self.server.issue(stub, args, kwargs, self)
        return await self.execute(stub, *args, **kwargs)

    stub.__signature__ = signature  # type: ignore[attr-defined]
    _REQUEST_STUBS.add(stub)
    return stub


_CLIENT_EXECUTE = Client.execute
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)

#: The stubs made by @request: their requests carry exactly the stub's parameters, so a
#: handler can be checked against them (a hand-written stub may pass anything to execute).
_REQUEST_STUBS: weakref.WeakSet[Callable[..., Any]] = weakref.WeakSet()


@dataclasses.dataclass(frozen=True)
class ServerStatistics:
    """A snapshot of a :class:`Server` (``server.statistics()``), for debugging and tests.

    Attributes:
        queued: Requests queued and not yet taken.
        queued_per_client: The same, by client name (requests without a client under None).
        clients: Every client's name, in creation order.
        live_clients: The names of the live clients (see :attr:`Client.live`).
        waiting_hosts: Host threads blocked in next_request() or gather() now.
        virtual_time: The virtual clock's time, or None without one.
        jump_holds: Holds on virtual-time autojumps (requests in flight, clock.hold()).
        runner: The runner's own statistics.
    """

    queued: int
    queued_per_client: dict[str | None, int]
    clients: tuple[str, ...]
    live_clients: tuple[str, ...]
    waiting_hosts: int
    virtual_time: float | None
    jump_holds: int
    runner: Any


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
    completion on a private event loop of the calling host thread. A handler whose
    signature cannot take the arguments of its :func:`request` stub is refused at
    registration (TypeError).

    Beyond ``process()``: :meth:`take`, :meth:`next_request`, :meth:`gather` (lockstep)
    and :meth:`requests` give :class:`Request` handles to answer now or later, from any
    thread, or with :meth:`dispatch`.

    Quiescence: ``process()``, ``process_all()`` and ``create_background_task()`` wait
    until the loop is idle (see :meth:`AsyncRunner.wait_until_idle`), which the default
    :class:`SteppingEventLoop` detects exactly. A loop that never idles (an agent that
    computes between ``sleep(0)``s) is not waited for once it has run
    :attr:`catch_up_iterations` iterations and :attr:`catch_up_seconds` of real time
    without idling, and a ``budget=`` bounds the whole wait of one call. With a foreign
    loop (``loop_factory``, e.g. uvloop) idleness cannot be detected: they let the loop
    run a fixed number of scheduling rounds instead.

    Args:
        queue_size: Accepted for 1.4 compatibility. Requests are not bounded: each client
            coroutine has at most one request in flight per ``execute``.
        handlers: Handlers keyed by the requested function (or its ``__name__``).
        clock: A :class:`VirtualClock` for the server's loop.
        runner: Use this (not yet started) runner instead of creating one.
        record_trace: Record every answered request in :attr:`trace`.

    Raises:
        TypeError: an argument of the wrong type (e.g. a runner passed positionally), or a
            handler that cannot take its stub's arguments.
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
        #: The runner's clock (fixed for its life), read on every request.
        self._clock: VirtualClock | None = runner.clock
        token = token_of(runner)
        assert token is not None
        self._token = token
        self._pending: deque[Request[Any]] = deque()
        self._handlers: dict[Callable[..., Any] | str, Callable[..., Any]] = {}
        for key, handler in (handlers or {}).items():
            self._register(key, handler)
        #: Answered requests as raw rows (cheap to append on the answering thread), made
        #: into TraceEntry objects when the trace is read (see trace).
        self._trace: list[tuple[Any, ...]] | None = [] if record_trace else None
        self._trace_entries: list[TraceEntry] = []
        self._trace_lock = threading.Lock()
        self._clients: dict[str, Client] = {}
        self._clients_lock = threading.Lock()
        self._client_counters: dict[str, itertools.count[int]] = {}
        #: Host threads blocked in next_request()/gather(), woken by every new request
        #: and every client that ends.
        self._arrivals = WaiterList()
        #: A loop that never idles is not waited for after this many iterations and
        #: seconds without idling (both must pass; settable).
        self.catch_up_iterations: int = CATCH_UP_ITERATIONS
        self.catch_up_seconds: float = CATCH_UP_SECONDS
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
        #: Neither _handle_request nor create_future overridden: answers are computed
        #: without a Future, and process_all() delivers a frame in one loop callback.
        self._direct_answers = (
            self._default_futures and type(self)._handle_request is Server._handle_request
        )
        self._plain_lookup = type(self)._find_handler is Server._find_handler
        #: This server's requests in flight, as holds on virtual-time autojumps (made at
        #: the first request on a virtual clock).
        self._holds: RequestHolds | None = None

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
        """Decorator registering a handler for requests of ``fun``.

        Raises TypeError (naming both) if the handler cannot take the stub's arguments.
        """

        def register(handler: F) -> F:
            self._register(fun, handler)
            return handler

        return register

    def _register(self, key: Callable[..., Any] | str, handler: Callable[..., Any]) -> None:
        if not callable(handler):
            raise TypeError(f"the handler for {_key_name(key)} must be callable, not {handler!r}")
        if not isinstance(key, str) and key in _REQUEST_STUBS:
            _check_handler_fits(key, handler)
        self._handlers[key] = handler

    @property
    def trace(self) -> Trace:
        """Answered requests in the order they were answered (``record_trace=True``):
        a :class:`Trace` (a list of :class:`TraceEntry` with ``dump``/``digest``/``diff``).
        """
        rows = self._trace
        if rows is None:
            raise RuntimeError("create the server with record_trace=True to record a trace")
        with self._trace_lock:
            entries = self._trace_entries
            for row in rows[len(entries) : len(rows)]:
                entries.append(_trace_entry(*row))
            return Trace(entries)

    @property
    def pending(self) -> list[ExecutionRequest[Any]]:
        """The requests waiting for an answer, oldest first (any thread, never blocks)."""
        return [r.execution_request for r in tuple(self._pending) if not r.done()]

    @property
    def clients(self) -> list[Client]:
        """Every client of this server, in creation order."""
        with self._clients_lock:
            return list(self._clients.values())

    def statistics(self) -> ServerStatistics:
        """A snapshot for debugging and tests (any thread, never blocks)."""
        queued: dict[str | None, int] = {}
        for item in tuple(self._pending):
            if not item.done():
                queued[item.client] = queued.get(item.client, 0) + 1
        clients = self.clients
        runner = self._runner.statistics()
        return ServerStatistics(
            queued=sum(queued.values()),
            queued_per_client=queued,
            clients=tuple(c.name for c in clients),
            live_clients=tuple(c.name for c in clients if c.live),
            waiting_hosts=len(self._arrivals),
            virtual_time=runner.virtual_time,
            jump_holds=runner.jump_holds,
            runner=runner,
        )

    # -- clients -------------------------------------------------------------------------
    def register_client(self, client: Client, name: str | None) -> str:
        """Internal (called by :class:`Client`): give the client its unique name.

        ValueError if ``name`` is taken already by another client of this server.
        """
        with self._clients_lock:
            if name is None:
                base = type(client).__name__
                counter = self._client_counters.setdefault(base, itertools.count(1))
                name = f"{base}-{next(counter)}"
                while name in self._clients:
                    name = f"{base}-{next(counter)}"
            elif not isinstance(name, str):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise TypeError(f"a client's name must be a str, not {type(name).__name__}")
            elif name in self._clients:
                raise ValueError(f"this server already has a client named {name!r}")
            self._clients[name] = client
        return name

    def rename_client(self, client: Client, name: str) -> str:
        """Internal (``client.name = ...``): rename ``client``; ValueError if taken."""
        if not isinstance(name, str):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"a client's name must be a str, not {type(name).__name__}")
        with self._clients_lock:
            current = self._clients.get(name)
            if current is client:
                return name
            if current is not None:
                raise ValueError(f"this server already has a client named {name!r}")
            for old, known in list(self._clients.items()):
                if known is client:
                    del self._clients[old]
            self._clients[name] = client
        return name

    def client_ended(self) -> None:
        """Internal: a client's agent ended; hosts waiting in gather() look again."""
        if self._arrivals:
            self._arrivals.wake_all()

    def release_request_hold(self, key: object) -> None:
        """Internal: the request ``key`` no longer holds autojumps (it is answered later,
        in virtual time: ``Request.answer_after``). Any thread."""
        holds = self._holds
        if holds is not None:
            holds.release(key)

    def has_queued(self, client: Client) -> bool:
        """Internal: whether ``client`` has a request queued, not yet taken (any thread)."""
        name = client.name
        return any(item.client == name and not item.done() for item in tuple(self._pending))

    def _resolve_client(self, client: Client | str | None) -> str | None:
        if client is None:
            return None
        if isinstance(client, Client):
            if client.server is not self:
                raise ValueError(f"{client!r} is a client of another server")
            return client.name
        if isinstance(client, str):  # pyright: ignore[reportUnnecessaryIsInstance]
            return client
        raise TypeError(f"client must be a Client or its name, not {type(client).__name__}")

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

    def create_client(self, name: str | None = None) -> Client:
        """A plain :class:`Client` connected to this server (``name`` as for Client)."""
        return Client(self, name)

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
            catch_up(
                self._token, deadline.remaining(), self.catch_up_iterations, self.catch_up_seconds
            )
        return task

    # -- the client side (loop thread) ---------------------------------------------------
    async def issue(
        self,
        fun: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        client: Client | None = None,
    ) -> Any:
        """Queue a request and wait for its answer: what :meth:`Client.execute` does.

        A coroutine for the server's loop. Raises what the handler raised, CancelledError
        if the server exits before answering, RunnerClosedError if it is not running.
        """
        token = self._token
        if not token.running:
            raise token.not_running_error(f"issue a request for {_key_name(fun)}")
        if token.closing:
            # The server is exiting: nobody will answer. Cancelled, like the requests that
            # were still queued when the exit began (a task's finally may issue one).
            raise asyncio.CancelledError("the server is shutting down")
        if client is not None and not client.bound:
            # Its first request: the agent issuing it decides the client's liveness.
            client.tie_to_current_agent()
        clock = self._clock
        stepping = token.stepping
        issued_at = clock.time() if clock is not None else None
        if self._default_futures:
            # One await on one loop future: no Future.result()/wait_async() frames. The
            # outcome is not published yet, so its waiter is registered without a lock;
            # the Future view and ExecutionRequest are made only if a host asks for them.
            waiter = AsyncWaiter(token)
            outcome: Outcome[Any] = Outcome(waiter)
            item: Request[Any] = Request(
                fun,
                args,
                kwargs,
                client,
                issued_at,
                outcome,
                None,
                token,
                self,
                not self._direct_answers,
            )
            if stepping is not None and clock is not None:
                # A request in flight freezes virtual-time autojumps until it is answered.
                holds = self._holds or self._request_holds(stepping)
                holds.add(outcome)
                outcome.add_done_callback(holds.release)
            if self._trace is not None:
                outcome.add_done_callback(lambda done: self._record(item, done))
            self._pending.append(item)
            if self._arrivals:
                self._arrivals.wake_all()
            try:
                if waiter.thread_id != token.thread_id:  # awaited from another loop
                    await token.park_async(waiter)
                else:
                    await waiter.fut
            except asyncio.CancelledError:
                outcome.cancel()  # drops our waiter; the host sees the request is gone
                raise
            if outcome.state == PENDING:  # woken by the runner's close
                outcome.cancel()
                raise RunnerClosedError("the server closed before answering the request")
            return outcome.unwrap()
        future = self.create_future()  # a subclass's 1.4 hook: it may publish it
        item = Request(fun, args, kwargs, client, issued_at, None, future, token, self)
        if stepping is not None and clock is not None:
            holds = self._holds or self._request_holds(stepping)
            holds.add(future)
            future.add_done_callback(holds.release)
        if self._trace is not None:
            future.add_done_callback(lambda _: self._record(item, None))
        self._pending.append(item)
        if self._arrivals:
            self._arrivals.wake_all()
        try:
            return await future
        except asyncio.CancelledError:
            future.cancel()
            raise

    def _request_holds(self, stepping: SteppingEventLoop) -> RequestHolds:
        """This server's holds on autojumps (made once, for its runner's loop)."""
        holds = self._holds
        if holds is None:
            with self._clients_lock:
                holds = self._holds
                if holds is None:
                    holds = self._holds = stepping.request_holds()
        return holds

    # -- taking requests -----------------------------------------------------------------
    def _cancel_queued(self) -> None:
        pending = self._pending
        while pending:
            try:
                item = pending.popleft()
            except IndexError:
                break
            item.future.cancel()
        if self._arrivals:
            self._arrivals.wake_all()

    def _pop(self) -> Request[Any] | None:
        pending = self._pending
        while pending:
            try:
                item = pending.popleft()
            except IndexError:
                return None
            if not item.done():
                item.taken = True
                return item  # (else its client cancelled it meanwhile)
        return None

    def _take_matching(
        self, client: str | None, fun: Callable[..., Any] | None
    ) -> Request[Any] | None:
        if client is None and fun is None:
            return self._pop()
        pending = self._pending
        for item in tuple(pending):
            if item.done():
                continue
            if client is not None and item.client != client:
                continue
            if fun is not None and item.fun is not fun:
                continue
            try:
                pending.remove(item)
            except ValueError:  # taken by another host thread meanwhile
                continue
            item.taken = True
            return item
        return None

    def take(
        self, *, client: Client | str | None = None, fun: Callable[..., Any] | None = None
    ) -> Request[Any] | None:
        """Remove and return the oldest queued request (of ``client`` and/or for ``fun``,
        if given) without answering it; None if there is none.

        Any thread; never blocks and never waits for the loop. Answer the request with
        :meth:`Request.answer`, :meth:`Request.fail` or :meth:`dispatch`, now or later,
        from any thread. ValueError for a client of another server.
        """
        return self._take_matching(self._resolve_client(client), fun)

    def requests(self, *, client: Client | str | None = None) -> list[Request[Any]]:
        """The queued requests (of ``client``, if given) as handles, oldest first, without
        taking them (any thread, never blocks)."""
        name = self._resolve_client(client)
        return [
            r for r in tuple(self._pending) if not r.done() and (name is None or r.client == name)
        ]

    def next_request(
        self,
        timeout: float | None = USE_DEFAULT_TIMEOUT,
        *,
        client: Client | str | None = None,
        fun: Callable[..., Any] | None = None,
    ) -> Request[Any] | None:
        """Like :meth:`take`, but block the calling thread until a matching request is
        queued (parked on a lock: no polling); None when ``timeout`` passes first.

        While it waits, an autojump clock may jump to the next timer whenever the loop is
        idle, even though other requests are queued, so sleeping agents are reached.
        Raises RunnerClosedError when the server stops while it waits (or is not running),
        RuntimeError on the loop thread.
        """
        token = self._token
        token.check_may_block("Server.next_request()", "`await` in a coroutine, or take()")
        name = self._resolve_client(client)
        deadline = Deadline(token.resolve(timeout))
        while True:
            found = self._take_matching(name, fun)
            if found is not None:
                return found
            if not self._wait_for_arrival(deadline, lambda: self._has_matching(name, fun)):
                return None

    def _has_matching(self, client: str | None, fun: Callable[..., Any] | None) -> bool:
        for item in tuple(self._pending):
            if (
                not item.done()
                and (client is None or item.client == client)
                and (fun is None or item.fun is fun)
            ):
                return True
        return False

    def _wait_for_arrival(self, deadline: Deadline, ready: Callable[[], bool]) -> bool:
        """Park the host thread until something arrives (a request, a client ending, the
        close); False if the deadline passed. Autojumps are allowed meanwhile."""
        token = self._token
        if not token.running:
            raise token.not_running_error("wait for requests")
        waiter = ThreadWaiter()
        arrivals = self._arrivals
        arrivals.add(waiter)
        stepping = token.stepping
        holds = None
        if stepping is not None and self._clock is not None:
            holds = self._request_holds(stepping)
        try:
            if ready():
                return True
            if holds is not None:
                # While it lacks what it waits for, this host overrides its own requests'
                # holds on autojumps (never real work's): sleeping agents are reached.
                holds.add_host_wait(waiter, lambda: not ready())
            woken = token.park(waiter, deadline.remaining())
        finally:
            arrivals.discard(waiter)
            if holds is not None:
                holds.remove_host_wait(waiter)
        if token.closed or not token.running:
            raise RunnerClosedError("the server stopped while the host waited for requests")
        return woken

    def gather(
        self,
        clients: Iterable[Client | str] | None = None,
        timeout: float | None = USE_DEFAULT_TIMEOUT,
    ) -> list[Request[Any]]:
        """Lockstep: wait until every live client among ``clients`` (default: every client
        of the server) has a request queued, take one per client (its oldest) and return
        them ordered by client creation; an empty list when no client is live.

        A client is live until the task that issued its requests ended (one that has not
        issued any yet counts as live). Blocks the calling thread (parked, no polling);
        while it waits an autojump clock may jump to the next timer whenever the loop is
        idle. Raises EventLoopTimeoutError after ``timeout`` (nothing is taken then),
        ValueError for a client of another server, RunnerClosedError if the server stops,
        RuntimeError on the loop thread.
        """
        token = self._token
        token.check_may_block("Server.gather()", "`await` in a coroutine")
        deadline = Deadline(token.resolve(timeout))
        chosen = self._choose_clients(clients)
        while True:
            first = self._first_requests()
            live = [c for c in chosen if c.name in first or c.tasks_running()]
            if not live:
                return []
            missing = [c for c in live if c.name not in first]
            if not missing:
                taken: list[Request[Any]] = []
                pending = self._pending
                for client in live:
                    item = first[client.name]
                    try:
                        pending.remove(item)
                    except ValueError:  # another host thread took it meanwhile
                        break
                    item.taken = True
                    taken.append(item)
                else:
                    return taken
                for item in reversed(taken):  # put back what this round took
                    item.taken = False
                    pending.appendleft(item)
                continue
            if not self._wait_for_arrival(deadline, lambda: self._lockstep_ready(chosen)):
                names = ", ".join(c.name for c in missing)
                raise token.timeout_error(f"requests from {names} (gather)", deadline.timeout)

    def _first_requests(self) -> dict[str | None, Request[Any]]:
        """Each client's oldest queued request (one pass over the queue)."""
        first: dict[str | None, Request[Any]] = {}
        for item in tuple(self._pending):
            if item.client not in first and not item.done():
                first[item.client] = item
        return first

    def _lockstep_ready(self, chosen: list[Client]) -> bool:
        first = self._first_requests()
        return all(c.name in first or not c.tasks_running() for c in chosen)

    def _choose_clients(self, clients: Iterable[Client | str] | None) -> list[Client]:
        with self._clients_lock:
            known = dict(self._clients)
        if clients is None:
            return list(known.values())
        chosen: dict[str, Client] = {}  # a client listed twice is one client
        for client in clients:
            if isinstance(client, Client):
                if client.server is not self:
                    raise ValueError(f"{client!r} is a client of another server")
                chosen[client.name] = client
            elif isinstance(client, str) and client in known:  # pyright: ignore[reportUnnecessaryIsInstance]
                chosen[client] = known[client]
            else:
                raise ValueError(f"{client!r} is not a client of this server")
        order = {name: index for index, name in enumerate(known)}
        return sorted(chosen.values(), key=lambda c: order[c.name])

    # -- answering -----------------------------------------------------------------------
    @contextlib.contextmanager
    def batch(self) -> Generator[None]:
        """Answer a frame of requests as one batch: the answers given inside the block
        (:meth:`Request.answer`, :meth:`Request.fail`, :meth:`dispatch`) wake the loop
        once, when the block ends, instead of once each::

            with server.batch():
                for req in server.gather():
                    req.answer(result_for(req))

        Any thread (usually the host's); never blocks. Only this thread's answers are
        deferred (another thread's wake the loop as usual); work a handler hands to the
        loop (``runner.call_in_loop``...) still wakes it at once; and a wait inside the
        block (``next_request``, ``gather``, ``process``, ``wait_until_idle``, any
        blocking call on the runner) first gives the wake-ups deferred so far, so waiting
        inside the block cannot deadlock. Nests; a no-op on a loop without our hook.
        """
        stepping = self._token.stepping
        if stepping is None:
            yield
            return
        stepping.hold_wakeups()
        try:
            yield
        finally:
            stepping.release_wakeups()

    def dispatch(self, request: Request[Any]) -> None:
        """Answer a taken request with the registered handler (or ``_handle_request``),
        exactly as :meth:`process` would have, on the calling thread.

        A request whose client gave up is not answered (its handler does not run).
        Raises InvalidStateError if the request was already answered (the handler does
        not run again), ValueError for a request of another server (its handler and its
        client are that server's), what an overridden ``_handle_request`` raises (the
        client is answered first), RunnerClosedError if the server is not running.
        """
        if request.server is not self:
            raise ValueError(f"{request!r} is a request of another server: dispatch it there")
        if request.done() and self._runner.is_running:
            if request.cancelled():
                return
            raise InvalidStateError(f"{request!r} was already answered")
        self._answer(request)

    def process(
        self, timeout: float | None = USE_DEFAULT_TIMEOUT, *, budget: float | None = None
    ) -> bool:
        """Answer the oldest queued request; return False if there is none.

        If no request is queued, first lets the loop catch up (waits until it is idle, so
        a client that awaited ``sleep(0)`` or subtasks since its last answer is seen). If
        answering emptied the queue, lets the loop catch up again before returning, so the
        client's reaction to the answer has happened by then. A loop that never idles (an
        agent computing between ``sleep(0)``s) is waited for at most
        :attr:`catch_up_iterations` iterations and :attr:`catch_up_seconds`; a foreign loop
        (uvloop) gets a fixed number of scheduling rounds (see the class docstring).

        ``budget``: wall-clock seconds this call may spend waiting for the loop to catch
        up, before and after answering (a frame budget); when it is spent the call returns
        quietly. Blocks the calling thread (RuntimeError on the loop thread). Raises
        EventLoopTimeoutError if the loop does not respond within ``timeout`` — only if
        nothing was answered: once it answered, it returns True — RunnerClosedError if
        the server is not running, ValueError for a negative budget. Exceptions from an
        overridden ``_handle_request`` (or a handler's KeyboardInterrupt) propagate after
        the client got its answer.
        """
        token = self._token
        if token.thread_id == _get_ident():
            token.check_may_block("Server.process()", "a host thread")
        wait = token.default_timeout if timeout is USE_DEFAULT_TIMEOUT else token.resolve(timeout)
        budget_end = None if budget is None else _budget_end(budget)
        item = self._pop()  # a busy host's hot path: no deadline, no loop round trip
        deadline: Deadline | None = None
        if item is None:
            deadline = Deadline(wait)
            self._catch_up(deadline.remaining(), budget_end)
            item = self._pop()
            if item is None:
                return False
        self._answer(item)
        if not self._pending and self._runner.is_running:
            try:
                if budget_end is None:  # (the common case, one call less)
                    wait_idle(
                        token,
                        wait if deadline is None else deadline.remaining(),
                        self.catch_up_iterations,
                        self.catch_up_seconds,
                        quiet=True,
                    )
                else:
                    self._catch_up(
                        wait if deadline is None else deadline.remaining(), budget_end, quiet=True
                    )
            except RunnerClosedError:
                pass  # it answered: that is what the caller asked for
        return True

    def process_all(
        self, timeout: float | None = USE_DEFAULT_TIMEOUT, *, budget: float | None = None
    ) -> int:
        """Answer every request queued now (after letting the loop catch up); return how
        many. Requests issued in reaction are left for the next call.

        ``timeout`` and ``budget`` as for :meth:`process`: a timeout raises only if
        nothing was answered.
        """
        token = self._token
        token.check_may_block("Server.process_all()", "a host thread")
        deadline = Deadline(token.resolve(timeout))
        budget_end = _budget_end(budget)
        if not self._pending:
            self._catch_up(deadline.remaining(), budget_end)
        if self._direct_answers and self._pending:
            count = self._answer_batch()
        else:
            count = 0
            with self.batch():  # a frame: the answers wake the loop once, when all are given
                for _ in range(len(self._pending)):
                    item = self._pop()
                    if item is None:
                        break
                    self._answer(item)
                    count += 1
        if count and self._runner.is_running:
            try:
                self._catch_up(deadline.remaining(), budget_end, quiet=True)
            except RunnerClosedError:
                pass
        return count

    def _catch_up(
        self, timeout: float | None, budget_end: float | None, quiet: bool = False
    ) -> None:
        """Let the loop catch up (see process); quietly give up when the budget is spent
        (or at the timeout, with ``quiet``)."""
        seconds = self.catch_up_seconds
        if budget_end is not None:
            left = max(0.0, budget_end - _monotonic())
            if timeout is None or left <= timeout:
                timeout = left
                quiet = True
            # Beside a busy loop, let the loop itself release us when the budget is spent
            # (it then hands over the GIL) rather than wake up at the timeout and wait for
            # the GIL behind a computing coroutine (up to the switch interval, 5 ms).
            seconds = min(seconds, left)
        wait_idle(self._token, timeout, self.catch_up_iterations, seconds, quiet)

    def _answer(self, item: Request[Any]) -> None:
        if not self._runner.is_running:
            item.future.cancel()  # taken from the queue: its client must not wait forever
            raise RunnerClosedError("the server is not running")
        if self._direct_answers:
            state, value = self._compute_answer(item)
            _deliver(((item, state, value),))
            if _interrupts_host(state, value):
                raise value  # the client is answered, the host stops
            return
        future = item.future
        try:
            self._handle_request(item.execution_request, future)
        except BaseException as exc:
            # The request is taken: whatever escaped (an overridden _handle_request,
            # Ctrl-C in a slow handler), its client gets an answer, then the host the
            # exception.
            _answer_with(future, exc)
            raise

    def _compute_answer(self, item: Request[Any]) -> tuple[int, Any]:
        """What the default ``_handle_request`` answers ``item`` with, as ``(state, value)``
        (RESULT, EXCEPTION, or CANCELLED for an interrupt of the host), computed on this
        thread without a Future: the path of servers that override neither
        ``_handle_request`` nor ``create_future``."""
        if self._plain_lookup:
            handler = self._handler_for(item.fun)
        else:
            handler = self._find_handler(item.execution_request)
        if handler is None:
            return EXCEPTION, self._unknown_request(item.execution_request)
        try:
            result = handler(*item.args, **item.kwargs)
            if inspect.isawaitable(result):
                result = self._run_on_host_loop(result)
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt | SystemExit | asyncio.CancelledError):
                return CANCELLED, exc
            return EXCEPTION, exc
        return RESULT, result

    def _answer_batch(self) -> int:
        """process_all's answers on the direct path: computed here, delivered by the loop
        in one callback (one hand-off and one wake-up per frame, not one per request)."""
        if not self._runner.is_running:
            raise RunnerClosedError("the server is not running")
        answers: list[tuple[Request[Any], int, Any]] = []
        interrupt: BaseException | None = None
        try:
            for _ in range(len(self._pending)):
                item = self._pop()
                if item is None:
                    break
                state, value = self._compute_answer(item)
                answers.append((item, state, value))
                if _interrupts_host(state, value):
                    interrupt = value  # answer what we have, stop
                    break
        finally:
            if answers:
                try:
                    self._token.run_sync_soon(_deliver, answers, what="answer requests")
                except RunnerClosedError:  # closed meanwhile: its clients were cancelled
                    pass
        if interrupt is not None:
            raise interrupt
        return len(answers)

    def _record(self, item: Request[Any], outcome: Outcome[Any] | None) -> None:
        """Record an answered request (a done callback, in the answering thread), however
        it was answered, as a snapshot taken now: the agent or the env may reuse the
        objects of its arguments and answer afterwards."""
        rows = self._trace
        if rows is None:
            return
        result: Any = None
        error: str | None = None
        if outcome is not None:
            state = outcome.state
            if state == RESULT:
                result = outcome.unwrap()
            elif state == CANCELLED:
                error = "cancelled"
            else:
                exc = outcome.exception()
                error = f"{type(exc).__name__}: {exc}"
        else:  # a subclass's future
            future = item.future
            if future.cancelled():
                error = "cancelled"
            elif (exc := future.exception()) is not None:
                error = f"{type(exc).__name__}: {exc}"
            else:
                result = future.result_nowait()
        if error == "cancelled" and not item.taken:
            return  # its client gave up before the host took it: nothing was answered
        clock = self._clock
        rows.append(
            (
                item.name,
                snapshot(item.args),
                snapshot(item.kwargs),
                snapshot(result),
                error,
                item.issued_at,
                item.client,
                clock.time() if clock is not None else None,
            )
        )

    def _find_handler(self, request: ExecutionRequest[Any]) -> Callable[..., Any] | None:
        """The handler for ``request``: keyed by its function, else by the function's name.
        Subclasses may look further (the test harness: per client)."""
        return self._handler_for(request.fun)

    def _handler_for(self, fun: Callable[..., Any]) -> Callable[..., Any] | None:
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

    def _unknown_request(self, request: ExecutionRequest[Any]) -> UnknownRequestError:
        known = ", ".join(sorted(_key_name(k) for k in self._handlers)) or "none"
        return UnknownRequestError(
            f"no handler for request {request.name}; registered handlers: {known}"
        )

    def _call_handler(self, handler: Callable[..., Any], request: ExecutionRequest[Any]) -> Any:
        """Run ``handler`` on the request's arguments on this thread (an async handler on
        this thread's private loop) and return its answer, or raise what it raised."""
        result = handler(*request.args, **request.kw_args)
        if inspect.isawaitable(result):
            result = self._run_on_host_loop(result)
        return result

    def _handle_request(self, request: ExecutionRequest[Any], future: Future[Any]) -> None:
        """Answer ``request`` by setting ``future``; the default dispatches to handlers.

        Override it as in 1.4, or register handlers. The future may also be set later
        (from any thread) to answer asynchronously.
        """
        handler = self._find_handler(request)
        if handler is None:
            future.set_exception(self._unknown_request(request))
            return
        try:
            try:
                result = self._call_handler(handler, request)
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


def _budget_end(budget: float | None) -> float | None:
    if budget is None:
        return None
    seconds = check_timeout(budget, "budget")
    return None if seconds is None else _monotonic() + seconds


def _trace_entry(
    request: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    result: Any,
    error: str | None,
    issued_at: float | None,
    client: str | None,
    answered_at: float | None,
) -> TraceEntry:
    return TraceEntry(
        request, args, kwargs, result, error, issued_at, client=client, answered_at=answered_at
    )


def _interrupts_host(state: int, value: Any) -> bool:
    """Whether a computed answer is an interrupt the host must see after its client is
    answered (Ctrl-C, SystemExit, GeneratorExit...: a BaseException, not an Exception)."""
    return state != RESULT and not isinstance(value, Exception)


def _deliver(answers: Iterable[tuple[Request[Any], int, Any]]) -> None:
    """Give each request its answer: RESULT, EXCEPTION, or CANCELLED (its client sees
    CancelledError). On the loop thread (a frame's batch) or the host's."""
    for item, state, value in answers:
        try:
            if state == RESULT:
                item.answer(value)
            elif state == EXCEPTION:
                item.fail(value)
            else:
                item.future.cancel()
        except (InvalidStateError, RunnerClosedError):
            pass  # answered or closed meanwhile: nobody is left waiting for this answer


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


def _stub_parameters(fun: Callable[..., Any]) -> inspect.Signature | None:
    """The signature a request for ``fun`` is issued with (a method stub's ``self`` left
    out), or None if it cannot be read."""
    try:
        signature = inspect.signature(fun)
    except (TypeError, ValueError):
        return None
    params = list(signature.parameters.values())
    if (
        params
        and params[0].name == "self"
        and params[0].kind
        in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        )
    ):
        params = params[1:]
    return signature.replace(parameters=params)


def _check_handler_fits(key: Callable[..., Any], handler: Callable[..., Any]) -> None:
    """TypeError, naming both, if ``handler`` cannot take every call the @request stub
    ``key`` can issue (all parameters given, and only the required ones)."""
    stub = _stub_parameters(key)
    if stub is None:
        return
    try:
        target = inspect.signature(handler)
    except (TypeError, ValueError):
        return
    positional: list[object] = []
    required_positional: list[object] = []
    keywords: dict[str, object] = {}
    required_keywords: dict[str, object] = {}
    for param in stub.parameters.values():
        if param.kind in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            positional.append(None)
            if param.default is inspect.Parameter.empty:
                required_positional.append(None)
        elif param.kind is inspect.Parameter.VAR_POSITIONAL:
            positional.append(None)
        elif param.kind is inspect.Parameter.KEYWORD_ONLY:
            keywords[param.name] = None
            if param.default is inspect.Parameter.empty:
                required_keywords[param.name] = None
    for args, kwargs in ((positional, keywords), (required_positional, required_keywords)):
        try:
            target.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(
                f"handler {_key_name(handler)}{target} cannot take the arguments of "
                f"{_key_name(key)}{stub}: {exc}"
            ) from None


def _key_name(key: Callable[..., Any] | str) -> str:
    if isinstance(key, str):
        return key
    name = getattr(key, "__qualname__", None)
    return name if isinstance(name, str) else repr(key)
