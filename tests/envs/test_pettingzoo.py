"""threaded_async.envs with real PettingZoo environments (SPEC §9): ParallelHost in lockstep
and in real time, TurnHost on turn-based games."""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

import numpy as np
import pytest

from threaded_async.envs import EnvClient, Episode, ParallelHost, TurnHost

KAZ = "butterfly/knights_archers_zombies-v11"  # 4 agents: archer_0/1, knight_0/1
KAZ_AGENTS = ["archer_0", "archer_1", "knight_0", "knight_1"]
ATTACK, NOTHING = 4, 5
FPS = 30
#: The digest of the tic-tac-toe game below: the same on every run and Python.
TICTACTOE_DIGEST = "1907abc2164fccf50fef71baa8bfadbad932281aecd3ee740ca61ffb76b676eb"


@pytest.fixture(autouse=True)
def _headless(monkeypatch: pytest.MonkeyPatch) -> None:  # pyright: ignore[reportUnusedFunction]
    """pygame renders without a display (SDL's dummy driver) and prints no banner."""
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("PYGAME_HIDE_SUPPORT_PROMPT", "1")


async def random_fighter(env: EnvClient) -> int:
    """Act at random (the host seeds the action space); the knights think a while, in
    virtual time, before each step."""
    await env.reset()
    steps = 0
    while True:
        if env.name.startswith("knight"):
            await asyncio.sleep(0.5)
        _, _, terminated, truncated, _ = await env.step(env.action_space.sample())
        steps += 1
        if terminated or truncated:
            return steps


def kaz_episode(seed: int, **options: Any) -> Episode:
    # A fresh env per episode: KAZ 1.27 keeps its zombie-spawn counter across resets.
    with ParallelHost(KAZ, max_cycles=20, **options) as host:
        return host.run_episode(random_fighter, seed=seed)


# -- lockstep ------------------------------------------------------------------------
def test_lockstep_steps_every_agent_together() -> None:
    episode = kaz_episode(seed=3)
    assert episode.error is None
    assert episode.steps == 20
    assert episode.results == dict.fromkeys(KAZ_AGENTS, 20)
    for record in episode.records:
        assert list(record.actions) == KAZ_AGENTS
        assert record.missed == ()
    # The knights' 0.5 s of thinking set the pace, on the virtual clock.
    assert [r.time for r in episode.records[:3]] == [0.5, 1.0, 1.5]
    assert episode.missed_frames == dict.fromkeys(KAZ_AGENTS, 0)
    assert episode.trace[0].request == "EnvClient.reset"


def test_lockstep_is_deterministic() -> None:
    first, second, other = kaz_episode(seed=3), kaz_episode(seed=3), kaz_episode(seed=4)
    assert first.records == second.records
    assert first.digest() == second.digest()
    assert other.digest() != first.digest()


def test_an_agent_that_finishes_early_gets_the_default_action() -> None:
    async def quitter(env: EnvClient) -> str:
        await env.reset()
        for _ in range(3):
            await env.step(ATTACK)
        return "done"

    agents = dict.fromkeys(KAZ_AGENTS, random_fighter) | {"knight_0": quitter}
    with ParallelHost(KAZ, max_cycles=10, default_action=NOTHING) as host:
        episode = host.run_episode(agents, seed=1)
    assert episode.steps == 10
    assert episode.results["knight_0"] == "done"
    assert [r.actions["knight_0"] for r in episode.records] == [ATTACK] * 3 + [NOTHING] * 7
    assert episode.missed_frames["knight_0"] == 0  # it left; it was not late


def test_without_a_default_action_an_agent_that_finishes_early_ends_the_episode() -> None:
    cancelled: list[str] = []

    async def quitter(env: EnvClient) -> None:
        await env.reset()
        for _ in range(3):
            await env.step(ATTACK)

    async def fighter(env: EnvClient) -> None:
        try:
            await random_fighter(env)
        except asyncio.CancelledError:
            cancelled.append(env.name)
            raise

    agents = dict.fromkeys(KAZ_AGENTS, fighter) | {"knight_0": quitter}
    with ParallelHost(KAZ, max_cycles=10) as host:
        episode = host.run_episode(agents, seed=1)
    assert episode.steps == 3
    assert episode.error is None
    assert sorted(cancelled) == ["archer_0", "archer_1", "knight_1"]


def test_an_agent_that_raises_is_reported_and_the_others_are_cancelled() -> None:
    cancelled: list[str] = []

    async def agent(env: EnvClient) -> None:
        await env.reset()
        try:
            for step in range(100):
                if env.name == "archer_1" and step == 4:
                    raise RuntimeError("bow string snapped")
                await env.step(ATTACK)
        except asyncio.CancelledError:
            cancelled.append(env.name)
            raise

    with (
        ParallelHost(KAZ, max_cycles=50) as host,
        pytest.raises(RuntimeError, match="bow string snapped") as raised,
    ):
        host.run_episode(agent, seed=1)
    episode = getattr(raised.value, "episode", None)
    assert isinstance(episode, Episode)
    assert episode.steps == 4
    error = episode.error
    assert error is not None
    assert (error.agent, error.type, error.message) == (
        "archer_1",
        "RuntimeError",
        "bow string snapped",
    )
    assert "bow string snapped" in error.traceback
    assert sorted(cancelled) == ["archer_0", "knight_0", "knight_1"]
    assert episode.results == {}


def test_agents_must_match_the_envs_agent_ids() -> None:
    with ParallelHost("classic/rps-v2") as host:
        with pytest.raises(ValueError, match="player_1"):
            host.run_episode({"player_0": random_fighter})
        with pytest.raises(ValueError, match="nobody"):
            host.run_episode(
                {"player_0": random_fighter, "player_1": random_fighter, "nobody": random_fighter}
            )


def test_a_reset_with_a_seed_is_refused() -> None:
    async def seeding(env: EnvClient) -> str:
        try:
            await env.reset(seed=1)
        except ValueError as exc:
            return str(exc)
        return "accepted"

    with ParallelHost("classic/rps-v2", default_action=0) as host:
        episode = host.run_episode(seeding, seed=0)
    assert "run_episode(seed=...)" in episode.results["player_0"]


# -- real time -----------------------------------------------------------------------
def test_real_time_frames_on_virtual_time_count_a_slow_agents_misses() -> None:
    """knight_1 thinks for 3 frames (virtual time) before each step: it misses two frames
    out of three and gets the default action for them; the others never miss."""
    seen_by_default: list[tuple[str, Any]] = []

    async def agent(env: EnvClient) -> int:
        await env.reset()
        steps = 0
        while True:
            if env.name == "knight_1":
                await asyncio.sleep(3 / FPS)
            _, _, terminated, truncated, _ = await env.step(ATTACK)
            steps += 1
            if terminated or truncated:
                return steps

    def default(agent_id: str, observation: Any) -> int:
        seen_by_default.append((agent_id, observation))
        return NOTHING

    def run() -> Episode:
        with ParallelHost(KAZ, max_cycles=12, fps=FPS, default_action=default) as host:
            return host.run_episode(agent, seed=5)

    episode = run()
    assert episode.error is None
    assert episode.steps == 12
    # Frame k is due at k / FPS virtual seconds, exactly (to the nanosecond): no drift.
    assert (episode.records[2].time, episode.records[11].time) == (0.1, 0.4)
    assert [r.missed for r in episode.records] == [("knight_1",), ("knight_1",), ()] * 4
    assert [r.actions["knight_1"] for r in episode.records] == [NOTHING, NOTHING, ATTACK] * 4
    assert all(r.actions["archer_0"] == ATTACK for r in episode.records)
    assert episode.missed_frames == {"archer_0": 0, "archer_1": 0, "knight_0": 0, "knight_1": 8}
    assert {agent_id for agent_id, _ in seen_by_default} == {"knight_1"}
    assert isinstance(seen_by_default[0][1], np.ndarray)
    assert run().digest() == episode.digest()


def test_real_time_frames_on_the_wall_clock() -> None:
    async def agent(env: EnvClient) -> None:
        await env.reset()
        while True:
            if env.name == "player_1":
                await asyncio.sleep(0.2)  # real seconds: twenty frames at 100 fps
            _, _, terminated, truncated, _ = await env.step(1)
            if terminated or truncated:
                return

    with ParallelHost(
        "classic/rps-v2", max_cycles=4, fps=100, default_action=0, real_time=True
    ) as host:
        episode = host.run_episode(agent, seed=0)
    assert episode.error is None
    assert episode.steps == 4
    # Real seconds since the episode started: frame k is due at k / 100 s, or later.
    times = [r.time for r in episode.records]
    assert all(t is not None for t in times)
    assert times == sorted(times)  # pyright: ignore[reportArgumentType, reportCallIssue]
    assert times[0] is not None
    assert times[0] >= 0.01
    assert episode.missed_frames["player_1"] >= 1
    misses = sum(r.missed.count("player_1") for r in episode.records)
    assert misses == episode.missed_frames["player_1"]


def test_real_time_needs_a_default_action() -> None:
    with pytest.raises(ValueError, match="default_action"):
        ParallelHost("classic/rps-v2", fps=30)
    with pytest.raises(ValueError, match="fps"):
        ParallelHost("classic/rps-v2", fps=0, default_action=0)


# -- turns -----------------------------------------------------------------------------
async def first_free_square(env: EnvClient) -> list[int]:
    """Play the first legal move; note how many marks the board had at each answer."""
    observation, _ = await env.reset()
    marks = [int(observation["observation"].sum())]
    while True:
        action = int(np.flatnonzero(observation["action_mask"])[0])
        observation, _, terminated, truncated, _ = await env.step(action)
        marks.append(int(observation["observation"].sum()))
        if terminated or truncated:
            return marks


def tictactoe_episode() -> Episode:
    with TurnHost("classic/tictactoe-v3") as host:
        return host.run_episode(first_free_square, seed=0)


def test_turns_answer_only_the_agent_whose_turn_it_is() -> None:
    episode = tictactoe_episode()
    assert episode.error is None
    # player_1 wins on its fourth move; both then have a last (done) turn.
    assert [r.actions for r in episode.records] == [
        {"player_1": 0},
        {"player_2": 1},
        {"player_1": 2},
        {"player_2": 3},
        {"player_1": 4},
        {"player_2": 5},
        {"player_1": 6},
        {"player_2": None},
        {"player_1": None},
    ]
    assert episode.total_rewards == {"player_1": 1.0, "player_2": -1.0}
    assert episode.records[-2].terminations == {"player_2": True}
    assert episode.records[-2].rewards == {"player_2": -1.0}
    # Each answer came at the agent's next turn: the opponent had moved meanwhile.
    assert episode.results == {"player_1": [0, 2, 4, 6, 7], "player_2": [1, 3, 5, 7]}


def test_the_turn_based_digest_is_pinned() -> None:
    assert tictactoe_episode().digest() == TICTACTOE_DIGEST


async def random_legal_move(env: EnvClient) -> float:
    observation, _ = await env.reset()
    while True:
        action = env.action_space.sample(mask=observation["action_mask"])
        observation, reward, terminated, truncated, _ = await env.step(action)
        if terminated or truncated:
            return float(reward)


def test_turns_are_deterministic() -> None:
    def run(seed: int) -> Episode:
        with TurnHost("classic/connect_four-v3") as host:
            return host.run_episode(random_legal_move, seed=seed)

    first, second, other = run(11), run(11), run(12)
    assert first.error is None
    assert first.steps > 8
    assert first.results == {name: first.total_rewards[name] for name in ("player_0", "player_1")}
    assert first.digest() == second.digest()
    assert other.digest() != first.digest()


def test_a_turn_based_agent_that_raises_is_reported() -> None:
    cancelled: list[str] = []

    async def player(env: EnvClient) -> None:
        try:
            observation, _ = await env.reset()
            for move in range(10):
                if env.name == "player_2" and move == 2:
                    raise KeyError("no idea")
                action = int(np.flatnonzero(observation["action_mask"])[0])
                observation, *_ = await env.step(action)
        except asyncio.CancelledError:
            cancelled.append(env.name)
            raise

    with TurnHost("classic/tictactoe-v3") as host:
        episode = host.run_episode(player, seed=0, raise_errors=False)
    error = episode.error
    assert error is not None
    assert (error.agent, error.type) == ("player_2", "KeyError")
    assert episode.steps == 5  # it raised at its third turn, after five moves
    assert cancelled == ["player_1"]


async def _raise_at_once(env: EnvClient) -> None:
    raise ValueError("agent bug")


async def _wait_for_nothing(env: EnvClient) -> None:
    await asyncio.Event().wait()  # neither a request nor a timer: only cancellation ends it


async def _reset_then_raise(env: EnvClient) -> None:
    await env.reset()
    raise ValueError("agent bug")


async def _think_for_a_minute(env: EnvClient) -> None:
    await env.reset()
    await asyncio.sleep(60)
    await env.step(0)


@pytest.mark.parametrize("kind", ["lockstep", "turns"])
def test_an_agent_that_raises_while_the_others_wait_for_nothing_ends_the_episode(
    kind: str,
) -> None:
    """The host must not wait for the other agents' next requests (they would never come,
    and it used to end with EventLoopTimeoutError instead of the agent's error): they are
    cancelled as soon as one agent raises."""
    agents = {"player_1": _wait_for_nothing, "player_2": _raise_at_once}
    if kind == "lockstep":
        # On the real clock, beside an agent that thinks for a minute before it steps.
        agents = {"player_0": _reset_then_raise, "player_1": _think_for_a_minute}
        with ParallelHost("classic/rps-v2", real_time=True, timeout=5) as host:
            episode = host.run_episode(agents, seed=0, raise_errors=False)
    else:
        with TurnHost("classic/tictactoe-v3", timeout=30) as host:
            episode = host.run_episode(agents, seed=0, raise_errors=False)
    error = episode.error
    assert error is not None
    assert (error.type, error.message) == ("ValueError", "agent bug")
    assert episode.steps == 0


def test_a_turn_based_agent_that_stops_early_ends_the_episode() -> None:
    async def resigns(env: EnvClient) -> str:
        observation, _ = await env.reset()
        await env.step(int(np.flatnonzero(observation["action_mask"])[0]))
        return "resigned"  # at its second turn, when the step above is answered

    with TurnHost("classic/tictactoe-v3") as host:
        episode = host.run_episode({"player_1": resigns, "player_2": first_free_square})
    assert episode.steps == 2
    assert episode.results == {"player_1": "resigned"}
    assert episode.error is None


def test_an_illegal_move_goes_back_to_the_agent() -> None:
    async def cheater(env: EnvClient) -> str:
        await env.reset()
        try:
            await env.step(99)
        except AssertionError:  # PettingZoo checks the action space
            return "refused"
        return "accepted"

    with TurnHost("classic/tictactoe-v3") as host:
        episode = host.run_episode({"player_1": cheater, "player_2": first_free_square})
    assert episode.results == {"player_1": "refused"}
    assert episode.steps == 0


def test_the_episode_ends_when_no_agent_is_running() -> None:
    async def one_step(env: EnvClient) -> None:
        await env.reset()
        await env.step(ATTACK)

    for fps in (None, FPS):  # lockstep, real time
        with ParallelHost(KAZ, max_cycles=900, fps=fps, default_action=NOTHING) as host:
            episode = host.run_episode(one_step, seed=0)
        assert episode.steps == 1
        assert episode.results == dict.fromkeys(KAZ_AGENTS, None)


def test_an_env_of_another_kind_is_refused_at_once_saying_which_host_to_use() -> None:
    import gymnasium as gym

    from threaded_async.envs import GymHost

    pz: Any = importlib.import_module("pettingzoo")
    cartpole = gym.make("CartPole-v1")
    rps = pz.make("parallel", "classic/rps-v2")
    tictactoe = pz.make("aec", "classic/tictactoe-v3")
    with pytest.raises(TypeError, match="use ParallelHost or TurnHost"):
        GymHost(rps)
    with pytest.raises(TypeError, match="call it to make the env"):
        GymHost(lambda: rps)
    with pytest.raises(TypeError, match="not 123"):
        GymHost(123)
    with pytest.raises(TypeError, match="use TurnHost"):
        ParallelHost(tictactoe)
    with pytest.raises(TypeError, match="use ParallelHost"):
        TurnHost(rps)
    with pytest.raises(TypeError, match="no possible_agents"):
        ParallelHost(cartpole)
    for env in (cartpole, rps, tictactoe):
        env.close()


def test_agents_and_seeds_are_checked_before_the_episode_starts() -> None:
    async def agent(env: EnvClient) -> None:
        await env.reset()

    with ParallelHost("classic/rps-v2") as host:
        with pytest.raises(TypeError, match="agent for 'player_1' must be an async function"):
            host.run_episode({"player_0": agent, "player_1": 5}, seed=0)  # pyright: ignore[reportArgumentType]
        with pytest.raises(TypeError, match="seed must be an int or None"):
            host.run_episode(agent, seed="a")  # pyright: ignore[reportArgumentType]
        with pytest.raises(TypeError, match="seed must be an int or None"):
            host.run_episode(agent, seed=True)
