"""WorkTracker: in-flight counting and busy/idle waits from threads and coroutines."""

from __future__ import annotations

import asyncio
import threading

import pytest

import threaded_async as ta
from threaded_async import WorkTracker

WAIT = 10.0


def test_counting_with_and_explicit_calls() -> None:
    tracker = WorkTracker()
    assert tracker.idle
    assert not tracker.busy
    with tracker:
        assert tracker.busy
        assert tracker.count == 1
        tracker.begin(2)
        assert tracker.count == 3
        tracker.end(2)
    assert tracker.idle
    assert tracker.total == 3
    assert "in_flight=0" in repr(tracker)


def test_unbalanced_end_is_an_error() -> None:
    tracker = WorkTracker()
    with pytest.raises(RuntimeError, match="matching begin"):
        tracker.end()
    with pytest.raises(ValueError, match="n >= 1"):
        tracker.begin(0)
    with pytest.raises(ValueError, match="n >= 1"):
        tracker.end(0)


def test_waits_return_at_once_when_already_there() -> None:
    tracker = WorkTracker()
    tracker.wait_idle(0)
    with tracker:
        tracker.wait_busy(0)


def test_wait_idle_times_out_while_busy() -> None:
    tracker = WorkTracker()
    tracker.begin()
    with pytest.raises(TimeoutError, match="become idle"):
        tracker.wait_idle(0.01)
    tracker.end()
    with pytest.raises(TimeoutError, match="become busy"):
        tracker.wait_busy(0.01)


def test_thread_waits_for_coroutine_work_on_the_runner(runner: ta.AsyncRunner) -> None:
    tracker = WorkTracker()
    release = ta.Event(runner)

    async def work() -> None:
        async with tracker:
            await release.wait_async()

    task = runner.create_task(work())
    tracker.wait_busy(WAIT)
    assert tracker.busy
    release.set()
    tracker.wait_idle(WAIT)
    task.wait(WAIT)
    assert tracker.idle


def test_coroutine_waits_for_thread_work(runner: ta.AsyncRunner) -> None:
    tracker = WorkTracker()
    go = threading.Event()

    async def watcher() -> str:
        await tracker.wait_busy_async()
        go.set()
        await tracker.wait_idle_async()
        return "idle again"

    task = runner.create_task(watcher())
    runner.wait_until_idle()
    with tracker:
        assert go.wait(WAIT)
    assert task.wait(WAIT) == "idle again"


def test_many_threads_idle_only_when_all_are_done() -> None:
    tracker = WorkTracker()
    n = 8
    start = threading.Barrier(n + 1, timeout=WAIT)
    finish = threading.Event()

    def worker() -> None:
        with tracker:
            start.wait()
            finish.wait(WAIT)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    start.wait()
    assert tracker.count == n
    with pytest.raises(TimeoutError):
        tracker.wait_idle(0.01)
    finish.set()
    tracker.wait_idle(WAIT)
    for t in threads:
        t.join(WAIT)
    assert tracker.count == 0


def test_blocking_wait_on_a_loop_thread_is_refused() -> None:
    async def wrong() -> None:
        WorkTracker().wait_busy(1)

    with pytest.raises(RuntimeError, match="wait_busy_async"):
        asyncio.run(wrong())


def test_cancelled_async_waiter_leaves_no_trace() -> None:
    async def main() -> int:
        tracker = WorkTracker()
        tracker.begin()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0):
                await tracker.wait_idle_async()
        tracker.end()
        return len(tracker._idle_waiters)

    assert asyncio.run(main()) == 0
