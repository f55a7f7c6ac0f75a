"""A plain thread feeds items to a coroutine through a Queue; shutting it down ends the loop.

The producer thread needs no event loop and no ``call_soon_threadsafe``: ``put_nowait``
works from any thread (even before the loop exists), and ``shutdown()`` wakes the consumer
so its ``async for`` ends once the queue is drained, instead of stranding it.
"""

# Mirrors: seed 002, "A thread feeding an event loop"

from __future__ import annotations

import asyncio
import threading

import threaded_async as ta


def main() -> None:
    queue: ta.Queue[int] = ta.Queue()  # created before any loop exists

    def producer() -> None:  # any thread, no loop required
        for i in range(5):
            queue.put_nowait(i)
        queue.shutdown()  # wakes the receiver; the async-for ends after the last item

    async def consumer() -> None:
        thread = threading.Thread(target=producer)
        thread.start()
        async for item in queue:
            print(item)
        await asyncio.to_thread(thread.join)
        print("producer done, queue drained")

    asyncio.run(consumer())


if __name__ == "__main__":
    main()

# Expected output:
# 0
# 1
# 2
# 3
# 4
# producer done, queue drained
