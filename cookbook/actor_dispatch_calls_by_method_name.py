"""Serialize work onto one thread by calling an actor's methods: by name, typed, or with
a callback.

threadmsg's subclass keeps a ``callMap`` of names to methods and dispatches messages with
``mapMsgAsync``; an actor needs none of that: every public method is a message. The
callback form (``worker.call(on_result, 'add', a=3, b=4)``) is ``.then(on_result)``.
"""

# Mirrors: seed 000, "3 · Function mapping with call()"

from __future__ import annotations

import asyncio

import threaded_async as ta


class MyWorker(ta.Actor):
    def add(self, a: int, b: int) -> int:
        return a + b

    async def greet(self, name: str) -> str:
        await asyncio.sleep(0)  # async methods are fine too
        return f"hello, {name}!"


async def main_async(worker: MyWorker) -> None:
    done = ta.Signal()

    # Fire-and-forget with a callback (runs on the worker's loop thread).
    def on_result(reply: ta.Reply[int]) -> None:
        print("add result:", reply.result())
        done.go()

    worker.call("add", a=3, b=4).then(on_result)
    await done

    # Await the reply directly, by name or typed through the method itself.
    print(await worker.call("greet", name="world"))
    print(await worker.call(worker.add, 1, b=2))
    print(await worker.proxy.greet("proxy"))


def main() -> None:
    with MyWorker() as worker:  # starts it on its own runner; stops it at the end
        asyncio.run(main_async(worker))


if __name__ == "__main__":
    main()

# Expected output:
# add result: 7
# hello, world!
# 3
# hello, proxy!
