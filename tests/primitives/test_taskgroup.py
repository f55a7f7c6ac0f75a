"""TaskGroup: readiness with start()/task_status.started(), cancellation from a thread."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

import threaded_async as ta
from threaded_async import TASK_STATUS_IGNORED, TaskGroup, TaskStatus

WAIT = 10.0


async def forever() -> None:
    await asyncio.Event().wait()


def test_start_returns_the_started_value_and_the_group_waits_for_children() -> None:
    async def server(port: int, *, task_status: TaskStatus[int] = TASK_STATUS_IGNORED) -> str:
        await asyncio.sleep(0)
        task_status.started(port + 1)  # "listening"
        await asyncio.sleep(0)
        return "served"

    async def main() -> tuple[int, list[str]]:
        log: list[str] = []
        async with TaskGroup() as group:
            bound = await group.start(server, 8000)
            log.append("server ready")
            t = group.start_soon(server, 1)  # task_status ignored
            c = group.create_task(asyncio.sleep(0, "plain"))
        log.append(f"{t.result()} {c.result()}")
        return bound, log

    assert asyncio.run(main()) == (8001, ["server ready", "served plain"])


def test_exception_before_started_is_raised_by_start_not_the_group() -> None:
    async def broken(*, task_status: TaskStatus[None]) -> None:
        await asyncio.sleep(0)
        raise OSError("address in use")

    async def main() -> str:
        async with TaskGroup() as group:
            with pytest.raises(OSError, match="address in use"):
                await group.start(broken)
        return "group still fine"

    assert asyncio.run(main()) == "group still fine"


def test_returning_without_started_is_an_error() -> None:
    async def lazy(*, task_status: TaskStatus[None]) -> None:
        await asyncio.sleep(0)

    async def main() -> None:
        async with TaskGroup() as group:
            with pytest.raises(RuntimeError, match="without calling"):
                await group.start(lazy)

    asyncio.run(main())


def test_started_twice_is_an_error() -> None:
    async def twice(*, task_status: TaskStatus[int]) -> None:
        task_status.started(1)
        assert task_status.is_started
        with pytest.raises(RuntimeError, match="already called"):
            task_status.started(2)

    async def main() -> int:
        async with TaskGroup() as group:
            return await group.start(twice)

    assert asyncio.run(main()) == 1


def test_failure_after_started_fails_the_group() -> None:
    async def crashes_later(*, task_status: TaskStatus[None]) -> None:
        task_status.started()
        await asyncio.sleep(0)
        raise ValueError("boom")

    async def main() -> None:
        async with TaskGroup() as group:
            await group.start(crashes_later)
            await forever()  # cancelled by the failing child

    with pytest.raises(ExceptionGroup) as info:
        asyncio.run(main())
    assert info.group_contains(ValueError, match="boom")  # type: ignore[attr-defined]


def test_cancel_from_another_thread_ends_body_and_children(runner: ta.AsyncRunner) -> None:
    group = TaskGroup()
    ready = threading.Event()
    cleaned: list[str] = []

    async def child(name: str, *, task_status: TaskStatus[None]) -> None:
        task_status.started()
        try:
            await forever()
        finally:
            cleaned.append(name)

    async def main() -> tuple[bool, list[str], int]:
        async with group:
            await group.start(child, "a")
            await group.start(child, "b")
            ready.set()
            await forever()
        task = asyncio.current_task()
        assert task is not None
        await asyncio.sleep(0)  # no cancellation leaks past the block
        return group.cancelled_caught, sorted(cleaned), task.cancelling()

    task = runner.create_task(main())
    assert ready.wait(WAIT)
    group.cancel("operator said stop")
    assert task.wait(WAIT) == (True, ["a", "b"], 0)
    assert group.cancel_scope.cancel_reason == "operator said stop"


def test_cancel_while_the_body_waits_for_children(runner: ta.AsyncRunner) -> None:
    group = TaskGroup()
    ready = threading.Event()

    async def main() -> bool:
        async with group:
            group.start_soon(forever)
            ready.set()
        return group.cancelled_caught

    task = runner.create_task(main())
    assert ready.wait(WAIT)
    runner.wait_until_idle()  # the host is now parked in the group's exit
    group.cancel()
    assert task.wait(WAIT) is True


def test_cancel_before_entry_cancels_at_the_first_await() -> None:
    async def main() -> bool:
        group = TaskGroup()
        group.cancel()
        async with group:
            group.start_soon(forever)
            await forever()
        return group.cancelled_caught

    assert asyncio.run(main())


def test_runner_shutdown_is_not_swallowed_by_a_group() -> None:
    ready = threading.Event()

    async def main() -> str:
        async with TaskGroup() as group:
            group.start_soon(forever)
            ready.set()
            await forever()
        return "moved on"

    with ta.AsyncRunner(call_in_loop_timeout=WAIT) as r:
        task = r.create_task(main())
        assert ready.wait(WAIT)
    with pytest.raises(asyncio.CancelledError):
        task.wait(WAIT)


def test_misuse() -> None:
    async def main() -> None:
        group = TaskGroup()
        with pytest.raises(RuntimeError, match="not active"):
            group.start_soon(forever)
        async with group:
            pass
        coro = forever()
        with pytest.raises(RuntimeError, match="not active"):
            group.create_task(coro)
        with pytest.raises(RuntimeError, match="only once"):
            async with group:
                pass
        assert "inactive" in repr(group)

    asyncio.run(main())


def test_start_caller_cancelled_while_waiting_leaves_the_child_running() -> None:
    async def slow_start(gate: asyncio.Event, *, task_status: TaskStatus[str]) -> str:
        await gate.wait()
        task_status.started("late")  # nobody listens any more: ignored
        return "finished"

    async def main() -> Any:
        gate = asyncio.Event()
        async with TaskGroup() as group:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0):
                    await group.start(slow_start, gate)
            gate.set()
        return "ok"

    assert asyncio.run(main()) == "ok"
