"""Run callbacks when the background event loop stops.

The guide's last ``EventThread`` adds ``add_done_callback`` through a third future that is
set when the loop finishes. ``AsyncRunner.add_stop_callback`` does this: the callback runs
once the loop is closed (at once if it already is), in the thread that closed it, so keep
it thread-safe and quick (set an event, put on a queue).
"""

# Mirrors: seed 003, "Refactoring our EventThread class" (add_done_callback on stop)

from __future__ import annotations

import threading

import threaded_async as ta


def main() -> None:
    stopped = threading.Event()
    with ta.AsyncRunner() as thread:
        thread.add_stop_callback(lambda: print("Event loop stopped"))
        thread.add_stop_callback(stopped.set)
        main_waiting = ta.Event(thread)

        async def func() -> int:
            await main_waiting.wait_async()
            print("Hello from event loop!")
            return 1234

        fut = thread.submit(func())
        print("Main thread waiting on coroutine...")
        main_waiting.set()
        result = fut.result()
        print("Main thread received:", result)
    print("stop callbacks ran before the block ended:", stopped.is_set())


if __name__ == "__main__":
    main()

# Expected output:
# Main thread waiting on coroutine...
# Hello from event loop!
# Main thread received: 1234
# Event loop stopped
# stop callbacks ran before the block ended: True
