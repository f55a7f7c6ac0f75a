"""LLM agents end to end (SPEC §9, "Agents that call models"): an agent that calls a model
over real async HTTP (httpx against a local server that answers after a real delay) and
runs a tool in ``asyncio.to_thread``, under its own timeouts, on all three hosts.

On virtual time its real work takes no virtual time: every run gives the same digest, and
a timeout shorter (in virtual seconds) than the model's real delay never fires. On the
real clock the same work takes real time, and a real-time host lets it miss frames."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from cookbook.control_agents_that_call_a_model import (
    check_action,
    encoded,
    llm_agent,
    model_server,
)

import threaded_async as ta
from threaded_async.envs import EnvClient, Episode, GymHost, ParallelHost, TurnHost


@pytest.fixture(autouse=True)
def _headless(monkeypatch: pytest.MonkeyPatch) -> None:  # pyright: ignore[reportUnusedFunction]
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("PYGAME_HIDE_SUPPORT_PROMPT", "1")


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with model_server(delay=0.01) as address:
        yield address


def _hosts(agent: Callable[[EnvClient], Any]) -> dict[str, Callable[[], Episode]]:
    def gym() -> Episode:
        with GymHost("CartPole-v1", max_episode_steps=15) as host:
            return host.run_episode(agent, seed=1)

    def lockstep() -> Episode:
        with ParallelHost("classic/rps-v2", max_cycles=4) as host:
            return host.run_episode(agent, seed=2)

    def turns() -> Episode:
        with TurnHost("classic/tictactoe-v3") as host:
            return host.run_episode(agent, seed=3)

    return {"gym": gym, "lockstep": lockstep, "turns": turns}


@pytest.mark.stdlib_loop
@pytest.mark.parametrize("host", ["gym", "lockstep", "turns"])
def test_an_llm_agent_repeats_exactly_on_virtual_time(url: str, host: str) -> None:
    run = _hosts(llm_agent(url))[host]
    episodes = [run() for _ in range(3)]
    assert episodes[0].error is None
    assert episodes[0].steps > 0
    assert len({episode.digest() for episode in episodes}) == 1


def impatient_agent(url: str) -> Callable[[EnvClient], Any]:
    """Gives the model 1 ms and the tool 1 ms — in virtual time. The model takes 10 ms of
    real time and the tool 5 ms: on virtual time neither timeout may fire."""

    async def agent(env: EnvClient) -> int:
        steps = 0
        async with httpx.AsyncClient(base_url=url, timeout=0.001) as model:
            observation, _ = await env.reset()
            while True:
                async with ta.hold_virtual_time():
                    reply = await asyncio.wait_for(
                        model.post("/act", json={"observation": encoded(observation)}), 0.001
                    )
                action = await asyncio.wait_for(
                    asyncio.to_thread(check_action, int(reply.json()["action"])), 0.001
                )
                observation, _, terminated, truncated, _ = await env.step(action)
                steps += 1
                if terminated or truncated:
                    return steps

    return agent


@pytest.mark.stdlib_loop
@pytest.mark.parametrize("host", ["gym", "lockstep", "turns"])
def test_virtual_timeouts_do_not_fire_during_real_work(url: str, host: str) -> None:
    episode = _hosts(impatient_agent(url))[host]()
    assert episode.error is None
    assert episode.steps > 0


def test_on_the_real_clock_the_same_timeouts_fire(url: str) -> None:
    """The control: with real time, 1 ms is too short for the model's 10 ms."""
    with (
        GymHost("CartPole-v1", real_time=True) as host,
        pytest.raises((httpx.TimeoutException, TimeoutError)),
    ):
        host.run_episode(impatient_agent(url), seed=1)


def test_a_real_time_host_lets_a_thinking_agent_miss_frames() -> None:
    with (
        model_server(delay=0.15) as slow,
        ParallelHost(
            "classic/rps-v2", max_cycles=6, fps=20, default_action=0, real_time=True
        ) as host,
    ):
        episode = host.run_episode(llm_agent(slow), seed=4)
    assert episode.steps == 6
    assert sum(episode.missed_frames.values()) > 0
    missed = [name for record in episode.records for name in record.missed]
    assert len(missed) == sum(episode.missed_frames.values())
