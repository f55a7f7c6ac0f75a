"""threaded_async.envs with real Gymnasium environments (SPEC §9): GymHost, Episode."""

from __future__ import annotations

import ast
import asyncio
import functools
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import imageio.v3 as iio
import pytest

import threaded_async as ta
from threaded_async.envs import EnvClient, Episode, GymHost

# FrozenLake 4x4 ("SFFF/FHFH/FFFH/HFFG"); actions: 0 left, 1 down, 2 right, 3 up.
PATH_TO_GOAL = [1, 1, 2, 1, 2, 2]
#: The digest of the FrozenLake episode below: the same on every run and Python.
FROZENLAKE_DIGEST = "3f774d8560c3b04b45cb9ce7c75c6aba9ec59c5859357f6f70348765740c8183"


@pytest.fixture(autouse=True)
def _headless(monkeypatch: pytest.MonkeyPatch) -> None:  # pyright: ignore[reportUnusedFunction]
    """pygame renders without a display (SDL's dummy driver) and prints no banner."""
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("PYGAME_HIDE_SUPPORT_PROMPT", "1")


async def walk_to_goal(env: EnvClient) -> list[int]:
    observation, _ = await env.reset()
    seen = [observation]
    for action in PATH_TO_GOAL:
        observation, _, terminated, _, _ = await env.step(action)
        seen.append(observation)
        if terminated:
            break
    return seen


def frozen_lake_episode() -> Episode:
    with GymHost("FrozenLake-v1", is_slippery=False) as host:
        return host.run_episode(walk_to_goal, seed=7)


def test_an_agent_walks_frozenlake_to_the_goal() -> None:
    episode = frozen_lake_episode()
    assert episode.error is None
    assert episode.results == {"agent": [0, 4, 8, 9, 13, 14, 15]}
    assert episode.steps == 6
    assert [r.actions for r in episode.records] == [{"agent": a} for a in PATH_TO_GOAL]
    assert episode.total_rewards == {"agent": 1.0}
    assert [r.terminations["agent"] for r in episode.records] == [False] * 5 + [True]
    assert episode.records[0].time == 0.0  # virtual time, which this agent never moves
    assert [e.request for e in episode.trace] == ["EnvClient.reset"] + ["EnvClient.step"] * 6
    assert episode.trace[0].result == (0, {"prob": 1})
    assert episode.trace[-1].result == (15, 1.0, True, False, {"prob": 1.0})


def test_the_digest_is_pinned() -> None:
    """A change of the digest across runs or Python versions shows here."""
    assert frozen_lake_episode().digest() == FROZENLAKE_DIGEST


async def balance(env: EnvClient) -> int:
    """Push the cart towards where the pole leans; think 20 ms (virtual) per step."""
    observation, _ = await env.reset()
    steps = 0
    while True:
        await asyncio.sleep(0.02)
        observation, _, terminated, truncated, _ = await env.step(int(observation[2] > 0))
        steps += 1
        if terminated or truncated:
            return steps


def test_cartpole_on_virtual_time_is_deterministic() -> None:
    with GymHost("CartPole-v1") as host:
        first = host.run_episode(balance, seed=1)
        second = host.run_episode(balance, seed=1)
        other = host.run_episode(balance, seed=2)
    assert first.error is None
    assert first.results == {"agent": first.steps}
    assert first.total_rewards == {"agent": float(first.steps)}
    assert first.steps > 20
    # Each step happened 20 ms of virtual time after the previous one, exactly.
    assert [r.time for r in first.records[:3]] == [0.02, 0.04, 0.06]
    assert first.digest() == second.digest()
    assert first.records == second.records
    assert other.digest() != first.digest()


def test_the_env_runs_on_the_host_thread_only() -> None:
    threads: set[str] = set()

    class WhereAmI(gym.Wrapper[Any, Any, Any, Any]):
        def reset(self, **kwargs: Any) -> Any:
            threads.add(threading.current_thread().name)
            return super().reset(**kwargs)

        def step(self, action: Any) -> Any:
            threads.add(threading.current_thread().name)
            return super().step(action)

        def render(self) -> Any:
            threads.add(threading.current_thread().name)
            return super().render()

    env = WhereAmI(gym.make("FrozenLake-v1", is_slippery=False, render_mode="rgb_array"))
    try:
        host = GymHost(env, record_frames=True)
        episode = host.run_episode(walk_to_goal)
    finally:
        env.close()
    assert episode.steps == 6
    assert threads == {threading.current_thread().name}


def test_frames_are_rendered_headless_and_saved_as_a_gif(tmp_path: Path) -> None:
    with GymHost("FrozenLake-v1", is_slippery=False, record_frames=True) as host:
        episode = host.run_episode(walk_to_goal, seed=7)
    assert len(episode.frames) == 7  # after the reset and after each step
    assert episode.frames[0].shape == (256, 256, 3)
    path = tmp_path / "frozenlake.gif"
    episode.save_gif(path, fps=4)
    frames = iio.imread(path, index=None)  # pyright: ignore[reportUnknownMemberType]
    assert frames.shape[0] == 7
    assert frames.shape[1:3] == (256, 256)


def test_an_agent_that_raises_is_reported() -> None:
    async def clumsy(env: EnvClient) -> None:
        await env.reset()
        for _ in range(3):
            await env.step(0)
        raise ValueError("lost my balance")

    with GymHost("CartPole-v1") as host:
        with pytest.raises(ValueError, match="lost my balance") as raised:
            host.run_episode(clumsy, seed=0)
        # Nothing recorded is lost: the episode comes with the agent's own exception.
        episode = getattr(raised.value, "episode", None)
        assert isinstance(episode, Episode)
        assert any("raise_errors=False" in note for note in raised.value.__notes__)
        again = host.run_episode(clumsy, seed=0, raise_errors=False)  # record only
    for recorded in (episode, again):
        assert recorded.steps == 3
        assert recorded.results == {}
        error = recorded.error
        assert error is not None
        assert (error.agent, error.type, error.message) == (
            "agent",
            "ValueError",
            "lost my balance",
        )
        assert isinstance(error.exception, ValueError)
        assert "Traceback" in error.traceback
        assert "clumsy" in error.traceback
    assert episode.digest() == again.digest()


def test_an_agent_error_that_is_not_an_exception_is_raised_too() -> None:
    """A StopIteration bug becomes RuntimeError inside a coroutine, a sys.exit() in an
    agent is a SystemExit: both end the episode and reach the caller."""

    async def stops(env: EnvClient) -> None:
        await env.reset()
        next(iter(()))

    async def exits(env: EnvClient) -> None:
        await env.reset()
        raise SystemExit(3)

    with GymHost("CartPole-v1") as host:
        with pytest.raises(RuntimeError, match="StopIteration"):
            host.run_episode(stops, seed=0)
        with pytest.raises(SystemExit) as raised:
            host.run_episode(exits, seed=0)
    assert raised.value.code == 3


def test_an_agent_that_is_not_async_is_refused_before_the_episode_starts() -> None:
    resets: list[object] = []

    class Counting(gym.Wrapper[Any, Any, Any, Any]):
        def reset(self, **kwargs: Any) -> Any:
            resets.append(kwargs)
            return super().reset(**kwargs)

    def sync_agent(env: EnvClient) -> None:
        env.reset()  # pyright: ignore[reportUnusedCoroutine]  # the mistake under test

    async def walk(env: EnvClient, steps: int) -> None:
        await env.reset()
        for _ in range(steps):
            await env.step(0)

    env = Counting(gym.make("CartPole-v1"))
    with GymHost(env) as host:
        for agent in (sync_agent, lambda env: walk(env, 1), walk(EnvClient, 1)):  # type: ignore[arg-type]
            with pytest.raises(TypeError, match="must be an async function"):
                host.run_episode(agent)  # pyright: ignore[reportArgumentType]
        assert resets == []
        episode = host.run_episode(functools.partial(walk, steps=2))
    assert episode.steps == 2
    env.close()


def test_a_closed_host_refuses_new_episodes() -> None:
    host = GymHost("CartPole-v1")
    host.close()
    with pytest.raises(RuntimeError, match="closed"):
        host.run_episode(walk_to_goal, seed=0)


def test_what_the_env_raises_goes_to_the_agent() -> None:
    async def invalid(env: EnvClient) -> str:
        await env.reset()
        try:
            await env.step(7)  # CartPole has two actions
        except AssertionError:
            return "refused"
        return "accepted"

    with GymHost("CartPole-v1") as host:
        episode = host.run_episode(invalid, seed=0)
    assert episode.results == {"agent": "refused"}
    assert episode.steps == 0
    assert episode.trace[-1].error is not None


def test_an_agent_that_never_asks_again_times_out_instead_of_hanging() -> None:
    async def stuck(env: EnvClient) -> None:
        await env.reset()
        await asyncio.Event().wait()  # nothing will ever set it, and no timer is due

    with GymHost("CartPole-v1", timeout=0.2) as host, pytest.raises(ta.EventLoopTimeoutError):
        host.run_episode(stuck)


def test_an_agent_that_returns_at_once_ends_the_episode() -> None:
    async def idle(env: EnvClient) -> str:
        return "nothing to do"

    with GymHost("CartPole-v1", timeout=5.0) as host:
        episode = host.run_episode(idle)
    assert (episode.steps, episode.results, list(episode.trace)) == (
        0,
        {"agent": "nothing to do"},
        [],
    )


def test_real_time_and_progress() -> None:
    async def short(env: EnvClient) -> None:
        await env.reset(seed=3)
        await asyncio.sleep(0.001)  # real time
        await env.step(env.action_space.sample())

    with GymHost("CartPole-v1", real_time=True, progress=True) as host:
        started = time.monotonic()
        episode = host.run_episode(short, seed=1)
        took = time.monotonic() - started
    assert episode.steps == 1
    step_time = episode.records[0].time  # real seconds since the episode started
    assert step_time is not None
    assert 0.001 <= step_time <= took
    assert episode.trace[0].kwargs == {"seed": 3}


def test_arguments_are_checked() -> None:
    env = gym.make("CartPole-v1")
    try:
        with pytest.raises(TypeError, match="from an id"):
            GymHost(env, render_mode="rgb_array")
        with pytest.raises(ValueError, match="rgb_array"):
            GymHost(env, record_frames=True)
        with pytest.raises(ValueError, match="timeout"):
            GymHost(env, timeout=0)
    finally:
        env.close()
    with GymHost("FrozenLake-v1") as host:
        episode = host.run_episode(walk_to_goal)
    with pytest.raises(ValueError, match="record_frames"):
        episode.save_gif("never.gif")


def test_a_missing_optional_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    with GymHost("FrozenLake-v1", record_frames=True) as host:
        episode = host.run_episode(walk_to_goal, seed=0)
    monkeypatch.setitem(sys.modules, "imageio.v3", None)
    with pytest.raises(ImportError, match=r'pip install "threaded_async\[envs\]"'):
        episode.save_gif("never.gif")


def test_importing_the_module_imports_no_optional_package() -> None:
    code = (
        "import sys, threaded_async.envs\n"
        "loaded = {'gymnasium', 'pettingzoo', 'imageio', 'tqdm', 'pygame'} & set(sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_the_module_uses_only_public_names_of_the_library() -> None:
    package = Path(ta.__file__).parent / "envs"
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level >= 2:
                # The package's public face, its public testing module, or the one value
                # codec (episodes digest and snapshot values as traces do).
                allowed = (None, "testing", "_codec")
                assert node.module in allowed, f"{path.name} imports from ..{node.module}"
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.name} imports {private}"
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                assert not node.module.startswith("threaded_async"), path.name
