"""RequestRegistry: request/reply bookkeeping between threads that can never hang.

A requester registers a key (say a message id), sends its request, and waits for the
reply: blocking from a thread (with a timeout) or awaiting from a coroutine on any loop. A
reader thread resolves the key when the reply arrives, or rejects it with an exception.
When the connection dies, :meth:`RequestRegistry.fail_all` wakes *every* waiter with the
exception and refuses registrations from then on, so nobody waits forever for a reply that
cannot come.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from ._core import EventLoopTimeoutError, Outcome, ResultView, check_may_block, check_timeout

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

__all__ = ["PendingRequest", "RegistryClosedError", "RequestRegistry"]


class RegistryClosedError(RuntimeError):
    """The registry was failed with :meth:`RequestRegistry.fail_all`; no new requests.

    Its ``__cause__`` is the exception given to ``fail_all``.
    """


class PendingRequest(ResultView[V], Generic[K, V]):
    """The waitable side of one registered request (returned by ``register``).

    Any thread may wait on it with :meth:`wait`; any coroutine, on any loop, may
    ``await`` it (or :meth:`wait_async`). It resolves exactly once.
    """

    __slots__ = ("_registry", "key")

    def __init__(self, registry: RequestRegistry[K, V], key: K, outcome: Outcome[V]) -> None:
        super().__init__(outcome, None)
        self._registry = registry
        self.key: K = key

    def __repr__(self) -> str:
        state = "done" if self.done() else "pending"
        return f"<PendingRequest {self.key!r} {state}>"

    def wait(self, timeout: float | None = None) -> V:
        """Block the calling thread until the reply comes; return it.

        Raises the exception given to ``reject``/``fail_all``; :class:`EventLoopTimeoutError`
        (a :class:`TimeoutError`) when ``timeout`` seconds pass first (the request stays
        registered, so a late reply can still be waited for; :meth:`discard` gives up);
        ``RuntimeError`` on a thread that runs an event loop (await it there instead).
        """
        check_may_block("PendingRequest.wait()", "`await pending`")
        return self._outcome.wait(check_timeout(timeout), None, f"the reply to {self.key!r}")

    async def wait_async(self) -> V:
        """Await the reply from a coroutine on any loop (same results as :meth:`wait`).

        Cancelling the awaiting coroutine leaves the request registered."""
        return await self._outcome.wait_async()

    def discard(self) -> bool:
        """Give up on the request: unregister it; False if it was already answered."""
        return self._registry.discard(self)


class RequestRegistry(Generic[K, V]):
    """Keyed request/reply rendezvous between threads (and coroutines).

    All methods are safe from any thread and never block except :meth:`request` and
    :meth:`PendingRequest.wait`. Typical use::

        reg: RequestRegistry[int, bytes] = RequestRegistry()
        # requesting thread
        reply = reg.request(msg_id, send=lambda p: sock.send(payload), timeout=10)
        # reader thread
        reg.resolve(msg_id, response)
        # reader thread, connection lost
        reg.fail_all(ConnectionError("reader died"))
    """

    __slots__ = ("_failure", "_lock", "_pending")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: Each pending key's view and the outcome the registry completes.
        self._pending: dict[K, tuple[PendingRequest[K, V], Outcome[V]]] = {}
        self._failure: BaseException | None = None

    def __repr__(self) -> str:
        state = "failed" if self._failure is not None else "open"
        return f"<RequestRegistry {state} pending={len(self._pending)}>"

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, key: object) -> bool:
        return key in self._pending

    @property
    def closed(self) -> bool:
        """True once :meth:`fail_all` was called."""
        return self._failure is not None

    def pending_keys(self) -> list[K]:
        """The keys still waiting for a reply, in registration order."""
        with self._lock:
            return list(self._pending)

    def register(self, key: K) -> PendingRequest[K, V]:
        """Register ``key`` and return the :class:`PendingRequest` to wait on.

        Register *before* sending the request, so a fast reply cannot arrive first.
        Raises ``ValueError`` if ``key`` is already pending and
        :class:`RegistryClosedError` (caused by the ``fail_all`` exception) after
        :meth:`fail_all`.
        """
        outcome: Outcome[V] = Outcome()
        pending: PendingRequest[K, V] = PendingRequest(self, key, outcome)
        with self._lock:
            failure = self._failure
            if failure is None:
                if key in self._pending:
                    raise ValueError(f"request {key!r} is already pending in this registry")
                self._pending[key] = (pending, outcome)
        if failure is not None:
            raise RegistryClosedError(
                f"cannot register {key!r}: the registry was failed ({failure!r})"
            ) from failure
        return pending

    def resolve(self, key: K, value: V) -> bool:
        """Deliver the reply for ``key`` and wake its waiter.

        Returns False if ``key`` is not pending (never registered, already answered,
        discarded, or failed): late replies are dropped, not raised.
        """
        with self._lock:
            entry = self._pending.pop(key, None)
        if entry is None:
            return False
        return entry[1].try_set_result(value)

    def reject(self, key: K, exc: BaseException) -> bool:
        """Make the waiter of ``key`` raise ``exc``; False if ``key`` is not pending."""
        if not isinstance(exc, BaseException):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"reject needs an exception, not {type(exc).__name__}")
        with self._lock:
            entry = self._pending.pop(key, None)
        if entry is None:
            return False
        return entry[1].try_set_exception(exc)

    def fail_all(self, exc: BaseException) -> int:
        """Wake every waiter with ``exc`` and refuse registrations from now on.

        Returns how many requests were failed. Calling it again fails nothing new (the
        first exception stays the registry's cause).
        """
        if not isinstance(exc, BaseException):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"fail_all needs an exception, not {type(exc).__name__}")
        with self._lock:
            if self._failure is None:
                self._failure = exc
            entries = list(self._pending.values())
            self._pending.clear()
        for _, outcome in entries:
            outcome.try_set_exception(exc)
        return len(entries)

    def discard(self, pending: PendingRequest[K, V]) -> bool:
        """Unregister ``pending`` (what :meth:`PendingRequest.discard` does); False if it
        was answered or discarded already. Any thread; never blocks."""
        with self._lock:
            entry = self._pending.get(pending.key)
            if entry is None or entry[0] is not pending:
                return False
            del self._pending[pending.key]
        return True

    def request(
        self,
        key: K,
        send: Callable[[PendingRequest[K, V]], object],
        timeout: float | None = None,
    ) -> V:
        """Register ``key``, call ``send(pending)``, block until the reply; return it.

        Blocks the calling thread (``RuntimeError`` on a thread running an event loop).
        If ``send`` raises, or the wait times out (:class:`EventLoopTimeoutError`), the
        request is discarded so a late reply is dropped.
        """
        check_may_block("RequestRegistry.request()", "`await registry.request_async()`")
        wait = check_timeout(timeout)
        pending = self.register(key)
        try:
            send(pending)
            return pending.wait(wait)
        except EventLoopTimeoutError:
            pending.discard()
            raise
        except BaseException:
            if not pending.done():
                pending.discard()
            raise

    async def request_async(self, key: K, send: Callable[[PendingRequest[K, V]], object]) -> V:
        """Like :meth:`request`, from a coroutine (use ``asyncio.timeout`` for a limit;
        a cancelled or failed request is discarded)."""
        pending = self.register(key)
        try:
            send(pending)
            return await pending
        except BaseException:
            if not pending.done():
                pending.discard()
            raise
