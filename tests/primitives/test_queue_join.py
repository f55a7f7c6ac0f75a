"""task_done() / join() / join_wait() / unfinished_tasks on both faces, as the stdlib
queues have them; the stdlib-like constructor; timeouts validated before anything else."""

from __future__ import annotations

import asyncio
import threading

import pytest

import threaded_async as ta

QUEUE_TYPES = [ta.Queue, ta.LifoQueue, ta.PriorityQueue]


@pytest.mark.parametrize("kind", QUEUE_TYPES)
def test_join_wait_returns_once_every_item_is_done(
    runner: ta.AsyncRunner, kind: type[ta.Queue[int]]
) -> None:
    queue: ta.Queue[int] = kind(runner)
    for n in range(3):
        queue.put_nowait(n)
    assert queue.unfinished_tasks == 3
    finished = threading.Event()

    def joiner() -> None:
        queue.join_wait(10)
        finished.set()

    thread = threading.Thread(target=joiner)
    thread.start()
    for _ in range(3):
        queue.get_nowait()
    assert queue.unfinished_tasks == 3  # taken is not done
    queue.task_done()
    queue.task_done()
    assert not finished.wait(0.05)
    queue.task_done()
    assert finished.wait(10)
    thread.join(10)
    assert queue.unfinished_tasks == 0


@pytest.mark.parametrize("kind", QUEUE_TYPES)
def test_await_join_on_the_loop_with_a_worker_coroutine(
    runner: ta.AsyncRunner, kind: type[ta.Queue[int]]
) -> None:
    queue: ta.Queue[int] = kind(runner)
    seen: list[int] = []

    async def worker() -> None:
        while True:
            item = await queue.get()
            seen.append(item)
            queue.task_done()

    async def main() -> None:
        task = asyncio.create_task(worker())
        for n in range(5):
            await queue.put(n)
        await queue.join()
        task.cancel()

    runner.run(main(), 10)
    assert sorted(seen) == [0, 1, 2, 3, 4]


def test_join_from_another_loop_and_task_done_from_a_thread(runner: ta.AsyncRunner) -> None:
    queue: ta.Queue[str] = ta.Queue(runner)
    queue.put_nowait("work")

    async def other_loop() -> str:
        joined = asyncio.ensure_future(queue.join())
        await asyncio.sleep(0)
        assert not joined.done()
        threading.Thread(target=lambda: (queue.get_wait(10), queue.task_done())).start()
        await asyncio.wait_for(joined, 10)
        return "joined"

    assert asyncio.run(other_loop()) == "joined"


def test_join_returns_at_once_with_nothing_unfinished(runner: ta.AsyncRunner) -> None:
    queue: ta.Queue[int] = ta.Queue(runner)
    queue.join_wait(0)
    runner.run(queue.join(), 10)


def test_task_done_too_many_times_is_a_value_error(runner: ta.AsyncRunner) -> None:
    queue: ta.Queue[int] = ta.Queue(runner)
    with pytest.raises(ValueError, match="too many times"):
        queue.task_done()
    queue.put_nowait(1)
    queue.get_nowait()
    queue.task_done()
    with pytest.raises(ValueError, match="too many times"):
        queue.task_done()


def test_join_wait_times_out(runner: ta.AsyncRunner) -> None:
    queue: ta.Queue[int] = ta.Queue(runner)
    queue.put_nowait(1)
    with pytest.raises(ta.EventLoopTimeoutError):
        queue.join_wait(0.01)


def test_join_wait_on_the_loop_thread_is_refused(runner: ta.AsyncRunner) -> None:
    queue: ta.Queue[int] = ta.Queue(runner)
    queue.put_nowait(1)
    with pytest.raises(RuntimeError, match=r"await queue\.join"):
        runner.call_in_loop(lambda: queue.join_wait(1))


@pytest.mark.parametrize("kind", QUEUE_TYPES)
def test_shutdown_immediate_settles_the_count_and_wakes_joiners(
    runner: ta.AsyncRunner, kind: type[ta.Queue[int]]
) -> None:
    queue: ta.Queue[int] = kind(runner)
    for n in range(4):
        queue.put_nowait(n)
    queue.get_nowait()  # taken, not done: still unfinished after the shutdown
    done = threading.Event()

    def joiner() -> None:
        queue.join_wait(10)
        done.set()

    thread = threading.Thread(target=joiner)
    thread.start()
    queue.shutdown(immediate=True)
    assert queue.unfinished_tasks == 1
    assert queue.qsize() == 0
    assert not done.wait(0.05)
    queue.task_done()
    assert done.wait(10)
    thread.join(10)


def test_joiners_wake_when_the_runner_closes() -> None:
    runner = ta.AsyncRunner()
    runner.start()
    queue: ta.Queue[int] = ta.Queue(runner)
    queue.put_nowait(1)
    errors: list[BaseException] = []
    parked = threading.Event()

    def joiner() -> None:
        parked.set()
        try:
            queue.join_wait(None)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=joiner)
    thread.start()
    parked.wait(10)
    while not runner.statistics().parked_threads:
        thread.join(0.001)
    runner.stop()
    thread.join(10)
    assert not thread.is_alive()
    assert len(errors) == 1
    assert isinstance(errors[0], ta.RunnerClosedError)


def test_a_coroutine_joiner_on_another_loop_wakes_when_the_runner_closes() -> None:
    runner = ta.AsyncRunner()
    runner.start()
    queue: ta.Queue[int] = ta.Queue(runner)
    queue.put_nowait(1)

    async def other() -> BaseException | None:
        joined = asyncio.ensure_future(queue.join())
        await asyncio.sleep(0)
        await asyncio.get_running_loop().run_in_executor(None, runner.stop)
        try:
            await asyncio.wait_for(joined, 10)
        except BaseException as exc:
            return exc
        return None

    error = asyncio.run(other())
    assert isinstance(error, ta.RunnerClosedError)


def test_float_and_negative_maxsize_as_the_stdlib() -> None:
    queue: ta.Queue[int] = ta.Queue(maxsize=1.3)
    assert queue.maxsize == 1.3
    queue.put_nowait(1)
    assert not queue.full()
    queue.put_nowait(2)
    assert queue.full()
    with pytest.raises(ta.QueueFull):
        queue.put_nowait(3)
    unbounded: ta.Queue[int] = ta.Queue(maxsize=-5)
    assert unbounded.maxsize == -5
    for n in range(100):
        unbounded.put_nowait(n)
    assert not unbounded.full()
    with pytest.raises(ValueError, match="NaN"):
        ta.Queue(maxsize=float("nan"))


def test_timeouts_are_validated_even_when_the_call_need_not_wait(
    runner: ta.AsyncRunner,
) -> None:
    queue: ta.Queue[int] = ta.Queue(runner)
    with pytest.raises(ValueError, match="timeout"):
        queue.put_wait(1, timeout=-2)
    assert queue.qsize() == 0
    queue.put_nowait(1)
    with pytest.raises(TypeError, match="timeout"):
        queue.get_wait(timeout="abc")  # type: ignore[arg-type]
    assert queue.qsize() == 1
    with pytest.raises(ValueError, match="timeout"):
        queue.join_wait(-3)
    assert queue.get_wait(timeout=0) == 1


def test_an_executor_thread_blocked_on_the_runners_queue_does_not_hold_the_exit() -> None:
    """A default-executor job parked in get_wait() on the runner's own queue is woken
    (RunnerClosedError) before the exit waits for the executor: a clean STOPPED exit."""
    runner = ta.AsyncRunner(exit_timeout=5)
    runner.start()
    queue: ta.Queue[int] = ta.Queue(runner)
    outcome: list[BaseException] = []

    def job() -> None:
        try:
            queue.get_wait(None)
        except BaseException as exc:
            outcome.append(exc)

    runner.call_in_loop(lambda: asyncio.get_running_loop().run_in_executor(None, job))
    while not runner.statistics().parked_threads:
        threading.Event().wait(0.001)
    runner.stop()
    assert runner.shutdown_type == ta.ShutdownType.STOPPED
    assert len(outcome) == 1
    assert isinstance(outcome[0], ta.RunnerClosedError)
