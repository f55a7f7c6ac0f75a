"""The host side of control inversion: the server, where every request is issued, taken
and answered.

One path for every request: :meth:`Server.issue` (the client's side, on the loop) queues a
:class:`Request` holding the loop future its client awaits; hosts take it from the
:class:`Inbox`; :meth:`Server.settle` answers it, from any thread, and is the one place
that does (the trace row, the autojump hold, the loop's wake-up). A 1.4 subclass that
overrides ``create_future`` or ``_handle_request`` answers through a :class:`Future`
chained to that path, not through a second one.

The module is over 600 lines (about a fifth of them docstrings of the public API) because
the server is the one class users subclass (1.4's hooks: its methods are the API they
override), and its parts (client registry, lifecycle, issuing, taking, answering, the
lean frame path of ``process_all``) share its state and its per-request fast paths; the
pieces that stand alone live beside it (the request, the handler table, the inbox, the
recorder, 1.4's Futures).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import itertools
import threading
import time
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

from .._core import (
    CANCELLED,
    CATCH_UP_ITERATIONS,
    CATCH_UP_SECONDS,
    EXCEPTION,
    RESULT,
    USE_DEFAULT_TIMEOUT,
    AsyncWaiter,
    Awaiting,
    ClosedWhileWaitingError,
    Deadline,
    InvalidStateError,
    RequestHolds,
    RunnerClosedError,
    SteppingEventLoop,
    VirtualClock,
    check_timeout,
    failure_answer,
    token_of,
    wait_idle,
)
from .._future import Future
from .._runner import AsyncRunner
from .._task import BackgroundTask
from .._trace import Trace
from ._client import Client
from ._futures import AnswerFuture, answer_with, mirror, state_of
from ._handlers import HandlerTable, HostLoops
from ._inbox import Inbox
from ._recorder import Recorder, Row
from ._request import ExecutionRequest, Raise, Request, UnknownRequestError, key_name

R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["Server", "ServerStatistics"]

_monotonic = time.monotonic
_get_ident = threading.get_ident


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
        jump_holds: Holds on virtual time (requests in flight, real work in flight).
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
        inline: Inline stepping (the runner the server creates is
            ``AsyncRunner(inline=True)``): the host thread that starts the server runs
            the agents' loop itself while it waits in :meth:`process`, :meth:`gather` and
            the other blocking calls, instead of handing off to a loop thread; the loop
            does not run between them. For a host that only waits for its agents; see
            docs/inline.md. With ``runner=``, pass ``inline`` to that runner instead.

    Raises:
        TypeError: an argument of the wrong type (e.g. a runner passed positionally), or a
            handler that cannot take its stub's arguments.
        ValueError: both a runner and a different clock were given, or ``inline`` with a
            runner.
    """

    def __init__(
        self,
        queue_size: int = 10,
        *,
        handlers: Mapping[Callable[..., Any] | str, Callable[..., Any]] | None = None,
        clock: VirtualClock | None = None,
        runner: AsyncRunner | None = None,
        record_trace: bool = False,
        inline: bool = False,
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
            runner = AsyncRunner(clock=clock, inline=inline)
        elif clock is not None and runner.clock is not clock:
            raise ValueError("pass the clock to the runner, or let the server create the runner")
        elif inline:
            raise ValueError("pass inline=True to the runner, or let the server create the runner")
        self._runner = runner
        #: The runner's clock (fixed for its life), read on every request.
        self._clock: VirtualClock | None = runner.clock
        token = token_of(runner)
        assert token is not None
        self._token = token
        self._inbox = Inbox(token)
        self._handlers = HandlerTable(handlers or {})
        self._host_loops = HostLoops()
        self._recorder: Recorder | None = Recorder(runner.clock) if record_trace else None
        self._clients: dict[str, Client] = {}
        self._clients_lock = threading.Lock()
        self._client_counters: dict[str, itertools.count[int]] = {}
        #: A loop that never idles is not waited for after this many iterations and
        #: seconds without idling (both must pass; settable).
        self.catch_up_iterations: int = CATCH_UP_ITERATIONS
        self.catch_up_seconds: float = CATCH_UP_SECONDS
        # Requests still queued when the runner closes are cancelled, so that a client on
        # any loop (not only the runner's, whose tasks are cancelled anyway) is told.
        runner.add_stop_callback(self._cancel_queued)
        cls = type(self)
        #: A 1.4 subclass answers through Futures (create_future or _handle_request
        #: overridden): each request gets one at issue, chained to the request.
        self._hooks = (
            cls.create_future is not Server.create_future
            or cls._handle_request is not Server._handle_request
        )
        self._plain_lookup = cls._find_handler is Server._find_handler
        #: Requests' 1.4 Futures are ours (_AnswerFuture), not a subclass's create_future.
        self._own_futures = cls.create_future is Server.create_future
        #: This server's requests in flight, as holds on virtual-time autojumps (made at
        #: the first request on a virtual clock).
        self._holds: RequestHolds | None = None
        #: Whether any thread may answer by setting the client's loop future itself (our
        #: loop outside debug mode, see SteppingEventLoop.resolve_threadsafe), and
        #: whether answers need no bookkeeping besides (no trace, no virtual clock);
        #: decided at the first request, when the loop runs (see _bind_loop).
        self._direct = False
        self._lean = False
        self.loop_thread: int | None = None
        self._stepping_loop: SteppingEventLoop | None = None
        #: Requests whose answer is on its way through the loop (a batch's; another
        #: loop's): claimed, so that a second answer is refused at once.
        self._claimed: set[Request[Any]] = set()
        self._claims_lock = threading.Lock()

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
            self._handlers.register(fun, handler)
            return handler

        return register

    @property
    def trace(self) -> Trace:
        """Answered requests in the order they were answered (``record_trace=True``):
        a :class:`Trace` (a list of :class:`TraceEntry` with ``dump``/``digest``/``diff``).
        """
        if self._recorder is None:
            raise RuntimeError("create the server with record_trace=True to record a trace")
        return self._recorder.trace()

    @property
    def pending(self) -> list[ExecutionRequest[Any]]:
        """The requests waiting for an answer, oldest first (any thread, never blocks)."""
        return [r.execution_request for r in self._inbox.queued()]

    @property
    def clients(self) -> list[Client]:
        """Every client of this server, in creation order."""
        with self._clients_lock:
            return list(self._clients.values())

    def statistics(self) -> ServerStatistics:
        """A snapshot for debugging and tests (any thread, never blocks)."""
        queued: dict[str | None, int] = {}
        for item in self._inbox.queued():
            queued[item.client] = queued.get(item.client, 0) + 1
        clients = self.clients
        runner = self._runner.statistics()
        return ServerStatistics(
            queued=sum(queued.values()),
            queued_per_client=queued,
            clients=tuple(c.name for c in clients),
            live_clients=tuple(c.name for c in clients if c.live),
            waiting_hosts=self._inbox.waiting_hosts,
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
        self._inbox.wake_hosts()

    def has_queued(self, client: Client) -> bool:
        """Internal: whether ``client`` has a request queued, not yet taken (any thread)."""
        return self._inbox.has_queued(client.name)

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

    def _choose_clients(self, clients: Iterable[Client | str] | None) -> list[Client]:
        if isinstance(clients, list):
            listed: list[Client | str] = clients
            if len(listed) == 1:  # (one client: its own order, no copy of the registry)
                only = listed[0]
                if isinstance(only, Client) and only.server is self:
                    return [only]
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
            self._host_loops.close()

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
            wait_idle(
                self._token,
                deadline.remaining(),
                max_iterations=self.catch_up_iterations,
                min_seconds=self.catch_up_seconds,
            )
        return task

    def _cancel_queued(self) -> None:
        """The runner closed: cancel what is still queued, wake the hosts."""
        for item in self._inbox.drain():
            try:
                self.settle(item, CANCELLED, None)
            except (InvalidStateError, RuntimeError):  # answered meanwhile; loop closed
                pass
        self._inbox.wake_hosts()

    # -- issuing (the client's side, on the loop) ----------------------------------------
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
        # (Client.execute and @request stubs await the same way, in their own coroutine:
        # one coroutine per request, not three.)
        item = self.enqueue(fun, args, kwargs, client)
        fut = item._fut  # pyright: ignore[reportPrivateUsage]  # the request's own future
        try:
            if _get_ident() == self.loop_thread:
                answer = await fut
            else:
                answer = await self.await_elsewhere(item)
        except asyncio.CancelledError:
            self.given_up(item)
            raise
        if type(answer) is Raise:
            raise answer.exception
        return answer

    def enqueue(
        self,
        fun: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        client: Client | None,
    ) -> Request[Any]:
        """Internal (the first half of :meth:`issue`, in the issuing coroutine): make the
        request and queue it; the caller awaits its future (on the server's loop) or
        :meth:`await_elsewhere`, calls :meth:`given_up` if cancelled, and raises a
        :class:`Raise` answer. Raises RunnerClosedError if the server is not running,
        CancelledError if it is exiting."""
        token = self._token
        loop = token.loop
        if loop is None or not token.running:
            raise token.not_running_error(f"issue a request for {key_name(fun)}")
        if token.closing:
            # The server is exiting: nobody will answer. Cancelled, like the requests that
            # were still queued when the exit began (a task's finally may issue one).
            raise asyncio.CancelledError("the server is shutting down")
        if client is not None and not client.bound:
            # Its first request: the agent issuing it decides the client's liveness.
            client.tie_to_current_agent()
        if self.loop_thread is None:
            self._bind_loop()
        clock = self._clock
        item: Request[Any] = Request(
            self,
            loop.create_future(),
            fun,
            args,
            kwargs,
            None if client is None else client._name,  # pyright: ignore[reportPrivateUsage]  # (hot path: no property call)
            clock.time() if clock is not None else None,
        )
        if clock is not None:
            # A request in flight freezes virtual-time autojumps until it is answered.
            holds = self._holds or self._request_holds()
            if holds is not None:
                holds.add(item)
        if self._hooks:
            # 1.4: the request and its Future are made where the client issues it (the
            # subclass's create_future may publish the Future at once).
            item.execution_request  # noqa: B018  # made here, on the loop, not mid-frame
            self.future_of(item)
        inbox = self._inbox
        inbox.queue.append(item)  # (Inbox.push, inline: the hot path)
        if inbox.arrivals:
            inbox.arrivals.wake_all()
        return item

    async def await_elsewhere(self, item: Request[Any]) -> Any:
        """Internal: await ``item``'s future (of the server's loop) from a coroutine on
        another loop; the runner's close wakes it too."""
        fut = item._fut  # pyright: ignore[reportPrivateUsage]  # the request's own future
        token = self._token
        waiter = AsyncWaiter(None)

        def wake(_: object) -> None:
            waiter.wake()

        token.run_sync_soon(fut.add_done_callback, wake, what="wait for an answer")
        try:
            await token.park_async(waiter)
        except asyncio.CancelledError:
            with contextlib.suppress(InvalidStateError, RuntimeError):
                self.settle(item, CANCELLED, None)  # the client gave up
            raise
        if not fut.done():  # woken by the runner's close
            raise ClosedWhileWaitingError("the server closed before answering the request")
        if fut.cancelled():
            raise asyncio.CancelledError("the request was cancelled")
        exc = fut.exception()
        if exc is not None:
            raise exc
        return fut.result()

    def given_up(self, item: Request[Any]) -> None:
        """Internal: the client stopped waiting (loop thread): a cancelled request holds
        nothing any more, and a host that took it sees it cancelled (and the trace
        records it)."""
        if not item._fut.cancelled():  # pyright: ignore[reportPrivateUsage]  # its own
            return  # answered, and the client cancelled afterwards: nothing to undo
        holds = self._holds
        if holds is not None:
            holds.release(item)
        future = item._future  # pyright: ignore[reportPrivateUsage]  # the request's own 1.4 view
        if future is not None:
            item._future = None  # pyright: ignore[reportPrivateUsage]  # (see settle)
            mirror(future, CANCELLED, None)
        recorder = self._recorder
        if recorder is not None and item.taken:
            recorder.append(recorder.row(item, CANCELLED, None))

    def _bind_loop(self) -> None:
        """At the first request (loop thread): what the answering path may assume."""
        token = self._token
        stepping = token.stepping
        self._stepping_loop = stepping
        self._direct = stepping is not None and not stepping.get_debug()
        self._lean = self._direct and self._recorder is None and self._clock is None
        self.loop_thread = token.thread_id

    def _request_holds(self) -> RequestHolds | None:
        """This server's holds on autojumps (made once, for its runner's loop)."""
        stepping = self._token.stepping
        if stepping is None:
            return None
        with self._clients_lock:
            if self._holds is None:
                self._holds = stepping.request_holds()
            return self._holds

    # -- answering: the one place --------------------------------------------------------
    def settle(self, item: Request[Any], state: int, value: Any) -> bool:
        """Internal: answer ``item`` with ``(state, value)`` (RESULT, EXCEPTION, or
        CANCELLED: its client sees CancelledError). Any thread; never blocks.

        The one place a request is answered, however (``answer``, ``fail``, ``dispatch``,
        ``process``, ``answer_after``, a 1.4 Future): it records the trace row (a snapshot
        taken before the client can see the answer), sets the client's future, releases
        the request's autojump hold and wakes the loop. Returns False if the client gave
        up meanwhile (nothing happens); raises InvalidStateError if it was answered.
        """
        fut = item._fut  # pyright: ignore[reportPrivateUsage]  # the request's own future
        stepping = self._stepping_loop
        batching = (
            stepping is not None
            and bool(stepping.batching_threads)
            and _get_ident() in stepping.batching_threads
        )
        if batching and state == RESULT and self._lean:
            # A frame's answer: deferred to the loop with the rest of the batch.
            if fut.done():
                if fut.cancelled():
                    return False
                raise InvalidStateError(f"{item!r} was answered already")
            claimed = self._claimed
            if item in claimed:
                raise InvalidStateError(f"{item!r} was answered already")
            if stepping.defer(self._deliver_frame, item, value):  # pyright: ignore[reportOptionalMemberAccess]
                claimed.add(item)
                return True
        if state == RESULT and self._lean and not batching:
            # The common case, in few steps: our loop, no trace, no virtual clock.
            try:
                fut.set_result(value)
            except asyncio.InvalidStateError:
                if fut.cancelled():
                    return False
                raise InvalidStateError(f"{item!r} was answered already") from None
            if _get_ident() != self.loop_thread:
                stepping.resolved_from_thread()  # pyright: ignore[reportOptionalMemberAccess]
            future = item._future  # pyright: ignore[reportPrivateUsage]
            if future is not None:
                mirror(future, state, value)
                item._future = None  # pyright: ignore[reportPrivateUsage]  # (see _answered)
            return True
        if fut.done():
            if fut.cancelled():
                return False
            raise InvalidStateError(f"{item!r} was answered already")
        if self._token.closed:
            return False  # its client was cancelled with the loop's tasks
        if state == EXCEPTION and isinstance(value, StopIteration):
            # A future cannot hold one (and a coroutine would turn it into this anyway).
            value = RuntimeError(f"the handler raised StopIteration: {value!r}")
        recorder = self._recorder
        row = (
            recorder.row(item, state, value)
            if recorder is not None and state != CANCELLED
            else None
        )
        answer = (state, value)
        if state == EXCEPTION and not isinstance(value, Exception):
            # GeneratorExit and other BaseExceptions raised out of a future's __await__
            # break the awaiting coroutine: issue() raises them from its own frame.
            state, value = RESULT, Raise(value)
        if self._direct and not batching:
            try:
                if state == RESULT:
                    fut.set_result(value)
                elif state == EXCEPTION:
                    fut.set_exception(value)
                elif not fut.cancel():
                    raise asyncio.InvalidStateError("done")
            except asyncio.InvalidStateError:
                if fut.cancelled():
                    return False
                raise InvalidStateError(f"{item!r} was answered already") from None
            if _get_ident() != self.loop_thread:
                stepping.resolved_from_thread()  # pyright: ignore[reportOptionalMemberAccess]
            self._answered(item, row, answer)
            return True
        # Through the loop: with the rest of a batch, or (another loop, debug mode) on its
        # own. The request is claimed now, so that a second answer is refused at once.
        claimed = self._claimed
        with self._claims_lock:
            if item in claimed:
                raise InvalidStateError(f"{item!r} was answered already")
            claimed.add(item)
        given = _Answer(state, value, row, answer)
        if not (batching and stepping.defer(self._deliver_frame, item, given)):  # pyright: ignore[reportOptionalMemberAccess]
            if _get_ident() == self.loop_thread:
                self._deliver_frame([item], [given])
            else:
                self._token.run_sync_soon(self._deliver_frame, [item], [given], what="answer")
        return True

    def _deliver_frame(self, items: list[Request[Any]], values: list[Any]) -> None:
        """Give claimed answers (a batch's, another loop's), on the loop thread, in order;
        a request whose client gave up meanwhile gets nothing (its client recorded so)."""
        claimed = self._claimed
        for item, value in zip(items, values, strict=True):
            claimed.discard(item)
            fut = item._fut  # pyright: ignore[reportPrivateUsage]  # the request's own future
            if fut.done():
                continue
            if type(value) is not _Answer:
                fut.set_result(value)  # a lean server's plain answer
                future = item._future  # pyright: ignore[reportPrivateUsage]
                if future is not None:
                    mirror(future, RESULT, value)
                    item._future = None  # pyright: ignore[reportPrivateUsage]
                continue
            state, answer = value.state, value.value
            if state == RESULT:
                fut.set_result(answer)
            elif state == EXCEPTION:
                fut.set_exception(answer)
            else:
                fut.cancel()
            self._answered(item, value.row, value.answer)

    def _answered(self, item: Request[Any], row: Row | None, answer: tuple[int, Any]) -> None:
        """The bookkeeping after an answer was given: the request's autojump hold, its
        trace row, its 1.4 Future."""
        holds = self._holds
        if holds is not None:
            holds.release(item)  # after the answer is queued: see RequestHolds
        if row is not None:
            recorder = self._recorder
            assert recorder is not None
            recorder.append(row)
        future = item._future  # pyright: ignore[reportPrivateUsage]  # the request's own 1.4 view
        if future is not None:
            mirror(future, *answer)
            # The Future refers to its request: drop the way back, now that the answer
            # is in both (no reference cycle per request for the cyclic GC to collect).
            item._future = None  # pyright: ignore[reportPrivateUsage]

    def future_of(self, item: Request[Any]) -> Future[Any]:
        """Internal: ``item``'s 1.4 :class:`Future`, made once: setting it answers the
        request, and answering the request sets it. Without a ``create_future`` override
        it is an :class:`_AnswerFuture`, which answers through :meth:`settle` itself; a
        subclass's own Future is chained to the request by a done callback."""
        future = item._future  # pyright: ignore[reportPrivateUsage]  # made here, kept there
        if future is not None:
            return future
        if self._own_futures:
            future = AnswerFuture.of(self, item, self._token)
        else:
            future = self.create_future()
            future.add_done_callback(lambda done: self._settle_from(item, done))
        item._future = future  # pyright: ignore[reportPrivateUsage]
        fut = item._fut  # pyright: ignore[reportPrivateUsage]
        if fut.done():
            mirror(future, *state_of(fut))
        return future

    def _settle_from(self, item: Request[Any], future: Future[Any]) -> None:
        """A 1.4 Future was set (in the thread that set it): answer its request so."""
        if future.cancelled():
            state, value = CANCELLED, None
        elif (exc := future.exception()) is not None:
            state, value = EXCEPTION, exc
        else:
            state, value = RESULT, future.result_nowait()
        with contextlib.suppress(InvalidStateError, RunnerClosedError, RuntimeError):
            self.settle(item, state, value)

    def answer_later(
        self, item: Request[Any], delay: float, value: Any, exception: BaseException | None
    ) -> None:
        """Internal (:meth:`Request.answer_after`): release the request's hold now and
        answer it ``delay`` seconds of the loop's time from now (any thread)."""

        def deliver() -> None:
            state, answer = (RESULT, value) if exception is None else (EXCEPTION, exception)
            with contextlib.suppress(InvalidStateError):  # answered meanwhile by another
                self.settle(item, state, answer)

        def schedule() -> None:
            holds = self._holds
            if holds is not None:
                holds.release(item)
            asyncio.get_running_loop().call_later(delay, deliver)

        self._runner.call_soon(schedule)

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

    # -- taking requests -----------------------------------------------------------------
    def take(
        self, *, client: Client | str | None = None, fun: Callable[..., Any] | None = None
    ) -> Request[Any] | None:
        """Remove and return the oldest queued request (of ``client`` and/or for ``fun``,
        if given) without answering it; None if there is none.

        Any thread; never blocks and never waits for the loop. Answer the request with
        :meth:`Request.answer`, :meth:`Request.fail` or :meth:`dispatch`, now or later,
        from any thread. ValueError for a client of another server.
        """
        return self._inbox.take_matching(self._resolve_client(client), fun)

    def requests(self, *, client: Client | str | None = None) -> list[Request[Any]]:
        """The queued requests (of ``client``, if given) as handles, oldest first, without
        taking them (any thread, never blocks)."""
        return self._inbox.queued(self._resolve_client(client))

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
        idle, even though other requests of this server are queued, so sleeping agents
        are reached (never over real work in flight). Raises RunnerClosedError when the
        server stops while it waits (or is not running), RuntimeError on the loop thread.
        """
        token = self._token
        token.check_may_block("Server.next_request()", "`await` in a coroutine, or take()")
        name = self._resolve_client(client)
        deadline = Deadline(token.resolve(timeout))
        inbox = self._inbox
        while True:
            found = inbox.take_matching(name, fun)
            if found is not None:
                return found
            if not inbox.wait(deadline, lambda: inbox.has_matching(name, fun), self._wait_holds()):
                return None

    def gather(
        self,
        clients: Iterable[Client | str] | None = None,
        timeout: float | None = USE_DEFAULT_TIMEOUT,
    ) -> list[Request[Any]]:
        """Lockstep: wait until every live client among ``clients`` (default: every client
        of the server) has a request queued, take one per client (its oldest) and return
        them ordered by client creation; an empty list when no client is live.

        A client is live while a task of its agent runs (the task started for it and the
        tasks it spawns) or while it has a request queued; one that has not issued a
        request yet counts as live; a client listed twice counts once. Blocks the calling
        thread (parked, no polling); while it waits an autojump clock may jump to the
        next timer whenever the loop is idle (never over real work in flight). Raises
        EventLoopTimeoutError after ``timeout`` (nothing is taken then), ValueError for a
        client of another server, RunnerClosedError if the server stops, RuntimeError on
        the loop thread.
        """
        token = self._token
        token.check_may_block("Server.gather()", "`await` in a coroutine")
        deadline = Deadline(token.resolve(timeout))
        chosen = self._choose_clients(clients)
        inbox = self._inbox
        if len(chosen) == 1:
            return self._gather_one(chosen[0], deadline)
        while True:
            first = inbox.first_per_client()
            live = [c for c in chosen if c.name in first or c.tasks_running()]
            if not live:
                return []
            missing = [c for c in live if c.name not in first]
            if not missing:
                taken = inbox.take_each(first[c.name] for c in live)
                if taken is not None:
                    return taken
                continue  # another host thread took one meanwhile: look again
            if not inbox.wait(deadline, lambda: inbox.lockstep_ready(chosen), self._wait_holds()):
                names = ", ".join(c.name for c in missing)
                raise token.timeout_error(
                    Awaiting(f"requests from {names} (gather)"), deadline.timeout
                )

    def _gather_one(self, client: Client, deadline: Deadline) -> list[Request[Any]]:
        """gather() of one client (a GymHost, a turn): its oldest request, or [] once its
        agent has ended with nothing queued; the same rules, without the frame's
        bookkeeping."""
        inbox = self._inbox
        name = client._name  # pyright: ignore[reportPrivateUsage]  # (no property call)

        def ready() -> bool:
            return inbox.has_queued(name) or not client.tasks_running()

        while True:
            found = inbox.take_matching(name, None)
            if found is not None:
                return [found]
            if not client.tasks_running():
                found = inbox.take_matching(name, None)  # (queued just before it ended)
                return [] if found is None else [found]
            if not inbox.wait(deadline, ready, self._wait_holds()):
                raise self._token.timeout_error(
                    Awaiting(f"requests from {name} (gather)"), deadline.timeout
                )

    def _wait_holds(self) -> RequestHolds | None:
        """The holds a waiting host overrides: its server's requests (virtual time)."""
        return (self._holds or self._request_holds()) if self._clock is not None else None

    # -- answering: processing -----------------------------------------------------------
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
        inbox = self._inbox
        item = inbox.pop()  # a busy host's hot path: no deadline, no loop round trip
        deadline: Deadline | None = None
        if item is None:
            deadline = Deadline(wait)
            self._wait_idle(deadline.remaining(), budget_end)
            item = inbox.pop()
            if item is None:
                return False
        self._answer(item)
        if not inbox and self._runner.is_running:
            with contextlib.suppress(RunnerClosedError):  # it answered: what was asked
                if budget_end is None:  # (the common case, one call less)
                    wait_idle(
                        token,
                        wait if deadline is None else deadline.remaining(),
                        max_iterations=self.catch_up_iterations,
                        min_seconds=self.catch_up_seconds,
                        quiet=True,
                    )
                else:
                    self._wait_idle(
                        wait if deadline is None else deadline.remaining(), budget_end, quiet=True
                    )
        return True

    def process_all(
        self, timeout: float | None = USE_DEFAULT_TIMEOUT, *, budget: float | None = None
    ) -> int:
        """Answer every request queued now (after letting the loop catch up); return how
        many. Requests issued in reaction are left for the next call.

        ``timeout`` and ``budget`` as for :meth:`process`: a timeout raises only if
        nothing was answered. The answers wake the loop once (a :meth:`batch`).
        """
        token = self._token
        token.check_may_block("Server.process_all()", "a host thread")
        deadline = Deadline(token.resolve(timeout))
        budget_end = _budget_end(budget)
        inbox = self._inbox
        if not inbox:
            self._wait_idle(deadline.remaining(), budget_end)
        if self._lean and self._plain_lookup and not self._hooks:
            count = self._answer_frame()
        else:
            count = 0
            with self.batch():  # a frame: the answers wake the loop once, when all are given
                for _ in range(len(inbox)):
                    item = inbox.pop()
                    if item is None:
                        break
                    count += 1
                    self._answer(item)
        if count and self._runner.is_running:
            with contextlib.suppress(RunnerClosedError):
                self._wait_idle(deadline.remaining(), budget_end, quiet=True)
        return count

    def _wait_idle(
        self, timeout: float | None, budget_end: float | None, *, quiet: bool = False
    ) -> None:
        """Let the loop catch up: wait until it is idle, bounded as described for the
        class, and by ``budget_end`` (a frame's budget: then it gives up quietly, as at
        the timeout with ``quiet``)."""
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
        wait_idle(
            self._token,
            timeout,
            max_iterations=self.catch_up_iterations,
            min_seconds=seconds,
            quiet=quiet,
        )

    def _answer_frame(self) -> int:
        """process_all() on a lean server (no trace, no virtual clock, plain handlers): the
        answers are computed here, then given by the loop in one callback, as a batch of
        :meth:`settle` gives them (see :meth:`_deliver_frame`). A request that needs more
        (no handler, a handler that raises) goes through :meth:`_answer`."""
        if not self._runner.is_running:
            raise RunnerClosedError("the server is not running")
        queue = self._inbox.queue
        lookup = self._handlers.lookup
        exact = self._handlers.exact.get  # (the usual key: the stub itself)
        items: list[Request[Any]] = []
        values: list[Any] = []
        count = 0
        try:
            for _ in range(len(queue)):
                try:
                    item = queue.popleft()
                except IndexError:
                    break
                fut = item._fut  # pyright: ignore[reportPrivateUsage]  # the request's own
                if fut.done():
                    continue  # its client gave up meanwhile
                item.taken = True
                count += 1
                try:
                    handler = exact(item.fun)
                except TypeError:  # an unhashable callable
                    handler = None
                if handler is None:
                    handler = lookup(item.fun)
                if handler is None:
                    self._deliver_frame_now(items, values)  # (answers stay in order)
                    self._answer(item)  # an unknown request: its client is told
                    continue
                try:
                    value = handler(*item.args, **item.kwargs)
                    if type(value) not in _PLAIN and _awaitable(value):
                        value = self._host_loops.run(value)
                except BaseException as exc:
                    self._deliver_frame_now(items, values)
                    state, failure, interrupt = failure_answer(exc)
                    try:
                        self.settle(item, state, failure)
                    except InvalidStateError:  # answered meanwhile, through a handle
                        pass
                    if interrupt:
                        raise  # (it is failure) the client is answered, the host stops
                    continue
                items.append(item)
                values.append(value)
        finally:
            self._deliver_frame_now(items, values)
        return count

    def _deliver_frame_now(self, items: list[Request[Any]], values: list[Any]) -> None:
        """Hand the answers computed so far to the loop, in one callback (and empty the
        lists)."""
        if items:
            frame, answers = items[:], values[:]
            items.clear()
            values.clear()
            try:
                self._token.run_sync_soon(self._deliver_frame, frame, answers, what="answer")
            except RunnerClosedError:
                pass  # closed meanwhile: its clients were cancelled

    def _answer(self, item: Request[Any]) -> None:
        """Answer a taken request on this thread, as ``process`` does; an interrupt of the
        host (Ctrl-C in a handler...) propagates after the client is answered."""
        if not self._runner.is_running:
            with contextlib.suppress(InvalidStateError, RuntimeError):
                self.settle(item, CANCELLED, None)  # taken: its client must not wait
            raise RunnerClosedError("the server is not running")
        if self._hooks:
            future = self.future_of(item)
            try:
                self._handle_request(item.execution_request, future)
            except BaseException as exc:
                # Whatever escaped (an overridden _handle_request, Ctrl-C in a slow
                # handler), its client gets an answer, then the host the exception.
                answer_with(future, exc)
                raise
            return
        if self._plain_lookup:
            handler = self._handlers.lookup(item.fun)
        else:
            handler = self._find_handler(item.execution_request)
        interrupt = False
        if handler is None:
            state, value = EXCEPTION, self._unknown_request(item.execution_request)
        else:
            try:
                state, value = RESULT, handler(*item.args, **item.kwargs)
                if inspect.isawaitable(value):
                    value = self._host_loops.run(value)
            except BaseException as exc:
                state, value, interrupt = failure_answer(exc)
        try:
            self.settle(item, state, value)
        except InvalidStateError:  # answered meanwhile, through a handle
            pass
        if interrupt:
            raise value  # the client is answered, the host stops

    # -- handlers (and 1.4's hooks) ------------------------------------------------------
    def _find_handler(self, request: ExecutionRequest[Any]) -> Callable[..., Any] | None:
        """The handler for ``request``: keyed by its function, else by the function's name.
        Subclasses may look further (the test harness: per client)."""
        return self._handlers.lookup(request.fun)

    def _unknown_request(self, request: ExecutionRequest[Any]) -> UnknownRequestError:
        return self._handlers.unknown(request)

    def _call_handler(self, handler: Callable[..., Any], request: ExecutionRequest[Any]) -> Any:
        """Run ``handler`` on the request's arguments on this thread (an async handler on
        this thread's private loop) and return its answer, or raise what it raised."""
        result = handler(*request.args, **request.kw_args)
        if inspect.isawaitable(result):
            result = self._host_loops.run(result)
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
                answer_with(future, exc)
                if not isinstance(exc, Exception):
                    raise  # Ctrl-C, SystemExit...: the client is answered, the host stops
            else:
                future.set_result(result)
        except InvalidStateError:
            if not future.cancelled():
                raise
            # The client stopped waiting (it was cancelled) while the handler ran: the
            # answer has nobody to go to, which is not the host's error.


class _Answer:
    """An answer on its way through the loop, with its bookkeeping (see Server.settle)."""

    __slots__ = ("answer", "row", "state", "value")

    def __init__(self, state: int, value: Any, row: Row | None, answer: tuple[int, Any]) -> None:
        self.state = state
        self.value = value
        self.row = row
        self.answer = answer


def _awaitable(value: object) -> bool:
    """``inspect.isawaitable``, quick for the values handlers return (no ABC check for a
    number, a tuple, None...)."""
    if type(value) in _PLAIN:
        return False
    return hasattr(value, "__await__") or inspect.isawaitable(value)


#: Values that are never awaitable: skipped by _awaitable at the cost of one lookup.
_PLAIN = frozenset({int, float, str, bool, bytes, tuple, list, dict, type(None), complex})


def _budget_end(budget: float | None) -> float | None:
    if budget is None:
        return None
    seconds = check_timeout(budget, "budget")
    return None if seconds is None else _monotonic() + seconds
