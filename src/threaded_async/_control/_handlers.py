"""The handler table: which function answers which request, checked at registration."""

from __future__ import annotations

import asyncio
import inspect
import threading
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ._request import ExecutionRequest, UnknownRequestError, key_name

__all__ = ["REQUEST_STUBS", "HandlerTable", "HostLoops"]

#: The stubs made by @request: their requests carry exactly the stub's parameters, so a
#: handler can be checked against them (a hand-written stub may pass anything to execute).
REQUEST_STUBS: weakref.WeakSet[Callable[..., Any]] = weakref.WeakSet()

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


class HandlerTable:
    """Handlers keyed by the stub method (or its ``__name__``). Registration checks that a
    handler can take the arguments of a :func:`request` stub; lookup never raises."""

    __slots__ = ("exact",)

    def __init__(self, handlers: Mapping[Callable[..., Any] | str, Callable[..., Any]]) -> None:
        #: The handlers by key (a stub or a name). Read directly on the hot path
        #: (``exact.get(fun)``); :meth:`lookup` adds the fallback by name.
        self.exact: dict[Callable[..., Any] | str, Callable[..., Any]] = {}
        for key, handler in handlers.items():
            self.register(key, handler)

    def register(self, key: Callable[..., Any] | str, handler: Callable[..., Any]) -> None:
        """Answer requests of ``key`` with ``handler``. TypeError (naming both) if the
        handler is not callable or cannot take the arguments of the stub ``key``."""
        if not callable(handler):
            raise TypeError(f"the handler for {key_name(key)} must be callable, not {handler!r}")
        if not isinstance(key, str) and key in REQUEST_STUBS:
            _check_handler_fits(key, handler)
        self.exact[key] = handler

    def lookup(self, fun: Callable[..., Any]) -> Callable[..., Any] | None:
        """The handler for requests of ``fun``: keyed by it, else by its name."""
        handlers = self.exact
        try:
            found = handlers.get(fun)
        except TypeError:  # an unhashable callable: no handler can be keyed by it
            found = None
        if found is None:
            name = getattr(fun, "__name__", None)
            if isinstance(name, str):
                found = handlers.get(name)
        return found

    def unknown(self, request: ExecutionRequest[Any]) -> UnknownRequestError:
        """The error for a request no handler answers, naming the registered ones."""
        known = ", ".join(sorted(key_name(k) for k in self.exact)) or "none"
        return UnknownRequestError(
            f"no handler for request {request.name}; registered handlers: {known}"
        )


class HostLoops:
    """Where async handlers run: one private ``asyncio.Runner`` per host thread (a loop
    runs in one thread at a time, and several host threads may answer at once), all
    closed together when the server exits."""

    __slots__ = ("_local", "_lock", "_runners")

    def __init__(self) -> None:
        self._local = threading.local()
        self._runners: list[asyncio.Runner] = []
        self._lock = threading.Lock()

    def run(self, awaitable: Awaitable[Any]) -> Any:
        """Run ``awaitable`` to completion on this thread's loop; return or raise its
        outcome (the calling thread blocks)."""
        runner: asyncio.Runner | None = getattr(self._local, "runner", None)
        if runner is None:
            runner = asyncio.Runner()
            self._local.runner = runner
            with self._lock:
                self._runners.append(runner)

        async def run() -> Any:
            return await awaitable

        return runner.run(run())

    def close(self) -> None:
        """Close every thread's loop (the server exits)."""
        with self._lock:
            runners, self._runners = self._runners, []
        for runner in runners:
            runner.close()


def _stub_parameters(fun: Callable[..., Any]) -> inspect.Signature | None:
    """The signature a request for ``fun`` is issued with (a method stub's ``self`` left
    out), or None if it cannot be read."""
    try:
        signature = inspect.signature(fun)
    except (TypeError, ValueError):
        return None
    params = list(signature.parameters.values())
    if params and params[0].name == "self" and params[0].kind in _POSITIONAL:
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
        if param.kind in _POSITIONAL:
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
                f"handler {key_name(handler)}{target} cannot take the arguments of "
                f"{key_name(key)}{stub}: {exc}"
            ) from None
