"""Real time: the host runs frames at a fixed rate; an agent that is late misses a frame.

A game loop at 10 frames per second (virtual time: each frame advances the clock by exactly
0.1 s, so the run is the same every time). Each frame the host takes whatever move each
agent has queued by then (``server.take(client=...)``); an agent with nothing queued gets
the default action ("wait") for that frame, and the host counts the frames it missed. A
fast agent moves every frame; a slow one "thinks" for 0.25 s before each move, so it
misses frames. ``take()`` never waits, so no agent can stretch a frame; on a wall-clock
host, ``process(budget=...)`` bounds how long a frame may wait for the loop.
"""

from __future__ import annotations

import asyncio

import threaded_async as ta
from threaded_async import request

FRAME = 0.1


class Player(ta.Client):
    @request
    async def act(self, action: str) -> int: ...


async def fast(player: Player) -> None:
    for _ in range(6):
        await player.act("step")


async def slow(player: Player) -> None:
    for _ in range(2):
        await asyncio.sleep(0.25)  # thinking
        await player.act("jump")


def main() -> None:
    clock = ta.VirtualClock()
    with ta.Server(clock=clock) as server:
        players = [Player(server, name="fast"), Player(server, name="slow")]
        for player, script in zip(players, (fast, slow), strict=True):
            server.runner.create_task(script(player))
        missed = {p.name: 0 for p in players}
        for frame in range(1, 8):
            clock.advance(FRAME)  # the frame's time passes; the loop settles
            actions: list[str] = []
            for player in players:
                req = server.take(client=player)
                if req is None:
                    if player.live:
                        missed[player.name] += 1
                    actions.append(f"{player.name}: wait")
                else:
                    actions.append(f"{player.name}: {req.args[0]}")
                    req.answer(frame)
            print(f"frame {frame} t={clock.time():.1f} " + ", ".join(actions))
        print(f"missed frames: {missed}")


if __name__ == "__main__":
    main()

# Expected output:
# frame 1 t=0.1 fast: step, slow: wait
# frame 2 t=0.2 fast: step, slow: wait
# frame 3 t=0.3 fast: step, slow: jump
# frame 4 t=0.4 fast: step, slow: wait
# frame 5 t=0.5 fast: step, slow: wait
# frame 6 t=0.6 fast: step, slow: jump
# frame 7 t=0.7 fast: wait, slow: wait
# missed frames: {'fast': 0, 'slow': 4}
