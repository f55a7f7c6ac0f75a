"""Lockstep: every live agent's next move is applied at once, one round per ``gather()``.

Three agent scripts walk on a line. ``server.gather()`` waits until every live agent has a
request queued, takes one per agent (ordered by client creation) and returns them as
``Request`` handles; the host applies all moves together and answers each. A "thinker"
sleeps in virtual time before each move: with an autojump clock, ``gather()`` lets time
jump to wake it instead of deadlocking. An agent that finishes drops out of the lockstep.
"""

from __future__ import annotations

import asyncio

import threaded_async as ta
from threaded_async import request


class Walker(ta.Client):
    @request
    async def move(self, dx: int) -> int: ...


async def runner_agent(env: Walker) -> None:
    for _ in range(4):
        await env.move(2)


async def thinker(env: Walker) -> None:
    for _ in range(3):
        await asyncio.sleep(5)  # "thinks" for 5 virtual seconds
        await env.move(1)


async def quitter(env: Walker) -> None:
    await env.move(-1)  # one move, then it is done


def main() -> None:
    clock = ta.VirtualClock(autojump=True)
    positions: dict[str, int] = {}
    with ta.Server(clock=clock) as server:
        agents = {"runner": runner_agent, "thinker": thinker, "quitter": quitter}
        for name, script in agents.items():
            positions[name] = 0
            server.runner.create_task(script(Walker(server, name=name)))
        round_number = 0
        while batch := server.gather(timeout=10):
            round_number += 1
            for req in batch:  # apply every move of the round, then answer
                assert req.client is not None
                positions[req.client] += req.args[0]
            for req in batch:
                assert req.client is not None
                req.answer(positions[req.client])
            moved = ", ".join(f"{r.client} {r.args[0]:+d}" for r in batch)
            print(f"round {round_number} at t={clock.time():g}: {moved} -> {positions}")
    print("all agents done")


if __name__ == "__main__":
    main()

# Expected output:
# round 1 at t=5: runner +2, thinker +1, quitter -1 -> {'runner': 2, 'thinker': 1, 'quitter': -1}
# round 2 at t=10: runner +2, thinker +1 -> {'runner': 4, 'thinker': 2, 'quitter': -1}
# round 3 at t=15: runner +2, thinker +1 -> {'runner': 6, 'thinker': 3, 'quitter': -1}
# round 4 at t=15: runner +2 -> {'runner': 8, 'thinker': 3, 'quitter': -1}
# all agents done
