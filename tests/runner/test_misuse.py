"""Misuse fails at once with a clear error: blocking calls on the loop thread, bad arguments,
a runner used outside its life."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Callable
from typing import Any

import pytest

import threaded_async as ta


async def _forever() -> None:
    await asyncio.get_running_loop().create_future()


def _blocking_calls(runner: ta.AsyncRunner) -> dict[str, tuple[Callable[[], object], str]]:
    """Each blocking call with the text its error must suggest instead."""
    queue: ta.Queue[int] = ta.Queue(runner, maxsize=1)
    queue.put_nowait(0)  # full: put_wait would block
    empty: ta.Queue[int] = ta.Queue(runner)
    future: ta.Future[int] = ta.Future(runner)
    event = ta.Event(runner)
    task = runner.create_task(_forever())
    server = ta.Server(runner=runner)

    def run() -> object:
        coro = _forever()
        try:
            return runner.run(coro, None)
        finally:
            coro.close()

    return {
        "BackgroundTask.wait": (lambda: task.wait(None), "await task"),
        "AsyncRunner.run": (run, "await"),
        "Queue.get_wait": (lambda: empty.get_wait(None), "await queue.get()"),
        "Queue.put_wait": (lambda: queue.put_wait(1, None), "await queue.put(item)"),
        "Future.result_wait": (lambda: future.result_wait(None), "await future.result()"),
        "Event.wait": (lambda: event.wait(None), "await event.wait_async()"),
        "wait_until_idle": (lambda: runner.wait_until_idle(None), "await asyncio.sleep(0)"),
        "wait_for_next_eventloop_iteration": (
            lambda: runner.wait_for_next_eventloop_iteration(None),
            "await asyncio.sleep(0)",
        ),
        "wait_closed": (lambda: runner.wait_closed(None), "add_stop_callback"),
        "AsyncRunner.stop": (lambda: runner.stop(None), "own loop thread"),
        "Server.process": (lambda: server.process(None), "host thread"),
        "Server.process_all": (lambda: server.process_all(None), "host thread"),
    }


def test_every_blocking_call_on_the_loop_thread_raises_at_once(runner: ta.AsyncRunner) -> None:
    """Each call is made from the loop thread (a sync callback and a coroutine); each must
    raise RuntimeError right there — a deadlock would trip the call_in_loop timeout."""
    calls = _blocking_calls(runner)

    def on_loop() -> dict[str, str]:
        outcome: dict[str, str] = {}
        for name, (call, _) in calls.items():
            try:
                call()
            except RuntimeError as exc:
                outcome[name] = str(exc)
            else:
                outcome[name] = "<returned>"
        return outcome

    outcome = runner.call_in_loop(on_loop, 10.0)
    for name, (_, advice) in calls.items():
        message = outcome[name]
        assert advice in message, f"{name}: {message!r} does not say {advice!r}"
    assert runner.is_running  # none of it broke the runner
    for name, message in outcome.items():
        if name not in ("AsyncRunner.stop",):
            assert "deadlock" in message, (name, message)


def test_blocking_call_from_a_coroutine_on_the_loop_raises(runner: ta.AsyncRunner) -> None:
    queue: ta.Queue[int] = ta.Queue(runner)

    async def misuse() -> str:
        try:
            queue.get_wait(1.0)
        except RuntimeError as exc:
            return str(exc)
        return "no error"

    message = runner.run(misuse(), 10.0)
    assert "await queue.get()" in message
    assert "deadlock" in message


def test_runnerless_primitives_refuse_to_block_inside_any_event_loop() -> None:
    queue: ta.Queue[int] = ta.Queue()
    future: ta.Future[int] = ta.Future()
    event = ta.Event()

    async def misuse() -> list[str]:
        messages: list[str] = []
        for call in (
            lambda: queue.get_wait(None),
            lambda: future.result_wait(None),
            lambda: event.wait(None),
        ):
            try:
                call()
            except RuntimeError as exc:
                messages.append(str(exc))
        return messages

    messages = asyncio.run(misuse())
    assert len(messages) == 3
    assert all("await" in m for m in messages), messages


def test_call_in_loop_on_the_loop_thread_runs_inline(runner: ta.AsyncRunner) -> None:
    """Not misuse: 1.4 runs it inline instead of deadlocking."""
    assert runner.call_in_loop(lambda: runner.call_in_loop(lambda: 7)) == 7


def test_blocking_calls_from_another_thread_are_fine(runner: ta.AsyncRunner) -> None:
    queue: ta.Queue[int] = ta.Queue(runner)
    out: list[int] = []
    t = threading.Thread(target=lambda: out.append(queue.get_wait(10.0)))
    t.start()
    queue.put_nowait(5)
    t.join(10.0)
    assert out == [5]


# -- bad arguments -----------------------------------------------------------------------


def test_create_task_rejects_non_awaitables(runner: ta.AsyncRunner) -> None:
    with pytest.raises(TypeError, match="coroutine or other awaitable, got int"):
        runner.create_task(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="forget to call"):
        runner.create_task(_forever)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="awaitable"):
        runner.run(None, 1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="awaitable"):
        runner.submit("coro")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [-0.5, -2, float("nan")])
def test_negative_or_nan_timeouts_are_value_errors(runner: ta.AsyncRunner, bad: float) -> None:
    queue: ta.Queue[int] = ta.Queue(runner)
    calls: list[Callable[[], object]] = [
        lambda: runner.call_in_loop(lambda: 1, bad),
        lambda: queue.get_wait(bad),
        lambda: ta.Future[int](runner).result_wait(bad),
        lambda: ta.Event(runner).wait(bad),
        lambda: runner.wait_until_idle(bad),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=">= 0 or None"):
            call()


@pytest.mark.parametrize("bad", ["1", True, [1]])
def test_non_numeric_timeouts_are_type_errors(runner: ta.AsyncRunner, bad: Any) -> None:
    with pytest.raises(TypeError, match="number of seconds"):
        runner.call_in_loop(lambda: 1, bad)
    with pytest.raises(TypeError, match="number of seconds"):
        ta.Queue[int](runner).get_wait(bad)


def test_constructor_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="exit_timeout"):
        ta.AsyncRunner(exit_timeout=-3)
    with pytest.raises(TypeError, match="call_in_loop_timeout"):
        ta.AsyncRunner(call_in_loop_timeout="10")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="loop_factory"):
        ta.AsyncRunner(loop_factory=42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="clock"):
        ta.AsyncRunner(clock=1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="maxsize must be an int"):
        ta.Queue(None, maxsize="3")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="maxsize must be an int"):
        ta.Queue(None, maxsize=True)
    with pytest.raises(TypeError, match="runner must be an AsyncRunner"):
        ta.Queue(object())  # type: ignore[arg-type]


def test_loop_factory_returning_garbage_fails_start_with_its_error() -> None:
    runner = ta.AsyncRunner(loop_factory=lambda: "not a loop")  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="not an event loop"):
        runner.start()
    assert not runner.is_running
    with pytest.raises(ta.RunnerClosedError):
        runner.call_in_loop(lambda: 1)


def test_future_misuse() -> None:
    future: ta.Future[int] = ta.Future()
    with pytest.raises(TypeError, match="needs an exception"):
        future.set_exception(42)  # type: ignore[arg-type]
    future.set_result(1)
    with pytest.raises(ta.InvalidStateError):
        future.set_result(2)
    with pytest.raises(asyncio.InvalidStateError):
        future.set_exception(ValueError())


# -- a runner used outside its life -------------------------------------------------------


def test_a_runner_starts_once() -> None:
    runner = ta.AsyncRunner()
    with runner, pytest.raises(RuntimeError, match="started once"):
        runner.start()
    with pytest.raises(RuntimeError, match="started once"):
        runner.start()
    with pytest.raises(RuntimeError, match="started once"):
        runner.__enter__()


def test_closed_runner_refuses_work_with_runner_closed_error() -> None:
    with ta.AsyncRunner() as runner:
        queue: ta.Queue[int] = ta.Queue(runner)
    coro = _forever()
    with pytest.raises(ta.RunnerClosedError, match="closed") as info:
        runner.create_task(coro)
    assert isinstance(info.value, RuntimeError)
    assert coro.cr_frame is None  # closed for us: no "never awaited" warning
    with pytest.raises(ta.RunnerClosedError):
        queue.put_nowait(1)
    with pytest.raises(ta.RunnerClosedError):
        queue.get_wait(None)
    with pytest.raises(ta.RunnerClosedError):
        runner.call_soon(print)
    assert runner.shutdown_type == ta.ShutdownType.STOPPED
    runner.stop()  # a second stop is a no-op


def test_unstarted_runner_names_the_fix() -> None:
    runner = ta.AsyncRunner()
    with pytest.raises(ta.RunnerClosedError, match=r"runner\.start\(\)"):
        runner.call_in_loop(lambda: 1)
    with pytest.raises(ta.RunnerClosedError, match="not been started"):
        _ = runner.loop
    runner.stop()  # stopping a never-started runner closes it
    assert runner.shutdown_type == ta.ShutdownType.STOPPED


def test_the_errors_a_caller_handles_are_exported_at_top_level() -> None:
    assert {"RunnerClosedError", "QueueShutDown", "QueueEmpty", "QueueFull"} <= set(ta.__all__)
    assert issubclass(ta.RunnerClosedError, RuntimeError)
    assert issubclass(ta.EventLoopTimeoutError, TimeoutError)
    assert not issubclass(ta.QueueShutDown, RuntimeError)  # a different situation


def test_server_arguments_are_checked() -> None:
    runner = ta.AsyncRunner()
    with pytest.raises(TypeError, match=r"pass a runner as Server\(runner=\.\.\.\)"):
        ta.Server(runner)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="runner must be an AsyncRunner"):
        ta.Server(runner="loop")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="clock must be a VirtualClock"):
        ta.Server(clock=1.0)  # type: ignore[arg-type]


def test_a_refused_run_closes_its_coroutine(recwarn: pytest.WarningsRecorder) -> None:
    """run() refused on the loop thread (or with a bad timeout) closes the coroutine, so no
    'coroutine was never awaited' warning follows the clear error."""

    async def work() -> int:
        return 1

    refused = [work(), work(), work()]
    with ta.AsyncRunner() as runner:
        with pytest.raises(RuntimeError, match="await"):
            runner.call_in_loop(lambda: runner.run(refused[0], 1))
        with pytest.raises(ValueError, match="timeout"):
            runner.run(refused[1], -5)
        with pytest.raises(ValueError, match="timeout"):
            runner.create_task(refused[2], -5)
    assert [coro.cr_frame for coro in refused] == [None, None, None]  # all closed
    refused.clear()
    gc.collect()
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
