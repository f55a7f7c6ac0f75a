"""The four cadences an actor can choose after each tick, and its one clean-up call.

threadmsg's thread function returns ``None`` (wait for a message), ``0`` (again now), a
positive number (again after that many seconds) or a negative one (stop), and is called
once more with ``ctx.run == False`` to release resources. ``on_tick`` returns the same
values (named in :class:`Cadence`); ``on_stop`` is the clean-up call, made exactly once,
whether the actor stops itself, is stopped, or its runner exits.
"""

# Mirrors: seed 000, "Thread function return values"

from __future__ import annotations

import threaded_async as ta


class Database:
    def close(self) -> None:
        print("cleaning up: db closed")


class Managed(ta.Actor):
    def __init__(self) -> None:
        super().__init__()
        self.db = Database()
        self.plan: list[float | None] = [ta.Cadence.NOW, ta.Cadence.after(0.01), ta.Cadence.WAIT]
        self.ticks = 0
        self.waiting = ta.Signal()

    async def on_tick(self) -> float | None:
        self.ticks += 1
        if not self.plan:
            print(f"tick {self.ticks}: stop")
            return ta.Cadence.STOP
        cadence = self.plan.pop(0)
        label = {None: "wait for a message", 0.0: "again now"}.get(cadence, "again after 10 ms")
        print(f"tick {self.ticks}: {label}")
        if cadence is ta.Cadence.WAIT:
            self.waiting.go()
        return cadence

    def poke(self) -> str:
        return "poked"

    async def on_stop(self) -> None:
        self.db.close()


def main() -> None:
    actor = Managed().start()
    # The third tick waits for a message; this one wakes it, and the next tick stops.
    actor.waiting.wait(5)
    reply = actor.call(actor.poke)
    actor.stopped.wait(5)
    print(reply.wait(5))
    actor.stop()
    try:
        actor.call(actor.poke)
    except ta.ActorStoppedError as exc:
        print("refused:", type(exc).__name__)


if __name__ == "__main__":
    main()

# Expected output:
# tick 1: again now
# tick 2: again after 10 ms
# tick 3: wait for a message
# tick 4: stop
# cleaning up: db closed
# poked
# refused: ActorStoppedError
