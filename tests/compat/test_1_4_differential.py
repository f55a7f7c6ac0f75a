"""Behaviour found by running the same scenarios under the PyPI threaded_async 1.4 and ours.

Each test pins what 1.4 did where ours used to differ: the outcome of tasks on a force-stopped
loop, exit with a task that swallows its cancellation, the order of a new task's first step
relative to the caller's next request, and ``task_creation_timeout`` on a stuck loop.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time

import pytest

import threaded_async._runner as runner_module
from threaded_async import SteppingEventLoop
from threaded_async.threaded_async import (
    AsyncRunner,
    EventLoopTimeoutError,
    ForcedThreadShutdown,
    ShutdownType,
)

BOUND = 10.0


def _block_until(event: threading.Event) -> None:
    """Blocking code on the loop that still runs bytecode, so a forced stop can land."""
    end = time.monotonic() + BOUND
    while not event.is_set() and time.monotonic() < end:
        time.sleep(0.001)


def test_waiting_on_a_task_of_a_force_stopped_loop_raises_cancelled_error() -> None:
    """1.4: CancelledError. Never ForcedThreadShutdown, a SystemExit that would end the
    waiting thread silently (or the program, with status 0)."""
    stuck = threading.Event()
    never = threading.Event()
    runner = AsyncRunner(exit_timeout=0.1, log_forced_shutdown_stack_trace=False)
    blocked_result: list[BaseException] = []

    async def stuck_task() -> None:
        stuck.set()
        _block_until(never)

    with runner:
        task = runner.create_task(stuck_task())
        assert stuck.wait(BOUND)

        def blocked_waiter() -> None:
            try:
                task.wait(BOUND)
            except BaseException as exc:  # the type is what we check
                blocked_result.append(exc)

        waiter = threading.Thread(target=blocked_waiter)
        waiter.start()
    waiter.join(BOUND)
    assert runner.shutdown_type == ShutdownType.FORCE_STOPPED
    assert len(blocked_result) == 1
    assert type(blocked_result[0]) is not ForcedThreadShutdown
    assert isinstance(blocked_result[0], asyncio.CancelledError)
    with pytest.raises(asyncio.CancelledError) as later:
        task.wait(BOUND)
    assert not isinstance(later.value, ForcedThreadShutdown)
    assert task.cancelled()


async def _swallow_cancellation() -> None:
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            pass


def test_a_task_that_swallows_cancellation_does_not_block_exit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """1.4 stopped the loop anyway: STOPPED, the thread gone. Ours gives it a grace of half
    the exit timeout, then stops, and says which task it abandoned."""
    runner = AsyncRunner(exit_timeout=1.0)
    with caplog.at_level(logging.WARNING), runner:
        task = runner.create_task(_swallow_cancellation(), task_creation_timeout=BOUND)
        runner.wait_for_next_eventloop_iteration(BOUND)
    assert runner.shutdown_type == ShutdownType.STOPPED
    assert not runner.is_running
    assert "did not finish within" in caplog.text
    assert "swallow CancelledError" in caplog.text
    with pytest.raises(asyncio.CancelledError):
        task.wait(BOUND)


def test_exit_without_a_timeout_is_bounded_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """exit_timeout=None waits for the loop, but not forever for a task that never ends."""
    monkeypatch.setattr(runner_module, "CANCEL_GRACE", 0.2)
    finished = threading.Event()

    def run() -> None:
        with AsyncRunner(exit_timeout=None) as runner:
            runner.create_task(_swallow_cancellation())
            runner.wait_for_next_eventloop_iteration(BOUND)
        finished.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert finished.wait(BOUND), "exit hung on a task that swallows CancelledError"
    thread.join(BOUND)


def _first_step_is_ordered(runner: AsyncRunner) -> bool:
    """Python 3.12+ starts tasks eagerly; on 3.11 only our own loop can reorder."""
    return sys.version_info >= (3, 12) or isinstance(runner.loop, SteppingEventLoop)


def test_a_new_tasks_first_step_runs_before_the_callers_next_request() -> None:
    log: list[str] = []

    async def starts() -> None:
        log.append("started")
        await asyncio.sleep(3600)

    with AsyncRunner() as runner:
        if not _first_step_is_ordered(runner):
            pytest.skip("Python 3.11 on a foreign loop: no eager start to keep the order")
        for _ in range(50):  # the order must hold every time, not by luck
            log.clear()
            task = runner.create_task(starts())
            assert runner.call_in_loop(lambda: list(log), BOUND) == ["started"]
            task.cancel()


def test_wait_for_next_iteration_after_create_task_sees_the_task_run() -> None:
    ran = threading.Event()

    async def mark() -> None:
        ran.set()

    with AsyncRunner() as runner:
        if not _first_step_is_ordered(runner):
            pytest.skip("Python 3.11 on a foreign loop: no eager start to keep the order")
        for _ in range(50):
            ran.clear()
            runner.create_task(mark())
            runner.wait_for_next_eventloop_iteration(BOUND)
            assert ran.is_set()


def test_task_creation_timeout_reports_a_stuck_loop_and_the_task_still_starts() -> None:
    """1.4 used ``task_creation_timeout`` (default: ``call_in_loop_timeout``) to detect a
    stuck loop: create_task raised EventLoopTimeoutError, and the task ran later."""
    stuck = threading.Event()
    release = threading.Event()
    later_ran = threading.Event()

    async def hog() -> None:
        stuck.set()
        _block_until(release)

    async def later() -> None:
        later_ran.set()

    with AsyncRunner() as runner:
        runner.create_task(hog())
        assert stuck.wait(BOUND)
        with pytest.raises(EventLoopTimeoutError, match="hog"):
            runner.create_task(later(), task_creation_timeout=0.05)
        # With no timeout (the default configuration) it does not wait for the loop.
        quick = runner.create_task(asyncio.sleep(0, "quick"), task_creation_timeout=None)
        assert not quick.done()
        release.set()
        assert later_ran.wait(BOUND)
        assert quick.wait(BOUND) == "quick"


def test_call_in_loop_timeout_is_the_default_task_creation_timeout() -> None:
    stuck = threading.Event()
    release = threading.Event()

    async def hog() -> None:
        stuck.set()
        _block_until(release)

    with AsyncRunner(call_in_loop_timeout=0.05) as runner:
        runner.create_task(hog())
        assert stuck.wait(BOUND)
        coro = asyncio.sleep(0)
        with pytest.raises(EventLoopTimeoutError):
            runner.create_task(coro)
        release.set()
        runner.wait_for_next_eventloop_iteration(BOUND)


def test_call_in_loop_passes_cancelled_error_back_without_a_loop_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def cancelled() -> None:
        raise asyncio.CancelledError("from the callable")

    with caplog.at_level(logging.ERROR), AsyncRunner() as runner:
        with pytest.raises(asyncio.CancelledError, match="from the callable"):
            runner.call_in_loop(cancelled, BOUND)
        runner.wait_for_next_eventloop_iteration(BOUND)
    assert "Exception in callback" not in caplog.text


def test_the_private_event_loop_attribute_1_4_code_used_still_works() -> None:
    """Some 1.4 code reached for ``runner._event_loop`` (run_coroutine_threadsafe)."""
    runner = AsyncRunner()
    assert runner._event_loop is None  # pyright: ignore[reportPrivateUsage]
    with runner:
        loop = runner._event_loop  # pyright: ignore[reportPrivateUsage]
        assert loop is not None
        future = asyncio.run_coroutine_threadsafe(asyncio.sleep(0, "via the loop"), loop)
        assert future.result(BOUND) == "via the loop"
