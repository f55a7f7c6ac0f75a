"""run_episodes: 100 seeded FrozenLake episodes here, in worker processes, or on Ray.

``run_episodes(episode_fn, seeds, engine=...)`` calls ``episode_fn(seed)`` for every seed
and returns the episodes in the order of the seeds. ``episode_fn`` builds its own host,
env and agent, so it can run anywhere: ``"local"`` runs the episodes one after the other
in this thread, ``"process"`` in worker processes (started with ``"spawn"``: the function
is pickled by name, so it lives at module level and the script's work is under
``if __name__ == "__main__":``), ``"ray"`` on Ray actors. Whichever engine and however
many workers, every episode's ``digest()`` is the same. An episode that raises does not
stop the others: ``RunEpisodesError`` comes once all have run, with the failures (seed,
reason, traceback) and the episodes that came back.

The checked run uses "local" and "process"; ``python cookbook/control_run_episodes_on_each_engine.py
--ray`` adds a row for a local Ray cluster (``pip install "threaded_async[ray]"``; starting
it takes 10-20 s). Episodes per second go to stderr: they depend on the machine.
Needs the extra: ``pip install "threaded_async[envs]"``.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from typing import Any, Literal

from threaded_async.envs import EnvClient, Episode, GymHost, RunEpisodesError, run_episodes

SEEDS = range(100)
Engine = Literal["local", "process", "ray"]


async def wander(env: EnvClient) -> None:
    """A random walker on the slippery lake, drawing from the seeded action space."""
    await env.reset()
    while True:
        _, _, terminated, truncated, _ = await env.step(env.action_space.sample())
        if terminated or truncated:
            return


def frozen_lake(seed: int) -> Episode:
    """One episode: its own host and env, so any engine can run it anywhere."""
    with GymHost("FrozenLake-v1") as host:
        return host.run_episode(wander, seed=seed)


def picky(seed: int) -> Episode:
    """Like frozen_lake, but seed 3 has no episode."""
    if seed == 3:
        raise ValueError("seed 3 is unlucky")
    return frozen_lake(seed)


def start_ray() -> None:
    """A local Ray cluster of 2 CPUs, quiet and on 127.0.0.1 (for --ray). Under
    ``uv run`` the actors use this virtualenv as it is (Ray would otherwise ship the
    working directory and build a second one with ``uv run`` in each actor, and fail if
    the project is not the working directory), and this private cluster needs no token."""
    os.environ.update(
        RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0",
        RAY_USAGE_STATS_ENABLED="0",
        RAY_AUTH_MODE="disabled",
        RAY_ENABLE_UV_RUN_RUNTIME_ENV="0",
    )
    ray: Any = importlib.import_module("ray")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=100 * 1024 * 1024,
        log_to_driver=False,
    )


def main() -> None:
    runs: list[tuple[Engine, int]] = [("local", 1), ("process", 1), ("process", 2)]
    if "--ray" in sys.argv[1:]:
        start_ray()
        runs.extend([("ray", 1), ("ray", 2)])
    first: list[Episode] = []
    reference: list[str] = []
    print(f"{'engine':<8} {'workers':>7} {'episodes':>8}  identical digests")
    for engine, workers in runs:
        start = time.perf_counter()
        episodes = run_episodes(frozen_lake, SEEDS, engine=engine, workers=workers)
        rate = len(episodes) / (time.perf_counter() - start)
        print(f"{engine} x {workers}: {rate:.0f} episodes/s", file=sys.stderr)
        digests = [episode.digest() for episode in episodes]
        first, reference = first or episodes, reference or digests
        same = "yes" if digests == reference else "NO"
        print(f"{engine:<8} {workers:>7} {len(episodes):>8}  {same}")
    if "--ray" in sys.argv[1:]:
        importlib.import_module("ray").shutdown()
    steps = sum(episode.steps for episode in first)
    goals = sum(episode.total_rewards["agent"] > 0 for episode in first)
    print(f"{steps} steps in all; {goals} of {len(first)} random walks reached the goal")

    try:
        run_episodes(picky, range(6), engine="process", workers=2)
    except RunEpisodesError as error:
        print(error)
        for failure in error.failures:
            print(f"  {failure}; traceback ends with: {failure.traceback.splitlines()[-1]}")
        print(f"  episodes that came back: {[episode.seed for episode in error.episodes]}")


if __name__ == "__main__":
    main()

# Expected output:
# engine   workers episodes  identical digests
# local          1      100  yes
# process        1      100  yes
# process        2      100  yes
# 840 steps in all; 0 of 100 random walks reached the goal
# 1 of 6 episodes failed (seeds 3) (1 sub-exception)
#   seed 3 raised: ValueError: seed 3 is unlucky; traceback ends with: ValueError: seed 3 is unlucky
#   episodes that came back: [0, 1, 2, 4, 5]
