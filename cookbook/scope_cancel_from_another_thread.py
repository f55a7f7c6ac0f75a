"""Cancel async work from another thread or a signal handler with a ScopeGroup.

Each job registers a cancellable region with ``group.scope()``. Any thread, or a SIGINT
handler (``cancel_all`` takes no lock), cancels every live region; ``latch=True`` also
cancels a job that was just about to enter its region. The cancellation is caught at the
region's exit: the job survives and its follow-up code (reporting, cleanup) still runs.
"""

# Mirrors: seed 002, "Cancelling async work from another thread (or a signal handler)"

from __future__ import annotations

import asyncio
import signal
import threading

import threaded_async as ta


def main() -> None:
    scopes = ta.ScopeGroup()
    working = threading.Barrier(3)  # two jobs + this thread

    async def do_work() -> None:
        await asyncio.to_thread(working.wait)  # "we are busy now"
        await asyncio.Event().wait()  # ... a long computation

    async def job(name: str) -> str:
        with scopes.scope() as scope:  # registers a cancellable region
            await do_work()
        if scope.cancelled_caught:
            return f"{name}: interrupted ({scope.cancel_reason}); cleaning up"
        return f"{name}: finished"

    async def late_job() -> str:
        with scopes.scope() as scope:  # entered after the cancel: the latch catches it
            await asyncio.sleep(3600)
        return f"late job: cancelled on entry={scope.cancelled_caught}"

    with ta.AsyncRunner() as runner:
        tasks = [runner.create_task(job(name)) for name in ("job A", "job B")]
        working.wait()
        runner.wait_until_idle()

        # From a signal handler (here SIGUSR1, raised by this very program).
        def on_signal(signum: int, frame: object) -> None:
            scopes.cancel_all("user interrupt", latch=True)

        previous = signal.signal(signal.SIGUSR1, on_signal)
        try:
            signal.raise_signal(signal.SIGUSR1)
        finally:
            signal.signal(signal.SIGUSR1, previous)

        for task in tasks:
            print(task.wait(5))
        print(runner.run(late_job(), timeout=5))
        scopes.reset()
        print("latched after reset:", scopes.latched)


if __name__ == "__main__":
    main()

# Expected output:
# job A: interrupted (user interrupt); cleaning up
# job B: interrupted (user interrupt); cleaning up
# late job: cancelled on entry=True
# latched after reset: False
