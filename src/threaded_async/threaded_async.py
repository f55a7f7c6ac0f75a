"""threaded_async 1.4 import path: ``threaded_async.threaded_async``."""

from ._core import (
    USE_DEFAULT_TIMEOUT,
    EventLoopTimeoutError,
    ExceptionDetails,
    ForcedThreadShutdown,
    ShutdownType,
    TAExceptionGroup,
)
from ._event import Event
from ._future import Future
from ._queue import Queue
from ._runner import AsyncRunner
from ._task import BackgroundTask

#: 1.4's name for :class:`TAExceptionGroup` (shadows the builtin only in this module).
ExceptionGroup = TAExceptionGroup

__all__ = [
    "USE_DEFAULT_TIMEOUT",
    "AsyncRunner",
    "BackgroundTask",
    "Event",
    "EventLoopTimeoutError",
    "ExceptionDetails",
    "ExceptionGroup",
    "ForcedThreadShutdown",
    "Future",
    "Queue",
    "ShutdownType",
    "TAExceptionGroup",
]
