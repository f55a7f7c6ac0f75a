"""uvloop as the runner's loop: explicit ``loop_factory``, and the suite-wide ``--loop`` option."""

from __future__ import annotations

import asyncio
import threading

import pytest
import uvloop

import threaded_async as ta


def test_default_loop_follows_the_loop_option(request: pytest.FixtureRequest) -> None:
    expected = (
        uvloop.Loop if request.config.getoption("--loop") == "uvloop" else ta.SteppingEventLoop
    )
    with ta.AsyncRunner() as runner:
        assert isinstance(runner.loop, expected)


def test_a_virtual_clock_always_gets_the_stepping_loop() -> None:
    # Even under --loop=uvloop: virtual time needs the stdlib loop's hook.
    with ta.AsyncRunner(clock=ta.VirtualClock()) as runner:
        assert isinstance(runner.loop, ta.SteppingEventLoop)


def test_runner_and_primitives_on_an_explicit_uvloop() -> None:
    with ta.AsyncRunner(loop_factory=uvloop.new_event_loop, call_in_loop_timeout=10.0) as runner:
        assert isinstance(runner.loop, uvloop.Loop)
        queue: ta.Queue[int] = ta.Queue(runner)
        done = ta.Event(runner)
        total: ta.Future[int] = ta.Future(runner)

        async def consume() -> None:
            acc = 0
            for _ in range(1000):
                acc += await queue.get()
            total.set_result(acc)
            await done.wait_async()

        task = runner.create_task(consume())

        def produce(start: int) -> None:
            for n in range(start, 1000, 4):
                queue.put_wait(n, 10.0)

        producers = [threading.Thread(target=produce, args=(k,)) for k in range(4)]
        for thread in producers:
            thread.start()
        for thread in producers:
            thread.join(10.0)
        assert total.result_wait(10.0) == sum(range(1000))
        done.set()
        task.wait(10.0)
        assert runner.run(asyncio.sleep(0, "slept")) == "slept"


def _double(n: int) -> int:
    raise AssertionError("a stub: the host answers it")


def _twice(n: int) -> int:
    return 2 * n


def test_control_inversion_on_uvloop_answers_every_request() -> None:
    runner = ta.AsyncRunner(loop_factory=uvloop.new_event_loop, call_in_loop_timeout=10.0)
    with ta.Server(runner=runner, handlers={_double: _twice}) as server:
        assert isinstance(server.runner.loop, uvloop.Loop)
        client = server.create_client()

        async def script() -> list[int]:
            return [await client.execute(_double, n) for n in range(5)]

        task = server.create_background_task(script())
        answered = 0
        for _ in range(10_000):  # bound: a broken fallback must fail, not spin forever
            if task.done():
                break
            if server.process():
                answered += 1
        assert task.wait(10.0) == [0, 2, 4, 6, 8]
        assert answered == 5
