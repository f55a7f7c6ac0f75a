"""CancelScope, ScopeGroup, move_on_after / fail_after and checkpoint."""

from __future__ import annotations

import asyncio
import math
import signal
import sys
import threading
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

import threaded_async as ta
from threaded_async import CancelScope, ScopeGroup, checkpoint, fail_after, move_on_after

WAIT = 10.0


def run(fn: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return asyncio.run(fn())


async def forever() -> None:
    await asyncio.Event().wait()


# -- cancelling from another thread --------------------------------------------------------
def test_cancel_from_another_thread_is_caught_at_scope_exit(runner: ta.AsyncRunner) -> None:
    scope = CancelScope()
    inside = threading.Event()

    async def job() -> tuple[bool, int, str]:
        with scope:
            inside.set()
            await forever()
        # the task goes on after the block, with no cancellation left pending
        await asyncio.sleep(0)
        task = asyncio.current_task()
        assert task is not None
        return scope.cancelled_caught, task.cancelling(), "after"

    task = runner.create_task(job())
    assert inside.wait(WAIT)
    scope.cancel("stop it")
    assert task.wait(WAIT) == (True, 0, "after")
    assert scope.cancel_called
    assert scope.cancel_reason == "stop it"
    assert not scope.deadline_exceeded
    assert not scope.active


def test_cancel_before_entry_hits_the_first_await_inside() -> None:
    async def main() -> list[str]:
        seen: list[str] = []
        scope = CancelScope()
        scope.cancel()
        with scope:
            seen.append("body runs up to its first await")
            await asyncio.sleep(0)
            seen.append("never")
        seen.append(f"caught={scope.cancelled_caught}")
        return seen

    assert run(main) == ["body runs up to its first await", "caught=True"]


def test_cancel_after_exit_does_nothing() -> None:
    async def main() -> str:
        scope = CancelScope()
        with scope:
            await asyncio.sleep(0)
        scope.cancel()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return f"{scope.cancel_called} {scope.cancelled_caught}"

    assert run(main) == "True False"


def test_undelivered_cancel_is_retracted_and_never_leaks() -> None:
    async def main() -> tuple[bool, int]:
        scope = CancelScope()
        with scope:
            scope.cancel()  # delivery is scheduled, but the block ends before any await
        await asyncio.sleep(0)  # must not raise
        await asyncio.sleep(0)
        task = asyncio.current_task()
        assert task is not None
        return scope.cancelled_caught, task.cancelling()

    assert run(main) == (False, 0)


def test_cancel_from_thread_racing_the_exit_does_not_leak(runner: ta.AsyncRunner) -> None:
    # Many scopes, each cancelled from this thread while the task may be leaving it.
    async def many(scopes: list[CancelScope], ready: threading.Event) -> int:
        ready.set()
        for scope in scopes:
            with scope:
                await asyncio.sleep(0)
            await asyncio.sleep(0)  # never sees a stray CancelledError
        task = asyncio.current_task()
        assert task is not None
        return task.cancelling()

    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # force thread switches at arbitrary points
    try:
        for _ in range(3):
            scopes = [CancelScope() for _ in range(300)]
            ready = threading.Event()
            task = runner.create_task(many(scopes, ready))
            assert ready.wait(WAIT)
            for scope in scopes:
                scope.cancel()
            assert task.wait(WAIT) == 0
            # every scope either caught its cancellation or ended before delivery
            assert all(s.cancel_called for s in scopes)
    finally:
        sys.setswitchinterval(old_interval)


def test_task_cancellation_is_not_swallowed_by_a_cancelled_scope() -> None:
    async def main() -> bool:
        scope = CancelScope()
        inside = asyncio.Event()

        async def victim() -> None:
            with scope:
                inside.set()
                await forever()

        task = asyncio.create_task(victim())
        await inside.wait()
        scope.cancel()
        task.cancel()  # the task itself is cancelled too: that must win
        with pytest.raises(asyncio.CancelledError):
            await task
        return task.cancelled()

    assert run(main)


def test_foreign_cancellation_passes_through_an_uncancelled_scope() -> None:
    async def main() -> tuple[bool, bool]:
        scope = CancelScope()
        inside = asyncio.Event()

        async def victim() -> None:
            with scope:
                inside.set()
                await forever()

        task = asyncio.create_task(victim())
        await inside.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return task.cancelled(), scope.cancelled_caught

    assert run(main) == (True, False)


def test_runner_shutdown_cancels_a_task_inside_a_scope() -> None:
    inside = threading.Event()
    scope = CancelScope()

    async def job() -> str:
        with scope:
            inside.set()
            await forever()
        return "moved on"  # must not happen: the runner cancelled the task itself

    with ta.AsyncRunner(call_in_loop_timeout=WAIT) as r:
        task = r.create_task(job())
        assert inside.wait(WAIT)
        scope.cancel()
        r.wait_until_idle()
    assert scope.cancelled_caught  # the scope's own cancel landed first
    assert task.wait(WAIT) == "moved on"

    inside.clear()
    scope2 = CancelScope()

    async def job2() -> str:
        with scope2:
            inside.set()
            await forever()
        return "moved on"

    with ta.AsyncRunner(call_in_loop_timeout=WAIT) as r:
        task2 = r.create_task(job2())
        assert inside.wait(WAIT)
    with pytest.raises(asyncio.CancelledError):
        task2.wait(WAIT)
    assert not scope2.cancelled_caught


# -- nesting -----------------------------------------------------------------------------
def test_nested_outer_cancel_is_caught_by_the_outer_scope() -> None:
    async def main() -> list[str]:
        log: list[str] = []
        outer = CancelScope()
        inner = CancelScope()
        with outer:
            with inner:
                outer.cancel()
                await forever()
            log.append("after inner (never)")
        log.append(f"outer={outer.cancelled_caught} inner={inner.cancelled_caught}")
        return log

    assert run(main) == ["outer=True inner=False"]


def test_nested_inner_cancel_is_caught_by_the_inner_scope() -> None:
    async def main() -> list[str]:
        log: list[str] = []
        outer = CancelScope()
        inner = CancelScope()
        with outer:
            with inner:
                inner.cancel()
                await forever()
            log.append("after inner")
            await asyncio.sleep(0)
        log.append(f"outer={outer.cancelled_caught} inner={inner.cancelled_caught}")
        return log

    assert run(main) == ["after inner", "outer=False inner=True"]


def test_both_cancelled_the_outermost_catches() -> None:
    async def main() -> tuple[bool, bool]:
        outer = CancelScope()
        inner = CancelScope()
        with outer, inner:
            inner.cancel()
            outer.cancel()
            await forever()
        return outer.cancelled_caught, inner.cancelled_caught

    assert run(main) == (True, False)


def test_async_with_and_asyncio_timeout_inside_a_cancelled_scope() -> None:
    async def main() -> bool:
        scope = CancelScope()
        async with scope:
            async with asyncio.timeout(1000):
                scope.cancel()
                await forever()
        return scope.cancelled_caught

    assert run(main)


def test_asyncio_timeout_inside_a_scope_still_times_out() -> None:
    async def main() -> bool:
        scope = CancelScope()
        with scope, pytest.raises(TimeoutError):
            async with asyncio.timeout(0):
                await forever()
        return scope.cancelled_caught

    assert run(main) is False


# -- deadlines and the virtual clock ----------------------------------------------------
def test_move_on_after_with_a_virtual_clock() -> None:
    clock = ta.VirtualClock(autojump=True)

    async def job() -> tuple[bool, bool, float]:
        loop = asyncio.get_running_loop()
        with move_on_after(5) as scope:
            await asyncio.sleep(3600)
        return scope.cancelled_caught, scope.deadline_exceeded, loop.time()

    with ta.AsyncRunner(call_in_loop_timeout=WAIT, clock=clock) as r:
        assert r.run(job()) == (True, True, 5.0)


def test_move_on_after_not_reached_leaves_the_block_alone() -> None:
    clock = ta.VirtualClock(autojump=True)

    async def job() -> tuple[bool, float, float]:
        with move_on_after(5) as scope:
            await asyncio.sleep(2)
        return scope.cancelled_caught, scope.deadline, asyncio.get_running_loop().time()

    with ta.AsyncRunner(call_in_loop_timeout=WAIT, clock=clock) as r:
        assert r.run(job()) == (False, 5.0, 2.0)


def test_fail_after_raises_timeout_error() -> None:
    clock = ta.VirtualClock(autojump=True)

    async def job() -> None:
        with fail_after(1):
            await asyncio.sleep(10)

    with ta.AsyncRunner(call_in_loop_timeout=WAIT, clock=clock) as r, pytest.raises(TimeoutError):
        r.run(job())


def test_fail_after_cancelled_by_hand_just_moves_on() -> None:
    async def main() -> bool:
        with fail_after(100) as scope:
            scope.cancel()
            await forever()
        return scope.cancelled_caught

    assert run(main)


def test_zero_timeout_cancels_at_the_first_await() -> None:
    async def main() -> list[str]:
        log: list[str] = []
        with move_on_after(0) as scope:
            log.append("start")
            await asyncio.sleep(0)
            log.append("never")
        log.append(str(scope.cancelled_caught))
        return log

    assert run(main) == ["start", "True"]


def test_moving_the_deadline_of_an_active_scope() -> None:
    clock = ta.VirtualClock(autojump=True)

    async def job() -> float:
        loop = asyncio.get_running_loop()
        with CancelScope(deadline=100) as scope:
            scope.deadline = loop.time() + 7
            await asyncio.sleep(1000)
        assert scope.cancelled_caught
        return loop.time()

    with ta.AsyncRunner(call_in_loop_timeout=WAIT, clock=clock) as r:
        assert r.run(job()) == 7.0
        scope = CancelScope()

        async def enter_and_signal(entered: asyncio.Event) -> None:
            with scope:
                entered.set()
                await asyncio.sleep(3600)

        async def drive() -> None:
            entered = asyncio.Event()
            t = asyncio.create_task(enter_and_signal(entered))
            await entered.wait()
            t.cancel()
            with pytest.raises(asyncio.CancelledError):
                await t

        r.run(drive())
    assert math.isinf(CancelScope().deadline)


def test_moving_the_deadline_from_another_thread_is_refused(runner: ta.AsyncRunner) -> None:
    scope = CancelScope()
    inside = threading.Event()

    async def job() -> None:
        with scope:
            inside.set()
            await forever()

    task = runner.create_task(job())
    assert inside.wait(WAIT)
    with pytest.raises(RuntimeError, match="own event loop"):
        scope.deadline = 1.0
    scope.cancel()
    task.wait(WAIT)


# -- checkpoint --------------------------------------------------------------------------
def test_checkpoint_is_level_triggered() -> None:
    async def main() -> list[str]:
        log: list[str] = []
        with CancelScope() as scope:
            scope.cancel("level")
            try:
                await forever()
            except asyncio.CancelledError:
                log.append("swallowed the edge")
            await asyncio.sleep(0)  # a raw await does not raise again
            log.append("raw await passed")
            try:
                await checkpoint()
            except asyncio.CancelledError as exc:
                log.append(f"checkpoint raised {exc.args}")
                raise
        log.append(f"caught={scope.cancelled_caught}")
        return log

    assert run(main) == [
        "swallowed the edge",
        "raw await passed",
        "checkpoint raised ('level',)",
        "caught=True",
    ]


def test_checkpoint_outside_a_cancelled_scope_just_yields() -> None:
    async def main() -> int:
        await checkpoint()
        with CancelScope():
            await checkpoint()
        steps = 0

        async def other() -> None:
            nonlocal steps
            steps += 1

        t = asyncio.create_task(other())
        await checkpoint()  # lets the other task run
        await t
        return steps

    assert run(main) == 1


def test_checkpoint_does_not_see_scopes_of_other_tasks() -> None:
    async def main() -> str:
        scope = CancelScope()
        gate = asyncio.Event()

        async def child() -> str:
            await gate.wait()
            await checkpoint()  # the parent's cancelled scope is not the child's
            return "child ran"

        child_task = asyncio.create_task(child())
        with scope:
            scope.cancel()
            gate.set()
            await forever()
        assert scope.cancelled_caught
        return await child_task

    assert run(main) == "child ran"


# -- ScopeGroup --------------------------------------------------------------------------
def test_scope_group_cancels_every_live_scope_from_a_thread(runner: ta.AsyncRunner) -> None:
    group = ScopeGroup()
    entered = threading.Barrier(4, timeout=WAIT)

    async def job(n: int) -> str:
        with group.scope() as scope:
            await asyncio.get_running_loop().run_in_executor(None, entered.wait)
            await forever()
        return f"{n}:{scope.cancelled_caught}:{scope.cancel_reason}"

    tasks = [runner.create_task(job(n)) for n in range(3)]
    entered.wait()
    runner.wait_until_idle()
    assert group.live == 3
    assert group.cancel_all("shutdown") == 3
    assert [t.wait(WAIT) for t in tasks] == [f"{n}:True:shutdown" for n in range(3)]
    assert group.live == 0
    assert group.cancel_all() == 0


def test_scope_group_latch_catches_a_scope_entered_just_after(runner: ta.AsyncRunner) -> None:
    group = ScopeGroup()
    assert group.cancel_all("interrupt", latch=True) == 0
    assert group.latched

    async def starting_job() -> tuple[bool, str | None]:
        with group.scope() as scope:
            await forever()
        return scope.cancelled_caught, scope.cancel_reason

    assert runner.run(starting_job()) == (True, "interrupt")
    group.reset()
    assert not group.latched

    async def normal_job() -> bool:
        with group.scope() as scope:
            await asyncio.sleep(0)
        return scope.cancel_called

    assert runner.run(normal_job()) is False


def test_without_latch_a_later_scope_runs_normally(runner: ta.AsyncRunner) -> None:
    group = ScopeGroup()
    group.cancel_all()

    async def job() -> bool:
        with group.scope() as scope:
            await asyncio.sleep(0)
        return scope.cancel_called

    assert runner.run(job()) is False


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="needs POSIX signals")
def test_scope_group_cancelled_from_a_signal_handler(runner: ta.AsyncRunner) -> None:
    group = ScopeGroup()
    inside = threading.Event()

    async def job() -> bool:
        with group.scope() as scope:
            inside.set()
            await forever()
        return scope.cancelled_caught

    def handler(signum: int, frame: object) -> None:
        group.cancel_all("SIGUSR1", latch=True)

    task = runner.create_task(job())
    assert inside.wait(WAIT)
    previous = signal.signal(signal.SIGUSR1, handler)
    try:
        signal.raise_signal(signal.SIGUSR1)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert task.wait(WAIT) is True
    assert group.latched


# -- misuse ------------------------------------------------------------------------------
def test_entering_outside_a_task_is_refused() -> None:
    with pytest.raises(RuntimeError, match="asyncio task"), CancelScope():
        pass


def test_entering_twice_is_refused() -> None:
    async def main() -> None:
        scope = CancelScope()
        with scope:
            pass
        with pytest.raises(RuntimeError, match="only once"), scope:
            pass

    run(main)


def test_exiting_out_of_order_is_refused() -> None:
    async def main() -> None:
        outer = CancelScope()
        inner = CancelScope()
        outer.__enter__()
        inner.__enter__()
        with pytest.raises(RuntimeError, match="reverse order"):
            outer.__exit__(None, None, None)
        inner.__exit__(None, None, None)
        outer.__exit__(None, None, None)

    run(main)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        move_on_after(-1)
    with pytest.raises(TypeError):
        fail_after(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        CancelScope(deadline="soon")  # type: ignore[arg-type]
    assert "new" in repr(CancelScope())
    assert "ScopeGroup" in repr(ScopeGroup())


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="needs POSIX signals")
def test_signal_handler_on_the_loop_thread_itself_cancels_a_scope() -> None:
    scope = CancelScope()

    def handler(signum: int, frame: object) -> None:
        scope.cancel("signal")  # runs on the main thread, which also runs the loop

    async def main() -> tuple[bool, str | None]:
        async def victim() -> None:
            with scope:
                await forever()

        task = asyncio.create_task(victim())
        await asyncio.sleep(0)
        signal.raise_signal(signal.SIGUSR1)
        await task
        return scope.cancelled_caught, scope.cancel_reason

    previous = signal.signal(signal.SIGUSR1, handler)
    try:
        assert run(main) == (True, "signal")
    finally:
        signal.signal(signal.SIGUSR1, previous)
