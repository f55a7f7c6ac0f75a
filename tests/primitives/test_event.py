"""Event(runner): set / is_set / wait / as_async_event from both sides (SPEC §1)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from threaded_async import AsyncRunner, Event, EventLoopTimeoutError


def test_set_and_is_set_from_a_thread(runner: AsyncRunner) -> None:
    event = Event(runner)
    assert not event.is_set()
    event.set()
    assert event.is_set()
    assert event.wait(0) is True


def test_wait_times_out_when_not_set(runner: AsyncRunner) -> None:
    event = Event(runner)
    with pytest.raises(TimeoutError):
        event.wait(0.01)


def test_set_wakes_a_coroutine_before_is_set_returns(runner: AsyncRunner) -> None:
    event = Event(runner)
    woke: list[str] = []
    parked = threading.Event()

    async def waiter() -> None:
        async_event = event.as_async_event()
        parked.set()
        await async_event.wait()
        woke.append("woke")

    task = runner.create_task(waiter())
    assert parked.wait(10)
    event.set()
    assert event.is_set()
    assert woke == ["woke"]
    task.wait()


def test_coroutine_sets_thread_waits(runner: AsyncRunner) -> None:
    event = Event(runner)

    async def setter() -> None:
        await asyncio.sleep(0)
        event.as_async_event().set()

    runner.create_task(setter())
    assert event.wait(10) is True
    assert event.is_set()


def test_as_async_event_is_an_asyncio_event(runner: AsyncRunner) -> None:
    event = Event(runner)

    async def kind() -> bool:
        async_event = event.as_async_event()
        return asyncio.Event in type(async_event).__mro__ and async_event is event.as_async_event()

    assert runner.run(kind())


def test_wait_none_blocks_until_set(runner: AsyncRunner) -> None:
    event = Event(runner)
    threading.Timer(0.01, event.set).start()
    assert event.wait(None) is True


def test_timeout_error_type(runner: AsyncRunner) -> None:
    with pytest.raises(EventLoopTimeoutError):
        Event(runner).wait(0)


def test_an_event_without_a_runner_answers_is_set_right_after_set() -> None:
    """Bound to a loop by a waiting coroutine but given no runner: set() from a thread
    must not leave is_set() answering False (there is no runner to bound a wait on that
    loop, so set() applies the flag at once and the coroutine catches up)."""
    with AsyncRunner() as runner:
        for _ in range(20):
            event = Event()  # no runner
            woke = threading.Event()

            async def waiter(e: Event = event, w: threading.Event = woke) -> None:
                await e.as_async_event().wait()
                w.set()

            runner.create_task(waiter())
            runner.wait_until_idle(10)
            event.set()
            assert event.is_set()
            assert event.is_set_nowait()
            assert woke.wait(10)
            event.clear()
            assert not event.is_set()
