"""The env hosts on a seeded schedule (SPEC §12): the order of a lockstep step's answers,
late answers, the same episode and digest for the same seed, seed 0 as the default."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import numpy as np
import pytest

import threaded_async as ta
from threaded_async.envs import EnvClient, Episode, GymHost, ParallelHost, TurnHost
from threaded_async.testing import explore, replay_schedule

pytestmark = pytest.mark.stdlib_loop

KAZ = "butterfly/knights_archers_zombies-v11"
KAZ_AGENTS = ["archer_0", "archer_1", "knight_0", "knight_1"]
ATTACK, NOTHING = 4, 5
FPS = 30
#: tests/envs/test_pettingzoo.py's pinned tic-tac-toe game: seed 0 of a schedule is it.
TICTACTOE_DIGEST = "1907abc2164fccf50fef71baa8bfadbad932281aecd3ee740ca61ffb76b676eb"


@pytest.fixture(autouse=True)
def _headless(monkeypatch: pytest.MonkeyPatch) -> None:  # pyright: ignore[reportUnusedFunction]
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("PYGAME_HIDE_SUPPORT_PROMPT", "1")


async def fighter(env: EnvClient) -> list[str]:
    """Act at random; the knights think a while first; note the order of the answers."""
    await env.reset()
    while True:
        if env.name.startswith("knight"):
            await asyncio.sleep(0.5)
        _, _, terminated, truncated, _ = await env.step(env.action_space.sample())
        if terminated or truncated:
            return []


def kaz(schedule: ta.Schedule | int | None, **options: Any) -> Episode:
    with ParallelHost(KAZ, max_cycles=8, **options) as host:
        return host.run_episode(fighter, seed=3, schedule=schedule)


def test_lockstep_seed_0_is_the_default_and_a_seed_repeats_exactly() -> None:
    default = kaz(None)
    assert kaz(0).digest() == default.digest()
    zero = kaz(ta.Schedule(0))
    assert zero.digest() == default.digest()
    assert zero.schedule is not None
    assert zero.schedule.deviations == ()
    limits = ta.ScheduleLimits(max_delay=0.5)
    digests: set[str] = set()
    for seed in (1, 2, 3):
        first = kaz(ta.Schedule(seed, limits=limits))
        second = kaz(ta.Schedule(seed, limits=limits))
        assert first.digest() == second.digest()
        assert first.records == second.records
        assert first.schedule is not None
        assert first.schedule.deviations
        assert kaz(first.schedule.replay()).digest() == first.digest()
        digests.add(first.digest())
    assert len(digests) == 3


def test_schedule_seed_is_the_same_as_schedule_on_the_pettingzoo_hosts() -> None:
    with ParallelHost(KAZ, max_cycles=8) as host:
        by_seed = host.run_episode(fighter, seed=3, schedule_seed=2)
    assert by_seed.digest() == kaz(2).digest()
    with TurnHost("classic/tictactoe-v3") as host:
        turns = host.run_episode(first_free_square, seed=0, schedule_seed=0)
        with pytest.raises(TypeError, match="not both"):
            host.run_episode(first_free_square, seed=0, schedule=1, schedule_seed=1)
    assert turns.digest() == TICTACTOE_DIGEST


def test_a_seeded_episode_has_the_same_digest_on_every_supported_python() -> None:
    limits = ta.ScheduleLimits(max_delay=0.5, delay_step=0.25)
    with ParallelHost(KAZ, max_cycles=8) as host:
        episode = host.run_episode(fighter, seed=3, schedule=ta.Schedule(1, limits=limits))
    assert episode.digest() == "683f12b0673bec446ea16692467758936d5848f045336d9147e07a2444cf02a0"


def test_a_steps_answers_reach_the_agents_in_the_order_chosen() -> None:
    """Which agent sees its step's answer first changes with the seed (answers=True),
    and never without (answers=False and no task reordering)."""
    order: list[str] = []

    async def noting(env: EnvClient) -> None:
        await env.reset()
        while True:
            _, _, terminated, truncated, _ = await env.step(NOTHING)
            order.append(env.name)
            if terminated or truncated:
                return

    def first_answered(schedule: ta.Schedule | None) -> tuple[str, ...]:
        order.clear()
        with ParallelHost(KAZ, max_cycles=3) as host:
            host.run_episode(noting, seed=1, schedule=schedule)
        return tuple(order[:4])

    assert first_answered(None) == tuple(KAZ_AGENTS)
    seen = {first_answered(ta.Schedule(seed)) for seed in range(1, 16)}
    assert len(seen) > 3
    fixed = ta.ScheduleLimits(answers=False, tasks=False)
    assert {first_answered(ta.Schedule(seed, limits=fixed)) for seed in range(1, 6)} == {
        tuple(KAZ_AGENTS)
    }


def test_frames_on_virtual_time_take_a_schedule_a_frame_late() -> None:
    limits = ta.ScheduleLimits(max_delay=2 / FPS, delay_step=1 / FPS)

    def run(schedule: ta.Schedule | None) -> Episode:
        with ParallelHost(KAZ, max_cycles=9, fps=FPS, default_action=NOTHING) as host:
            return host.run_episode(fighter, seed=5, schedule=schedule)

    default = run(None)
    assert sum(default.missed_frames.values()) > 0  # the knights think across frames
    assert run(ta.Schedule(0)).digest() == default.digest()
    late = run(ta.Schedule(4, limits=limits))
    assert late.digest() == run(ta.Schedule(4, limits=limits)).digest()
    assert late.schedule is not None
    delays = {c.delay for c in late.schedule.choices if c.kind == "delay"}
    assert delays <= {0.0, 1 / FPS, 2 / FPS}
    assert len(delays) > 1


async def wander(env: EnvClient) -> int:
    await env.reset()
    steps = 0
    while True:
        _, _, terminated, truncated, _ = await env.step(env.action_space.sample())
        steps += 1
        if terminated or truncated:
            return steps


def test_gym_host_late_answers_repeat_exactly() -> None:
    limits = ta.ScheduleLimits(max_delay=0.3, delay_step=0.1)
    with GymHost("CartPole-v1") as host:
        default = host.run_episode(wander, seed=1)
        assert host.run_episode(wander, seed=1, schedule=0).digest() == default.digest()
        assert host.run_episode(wander, seed=1, schedule_seed=0).digest() == default.digest()
        late = host.run_episode(wander, seed=1, schedule=ta.Schedule(6, limits=limits))
        again = host.run_episode(wander, seed=1, schedule=ta.Schedule(6, limits=limits))
        seeded = host.run_episode(wander, seed=1, schedule=6)
        assert host.run_episode(wander, seed=1, schedule_seed=6).digest() == seeded.digest()
    assert late.digest() == again.digest()
    assert late.steps == default.steps  # the env is the same; only the timing moved
    assert late.digest() != default.digest()
    gaps = {
        round(e.answered_at - e.issued_at, 9)
        for e in late.trace
        if e.answered_at is not None and e.issued_at is not None
    }
    assert gaps <= {0.0, 0.1, 0.2, 0.3}
    assert len(gaps) > 1


def test_a_seeded_episode_is_the_same_inline_and_threaded() -> None:
    # Inline stepping (SPEC §5) runs the same loop on the host thread: a seed chooses the
    # same orders and delays there, so the episode is the same, on every host shape.
    limits = ta.ScheduleLimits(max_delay=0.3, delay_step=0.1)
    episodes: dict[bool, list[str]] = {}
    for inline in (False, True):
        with GymHost("CartPole-v1", inline=inline) as host:
            gym = host.run_episode(wander, seed=1, schedule=ta.Schedule(6, limits=limits))
        lockstep = kaz(ta.Schedule(2, limits=ta.ScheduleLimits(max_delay=0.5)), inline=inline)
        with ParallelHost(
            KAZ, max_cycles=9, fps=FPS, default_action=NOTHING, inline=inline
        ) as host:
            frames = host.run_episode(
                fighter,
                seed=5,
                schedule=ta.Schedule(
                    4, limits=ta.ScheduleLimits(max_delay=2 / FPS, delay_step=1 / FPS)
                ),
            )
        with TurnHost("classic/tictactoe-v3", inline=inline) as host:
            turns = host.run_episode(
                first_free_square,
                seed=0,
                schedule=ta.Schedule(8, limits=ta.ScheduleLimits(max_delay=1.0)),
            )
        for episode in (gym, lockstep, frames, turns):
            assert episode.schedule is not None
        assert any(
            episode.schedule.deviations
            for episode in (gym, lockstep, frames, turns)
            if episode.schedule
        )
        episodes[inline] = [e.digest() for e in (gym, lockstep, frames, turns)]
    assert episodes[True] == episodes[False]


async def first_free_square(env: EnvClient) -> None:
    observation, _ = await env.reset()
    while True:
        action = int(np.flatnonzero(observation["action_mask"])[0])
        observation, _, terminated, truncated, _ = await env.step(action)
        if terminated or truncated:
            return


def test_turn_host_seed_0_keeps_the_pinned_digest() -> None:
    def run(schedule: ta.Schedule | int | None) -> Episode:
        with TurnHost("classic/tictactoe-v3") as host:
            return host.run_episode(first_free_square, seed=0, schedule=schedule)

    assert run(None).digest() == TICTACTOE_DIGEST
    assert run(ta.Schedule(0)).digest() == TICTACTOE_DIGEST
    limits = ta.ScheduleLimits(max_delay=1.0)
    assert (
        run(ta.Schedule(8, limits=limits)).digest() == run(ta.Schedule(8, limits=limits)).digest()
    )


def test_a_schedule_needs_virtual_time() -> None:
    with (
        ParallelHost("classic/rps-v2", real_time=True) as host,
        pytest.raises(ValueError, match="virtual time"),
    ):
        host.run_episode(fighter, schedule=3)
    with GymHost("CartPole-v1", real_time=True) as host:
        with pytest.raises(ValueError, match="virtual time"):
            host.run_episode(wander, schedule=ta.Schedule(1))
        assert host.run_episode(wander, seed=0, schedule=0).steps > 0  # 0: no schedule


# -- exploring episodes (testing.explore(episode=...)) ------------------------------------
def test_explore_finds_the_lockstep_agent_that_assumes_it_is_answered_first() -> None:
    from tests._episode_fns import careful_rps_episode, rps_episode

    default = rps_episode(ta.Schedule(0))
    assert default.error is None  # the default order answers player_0 first: fine
    report = explore(episode=rps_episode, seeds=40)
    assert report is not None
    assert report.seed > 0
    assert re.fullmatch(
        r"agent 'player_1' raised AssertionError: round \d: player_0 has posted round (\d|None)",
        report.failure,
    )
    assert report.describe() == [
        "at t=0: player_1's EnvClient.step answered before player_0's EnvClient.step"
    ]
    assert report.reproduced
    episode = replay_schedule(report, raise_errors=False)
    assert isinstance(episode, Episode)
    assert episode.error is not None
    assert episode.trace == report.trace
    with pytest.raises(AssertionError, match="player_0 has posted"):
        replay_schedule(report)
    assert explore(episode=careful_rps_episode, seeds=40) is None


def test_explore_runs_episodes_on_the_process_engine() -> None:
    from tests._episode_fns import rps_episode

    local = explore(episode=rps_episode, seeds=12)
    remote = explore(episode=rps_episode, seeds=12, engine="process", workers=2)
    assert local is not None
    assert remote is not None
    assert (remote.seed, remote.choices, remote.failure) == (
        local.seed,
        local.choices,
        local.failure,
    )
    assert remote.trace.digest() == local.trace.digest()
