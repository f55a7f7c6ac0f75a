"""Run an event loop in a background thread and submit coroutines to it from the main thread.

The guide builds an ``EventThread`` step by step: a thread running ``asyncio.run`` of a
forever-coroutine, a ``threading.Event`` to hand the loop back, ``run_coroutine_threadsafe``,
and a stop event. ``AsyncRunner`` is that class: ``start()`` returns once the loop runs,
``runner.loop`` works with ``run_coroutine_threadsafe``, and ``stop()`` shuts the loop down
cleanly (no ``daemon=True`` shortcut) and joins the thread.
"""

# Mirrors: seed 003, "Running event loops in other threads" (EventThread with get_loop and stop)

from __future__ import annotations

import asyncio

import threaded_async as ta


def main() -> None:
    thread = ta.AsyncRunner()
    thread.start()
    main_waiting = ta.Event(thread)

    async def func() -> int:
        await main_waiting.wait_async()  # (the guide sleeps 1 s here)
        print("Hello from event loop!")
        return 1234

    loop = thread.loop
    fut = asyncio.run_coroutine_threadsafe(func(), loop)
    print("Main thread waiting on coroutine...")
    main_waiting.set()
    result = fut.result()
    print("Main thread received:", result)

    thread.stop()
    print("Event loop stopped")


if __name__ == "__main__":
    main()

# Expected output:
# Main thread waiting on coroutine...
# Hello from event loop!
# Main thread received: 1234
# Event loop stopped
