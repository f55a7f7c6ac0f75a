"""Make sure threads you did not start ("alien" threads, e.g. a library's callback
threads) have left your code before you stop.

mo-threads registers them with ``with RegisterThread():``; here each alien call is
counted by a :class:`WorkTracker` (``with tracker:``), a stop signal refuses new calls,
and shutdown waits until the tracker is idle.
"""

# Mirrors: seed 004, "Registering Threads"

from __future__ import annotations

import threading

import threaded_async as ta

stopping = ta.Signal("stopping")
in_our_code = ta.WorkTracker()
handled: list[str] = []
lock = threading.Lock()


def my_method(item: str) -> bool:
    """Called by threads we do not own."""
    with in_our_code:  # registered for the duration of the call
        if stopping:  # checked after registering, so stop cannot miss us
            return False  # we are shutting down: refuse new work
        with lock:
            handled.append(item)
        return True


def main() -> None:
    aliens = [threading.Thread(target=my_method, args=(f"item {i}",)) for i in range(4)]
    for t in aliens:
        t.start()
    for t in aliens:
        t.join(5)
    stopping.go()
    in_our_code.wait_idle(timeout=5)  # every alien thread has left our code
    print("handled:", sorted(handled))
    print("after stop accepted:", my_method("late"))


if __name__ == "__main__":
    main()

# Expected output:
# handled: ['item 0', 'item 1', 'item 2', 'item 3']
# after stop accepted: False
