"""1.4 raised CancelledError in threads blocked on a primitive when the runner exited.

Our waits raise ClosedWhileWaitingError, which is both that CancelledError (for 1.4 code)
and a RunnerClosedError (for new code).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

import threaded_async as ta


def _blocked_until_exit(
    make_wait: Callable[[ta.AsyncRunner], Callable[[], object]],
) -> BaseException:
    caught: list[BaseException] = []
    with ta.AsyncRunner() as runner:
        wait = make_wait(runner)

        def worker() -> None:
            try:
                wait()
            except BaseException as exc:
                caught.append(exc)

        thread = threading.Thread(target=worker)
        thread.start()
        deadline = time.monotonic() + 10
        while not runner.statistics().parked_threads and time.monotonic() < deadline:
            time.sleep(0.001)  # polling a private set: the only observable "thread is parked"
        assert runner.statistics().parked_threads, "the worker never blocked"
    thread.join(5)
    assert not thread.is_alive()
    assert len(caught) == 1
    return caught[0]


def _queue_get(runner: ta.AsyncRunner) -> Callable[[], object]:
    return ta.Queue[int](runner).get_wait


def _queue_put(runner: ta.AsyncRunner) -> Callable[[], object]:
    queue = ta.Queue[int](runner, maxsize=1)
    queue.put_nowait(1)
    return lambda: queue.put_wait(2)


def _future_result(runner: ta.AsyncRunner) -> Callable[[], object]:
    return ta.Future[int](runner).result_wait


def _event_wait(runner: ta.AsyncRunner) -> Callable[[], object]:
    return ta.Event(runner).wait


@pytest.mark.parametrize("make_wait", [_queue_get, _queue_put, _future_result, _event_wait])
def test_exit_wakes_blocked_thread_with_cancelled_error(
    make_wait: Callable[[ta.AsyncRunner], Callable[[], object]],
) -> None:
    exc = _blocked_until_exit(make_wait)
    assert isinstance(exc, asyncio.CancelledError)
    assert isinstance(exc, ta.RunnerClosedError)
    assert isinstance(exc, ta.ClosedWhileWaitingError)


def test_call_after_close_is_plain_runner_closed_error() -> None:
    with ta.AsyncRunner() as runner:
        queue = ta.Queue[int](runner)
    with pytest.raises(ta.RunnerClosedError) as info:
        queue.get_wait(timeout=1)
    assert not isinstance(info.value, asyncio.CancelledError)
