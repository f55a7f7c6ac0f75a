"""Give the loop your own ThreadPoolExecutor, created before the loop and closed after it.

``run_in_executor(executor, ...)`` and ``asyncio.wrap_future(executor.submit(...))`` are
equivalent; the executor outlives the runner, so closing the loop never waits on a worker.
"""

# Mirrors: seed 003, "Running threads in an event loop" (your own ThreadPoolExecutor)

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import threaded_async as ta


def process_image(image: bytes) -> bytes:
    return b"processed " + image


async def process(executor: ThreadPoolExecutor, image: bytes) -> tuple[bytes, bytes]:
    loop = asyncio.get_running_loop()
    first = await loop.run_in_executor(executor, process_image, image)
    # Above would be equivalent to writing:
    second = await asyncio.wrap_future(executor.submit(process_image, image))
    return first, second


def main() -> None:
    with ThreadPoolExecutor(max_workers=5) as executor, ta.AsyncRunner() as runner:
        first, second = runner.run(process(executor, b"image"))
        print(first)
        print(second)


if __name__ == "__main__":
    main()

# Expected output:
# b'processed image'
# b'processed image'
