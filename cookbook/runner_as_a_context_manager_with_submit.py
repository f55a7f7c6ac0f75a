"""Use the loop thread as a context manager with a ``submit()`` that returns a future.

The guide refactors its ``EventThread`` into a context manager whose ``submit(coro)`` wraps
``run_coroutine_threadsafe`` and whose loop and stop signal are ``concurrent.futures``
futures. ``AsyncRunner`` has exactly that surface: ``with AsyncRunner() as thread:`` and
``thread.submit(coro)`` returning a ``concurrent.futures.Future``.
"""

# Mirrors: seed 003, "Refactoring our EventThread class" (context manager + submit + futures)

from __future__ import annotations

import threaded_async as ta


def main() -> None:
    with ta.AsyncRunner() as thread:
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
    print("Event loop stopped")


if __name__ == "__main__":
    main()

# Expected output:
# Main thread waiting on coroutine...
# Hello from event loop!
# Main thread received: 1234
# Event loop stopped
