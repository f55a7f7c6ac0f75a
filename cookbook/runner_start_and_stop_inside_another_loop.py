"""Start and stop a worker thread from inside a running event loop with ``async with``.

The guide's exercise: an ``AsyncImageProcessor`` used as ``async with`` that starts its
worker thread and stops it *without blocking the loop*. ``async with AsyncRunner()`` is
that worker: entering waits for its thread asynchronously, each item runs there (blocking
work blocks only the worker), results are awaited across loops, and leaving shuts the
worker down in the background while this loop keeps running. A stop callback reports it.
"""

# Mirrors: seed 003, "Managing long-lived tasks" (the async-with AsyncImageProcessor solution)

from __future__ import annotations

import asyncio
from types import TracebackType

import threaded_async as ta


def process_image(image: bytes) -> bytes:
    return b"processed " + image  # blocking work is fine: it runs on the worker thread


class AsyncImageProcessor:
    def __init__(self) -> None:
        self._worker = ta.AsyncRunner(name="image-worker")
        self.stopped = asyncio.Event()

    async def __aenter__(self) -> AsyncImageProcessor:
        loop = asyncio.get_running_loop()
        await self._worker.__aenter__()  # does not block this loop
        self._worker.add_stop_callback(lambda: loop.call_soon_threadsafe(self.stopped.set))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._worker.__aexit__(exc_type, exc, tb)  # neither does this
        await self.stopped.wait()

    async def _process(self, item: bytes) -> bytes:
        return process_image(item)

    async def submit(self, item: bytes) -> bytes:
        # a BackgroundTask of the worker, awaited from this (other) loop
        return await self._worker.create_task(self._process(item))


async def main_coro() -> None:
    tasks: list[asyncio.Task[bytes]] = []
    async with AsyncImageProcessor() as worker, asyncio.TaskGroup() as tg:
        for i in range(5):
            image = f"image {i}".encode()
            tasks.append(tg.create_task(worker.submit(image)))
    for task in tasks:
        print(await task)
    print("worker stopped:", worker.stopped.is_set())


def main() -> None:
    asyncio.run(main_coro())


if __name__ == "__main__":
    main()

# Expected output:
# b'processed image 0'
# b'processed image 1'
# b'processed image 2'
# b'processed image 3'
# b'processed image 4'
# worker stopped: True
