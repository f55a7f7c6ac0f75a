"""Send a worker thread's results to a coroutine, no ``call_soon_threadsafe`` needed.

The guide registers a callback on the worker that calls
``loop.call_soon_threadsafe(queue.put_nowait, result)`` because ``asyncio.Queue`` is not
thread-safe. A ``threaded_async.Queue`` is: the worker thread calls ``put_nowait`` directly
(waking the loop at most once), and the coroutine awaits ``get()``.
"""

# Mirrors: seed 003, "Managing long-lived tasks" (worker callbacks feeding an asyncio.Queue)

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from types import TracebackType

import threaded_async as ta

ImageProcessorCallback = Callable[[bytes], object]


class ImageProcessor:
    def __init__(self) -> None:
        self._queue: ta.Queue[bytes] = ta.Queue()
        self._thread = threading.Thread(target=self.run_forever)
        self._callbacks: list[ImageProcessorCallback] = []

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

    def add_done_callback(self, callback: ImageProcessorCallback) -> None:
        self._callbacks.append(callback)

    def run_forever(self) -> None:
        for item in self._queue:
            result = b"processed " + item
            for callback in self._callbacks:
                callback(result)

    def submit(self, image_bytes: bytes) -> None:
        self._queue.put_nowait(image_bytes)


async def main_coro(worker: ImageProcessor) -> None:
    results: ta.Queue[bytes] = ta.Queue()
    worker.add_done_callback(results.put_nowait)  # thread-safe as it is
    worker.submit(b"some image bytes")
    result = await results.get()
    print("processed image bytes:", result)


def main() -> None:
    with ImageProcessor() as worker:
        asyncio.run(main_coro(worker))


if __name__ == "__main__":
    main()

# Expected output:
# processed image bytes: b'processed some image bytes'
