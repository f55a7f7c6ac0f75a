"""Await an actor's reply from a coroutine on another loop, with a timeout.

threadmsg's ``await reply.wait(timeout=5)`` returns ``False`` on timeout; here a reply is
awaitable, so ``asyncio.wait_for`` bounds it and a timeout is an exception you cannot
overlook. The message is still handled after a timeout; awaiting again gets the result.
"""

# Mirrors: seed 000, "4 · Waiting for a reply (async)"

from __future__ import annotations

import asyncio

import threaded_async as ta


class MyWorker(ta.Actor):
    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    def add(self, a: int, b: int) -> int:
        return a + b

    async def slow(self) -> str:
        self.release()  # let open_gate() run while this handler waits for it
        await self.gate.wait()
        return "finally"

    def open_gate(self) -> None:
        self.gate.set()


async def main_async(worker: MyWorker) -> None:
    reply = worker.call(worker.add, a=10, b=20)
    print(await asyncio.wait_for(reply.wait_async(), timeout=5))  # 30

    slow = worker.call(worker.slow)
    try:
        await asyncio.wait_for(slow.wait_async(), timeout=0.01)
    except TimeoutError:
        print("timed out")
    worker.tell(worker.open_gate)
    print(await slow)  # the same reply, awaited again


def main() -> None:
    with MyWorker() as worker:
        asyncio.run(main_async(worker))


if __name__ == "__main__":
    main()

# Expected output:
# 30
# timed out
# finally
