"""Run blocking (CPU-bound) functions from the loop without blocking it.

The guide's ``asyncio.to_thread`` inside a ``TaskGroup``, and the older
``loop.run_in_executor`` + ``gather`` spelling with cancel-on-failure: both work unchanged
on a runner's loop, while the main thread stays free.
"""

# Mirrors: seed 003, "Running threads in an event loop" (to_thread and run_in_executor)

from __future__ import annotations

import asyncio

import threaded_async as ta


def process_image(image: bytes) -> bytes:
    """Blocking work (think Pillow)."""
    return image.upper()


async def with_to_thread(images: list[bytes]) -> list[bytes]:
    tasks: list[asyncio.Task[bytes]] = []
    async with ta.TaskGroup() as tg:
        for image in images:
            tasks.append(tg.create_task(asyncio.to_thread(process_image, image)))
    return [await t for t in tasks]


async def with_run_in_executor(images: list[bytes]) -> list[bytes]:
    loop = asyncio.get_running_loop()
    futures = [loop.run_in_executor(None, process_image, image) for image in images]
    try:
        return await asyncio.gather(*futures)
    except BaseException:
        for fut in futures:
            fut.cancel()
        raise


def main() -> None:
    images = [b"cat.png", b"dog.png", b"owl.png"]
    with ta.AsyncRunner() as runner:
        print("to_thread:", runner.run(with_to_thread(images)))
        print("run_in_executor:", runner.run(with_run_in_executor(images)))


if __name__ == "__main__":
    main()

# Expected output:
# to_thread: [b'CAT.PNG', b'DOG.PNG', b'OWL.PNG']
# run_in_executor: [b'CAT.PNG', b'DOG.PNG', b'OWL.PNG']
