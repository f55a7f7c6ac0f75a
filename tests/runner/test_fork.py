"""A runner inherited through os.fork() is closed in the child; a new one works there."""

from __future__ import annotations

import multiprocessing
import os
import sys

import pytest

import threaded_async as ta

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork"),
    # Python 3.12+ warns that forking a multi-threaded process may deadlock the child: it
    # is the situation under test.
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]

CHILD_TIMEOUT = 30


def _in_child(runner: ta.AsyncRunner, queue: ta.Queue[int], event: ta.Event) -> int:
    """Runs in the forked child; returns the exit status (0: all as expected)."""
    if runner.is_running:
        return 10
    for attempt in (
        lambda: runner.run(_answer()),
        lambda: event.set(),
        lambda: queue.get_wait(None),
        lambda: runner.create_task(_answer()),
    ):
        try:
            attempt()
        except ta.RunnerClosedError as exc:
            if "fork" not in str(exc):
                return 11
        else:
            return 12
    with ta.AsyncRunner() as fresh:
        if fresh.run(_answer(), 10) != 42:
            return 13
        fresh_queue: ta.Queue[int] = ta.Queue(fresh)
        fresh_queue.put_nowait(5)
        if fresh_queue.get_wait(10) != 5:
            return 14
    if not ta.Till(seconds=0.01).wait(10):
        return 15
    return 0


async def _answer() -> int:
    return 42


def test_an_inherited_runner_is_closed_in_the_child_and_a_new_one_works() -> None:
    with ta.AsyncRunner() as runner:
        queue: ta.Queue[int] = ta.Queue(runner)
        event = ta.Event(runner)
        assert runner.run(_answer()) == 42
        pending = ta.Till(seconds=3600)  # the timer thread runs in the parent
        pid = os.fork()
        if pid == 0:  # the child: never return into pytest
            status = 1
            try:
                status = _in_child(runner, queue, event)
            finally:
                os._exit(status)
        _, status = os.waitpid(pid, 0)
        pending.cancel()
        assert os.waitstatus_to_exitcode(status) == 0
        assert runner.is_running  # the parent's runner is untouched
        assert runner.run(_answer()) == 42


def _pool_job(n: int) -> str:
    try:
        _shared.run(_answer(), 5)
    except ta.RunnerClosedError as exc:
        return f"{n}: closed ({'fork' in str(exc)})"
    return f"{n}: ran"


_shared: ta.AsyncRunner


@pytest.mark.skipif(sys.platform == "darwin", reason="fork start method")
def test_a_fork_pool_sharing_a_module_level_runner_does_not_hang() -> None:
    global _shared
    with ta.AsyncRunner() as runner:
        _shared = runner
        context = multiprocessing.get_context("fork")
        with context.Pool(2) as pool:
            results = pool.map_async(_pool_job, range(4)).get(CHILD_TIMEOUT)
    assert results == [f"{n}: closed (True)" for n in range(4)]
