"""threaded_async: asyncio event loops in background threads, and safe, fast ways for any
thread to talk to them.

Everything public is importable from here. The 1.4 import paths
(``threaded_async.threaded_async``, ``.control_inversion``, ``.async_utils``, ``.timers``)
keep working.
"""

from ._async_utils import run_or_raise, wait_for_or_cancel
from ._clock import VirtualClock
from ._control import Client, ExecutionRequest, Server, TraceEntry, UnknownRequestError
from ._errors import (
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
)
from ._event import Event
from ._future import Future
from ._loop import SteppingEventLoop
from ._queue import LifoQueue, PriorityQueue, Queue, QueueStatistics
from ._runner import AsyncRunner
from ._task import BackgroundTask
from ._timeouts import USE_DEFAULT_TIMEOUT
from .timers import TimeoutTimer

#: 1.4's name for :class:`TAExceptionGroup`.
ExceptionGroup = TAExceptionGroup

__version__ = "2.0.0.dev0"

__all__ = [
    "USE_DEFAULT_TIMEOUT",
    "AsyncRunner",
    "BackgroundTask",
    "Client",
    "Event",
    "EventLoopTimeoutError",
    "ExceptionDetails",
    "ExceptionGroup",
    "ExecutionRequest",
    "ForcedThreadShutdown",
    "Future",
    "InvalidStateError",
    "LifoQueue",
    "PriorityQueue",
    "Queue",
    "QueueEmpty",
    "QueueFull",
    "QueueShutDown",
    "QueueStatistics",
    "RunnerClosedError",
    "Server",
    "ShutdownType",
    "SteppingEventLoop",
    "TAExceptionGroup",
    "TimeoutTimer",
    "TraceEntry",
    "UnknownRequestError",
    "VirtualClock",
    "run_or_raise",
    "wait_for_or_cancel",
]
