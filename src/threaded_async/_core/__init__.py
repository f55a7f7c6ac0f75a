"""L0, the core: how threads and coroutines wait and wake, the event loop and its time.

It knows no runner. Every other module imports from here (``from ._core import X``),
never from the modules inside. ``docs/internals.md`` has the layer table and the wake-up
protocol.
"""

from ._clock import ClockHost, JumpHold, VirtualClock, hold_virtual_time
from ._errors import (
    Awaiting,
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
from ._family import TaskFamily, adopting_task_factory, current_family, family_of_context
from ._idle import (
    CATCH_UP_ITERATIONS,
    CATCH_UP_SECONDS,
    FOREIGN_LOOP_HOPS,
    wait_idle,
)
from ._loop import RequestHolds, SteppingEventLoop
from ._outcome import (
    CANCELLED,
    EXCEPTION,
    PENDING,
    RESULT,
    Outcome,
    Parker,
    failure_answer,
    report_callback_error,
)
from ._schedule import (
    CHOICE_KINDS,
    Choice,
    ChoiceKind,
    Schedule,
    ScheduleLimits,
    as_schedule,
    describe_task,
    with_seed,
)
from ._timeouts import USE_DEFAULT_TIMEOUT, Deadline, TimeoutTimer, check_timeout, resolve_timeout
from ._timer import RealTimeCall, call_at, call_later
from ._token import LoopToken, token_of
from ._view import ResultView, make_view
from ._vtime import VirtualTimeLoop
from ._waiters import (
    AsyncWaiter,
    LoopHint,
    ThreadWaiter,
    Waiter,
    WaiterList,
    check_may_block,
    resolve_future,
)

__all__ = [
    "CANCELLED",
    "CATCH_UP_ITERATIONS",
    "CATCH_UP_SECONDS",
    "CHOICE_KINDS",
    "EXCEPTION",
    "FOREIGN_LOOP_HOPS",
    "PENDING",
    "RESULT",
    "USE_DEFAULT_TIMEOUT",
    "AsyncWaiter",
    "Awaiting",
    "Choice",
    "ChoiceKind",
    "ClockHost",
    "ClosedWhileWaitingError",
    "Deadline",
    "EventLoopTimeoutError",
    "ExceptionDetails",
    "ForcedThreadShutdown",
    "InvalidStateError",
    "JumpHold",
    "LoopHint",
    "LoopToken",
    "Outcome",
    "Parker",
    "QueueEmpty",
    "QueueFull",
    "QueueShutDown",
    "RealTimeCall",
    "RequestHolds",
    "ResultView",
    "RunnerClosedError",
    "Schedule",
    "ScheduleLimits",
    "ShutdownType",
    "SteppingEventLoop",
    "TAExceptionGroup",
    "TaskFamily",
    "ThreadWaiter",
    "TimeoutTimer",
    "VirtualClock",
    "VirtualTimeLoop",
    "Waiter",
    "WaiterList",
    "adopting_task_factory",
    "as_schedule",
    "call_at",
    "call_later",
    "check_may_block",
    "check_timeout",
    "current_family",
    "describe_callable",
    "describe_task",
    "failure_answer",
    "family_of_context",
    "hold_virtual_time",
    "make_view",
    "report_callback_error",
    "resolve_future",
    "resolve_timeout",
    "token_of",
    "wait_idle",
    "with_seed",
]
