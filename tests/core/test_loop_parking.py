"""How SteppingEventLoop sleeps: on a lock when only its self-pipe is watched, in select
otherwise; a wake-up from another thread must reach it in either mode, and a coroutine woken
from a thread must resume without an extra loop iteration."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading

import pytest

import threaded_async as ta
from threaded_async._core import ThreadWaiter

BOUND = 10.0

pytestmark = pytest.mark.stdlib_loop  # these tests are about SteppingEventLoop itself


def _stepping(runner: ta.AsyncRunner) -> ta.SteppingEventLoop:
    loop = runner.call_in_loop(asyncio.get_running_loop)
    assert isinstance(loop, ta.SteppingEventLoop)
    return loop


def _wait_until_parked(loop: ta.SteppingEventLoop) -> None:
    """Until the loop is idle: it has chosen how to sleep and is about to (or does) sleep."""
    waiter = ThreadWaiter()
    loop.add_idle_waiter(waiter, None)
    assert waiter.park(BOUND), "the loop never went idle"


def test_a_loop_watching_only_its_self_pipe_sleeps_on_the_lock_and_wakes() -> None:
    with ta.AsyncRunner() as runner:
        loop = _stepping(runner)
        queue: ta.Queue[int] = ta.Queue(runner)
        task = runner.create_task(queue.get())
        _wait_until_parked(loop)
        assert loop._park_on_lock  # pyright: ignore[reportPrivateUsage]
        queue.put_nowait(7)
        assert task.wait(BOUND) == 7


def test_a_loop_with_a_socket_sleeps_in_select_and_wakes_for_both() -> None:
    """With a reader registered the loop must sleep in select (the socket can wake it), and
    a wake-up from a thread must then go through the self-pipe."""
    left, right = socket.socketpair()
    try:
        with ta.AsyncRunner() as runner:
            loop = _stepping(runner)
            received = ta.Queue[bytes](runner)
            queue: ta.Queue[int] = ta.Queue(runner)

            def on_readable() -> None:
                received.put_nowait(right.recv(16))

            runner.call_in_loop(lambda: loop.add_reader(right.fileno(), on_readable))
            try:
                task = runner.create_task(queue.get())
                _wait_until_parked(loop)
                assert not loop._park_on_lock  # pyright: ignore[reportPrivateUsage]
                queue.put_nowait(1)  # a thread's wake-up, through the self-pipe
                assert task.wait(BOUND) == 1
                _wait_until_parked(loop)
                left.send(b"ping")  # the socket's own wake-up
                assert received.get_wait(BOUND) == b"ping"
            finally:
                runner.call_in_loop(lambda: loop.remove_reader(right.fileno()))
            # Back to a self-pipe-only loop: it parks on the lock again and still wakes.
            task = runner.create_task(queue.get())
            _wait_until_parked(loop)
            assert loop._park_on_lock  # pyright: ignore[reportPrivateUsage]
            queue.put_nowait(2)
            assert task.wait(BOUND) == 2
    finally:
        left.close()
        right.close()


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="needs SIGUSR1 (POSIX)")
def test_a_loop_with_signal_handlers_sleeps_in_select_so_signals_wake_it() -> None:
    """asyncio delivers a signal by writing its number to the self-pipe: a loop parked on
    the lock would never see it. Runs on the main thread, where signal handlers live."""
    assert threading.current_thread() is threading.main_thread()

    async def main() -> int:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, ta.SteppingEventLoop)
        got: asyncio.Future[int] = loop.create_future()
        loop.add_signal_handler(signal.SIGUSR1, lambda: got.set_result(signal.SIGUSR1))
        try:
            sender = threading.Thread(
                target=lambda: (_wait_until_parked(loop), os.kill(os.getpid(), signal.SIGUSR1))
            )
            sender.start()
            try:
                number = await asyncio.wait_for(got, BOUND)
            finally:
                sender.join(BOUND)
            assert not loop._park_on_lock  # pyright: ignore[reportPrivateUsage]
            return number
        finally:
            loop.remove_signal_handler(signal.SIGUSR1)

    with asyncio.Runner(loop_factory=ta.SteppingEventLoop) as runner:
        assert runner.run(main()) == signal.SIGUSR1


def test_a_coroutine_woken_from_a_thread_runs_in_the_next_iteration() -> None:
    """resolve_threadsafe sets the loop future at once: the awaiting task runs in the
    iteration the wake-up ends, not one later (the extra hop call_soon_threadsafe costs).
    The loop counts an iteration when it is about to sleep."""
    with ta.AsyncRunner() as runner:
        loop = _stepping(runner)
        queue: ta.Queue[int] = ta.Queue(runner)
        iterations: list[int] = []

        async def consumer() -> int:
            item = await queue.get()
            iterations.append(loop._iteration)  # pyright: ignore[reportPrivateUsage]
            return item

        task = runner.create_task(consumer())
        _wait_until_parked(loop)
        before = loop._iteration  # pyright: ignore[reportPrivateUsage]
        queue.put_nowait(5)
        assert task.wait(BOUND) == 5
        assert iterations == [before]


def test_waking_a_waiter_of_a_closed_loop_is_a_no_op() -> None:
    with ta.AsyncRunner() as runner:
        queue: ta.Queue[int] = ta.Queue(runner)
        task = runner.create_task(queue.get())
        _wait_until_parked(_stepping(runner))
    with pytest.raises(asyncio.CancelledError):
        task.wait(BOUND)
    # The cancelled getter left the queue; a later put has nobody to wake and must not fail
    # on the closed loop (it raises RunnerClosedError for the closed runner instead).
    with pytest.raises(ta.RunnerClosedError):
        queue.put_nowait(1)


def test_resolve_threadsafe_ignores_a_future_that_is_already_done() -> None:
    with ta.AsyncRunner() as runner:
        loop = _stepping(runner)

        def make() -> asyncio.Future[None]:
            fut: asyncio.Future[None] = loop.create_future()
            fut.cancel()
            return fut

        fut = runner.call_in_loop(make)
        loop.resolve_threadsafe(fut)  # from this thread: no InvalidStateError
        assert fut.cancelled()


def test_iterations_with_and_without_timers_run_callbacks_timers_and_io_in_order() -> None:
    # The loop's iteration has a lean path when no timer is scheduled and asyncio's own
    # otherwise; a run that switches between them must keep FIFO order, fire timers and
    # deliver socket readiness.
    async def scenario() -> list[str]:
        loop = asyncio.get_running_loop()
        order: list[str] = []
        for i in range(3):
            loop.call_soon(order.append, f"soon{i}")
        await asyncio.sleep(0)
        fired = asyncio.Event()
        loop.call_later(0.01, lambda: (order.append("timer"), fired.set()))
        loop.call_soon(order.append, "after-timer-scheduled")
        await asyncio.wait_for(fired.wait(), BOUND)
        a, b = socket.socketpair()
        try:
            readable = asyncio.Event()
            loop.add_reader(a, readable.set)
            b.send(b"x")
            await asyncio.wait_for(readable.wait(), BOUND)
            loop.remove_reader(a)
            order.append("io")
        finally:
            a.close()
            b.close()
        return order

    with ta.AsyncRunner() as runner:
        order = runner.run(scenario(), BOUND)
    assert order == ["soon0", "soon1", "soon2", "after-timer-scheduled", "timer", "io"]


def test_a_catch_up_registered_after_queueing_work_is_not_released_before_that_work_runs() -> None:
    # The race: the loop looks at _ready (empty) and decides it is idle; a host thread then
    # queues an answer and registers its catch-up; the loop, still in the same hook, must
    # not release that catch-up, since the answer has not run yet. Replayed step by step on
    # a loop that is not running, in the order the two threads would interleave.
    loop = ta.SteppingEventLoop()
    try:
        loop._idle_now = True  # the loop's hook found nothing ready  # pyright: ignore[reportPrivateUsage]
        loop.call_soon(lambda: None)  # the host queues work (an answer's wake-up)
        waiter = ThreadWaiter()
        loop.add_idle_waiter(waiter, 1000)  # ...and registers its bounded catch-up
        loop._release_iteration_waiters()  # the hook goes on  # pyright: ignore[reportPrivateUsage]
        assert not waiter.park(0), "released while the queued work had not run"
        loop._ready.clear()  # the work ran; the next idle point releases it  # pyright: ignore[reportPrivateUsage]
        loop._release_iteration_waiters()  # pyright: ignore[reportPrivateUsage]
        assert waiter.park(0)
    finally:
        loop.close()
