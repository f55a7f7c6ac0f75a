"""Reuse one event loop across calls, so loop-bound objects stay usable.

The guide shows ``asyncio.run`` twice failing with "Event loop is closed" when a future from
the first loop is used in the second, and ``asyncio.Runner`` as the fix. A runner keeps
one loop alive in its thread for as many ``run()`` calls as you like, and tears it down
properly (tasks, async generators, executor) when the block ends.
"""

# Mirrors: seed 003, "Running event loops in other threads" (asyncio.run twice vs asyncio.Runner)

from __future__ import annotations

import asyncio

import threaded_async as ta


async def new_fut() -> asyncio.Future[str]:
    fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    fut.add_done_callback(lambda fut: print("fut finished"))
    return fut


async def set_fut(fut: asyncio.Future[str]) -> None:
    fut.set_result("Done!")


def main() -> None:
    try:
        fut = asyncio.run(new_fut())
        asyncio.run(set_fut(fut))
    except RuntimeError as exc:
        print("two asyncio.run calls:", exc)

    with ta.AsyncRunner() as runner:
        fut = runner.run(new_fut())
        runner.run(set_fut(fut))
        runner.wait_for_next_eventloop_iteration()  # the done callback has run
        print("result:", fut.result())


if __name__ == "__main__":
    main()

# Expected output:
# two asyncio.run calls: Event loop is closed
# fut finished
# result: Done!
