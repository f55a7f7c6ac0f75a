"""Episode functions for ``run_episodes`` tests: module-level, so every engine can pickle
them, and light to import (worker processes and Ray actors import this module)."""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

# Imported here, when a worker loads the episode function (its start-up), rather than in
# its first episode: the timeout tests give each episode a few seconds only.
import gymnasium  # noqa: F401  # pyright: ignore[reportUnusedImport]

from threaded_async import Schedule
from threaded_async.envs import EnvClient, Episode, GymHost, ParallelHost

#: Seeds with a special fate in ``flaky``.
RAISES, DIES, HANGS = 3, 5, 9


async def wander(env: EnvClient) -> int:
    """Random moves (from the seeded action space) until the episode ends."""
    await env.reset()
    steps = 0
    while True:
        _, _, terminated, truncated, _ = await env.step(env.action_space.sample())
        steps += 1
        if terminated or truncated:
            return steps


def frozen_lake(seed: int) -> Episode:
    """One slippery FrozenLake episode of a random walker: a few ms, different per seed."""
    with GymHost("FrozenLake-v1") as host:
        return host.run_episode(wander, seed=seed)


def frozen_lake_inline_by_default(seed: int) -> Episode:
    """``frozen_lake``, refused unless the host (made without ``inline=``) steps inline:
    as in run_episodes' workers, not on its "local" engine."""
    with GymHost("FrozenLake-v1") as host:
        if not host.inline:
            raise RuntimeError("this host steps threaded")
        return host.run_episode(wander, seed=seed)


def flaky(seed: int) -> Episode:
    """``frozen_lake``, except that seed RAISES raises, seed DIES kills its process and
    seed HANGS never returns (until its worker is killed)."""
    if seed == RAISES:
        raise ValueError(f"no episode for seed {seed}")
    if seed == DIES:
        os._exit(7)
    if seed == HANGS:
        threading.Event().wait(120)  # a stuck episode; the test's timeout kills it first
    return frozen_lake(seed)


def not_an_episode(seed: int) -> Any:
    """Returns a number, not an Episode."""
    return seed


class _Unloadable:
    """An episode function that cannot be unpickled in a worker: loading it raises."""

    def __call__(self, seed: int) -> Episode:
        return frozen_lake(seed)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_fail_to_load, ("this module is not on the worker",))


def _fail_to_load(why: str) -> Any:
    raise ModuleNotFoundError(why)


class _Deadly:
    """An episode function whose unpickling kills the worker before it is ready."""

    def __call__(self, seed: int) -> Episode:
        return frozen_lake(seed)

    def __reduce__(self) -> tuple[Any, ...]:
        return (os._exit, (3,))


unloadable = _Unloadable()
deadly = _Deadly()


def slow(seed: int) -> Episode:
    """Says ``running <pid>`` on stdout (flushed, one line) once it has started, then takes
    a minute before its episode: for the Ctrl-C tests, which interrupt it meanwhile."""
    print(f"running {os.getpid()}", flush=True)
    threading.Event().wait(60)
    return frozen_lake(seed)


#: How many steps the agent of ``stumbling`` makes before it raises (odd seeds).
STUMBLES_AFTER = 3


class Stumbled(Exception):
    """What the agent of ``stumbling`` raises: pickles (its args are its message)."""


class Unpicklable(Exception):
    """An agent's error that cannot be pickled back from a worker: its ``__init__``
    takes other arguments than its ``args``."""

    def __init__(self, step: int, why: str) -> None:
        super().__init__(f"{why} at step {step}")


def stumbling(seed: int) -> Episode:
    """A CartPole episode whose agent raises after STUMBLES_AFTER steps on odd seeds
    (``Unpicklable`` on seed 5, ``Stumbled`` on the others), and balances on even ones.

    A host that raises an agent's error (with the episode attached as its ``episode``)
    raises it from ``run_episode``; on a host that only records it in
    ``Episode.error``, this does the same, so ``run_episodes`` sees what it will see."""

    async def agent(env: EnvClient) -> int:
        await env.reset()
        steps = 0
        while True:
            if seed % 2 and steps == STUMBLES_AFTER:
                if seed == 5:
                    raise Unpicklable(steps, "cannot go on")
                raise Stumbled(f"fell over after {steps} steps")
            _, _, terminated, truncated, _ = await env.step(steps % 2)
            steps += 1
            if terminated or truncated:
                return steps

    with GymHost("CartPole-v1") as host:
        episode = host.run_episode(agent, seed=seed)
    if episode.error is not None:
        exception = episode.error.exception
        setattr(exception, "episode", episode)  # noqa: B010
        raise exception
    return episode


# -- SPEC §12: a lockstep agent with an ordering bug, for testing.explore ------------------
async def _rock_paper_scissors(env: EnvClient, board: dict[str, int], careful: bool) -> int:
    """player_0 posts how many rounds it has played after each answer; player_1 reads the
    post after its own answer. The careless player_1 assumes player_0 was answered (and
    posted) first, as it is in the default order; the careful one waits for the post."""
    await env.reset()
    rounds = 0
    while True:
        _, _, terminated, truncated, _ = await env.step(rounds % 3)
        rounds += 1
        if env.name == "player_0":
            board["posted"] = rounds
        elif careful:
            while board.get("posted", 0) < rounds:
                await asyncio.sleep(0)  # let player_0 post its round first
        elif board.get("posted", 0) != rounds:
            raise AssertionError(f"round {rounds}: player_0 has posted round {board.get('posted')}")
        if terminated or truncated:
            return rounds


def rps_episode(schedule: Schedule, careful: bool = False) -> Episode:
    """Five rounds of rock-paper-scissors in lockstep under ``schedule``."""
    board: dict[str, int] = {}

    async def agent(env: EnvClient) -> int:
        return await _rock_paper_scissors(env, board, careful)

    with ParallelHost("classic/rps-v2", max_cycles=5) as host:
        return host.run_episode(agent, seed=0, schedule=schedule, raise_errors=False)


def careful_rps_episode(schedule: Schedule) -> Episode:
    return rps_episode(schedule, careful=True)
