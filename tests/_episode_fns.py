"""Episode functions for ``run_episodes`` tests: module-level, so every engine can pickle
them, and light to import (worker processes and Ray actors import this module)."""

from __future__ import annotations

import os
import threading
from typing import Any

# Imported here, when a worker loads the episode function (its start-up), rather than in
# its first episode: the timeout tests give each episode a few seconds only.
import gymnasium  # noqa: F401  # pyright: ignore[reportUnusedImport]

from threaded_async.envs import EnvClient, Episode, GymHost

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
