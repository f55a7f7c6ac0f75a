"""The coroutine side of control inversion: clients, and stubs written by ``@request``."""

from __future__ import annotations

import asyncio
import functools
import inspect
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar, overload

from .._core import TaskFamily, current_family
from ._handlers import REQUEST_STUBS
from ._request import Raise

if TYPE_CHECKING:
    from ._server import Server

R = TypeVar("R")
C = TypeVar("C", bound="Client")
P = ParamSpec("P")

__all__ = ["Client", "request"]

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_get_ident = threading.get_ident


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
        #: Whether the client is tied to its agent's tasks yet (see :meth:`bind_task`).
        self.bound: bool = False
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
        # Server.issue's await, in this coroutine: one coroutine per request.
        server = self._server
        item = server.enqueue(fun, args, kwargs, self)
        try:
            if _get_ident() == server.loop_thread:
                answer = await item._fut  # pyright: ignore[reportPrivateUsage]  # its own
            else:
                answer = await server.await_elsewhere(item)
        except asyncio.CancelledError:
            server.given_up(item)
            raise
        if type(answer) is Raise:
            raise answer.exception
        return answer

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
        runner = self._server.runner
        if not runner.in_runner_loop or runner.loop is not task.get_loop():
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
        self.bound = True
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
        if type(self).execute is not _CLIENT_EXECUTE:
            return await self.execute(stub, *args, **kwargs)  # a 1.4 subclass's own
        # What execute() does, in this coroutine: one coroutine per request.
        server: Server = self._server  # pyright: ignore[reportPrivateUsage]  # its client's
        item = server.enqueue(stub, args, kwargs, self)
        try:
            if _get_ident() == server.loop_thread:
                answer = await item._fut  # pyright: ignore[reportPrivateUsage]  # its own
            else:
                answer = await server.await_elsewhere(item)
        except asyncio.CancelledError:
            server.given_up(item)
            raise
        if type(answer) is Raise:
            raise answer.exception
        return answer

    stub.__signature__ = signature  # type: ignore[attr-defined]
    REQUEST_STUBS.add(stub)
    return stub


_CLIENT_EXECUTE = Client.execute
