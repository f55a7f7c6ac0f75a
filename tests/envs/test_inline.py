"""The hosts stepping inline (``inline=True``, SPEC §5): the host thread runs the agents'
loop while it waits for them; the same episodes and digests as the threaded mode."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import numpy as np
import pytest

import threaded_async as ta
from tests.envs.test_pettingzoo import (
    ATTACK,
    FPS,
    KAZ,
    NOTHING,
    TICTACTOE_DIGEST,
    first_free_square,
    random_fighter,
)
from threaded_async.envs import EnvClient, Episode, GymHost, ParallelHost, TurnHost


@pytest.fixture(autouse=True)
def _headless(monkeypatch: pytest.MonkeyPatch) -> None:  # pyright: ignore[reportUnusedFunction]
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("PYGAME_HIDE_SUPPORT_PROMPT", "1")


def _check_action(action: int) -> int:
    time.sleep(0.001)  # real work in a worker thread: takes no virtual time
    return action


async def busy_balancer(env: EnvClient) -> dict[str, Any]:
    """Balances the pole with helpers: a task that counts on virtual time, real work in
    an executor under the agent's own timeout, held real waits, and sleeps."""
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            await asyncio.sleep(0.25)
            ticks.append(asyncio.get_running_loop().time())

    helper = asyncio.create_task(ticker())
    observation, _ = await env.reset()
    steps = 0
    threads: set[int] = set()
    while True:
        threads.add(threading.get_ident())
        await asyncio.sleep(0.1)
        action = int(observation[2] > 0)
        action = await asyncio.wait_for(asyncio.to_thread(_check_action, action), 5.0)
        if steps % 10 == 0:
            # A real wait (an answer from another thread, as I/O would be), held: it
            # takes no virtual time.
            loop = asyncio.get_running_loop()
            reply: asyncio.Future[None] = loop.create_future()
            threading.Timer(0.001, loop.call_soon_threadsafe, (reply.set_result, None)).start()
            async with ta.hold_virtual_time():
                await reply
        observation, _, terminated, truncated, _ = await env.step(action)
        steps += 1
        if terminated or truncated:
            helper.cancel()
            return {"steps": steps, "ticks": len(ticks), "threads": threads}


def _cartpole(inline: bool) -> Episode:
    with GymHost("CartPole-v1", inline=inline) as host:
        assert host.inline is inline
        return host.run_episode(busy_balancer, seed=11)


def test_a_gymhost_episode_is_the_same_inline_and_threaded() -> None:
    host_thread = threading.get_ident()
    threaded, inline = _cartpole(False), _cartpole(True)
    assert threaded.error is None
    assert inline.error is None
    assert threaded.steps > 20
    assert inline.digest() == threaded.digest()
    assert inline.trace == threaded.trace
    assert [r.time for r in inline.records] == [r.time for r in threaded.records]
    assert inline.results["agent"]["ticks"] == threaded.results["agent"]["ticks"] > 0
    # Inline, the agent ran on the host thread; threaded, on its loop thread.
    assert inline.results["agent"]["threads"] == {host_thread}
    assert host_thread not in threaded.results["agent"]["threads"]


def test_parallel_and_turn_hosts_give_the_same_episodes_inline() -> None:
    def lockstep(inline: bool) -> Episode:
        with ParallelHost(KAZ, max_cycles=15, inline=inline) as host:
            return host.run_episode(random_fighter, seed=3)

    def frames(inline: bool) -> Episode:
        async def agent(env: EnvClient) -> None:
            await env.reset()
            while True:
                if env.name == "knight_1":
                    await asyncio.sleep(3 / FPS)
                _, _, terminated, truncated, _ = await env.step(ATTACK)
                if terminated or truncated:
                    return

        with ParallelHost(
            KAZ, max_cycles=9, fps=FPS, default_action=NOTHING, inline=inline
        ) as host:
            return host.run_episode(agent, seed=5)

    for make in (lockstep, frames):
        threaded, inline = make(False), make(True)
        assert threaded.error is None
        assert inline.error is None
        assert inline.digest() == threaded.digest()
    assert frames(True).missed_frames["knight_1"] == 6
    with TurnHost("classic/tictactoe-v3", inline=True) as host:
        assert host.run_episode(first_free_square, seed=0).digest() == TICTACTOE_DIGEST


async def _blocks_once(env: EnvClient) -> int:
    await env.reset()
    time.sleep(0.5)  # a blocking call in the agent: it holds whichever thread runs it
    _, reward, _, _, _ = await env.step(0)
    return int(float(reward))


def test_what_an_agent_that_blocks_does_in_each_mode() -> None:
    # Threaded: the host's own timeout ends the episode while the agent blocks.
    with GymHost("CartPole-v1", timeout=0.1) as host:
        start = time.monotonic()
        with pytest.raises(ta.EventLoopTimeoutError):
            host.run_episode(_blocks_once, seed=0)
        assert time.monotonic() - start < 5
    # Inline: the block holds the host thread itself; the timeout cannot interrupt it,
    # and once the agent goes on the episode does too.
    with GymHost("CartPole-v1", timeout=0.1, inline=True) as host:
        start = time.monotonic()
        episode = host.run_episode(_blocks_once, seed=0)
        assert time.monotonic() - start >= 0.5
        assert episode.results == {"agent": 1}


async def _waits_for_nothing(env: EnvClient) -> None:
    await env.reset()
    await asyncio.Event().wait()  # (on the real clock: nothing ever sets it)


def test_an_inline_host_still_times_out_an_agent_that_waits_forever() -> None:
    with GymHost("CartPole-v1", timeout=0.2, real_time=True, inline=True) as host:
        start = time.monotonic()
        with pytest.raises(ta.EventLoopTimeoutError):
            host.run_episode(_waits_for_nothing, seed=0)
        assert time.monotonic() - start < 5


def test_inline_is_checked_and_defaults_to_threaded() -> None:
    with GymHost("CartPole-v1") as host:
        assert host.inline is False
    with pytest.raises(TypeError, match="inline"):
        GymHost("CartPole-v1", inline="yes")  # type: ignore[arg-type]


def test_observations_reach_the_agent_unchanged_inline() -> None:
    seen: list[np.ndarray[Any, Any]] = []

    async def agent(env: EnvClient) -> None:
        observation, _ = await env.reset()
        seen.append(observation)
        for _ in range(3):
            observation, _, _, _, _ = await env.step(0)
            seen.append(observation)

    with GymHost("CartPole-v1", inline=True) as host:
        episode = host.run_episode(agent, seed=2)
    assert episode.steps == 3
    assert all(isinstance(o, np.ndarray) and o.shape == (4,) for o in seen)
    assert [e.result[0] for e in episode.trace[1:]] == [pytest.approx(o) for o in seen[1:]]
