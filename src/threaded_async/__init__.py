"""threaded_async: asyncio event loops in background threads, and safe, fast ways for any
thread to talk to them.

Everything public is importable from here. The 1.4 import paths
(``threaded_async.threaded_async``, ``.control_inversion``, ``.async_utils``, ``.timers``)
keep working.
"""

from ._actor import Actor, ActorProxy, ActorStoppedError, Cadence, Reply
from ._async_utils import run_or_raise, wait_for_or_cancel
from ._cancel import CancelScope, ScopeGroup, checkpoint, fail_after, move_on_after
from ._control import (
    Client,
    ExecutionRequest,
    Request,
    Server,
    ServerStatistics,
    UnknownRequestError,
    request,
)
from ._core import (
    USE_DEFAULT_TIMEOUT,
    Choice,
    ClosedWhileWaitingError,
    EventLoopTimeoutError,
    ExceptionDetails,
    ForcedThreadShutdown,
    InvalidStateError,
    QueueEmpty,
    QueueFull,
    QueueShutDown,
    RunnerClosedError,
    Schedule,
    ScheduleLimits,
    ShutdownType,
    SteppingEventLoop,
    TAExceptionGroup,
    TimeoutTimer,
    VirtualClock,
    hold_virtual_time,
)
from ._event import Event
from ._future import Future
from ._queue import LifoQueue, PriorityQueue, Queue, QueueStatistics
from ._request_registry import PendingRequest, RegistryClosedError, RequestRegistry
from ._runner import AsyncRunner, RunnerStatistics
from ._signal import Signal, Till
from ._task import BackgroundTask
from ._taskgroup import TASK_STATUS_IGNORED, TaskGroup, TaskStatus
from ._threads import SupervisedThread, ThreadGroup, ThreadJoinTimeoutError
from ._trace import Trace, TraceDifference, TraceEntry
from ._work_tracker import WorkTracker

#: 1.4's name for :class:`TAExceptionGroup`.
ExceptionGroup = TAExceptionGroup

# The 1.4 module paths are attributes of the package after a plain ``import threaded_async``
# (``threaded_async.control_inversion.Server``), as they were in 1.4.
from . import async_utils as async_utils  # noqa: E402
from . import control_inversion as control_inversion  # noqa: E402
from . import threaded_async as threaded_async  # noqa: E402
from . import timers as timers  # noqa: E402

__version__ = "2.0.0.dev0"


def _fixup_module_metadata(module: str, namespace: dict[str, object], names: list[str]) -> None:
    """Make every public object report ``module`` (``threaded_async.Server``, not
    ``threaded_async._control._server.Server``) in its repr, its pickles, tracebacks and
    the trace codec's type tags, so moving code between private modules changes none of
    them (trio's ``fixup_module_metadata``). Methods and nested classes follow."""
    seen: set[int] = set()

    def fix(obj: object, qualname: str) -> None:
        if id(obj) in seen:
            return
        seen.add(id(obj))
        own = getattr(obj, "__module__", None)
        if not isinstance(own, str) or not own.startswith(f"{module}._"):
            return
        try:
            setattr(obj, "__module__", module)  # noqa: B010  # (a type checker sees object)
            setattr(obj, "__qualname__", qualname)  # noqa: B010
        except (AttributeError, TypeError):  # a read-only object
            return
        if isinstance(obj, type):
            for attr, value in vars(obj).items():
                target: object = getattr(value, "__func__", value)  # (class/static methods)
                if isinstance(target, type) or callable(target):
                    fix(target, f"{qualname}.{attr}")

    for name in names:
        fix(namespace[name], name)


__all__ = [
    "TASK_STATUS_IGNORED",
    "USE_DEFAULT_TIMEOUT",
    "Actor",
    "ActorProxy",
    "ActorStoppedError",
    "AsyncRunner",
    "BackgroundTask",
    "Cadence",
    "CancelScope",
    "Choice",
    "Client",
    "ClosedWhileWaitingError",
    "Event",
    "EventLoopTimeoutError",
    "ExceptionDetails",
    "ExceptionGroup",
    "ExecutionRequest",
    "ForcedThreadShutdown",
    "Future",
    "InvalidStateError",
    "LifoQueue",
    "PendingRequest",
    "PriorityQueue",
    "Queue",
    "QueueEmpty",
    "QueueFull",
    "QueueShutDown",
    "QueueStatistics",
    "RegistryClosedError",
    "Reply",
    "Request",
    "RequestRegistry",
    "RunnerClosedError",
    "RunnerStatistics",
    "Schedule",
    "ScheduleLimits",
    "ScopeGroup",
    "Server",
    "ServerStatistics",
    "ShutdownType",
    "Signal",
    "SteppingEventLoop",
    "SupervisedThread",
    "TAExceptionGroup",
    "TaskGroup",
    "TaskStatus",
    "ThreadGroup",
    "ThreadJoinTimeoutError",
    "Till",
    "TimeoutTimer",
    "Trace",
    "TraceDifference",
    "TraceEntry",
    "UnknownRequestError",
    "VirtualClock",
    "WorkTracker",
    "checkpoint",
    "fail_after",
    "hold_virtual_time",
    "move_on_after",
    "request",
    "run_or_raise",
    "wait_for_or_cancel",
]

_fixup_module_metadata(__name__, globals(), [n for n in __all__ if n != "ExceptionGroup"])
