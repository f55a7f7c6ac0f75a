"""Inline stepping (SPEC §5): ``AsyncRunner(inline=True)`` and ``Server(inline=True)`` run
the loop on the thread that started them, while that thread waits in a blocking call."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import AsyncIterator

import pytest

import threaded_async as ta
from tests._support import wait_for
from threaded_async import AsyncRunner, EventLoopTimeoutError


def _loop_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("threaded_async-")]


def test_the_loop_runs_on_the_owner_thread_and_no_loop_thread_starts() -> None:
    before = _loop_threads()
    owner = threading.get_ident()
    with AsyncRunner(inline=True, call_in_loop_timeout=10) as runner:
        assert runner.inline
        assert _loop_threads() == before

        async def where() -> int:
            await asyncio.sleep(0)
            return threading.get_ident()

        assert runner.run(where()) == owner
        assert runner.call_in_loop(threading.get_ident) == owner
        assert runner.submit(where()).result(5) == owner
        assert runner.create_task(where()).wait(5) == owner
        assert not runner.in_runner_loop  # (only while it runs the loop)
        assert runner.run(_in_runner_loop(runner))
    assert runner.shutdown_type == ta.ShutdownType.STOPPED
    assert not runner.is_running


async def _in_runner_loop(runner: AsyncRunner) -> bool:
    return runner.in_runner_loop


def test_the_loop_runs_only_while_the_owner_waits() -> None:
    ran: list[str] = []
    with AsyncRunner(inline=True, call_in_loop_timeout=10) as runner:

        async def note() -> None:
            ran.append("started")  # (3.12+: at once, in create_task's own wait)
            await asyncio.sleep(0)
            ran.append("task")

        runner.create_task(note())
        time.sleep(0.02)  # the owner does its own work: the loop does not run
        assert "task" not in ran
        runner.wait_for_next_eventloop_iteration()
        runner.wait_for_next_eventloop_iteration()
        assert ran == ["started", "task"]


def test_real_timers_executor_jobs_and_timeouts() -> None:
    with AsyncRunner(inline=True, call_in_loop_timeout=10) as runner:
        start = time.monotonic()
        runner.run(asyncio.sleep(0.05))
        assert time.monotonic() - start >= 0.05
        assert runner.run(asyncio.to_thread(lambda: threading.get_ident())) != threading.get_ident()
        start = time.monotonic()
        with pytest.raises(EventLoopTimeoutError):
            runner.run(asyncio.sleep(30), timeout=0.05)
        assert time.monotonic() - start < 5


def test_another_thread_wakes_the_waiting_owner() -> None:
    with AsyncRunner(inline=True, call_in_loop_timeout=10) as runner:
        queue = ta.Queue[int](runner)
        got = runner.create_task(queue.get())

        def put_later() -> None:
            wait_for(lambda: runner.statistics().parked_threads > 0, "the owner to wait")
            queue.put_nowait(7)

        helper = threading.Thread(target=put_later)
        helper.start()
        assert got.wait(10) == 7  # the owner ran the loop; the put woke it
        helper.join(10)


def test_other_threads_calls_run_while_the_owner_waits() -> None:
    with AsyncRunner(inline=True, call_in_loop_timeout=10) as runner:
        results: list[int] = []

        async def double(x: int) -> int:
            return 2 * x

        def other() -> None:
            results.append(runner.run(double(21), timeout=10))

        helper = threading.Thread(target=other)
        helper.start()
        # The owner waits (and so runs the loop) until the other thread got its answer.
        deadline = time.monotonic() + 10
        while helper.is_alive() and time.monotonic() < deadline:
            runner.run(asyncio.sleep(0.001))
        helper.join(10)
        assert results == [42]


def test_virtual_time_advance_and_idle_waits() -> None:
    clock = ta.VirtualClock()
    with AsyncRunner(inline=True, clock=clock, call_in_loop_timeout=10) as runner:
        woke: list[float] = []

        async def sleeper() -> None:
            for _ in range(3):
                await asyncio.sleep(2)
                woke.append(clock.time())

        task = runner.create_task(sleeper())
        runner.wait_until_idle()
        assert woke == []
        clock.advance(5)
        assert woke == [2.0, 4.0]
        clock.advance(1)
        task.wait(5)
        assert woke == [2.0, 4.0, 6.0]


def test_autojump_stops_when_the_owners_wait_is_over() -> None:
    # A ticker that never ends keeps the virtual-time loop jumping from timer to timer:
    # driven inline, the owner's wait still ends when its own result is ready, at the
    # virtual time it was ready, and its timeout still counts.
    clock = ta.VirtualClock(autojump=True)
    with AsyncRunner(inline=True, clock=clock, call_in_loop_timeout=10) as runner:
        ticks: list[float] = []

        async def ticker() -> None:
            while True:
                await asyncio.sleep(1)
                ticks.append(clock.time())

        async def later() -> float:
            await asyncio.sleep(5.5)
            return clock.time()

        runner.create_task(ticker())
        assert runner.run(later(), timeout=10) == 5.5
        assert ticks == [1.0, 2.0, 3.0, 4.0, 5.0]
        assert clock.time() == 5.5
        assert type(runner.loop).__name__ == "VirtualTimeLoop"
        never = runner.create_task(asyncio.Event().wait())
        with pytest.raises(TimeoutError):
            never.wait(0.05)  # real time passes while the ticker jumps on
        assert clock.time() > 5.5


def test_a_blocking_call_from_the_loop_itself_is_refused() -> None:
    with AsyncRunner(inline=True, call_in_loop_timeout=10) as runner:

        async def blocks() -> None:
            runner.run(asyncio.sleep(0))

        with pytest.raises(RuntimeError, match="deadlock"):
            runner.run(blocks())

        async def stops() -> None:
            runner.stop()

        with pytest.raises(RuntimeError, match="loop thread"):
            runner.run(stops())


def test_misuse_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="default loop"):
        AsyncRunner(inline=True, loop_factory=asyncio.new_event_loop)
    with AsyncRunner(inline=True) as runner:
        errors: list[BaseException] = []

        def stop_elsewhere() -> None:
            try:
                runner.stop()
            except RuntimeError as exc:
                errors.append(exc)

        helper = threading.Thread(target=stop_elsewhere)
        helper.start()
        helper.join(10)
        assert len(errors) == 1
        assert "thread that started it" in str(errors[0])
        assert runner.is_running
        with pytest.raises(RuntimeError, match="only its stop"):
            runner.wait_closed(1)

    async def enter() -> None:
        async with AsyncRunner(inline=True):
            pass

    with pytest.raises(RuntimeError, match="inline"):
        asyncio.run(enter())
    with pytest.raises(ValueError, match="inline"):
        ta.Server(runner=AsyncRunner(), inline=True)


def test_stop_cancels_the_tasks_and_closes_async_generators() -> None:
    hooks_before = sys.get_asyncgen_hooks()
    cleaned: list[str] = []

    async def numbers() -> AsyncIterator[int]:
        try:
            for i in range(10):
                yield i
                await asyncio.sleep(0)
        finally:
            cleaned.append("generator")

    async def forever() -> None:
        try:
            async for _ in numbers():
                await asyncio.sleep(3600)
        finally:
            cleaned.append("task")

    with AsyncRunner(inline=True, call_in_loop_timeout=10) as runner:
        runner.create_task(forever())
        runner.wait_until_idle()
        assert cleaned == []
    assert sorted(cleaned) == ["generator", "task"]
    assert runner.shutdown_type == ta.ShutdownType.STOPPED
    # The thread's own async generator hooks are back.
    assert sys.get_asyncgen_hooks() == hooks_before


def test_keyboard_interrupt_in_a_callback_reaches_the_owner_and_the_runner_goes_on() -> None:
    with AsyncRunner(inline=True, call_in_loop_timeout=10) as runner:

        def interrupt() -> None:
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            runner.call_in_loop(interrupt)
        assert runner.run(asyncio.sleep(0, "still fine")) == "still fine"


def test_a_closed_inline_runner_refuses_and_wakes() -> None:
    runner = AsyncRunner(inline=True)
    runner.start()
    runner.stop()
    with pytest.raises(ta.RunnerClosedError):
        runner.run(asyncio.sleep(0))
    runner.stop()  # idempotent


class Walker(ta.Client):
    @ta.request
    async def move(self, dx: int) -> int: ...


def _walk(inline: bool) -> ta.Trace:
    """Two agents on virtual time, one spawning a helper: the host answers in lockstep."""
    clock = ta.VirtualClock(autojump=True)
    with ta.Server(clock=clock, record_trace=True, inline=inline) as server:
        a, b = Walker(server, name="a"), Walker(server, name="b")
        position = {"a": 0, "b": 0}

        async def agent(me: Walker, pause: float) -> None:
            async def helper() -> None:
                await asyncio.sleep(pause / 2)
                await me.move(100)

            spawned = asyncio.create_task(helper())
            for _ in range(4):
                await asyncio.sleep(pause)
                await me.move(1)
            await spawned

        tasks = [server.runner.create_task(agent(a, 1.0)), server.runner.create_task(agent(b, 1.5))]
        while batch := server.gather([a, b], timeout=10):
            for req in batch:
                name = str(req.client)
                position[name] += req.args[0]
                req.answer(position[name])
        for task in tasks:
            task.wait(10)
        return server.trace


def test_inline_and_threaded_servers_record_the_same_trace() -> None:
    threaded = _walk(inline=False)
    inline = _walk(inline=True)
    assert len(threaded) == 10
    assert inline == threaded
    assert inline.digest() == threaded.digest()
