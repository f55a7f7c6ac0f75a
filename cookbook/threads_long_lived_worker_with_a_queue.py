"""A long-lived worker thread fed through a queue, stopped and joined by a context manager.

The guide's synchronous ``ImageProcessor``: a thread blocks on a queue until items come.
With a ``threaded_async.Queue`` the worker iterates the queue and ``shutdown()`` replaces
the ``None`` sentinel: the loop ends once every item put before it was processed. The
same queue can later be fed from coroutines (``await queue.put(...)``) without blocking
their loop.
"""

# Mirrors: seed 003, "Managing long-lived tasks" (ImageProcessor with a queue and a thread)

from __future__ import annotations

import threading
from types import TracebackType

import threaded_async as ta


class ImageProcessor:
    def __init__(self) -> None:
        self._queue: ta.Queue[bytes] = ta.Queue()
        self._thread: threading.Thread | None = None
        self.results: list[bytes] = []

    def __enter__(self) -> ImageProcessor:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._thread is not None
        self.stop()
        self._thread.join()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever)
        self._thread.start()

    def stop(self) -> None:
        self._queue.shutdown()  # no sentinel: the worker drains, then its loop ends

    def run_forever(self) -> None:
        for item in self._queue:  # blocks in get_wait() until an item or shutdown
            self.results.append(b"processed " + item)

    def submit(self, image_bytes: bytes) -> None:
        self._queue.put_nowait(image_bytes)  # never blocks (unbounded queue)


def main() -> None:
    with ImageProcessor() as worker:
        worker.submit(b"some image bytes")
        worker.submit(b"more image bytes")
    print(worker.results)
    try:
        worker.submit(b"too late")
    except ta.QueueShutDown:
        print("submit after stop is refused")


if __name__ == "__main__":
    main()

# Expected output:
# [b'processed some image bytes', b'processed more image bytes']
# submit after stop is refused
