"""Agents that do real work on virtual time (SPEC §7, "One jump rule, every path" and
"Agents are tasks, with children"): executor jobs and ``clock.hold()`` take no virtual
time on every path (process, gather, next_request, wait_until_idle, advance), and a
client's liveness follows its agent's tasks, not the first task that issued a request."""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import socket
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import threaded_async as ta
from threaded_async import request

BOUND = 10.0
REAL_WORK = 0.05  # real seconds of "model call": far longer than the loop needs to idle


class Env(ta.Client):
    @request
    async def move(self, dx: int) -> int: ...

    @request
    async def look(self) -> str: ...


def _same(dx: int) -> int:
    return dx


def _blocking_work(seconds: float = REAL_WORK) -> str:
    threading.Event().wait(seconds)  # real time passes in a worker thread
    return "thought"


# -- holds that hold, on every path ----------------------------------------------------
@pytest.mark.stdlib_loop
def test_gather_does_not_jump_over_executor_work() -> None:
    """A host waiting in gather() overrides its own requests' holds, not real work's: an
    agent's wait_for(to_thread(...), 5) is not timed out by virtual time."""
    clock = ta.VirtualClock(autojump=True)
    with ta.Server(clock=clock) as server:
        env = Env(server, name="llm")

        async def agent() -> None:
            answer = await asyncio.wait_for(asyncio.to_thread(_blocking_work), 5)
            await env.move(len(answer))

        task = server.runner.create_task(agent())
        (req,) = server.gather(timeout=BOUND)
        assert (req.args, clock.time()) == ((7,), 0.0)
        req.answer(0)
        task.wait(BOUND)


@pytest.mark.stdlib_loop
def test_next_request_does_not_jump_over_a_clock_hold_around_real_io() -> None:
    """Real I/O inside ``async with clock.hold():`` takes no virtual time while the host
    waits in next_request(): a socket read with a 5 s timeout is not timed out."""
    clock = ta.VirtualClock(autojump=True)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    accepted = threading.Event()

    def slow_peer() -> None:
        conn, _ = listener.accept()
        with conn:
            accepted.set()
            threading.Event().wait(REAL_WORK)  # the "model" thinks in real time
            conn.sendall(b"hello\n")

    peer = threading.Thread(target=slow_peer)
    peer.start()
    try:
        with ta.Server(clock=clock) as server:
            env = Env(server, name="llm")

            async def agent() -> None:
                async with clock.hold():
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    line = await asyncio.wait_for(reader.readline(), 5)
                    writer.close()
                    await writer.wait_closed()
                await env.move(len(line))

            task = server.runner.create_task(agent())
            req = server.next_request(BOUND, client="llm")
            assert req is not None
            assert (req.args, clock.time()) == ((6,), 0.0)
            req.answer(0)
            task.wait(BOUND)
    finally:
        peer.join(BOUND)
        listener.close()


@pytest.fixture
def pool() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    with concurrent.futures.ThreadPoolExecutor(2) as executor:
        yield executor


@pytest.mark.stdlib_loop
@pytest.mark.parametrize("how", ["own executor", "set_default_executor"])
def test_any_executor_holds_virtual_time(
    how: str, pool: concurrent.futures.ThreadPoolExecutor
) -> None:
    clock = ta.VirtualClock(autojump=True)
    with ta.Server(clock=clock) as server:
        env = Env(server, name="tool")

        async def agent() -> None:
            loop = asyncio.get_running_loop()
            if how == "own executor":
                job = loop.run_in_executor(pool, _blocking_work)
            else:
                loop.set_default_executor(pool)
                job = asyncio.to_thread(_blocking_work)
            answer = await asyncio.wait_for(job, 5)
            await env.move(len(answer))

        task = server.runner.create_task(agent())
        (req,) = server.gather(timeout=BOUND)
        assert (req.args, clock.time()) == ((7,), 0.0)
        req.answer(0)
        task.wait(BOUND)


@pytest.mark.stdlib_loop
def test_process_and_wait_until_idle_wait_for_real_work_on_virtual_time() -> None:
    """On virtual time real work is part of the step: process() and wait_until_idle()
    wait for it (it takes no virtual time), so the request made after it is seen."""
    clock = ta.VirtualClock(autojump=True)
    with ta.Server(clock=clock, handlers={Env.move: _same}) as server:
        env = Env(server)

        async def agent() -> int:
            answer = await asyncio.wait_for(asyncio.to_thread(_blocking_work), 5)
            return await env.move(len(answer))

        task = server.create_background_task(agent())
        assert server.process(timeout=BOUND) is True
        assert task.wait(BOUND) == 7
        assert clock.time() == 0.0

        async def second() -> str:
            return await asyncio.to_thread(_blocking_work)

        task2 = server.runner.create_task(second())
        server.runner.wait_until_idle(BOUND)
        assert task2.done()


@pytest.mark.stdlib_loop
def test_advance_waits_for_real_work_and_it_takes_no_virtual_time() -> None:
    clock = ta.VirtualClock()
    with ta.AsyncRunner(clock=clock, call_in_loop_timeout=BOUND) as runner:
        seen: list[float] = []

        async def agent() -> None:
            await asyncio.sleep(0.5)
            await asyncio.to_thread(_blocking_work)
            seen.append(clock.time())
            await asyncio.sleep(0.5)
            seen.append(clock.time())

        runner.create_task(agent())
        clock.advance(0.75)  # fires the first sleep; the job then runs: time waits for it
        assert seen == [0.5]
        assert clock.time() == 0.75
        clock.advance(0.25)
        assert seen == [0.5, 1.0]


@pytest.mark.stdlib_loop
def test_a_timeout_inside_a_hold_fires_only_after_the_hold() -> None:
    """Virtual timers due meanwhile fire once the hold ends, at their own times: the hold
    stops time, it does not skip it."""
    clock = ta.VirtualClock(autojump=True)
    with ta.Server(clock=clock) as server:
        env = Env(server, name="a")

        async def agent() -> None:
            async with clock.hold():
                await asyncio.to_thread(_blocking_work)
            await asyncio.sleep(2)
            await env.move(1)

        server.runner.create_task(agent())
        (req,) = server.gather(timeout=BOUND)
        assert clock.time() == 2.0
        req.answer(0)


# -- infinite deadlines ----------------------------------------------------------------
@pytest.mark.stdlib_loop
@pytest.mark.parametrize(
    "sleeper",
    ["sleep", "wait_for", "timeout", "huge"],
)
def test_an_infinite_deadline_means_never_and_keeps_the_loop_alive(sleeper: str) -> None:
    clock = ta.VirtualClock(autojump=True)
    with ta.Server(clock=clock) as server:
        env = Env(server, name="a")
        never = asyncio.Event()

        async def forever() -> None:
            if sleeper == "sleep":
                await asyncio.sleep(math.inf)
            elif sleeper == "wait_for":
                await asyncio.wait_for(never.wait(), math.inf)
            elif sleeper == "timeout":
                async with asyncio.timeout(math.inf):
                    await never.wait()
            else:
                await asyncio.sleep(1e300)

        async def agent() -> None:
            await asyncio.sleep(1)
            await env.move(1)

        sleeping = server.runner.create_task(forever())
        server.runner.create_task(agent())
        (req,) = server.gather([env], timeout=BOUND)
        assert clock.time() == 1.0
        req.answer(0)
        server.runner.wait_until_idle(BOUND)
        assert server.runner.is_running
        if sleeper == "huge":
            assert clock.time() == 1e300  # a huge finite timer is reached, exactly
            assert sleeping.done()
        else:
            assert clock.time() == 1.0  # nothing left to jump to: idle
            assert not sleeping.done()


@pytest.mark.stdlib_loop
def test_advance_to_a_huge_time_works_and_past_the_float_range_is_a_value_error() -> None:
    clock = ta.VirtualClock()
    with ta.AsyncRunner(clock=clock, call_in_loop_timeout=BOUND):
        clock.advance_to(1e300)
        assert clock.time() == 1e300
        with pytest.raises(ValueError, match="cannot go past"):
            clock.advance(sys.float_info.max)


# -- agents are tasks, with children ---------------------------------------------------
def _answer_all(server: ta.Server, rounds: int) -> list[list[tuple[str | None, str]]]:
    frames: list[list[tuple[str | None, str]]] = []
    for _ in range(rounds):
        batch = server.gather(timeout=BOUND)
        if not batch:
            break
        frames.append([(r.client, r.name) for r in batch])
        for r in batch:
            r.answer(1 if r.name.endswith("move") else "seen")
    return frames


@pytest.mark.parametrize("helper", ["gather", "create_task", "wait_for", "task_group"])
def test_a_first_request_from_a_helper_task_does_not_end_the_agent(helper: str) -> None:
    """LLM agents make parallel tool calls: the client stays live after the helper task
    that issued its first request ends, so lockstep keeps waiting for its next one."""
    with ta.Server() as server:
        a, b = Env(server, name="a"), Env(server, name="b")

        async def first(env: Env) -> None:
            if helper == "gather":
                await asyncio.gather(env.look())
            elif helper == "create_task":
                await asyncio.create_task(env.look())
            elif helper == "wait_for":
                await asyncio.wait_for(asyncio.ensure_future(env.look()), 5)
            else:
                async with asyncio.TaskGroup() as group:
                    group.create_task(env.look())

        async def agent(env: Env) -> None:
            await first(env)
            await asyncio.sleep(0.01)  # between requests, no helper task is alive
            await env.move(1)
            await env.move(2)

        for env in (a, b):
            server.runner.create_task(agent(env))
        frames = _answer_all(server, 5)
        assert frames == [
            [("a", "Env.look"), ("b", "Env.look")],
            [("a", "Env.move"), ("b", "Env.move")],
            [("a", "Env.move"), ("b", "Env.move")],
        ]
        assert not a.live
        assert not b.live


def test_a_client_is_live_while_a_task_its_agent_spawned_still_runs() -> None:
    with ta.Server() as server:
        env = Env(server, name="a")

        async def later() -> None:
            await asyncio.sleep(0.01)
            await env.move(3)

        async def agent() -> None:
            await env.move(1)
            asyncio.get_running_loop().create_task(later())  # fire and forget, then return

        server.runner.create_task(agent())
        frames = _answer_all(server, 5)
        assert frames == [[("a", "Env.move")], [("a", "Env.move")]]


def test_bind_task_separates_agents_that_one_task_runs() -> None:
    """One task running two agents: each binds its client to its own task, so the one
    that ends first ends alone."""
    clock = ta.VirtualClock(autojump=True)
    with ta.Server(clock=clock) as server:
        short, long = Env(server, name="short"), Env(server, name="long")

        async def agent(env: Env, moves: int) -> None:
            task = asyncio.current_task()
            assert task is not None
            env.bind_task(task)
            for dx in range(moves):
                await env.move(dx)

        async def main() -> None:
            await asyncio.gather(agent(short, 1), agent(long, 3))

        server.runner.create_task(main())
        frames = _answer_all(server, 5)
        assert frames == [
            [("short", "Env.move"), ("long", "Env.move")],
            [("long", "Env.move")],
            [("long", "Env.move")],
        ]


def test_bind_task_is_refused_off_the_loop_thread() -> None:
    with ta.Server() as server:
        env = Env(server)

        async def agent() -> asyncio.Task[Any]:
            task = asyncio.current_task()
            assert task is not None
            return task

        task = server.runner.run(agent())
        with pytest.raises(RuntimeError, match="loop thread"):
            env.bind_task(task)


def test_gather_with_a_client_listed_twice_treats_it_as_one() -> None:
    with ta.Server() as server:
        env = Env(server, name="a")

        async def agent() -> None:
            await env.move(1)
            await asyncio.Event().wait()  # alive, never asking again

        server.runner.create_task(agent())
        batch = server.gather([env, env, "a"], timeout=BOUND)
        assert [r.client for r in batch] == ["a"]
        batch[0].answer(0)
        with pytest.raises(ta.EventLoopTimeoutError):
            server.gather([env, "a"], timeout=0.05)  # bounded, not a spin
