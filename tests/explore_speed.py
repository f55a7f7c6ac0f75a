"""What a seeded schedule costs (SPEC §12: at most 1.2x an unseeded run), and how many
schedules a second exploring runs, for the scripted harness and a short CartPole episode.

Run it: ``uv run python tests/explore_speed.py [rounds]`` (default 40). The A/B runs the
same scripted run (three agents, 50 requests each, with sleeps) unseeded and seeded, one
after the other in each round, and reports the medians of wall and CPU time (CPU time
counts the host and loop threads of the process and is steadier on a shared machine).
Not a test (``tests/test_explore_speed_smoke.py`` runs it small); ``benchmarks/`` is
another's.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from typing import Any

import threaded_async as ta
from threaded_async.testing import explore, run_scripted


class Env(ta.Client):
    @ta.request
    async def look(self) -> int: ...

    @ta.request
    async def move(self, dx: int) -> int: ...


def _same(dx: int) -> int:
    return dx


ANSWERS: dict[Any, Any] = {Env.look: lambda: 0, Env.move: _same}


async def walkers(server: ta.Server, agents: int = 3, requests: int = 25) -> None:
    async def agent(env: Env) -> None:
        for i in range(requests):
            await env.look()
            if i % 5 == 0:
                await asyncio.sleep(1)
            await env.move(1)

    await asyncio.gather(*(agent(Env(server, name=f"a{k}")) for k in range(agents)))


def one_run(schedule: ta.Schedule | None) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    run_scripted(walkers, ANSWERS, schedule=schedule)
    return time.perf_counter() - wall, time.process_time() - cpu


def ab(rounds: int) -> dict[str, float]:
    """Interleaved A/B of the same scripted run, unseeded (A) and seeded (B)."""
    for seed in range(1, 4):  # warm up both paths
        one_run(None)
        one_run(ta.Schedule(seed))
    plain: list[tuple[float, float]] = []
    seeded: list[tuple[float, float]] = []
    for r in range(rounds):
        plain.append(one_run(None))
        seeded.append(one_run(ta.Schedule(r + 1)))
    wall_a = statistics.median(w for w, _ in plain)
    wall_b = statistics.median(w for w, _ in seeded)
    cpu_a = statistics.median(c for _, c in plain)
    cpu_b = statistics.median(c for _, c in seeded)
    return {
        "wall_unseeded_ms": wall_a * 1e3,
        "wall_seeded_ms": wall_b * 1e3,
        "wall_ratio": wall_b / wall_a,
        "cpu_unseeded_ms": cpu_a * 1e3,
        "cpu_seeded_ms": cpu_b * 1e3,
        "cpu_ratio": cpu_b / cpu_a,
    }


async def _small_walkers(server: ta.Server) -> None:
    await walkers(server, agents=2, requests=5)


def scripted_rate(seeds: int) -> float:
    """Schedules a second that exploring runs on a small passing scripted run."""
    started = time.perf_counter()
    assert explore(_small_walkers, ANSWERS, seeds=seeds) is None
    return seeds / (time.perf_counter() - started)


def cartpole_rate(seeds: int) -> float:
    """Schedules a second that exploring runs on a short CartPole episode (late answers
    allowed), in this process."""
    from threaded_async.envs import EnvClient, Episode, GymHost

    async def push(env: EnvClient) -> int:
        observation, _ = await env.reset()
        steps = 0
        while True:
            action = 1 if float(observation[2]) > 0 else 0
            observation, _, terminated, truncated, _ = await env.step(action)
            steps += 1
            if terminated or truncated:
                return steps

    def episode(schedule: ta.Schedule) -> Episode:
        with GymHost("CartPole-v1") as host:
            return host.run_episode(push, seed=1, schedule=schedule)

    limits = ta.ScheduleLimits(max_delay=0.02)
    episode(ta.Schedule(0))  # imports and makes the env once before timing
    started = time.perf_counter()
    assert explore(episode=episode, seeds=seeds, limits=limits) is None
    return seeds / (time.perf_counter() - started)


def main(rounds: int = 40, seeds: int = 200) -> None:
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    figures = ab(rounds)
    print(
        f"A/B over {rounds} rounds (medians): unseeded {figures['wall_unseeded_ms']:.2f} ms, "
        f"seeded {figures['wall_seeded_ms']:.2f} ms wall ({figures['wall_ratio']:.3f}x); "
        f"CPU {figures['cpu_unseeded_ms']:.2f} / {figures['cpu_seeded_ms']:.2f} ms "
        f"({figures['cpu_ratio']:.3f}x)"
    )
    print(f"scripted harness: {scripted_rate(seeds):.0f} schedules/s")
    print(f"CartPole episode: {cartpole_rate(max(1, seeds // 4)):.0f} schedules/s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
