"""Test agent scripts: run client code under a scripted server on virtual time, check its trace.

(Over 600 lines: the public harness, its replay and the pytest fixture, one user-facing
module by design.)

An *agent script* is ordinary async code that talks to a host through a :class:`Client`
stub (``await env.move(1, 0)``) and sleeps with ``asyncio.sleep``. To test it, give the
harness the answers the host would give and compare the requests it made::

    from threaded_async.testing import run_scripted

    def test_agent_walks_then_looks() -> None:
        run = run_scripted(
            lambda server: agent(Env(server)),
            answers={Env.move: [(1, 0), (2, 0)], Env.look: lambda: "wall"},
        )
        assert run.lines() == [
            "t=0 Env.move(1, 0) -> (1, 0)",
            "t=2 Env.move(1, 0) -> (2, 0)",
            "t=2 Env.look() -> 'wall'",
        ]

Time is a :class:`VirtualClock` in autojump mode by default, so ``await asyncio.sleep(3600)``
costs nothing, and the same script with the same answers gives the same trace every run.
Pass ``step=frame_seconds`` (with a clock without autojump) to step time like a game loop.
Answers may differ per client (key them by ``(client_name, Env.move)``) and may be given
late in virtual time (``delays={Env.move: 2.0}``), so an agent's own timeouts can be tested.
:func:`replay` re-runs agent code against the answers of a recorded :class:`Trace` and
names the first request that differs from the recording.

Everything here is plain Python usable from any test runner. When pytest is already
imported (i.e. under pytest), this module also defines a ``scripted`` fixture; enable it
with ``pytest_plugins = ["threaded_async.testing"]`` in a ``conftest.py``. The library
itself never imports pytest.
"""

from __future__ import annotations

import ast
import asyncio
import builtins
import dataclasses
import inspect
import itertools
import os
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, cast, overload

from ._answers import Answer as _FrameAnswer
from ._answers import deliver, frame_order, request_label
from ._codec import canonical_json
from ._control import ExecutionRequest, Request, Server
from ._core import (
    USE_DEFAULT_TIMEOUT,
    Awaiting,
    Deadline,
    Schedule,
    ScheduleLimits,
    VirtualClock,
    as_schedule,
    wait_idle,
    with_seed,
)
from ._explore import (
    Attempt,
    ExplorationReport,
    SeededEpisode,
    explore_seeds,
    failure_text,
    report_first_failure,
)
from ._runner import AsyncRunner
from ._task import BackgroundTask
from ._trace import Trace, TraceEntry

if TYPE_CHECKING:
    from .envs import Episode

T = TypeVar("T")

__all__ = [
    "ExplorationError",
    "ExplorationReport",
    "RecordedError",
    "ScriptError",
    "ScriptHarness",
    "ScriptRun",
    "ScriptedServer",
    "answer_frame",
    "default_check",
    "explore",
    "format_trace",
    "format_trace_entry",
    "replay",
    "replay_schedule",
    "report_lines",
    "run_scripted",
]

#: A scripted answer: a handler called with the request's arguments, or a sequence of
#: answers given in order (an exception instance or class in it is raised to the client).
Answer = Callable[..., Any] | Sequence[Any]

#: What answers and delays are keyed by: the stub method (``Env.move``) or its name, for
#: every client, or ``(client_name, Env.move)`` for one client only.
AnswerKey = Callable[..., Any] | str | tuple[str, Callable[..., Any] | str]

ClientCode = Callable[[Server], Awaitable[T]]

_monotonic = time.monotonic
#: Real seconds between two looks at virtual time while a scripted run waits for its loop
#: to idle (a client that ticks forever never lets it: then max_time ends the run).
_IDLE_SLICE = 0.01


class ScriptError(AssertionError):
    """The scripted run went wrong: answers ran out, the client stalled or ran too long, or
    (in :func:`replay`) it made a request that differs from the recording.

    ``trace`` is the run's trace so far when the harness itself raised it (a stall, too
    many requests, too long a run), else None.
    """

    trace: Trace | None = None


class RecordedError(Exception):
    """An error replayed from a trace whose exception type is not a builtin one (the trace
    keeps only ``"TypeName: message"``). The replayed exception is an instance of a
    subclass named like the recorded type, so it records as the same ``"TypeName:
    message"``; catch it as ``RecordedError``."""


def format_trace_entry(entry: TraceEntry) -> str:
    """One trace entry as a line: ``"t=2.5 Env.move(1, 0) -> (1, 0)"``.

    A failed request ends in ``"!! TypeName: message"``; the time is omitted when the
    server has no virtual clock.
    """
    args = [repr(a) for a in entry.args]
    args.extend(f"{k}={v!r}" for k, v in entry.kwargs.items())
    call = f"{entry.request}({', '.join(args)})"
    outcome = f"!! {entry.error}" if entry.error is not None else f"-> {entry.result!r}"
    if entry.time is None:
        return f"{call} {outcome}"
    return f"t={entry.time:g} {call} {outcome}"


def format_trace(trace: Sequence[TraceEntry]) -> list[str]:
    """Every entry of ``trace`` formatted by :func:`format_trace_entry`."""
    return [format_trace_entry(entry) for entry in trace]


class _Script:
    """Answers one request type from a fixed sequence, in order."""

    def __init__(self, name: str, answers: Sequence[Any]) -> None:
        self._name = name
        self._answers = list(answers)
        self._next = 0

    @property
    def unused(self) -> int:
        return len(self._answers) - self._next

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._next >= len(self._answers):
            shown = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
            raise ScriptError(
                f"no scripted answer left for {self._name}({', '.join(shown)}): "
                f"the script had {len(self._answers)}"
            )
        answer: object = self._answers[self._next]
        self._next += 1
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, type) and issubclass(answer, BaseException):
            raise answer()
        return self._answers[self._next - 1]


def _key_name(key: Callable[..., Any] | str) -> str:
    return key if isinstance(key, str) else getattr(key, "__qualname__", repr(key))


def _split_key(key: AnswerKey) -> tuple[str | None, Callable[..., Any] | str]:
    if isinstance(key, tuple):
        parts = cast("tuple[object, ...]", key)
        if len(parts) != 2 or not isinstance(parts[0], str):
            raise TypeError(f"a per-client key is (client_name, Stub.method), not {key!r}")
        return parts[0], cast("Callable[..., Any] | str", parts[1])
    return None, key


def _show_key(key: AnswerKey) -> str:
    client, fun = _split_key(key)
    return _key_name(fun) if client is None else f"{client}'s {_key_name(fun)}"


def _check_client_code(client_code: object, what: str) -> None:
    if inspect.isawaitable(client_code):
        close = getattr(client_code, "close", None)
        if callable(close):
            close()  # no "never awaited" warning on top of the error
        raise TypeError(
            f"{what} takes a function of the server that returns the agent's coroutine, "
            "e.g. `lambda server: agent(Env(server))`, not a coroutine (it must be created "
            "once the server exists)"
        )
    if not callable(client_code):
        raise TypeError(f"{what} takes a function of the server, not {client_code!r}")


@dataclasses.dataclass(frozen=True)
class ScriptRun(Generic[T]):
    """What a scripted run did.

    Attributes:
        trace: Every answered request, in the order answered (a :class:`Trace`).
        result: The client code's return value (None if it failed).
        error: The client code's exception, if it failed (only kept with
            ``raise_errors=False``; otherwise it is raised).
        time: The virtual time when the client code finished.
        steps: How many requests the host answered.
        unused_answers: Scripted answers never asked for, by request name.
        stranded: The requests still waiting for an answer when the client code ended
            (``"b's Env.move"``): queued and never taken, or given a late answer that had
            not come yet.
        schedule: The seeded :class:`~threaded_async.Schedule` the run took, with the
            choices it made (None: the default order).
    """

    trace: Trace
    result: T | None
    error: BaseException | None
    time: float
    steps: int
    unused_answers: dict[str, int]
    stranded: tuple[str, ...] = ()
    schedule: Schedule | None = dataclasses.field(default=None, compare=False)

    def lines(self) -> list[str]:
        """The trace as text lines (see :func:`format_trace_entry`), easy to assert on."""
        return format_trace(self.trace)


class ScriptedServer(Server):
    """A :class:`Server` that answers from a script, records its trace and owns a virtual clock.

    Args:
        answers: For each stub method (or its name), or for ``(client_name, Stub.method)``
            to answer one client differently: a handler called with the request's
            arguments (sync or async), or a sequence of answers given in order. An answer
            that is an exception (instance or class) is raised to the client; asking for
            more answers than scripted fails the client with :class:`ScriptError`. A
            per-client key wins over a plain one.
        delays: Virtual seconds to wait before giving the answer, keyed like ``answers``
            (the answer is computed when the request is taken, delivered later; time
            moves meanwhile), so an agent's own timeouts can be tested.
        clock: The virtual clock; default ``VirtualClock(autojump=True)``.
        timeout: Real seconds any single wait for the loop may take before
            EventLoopTimeoutError (the runner's ``call_in_loop_timeout``).
        schedule: A seeded :class:`~threaded_async.Schedule` (or its seed; 0 or None:
            the default order; ``schedule_seed=7`` is ``schedule=7``) for the run:
            the loop's orders (see ``VirtualClock``),
            and the harness's: it answers every request queued at an idle moment as one
            *frame*, in an order the schedule chooses, each answer possibly late by what
            the schedule's limits allow (on top of ``delays``). Give it here or to the
            ``clock``, not both.

    Use it as a context manager and call :meth:`run`, or let :func:`run_scripted` do both.

    Raises:
        TypeError: an answer that is a string (wrap it in a list), or a malformed key.
        ValueError: a negative delay; a schedule given with a clock that has another.
    """

    def __init__(
        self,
        answers: Mapping[AnswerKey, Answer] | None = None,
        *,
        delays: Mapping[AnswerKey, float] | None = None,
        clock: VirtualClock | None = None,
        timeout: float | None = 10.0,
        schedule: Schedule | int | None = None,
        schedule_seed: int | None = None,
    ) -> None:
        seeded = as_schedule(with_seed(schedule, schedule_seed))
        if clock is None:
            clock = VirtualClock(autojump=True, schedule=seeded)
        elif seeded is not None and clock.schedule is not seeded:
            raise ValueError(
                "pass the schedule to the clock (VirtualClock(schedule=...)), or let the "
                "harness make the clock"
            )
        self._scripts: dict[str, _Script] = {}
        self._answers: dict[tuple[str | None, Callable[..., Any] | str], Callable[..., Any]] = {}
        for key, answer in (answers or {}).items():
            split = _split_key(key)
            if callable(answer):
                self._answers[split] = answer
            elif isinstance(answer, str | bytes):
                raise TypeError(
                    f"answers for {_show_key(key)} must be a handler or a sequence of "
                    f"answers, not a string (wrap it: [{answer!r}])"
                )
            else:
                script = _Script(_show_key(key), answer)
                self._scripts[_show_key(key)] = script
                self._answers[split] = script
        self._delays: dict[tuple[str | None, Callable[..., Any] | str], float] = {}
        for key, delay in (delays or {}).items():
            if not delay >= 0:
                raise ValueError(f"the delay for {_show_key(key)} must be >= 0, not {delay!r}")
            self._delays[_split_key(key)] = float(delay)
        runner = AsyncRunner(call_in_loop_timeout=timeout, clock=clock)
        super().__init__(runner=runner, record_trace=True)
        self._virtual_clock = clock
        #: Requests given a late answer (delays): stranded if still unanswered at the end.
        self._late: list[Request[Any]] = []

    @property
    def virtual_clock(self) -> VirtualClock:
        """The server's virtual clock."""
        return self._virtual_clock

    def unused_answers(self) -> dict[str, int]:
        """Scripted answers not yet asked for, by request name (only non-zero counts)."""
        return {name: s.unused for name, s in self._scripts.items() if s.unused}

    def _keys(self, request: ExecutionRequest[Any]) -> list[tuple[str | None, Any]]:
        fun = request.fun
        name = getattr(fun, "__name__", None)
        keys: list[tuple[str | None, Any]] = []
        for client in (request.client, None):
            if client is None and keys and keys[-1][0] is None:
                break
            keys.append((client, fun))
            if isinstance(name, str):
                keys.append((client, name))
        return keys

    def _find_handler(self, request: ExecutionRequest[Any]) -> Callable[..., Any] | None:
        for key in self._keys(request):
            try:
                found = self._answers.get(key)
            except TypeError:  # an unhashable function
                continue
            if found is not None:
                return found
        return super()._find_handler(request)

    def _delay(self, request: ExecutionRequest[Any]) -> float:
        for key in self._keys(request):
            try:
                found = self._delays.get(key)
            except TypeError:
                continue
            if found is not None:
                return found
        return 0.0

    def _answer_later(self, request: Request[Any], delay: float) -> None:
        """Work out the answer now (scripts stay in request order), deliver it later."""
        self._late.append(request)
        value, exception = self._compute(request)
        request.answer_after(delay, value, exception=exception)

    def _compute(self, request: Request[Any]) -> tuple[Any, Exception | None]:
        """The scripted answer to ``request`` (its value, or the exception to fail it
        with), worked out now on this thread."""
        handler = self._find_handler(request.execution_request)
        try:
            if handler is None:
                raise self._unknown_request(request.execution_request)
            return self._call_handler(handler, request.execution_request), None
        except Exception as exc:
            return None, exc

    def _answer_scheduled_frame(self, frame: list[Request[Any]], schedule: Schedule) -> None:
        """Answer a frame of requests (all those queued at an idle moment) in the order
        the schedule chooses, each as late as its delay and the schedule's say."""
        answers: list[_FrameAnswer] = []
        late = schedule.limits.max_delay > 0
        order = frame_order(schedule, frame) if len(frame) > 1 else [0]
        for position in order:
            request = frame[position]
            delay = self._delay(request.execution_request)
            if late:
                delay += schedule.answer_delay(request_label(request))
            value, exception = self._compute(request)
            if delay > 0:
                self._late.append(request)
            answers.append((request, value, exception, delay))
        deliver(self, answers, wait=False)  # (run() took the frame at an idle moment)

    def stranded(self) -> tuple[str, ...]:
        """The requests waiting for an answer now: queued and not taken, or given a late
        answer that has not come yet (``"b's Env.move"``; any thread)."""
        waiting = [*self.requests(), *(r for r in self._late if not r.done())]
        return tuple(request_label(r) for r in waiting)

    def _take_delayed(self) -> Request[Any] | None:
        """The oldest queued request, taken, if it is to be answered late."""
        queued = self.requests()
        if not queued or not self._delay(queued[0].execution_request):
            return None
        return self.take()

    def run(
        self,
        client_code: ClientCode[T],
        *,
        step: float | None = None,
        max_steps: int = 10_000,
        max_time: float = 86_400.0,
        raise_errors: bool = True,
    ) -> ScriptRun[T]:
        """Start ``client_code(self)`` and answer its requests until it finishes.

        Call it from the host thread inside ``with server:``; it blocks until the client
        code is done. Each round answers one queued request with :meth:`process` (or,
        with a delay, takes it and answers it later); when none is queued and the loop is
        idle, time moves: by ``step`` seconds via ``clock.advance`` if ``step`` is given,
        else by the clock's autojump.

        Raises the client code's exception (with the trace so far added as a note) unless
        ``raise_errors=False``; :class:`ScriptError` if it makes more than ``max_steps``
        requests, runs past virtual time ``max_time`` (seeded or not, also a client that
        keeps the loop busy on timers forever, ``while True: await asyncio.sleep(1)``),
        or stalls (waits for something that is neither an answer nor a timer, e.g.
        another thread); EventLoopTimeoutError if the loop never goes idle while virtual
        time stands still (a task polling with ``sleep(0)`` forever); TypeError if
        ``client_code`` is a coroutine instead of a function that makes one; ValueError
        for ``step`` with an autojump clock (time would move twice), or neither.
        """
        _check_client_code(client_code, "ScriptedServer.run()")
        clock = self._virtual_clock
        if step is not None and clock.autojump:
            raise ValueError(
                "step= moves time by hand, but this clock jumps by itself (autojump): use "
                "VirtualClock() without autojump for step=, or drop step="
            )
        if step is None and not clock.autojump:
            raise ValueError("pass step=seconds, or use a VirtualClock(autojump=True)")
        if step is not None and not step > 0:
            raise ValueError(f"step must be positive, not {step!r}")
        task = self.create_background_task(client_code(self))
        schedule = clock.schedule
        if schedule is not None:
            steps = self._serve_frames(task, schedule, step, max_steps, max_time)
        else:
            steps = self._serve(task, step, max_steps, max_time)
        stranded = self.stranded()
        error: BaseException | None = None
        result: T | None = None
        try:
            result = task.wait()
        except BaseException as exc:
            if raise_errors:
                exc.add_note(self._trace_note())
                raise
            error = exc
        return ScriptRun(
            trace=self.trace,
            result=result,
            error=error,
            time=clock.time(),
            steps=steps,
            unused_answers=self.unused_answers(),
            stranded=stranded,
            schedule=schedule,
        )

    def _serve(
        self, task: BackgroundTask[Any], step: float | None, max_steps: int, max_time: float
    ) -> int:
        """The default order: answer the oldest queued request, one at a time, until the
        client code is done; move time when nothing is queued. Returns the steps."""
        steps = 0
        while not task.done():
            delayed = self._take_delayed()
            if delayed is not None:
                self._answer_later(delayed, self._delay(delayed.execution_request))
                answered = True
            else:
                answered = self.process()
            if answered:
                steps += 1
                if steps > max_steps:
                    raise self._fail(f"the client code made more than {max_steps} requests")
                continue
            if task.done():
                break
            self._move_time(task, step, max_time)
        return steps

    def _serve_frames(
        self,
        task: BackgroundTask[Any],
        schedule: Schedule,
        step: float | None,
        max_steps: int,
        max_time: float,
    ) -> int:
        """A seeded run: at each idle moment take every queued request (a frame) and
        answer it in one go, in the schedule's order (see :func:`deliver`); move time
        when nothing is queued. Returns the steps."""
        steps = 0
        while not task.done():
            frame: list[Request[Any]] = []
            while (request := self.take()) is not None:
                frame.append(request)
            if frame:
                steps += len(frame)
                if steps > max_steps:
                    raise self._fail(f"the client code made more than {max_steps} requests")
                self._answer_scheduled_frame(frame, schedule)
                self._wait_idle_before(max_time)
                continue
            if task.done():
                break
            self._move_time(task, step, max_time)
        return steps

    def _move_time(self, task: BackgroundTask[Any], step: float | None, max_time: float) -> None:
        """Nothing is queued and the loop was idle: step time (``step``), or let autojump
        move it, and fail a run that went on too long or is stuck."""
        clock = self._virtual_clock
        if clock.time() >= max_time:
            raise self._fail(f"the client code was still running at t={clock.time():g}")
        if step is not None:
            clock.advance(step)
            return
        # Autojump: the loop was idle with nothing queued, so no timer is left to jump to.
        # Make sure it really is idle (a catch-up is bounded) before calling it a stall.
        before = clock.time()
        self._wait_idle_before(max_time)
        if not task.done() and not self.pending and clock.time() == before:
            raise self._fail(
                "the client code is stuck: it waits for something that is neither "
                "a request nor a timer"
            )

    def _wait_idle_before(self, max_time: float) -> None:
        """Wait until the loop is idle, as ``runner.wait_until_idle()`` does, but fail
        the run (ScriptError) once virtual time has reached ``max_time``: on an autojump
        clock a client that ticks forever (``while True: await asyncio.sleep(1)``) never
        lets the loop idle, and waiting for it would cost the whole real ``timeout``,
        then fail as an EventLoopTimeoutError. (A seeded run must not look at the loop
        before it is idle: it returns only then, or raises.)"""
        token = self._token
        token.check_may_block("ScriptedServer.run()", "a host thread")
        clock = self._virtual_clock
        deadline = Deadline(token.resolve(USE_DEFAULT_TIMEOUT))
        while True:
            left = deadline.remaining()
            if wait_idle(
                token, _IDLE_SLICE if left is None else min(_IDLE_SLICE, left), quiet=True
            ):
                return
            if clock.time() >= max_time:
                raise self._fail(f"the client code was still running at t={clock.time():g}")
            if deadline.remaining() == 0:
                raise token.timeout_error(
                    Awaiting("the event loop to become idle"), deadline.timeout
                )

    def _trace_note(self) -> str:
        lines = format_trace(self.trace) or ["(no request answered)"]
        return "trace so far:\n  " + "\n  ".join(lines)

    def _fail(self, message: str) -> ScriptError:
        error = ScriptError(message)
        error.trace = self.trace
        error.add_note(self._trace_note())
        return error


def run_scripted(
    client_code: ClientCode[T],
    answers: Mapping[AnswerKey, Answer] | None = None,
    *,
    delays: Mapping[AnswerKey, float] | None = None,
    clock: VirtualClock | None = None,
    step: float | None = None,
    max_steps: int = 10_000,
    max_time: float = 86_400.0,
    timeout: float | None = 10.0,
    raise_errors: bool = True,
    schedule: Schedule | int | None = None,
    schedule_seed: int | None = None,
) -> ScriptRun[T]:
    """Run ``client_code(server)`` under a fresh :class:`ScriptedServer`; return its run.

    ``client_code`` receives the server and returns the awaitable to run, typically
    ``lambda server: agent(Env(server))`` (passing the coroutine itself is a TypeError
    that says so). See :class:`ScriptedServer` for ``answers``, ``delays``, ``clock``,
    ``timeout`` and ``schedule`` (``schedule=7`` or ``schedule_seed=7``: the run takes
    the orders seed 7 chooses; the same seed gives the same trace every run), and
    :meth:`ScriptedServer.run` for the rest.

    Call it from any thread that is not running an event loop of this library; it blocks
    until the client code finished and the server has shut down. Requests the client
    code left unanswered are cancelled at shutdown.
    """
    _check_client_code(client_code, "run_scripted()")
    if step is not None and clock is not None and clock.autojump:
        raise ValueError(
            "step= moves time by hand, but this clock jumps by itself (autojump): use "
            "VirtualClock() without autojump for step=, or drop step="
        )
    with ScriptedServer(
        answers,
        delays=delays,
        clock=clock,
        timeout=timeout,
        schedule=with_seed(schedule, schedule_seed),
    ) as server:
        return server.run(
            client_code,
            step=step,
            max_steps=max_steps,
            max_time=max_time,
            raise_errors=raise_errors,
        )


class _ReplayServer(ScriptedServer):
    """Answers every client from its own part of a recorded trace, in order."""

    def __init__(
        self, trace: Iterable[TraceEntry], clock: VirtualClock, timeout: float | None
    ) -> None:
        super().__init__(clock=clock, timeout=timeout)
        self._expected: dict[str | None, deque[TraceEntry]] = {}
        self._counts: dict[str | None, int] = {}
        #: Per recorded entry (by id), its rank among its client's requests of its name:
        #: how a mismatch names the step (an env agent's 12th EnvClient.step).
        self._nth: dict[int, int] = {}
        ranks: dict[tuple[str | None, str], int] = {}
        for entry in trace:
            self._expected.setdefault(entry.client, deque()).append(entry)
            key = (entry.client, entry.request)
            ranks[key] = self._nth[id(entry)] = ranks.get(key, 0) + 1
        self.mismatch: ScriptError | None = None

    def _next_entry(self, request: ExecutionRequest[Any]) -> TraceEntry | ScriptError:
        """The recorded entry that answers ``request``, or the error saying how it differs."""
        client = request.client
        index = self._counts.get(client, 0)
        self._counts[client] = index + 1
        expected = self._expected.get(client)
        asked = _call_text(TraceEntry(request.name, request.args, request.kw_args))
        who = "the client" if client is None else f"client {client!r}"
        if not expected:
            return self._mismatch(
                f"{who} made request #{index + 1}, {asked}, but the recording has only "
                f"{index} for it"
            )
        entry = expected.popleft()
        same = (
            entry.request == request.name
            and canonical_json(entry.args) == canonical_json(tuple(request.args))
            and canonical_json(entry.kwargs) == canonical_json(dict(request.kw_args))
        )
        if not same:
            nth = self._nth.get(id(entry), 0)
            return self._mismatch(
                f"request #{index + 1} of {who} ({entry.request} #{nth} in the recording) "
                f"differs from the recording: it asked {asked}, the recording has "
                f"{_call_text(entry)}"
            )
        return entry

    def _mismatch(self, message: str) -> ScriptError:
        error = ScriptError(message)
        if self.mismatch is None:
            self.mismatch = error
        return error

    def _find_handler(self, request: ExecutionRequest[Any]) -> Callable[..., Any] | None:
        entry = self._next_entry(request)
        return lambda *args, **kwargs: _replayed(entry)

    def _upcoming(self, request: ExecutionRequest[Any]) -> TraceEntry | None:
        expected = self._expected.get(request.client)
        return expected[0] if expected else None

    def _delay(self, request: ExecutionRequest[Any]) -> float:
        entry = self._upcoming(request)
        if entry is None or entry.answered_at is None or entry.issued_at is None:
            return 0.0
        return max(0.0, entry.answered_at - entry.issued_at)

    def _take_delayed(self) -> Request[Any] | None:
        """Also take, to be handled late, a request its client gave up on in the
        recording: it is never answered, unless the replayed client does not give up."""
        queued = self.requests()
        if queued:
            entry = self._upcoming(queued[0].execution_request)
            if entry is not None and entry.error == "cancelled":
                return self.take()
        return super()._take_delayed()

    def _answer_later(self, request: Request[Any], delay: float) -> None:
        entry = self._next_entry(request.execution_request)
        if isinstance(entry, ScriptError):
            request.answer_after(delay, exception=entry)
        elif entry.error == "cancelled":
            # In the recording the client gave up (its own timeout, a cancellation) by
            # then: the replayed one should too; if it still waits, it differs.
            who = "the client" if request.client is None else f"client {request.client!r}"
            at = "" if entry.answered_at is None else f" at t={entry.answered_at:g}"
            # Looked at just after that time: a client whose timer fires at it gives up
            # a few loop iterations later (wait_for cancels the request then).
            request.answer_after(
                delay + 2 * self.virtual_clock.resolution,
                exception=_StillWaiting(
                    f"{who} gave up on its request {_call_text(entry)}{at} in the "
                    "recording (its own timeout, or a cancellation); the replayed one "
                    "still waited for an answer"
                ),
            )
        else:
            try:
                value = _replayed(entry)
            except Exception as exc:
                request.answer_after(delay, exception=exc)
            else:
                request.answer_after(delay, value)

    def settle(self, item: Request[Any], state: int, value: Any) -> bool:
        answered = super().settle(item, state, value)
        if answered and isinstance(value, _StillWaiting):
            self._mismatch(str(value))  # the replayed client was still waiting for it
        return answered

    def leftovers(self) -> list[str]:
        return [
            f"client {client!r} ended with {len(left)} recorded request(s) not made, "
            f"first {_call_text(left[0])}"
            for client, left in self._expected.items()
            if left
        ]


def _call_text(entry: TraceEntry) -> str:
    """``Env.move(1, 0)``: the call an entry records, without time or answer."""
    bare = TraceEntry(entry.request, entry.args, entry.kwargs)
    return format_trace_entry(bare).rsplit(" -> ", 1)[0]


class _StillWaiting(ScriptError):
    """A replayed client kept waiting where the recorded one had given up."""


def _replayed(entry: TraceEntry | ScriptError) -> Any:
    if isinstance(entry, ScriptError):
        raise entry  # the client sees how it differs; replay() raises it too
    error = entry.error
    if error is None:
        return entry.result
    if error == "cancelled":
        raise asyncio.CancelledError("cancelled in the recording")
    raise _recorded_error(error)


def _recorded_error(error: str) -> Exception:
    """The exception to raise again for a recorded ``"TypeName: message"``: one that
    records as exactly that text. A builtin type is rebuilt (a ``KeyError`` from its
    key's repr, so ``KeyError('x')`` replays as ``KeyError('x')``, not ``KeyError("'x'")``);
    if the builtin's own text would differ, or for any other type, an instance of a
    subclass named like the recorded type (of the builtin, else of
    :class:`RecordedError`) whose text is the recorded message."""
    name, _, message = error.partition(": ")
    kind = getattr(builtins, name, None)
    if not (isinstance(kind, type) and issubclass(kind, Exception)):
        return _named(name, RecordedError, message)
    candidates: list[tuple[Any, ...]] = [(message,)]
    try:
        candidates.insert(0, (ast.literal_eval(message),))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    if not message:
        candidates.insert(0, ())
    for args in candidates:
        try:
            exc = kind(*args)
        except Exception:  # an exception type that takes other arguments
            continue
        if f"{type(exc).__name__}: {exc}" == error:
            return exc
    return _named(name, kind, message)


def _named(name: str, base: type[Exception], message: str) -> Exception:
    """An instance of a subclass of ``base`` called ``name`` whose str() is ``message``."""

    def text(self: Exception) -> str:
        return message

    try:
        cls = type(name, (base,), {"__str__": text, "__module__": __name__})
        return cls(message)
    except Exception:  # a base that cannot be subclassed or built this way
        return RecordedError(f"{name}: {message}")


def replay(
    trace: Iterable[TraceEntry],
    client_code: ClientCode[T],
    *,
    max_steps: int = 10_000,
    max_time: float = 86_400.0 * 365,
    timeout: float | None = 10.0,
    start: float | None = None,
) -> ScriptRun[T]:
    """Re-run agent code against the answers recorded in ``trace``, per client, on virtual
    time; return the run (its trace equals the recording if the code did the same).

    The virtual clock starts at ``start``: by default 0.0, where the clocks of
    :func:`run_scripted` and the env hosts start (or the earliest recorded time, if that is
    negative); pass the start of the recording's clock if it started elsewhere (e.g.
    ``VirtualClock(start=...)``), or the replayed times will be shifted.

    Each client's requests are answered, in order, with what that client got in the
    recording (its result, or its error: a builtin exception type is raised again, any
    other as :class:`RecordedError`), at the same virtual delay after the request. Clients
    are matched by name, so create them in the same order (or with the same names).
    Raises :class:`ScriptError` naming the first request that differs from the recording
    (or that the recording does not have, or a recorded request never made), and the
    agent code's own exception otherwise. ``client_code`` as for :func:`run_scripted`.
    """
    _check_client_code(client_code, "replay()")
    entries = list(trace)
    if start is None:
        # An empty trace, or one of a real-time server, has no times: start at 0.
        start = min([0.0, *(e.issued_at for e in entries if e.issued_at is not None)])
    clock = VirtualClock(start=start, autojump=True)
    with _ReplayServer(entries, clock, timeout) as server:
        try:
            run = server.run(client_code, max_steps=max_steps, max_time=max_time)
        except BaseException as exc:
            if server.mismatch is not None:
                raise server.mismatch from exc
            raise
        if server.mismatch is not None:
            raise server.mismatch
        leftovers = server.leftovers()
        if leftovers:
            raise ScriptError("; ".join(leftovers))
        return run


def answer_frame(
    server: Server,
    answers: Sequence[tuple[Request[Any], Any, BaseException | None]],
    *,
    schedule: Schedule | None = None,
    timeout: float | None = USE_DEFAULT_TIMEOUT,
) -> None:
    """Answer requests a host took together (a *frame*: a lockstep step, the requests
    queued at one moment) the way the seeded hosts do.

    ``answers`` holds ``(request, value, exception)`` triples in their default order
    (``exception`` None to answer with ``value``, else to fail the request with it).
    With a seeded ``schedule`` (default: the server clock's, if it has one) the frame is
    answered as the scripted harness and the env hosts answer theirs: once the loop is
    idle, in the order the schedule chooses (when there are several), each answer as
    late as the schedule says (within its limits), all handed to the loop in one
    callback, so that the run repeats exactly for the same seed; the call returns once
    that callback is queued (``server.runner.wait_until_idle()`` waits for the agents'
    reactions). Without a schedule they are answered at once, in order, as one
    :meth:`~threaded_async.Server.batch` (one wake-up of the loop).

    For a host thread. Blocks (with a schedule) until the loop is idle: raises
    EventLoopTimeoutError if it is not within ``timeout``, RunnerClosedError if the
    server is not running. An answer whose client gave up meanwhile is dropped.
    """
    if schedule is None and server.clock is not None:
        schedule = server.clock.schedule
    if schedule is None:
        with server.batch():
            for request, value, exception in answers:
                if exception is not None:
                    request.fail(exception)
                else:
                    request.answer(value)
        return
    requests = [request for request, _, _ in answers]
    order = frame_order(schedule, requests) if len(requests) > 1 else list(range(len(requests)))
    late = schedule.limits.max_delay > 0
    frame: list[_FrameAnswer] = []
    for position in order:
        request, value, exception = answers[position]
        delay = schedule.answer_delay(request_label(request)) if late else 0.0
        frame.append((request, value, exception, delay))
    deliver(server, frame, timeout)


# -- exploring schedules (SPEC §12) ------------------------------------------------------
ExplorationReport.__module__ = __name__  # its public home (reprs, pickles)


class ExplorationError(AssertionError):
    """Code failed under a seeded schedule: what the pytest plugin raises (``str()`` is the
    report's text; ``report`` is the :class:`ExplorationReport`)."""

    def __init__(self, report: ExplorationReport, text: str | None = None) -> None:
        super().__init__(str(report) if text is None else text)
        self.report = report


def default_check(run: ScriptRun[Any] | Episode) -> None:
    """The check :func:`explore` applies when given none: the run raised nothing, and no
    client was left waiting for an answer.

    For a :class:`ScriptRun`: no exception, and no request stranded (queued, or given a
    late answer, still unanswered when the client code ended). For an env
    :class:`~threaded_async.envs.Episode`: no agent raised, and every agent returned (one
    cancelled while it waited for an answer did not). Raises AssertionError saying what
    failed; returns None otherwise.
    """
    if isinstance(run, ScriptRun):
        if run.error is not None:
            raise AssertionError(f"the client code raised {failure_text(run.error)}")
        if run.stranded:
            raise AssertionError(f"requests left unanswered: {', '.join(run.stranded)}")
        return
    if run.error is not None:
        raise AssertionError(
            f"agent {run.error.agent!r} raised {run.error.type}: {run.error.message}"
        )
    waiting = [agent for agent in run.agents if agent not in run.results]
    if waiting:
        raise AssertionError(
            f"agents {', '.join(waiting)} did not return (cancelled at the end of the episode)"
        )


def _verdict(
    check: Callable[[Any], object] | None, result: Any
) -> tuple[str | None, BaseException | None]:
    """What a check says of a run: ``(failure, error)``, ``(None, None)`` if it passed."""
    if check is None:
        error: object = getattr(result, "error", None)
        if isinstance(result, ScriptRun) and isinstance(error, BaseException):
            return failure_text(error), error  # the client code's own exception
        exception = getattr(error, "exception", None)  # an episode's AgentError
        if isinstance(exception, BaseException):
            agent = getattr(error, "agent", "?")
            what = f"{type(exception).__name__}: {exception}"
            return f"agent {agent!r} raised {what}", exception
        check = cast("Callable[[Any], object]", default_check)
    try:
        verdict = check(result)
    except Exception as exc:
        return failure_text(exc), exc
    if verdict is False:
        return "the check returned False", None
    return None, None


def _scripted_once(
    client_code: ClientCode[Any],
    answers: Mapping[AnswerKey, Answer] | None,
    schedule: Schedule,
    *,
    step: float | None,
    raise_errors: bool,
    **options: Any,
) -> ScriptRun[Any]:
    """One :func:`run_scripted` under ``schedule`` (stepped time: on a clock without
    autojump that carries it)."""
    if step is not None:
        clock = VirtualClock(schedule=schedule)
        return run_scripted(
            client_code, answers, clock=clock, step=step, raise_errors=raise_errors, **options
        )
    return run_scripted(
        client_code, answers, schedule=schedule, raise_errors=raise_errors, **options
    )


def report_lines(trace: Iterable[TraceEntry]) -> tuple[str, ...]:
    """A trace as lines that name each request's client: ``"t=2 b: Env.move(1) -> 3"``."""
    lines: list[str] = []
    for entry in trace:
        text = format_trace_entry(entry)
        if entry.client is not None:
            if entry.time is not None:
                head, _, rest = text.partition(" ")
                text = f"{head} {entry.client}: {rest}"
            else:
                text = f"{entry.client}: {text}"
        lines.append(text)
    return tuple(lines)


def _attempt_of(
    schedule: Schedule, check: Callable[[Any], object] | None, run: Callable[[], Any]
) -> Attempt:
    """Run once and judge it: an exception out of ``run`` is a failure too."""
    try:
        result = run()
    except Exception as exc:
        episode = getattr(exc, "episode", None)  # run_episode's agent error
        trace = getattr(exc, "trace", None) or getattr(episode, "trace", None) or Trace()
        return Attempt(
            failure_text(exc), exc, trace, report_lines(trace), schedule.choices, episode
        )
    failure, error = _verdict(check, result)
    trace = result.trace
    return Attempt(failure, error, trace, report_lines(trace), schedule.choices, result)


@overload
def explore(
    client_code: ClientCode[Any],
    answers: Mapping[AnswerKey, Answer] | None = None,
    *,
    seeds: int | Iterable[int] = 100,
    limits: ScheduleLimits | None = None,
    check: Callable[[ScriptRun[Any]], object] | None = None,
    shrink_runs: int = 200,
    time_limit: float | None = None,
    delays: Mapping[AnswerKey, float] | None = None,
    step: float | None = None,
    max_steps: int = 10_000,
    max_time: float = 86_400.0,
    timeout: float | None = 10.0,
) -> ExplorationReport | None: ...


@overload
def explore(
    *,
    episode: Callable[[Schedule], Episode],
    seeds: int | Iterable[int] = 100,
    limits: ScheduleLimits | None = None,
    check: Callable[[Episode], object] | None = None,
    shrink_runs: int = 200,
    time_limit: float | None = None,
    engine: Literal["local", "process", "ray"] = "local",
    workers: int | None = None,
) -> ExplorationReport | None: ...


def explore(
    client_code: ClientCode[Any] | None = None,
    answers: Mapping[AnswerKey, Answer] | None = None,
    *,
    episode: Callable[[Schedule], Episode] | None = None,
    seeds: int | Iterable[int] = 100,
    limits: ScheduleLimits | None = None,
    check: Callable[[Any], object] | None = None,
    shrink_runs: int = 200,
    time_limit: float | None = None,
    engine: Literal["local", "process", "ray"] = "local",
    workers: int | None = None,
    delays: Mapping[AnswerKey, float] | None = None,
    step: float | None = None,
    max_steps: int = 10_000,
    max_time: float = 86_400.0,
    timeout: float | None = 10.0,
) -> ExplorationReport | None:
    """Run agent code under many seeded schedules; return the first failure, shrunk.

    Two shapes of code:

    * ``explore(client_code, answers, ...)``: the :func:`run_scripted` shape, run once per
      seed as ``run_scripted(client_code, answers, schedule=seed, ...)``;
    * ``explore(episode=fn, ...)``: ``fn(schedule)`` builds an env host and returns
      ``host.run_episode(agents, seed=..., schedule=schedule)`` (an env seed of its
      choosing: the schedules vary, the env does not).

    Each run is judged by ``check(run)`` (the :class:`ScriptRun`, or the ``Episode``): it
    fails if ``check`` raises (an ``assert`` with a message, say) or returns False; the
    default, :func:`default_check`, fails a run that raised or left a client waiting
    for an answer. An exception out of the run itself (a stalled script, an episode
    that timed out, an agent's error re-raised by ``run_episode``) fails it too.

    The first failing seed's schedule is then shrunk (at most ``shrink_runs`` more runs)
    to the fewest deviations from the default order, with the simplest orders and
    smallest delays, that still fail, and replayed once more to label its choices. Seed
    0 is the default order: a failure there is not an ordering bug (the report says so).

    Args:
        client_code: As for :func:`run_scripted` (a fresh run, and fresh scripted
            answers, per seed: keep the agents' shared state inside it).
        answers: As for :func:`run_scripted`. A handler with state of its own keeps it
            from one run to the next.
        episode: A function of the :class:`~threaded_async.Schedule` that runs one episode
            under it (instead of ``client_code``). With ``engine="process"`` or
            ``"ray"`` it must be picklable (a module-level function).
        seeds: How many seeds (``range(seeds)``, at least 1), or which (an iterable of
            at least one seed: an empty one is refused, as it would pass having run
            nothing).
        limits: What the schedules may vary (default ``ScheduleLimits()``: every order,
            no late answers; give ``max_delay`` to try late answers too).
        check: Judges each run (see above).
        shrink_runs: The most runs shrinking may take (0: no shrinking). Shrinking
            stops as soon as they are spent, with the smallest failing schedule found
            so far (``report.shrink_stopped`` says so).
        time_limit: Real seconds the whole exploration may take, shrinking included:
            no new seed is tried once they are spent (at least one seed runs), and
            shrinking stops there too, reporting the smallest failing schedule found so
            far (``report.shrink_stopped == "time_limit"``). The report's one last
            replay, which labels its choices and tells whether the failure repeats, is
            made even then (and one run already under way is not cut short). None: no
            limit.
        engine: Where the episodes run: ``"local"`` (this process, one seed at a time,
            stopping at the first failure), ``"process"`` or ``"ray"`` (through
            :func:`~threaded_async.envs.run_episodes`, a batch of seeds at a time). The
            failing seed is run again and shrunk in this process.
        workers: Workers for ``"process"`` and ``"ray"``.
        delays: As for :func:`run_scripted`.
        step: As for :func:`run_scripted`.
        max_steps: As for :func:`run_scripted`.
        max_time: As for :func:`run_scripted`.
        timeout: As for :func:`run_scripted`.

    Returns:
        None if every seed tried passed, else an :class:`ExplorationReport` (``str()``
        of it says what failed, under which choices, and how to replay it). With a
        ``time_limit``, None may also mean that time ran out before every seed was
        tried: it says that no failure was found, not how many schedules ran (give
        ``seeds`` as an iterable that counts what it hands out to know that).

    Call it from a thread that runs no event loop of this library; it blocks while the
    runs go. Raises TypeError for neither or both of ``client_code`` and ``episode`` (or
    a coroutine for ``client_code``), or a ``seeds``, ``shrink_runs`` or ``time_limit``
    of the wrong type; ValueError for no seed to try (``seeds`` below 1, or empty), a
    negative ``shrink_runs`` or ``time_limit``, or an engine other than ``"local"``
    with ``client_code``; what ``run_episodes`` raises for its engine (ImportError for
    Ray, say).
    """
    if (client_code is None) == (episode is None):
        raise TypeError("explore() takes client_code (the run_scripted shape) or episode=, one")
    started = _monotonic()
    limits = ScheduleLimits() if limits is None else limits
    seed_list = _seeds_to_try(seeds)
    if isinstance(shrink_runs, bool) or not isinstance(shrink_runs, int):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise TypeError(f"shrink_runs must be an int, not {shrink_runs!r}")
    if shrink_runs < 0:
        raise ValueError(f"shrink_runs must be >= 0 (0: no shrinking), not {shrink_runs!r}")
    if time_limit is not None:
        if isinstance(time_limit, bool) or not isinstance(time_limit, int | float):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"time_limit must be a number of seconds or None, not {time_limit!r}")
        if not time_limit >= 0:  # (also NaN)
            raise ValueError(f"time_limit must be >= 0 seconds or None, not {time_limit!r}")
    deadline = None if time_limit is None else started + time_limit
    rerun: Callable[[Schedule], Any]
    if client_code is not None:
        _check_client_code(client_code, "explore()")
        if engine != "local":
            raise ValueError(
                "engine= runs episode functions (episode=...); scripted client code runs "
                'in this process (engine="local")'
            )
        code = client_code
        options: dict[str, Any] = {
            "delays": delays,
            "max_steps": max_steps,
            "max_time": max_time,
            "timeout": timeout,
        }

        def rerun_scripted(schedule: Schedule) -> ScriptRun[Any]:
            return _scripted_once(code, answers, schedule, step=step, raise_errors=False, **options)

        rerun = rerun_scripted
    else:
        assert episode is not None
        rerun = episode

    def attempt(schedule: Schedule) -> Attempt:
        return _attempt_of(schedule, check, lambda: rerun(schedule))

    if episode is not None and engine != "local":
        found = _explore_on_engine(
            episode, seed_list, limits, check, attempt, engine, workers, time_limit
        )
    else:
        found = explore_seeds(attempt, seed_list, limits, time_limit)
    if found is None:
        return None
    return report_first_failure(attempt, limits, found, shrink_runs, rerun, deadline=deadline)


def _seeds_to_try(seeds: int | Iterable[int]) -> Iterable[int]:
    """``range(seeds)``, or the seeds given; ValueError for none at all (which would
    report a pass without running anything)."""
    if isinstance(seeds, bool):
        raise TypeError(f"seeds must be a count or an iterable of seeds, not {seeds!r}")
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError(f"seeds must be at least 1 (how many seeds to try), not {seeds!r}")
        return range(seeds)
    pending = iter(seeds)
    for first in pending:
        return itertools.chain((first,), pending)
    raise ValueError("seeds is empty: no schedule would be tried")


def _explore_on_engine(
    episode: Callable[[Schedule], Episode],
    seeds: Iterable[int],
    limits: ScheduleLimits,
    check: Callable[[Any], object] | None,
    attempt: Callable[[Schedule], Attempt],
    engine: Literal["local", "process", "ray"],
    workers: int | None,
    time_limit: float | None,
) -> tuple[int, int, Attempt] | None:
    """Run the seeds through run_episodes' engine, a batch at a time; at the first batch
    with a failure, run its first failing seed again here (to shrink it)."""
    from .envs import EpisodeFailure, run_episodes

    batch_size = 8 * max(1, workers or os.cpu_count() or 1)
    function = SeededEpisode(episode, limits)
    started = _monotonic()
    pending = iter(seeds)
    count = 0
    while batch := [seed for _, seed in zip(range(batch_size), pending, strict=False)]:
        results = run_episodes(function, batch, engine=engine, workers=workers, raise_errors=False)
        for seed, result in zip(batch, results, strict=True):
            count += 1
            if isinstance(result, EpisodeFailure):
                failed = True
            else:
                failed = _verdict(check, result)[0] is not None
            if not failed:
                continue
            again = attempt(Schedule(seed, limits=limits, explain=False))
            if not again.failed:  # not repeatable here: report what the worker saw
                again = _remote_attempt(result)
            return seed, count, again
        if time_limit is not None and _monotonic() - started >= time_limit:
            return None
    return None


def _remote_attempt(result: Episode | BaseException) -> Attempt:
    """What a worker's failure says, when the same seed passes in this process."""
    if isinstance(result, BaseException):
        episode = getattr(result, "episode", None)
        trace = episode.trace if episode is not None else Trace()
        return Attempt(str(result), result, trace, report_lines(trace), (), episode)
    trace = result.trace
    return Attempt("failed in a worker only", None, trace, report_lines(trace), (), result)


@overload
def replay_schedule(report: ExplorationReport, *, raise_errors: bool = True) -> Any: ...


@overload
def replay_schedule(
    report: ExplorationReport | str | os.PathLike[str],
    client_code: ClientCode[T],
    answers: Mapping[AnswerKey, Answer] | None = None,
    *,
    raise_errors: bool = True,
    step: float | None = None,
    **options: Any,
) -> ScriptRun[T]: ...


@overload
def replay_schedule(
    report: ExplorationReport | str | os.PathLike[str],
    *,
    episode: Callable[[Schedule], Episode],
    raise_errors: bool = True,
) -> Episode: ...


def replay_schedule(
    report: ExplorationReport | str | os.PathLike[str],
    client_code: ClientCode[Any] | None = None,
    answers: Mapping[AnswerKey, Answer] | None = None,
    *,
    episode: Callable[[Schedule], Episode] | None = None,
    raise_errors: bool = True,
    step: float | None = None,
    **options: Any,
) -> Any:
    """Run explored code once more under a report's shrunk schedule (its choices, the
    default order everywhere else): the failing run again, exactly.

    ``replay_schedule(report)`` re-runs what :func:`explore` ran, in this process.
    ``replay_schedule("bug.schedule", client_code, answers)`` (or ``episode=fn``) reads
    a report saved with :meth:`ExplorationReport.save` (hostile input: see
    :meth:`ExplorationReport.load`) and runs the given code under it; ``step`` and
    ``options`` as for :func:`run_scripted`. Returns the run: a :class:`ScriptRun`, or
    the ``Episode``.

    With ``raise_errors`` (the default) the failure is raised: the client code's (or an
    agent's) exception, with the trace as a note, so a debugger stops where it failed;
    otherwise the run is returned with its ``error`` set. A run that fails only by
    ``check`` returns normally (check it again). The same Python version, code and
    answers replay exactly; other code (a fix) runs under the same choices where they
    still fit. Raises ValueError for a malformed file, TypeError when a file is given
    without code (or code with an in-process report that has its own).
    """
    loaded = report if isinstance(report, ExplorationReport) else ExplorationReport.load(report)
    schedule = loaded.schedule()
    if client_code is not None:
        _check_client_code(client_code, "replay_schedule()")
        return _scripted_once(
            client_code, answers, schedule, step=step, raise_errors=raise_errors, **options
        )
    if episode is not None:
        result = episode(schedule)
    elif loaded.rerun is not None:
        result = loaded.rerun(schedule)
    else:
        raise TypeError(
            "a report read from a file does not know the code it explored: pass "
            "client_code (and answers), or episode="
        )
    error: object = getattr(result, "error", None)
    if raise_errors:
        if isinstance(result, ScriptRun) and isinstance(error, BaseException):
            raise error
        exception = getattr(error, "exception", None)
        if isinstance(exception, BaseException):
            raise exception
    return cast("Any", result)


class ScriptHarness:
    """What the ``scripted`` pytest fixture provides: :func:`run_scripted` plus a record.

    ``scripted.run(...)`` takes the same arguments as :func:`run_scripted`; ``runs``
    keeps every run of the test, so a failing test can print the traces.
    """

    def __init__(self) -> None:
        self.runs: list[ScriptRun[Any]] = []

    def run(
        self,
        client_code: ClientCode[T],
        answers: Mapping[AnswerKey, Answer] | None = None,
        **options: Any,
    ) -> ScriptRun[T]:
        """Like :func:`run_scripted`; also appends the run to :attr:`runs`."""
        result = run_scripted(client_code, answers, **options)
        self.runs.append(result)
        return result


if "pytest" in sys.modules:  # define the fixture only under pytest; never import it
    import pytest

    @pytest.fixture(name="scripted")
    def scripted_fixture() -> ScriptHarness:
        """A :class:`ScriptHarness`: ``scripted.run(client_code, answers={...})``."""
        return ScriptHarness()
