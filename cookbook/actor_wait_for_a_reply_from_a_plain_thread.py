"""Wait for an actor's reply from a plain thread (no event loop): block with a timeout,
or register a callback.

threadmsg has no way to block on a reply outside an event loop, so its users poll
``isData()`` in a sleep loop. ``reply.wait(timeout)`` blocks the calling thread until the
answer (or raises ``EventLoopTimeoutError``); a ``None`` answer is an answer too.
"""

# Mirrors: seed 000, "5 · Waiting for a reply (sync / no event loop)"

from __future__ import annotations

import threaded_async as ta


class MyWorker(ta.Actor):
    def add(self, a: int, b: int) -> int:
        return a + b

    def forget(self, key: str) -> None:
        return None  # a reply of None is still a reply


def main() -> None:
    with MyWorker() as worker:
        # Option A: callback, then wait on a signal it sets.
        result: list[int] = []
        done = ta.Signal()
        worker.call(worker.add, a=7, b=8).then(lambda r: (result.append(r.result()), done.go()))
        done.wait(timeout=5)
        print(result[0])  # 15

        # Option B: block on the reply itself, no polling.
        print(worker.call(worker.add, a=1, b=2).wait(timeout=5))  # 3
        print(worker.call(worker.forget, "x").wait(timeout=5))  # None


if __name__ == "__main__":
    main()

# Expected output:
# 15
# 3
# None
