"""A one-shot signal as a promise: attach callbacks with ``then``, wait on it from a
thread, or await it from a coroutine.

A ``Signal`` starts unset, is set once by ``go()`` from any thread, and never resets;
callbacks run exactly once (at once if it is already set).
"""

# Mirrors: seed 004, "Signal Class"

from __future__ import annotations

import asyncio

import threaded_async as ta


def work(log: list[str], *, please_stop: ta.Signal) -> str:
    log.append("worker: working")
    return "result"


def main() -> None:
    log: list[str] = []
    is_done = ta.Signal("is_done")
    is_done.then(lambda: log.append("then: done"))
    is_done.go()
    is_done.go()  # no effect: one shot
    is_done.then(lambda: log.append("then: attached late, runs at once"))
    print("\n".join(log))

    worker = ta.SupervisedThread("worker", work, []).start()
    worker.stopped.wait(5)  # waiting on `stopped` is not join(): no result, no exception
    print("worker thread is done")
    print("join:", worker.join(5))

    async def from_a_coroutine() -> str:
        signal = ta.Signal()
        asyncio.get_running_loop().call_soon(signal.go)
        await signal
        return "awaited a signal"

    print(asyncio.run(from_a_coroutine()))


if __name__ == "__main__":
    main()

# Expected output:
# then: done
# then: attached late, runs at once
# worker thread is done
# join: result
# awaited a signal
