"""Autojump: virtual time leaps to the next timer whenever nothing else can run.

``VirtualClock(autojump=True)`` suits tests and batch simulations: a simulated day takes
milliseconds, ``wait_for`` times out in virtual seconds, and the outcome is the same
every run. The clock never jumps while a control-inversion request is queued or being
handled, so a handler always reads the time its request was made at.
"""

from __future__ import annotations

import asyncio

import threaded_async as ta


class Probe(ta.Client):
    async def reading(self, sensor: str) -> int:
        return await self.execute(Probe.reading, sensor)


async def sensor_loop(probe: Probe, sensor: str, period: float) -> list[int]:
    values: list[int] = []
    for _ in range(3):
        await asyncio.sleep(period)
        values.append(await probe.reading(sensor))
    return values


async def all_sensors(server: ta.Server) -> list[list[int]]:
    return list(
        await asyncio.gather(
            sensor_loop(Probe(server), "attic", 3600),
            sensor_loop(Probe(server), "cellar", 5400),
        )
    )


def main() -> None:
    clock = ta.VirtualClock(autojump=True)
    with ta.AsyncRunner(clock=clock) as runner:

        async def day() -> str:
            for _ in range(24):
                await asyncio.sleep(3600)
            return f"a day passed: t={clock.time():g}"

        async def stuck() -> str:
            try:
                await asyncio.wait_for(asyncio.Event().wait(), timeout=30)
            except TimeoutError:
                return f"wait_for timed out at t={clock.time():g}"
            return "never"

        print(runner.run(day()))
        print(runner.run(stuck()))

    clock = ta.VirtualClock(autojump=True)

    def reading(sensor: str) -> int:
        hours = clock.time() / 3600
        print(f"  handler: {sensor} asked at t={hours:g}h")
        return int(hours * 10)

    with ta.Server(handlers={Probe.reading: reading}, clock=clock) as server:
        task = server.create_background_task(all_sensors(server))
        while not task.done():
            server.process()
        print(f"readings: {task.wait()}")


if __name__ == "__main__":
    main()

# Expected output:
# a day passed: t=86400
# wait_for timed out at t=86430
#   handler: attic asked at t=1h
#   handler: cellar asked at t=1.5h
#   handler: attic asked at t=2h
#   handler: cellar asked at t=3h
#   handler: attic asked at t=3h
#   handler: cellar asked at t=4.5h
# readings: [[10, 20, 30], [15, 30, 45]]
