"""Deploy a coroutine on a background loop thread and block on its result.

``AsyncRunner`` owns an asyncio loop in a background thread; ``create_task`` schedules a
coroutine there and returns a ``BackgroundTask`` whose ``wait()`` blocks the calling thread
until the result is ready. This is threaded_async 1.4's Quick start, unchanged.
"""

# Mirrors: seed 001, "Quick start"

from __future__ import annotations

import asyncio

import threaded_async


async def foo() -> int:
    """Sleep and return a number."""
    await asyncio.sleep(0.1)
    return 10


def main() -> None:
    with threaded_async.AsyncRunner() as runner:
        # Deploy the coroutine as a task on the background thread's event loop.
        background_task = runner.create_task(foo())
        # Block the current thread waiting for the task to complete.
        print(background_task.wait())
        # wait() may be called again: it returns the same result.
        print(background_task.wait())
        # run() is create_task + wait in one call.
        print(runner.run(foo()))


if __name__ == "__main__":
    main()

# Expected output:
# 10
# 10
# 10
