"""Stopping a runner from anywhere, at any time, and what observers see (issue 18)."""

from __future__ import annotations

import asyncio
import gc
import logging
import math
import threading
import time
import warnings

import pytest

import threaded_async as ta

BOUND = 10.0


async def _forever() -> None:
    await asyncio.get_running_loop().create_future()


def test_a_second_stop_waits_for_the_first() -> None:
    """A stop() racing another thread's stop() returns only once the runner is closed and
    the tasks' finally blocks have run."""
    finally_ran = threading.Event()
    in_finally = threading.Event()
    release = threading.Event()

    async def slow_cleanup() -> None:
        try:
            await _forever()
        finally:
            in_finally.set()
            await asyncio.to_thread(release.wait, 10)
            finally_ran.set()

    runner = ta.AsyncRunner(exit_timeout=20)
    runner.start()
    runner.create_task(slow_cleanup())
    runner.wait_until_idle()
    first = threading.Thread(target=runner.stop)
    first.start()
    assert in_finally.wait(10)
    second_done = threading.Event()

    def second() -> None:
        runner.stop()
        second_done.set()

    thread = threading.Thread(target=second)
    thread.start()
    assert not second_done.wait(0.1), "the second stop() returned while the first was running"
    release.set()
    assert second_done.wait(10)
    assert finally_ran.is_set()
    assert not runner.is_running
    first.join(10)
    thread.join(10)
    assert runner.shutdown_type == ta.ShutdownType.STOPPED


def test_stop_from_a_supervised_worker_thread() -> None:
    runner = ta.AsyncRunner(exit_timeout=None)
    runner.start()
    errors: list[BaseException] = []

    def worker(please_stop: ta.Signal) -> str:
        try:
            runner.stop()
        except BaseException as exc:
            errors.append(exc)
        return "stopped"

    thread = runner.start_thread(worker)
    assert thread.stopped.wait(10)
    assert errors == []
    assert not runner.is_running
    assert runner.shutdown_type == ta.ShutdownType.STOPPED


@pytest.mark.parametrize("exit_timeout", [None, 5.0])
def test_stop_from_the_loops_default_executor(exit_timeout: float | None) -> None:
    runner = ta.AsyncRunner(exit_timeout=exit_timeout)
    runner.start()

    async def stop_myself() -> None:
        await asyncio.to_thread(runner.stop)

    runner.create_task(stop_myself())
    runner.wait_closed(10)
    assert runner.shutdown_type == ta.ShutdownType.STOPPED


def test_the_next_thread_is_not_taken_for_the_dead_loop_thread() -> None:
    """After stop(), a new thread often gets the dead loop thread's id; calls from it must
    not be refused as 'this thread runs the event loop'."""
    runner = ta.AsyncRunner()
    runner.start()
    future: ta.Future[int] = ta.Future(runner)
    future.set_result(7)
    task = runner.create_task(asyncio.sleep(0, "done"))
    task.wait(10)
    queue: ta.Queue[int] = ta.Queue(runner)
    loop_ident = runner.statistics()  # (the runner's loop thread is alive here)
    assert loop_ident.running
    runner.stop()
    results: list[object] = []

    def later() -> None:
        results.append(task.wait(1))
        results.append(future.result_wait(1))
        try:
            queue.get_wait(1)
        except BaseException as exc:
            results.append(type(exc))

    for _ in range(20):  # the id is reused often, not always: try a few threads
        thread = threading.Thread(target=later)
        thread.start()
        thread.join(10)
    assert results == ["done", 7, ta.RunnerClosedError] * 20


@pytest.mark.parametrize("value", [math.inf, 1e12])
def test_infinite_timeouts_mean_no_limit(value: float) -> None:
    runner = ta.AsyncRunner(exit_timeout=value, call_in_loop_timeout=value)
    assert runner.exit_timeout is None
    assert runner.call_in_loop_timeout is None
    cleaned = threading.Event()

    async def cleanup() -> None:
        try:
            await _forever()
        finally:
            cleaned.set()

    with runner:
        assert runner.run(asyncio.sleep(0, 1), value) == 1
        queue: ta.Queue[int] = ta.Queue(runner)
        queue.put_wait(1, value)
        assert queue.get_wait(value) == 1
        runner.wait_until_idle(value)
        runner.create_task(cleanup())
        runner.wait_until_idle()
    assert cleaned.is_set(), "a stop with an infinite timeout skipped task clean-up"
    assert runner.shutdown_type == ta.ShutdownType.STOPPED
    other = ta.AsyncRunner()
    other.start()
    other.stop(timeout=math.inf)
    assert other.shutdown_type == ta.ShutdownType.STOPPED


def test_stop_callbacks_and_wait_closed_see_stopped() -> None:
    seen: list[ta.ShutdownType] = []
    runner = ta.AsyncRunner()
    runner.add_stop_callback(lambda: seen.append(runner.shutdown_type))
    runner.start()
    observed: list[ta.ShutdownType] = []

    def observer() -> None:
        runner.wait_closed(10)
        observed.append(runner.shutdown_type)

    thread = threading.Thread(target=observer)
    thread.start()
    runner.stop()
    thread.join(10)
    assert seen == [ta.ShutdownType.STOPPED]
    assert observed == [ta.ShutdownType.STOPPED]


def test_a_raising_stop_callback_is_reported_and_the_rest_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[str] = []
    runner = ta.AsyncRunner()

    def boom() -> None:
        calls.append("boom")
        raise ValueError("stop callback failed")

    runner.add_stop_callback(boom)
    runner.add_stop_callback(lambda: calls.append("second"))
    runner.start()
    with caplog.at_level(logging.ERROR, logger="threaded_async"):
        runner.stop()
    assert calls == ["boom", "second"]
    assert "stop callback failed" in caplog.text


def test_a_running_runner_that_is_dropped_warns_and_its_thread_can_still_end() -> None:
    """The loop thread does not keep its runner alive: a started runner that is collected
    without stop() gives a ResourceWarning (as an unclosed asyncio loop does)."""
    runner = ta.AsyncRunner()
    runner.start()
    loop = runner.loop
    thread = next(t for t in threading.enumerate() if t.name == runner.name)
    queue: ta.Queue[int] = ta.Queue(runner)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del runner
        gc.collect()
    assert [w.category for w in caught] == [ResourceWarning]
    assert "unclosed running <AsyncRunner" in str(caught[0].message)
    # Its loop runs on (a primitive bound to it still works) until something stops it;
    # then the thread closes the loop without the runner and wakes what is blocked.
    queue.put_nowait(1)
    assert queue.get_wait(5) == 1
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    assert not thread.is_alive()
    assert loop.is_closed()
    with pytest.raises(ta.RunnerClosedError):
        queue.get_wait(5)


def test_a_stopped_or_never_started_runner_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        runner = ta.AsyncRunner()
        del runner
        runner = ta.AsyncRunner()
        runner.start()
        runner.stop()
        del runner
        gc.collect()


def test_a_force_stopped_runner_that_is_dropped_logs_no_task_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """ForcedThreadShutdown is consumed, also when its task is collected after the runner
    (the loop's exception handler must not depend on the runner being alive)."""
    runner = ta.AsyncRunner(exit_timeout=0.2, log_forced_shutdown_stack_trace=False)
    runner.start()
    running = threading.Event()

    async def stuck() -> None:
        running.set()
        while True:  # blocks the loop: only a forced stop ends it
            pass

    task = runner.create_task(stuck())
    assert running.wait(10)
    runner.stop()
    assert runner.shutdown_type == ta.ShutdownType.FORCE_STOPPED
    del task, runner
    gc.collect()
    assert "never retrieved" not in caplog.text
    assert "ForcedThreadShutdown" not in caplog.text


# -- a forced stop names the code that blocks ----------------------------------------------
def _forced_reports(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "Force-stopping" in r.getMessage()]


def test_an_executor_job_that_does_not_finish_is_named_and_does_not_hold_the_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The exit waits for the default executor's jobs only so long (half the exit
    timeout, as for cancelled tasks): a job that does not finish is named in a warning,
    the loop stops in order (no forced stop whose report shows the runner's own
    shutdown), and the job ends on its own later."""
    release = threading.Event()

    def slow_model_call() -> None:
        release.wait(BOUND)

    runner = ta.AsyncRunner(exit_timeout=0.2)
    runner.start()
    try:
        runner.create_task(asyncio.to_thread(slow_model_call))
        runner.wait_until_idle(BOUND)
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="threaded_async"):
            runner.stop()
        took = time.monotonic() - started
    finally:
        release.set()
    assert not _forced_reports(caplog)
    assert runner.shutdown_type is ta.ShutdownType.STOPPED
    assert took < 1.0  # it used to wait for the job (here up to 10 s), then force-stop
    (warning,) = [r.getMessage() for r in caplog.records if "executor" in r.getMessage()]
    assert "slow_model_call" in warning


def _blocker(seconds: float) -> None:
    time.sleep(seconds)  # blocks the loop thread


def test_a_forced_stop_never_reports_the_runners_own_shutdown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A callback that blocks until about the moment the orderly stop gives up: either the
    stop goes on once it returns (no forced stop), or the report names it."""

    async def blocks(seconds: float) -> None:
        _blocker(seconds)

    with caplog.at_level(logging.WARNING, logger="threaded_async"):
        for step in range(9):
            runner = ta.AsyncRunner(exit_timeout=0.1)
            runner.start()
            runner.create_task(blocks(0.08 + step * 0.005))
            runner.stop()
    for report in _forced_reports(caplog):
        assert "_blocker" in report, report
