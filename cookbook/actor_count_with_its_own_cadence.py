"""An actor that schedules itself: run again after a delay, stop after N rounds, clean up.

threadmsg's thread function returns ``0.1`` to be called again 100 ms later and ``-1`` to
stop, and is called one last time with ``ctx.run == False``. Here ``on_tick`` returns a
:class:`Cadence` value, constructor arguments replace threadmsg's ``p`` tuple, and the
final call is ``on_stop``.
"""

# Mirrors: seed 000, "2 · Passing parameters to the thread"

from __future__ import annotations

import threaded_async as ta


class CounterThread(ta.Actor):
    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.loops = 0

    async def on_tick(self) -> float | None:
        print("loop", self.loops)
        self.loops += 1
        if self.loops >= self.limit:
            return ta.Cadence.STOP  # done
        return ta.Cadence.after(0.01)  # call again after 10 ms

    async def on_stop(self) -> None:
        print("exiting")


def main() -> None:
    counter = CounterThread(5).start()
    counter.stopped.wait(10)
    counter.stop()


if __name__ == "__main__":
    main()

# Expected output:
# loop 0
# loop 1
# loop 2
# loop 3
# loop 4
# exiting
