"""The inbox: queued requests, the host threads parked waiting for them, lockstep takes."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .._core import Deadline, LoopToken, RequestHolds, RunnerClosedError, ThreadWaiter, WaiterList
from ._request import Request

if TYPE_CHECKING:
    from ._client import Client

__all__ = ["Inbox"]


class Inbox:
    """Requests queued and not yet taken, oldest first; hosts parked until one arrives.

    The loop thread appends (a client issues); host threads take. Every operation is safe
    from any thread without a lock: deque appends, pops and removes are atomic under the
    GIL, and a taker that loses a race to another skips that request.
    """

    __slots__ = ("_token", "arrivals", "queue")

    def __init__(self, token: LoopToken) -> None:
        self._token = token
        #: Oldest first. The server's hot paths read it directly (appends, pops).
        self.queue: deque[Request[Any]] = deque()
        #: Host threads blocked in next_request()/gather(), woken by every new request
        #: and every client that ends.
        self.arrivals = WaiterList()

    def __bool__(self) -> bool:
        return bool(self.queue)

    def __len__(self) -> int:
        return len(self.queue)

    def push(self, item: Request[Any]) -> None:
        """Queue ``item`` and wake the parked hosts (loop thread)."""
        self.queue.append(item)
        if self.arrivals:
            self.arrivals.wake_all()

    def wake_hosts(self) -> None:
        """Make the parked hosts look again (a client ended; the server closes)."""
        if self.arrivals:
            self.arrivals.wake_all()

    @property
    def waiting_hosts(self) -> int:
        """Host threads parked in next_request()/gather() now."""
        return len(self.arrivals)

    def drain(self) -> list[Request[Any]]:
        """Remove and return everything queued (the server closes)."""
        queue = self.queue
        drained: list[Request[Any]] = []
        while queue:
            try:
                drained.append(queue.popleft())
            except IndexError:
                break
        return drained

    # -- looking ---------------------------------------------------------------------------
    def queued(self, client: str | None = None) -> list[Request[Any]]:
        """The requests queued (of ``client``, if given), oldest first."""
        return [
            item
            for item in tuple(self.queue)
            if not item.done() and (client is None or item.client == client)
        ]

    def has_queued(self, client: str) -> bool:
        """Whether ``client`` has a request queued."""
        return any(item.client == client and not item.done() for item in tuple(self.queue))

    def has_matching(self, client: str | None, fun: Callable[..., Any] | None) -> bool:
        """Whether a request of ``client`` and/or for ``fun`` is queued."""
        for item in tuple(self.queue):
            if (
                not item.done()
                and (client is None or item.client == client)
                and (fun is None or item.fun is fun)
            ):
                return True
        return False

    def first_per_client(self) -> dict[str | None, Request[Any]]:
        """Each client's oldest queued request (one pass over the queue). Requests done
        meanwhile (their client gave up, or a handle answered them) leave the queue."""
        first: dict[str | None, Request[Any]] = {}
        stale: list[Request[Any]] = []
        for item in tuple(self.queue):
            if item.done():
                stale.append(item)
            elif item.client not in first:
                first[item.client] = item
        for item in stale:
            self._discard(item)
        return first

    # -- taking ----------------------------------------------------------------------------
    def pop(self) -> Request[Any] | None:
        """Take the oldest queued request, or None."""
        queue = self.queue
        while queue:
            try:
                item = queue.popleft()
            except IndexError:
                return None
            if not item.done():
                item.taken = True
                return item  # (else its client cancelled it meanwhile)
        return None

    def take_matching(
        self, client: str | None, fun: Callable[..., Any] | None
    ) -> Request[Any] | None:
        """Take the oldest queued request of ``client`` and/or for ``fun``, or None."""
        if client is None and fun is None:
            return self.pop()
        queue = self.queue
        if queue and fun is None and len(queue) == 1:  # (one client's lone request)
            item = queue[0]
            if item.client == client and not item.done() and self._discard(item):
                item.taken = True
                return item
        for item in tuple(queue):
            if item.done():
                continue
            if client is not None and item.client != client:
                continue
            if fun is not None and item.fun is not fun:
                continue
            if not self._discard(item):
                continue  # taken by another host thread meanwhile
            item.taken = True
            return item
        return None

    def take_each(self, items: Iterable[Request[Any]]) -> list[Request[Any]] | None:
        """Take all of ``items`` (a lockstep frame), or none of them if another host thread
        took one meanwhile (then None: look again)."""
        taken: list[Request[Any]] = []
        for item in items:
            if not self._discard(item):
                for back in reversed(taken):  # put back what this round took
                    back.taken = False
                    self.queue.appendleft(back)
                return None
            item.taken = True
            taken.append(item)
        return taken

    def _discard(self, item: Request[Any]) -> bool:
        try:
            self.queue.remove(item)
        except ValueError:
            return False
        return True

    # -- waiting ---------------------------------------------------------------------------
    def wait(
        self, deadline: Deadline, ready: Callable[[], bool], holds: RequestHolds | None
    ) -> bool:
        """Park the host thread until something arrives (a request, a client ending, the
        close) and ``ready()`` may have become true; False if the deadline passed. While
        it waits and lacks what it waits for, this host overrides its own server's
        request ``holds`` on autojumps (never real work's): sleeping agents are reached."""
        token = self._token
        if not token.running:
            raise token.not_running_error("wait for requests")
        waiter = ThreadWaiter()
        arrivals = self.arrivals
        arrivals.add(waiter)
        try:
            if ready():
                return True
            if holds is not None:
                holds.add_host_wait(waiter, lambda: not ready())
            woken = token.park(waiter, deadline.remaining())
        finally:
            arrivals.discard(waiter)
            if holds is not None:
                holds.remove_host_wait(waiter)
        if token.closed or not token.running:
            raise RunnerClosedError("the server stopped while the host waited for requests")
        return woken

    def lockstep_ready(self, chosen: list[Client]) -> bool:
        """Whether every client of ``chosen`` whose agent still runs has a request queued."""
        first = self.first_per_client()
        return all(c.name in first or not c.tasks_running() for c in chosen)
