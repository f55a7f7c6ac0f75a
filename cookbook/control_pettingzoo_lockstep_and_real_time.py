"""ParallelHost: PettingZoo agents in lockstep, then in real time where a late agent misses
frames.

Rock-paper-scissors (``classic/rps-v2``, a PettingZoo parallel env) with one coroutine per
player. ``player_0`` plays paper at once; ``player_1`` plays scissors but thinks for 0.25 s
(virtual time) before each move. In **lockstep** every round waits for both players, so
scissors wins every round. In **real time** (10 frames per virtual second) the host steps
the env when each frame is due: a player whose move is not queued by then gets the default
action (rock) for that frame, and its missed frames are counted. Both runs are
deterministic. The env and its renderer stay on the host thread. Needs the extra:
``pip install "threaded_async[envs]"``.
"""

from __future__ import annotations

import asyncio
import os

from threaded_async.envs import EnvClient, Episode, ParallelHost

ROCK, PAPER, SCISSORS = 0, 1, 2
NAMES = ["rock", "paper", "scissors"]


async def paper(env: EnvClient) -> None:
    await env.reset()
    while True:
        _, _, terminated, truncated, _ = await env.step(PAPER)
        if terminated or truncated:
            return


async def slow_scissors(env: EnvClient) -> None:
    await env.reset()
    while True:
        await asyncio.sleep(0.25)  # thinking, in virtual time
        _, _, terminated, truncated, _ = await env.step(SCISSORS)
        if terminated or truncated:
            return


PLAYERS = {"player_0": paper, "player_1": slow_scissors}


def show(title: str, episode: Episode) -> None:
    print(title)
    for record in episode.records:
        moves = ", ".join(
            f"{name} {NAMES[action]}" + (" (missed the frame)" if name in record.missed else "")
            for name, action in record.actions.items()
        )
        winner = max(record.rewards, key=lambda name: record.rewards[name])
        print(f"  t={record.time:g} {moves}: {winner} wins")
    print(f"  total rewards {episode.total_rewards}, missed frames {episode.missed_frames}")


def main() -> None:
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # PettingZoo imports pygame
    with ParallelHost("classic/rps-v2", max_cycles=3) as host:
        show("lockstep: every round waits for both players", host.run_episode(PLAYERS, seed=0))
    with ParallelHost("classic/rps-v2", max_cycles=6, fps=10, default_action=ROCK) as host:
        show("real time, 10 frames per second", host.run_episode(PLAYERS, seed=0))


if __name__ == "__main__":
    main()

# Expected output:
# lockstep: every round waits for both players
#   t=0.25 player_0 paper, player_1 scissors: player_1 wins
#   t=0.5 player_0 paper, player_1 scissors: player_1 wins
#   t=0.75 player_0 paper, player_1 scissors: player_1 wins
#   total rewards {'player_0': -3.0, 'player_1': 3.0}, missed frames {'player_0': 0, 'player_1': 0}
# real time, 10 frames per second
#   t=0.1 player_0 paper, player_1 rock (missed the frame): player_0 wins
#   t=0.2 player_0 paper, player_1 rock (missed the frame): player_0 wins
#   t=0.3 player_0 paper, player_1 scissors: player_1 wins
#   t=0.4 player_0 paper, player_1 rock (missed the frame): player_0 wins
#   t=0.5 player_0 paper, player_1 rock (missed the frame): player_0 wins
#   t=0.6 player_0 paper, player_1 scissors: player_1 wins
#   total rewards {'player_0': 2.0, 'player_1': -2.0}, missed frames {'player_0': 0, 'player_1': 4}
