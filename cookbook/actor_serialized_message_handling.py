"""Handle messages one at a time, in arrival order, with an opt-in escape hatch.

An ``Actor``'s handlers run on its loop thread strictly one after another; ``tell`` and
``call`` are safe from any thread. A handler that must let the queue move on while it waits
for something slow calls ``self.release()``: the part before stays ordered, the rest runs
concurrently with the next messages. Handlers that never release stay serialized.
"""

# Mirrors: seed 002, "Serialized message handling, with an escape hatch"

from __future__ import annotations

import asyncio

import threaded_async as ta


class Serialized(ta.Actor):
    def __init__(self) -> None:
        super().__init__()
        self.log: list[str] = []

    async def handle(self, msg: str) -> None:  # one at a time, in arrival order
        self.log.append(f"start {msg}")
        await asyncio.sleep(0)  # suspending does not let the next message in
        self.log.append(f"end {msg}")


class WithRelease(ta.Actor):
    def __init__(self) -> None:
        super().__init__()
        self.log: list[str] = []
        self.slow_io_done = asyncio.Event()

    async def handle(self, msg: str) -> None:
        self.log.append(f"prepare {msg}")  # this part stays strictly ordered
        self.release()  # from here on, the next message may start...
        if msg == "slow":
            await self.slow_io_done.wait()  # ...it actually runs while this one waits
        else:
            self.slow_io_done.set()
        self.log.append(f"done {msg}")


def main() -> None:
    with Serialized() as actor:
        for msg in ("a", "b"):
            actor.tell(actor.handle, msg)  # thread-safe, from anywhere
        actor.call(actor.handle, "c").wait(5)
        print("serialized:", ", ".join(actor.log))

    with WithRelease() as actor:
        replies = [actor.call(actor.handle, msg) for msg in ("slow", "fast")]
        for reply in replies:
            reply.wait(5)
        print("with release:", ", ".join(actor.log))


if __name__ == "__main__":
    main()

# Expected output:
# serialized: start a, end a, start b, end b, start c, end c
# with release: prepare slow, prepare fast, done fast, done slow
