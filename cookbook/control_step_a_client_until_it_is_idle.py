"""Quiescent stepping: process() sees every request, however the client wanders in between.

Between two requests the client awaits ``asyncio.sleep(0)``, gathers subtasks and hops
through helper coroutines. ``Server.process()`` answers a queued request at once; when
none is queued it first waits until the loop is *idle* (every task that can run has run),
so ``False`` really means "the client is waiting for something else", never "not yet".
``runner.wait_until_idle()`` offers the same wait on its own.
"""

from __future__ import annotations

import asyncio

import threaded_async as ta


class Stub(ta.Client):
    async def increment(self, n: int) -> int:
        return await self.execute(Stub.increment, n)


def increment(n: int) -> int:
    return n + 1


async def think(depth: int) -> None:
    await asyncio.sleep(0)
    if depth:
        await asyncio.gather(think(depth - 1), think(depth - 1))


async def client_code(stub: Stub) -> int:
    value = 0
    for _ in range(3):
        value = await stub.increment(value)
        print(f"client got {value}, now thinking")
        for _ in range(5):
            await asyncio.sleep(0)
        await think(3)  # 15 subtasks, each awaiting sleep(0)
    print("client done")
    return value


def main() -> None:
    with ta.Server(handlers={Stub.increment: increment}) as server:
        task = server.create_background_task(client_code(Stub(server)))
        step = 0
        while server.process():  # never a spurious False while the client is busy
            step += 1
            print(f"host answered request {step}")
        print(f"process() returned False: the client finished with {task.wait()}")

    with ta.AsyncRunner() as runner:
        log: list[str] = []

        async def chain() -> None:
            for _ in range(100):
                await asyncio.sleep(0)
            log.append("chain ran to the end (100 hops)")

        runner.call_soon(lambda: asyncio.ensure_future(chain()))
        runner.wait_until_idle()
        print(log[0])


if __name__ == "__main__":
    main()

# Expected output:
# client got 1, now thinking
# host answered request 1
# client got 2, now thinking
# host answered request 2
# client got 3, now thinking
# client done
# host answered request 3
# process() returned False: the client finished with 3
# chain ran to the end (100 hops)
