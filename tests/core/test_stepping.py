"""Quiescence: process() sees every request a stepped client makes, wait_until_idle, fallbacks."""

from __future__ import annotations

import asyncio
import threading

import pytest

import threaded_async as ta


class Stub(ta.Client):
    async def increment(self, n: int) -> int:
        return await self.execute(Stub.increment, n)


def _plus_one(n: int) -> int:
    return n + 1


def _times_ten(n: int) -> int:
    return n * 10


def _server() -> ta.Server:
    server = ta.Server(handlers={Stub.increment: _plus_one})
    server.event_loop_timeout = 10.0
    return server


async def _subtask(depth: int) -> int:
    await asyncio.sleep(0)
    if depth:
        return await _subtask(depth - 1) + 1
    return 0


def test_hundred_steps_with_sleeps_and_subtasks_never_give_a_spurious_false() -> None:
    async def client(stub: Stub) -> int:
        total = 0
        for i in range(100):
            total += await stub.increment(i)
            for _ in range(5):
                await asyncio.sleep(0)
            total += await asyncio.create_task(_subtask(3))
        return total

    with _server() as server:
        task = server.create_background_task(client(Stub(server)))
        answered = [server.process() for _ in range(100)]
        assert answered == [True] * 100
        assert server.process() is False
        assert task.wait(10) == sum(range(1, 101)) + 100 * 3


def test_gathered_subtasks_and_hops_are_seen_by_the_next_process() -> None:
    async def hop(stub: Stub, n: int) -> int:
        await asyncio.sleep(0)
        return await stub.increment(n)

    async def client(stub: Stub) -> list[int]:
        results: list[int] = []
        for round_ in range(20):
            await asyncio.gather(_subtask(2), _subtask(4))
            results.append(await hop(stub, round_))
        return results

    with _server() as server:
        task = server.create_background_task(client(Stub(server)))
        for _ in range(20):
            assert server.process()
        assert not server.process()
        assert task.wait(10) == list(range(1, 21))


def test_process_answers_queued_requests_oldest_first() -> None:
    order: list[str] = []

    async def client(stub: Stub, name: str, n: int) -> None:
        order.append(f"{name} got {await stub.increment(n)}")

    with _server() as server:
        for name, n in (("a", 1), ("b", 2), ("c", 3)):
            server.create_background_task(client(Stub(server), name, n))
        assert [r.args for r in server.pending] == [(1,), (2,), (3,)]
        assert server.process()  # more are queued: no catch-up, the host drains fast
        server.runner.wait_until_idle()
        assert order == ["a got 2"]
        assert server.process_all() == 2
        assert order == ["a got 2", "b got 3", "c got 4"]
        assert server.pending == []


def test_create_background_task_returns_with_the_first_request_queued() -> None:
    async def client(stub: Stub) -> int:
        await asyncio.gather(*(_subtask(3) for _ in range(5)))
        return await stub.increment(41)

    with _server() as server:
        task = server.create_background_task(client(Stub(server)))
        assert [r.name for r in server.pending] == ["Stub.increment"]
        assert server.process()
        assert task.done()
        assert task.wait(0) == 42


@pytest.mark.stdlib_loop  # uvloop: idle is approximated by 16 hops, fewer than the chain
def test_wait_until_idle_returns_once_every_runnable_task_has_run(
    runner: ta.AsyncRunner,
) -> None:
    log: list[int] = []

    async def chain(n: int) -> None:
        for i in range(n):
            await asyncio.sleep(0)
            log.append(i)

    runner.call_soon(lambda: asyncio.ensure_future(chain(50)))
    runner.wait_until_idle()
    assert log == list(range(50))


@pytest.mark.stdlib_loop  # uvloop: exit catch-up is 16 hops, fewer than the 20 steps here
def test_runner_exit_lets_the_loop_go_idle_before_cancelling() -> None:
    reached: list[str] = []

    async def worker() -> None:
        for _ in range(20):
            await asyncio.sleep(0)
        reached.append("end of the runnable part")
        await asyncio.Event().wait()

    with ta.AsyncRunner() as runner:
        runner.call_soon(lambda: asyncio.ensure_future(worker()))
    assert reached == ["end of the runnable part"]


@pytest.mark.stdlib_loop  # uvloop: no idle hook, so a never-idle loop is not detected
def test_wait_until_idle_times_out_on_a_loop_that_never_idles_while_process_falls_back() -> None:
    stop = threading.Event()

    async def poller() -> None:
        while not stop.is_set():
            await asyncio.sleep(0)

    async def client(stub: Stub) -> int:
        return await stub.increment(1)

    with _server() as server:
        polling = server.create_background_task(poller())  # returns after a bounded wait
        assert not polling.done()
        with pytest.raises(ta.EventLoopTimeoutError, match="idle"):
            server.runner.wait_until_idle(timeout=0.2)
        assert server.process() is False  # bounded catch-up, no hang, no timeout
        task = server.create_background_task(client(Stub(server)))
        assert server.process() is True
        assert task.wait(10) == 2
        stop.set()
        polling.wait(10)


def test_wait_until_idle_on_the_loop_thread_raises(runner: ta.AsyncRunner) -> None:
    def inside() -> None:
        runner.wait_until_idle()

    with pytest.raises(RuntimeError, match="would deadlock"):
        runner.call_in_loop(inside)


def test_wait_until_idle_on_a_stopped_runner_raises() -> None:
    runner = ta.AsyncRunner()
    with pytest.raises(ta.RunnerClosedError):
        runner.wait_until_idle()


def test_foreign_loop_falls_back_to_a_bounded_catch_up() -> None:
    log: list[int] = []

    async def chain() -> None:
        for i in range(3):
            await asyncio.sleep(0)
            log.append(i)

    with ta.AsyncRunner(loop_factory=asyncio.new_event_loop, call_in_loop_timeout=10) as runner:
        runner.call_soon(lambda: asyncio.ensure_future(chain()))
        runner.wait_until_idle()  # approximated by a fixed number of loop rounds
        assert log == [0, 1, 2]


def test_process_on_a_foreign_loop_still_answers_requests() -> None:
    runner = ta.AsyncRunner(loop_factory=asyncio.new_event_loop, call_in_loop_timeout=10)
    server = ta.Server(handlers={Stub.increment: _times_ten}, runner=runner)

    async def client(stub: Stub) -> list[int]:
        return [await stub.increment(i) for i in range(3)]

    with server:
        task = server.create_background_task(client(Stub(server)))
        assert [server.process() for _ in range(3)] == [True, True, True]
        assert task.wait(10) == [0, 10, 20]
