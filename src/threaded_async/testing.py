"""Test agent scripts: run client code under a scripted server on virtual time, check its trace.

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

Everything here is plain Python usable from any test runner. When pytest is already
imported (i.e. under pytest), this module also defines a ``scripted`` fixture; enable it
with ``pytest_plugins = ["threaded_async.testing"]`` in a ``conftest.py``. The library
itself never imports pytest.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from ._control import Server
from ._core import VirtualClock
from ._runner import AsyncRunner
from ._trace import TraceEntry

T = TypeVar("T")

__all__ = [
    "ScriptError",
    "ScriptHarness",
    "ScriptRun",
    "ScriptedServer",
    "format_trace",
    "format_trace_entry",
    "run_scripted",
]

#: A scripted answer: a handler called with the request's arguments, or a sequence of
#: answers given in order (an exception instance or class in it is raised to the client).
Answer = Callable[..., Any] | Sequence[Any]

ClientCode = Callable[[Server], Awaitable[T]]


class ScriptError(AssertionError):
    """The scripted run went wrong: answers ran out, the client stalled or ran too long."""


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


@dataclasses.dataclass(frozen=True)
class ScriptRun(Generic[T]):
    """What a scripted run did.

    Attributes:
        trace: Every answered request, in the order answered.
        result: The client code's return value (None if it failed).
        error: The client code's exception, if it failed (only kept with
            ``raise_errors=False``; otherwise it is raised).
        time: The virtual time when the client code finished.
        steps: How many requests the host answered.
        unused_answers: Scripted answers never asked for, by request name.
    """

    trace: list[TraceEntry]
    result: T | None
    error: BaseException | None
    time: float
    steps: int
    unused_answers: dict[str, int]

    def lines(self) -> list[str]:
        """The trace as text lines (see :func:`format_trace_entry`), easy to assert on."""
        return format_trace(self.trace)


class ScriptedServer(Server):
    """A :class:`Server` that answers from a script, records its trace and owns a virtual clock.

    Args:
        answers: For each stub method (or its name): a handler called with the request's
            arguments (sync or async), or a sequence of answers given in order. An answer
            that is an exception (instance or class) is raised to the client; asking for
            more answers than scripted fails the client with :class:`ScriptError`.
        clock: The virtual clock; default ``VirtualClock(autojump=True)``.
        timeout: Real seconds any single wait for the loop may take before
            EventLoopTimeoutError (the runner's ``call_in_loop_timeout``).

    Use it as a context manager and call :meth:`run`, or let :func:`run_scripted` do both.
    """

    def __init__(
        self,
        answers: Mapping[Callable[..., Any] | str, Answer] | None = None,
        *,
        clock: VirtualClock | None = None,
        timeout: float | None = 10.0,
    ) -> None:
        if clock is None:
            clock = VirtualClock(autojump=True)
        self._scripts: dict[str, _Script] = {}
        handlers: dict[Callable[..., Any] | str, Callable[..., Any]] = {}
        for key, answer in (answers or {}).items():
            if callable(answer):
                handlers[key] = answer
            elif isinstance(answer, str | bytes):
                raise TypeError(
                    f"answers for {_key_name(key)} must be a handler or a sequence of "
                    f"answers, not a string (wrap it: [{answer!r}])"
                )
            else:
                script = _Script(_key_name(key), answer)
                self._scripts[_key_name(key)] = script
                handlers[key] = script
        runner = AsyncRunner(call_in_loop_timeout=timeout, clock=clock)
        super().__init__(handlers=handlers, runner=runner, record_trace=True)
        self._virtual_clock = clock

    @property
    def virtual_clock(self) -> VirtualClock:
        """The server's virtual clock."""
        return self._virtual_clock

    def unused_answers(self) -> dict[str, int]:
        """Scripted answers not yet asked for, by request name (only non-zero counts)."""
        return {name: s.unused for name, s in self._scripts.items() if s.unused}

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
        code is done. Each round answers one queued request with :meth:`process`; when none
        is queued and the loop is idle, time moves: by ``step`` seconds via
        ``clock.advance`` if ``step`` is given, else by the clock's autojump.

        Raises the client code's exception (with the trace so far added as a note) unless
        ``raise_errors=False``; :class:`ScriptError` if it makes more than ``max_steps``
        requests, runs past virtual time ``max_time``, or stalls (waits for something that
        is neither an answer nor a timer, e.g. another thread); EventLoopTimeoutError if
        the loop never goes idle (a task polling with ``sleep(0)`` forever).
        """
        clock = self._virtual_clock
        if step is None and not clock.autojump:
            raise ValueError("pass step=seconds, or use a VirtualClock(autojump=True)")
        if step is not None and step <= 0:
            raise ValueError(f"step must be positive, not {step!r}")
        task = self.create_background_task(client_code(self))
        steps = 0
        while not task.done():
            if self.process():
                steps += 1
                if steps > max_steps:
                    raise self._fail(f"the client code made more than {max_steps} requests")
                continue
            if task.done():
                break
            if clock.time() >= max_time:
                raise self._fail(f"the client code was still running at t={clock.time():g}")
            if step is not None:
                clock.advance(step)
                continue
            # Autojump: process() saw an idle loop, so no timer is left to jump to. Make
            # sure it really is idle (a catch-up is bounded) before calling it a stall.
            before = clock.time()
            self.runner.wait_until_idle()
            if not task.done() and not self.pending and clock.time() == before:
                raise self._fail(
                    "the client code is stuck: it waits for something that is neither "
                    "a request nor a timer"
                )
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
        )

    def _trace_note(self) -> str:
        lines = format_trace(self.trace) or ["(no request answered)"]
        return "trace so far:\n  " + "\n  ".join(lines)

    def _fail(self, message: str) -> ScriptError:
        error = ScriptError(message)
        error.add_note(self._trace_note())
        return error


def run_scripted(
    client_code: ClientCode[T],
    answers: Mapping[Callable[..., Any] | str, Answer] | None = None,
    *,
    clock: VirtualClock | None = None,
    step: float | None = None,
    max_steps: int = 10_000,
    max_time: float = 86_400.0,
    timeout: float | None = 10.0,
    raise_errors: bool = True,
) -> ScriptRun[T]:
    """Run ``client_code(server)`` under a fresh :class:`ScriptedServer`; return its run.

    ``client_code`` receives the server and returns the awaitable to run, typically
    ``lambda server: agent(Env(server))``. See :class:`ScriptedServer` for ``answers``,
    ``clock`` and ``timeout``, and :meth:`ScriptedServer.run` for the rest.

    Call it from any thread that is not running an event loop of this library; it blocks
    until the client code finished and the server has shut down. Requests the client
    code left unanswered are cancelled at shutdown.
    """
    with ScriptedServer(answers, clock=clock, timeout=timeout) as server:
        return server.run(
            client_code,
            step=step,
            max_steps=max_steps,
            max_time=max_time,
            raise_errors=raise_errors,
        )


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
        answers: Mapping[Callable[..., Any] | str, Answer] | None = None,
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
