"""Testing an agent script: scripted answers, virtual time, and an exact request trace.

``threaded_async.testing.run_scripted`` runs client code under a server whose answers come
from a script (a list per stub method, or a handler function) on an autojumping virtual
clock, and returns the run: its trace as text lines, the result, the final virtual time.
Assert the lines in any test runner; under pytest the ``scripted`` fixture does the same.
An exhausted script, a stalled client or a runaway loop fails with ``ScriptError`` and the
trace so far.
"""

from __future__ import annotations

import asyncio

import threaded_async as ta
from threaded_async.testing import ScriptError, run_scripted


class Env(ta.Client):
    async def move(self, dx: int, dy: int) -> tuple[int, int]:
        return await self.execute(Env.move, dx, dy)

    async def look(self) -> str:
        return await self.execute(Env.look)


async def agent(env: Env) -> str:
    """The script under test: step right until a wall, resting a minute between steps."""
    steps = 0
    while await env.look() != "wall":
        await env.move(1, 0)
        steps += 1
        await asyncio.sleep(60)
    return f"found the wall after {steps} steps"


def step(dx: int, dy: int) -> tuple[int, int]:
    return (dx, dy)


def main() -> None:
    run = run_scripted(
        lambda server: agent(Env(server)),
        answers={
            Env.look: ["floor", "floor", "wall"],
            Env.move: step,  # a handler: called with the request's arguments
        },
    )
    for line in run.lines():
        print(line)
    print(f"result: {run.result!r} at t={run.time:g}s, {run.steps} requests")
    assert run.lines()[-1] == "t=120 Env.look() -> 'wall'"

    try:
        run_scripted(
            lambda server: agent(Env(server)),
            answers={Env.look: ["floor"], Env.move: [(1, 0)]},  # one look too few
        )
    except ScriptError as exc:
        print(f"ScriptError: {exc}")
        for note in getattr(exc, "__notes__", []):
            print(note)


if __name__ == "__main__":
    main()

# Expected output:
# t=0 Env.look() -> 'floor'
# t=0 Env.move(1, 0) -> (1, 0)
# t=60 Env.look() -> 'floor'
# t=60 Env.move(1, 0) -> (1, 0)
# t=120 Env.look() -> 'wall'
# result: 'found the wall after 2 steps' at t=120s, 5 requests
# ScriptError: no scripted answer left for Env.look(): the script had 1
# trace so far:
#   t=0 Env.look() -> 'floor'
#   t=0 Env.move(1, 0) -> (1, 0)
#   t=60 Env.look() !! ScriptError: no scripted answer left for Env.look(): the script had 1
