"""Request traces: record what the client asked, with what, what it got, and when.

``Server(record_trace=True)`` keeps a :class:`TraceEntry` per answered request (function,
arguments, result or error, virtual time of the request). Run the same client code with
the same answers and clock steps twice and the traces are equal: that is the
determinism guarantee, and what regression tests of agent scripts compare against.
"""

from __future__ import annotations

import asyncio

import threaded_async as ta


class Arm(ta.Client):
    async def grab(self, item: str) -> bool:
        return await self.execute(Arm.grab, item)


def grab(item: str) -> bool:
    if item == "anvil":
        raise ValueError("too heavy")
    return True


async def worker(arm: Arm, items: list[str], pause: float) -> None:
    for item in items:
        await asyncio.sleep(pause)
        try:
            await arm.grab(item)
        except ValueError:
            pass


async def two_workers(server: ta.Server) -> None:
    await asyncio.gather(
        worker(Arm(server), ["cup", "anvil"], 0.4),
        worker(Arm(server), ["pen", "book"], 0.25),
    )


def run_once() -> list[ta.TraceEntry]:
    clock = ta.VirtualClock()
    with ta.Server(handlers={Arm.grab: grab}, clock=clock, record_trace=True) as server:
        task = server.create_background_task(two_workers(server))
        while not task.done():  # a game loop: answer what is queued, then one 0.1 s frame
            server.process_all()
            clock.advance(0.1)
        return server.trace


def main() -> None:
    trace = run_once()
    for entry in trace:
        outcome = f"error {entry.error}" if entry.error else f"-> {entry.result!r}"
        args = ", ".join(repr(a) for a in entry.args)
        print(f"t={entry.time:g} {entry.request}({args}) {outcome}")
    print(f"second run gives the same trace: {run_once() == trace}")


if __name__ == "__main__":
    main()

# Expected output:
# t=0.25 Arm.grab('pen') -> True
# t=0.4 Arm.grab('cup') -> True
# t=0.55 Arm.grab('book') -> True
# t=0.8 Arm.grab('anvil') error ValueError: too heavy
# second run gives the same trace: True
