"""One queued request: the handle a host answers now or later, from any thread.

A request is one object: what was asked (``fun``, ``args``, ``kwargs``, ``client``,
``issued_at``) and the loop future its client awaits. Answering it sets that future, from
any thread; the server does the bookkeeping around it (trace, holds, wake-ups), in
:meth:`Server.settle`, the one place a request is answered.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .._core import EXCEPTION, RESULT, check_timeout
from .._future import Future

if TYPE_CHECKING:
    import asyncio

    from ._server import Server

R = TypeVar("R")

__all__ = ["ExecutionRequest", "Raise", "Request", "UnknownRequestError", "key_name", "new_request"]


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
        return key_name(self.fun)


_new_object: Callable[[type[Any]], Any] = object.__new__


def new_request(
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
        "_fut",
        "_future",
        "_server",
        "args",
        "client",
        "fun",
        "issued_at",
        "kwargs",
        "taken",
    )

    def __init__(
        self,
        server: Server,
        fut: asyncio.Future[Any],
        fun: Callable[..., R],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        client: str | None,
        issued_at: float | None,
    ) -> None:
        self._server = server
        #: The future the client awaits (of the server's loop); the request is answered
        #: when it is done (see Server.settle).
        self._fut = fut
        self.fun: Callable[..., R] = fun
        self.args: tuple[Any, ...] = args
        self.kwargs: dict[str, Any] = kwargs
        self.client: str | None = client
        self.issued_at: float | None = issued_at
        self.taken: bool = False
        #: 1.4's view of the answer (made for a server with 1.4 hooks, or on demand).
        self._future: Future[R] | None = None
        self._execution_request: ExecutionRequest[R] | None = None

    def __repr__(self) -> str:
        state = "cancelled" if self.cancelled() else "answered" if self.done() else "pending"
        return f"<Request {self.client!r} {self.name}{self.args!r} {state}>"

    @property
    def name(self) -> str:
        """The request's qualified name, e.g. ``Env.move``."""
        return key_name(self.fun)

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
            request = new_request(self.fun, self.args, self.kwargs, self.client)
            self._execution_request = request
        return request

    @property
    def future(self) -> Future[R]:
        """The request's answer as a 1.4 :class:`Future` (what ``_handle_request`` gets):
        setting it answers the request, and answering the request sets it."""
        future = self._future
        if future is None:
            future = self._server.future_of(self)
        return future

    def done(self) -> bool:
        """Whether it was answered, failed, or its client gave up (any thread)."""
        return self._fut.done()

    def cancelled(self) -> bool:
        """Whether its client gave up on it (was cancelled) or the server cancelled it."""
        return self._fut.cancelled()

    def answer(self, value: R) -> bool:
        """Answer the request: the client's ``await`` returns ``value``.

        Any thread; never blocks. Returns False (and does nothing) if the client gave up
        meanwhile; raises InvalidStateError if it was already answered.
        """
        return self._server.settle(self, RESULT, value)

    def fail(self, exception: BaseException) -> bool:
        """Fail the request: the client's ``await`` raises ``exception``.

        Any thread; never blocks. Returns False if the client gave up meanwhile; raises
        InvalidStateError if it was already answered.
        """
        if isinstance(exception, type):
            exception = exception()
        if not isinstance(exception, BaseException):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"fail() needs an exception, not {type(exception).__name__}")
        return self._server.settle(self, EXCEPTION, exception)

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
        self._server.answer_later(self, delay, value, exception)


_FunctionType = types.FunctionType


def key_name(key: Callable[..., Any] | str) -> str:
    """A handler key's readable name: a string as it is, else the qualified name."""
    if type(key) is _FunctionType:  # (a stub or a function: the common case)
        return key.__qualname__
    if isinstance(key, str):
        return key
    name = getattr(key, "__qualname__", None)
    return name if isinstance(name, str) else repr(key)


class Raise:
    """Internal: an answer that is an exception the client's future cannot carry (not an
    ``Exception``): the issuing coroutine raises it in the client."""

    __slots__ = ("exception",)

    def __init__(self, exception: BaseException) -> None:
        self.exception = exception
