"""Shutdown: tasks are cancelled at exit, and a loop stuck in blocking code is force-stopped.

On exit the runner lets the loop catch up, cancels every outstanding task (and the plain
asyncio tasks they spawned, which see ``CancelledError``), stops the loop and joins its
thread: ``shutdown_type`` is ``STOPPED``. A loop stuck in blocking code cannot be cancelled;
after ``exit_timeout`` the runner raises ``ForcedThreadShutdown`` inside the loop thread and
reports ``FORCE_STOPPED``.
"""

# Mirrors: seed 001, "More information: shutdown behavior"

from __future__ import annotations

import asyncio
import threading
import time

import threaded_async
from threaded_async.threaded_async import ShutdownType


def main() -> None:
    # 1. Clean shutdown cancels what is still running.
    spawned = threading.Event()
    with threaded_async.AsyncRunner() as runner:

        async def helper() -> None:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                print("helper: cancelled at exit")
                raise

        async def parent() -> None:
            child = asyncio.create_task(helper())
            await asyncio.sleep(0)
            spawned.set()
            try:
                await child
            except asyncio.CancelledError:
                print("parent: cancelled at exit")
                raise

        task = runner.create_task(parent())
        spawned.wait(10)
    try:
        task.wait()
    except asyncio.CancelledError:
        print("task.wait() raises CancelledError")
    print(f"shutdown_type: {runner.shutdown_type.name}")

    # 2. A loop stuck in blocking code is force-stopped after exit_timeout.
    stuck = threading.Event()
    runner = threaded_async.AsyncRunner(exit_timeout=0.1, log_forced_shutdown_stack_trace=False)
    with runner:

        async def blocks_the_loop() -> None:
            stuck.set()
            while True:
                time.sleep(0.01)  # blocking call: the loop never gets control back

        runner.create_task(blocks_the_loop())
        stuck.wait(10)
    print(f"shutdown_type: {runner.shutdown_type.name}")
    print(f"force stop attempted: {runner.shutdown_type.force_stop_attempted()}")
    print(f"still running: {runner.is_running}")
    print(f"FORCE_STOPPED is {ShutdownType.FORCE_STOPPED.name}")


if __name__ == "__main__":
    main()

# Expected output:
# helper: cancelled at exit
# parent: cancelled at exit
# task.wait() raises CancelledError
# shutdown_type: STOPPED
# shutdown_type: FORCE_STOPPED
# force stop attempted: True
# still running: False
# FORCE_STOPPED is FORCE_STOPPED
