"""Finding an ordering bug in a PettingZoo game: an agent that assumes it is answered first.

Rock-paper-scissors in lockstep (``ParallelHost``): both players act, the env steps once,
and the host answers both. player_0 posts the round it has played on a shared board after
each answer; player_1 reads the board after its own answer and expects player_0's post to
be there, which holds in the default order (answers go out in the order of the agents) and
nowhere else. ``explore(episode=...)`` runs the episode under seeded schedules (which agent
hears the step's result first, which task runs first) and shrinks the first failure to the
choice that matters. The careful player_1 waits for the post; it passes every seed.
"""

from __future__ import annotations

import asyncio
import os

import threaded_async as ta
from threaded_async.envs import EnvClient, Episode, ParallelHost
from threaded_async.testing import explore


def rock_paper_scissors(schedule: ta.Schedule, careful: bool = False) -> Episode:
    board = {"posted": 0}

    async def player(env: EnvClient) -> int:
        await env.reset()
        rounds = 0
        while True:
            _, _, terminated, truncated, _ = await env.step(rounds % 3)
            rounds += 1
            if env.name == "player_0":
                board["posted"] = rounds
            elif careful:
                while board["posted"] < rounds:  # let player_0 post first
                    await asyncio.sleep(0)
            else:
                assert board["posted"] == rounds, f"round {rounds}: not posted yet"
            if terminated or truncated:
                return rounds

    with ParallelHost("classic/rps-v2", max_cycles=5) as host:
        return host.run_episode(player, seed=0, schedule=schedule, raise_errors=False)


def careful_game(schedule: ta.Schedule) -> Episode:
    return rock_paper_scissors(schedule, careful=True)


def main() -> None:
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    default = rock_paper_scissors(ta.Schedule(0))
    print(f"default order: {default.steps} rounds, error: {default.error}")
    report = explore(episode=rock_paper_scissors, seeds=50)
    assert report is not None
    print(f"seed {report.seed} fails: {report.failure}")
    for line in report.describe():
        print(" ", line)
    print("careful player_1, 50 schedules:", explore(episode=careful_game, seeds=50))


if __name__ == "__main__":
    main()

# Expected output:
# default order: 5 rounds, error: None
# seed 1 fails: agent 'player_1' raised AssertionError: round 1: not posted yet
#   at t=0: player_1's EnvClient.step answered before player_0's EnvClient.step
# careful player_1, 50 schedules: None
