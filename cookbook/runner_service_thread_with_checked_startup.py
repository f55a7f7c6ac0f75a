"""A background thread that owns an event loop, with checked startup and shutdown.

``AsyncRunner`` is the loop-owning service thread: ``start()`` returns once the loop runs
(and re-raises a startup failure with its real traceback), resources are created *on* the
loop thread, any thread submits coroutines to it, and ``stop()`` reports how the thread
ended (``shutdown_type``) instead of silently ignoring a join timeout.
"""

# Mirrors: seed 002, "A background thread that owns a loop — with checked startup and shutdown"

from __future__ import annotations

import asyncio

import threaded_async as ta


class Database:
    """A stand-in for an async client whose connection belongs to one loop."""

    def __init__(self, rows: list[str]) -> None:
        self._rows = rows
        self.loop = asyncio.get_running_loop()

    async def query(self, sql: str) -> list[str]:
        assert asyncio.get_running_loop() is self.loop  # used on its own loop only
        await asyncio.sleep(0)
        return [row for row in self._rows if sql in row]


async def connect(reachable: bool) -> Database:
    await asyncio.sleep(0)
    if not reachable:
        raise ConnectionRefusedError("database unreachable")
    return Database(["user alice", "user bob", "order 7"])


def main() -> None:
    # A failed startup is loud: the parent sees the real exception.
    with ta.AsyncRunner(name="db-service") as svc:
        try:
            svc.run(connect(reachable=False), timeout=5)
        except ConnectionRefusedError as exc:
            print(f"startup failed: {exc!r}")

    # The normal life of the service.
    svc = ta.AsyncRunner(name="db-service")
    svc.start()  # returns once the loop runs; raises if the loop could not be created
    db = svc.run(connect(reachable=True), timeout=5)  # the resource lives on the loop
    fut = svc.submit(db.query("user"))  # from any thread: a concurrent.futures.Future
    print("rows:", fut.result(timeout=5))
    svc.stop(timeout=2)
    print("service stopped:", svc.shutdown_type.name)


if __name__ == "__main__":
    main()

# Expected output:
# startup failed: ConnectionRefusedError('database unreachable')
# rows: ['user alice', 'user bob']
# service stopped: STOPPED
