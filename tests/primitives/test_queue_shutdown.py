"""Queue.shutdown with Python 3.13 ``asyncio.Queue.shutdown`` semantics on both faces, the
non-blocking calls from any thread, the dual Empty/Full exceptions, exceptions as items."""

from __future__ import annotations

import asyncio
import queue as stdlib_queue
import threading
from collections.abc import Callable
from typing import cast

import pytest

import threaded_async as ta
from tests._support import wait_for

BOUND = 10.0


class Parked:
    """Threads and coroutines parked on one queue; records what each one got."""

    def __init__(self) -> None:
        self.results: list[tuple[str, object]] = []
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def record(self, who: str, call: Callable[[], object]) -> None:
        try:
            got: object = call()
        except BaseException as exc:
            got = exc
        with self._lock:
            self.results.append((who, got))

    def thread(self, who: str, call: Callable[[], object]) -> None:
        t = threading.Thread(target=self.record, args=(who, call), daemon=True)
        self._threads.append(t)
        t.start()

    def join(self) -> None:
        for t in self._threads:
            t.join(BOUND)
        assert not any(t.is_alive() for t in self._threads), "a thread stayed blocked"


def test_shutdown_wakes_blocked_getters_on_both_faces(runner: ta.AsyncRunner) -> None:
    queue: ta.Queue[int] = ta.Queue(runner)
    parked = Parked()
    parked.thread("thread-1", lambda: queue.get_wait(None))
    parked.thread("thread-2", lambda: queue.get_wait(None))

    async def getter() -> int:
        return await queue.get()

    tasks = [runner.create_task(getter()) for _ in range(2)]
    # A coroutine on a foreign event loop (another thread's asyncio.run) parks too.
    parked.thread("foreign-loop", lambda: asyncio.run(getter()))
    wait_for(lambda: queue.statistics().waiting_getters == 5, "five parked getters")
    queue.shutdown()
    parked.join()
    assert len(parked.results) == 3
    for who, got in parked.results:
        assert isinstance(got, ta.QueueShutDown), (who, got)
    for task in tasks:
        with pytest.raises(ta.QueueShutDown):
            task.wait(BOUND)
    assert queue.statistics().waiting_getters == 0


def test_shutdown_wakes_blocked_putters_on_both_faces(runner: ta.AsyncRunner) -> None:
    queue: ta.Queue[int] = ta.Queue(runner, maxsize=1)
    queue.put_nowait(0)
    parked = Parked()
    parked.thread("thread-1", lambda: queue.put_wait(1, None))
    parked.thread("thread-2", lambda: queue.put_wait(2, None))

    async def putter(item: int) -> None:
        await queue.put(item)

    tasks = [runner.create_task(putter(n)) for n in (3, 4)]
    parked.thread("foreign-loop", lambda: asyncio.run(putter(5)))
    wait_for(lambda: queue.statistics().waiting_putters == 5, "five parked putters")
    queue.shutdown(immediate=False)
    parked.join()
    for who, got in parked.results:
        assert isinstance(got, ta.QueueShutDown), (who, got)
    for task in tasks:
        with pytest.raises(ta.QueueShutDown):
            task.wait(BOUND)
    # Nothing the putters held got in; the item put before shutdown is still delivered.
    assert queue.get_wait(BOUND) == 0
    with pytest.raises(ta.QueueShutDown):
        queue.get_wait(BOUND)


@pytest.mark.parametrize("face", ["thread", "coroutine"])
def test_shutdown_not_immediate_drains_then_raises(runner: ta.AsyncRunner, face: str) -> None:
    queue: ta.Queue[int] = ta.Queue(runner, maxsize=10)
    for n in range(5):
        queue.put_nowait(n)
    queue.shutdown(immediate=False)
    assert queue.is_shutdown()
    assert queue.qsize() == 5
    with pytest.raises(ta.QueueShutDown):
        queue.put_nowait(99)
    with pytest.raises(ta.QueueShutDown):
        queue.put_wait(99, BOUND)

    async def put_async() -> None:
        await queue.put(99)

    with pytest.raises(ta.QueueShutDown):
        runner.run(put_async(), BOUND)

    if face == "thread":
        got = [queue.get_wait(BOUND) for _ in range(3)] + [queue.get_nowait() for _ in range(2)]
        with pytest.raises(ta.QueueShutDown):
            queue.get_wait(BOUND)
        with pytest.raises(ta.QueueShutDown):
            queue.get_nowait()
    else:

        async def drain() -> list[int]:
            items = [await queue.get() for _ in range(5)]
            with pytest.raises(ta.QueueShutDown):
                await queue.get()
            with pytest.raises(ta.QueueShutDown):
                queue.get_nowait()
            return items

        got = runner.run(drain(), BOUND)
    assert got == [0, 1, 2, 3, 4]


def test_shutdown_immediate_empties_the_queue(runner: ta.AsyncRunner) -> None:
    queue: ta.Queue[int] = ta.Queue(runner)
    for n in range(5):
        queue.put_nowait(n)
    queue.shutdown(immediate=True)
    assert queue.qsize() == 0
    assert queue.empty()
    with pytest.raises(ta.QueueShutDown):
        queue.get_nowait()
    with pytest.raises(ta.QueueShutDown):
        queue.get_wait(BOUND)

    async def get() -> int:
        return await queue.get()

    with pytest.raises(ta.QueueShutDown):
        runner.run(get(), BOUND)
    with pytest.raises(ta.QueueShutDown):
        queue.put_nowait(1)


def test_shutdown_returns_at_once_and_is_idempotent(runner: ta.AsyncRunner) -> None:
    queue: ta.Queue[int] = ta.Queue(runner)
    queue.put_nowait(1)
    assert queue.shutdown() is None  # type: ignore[func-returns-value]
    queue.shutdown()
    assert queue.get_nowait() == 1
    queue.shutdown(immediate=True)
    with pytest.raises(ta.QueueShutDown):
        queue.get_nowait()


def test_shutdown_from_the_loop_thread_and_from_a_coroutine(runner: ta.AsyncRunner) -> None:
    queue: ta.Queue[int] = ta.Queue(runner)
    parked = Parked()
    parked.thread("thread", lambda: queue.get_wait(None))
    wait_for(lambda: queue.statistics().waiting_getters == 1, "a parked getter")

    async def shut() -> None:
        queue.shutdown()

    runner.run(shut(), BOUND)
    parked.join()
    assert isinstance(parked.results[0][1], ta.QueueShutDown)


def test_iteration_ends_at_shutdown_after_draining(runner: ta.AsyncRunner) -> None:
    queue: ta.Queue[int] = ta.Queue(runner)
    for n in range(3):
        queue.put_nowait(n)
    queue.shutdown()
    assert list(queue) == [0, 1, 2]

    async_queue: ta.Queue[int] = ta.Queue(runner)

    async def consume() -> list[int]:
        return [item async for item in async_queue]

    task = runner.create_task(consume())
    for n in range(3):
        async_queue.put_wait(n, BOUND)
    async_queue.shutdown()
    assert task.wait(BOUND) == [0, 1, 2]


def test_queue_shutdown_is_exported_and_typed() -> None:
    assert ta.QueueShutDown.__module__.startswith("threaded_async")
    assert issubclass(ta.QueueShutDown, Exception)
    aio_shutdown = getattr(asyncio, "QueueShutDown", None)
    if aio_shutdown is not None:  # Python 3.13+: also the stdlib exceptions
        assert issubclass(ta.QueueShutDown, aio_shutdown)
        assert issubclass(ta.QueueShutDown, stdlib_queue.ShutDown)  # type: ignore[attr-defined]


# -- empty / full --------------------------------------------------------------------------


def test_get_nowait_on_empty_is_both_empty_exceptions(runner: ta.AsyncRunner) -> None:
    queue: ta.Queue[int] = ta.Queue(runner)
    with pytest.raises(stdlib_queue.Empty):
        queue.get_nowait()
    with pytest.raises(asyncio.QueueEmpty):
        queue.get_nowait()
    with pytest.raises(ta.QueueEmpty):
        queue.get_nowait()


def test_put_nowait_on_full_is_both_full_exceptions(runner: ta.AsyncRunner) -> None:
    queue: ta.Queue[int] = ta.Queue(runner, maxsize=1)
    queue.put_nowait(1)
    with pytest.raises(stdlib_queue.Full):
        queue.put_nowait(2)
    with pytest.raises(asyncio.QueueFull):
        queue.put_nowait(2)
    assert queue.full()
    assert queue.qsize() == 1
    assert queue.get_nowait() == 1


def test_nowait_from_every_kind_of_thread(runner: ta.AsyncRunner) -> None:
    """Plain thread, the loop thread (sync callback and coroutine), a foreign loop."""
    queue: ta.Queue[str] = ta.Queue(runner)
    queue.put_nowait("main")

    def on_loop() -> str:
        queue.put_nowait("loop-callback")
        return queue.get_nowait()

    assert runner.call_in_loop(on_loop, BOUND) == "main"

    async def coroutine() -> str:
        queue.put_nowait("loop-coroutine")
        return queue.get_nowait()

    assert runner.run(coroutine(), BOUND) == "loop-callback"
    assert asyncio.run(coroutine()) == "loop-coroutine"  # another loop, this thread
    out: list[str] = []
    t = threading.Thread(target=lambda: out.append(queue.get_nowait()))
    t.start()
    t.join(BOUND)
    assert out == ["loop-coroutine"]
    with pytest.raises(ta.QueueEmpty):
        queue.get_nowait()


def test_put_nowait_wakes_a_parked_coroutine_and_thread(runner: ta.AsyncRunner) -> None:
    queue: ta.Queue[int] = ta.Queue(runner)
    parked = Parked()
    parked.thread("thread", lambda: queue.get_wait(None))

    async def get() -> int:
        return await queue.get()

    task = runner.create_task(get())
    wait_for(lambda: queue.statistics().waiting_getters == 2, "two parked getters")
    queue.put_nowait(1)
    queue.put_nowait(2)
    parked.join()
    got = {task.wait(BOUND), parked.results[0][1]}
    assert got == {1, 2}


# -- exceptions are data --------------------------------------------------------------------


def test_exception_objects_travel_as_plain_items(runner: ta.AsyncRunner) -> None:
    queue: ta.Queue[object] = ta.Queue(runner)
    items: list[object] = [
        ValueError("an item"),
        ta.QueueShutDown("not a real shutdown"),
        asyncio.CancelledError("not a real cancel"),
        KeyboardInterrupt,
        ta.QueueEmpty(),
    ]
    for item in items:
        queue.put_wait(item, BOUND)
    assert queue.get_wait(BOUND) is items[0]

    async def get() -> object:
        return await queue.get()

    assert runner.run(get(), BOUND) is items[1]
    assert queue.get_nowait() is items[2]
    assert queue.get_wait(BOUND) is items[3]
    assert runner.run(get(), BOUND) is items[4]
    assert not queue.is_shutdown()


def test_errors_from_a_waiting_get_carry_no_internal_context(runner: ta.AsyncRunner) -> None:
    """The empty-deque IndexError of the fast path must not show up as the context of
    QueueShutDown (or of a Ctrl-C) raised while waiting."""
    queue: ta.Queue[int] = ta.Queue(runner)
    parked = Parked()
    parked.thread("thread", lambda: queue.get_wait(None))

    async def get() -> int:
        return await queue.get()

    task = runner.create_task(get())
    wait_for(lambda: queue.statistics().waiting_getters == 2, "two parked getters")
    queue.shutdown()
    parked.join()
    from_thread = parked.results[0][1]
    with pytest.raises(ta.QueueShutDown) as info:
        task.wait(BOUND)
    for exc in (from_thread, info.value):
        assert isinstance(exc, ta.QueueShutDown)
        error = cast(BaseException, exc)
        assert not isinstance(error.__context__, IndexError), error.__context__
