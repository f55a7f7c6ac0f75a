"""Virtual time: the host moves the loop's clock, and every sleep, timeout and timer follows.

With ``AsyncRunner(clock=VirtualClock())`` (or ``Server(clock=...)``) the loop's time
stands still until the host calls ``clock.advance(seconds)``. ``advance`` fires every timer
due by then, in order and each at its own due time, and returns once the loop is idle
again, so whatever a finished sleep led to has already happened. ``asyncio.sleep``,
``asyncio.timeout``, ``wait_for`` and ``call_later`` all use this clock.
"""

from __future__ import annotations

import asyncio

import threaded_async as ta


def main() -> None:
    clock = ta.VirtualClock()
    with ta.AsyncRunner(clock=clock) as runner:

        async def nap() -> str:
            await asyncio.sleep(3600)
            return f"woke at t={clock.time():g}"

        async def impatient() -> str:
            try:
                async with asyncio.timeout(90):
                    await asyncio.Event().wait()
            except TimeoutError:
                return f"gave up at t={clock.time():g}"
            return "never"

        async def polite() -> str:
            try:
                await asyncio.wait_for(asyncio.sleep(1000), timeout=150)
            except TimeoutError:
                return f"wait_for timed out at t={clock.time():g}"
            return "never"

        def ring(label: str) -> None:
            print(f"  call_later {label} at t={clock.time():g}")

        def schedule_bells() -> None:
            loop = asyncio.get_running_loop()
            loop.call_later(30, ring, "bell")
            loop.call_later(1800, ring, "half-time bell")

        tasks = [runner.create_task(coro) for coro in (nap(), impatient(), polite())]
        runner.call_in_loop(schedule_bells)
        for minutes in (1, 1, 1, 57):
            clock.advance(60 * minutes)
            done = [t.wait() for t in tasks if t.done()]
            print(f"after advancing to t={clock.time():g}: {done}")


if __name__ == "__main__":
    main()

# Expected output:
#   call_later bell at t=30
# after advancing to t=60: []
# after advancing to t=120: ['gave up at t=90']
# after advancing to t=180: ['gave up at t=90', 'wait_for timed out at t=150']
#   call_later half-time bell at t=1800
# after advancing to t=3600: ['woke at t=3600', 'gave up at t=90', 'wait_for timed out at t=150']
