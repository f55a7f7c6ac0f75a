"""Keep a worker thread's blocking shutdown off the event loop.

The guide's problem: leaving ``with ImageProcessor()`` *inside* a coroutine joins the
thread on the loop and freezes every other task. Its fix: build the worker before the loop
and shut it down after. With a runner the loop lives in its own thread, so the same shape
reads naturally: worker outside, runner inside; when a coroutine fails, the loop still
runs the other task's cleanup, the error reaches the caller, and only then is the worker
joined.
"""

# Mirrors: seed 003, "Managing long-lived tasks" (construct the worker before the event loop)

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

import threaded_async as ta


class ImageProcessor:
    def __init__(self) -> None:
        self._queue: ta.Queue[bytes] = ta.Queue()
        self._thread = threading.Thread(target=self._run)
        self.processed: list[bytes] = []

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

    def _run(self) -> None:
        for item in self._queue:
            self.processed.append(b"processed " + item)

    def submit(self, image_bytes: bytes) -> None:
        self._queue.put_nowait(image_bytes)


async def do_something_else(log: list[str]) -> None:
    try:
        for step in range(3):
            await asyncio.sleep(0)
            log.append(f"other task step {step}")
    except asyncio.CancelledError:
        await asyncio.sleep(0)  # async cleanup still runs: the loop is not frozen
        log.append("other task cancelled and cleaned up")
        raise


async def main_coro(worker: ImageProcessor, log: list[str]) -> None:
    async with asyncio.TaskGroup() as tg:
        tg.create_task(do_something_else(log))
        worker.submit(b"some image bytes")
        await asyncio.sleep(0)
        raise Exception("Houston, we have a problem!")


def main() -> None:
    log: list[str] = []
    with ImageProcessor() as worker, ta.AsyncRunner() as runner:
        try:
            runner.run(main_coro(worker, log))
        except* Exception as group:
            log.append(f"loop failed: {group.exceptions[0]}")
    print("\n".join(log))
    print("worker processed:", worker.processed)


if __name__ == "__main__":
    main()

# Expected output:
# other task cancelled and cleaned up
# loop failed: Houston, we have a problem!
# worker processed: [b'processed some image bytes']
