"""Env hosts with agents that do real work, and episodes replayed (SPEC §7, §9): executor
work takes no virtual time on every host (a run repeats exactly), and
``Episode.replay`` re-runs agents against a recorded episode in one call."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from threaded_async.envs import EnvClient, Episode, GymHost, ParallelHost, TurnHost
from threaded_async.testing import ScriptError

KAZ = "butterfly/knights_archers_zombies-v11"
ATTACK, NOTHING = 4, 5
FPS = 30


@pytest.fixture(autouse=True)
def _headless(monkeypatch: pytest.MonkeyPatch) -> None:  # pyright: ignore[reportUnusedFunction]
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("PYGAME_HIDE_SUPPORT_PROMPT", "1")


def _think(seconds: float) -> None:
    threading.Event().wait(seconds)  # a model call: real time, in a worker thread


async def thinking_fighter(env: EnvClient) -> int:
    """Every agent calls a "model" in a thread before each step, under its own timeout."""
    await env.reset()
    steps = 0
    while True:
        await asyncio.wait_for(asyncio.to_thread(_think, 0.02), timeout=1 / FPS)
        _, _, terminated, truncated, _ = await env.step(env.action_space.sample())
        steps += 1
        if terminated or truncated:
            return steps


@pytest.mark.stdlib_loop
def test_virtual_frames_wait_for_real_work_and_repeat_exactly() -> None:
    """On virtual time a model call takes no virtual time: an agent that thinks 20 ms of
    real time per step (longer than a 30 fps frame) misses no frame, its own timeout of
    one frame never fires, and every run gives the same digest."""

    def run() -> Episode:
        with ParallelHost(KAZ, max_cycles=6, fps=FPS, default_action=NOTHING) as host:
            return host.run_episode(thinking_fighter, seed=2)

    episodes = [run() for _ in range(3)]
    first = episodes[0]
    assert first.steps == 6
    assert all(count == 0 for count in first.missed_frames.values())
    assert first.results == dict.fromkeys(first.results, 6)
    assert len({episode.digest() for episode in episodes}) == 1


@pytest.mark.stdlib_loop
def test_lockstep_and_turns_with_real_work_repeat_exactly() -> None:
    async def player(env: EnvClient) -> None:
        observation, _ = await env.reset()
        while True:
            await asyncio.wait_for(asyncio.to_thread(_think, 0.005), timeout=0.5)
            action = int(np.flatnonzero(observation["action_mask"])[0])
            observation, _, terminated, truncated, _ = await env.step(action)
            if terminated or truncated:
                return

    def lockstep() -> Episode:
        with ParallelHost(KAZ, max_cycles=4) as host:
            return host.run_episode(thinking_fighter, seed=1)

    def turns() -> Episode:
        with TurnHost("classic/tictactoe-v3") as host:
            return host.run_episode(player, seed=0)

    for run in (lockstep, turns):
        first, second = run(), run()
        assert first.error is None
        assert first.digest() == second.digest()


# -- replay --------------------------------------------------------------------------------
async def sampler(env: EnvClient) -> float:
    """Acts by sampling its (seeded) action space: a replay must rebuild the same space."""
    await env.reset()
    total = 0.0
    while True:
        _, reward, terminated, truncated, _ = await env.step(env.action_space.sample())
        total += float(reward)
        if terminated or truncated:
            return total


async def always_left(env: EnvClient) -> None:
    await env.reset()
    while True:
        _, _, terminated, truncated, _ = await env.step(0)
        if terminated or truncated:
            return


def test_replay_a_gym_episode_in_one_call() -> None:
    with GymHost("CartPole-v1") as host:
        episode = host.run_episode(sampler, seed=11)
    run = episode.replay(sampler)
    assert run.trace == episode.trace
    assert run.trace.digest() == episode.trace.digest()
    assert run.result == {"agent": episode.results["agent"]}
    # It names the step: the agent's request number and which step of the episode it is
    # (the first: an int 0 is not the sampler's np.int64 action).
    with pytest.raises(ScriptError) as failed:
        episode.replay(always_left)
    assert "request #2 of client 'agent' (EnvClient.step #1 in the recording)" in str(failed.value)


def test_replay_parallel_and_turn_based_episodes() -> None:
    async def player(env: EnvClient) -> None:
        observation, _ = await env.reset()
        while True:
            mask = observation["action_mask"]
            action = int(env.action_space.sample(mask.astype(np.int8)))
            observation, _, terminated, truncated, _ = await env.step(action)
            if terminated or truncated:
                return

    with ParallelHost(KAZ, max_cycles=5) as host:
        parallel = host.run_episode(thinking_fighter, seed=3)
    with TurnHost("classic/tictactoe-v3") as host:
        turns = host.run_episode(player, seed=4)
    # Per agent, the replay asked and got what the episode did, at the same times (the
    # agents' requests interleave as they come, so the traces agree client by client).
    assert parallel.replay(thinking_fighter).trace.diff(parallel.trace) == {}
    assert turns.replay(player).trace.diff(turns.trace) == {}
    assert turns.agents == ["player_1", "player_2"]


def test_replay_raises_what_the_agent_raised_and_refuses_a_sync_agent() -> None:
    async def clumsy(env: EnvClient) -> None:
        await env.reset()
        await env.step(0)
        raise ValueError("lost my balance")

    with GymHost("CartPole-v1") as host:
        episode = host.run_episode(clumsy, seed=0, raise_errors=False)
    with pytest.raises(ValueError, match="lost my balance"):
        episode.replay(clumsy)

    def sync(env: EnvClient) -> Any:
        return None

    with pytest.raises(TypeError, match="async function"):
        episode.replay(sync)  # pyright: ignore[reportArgumentType]


# -- records are snapshots -------------------------------------------------------------------
class _OneBuffer(gym.ObservationWrapper[Any, Any, Any]):
    """Writes every observation into one array, as vectorised envs reuse buffers."""

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        super().__init__(env)
        self.buffer = np.zeros(4, dtype=np.float32)

    def observation(self, observation: Any) -> Any:
        self.buffer[:] = observation
        return self.buffer


def test_an_episode_keeps_what_happened_not_what_the_buffers_hold_later() -> None:
    actions: list[list[int]] = []

    async def reuses_its_action(env: EnvClient) -> None:
        action = [0]
        await env.reset()
        for step in range(4):
            action[0] = step % 2
            actions.append(action)
            await env.step(action[0])

    def run() -> Episode:
        env = _OneBuffer(gym.make("CartPole-v1"))
        with GymHost(env) as host:
            episode = host.run_episode(reuses_its_action, seed=5)
        env.buffer[:] = 99.0  # the env's buffer changes after the episode
        return episode

    episode = run()
    observations = [entry.result[0] for entry in episode.trace]
    assert len({bytes(np.asarray(o).data) for o in observations}) == len(observations)
    assert all(not np.any(np.asarray(o) == 99.0) for o in observations)
    digest = episode.digest()
    assert run().digest() == digest
    assert episode.replay(reuses_its_action).trace == episode.trace


def test_step_records_keep_the_action_an_agent_reuses() -> None:
    # An agent that writes each action into one array (as a policy's output buffer) gets
    # every step recorded with the action it took then, in the records and the trace.
    async def one_array(env: EnvClient) -> None:
        action = np.zeros(1, dtype=np.float32)
        await env.reset()
        for value in (0.0, 0.5, 1.0):
            action[0] = value
            await env.step(action)
        action[0] = 2.0  # after the last step: changes nothing recorded

    with GymHost("Pendulum-v1") as host:
        episode = host.run_episode(one_array, seed=2)
    recorded = [float(np.asarray(step.actions["agent"])[0]) for step in episode.records]
    assert recorded == [0.0, 0.5, 1.0]
    asked = [
        float(np.asarray(e.args[0])[0]) for e in episode.trace if e.request == "EnvClient.step"
    ]
    assert asked == [0.0, 0.5, 1.0]
