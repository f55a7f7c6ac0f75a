"""Wrap a blocking worker thread in an async API: one future per submitted item.

The guide's ``AsyncImageProcessor`` relies on the worker answering in FIFO order and
suggests pairing each item with a future instead. A ``threaded_async.Future`` can be
resolved from the worker thread and awaited on any loop, so each ``submit`` gets exactly
its own result, whatever the order.
"""

# Mirrors: seed 003, "Managing long-lived tasks" (AsyncImageProcessor with a TaskGroup)

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

import threaded_async as ta


class ImageProcessor:
    def __init__(self) -> None:
        self._queue: ta.Queue[tuple[bytes, ta.Future[bytes]]] = ta.Queue()
        self._thread = threading.Thread(target=self.run_forever)

    def __enter__(self) -> ImageProcessor:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._queue.shutdown()
        self._thread.join()

    def run_forever(self) -> None:
        for item, future in self._queue:
            future.set_result(b"processed " + item)  # from the worker thread

    def submit(self, image_bytes: bytes) -> ta.Future[bytes]:
        future: ta.Future[bytes] = ta.Future()
        self._queue.put_nowait((image_bytes, future))
        return future


class AsyncImageProcessor:
    def __init__(self, worker: ImageProcessor) -> None:
        self._worker = worker

    async def submit(self, item: bytes) -> bytes:
        return await self._worker.submit(item)


async def main_coro(sync_worker: ImageProcessor) -> None:
    worker = AsyncImageProcessor(sync_worker)
    tasks: list[asyncio.Task[bytes]] = []
    async with asyncio.TaskGroup() as tg:
        for i in range(5):
            image = f"image {i}".encode()
            tasks.append(tg.create_task(worker.submit(image)))
    for task in tasks:
        print(await task)


def main() -> None:
    with ImageProcessor() as worker:
        asyncio.run(main_coro(worker))


if __name__ == "__main__":
    main()

# Expected output:
# b'processed image 0'
# b'processed image 1'
# b'processed image 2'
# b'processed image 3'
# b'processed image 4'
