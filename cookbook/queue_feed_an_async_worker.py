"""A coroutine worker fed by the main thread through two queues.

``threaded_async.Queue`` has two faces: coroutines ``await get()`` / ``await put()``, threads
call ``get_wait()`` / ``put_wait()``. Here the main thread sends numbers to an async worker
and reads back each incremented result. This is threaded_async 1.4's queue example.
"""

# Mirrors: seed 001, "increment_worker with in_queue and out_queue"

from __future__ import annotations

import threaded_async


async def increment_worker(
    in_queue: threaded_async.Queue[int], out_queue: threaded_async.Queue[int]
) -> None:
    """Increment integers from in_queue and put them in out_queue."""
    while True:
        number = await in_queue.get()
        await out_queue.put(number + 1)


def main() -> None:
    with threaded_async.AsyncRunner() as runner:
        in_queue = threaded_async.Queue[int](runner)
        out_queue = threaded_async.Queue[int](runner)
        background_task = runner.create_task(increment_worker(in_queue, out_queue))
        for i in range(10):
            in_queue.put_wait(i)
            print(out_queue.get_wait())
        background_task.cancel()
        print(f"queues empty: {in_queue.empty() and out_queue.empty()}")


if __name__ == "__main__":
    main()

# Expected output:
# 1
# 2
# 3
# 4
# 5
# 6
# 7
# 8
# 9
# 10
# queues empty: True
