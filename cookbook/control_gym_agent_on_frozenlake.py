"""GymHost: an agent coroutine walks FrozenLake while the env stays on the host thread.

``GymHost`` owns a Gymnasium environment on the thread that calls ``run_episode``: every
``reset``, ``step`` and ``render`` runs there, as SDL, MuJoCo and Gymnasium's renderers
require. The agent is an async function on the library's loop thread that talks to the
env with ``await env.reset()`` and ``await env.step(action)`` and gets exactly what the env
returns. It thinks for 0.5 s before each move, in virtual time (the clock jumps, so this
costs nothing), and the same seed and agent give the same episode digest on every run.
Needs the extra: ``pip install "threaded_async[envs]"``.
"""

from __future__ import annotations

import asyncio

from threaded_async.envs import EnvClient, GymHost

MOVES = ["left", "down", "right", "up"]
PATH = [1, 1, 2, 1, 2, 2]  # from the start (top left) to the goal (bottom right)


async def walker(env: EnvClient) -> str:
    observation, _ = await env.reset()
    for action in PATH:
        await asyncio.sleep(0.5)  # thinking, in virtual time
        observation, reward, terminated, truncated, _ = await env.step(action)
        if terminated or truncated:
            return "at the goal" if float(reward) > 0 else "in a hole"
    return f"still walking, at cell {observation}"


def main() -> None:
    with GymHost("FrozenLake-v1", is_slippery=False) as host:
        episode = host.run_episode(walker, seed=7)
        again = host.run_episode(walker, seed=7)
    for record in episode.records:
        action = record.actions["agent"]
        print(
            f"t={record.time:g} {MOVES[action]:>5} reward={record.rewards['agent']:g}"
            f" terminated={record.terminations['agent']}"
        )
    print(f"agent: {episode.results['agent']} after {episode.steps} steps")
    print(f"total reward: {episode.total_rewards['agent']:g}")
    print(f"requests: {[entry.request for entry in episode.trace][:2]} ...")
    print(f"same digest on a second run: {episode.digest() == again.digest()}")


if __name__ == "__main__":
    main()

# Expected output:
# t=0.5  down reward=0 terminated=False
# t=1  down reward=0 terminated=False
# t=1.5 right reward=0 terminated=False
# t=2  down reward=0 terminated=False
# t=2.5 right reward=0 terminated=False
# t=3 right reward=1 terminated=True
# agent: at the goal after 6 steps
# total reward: 1
# requests: ['EnvClient.reset', 'EnvClient.step'] ...
# same digest on a second run: True
