"""The user-facing harness: run_scripted, ScriptedServer and the `scripted` pytest fixture."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path

import pytest

import threaded_async as ta
from threaded_async.testing import (
    ScriptedServer,
    ScriptError,
    ScriptHarness,
    format_trace,
    replay,
    run_scripted,
    scripted_fixture,  # noqa: F401  # pyright: ignore[reportUnusedImport]  # the `scripted` fixture
)


class Env(ta.Client):
    async def move(self, dx: int, dy: int) -> tuple[int, int]:
        return await self.execute(Env.move, dx, dy)

    async def look(self) -> str:
        return await self.execute(Env.look)


async def agent(env: Env) -> str:
    await env.move(1, 0)
    await asyncio.sleep(2)
    await env.move(1, 0)
    if await env.look() == "wall":
        await asyncio.sleep(3600)
        return "waited an hour"
    return "went on"


def _look_wall() -> str:
    return "wall"


def test_run_scripted_returns_the_exact_trace_result_and_time() -> None:
    run = run_scripted(
        lambda server: agent(Env(server)),
        answers={Env.move: [(1, 0), (2, 0)], Env.look: _look_wall},
    )
    assert run.lines() == [
        "t=0 Env.move(1, 0) -> (1, 0)",
        "t=2 Env.move(1, 0) -> (2, 0)",
        "t=2 Env.look() -> 'wall'",
    ]
    assert run.result == "waited an hour"
    assert run.time == 3602.0  # the hour passed in virtual time
    assert run.steps == 3
    assert run.error is None
    assert run.unused_answers == {}
    assert run.trace[0] == ta.TraceEntry("Env.move", (1, 0), {}, result=(1, 0), time=0.0)


def test_the_same_script_gives_the_same_trace_every_run() -> None:
    def once() -> list[str]:
        return run_scripted(
            lambda server: agent(Env(server)),
            answers={Env.move: [(1, 0), (2, 0)], Env.look: ["floor"]},
        ).lines()

    first = once()
    assert first[-1] == "t=2 Env.look() -> 'floor'"
    for _ in range(10):
        assert once() == first


def test_scripted_exceptions_are_raised_to_the_client() -> None:
    async def careful(env: Env) -> str:
        try:
            await env.move(0, 1)
        except PermissionError as exc:
            return f"blocked: {exc}"
        return "moved"

    run = run_scripted(
        lambda server: careful(Env(server)), answers={Env.move: [PermissionError("a door")]}
    )
    assert run.result == "blocked: a door"
    assert run.lines() == ["t=0 Env.move(0, 1) !! PermissionError: a door"]


def test_running_out_of_answers_fails_with_the_trace_attached() -> None:
    with pytest.raises(ScriptError, match=r"no scripted answer left for Env\.move\(1, 0\)") as info:
        run_scripted(lambda server: agent(Env(server)), answers={Env.move: [(1, 0)]})
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "t=0 Env.move(1, 0) -> (1, 0)" in notes


def test_raise_errors_false_keeps_the_error_in_the_run() -> None:
    run = run_scripted(
        lambda server: agent(Env(server)), answers={Env.move: [(1, 0)]}, raise_errors=False
    )
    assert isinstance(run.error, ScriptError)
    assert run.result is None
    assert run.lines()[-1].startswith("t=2 Env.move(1, 0) !! ScriptError")


def test_unused_answers_are_reported() -> None:
    run = run_scripted(
        lambda server: agent(Env(server)),
        answers={Env.move: [(1, 0), (2, 0), (3, 0)], Env.look: ["wall", "wall"]},
    )
    assert run.unused_answers == {"Env.move": 1, "Env.look": 1}


def test_a_stalled_client_is_reported_not_hung() -> None:
    async def waits_forever(env: Env) -> None:
        await env.move(0, 0)
        await asyncio.Event().wait()

    with pytest.raises(ScriptError, match="stuck"):
        run_scripted(lambda server: waits_forever(Env(server)), answers={Env.move: [(0, 0)]})


def test_max_steps_and_max_time_bound_a_runaway_script() -> None:
    async def chatty(env: Env) -> None:
        while True:
            await env.look()

    async def sleepy(env: Env) -> None:
        while True:
            await asyncio.sleep(60)

    with pytest.raises(ScriptError, match="more than 25 requests"):
        run_scripted(
            lambda server: chatty(Env(server)), answers={Env.look: _look_wall}, max_steps=25
        )
    with pytest.raises(ScriptError, match="still running at t="):
        run_scripted(lambda server: sleepy(Env(server)), max_time=600)


def test_step_mode_advances_like_a_game_loop() -> None:
    run = run_scripted(
        lambda server: agent(Env(server)),
        answers={Env.move: [(1, 0), (2, 0)], Env.look: ["floor"]},
        clock=ta.VirtualClock(),
        step=0.5,
    )
    assert run.lines() == [
        "t=0 Env.move(1, 0) -> (1, 0)",
        "t=2 Env.move(1, 0) -> (2, 0)",
        "t=2 Env.look() -> 'floor'",
    ]
    assert run.result == "went on"


def test_step_mode_needs_a_step_or_autojump() -> None:
    with pytest.raises(ValueError, match="step"):
        run_scripted(lambda server: agent(Env(server)), clock=ta.VirtualClock())


def test_a_string_is_not_taken_for_a_sequence_of_answers() -> None:
    with pytest.raises(TypeError, match="not a string"):
        ScriptedServer({Env.look: "wall"})


def test_async_handlers_work_as_answers() -> None:
    async def look() -> str:
        await asyncio.sleep(0)
        return "sky"

    async def looker(env: Env) -> str:
        return await env.look()

    run = run_scripted(lambda server: looker(Env(server)), answers={"look": look})
    assert run.result == "sky"


def test_scripted_server_can_be_driven_by_hand() -> None:
    with ScriptedServer({Env.move: [(5, 5)]}) as server:
        run = server.run(lambda s: Env(s).move(4, 4))
        assert run.result == (5, 5)
        assert server.virtual_clock.autojump
        assert format_trace(server.trace) == ["t=0 Env.move(4, 4) -> (5, 5)"]


def test_the_scripted_fixture(scripted: ScriptHarness) -> None:
    run = scripted.run(lambda server: Env(server).look(), answers={Env.look: ["door"]})
    assert run.lines() == ["t=0 Env.look() -> 'door'"]
    assert scripted.runs == [run]


# -- per-client answers, delays, clear errors, replay (SPEC §8) -----------------------------
def _two_agents(server: ta.Server) -> Awaitable[list[tuple[int, int]]]:
    async def both() -> list[tuple[int, int]]:
        a, b = Env(server, name="a"), Env(server, name="b")
        return list(await asyncio.gather(a.move(1, 0), b.move(1, 0)))

    return both()


def test_answers_per_client() -> None:
    run = run_scripted(
        _two_agents,
        answers={("b", Env.move): [(9, 9)], Env.move: [(1, 0)]},
    )
    assert run.result == [(1, 0), (9, 9)]
    assert {e.client for e in run.trace} == {"a", "b"}


def test_answer_delays_in_virtual_time_let_agents_time_out() -> None:
    async def impatient(env: Env) -> str:
        try:
            await asyncio.wait_for(env.move(1, 0), timeout=1.0)
        except TimeoutError:
            return f"gave up at t={asyncio.get_running_loop().time():g}"
        return "answered"

    slow = run_scripted(
        lambda server: impatient(Env(server)), answers={Env.move: [(1, 0)]}, delays={Env.move: 2}
    )
    assert slow.result == "gave up at t=1"
    quick = run_scripted(
        lambda server: impatient(Env(server)),
        answers={Env.move: [(1, 0)]},
        delays={Env.move: 0.5},
    )
    assert quick.result == "answered"
    assert (quick.trace[0].issued_at, quick.trace[0].answered_at) == (0.0, 0.5)


def test_passing_a_coroutine_instead_of_a_factory_says_so() -> None:
    coroutine = agent(Env(ta.Server()))
    with pytest.raises(TypeError, match="lambda server"):
        run_scripted(coroutine, answers={})  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


def test_step_with_an_autojump_clock_is_an_error() -> None:
    with pytest.raises(ValueError, match="autojump"):
        run_scripted(
            lambda server: agent(Env(server)), clock=ta.VirtualClock(autojump=True), step=1.0
        )


async def _walker(server: ta.Server, turn: bool, look: bool = True) -> str:
    a, b = Env(server, name="a"), Env(server, name="b")

    async def walk(env: Env, n: int) -> None:
        for _ in range(n):
            await env.move(1, 0)
            await asyncio.sleep(1.5)
        if turn:
            await env.move(0, 1)

    await asyncio.gather(walk(a, 2), walk(b, 3))
    return await a.look() if look else "did not look"


def _record(turn: bool, path: Path) -> ta.Trace:
    counter = iter(range(100))

    def move(dx: int, dy: int) -> tuple[int, int]:
        return (next(counter), dx + dy)

    run = run_scripted(
        lambda server: _walker(server, turn),
        answers={Env.move: move, Env.look: ["wall"]},
        delays={("b", Env.move): 0.25},
    )
    run.trace.dump(path)
    return run.trace


def test_replay_reproduces_a_recorded_run_from_disk(tmp_path: Path) -> None:
    recorded = _record(True, tmp_path / "run.jsonl")
    loaded = ta.Trace.load(tmp_path / "run.jsonl")
    assert loaded == recorded
    run = replay(loaded, lambda server: _walker(server, True))
    assert run.trace == recorded
    assert run.trace.digest() == recorded.digest()
    assert run.result == "wall"


def test_replay_keeps_the_time_of_an_agent_that_sleeps_before_its_first_request() -> None:
    async def late(server: ta.Server) -> tuple[int, int]:
        env = Env(server, name="late")
        await asyncio.sleep(1.5)
        return await env.move(1, 0)

    recorded = run_scripted(late, answers={Env.move: [(7, 7)]}).trace
    assert recorded[0].issued_at == 1.5
    run = replay(recorded, late)
    assert run.trace == recorded  # the clock starts where run_scripted's does: at 0
    assert run.result == (7, 7)
    shifted = run_scripted(
        late, answers={Env.move: [(7, 7)]}, clock=ta.VirtualClock(start=100, autojump=True)
    ).trace
    assert replay(shifted, late, start=100).trace == shifted


def test_replay_names_the_first_request_that_differs(tmp_path: Path) -> None:
    recorded = _record(True, tmp_path / "run.jsonl")

    async def different(server: ta.Server) -> str:
        a, b = Env(server, name="a"), Env(server, name="b")
        await b.move(1, 0)
        await a.move(2, 0)  # the recording has a.move(1, 0)
        return "?"

    with pytest.raises(
        ScriptError, match=r"#1 of client 'a'.*Env\.move\(2, 0\).*Env\.move\(1, 0\)"
    ):
        replay(recorded, different)
    with pytest.raises(ScriptError, match=r"#3 of client 'a'.*Env\.look\(\).*Env\.move\(0, 1\)"):
        replay(recorded, lambda server: _walker(server, False))
    with pytest.raises(ScriptError, match=r"'a' ended with 1 recorded request\(s\) not made"):
        replay(recorded, lambda server: _walker(server, True, look=False))


# -- replay of ordinary recordings -------------------------------------------------------
def test_replay_of_an_empty_trace_and_of_a_real_time_server() -> None:
    async def nothing(server: ta.Server) -> str:
        return "idle"

    assert replay(ta.Trace(), nothing).result == "idle"

    async def walker(server: ta.Server) -> tuple[int, int]:
        return await Env(server, name="w").move(1, 0)

    def move(dx: int, dy: int) -> tuple[int, int]:
        return (dx, dy)

    with ta.Server(handlers={Env.move: move}, record_trace=True) as real:
        task = real.create_background_task(walker(real))
        while not task.done():
            real.process()
        recorded = real.trace
    assert recorded[0].issued_at is None  # the real clock records no virtual times
    run = replay(recorded, walker)
    assert run.result == (1, 0)
    assert run.trace.diff(recorded) == {}


def test_replay_of_a_recording_where_the_agents_own_timeout_fired() -> None:
    async def impatient(server: ta.Server) -> str:
        env = Env(server, name="i")
        try:
            await asyncio.wait_for(env.move(1, 0), 1.0)
        except TimeoutError:
            return await env.look()
        return "answered in time"

    recorded = run_scripted(
        impatient, answers={Env.move: [(1, 0)], Env.look: ["gave up"]}, delays={Env.move: 5.0}
    ).trace
    assert [entry.error for entry in recorded] == ["cancelled", None]
    run = replay(recorded, impatient)
    assert run.result == "gave up"
    assert run.trace == recorded

    async def patient(server: ta.Server) -> str:
        env = Env(server, name="i")
        await env.move(1, 0)  # waits for the answer the recording never gave
        return "?"

    with pytest.raises(ScriptError, match=r"gave up on its request Env\.move\(1, 0\) at t=1"):
        replay(recorded, patient)


class KeyedError(Exception):
    pass


@pytest.mark.parametrize(
    "error",
    [KeyError("x"), KeyError(3), ValueError("no"), OSError(2, "missing"), KeyedError("k")],
    ids=["KeyError-str", "KeyError-int", "ValueError", "OSError", "custom"],
)
def test_a_recorded_error_replays_with_the_same_text(error: Exception) -> None:
    async def asks(server: ta.Server) -> str:
        try:
            await Env(server, name="k").look()
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        return "?"

    def fails() -> str:
        raise error

    recorded = run_scripted(asks, answers={Env.look: fails}).trace
    run = replay(recorded, asks)
    assert run.trace == recorded
    assert run.result == f"{type(error).__name__}: {error}"
