"""Seed 003's patterns: submit() -> concurrent.futures.Future, ``async with AsyncRunner()``
inside another loop without blocking it, ``await background_task`` from any loop, stop
callbacks."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

import pytest

import threaded_async as ta

WAIT = 10.0


async def forever() -> None:
    await asyncio.Event().wait()


# -- submit ------------------------------------------------------------------------------
def test_submit_returns_a_concurrent_future(runner: ta.AsyncRunner) -> None:
    async def func() -> int:
        await asyncio.sleep(0)
        return 1234

    fut = runner.submit(func())
    assert isinstance(fut, concurrent.futures.Future)
    assert fut.result(WAIT) == 1234
    done: list[int] = []
    runner.submit(func()).add_done_callback(lambda f: done.append(f.result()))
    runner.wait_until_idle()
    assert done == [1234]


def test_submit_delivers_exceptions_without_an_unretrieved_report() -> None:
    async def broken() -> None:
        raise ValueError("bad image")

    with ta.AsyncRunner(call_in_loop_timeout=WAIT) as r:
        fut = r.submit(broken())
        assert isinstance(fut.exception(WAIT), ValueError)
    # leaving the runner raised nothing: the future is how the error is reported


def test_cancelling_the_future_cancels_the_coroutine(runner: ta.AsyncRunner) -> None:
    started = threading.Event()
    finalised = threading.Event()

    async def long_job() -> None:
        started.set()
        try:
            await forever()
        finally:
            finalised.set()

    fut = runner.submit(long_job())
    assert started.wait(WAIT)
    assert fut.cancel()
    assert finalised.wait(WAIT)
    assert fut.cancelled()


def test_submitted_coroutine_cancelled_on_the_loop_cancels_the_future(
    runner: ta.AsyncRunner,
) -> None:
    async def gives_up() -> None:
        raise asyncio.CancelledError

    fut = runner.submit(gives_up())
    with pytest.raises(concurrent.futures.CancelledError):
        fut.result(WAIT)


def test_submit_misuse(runner: ta.AsyncRunner) -> None:
    async def func() -> None:
        pass

    with pytest.raises(TypeError, match="forget to call"):
        runner.submit(func)  # type: ignore[arg-type]
    closed = ta.AsyncRunner()
    coro = func()
    with pytest.raises(ta.RunnerClosedError, match="not been started"):
        closed.submit(coro)


def test_submit_from_many_threads(runner: ta.AsyncRunner) -> None:
    async def square(x: int) -> int:
        await asyncio.sleep(0)
        return x * x

    def submit_square(x: int) -> concurrent.futures.Future[int]:
        return runner.submit(square(x))

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = list(pool.map(submit_square, range(50)))
    assert [f.result(WAIT) for f in futures] == [x * x for x in range(50)]


def test_wrap_future_from_another_loop(runner: ta.AsyncRunner) -> None:
    async def func() -> str:
        return "from the runner"

    async def main() -> str:
        return await asyncio.wrap_future(runner.submit(func()))

    assert asyncio.run(main()) == "from the runner"


# -- async with from inside another loop --------------------------------------------------
def test_async_with_starts_without_blocking_the_outer_loop() -> None:
    # The runner's loop cannot be created until the OUTER loop runs a task: if __aenter__
    # blocked the outer loop, startup would fail (bounded by WAIT).
    outer_ran = threading.Event()

    def gated_loop_factory() -> asyncio.AbstractEventLoop:
        if not outer_ran.wait(WAIT):
            raise RuntimeError("the outer loop was blocked while the runner started")
        return ta.SteppingEventLoop()

    async def main() -> str:
        asyncio.get_running_loop().call_soon(outer_ran.set)
        async with ta.AsyncRunner(loop_factory=gated_loop_factory) as r:
            return await r.create_task(asyncio.sleep(0, "inner result"))

    assert asyncio.run(main()) == "inner result"


def test_async_with_stops_without_blocking_the_outer_loop() -> None:
    # A task on the runner needs the OUTER loop to act before it can finish its cleanup.
    # If __aexit__ blocked the outer loop, the runner would have to force-stop its thread.
    cleanup_started: concurrent.futures.Future[None] = concurrent.futures.Future()
    outer_answer: concurrent.futures.Future[str] = concurrent.futures.Future()
    seen: list[str] = []

    async def worker() -> None:
        try:
            await forever()
        except asyncio.CancelledError:
            cleanup_started.set_result(None)
            seen.append(await asyncio.wrap_future(outer_answer))
            raise

    async def helper_on_outer_loop() -> None:
        await asyncio.wrap_future(cleanup_started)
        outer_answer.set_result("outer loop still running")

    async def main() -> ta.ShutdownType:
        helper = asyncio.create_task(helper_on_outer_loop())
        runner = ta.AsyncRunner(exit_timeout=WAIT)
        async with runner as r:
            r.create_task(worker())
            r.wait_until_idle(WAIT)
        await helper
        return runner.shutdown_type

    assert asyncio.run(main()) == ta.ShutdownType.STOPPED
    assert seen == ["outer loop still running"]


def test_async_with_cancelled_while_starting_stops_the_runner() -> None:
    release = threading.Event()
    runner_box: list[ta.AsyncRunner] = []

    def slow_loop_factory() -> asyncio.AbstractEventLoop:
        release.wait(WAIT)
        return ta.SteppingEventLoop()

    async def main() -> None:
        runner = ta.AsyncRunner(loop_factory=slow_loop_factory)
        runner_box.append(runner)

        async def enter() -> None:
            async with runner:
                pass

        task = asyncio.create_task(enter())
        await asyncio.sleep(0)
        task.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    runner_box[0].wait_closed(WAIT)
    assert not runner_box[0].is_running


def test_async_with_stop_errors_reach_the_outer_coroutine() -> None:
    async def broken() -> None:
        raise KeyError("lost")

    async def main() -> None:
        async with ta.AsyncRunner() as r:
            r.create_task(broken())

    with pytest.raises(ta.TAExceptionGroup) as info:
        asyncio.run(main())
    assert isinstance(info.value.exceptions[0], KeyError)


# -- await a BackgroundTask from any other loop -----------------------------------------
def test_await_background_task_from_asyncio_run(runner: ta.AsyncRunner) -> None:
    gate = threading.Event()

    async def job() -> str:
        await asyncio.get_running_loop().run_in_executor(None, gate.wait, WAIT)
        return "done on the runner"

    task = runner.create_task(job())

    async def main() -> str:
        asyncio.get_running_loop().call_soon(gate.set)
        return await task

    assert asyncio.run(main()) == "done on the runner"


def test_await_background_task_from_another_runner(runner: ta.AsyncRunner) -> None:
    async def job() -> int:
        await asyncio.sleep(0)
        return 7

    task = runner.create_task(job())

    async def other() -> int:
        return await task * 6

    with ta.AsyncRunner(call_in_loop_timeout=WAIT) as other_runner:
        assert other_runner.run(other()) == 42


def test_await_failed_and_cancelled_background_tasks(runner: ta.AsyncRunner) -> None:
    async def broken() -> None:
        raise OSError("disk")

    failed = runner.create_task(broken())
    cancelled = runner.create_task(forever())
    cancelled.cancel()

    async def main() -> list[str]:
        out: list[str] = []
        try:
            await failed
        except OSError as exc:
            out.append(f"OSError {exc}")
        try:
            await cancelled
        except asyncio.CancelledError:
            out.append("cancelled")
        return out

    assert asyncio.run(main()) == ["OSError disk", "cancelled"]


# -- stop callbacks ----------------------------------------------------------------------
def test_stop_callbacks_run_once_the_runner_closed() -> None:
    log: list[str] = []
    runner = ta.AsyncRunner()
    with runner as r:
        r.add_stop_callback(lambda: log.append(f"first running={runner.is_running}"))
        r.add_stop_callback(lambda: log.append("second"))
        r.run(asyncio.sleep(0))
        assert log == []
    assert log == ["first running=False", "second"]
    runner.add_stop_callback(lambda: log.append("after close: at once"))
    assert log[-1] == "after close: at once"


def test_stop_callback_wakes_an_outer_loop() -> None:
    async def main() -> str:
        loop = asyncio.get_running_loop()
        stopped = asyncio.Event()
        runner = ta.AsyncRunner()
        runner.start()
        runner.add_stop_callback(lambda: loop.call_soon_threadsafe(stopped.set))
        threading.Thread(target=runner.stop).start()
        await stopped.wait()
        return "runner stopped"

    assert asyncio.run(main()) == "runner stopped"


# -- nothing hangs when the runner closes -------------------------------------------------
def test_submitted_future_is_cancelled_when_the_runner_stops() -> None:
    started = threading.Event()

    async def long_job() -> None:
        started.set()
        await forever()

    with ta.AsyncRunner(call_in_loop_timeout=WAIT) as r:
        fut = r.submit(long_job())
        assert started.wait(WAIT)
    with pytest.raises(concurrent.futures.CancelledError):
        fut.result(WAIT)


def test_awaiting_a_task_of_a_runner_that_stops_does_not_hang() -> None:
    r = ta.AsyncRunner(call_in_loop_timeout=WAIT)
    r.start()
    task = r.create_task(forever())

    async def main() -> str:
        stopper = asyncio.get_running_loop().run_in_executor(None, r.stop)
        try:
            await task
        except asyncio.CancelledError:
            await stopper
            return "CancelledError"
        return "result"

    assert asyncio.run(main()) == "CancelledError"
