"""AsyncRunner: lifecycle, bad input, misuse from the loop thread, teardown (SPEC §1, §2)."""

from __future__ import annotations

import asyncio
import gc
import threading
import traceback
from collections.abc import AsyncIterator, Callable

import pytest

import threaded_async as ta
from threaded_async import USE_DEFAULT_TIMEOUT, AsyncRunner, RunnerClosedError

# -- bad input ----------------------------------------------------------------------------


def test_create_task_of_a_non_awaitable_is_a_type_error(runner: AsyncRunner) -> None:
    with pytest.raises(TypeError, match="awaitable") as info:
        runner.create_task(42)  # type: ignore[arg-type]
    assert "int" in str(info.value)


def test_run_of_a_non_awaitable_is_a_type_error(runner: AsyncRunner) -> None:
    with pytest.raises(TypeError, match="awaitable"):
        runner.run("nope")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [-0.5, -2.0, float("nan")])
def test_negative_timeouts_other_than_the_default_are_value_errors(
    runner: AsyncRunner, bad: float
) -> None:
    async def noop() -> None:
        pass

    coro = noop()
    with pytest.raises(ValueError, match="timeout"):
        runner.run(coro, timeout=bad)
    coro.close()
    task = runner.create_task(noop())
    with pytest.raises(ValueError, match="timeout"):
        task.wait(bad)
    with pytest.raises(ValueError, match="timeout"):
        runner.call_in_loop(lambda: None, timeout=bad)
    q = ta.Queue[int](runner)
    with pytest.raises(ValueError, match="timeout"):
        q.get_wait(bad)
    with pytest.raises(ValueError, match="timeout"):
        ta.Event(runner).wait(bad)
    with pytest.raises(ValueError, match="timeout"):
        ta.Future[int](runner).result_wait(bad)
    assert task.wait(USE_DEFAULT_TIMEOUT) is None


def test_bad_constructor_arguments() -> None:
    with pytest.raises(ValueError, match="exit_timeout"):
        AsyncRunner(exit_timeout=-3)
    with pytest.raises(ValueError, match="call_in_loop_timeout"):
        AsyncRunner(call_in_loop_timeout=-3)
    with pytest.raises(TypeError, match="loop_factory"):
        AsyncRunner(loop_factory=42)  # type: ignore[arg-type]


def test_calls_before_start_raise_runner_closed_error() -> None:
    runner = AsyncRunner()

    async def noop() -> None:
        pass

    coro = noop()
    for call in (
        lambda: runner.create_task(coro),
        lambda: runner.run(coro),
        lambda: runner.call_in_loop(lambda: None),
        lambda: runner.wait_for_next_eventloop_iteration(),
    ):
        with pytest.raises(RunnerClosedError, match="not been started"):
            call()
    coro.close()
    assert issubclass(RunnerClosedError, RuntimeError)


def test_calls_after_exit_raise_runner_closed_error() -> None:
    with AsyncRunner() as runner:
        pass

    async def noop() -> None:
        pass

    coro = noop()
    for call in (
        lambda: runner.create_task(coro),
        lambda: runner.run(coro),
        lambda: runner.call_in_loop(lambda: None),
        lambda: runner.wait_for_next_eventloop_iteration(),
    ):
        with pytest.raises(RunnerClosedError, match="closed"):
            call()
    coro.close()


def test_blocking_calls_on_the_loop_thread_raise_at_once(runner: AsyncRunner) -> None:
    async def other() -> int:
        return 1

    async def misuse() -> list[str]:
        errors: list[str] = []
        task = runner.create_task(other())
        q = ta.Queue[int](runner)
        full = ta.Queue[int](runner, maxsize=1)
        full.put_nowait(0)
        fut = ta.Future[int](runner)
        event = ta.Event(runner)
        calls: dict[str, Callable[[], object]] = {
            "task.wait": lambda: task.wait(),
            "get_wait": lambda: q.get_wait(),
            "put_wait": lambda: full.put_wait(1),
            "result_wait": lambda: fut.result_wait(),
            "event.wait": lambda: event.wait(),
            "wait_for_next_eventloop_iteration": runner.wait_for_next_eventloop_iteration,
        }
        for name, call in calls.items():
            try:
                call()
            except RuntimeError as exc:
                errors.append(name if "loop" in str(exc) else f"{name}: {exc}")
        coro = other()
        try:
            runner.run(coro)
        except RuntimeError:
            errors.append("run")
        finally:
            coro.close()
        return errors

    errors = runner.run(misuse(), timeout=10)
    assert errors == [
        "task.wait",
        "get_wait",
        "put_wait",
        "result_wait",
        "event.wait",
        "wait_for_next_eventloop_iteration",
        "run",
    ]


def test_stop_on_the_loop_thread_is_an_error(runner: AsyncRunner) -> None:
    with pytest.raises(RuntimeError, match="loop thread"):
        runner.call_in_loop(runner.stop)


# -- lifecycle ----------------------------------------------------------------------------


def test_start_and_stop_without_a_with_block() -> None:
    runner = AsyncRunner()
    assert not runner.is_running
    assert runner.start() is runner
    assert runner.is_running

    async def seven() -> int:
        return 7

    assert runner.run(seven()) == 7
    runner.stop()
    assert not runner.is_running
    assert runner.shutdown_type == ta.ShutdownType.STOPPED
    runner.stop()  # a second stop is a no-op


def test_stop_of_a_never_started_runner() -> None:
    runner = AsyncRunner()
    runner.stop()
    assert runner.shutdown_type == ta.ShutdownType.STOPPED
    with pytest.raises(RuntimeError, match="started once"):
        runner.start()


def test_a_runner_starts_only_once() -> None:
    with AsyncRunner() as runner, pytest.raises(RuntimeError, match="started once"):
        runner.start()


def test_thread_name() -> None:
    with AsyncRunner(name="my-loop") as runner:
        assert runner.name == "my-loop"
        assert runner.call_in_loop(lambda: threading.current_thread().name) == "my-loop"


def test_default_thread_name_is_prefixed() -> None:
    with AsyncRunner() as runner:
        assert runner.call_in_loop(lambda: threading.current_thread().name).startswith(
            "threaded_async-"
        )


def test_loop_factory_is_used() -> None:
    made: list[asyncio.AbstractEventLoop] = []

    def factory() -> asyncio.AbstractEventLoop:
        loop = asyncio.new_event_loop()
        made.append(loop)
        return loop

    with AsyncRunner(loop_factory=factory) as runner:

        async def which() -> asyncio.AbstractEventLoop:
            return asyncio.get_running_loop()

        assert runner.run(which()) is made[0]
    assert made[0].is_closed()


class _StartupError(Exception):
    pass


def _broken_factory() -> asyncio.AbstractEventLoop:
    raise _StartupError("cannot make a loop")


def test_startup_failure_is_reraised_with_its_traceback() -> None:
    runner = AsyncRunner(loop_factory=_broken_factory)
    with pytest.raises(_StartupError, match="cannot make a loop") as info:
        runner.start()
    text = "".join(traceback.format_exception(info.value))
    assert "_broken_factory" in text
    assert not runner.is_running
    with pytest.raises(_StartupError), AsyncRunner(loop_factory=_broken_factory):
        pass


# -- teardown -----------------------------------------------------------------------------


def test_teardown_finalizes_async_generators_and_closes_the_loop() -> None:
    events: list[str] = []
    suspended = threading.Event()

    async def agen() -> AsyncIterator[int]:
        try:
            yield 1
            yield 2
        finally:
            events.append("agen finalized")

    with AsyncRunner() as runner:

        async def hold() -> None:
            gen = agen()
            await gen.__anext__()
            suspended.set()
            await asyncio.Event().wait()

        runner.create_task(hold())
        assert suspended.wait(10)
        loop = runner.loop
    assert events == ["agen finalized"]
    assert loop.is_closed()


@pytest.mark.stdlib_loop  # uvloop names its executor threads differently (not asyncio_*)
def test_teardown_shuts_down_the_default_executor() -> None:
    with AsyncRunner() as runner:

        async def use_executor() -> str:
            return await asyncio.to_thread(lambda: "from a worker")

        assert runner.run(use_executor()) == "from a worker"
        executor_threads = [t for t in threading.enumerate() if t.name.startswith("asyncio_")]
        assert executor_threads
    assert not any(t.is_alive() for t in executor_threads)


def test_no_resource_warning_when_a_runner_is_dropped() -> None:
    # filterwarnings=error turns a ResourceWarning from an unclosed loop into a failure.
    for _ in range(3):
        with AsyncRunner() as runner:
            runner.wait_for_next_eventloop_iteration()
        del runner
        gc.collect()


def test_is_running_and_in_runner_loop(runner: AsyncRunner) -> None:
    assert runner.is_running
    assert not runner.in_runner_loop
    assert runner.call_in_loop(lambda: runner.in_runner_loop)


def test_call_in_loop_times_out_on_a_blocked_loop_and_names_the_culprit() -> None:
    blocked = threading.Event()
    release = threading.Event()
    with AsyncRunner() as runner:

        async def hog_the_loop() -> None:
            blocked.set()
            release.wait(10)  # blocking call inside a coroutine

        task = runner.create_task(hog_the_loop())
        assert blocked.wait(10)
        try:
            with pytest.raises(ta.EventLoopTimeoutError) as info:
                runner.call_in_loop(lambda: None, timeout=0.01)
        finally:
            release.set()
        assert "hog_the_loop" in str(info.value)
        task.wait(10)
        assert runner.call_in_loop(lambda: "responsive again", timeout=10) == "responsive again"
