"""Quiescence: waiting, from another thread, until a runner's loop is idle.

The loop is *idle* when every task that can run without an outside event (a timer not yet
due, I/O, another thread) has run. :class:`SteppingEventLoop` sees that moment exactly in
its poll hook; on any other loop (uvloop) it is approximated by letting the loop run a
fixed number of scheduling rounds. :func:`wait_idle` is the one implementation behind
``AsyncRunner.wait_until_idle``, ``Server.process`` and the runner's exit.
"""

from __future__ import annotations

import asyncio

from ._errors import Awaiting, RunnerClosedError
from ._token import LoopToken
from ._waiters import ThreadWaiter

__all__ = ["CATCH_UP_ITERATIONS", "CATCH_UP_SECONDS", "FOREIGN_LOOP_HOPS", "wait_idle"]

#: A "let the loop catch up" wait gives up on a loop that never idles once it has run this
#: many iterations and this many seconds without idling (both; Server has its own copy).
CATCH_UP_ITERATIONS = 3
CATCH_UP_SECONDS = 0.010
#: call_soon hops standing in for idleness on loops without our hook (e.g. uvloop).
FOREIGN_LOOP_HOPS = 16


def wait_idle(
    token: LoopToken,
    timeout: float | None,
    *,
    max_iterations: int | None = None,
    min_seconds: float = 0.0,
    quiet: bool = False,
) -> bool:
    """Block the calling thread until the token's loop is idle; return True.

    ``max_iterations``: give up (return) once that many loop iterations and
    ``min_seconds`` of real time have both passed without the loop idling: a loop that
    never idles is not waited for, while one long step is. Raises EventLoopTimeoutError
    after ``timeout`` real seconds (``quiet``: returns False instead, without the cost of
    an error that describes the loop's stack), RunnerClosedError if the loop does not run
    or closes (or starts tearing down) meanwhile. The caller has checked that this is not
    the loop thread.
    """
    loop = token.require_loop("wait for the event loop")
    if token.closing:
        raise RunnerClosedError("cannot wait for the event loop: the runner is closing")
    stepping = token.stepping
    if stepping is not None:
        # Work this thread deferred in a batch must reach the loop before the loop can
        # be idle in the sense the caller means.
        stepping.flush_wakeups()
        if stepping.is_idle_now():
            return True
    waiter = ThreadWaiter()
    if stepping is not None:
        stepping.add_idle_waiter(waiter, max_iterations, min_seconds)
    else:
        # No idle hook to ask: a fixed number of scheduling rounds stands in for idleness,
        # whatever bound the caller gave (which counts iterations of our loop only).
        loop.call_soon_threadsafe(_hop, loop, FOREIGN_LOOP_HOPS, waiter)
    woken = token.park(waiter, timeout)
    if token.closed or token.closing:
        raise RunnerClosedError(
            "the runner closed while waiting for its loop to become idle"
        ) from token.cause
    if not woken:
        if stepping is not None:
            stepping.remove_idle_waiter(waiter)
        if quiet:
            return False
        raise token.timeout_error(Awaiting("the event loop to become idle"), timeout)
    return True


def _hop(loop: asyncio.AbstractEventLoop, remaining: int, waiter: ThreadWaiter) -> None:
    if remaining <= 0:
        waiter.wake()
    else:
        loop.call_soon(_hop, loop, remaining - 1, waiter)
