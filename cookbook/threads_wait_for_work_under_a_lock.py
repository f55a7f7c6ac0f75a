"""A worker that waits for work under a lock and still stops promptly when asked.

mo-threads' ``Lock.wait()`` re-acquires the lock and wakes a waiter whenever the lock is
released. ``threading.Condition`` does the same job: the worker waits on it (bounded),
producers notify it, and the supervised thread's ``please_stop`` ends the loop.
"""

# Mirrors: seed 004, "Lock Class"

from __future__ import annotations

import threading

import threaded_async as ta


def main() -> None:
    todo: list[int] = []
    done: list[int] = []
    cond = threading.Condition()
    all_done = ta.Signal("all done")

    def work(*, please_stop: ta.Signal) -> int:
        please_stop.then(lambda: _notify(cond))  # wake the wait below when asked to stop
        while not please_stop:
            with cond:
                while not todo and not please_stop:
                    cond.wait(1)  # releases the lock while waiting; others add work
                batch, todo[:] = list(todo), []
            done.extend(item * item for item in batch)  # DO SOME WORK, lock released
            if len(done) == 5:
                all_done.go()
        return len(done)

    with ta.ThreadGroup() as group:
        worker = group.start(work, name="worker")
        for item in range(5):
            with cond:
                todo.append(item)
                cond.notify()
        all_done.wait(5)
        worker.stop()
        print("squares:", sorted(done))
        print("worker handled:", worker.join(5))


def _notify(cond: threading.Condition) -> None:
    with cond:
        cond.notify_all()


if __name__ == "__main__":
    main()

# Expected output:
# squares: [0, 1, 4, 9, 16]
# worker handled: 5
