"""L0, the core: how threads and coroutines wait and wake, the event loop and its time.

It knows no runner. Every other module imports from here (``from ._core import X``),
never from the modules inside. See ``docs/internals.md`` for the layers.
"""

from ._clock import VirtualClock
from ._errors import (
    ClosedWhileWaitingError,
    EventLoopTimeoutError,
    ExceptionDetails,
    ForcedThreadShutdown,
    InvalidStateError,
    QueueEmpty,
    QueueFull,
    QueueShutDown,
    RunnerClosedError,
    ShutdownType,
    TAExceptionGroup,
    describe_callable,
)
from ._loop import SteppingEventLoop
from ._outcome import PENDING, Outcome
from ._timeouts import USE_DEFAULT_TIMEOUT, Deadline, check_timeout, resolve_timeout
from ._waiters import (
    AsyncWaiter,
    ThreadWaiter,
    Waiter,
    WaiterList,
    block,
    check_may_block,
    resolve_future,
)

__all__ = [
    "PENDING",
    "USE_DEFAULT_TIMEOUT",
    "AsyncWaiter",
    "ClosedWhileWaitingError",
    "Deadline",
    "EventLoopTimeoutError",
    "ExceptionDetails",
    "ForcedThreadShutdown",
    "InvalidStateError",
    "Outcome",
    "QueueEmpty",
    "QueueFull",
    "QueueShutDown",
    "RunnerClosedError",
    "ShutdownType",
    "SteppingEventLoop",
    "TAExceptionGroup",
    "ThreadWaiter",
    "VirtualClock",
    "Waiter",
    "WaiterList",
    "block",
    "check_may_block",
    "check_timeout",
    "describe_callable",
    "resolve_future",
    "resolve_timeout",
]
