"""Handle messages strictly one at a time, with an escape hatch: a handler may release
the mailbox so the next message starts while it finishes slow I/O.

Like microio's ``ActorCore(handle, concurrent=True)``: the part of a handler before
``self.release()`` stays in arrival order; after it, the next message may run whenever
this one suspends. Handlers that never call ``release()`` stay fully serialized.
"""

# Mirrors: seed 002, "Serialized message handling, with an escape hatch"

from __future__ import annotations

import asyncio

import threaded_async as ta


class Processor(ta.Actor):
    def __init__(self) -> None:
        super().__init__()
        self.prepared: list[int] = []

    async def handle(self, msg: int) -> str:
        self.prepared.append(msg)  # this part stays strictly ordered
        print("prepared", msg)
        self.release()  # from here on, the next message may start...
        await asyncio.sleep(0.01 * (3 - msg))  # ...slow I/O; later messages finish first
        return f"done {msg}"

    def order(self) -> list[int]:
        return list(self.prepared)


def main() -> None:
    with Processor() as actor:
        replies = [actor.call(actor.handle, n) for n in range(3)]  # thread-safe submits
        print([reply.wait(5) for reply in replies])
        print("prepared in order:", actor.call(actor.order).wait(5))


if __name__ == "__main__":
    main()

# Expected output:
# prepared 0
# prepared 1
# prepared 2
# ['done 0', 'done 1', 'done 2']
# prepared in order: [0, 1, 2]
