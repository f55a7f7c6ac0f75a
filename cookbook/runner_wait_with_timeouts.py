"""Timeouts: a wait that times out leaves the task running, so a later wait succeeds.

``wait(timeout)``, ``run(..., timeout)``, ``call_in_loop(fn, timeout)`` and the primitives'
``*_wait(timeout)`` raise ``EventLoopTimeoutError`` (a ``TimeoutError``) when the time is up.
``USE_DEFAULT_TIMEOUT`` (the default) means the runner's ``call_in_loop_timeout``; ``None``
waits forever. ``TimeoutTimer`` shares one budget across several waits.
"""

# Mirrors: seed 001, "More information: timeouts"

from __future__ import annotations

import asyncio

import threaded_async
from threaded_async.threaded_async import USE_DEFAULT_TIMEOUT
from threaded_async.timers import TimeoutTimer


def main() -> None:
    with threaded_async.AsyncRunner(call_in_loop_timeout=0.05) as runner:
        release = threaded_async.Event(runner)

        async def slow() -> str:
            await release.as_async_event().wait()
            return "finished"

        task = runner.create_task(slow())
        try:
            task.wait()  # USE_DEFAULT_TIMEOUT: the runner's call_in_loop_timeout
        except TimeoutError as exc:  # EventLoopTimeoutError is a TimeoutError
            print(f"timed out with {type(exc).__name__}")
        print(f"task still running: {not task.done()}")
        release.set()
        print(f"later wait: {task.wait(None)}")

        queue = threaded_async.Queue[int](runner)
        with TimeoutTimer(0.05) as timer:
            try:
                queue.get_wait(timer.remaining)
            except TimeoutError:
                print("get_wait on an empty queue timed out")
            print(f"budget shrank: {(timer.remaining or 0.0) < 0.05}")
        with TimeoutTimer(None) as forever:
            print(f"no budget: {forever.remaining}")
        print(f"USE_DEFAULT_TIMEOUT = {USE_DEFAULT_TIMEOUT}")

        async def quick() -> int:
            await asyncio.sleep(0)
            return 3

        print(f"run with timeout=None: {runner.run(quick(), timeout=None)}")


if __name__ == "__main__":
    main()

# Expected output:
# timed out with EventLoopTimeoutError
# task still running: True
# later wait: finished
# get_wait on an empty queue timed out
# budget shrank: True
# no budget: None
# USE_DEFAULT_TIMEOUT = -1.0
# run with timeout=None: 3
