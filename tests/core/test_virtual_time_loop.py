"""The loop a runner makes for a virtual clock (``_core/_vtime.py``): asyncio's timeouts,
the order and exactness of timers, cancellation, thread wake-ups and holds, and the cost
of a sleep. Everything here goes through ``AsyncRunner(clock=...)``, as users do."""

from __future__ import annotations

import asyncio
import math
import random
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import threaded_async as ta
from tests._support import wait_for

BOUND = 10.0


@pytest.fixture
def auto() -> Iterator[tuple[ta.AsyncRunner, ta.VirtualClock]]:
    """A runner on an autojump clock."""
    clock = ta.VirtualClock(autojump=True)
    with ta.AsyncRunner(clock=clock, call_in_loop_timeout=BOUND) as runner:
        yield runner, clock


def _loop(runner: ta.AsyncRunner) -> ta.SteppingEventLoop:
    loop = runner.loop
    assert isinstance(loop, ta.SteppingEventLoop)
    return loop


# -- wait_for and asyncio.timeout ------------------------------------------------------
def test_wait_for_times_out_at_its_own_time_and_leaves_nothing_to_jump_to(
    auto: tuple[ta.AsyncRunner, ta.VirtualClock],
) -> None:
    runner, clock = auto
    cancelled: list[float] = []

    async def inner() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(clock.time())
            raise

    async def main() -> float:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(inner(), 2.5)
        return clock.time()

    assert runner.run(main(), BOUND) == 2.5
    assert cancelled == [2.5]
    runner.wait_until_idle(BOUND)
    assert clock.time() == 2.5  # the cancelled sleep's 10.0 is never jumped to


def test_wait_for_that_completes_first_cancels_its_timeout(
    auto: tuple[ta.AsyncRunner, ta.VirtualClock],
) -> None:
    runner, clock = auto

    async def main() -> list[float]:
        seen = [await asyncio.wait_for(asyncio.sleep(1, clock.time()), 10)]
        seen.append(clock.time())
        await asyncio.sleep(4)  # the next live timer is at 5, not the dead timeout at 10
        seen.append(clock.time())
        return seen

    assert runner.run(main(), BOUND) == [0.0, 1.0, 5.0]
    runner.wait_until_idle(BOUND)
    assert clock.time() == 5.0


@pytest.mark.parametrize(("outer", "inner", "expected"), [(2, 3, "outer"), (3, 2, "inner")])
def test_nested_wait_for_fires_the_earlier_deadline(
    auto: tuple[ta.AsyncRunner, ta.VirtualClock], outer: float, inner: float, expected: str
) -> None:
    runner, clock = auto

    async def main() -> tuple[str, float]:
        try:
            await asyncio.wait_for(_timed_out_as("inner", asyncio.sleep(100), inner), outer)
        except TimeoutError:
            return "outer", clock.time()
        except _TimedOut as exc:
            return exc.args[0], clock.time()
        return "none", clock.time()

    assert runner.run(main(), BOUND) == (expected, min(outer, inner))


class _TimedOut(Exception):
    pass


async def _timed_out_as(name: str, awaitable: Any, timeout: float) -> None:
    try:
        await asyncio.wait_for(awaitable, timeout)
    except TimeoutError:
        raise _TimedOut(name) from None


def test_asyncio_timeout_fires_cancels_and_reschedules_on_virtual_time(
    auto: tuple[ta.AsyncRunner, ta.VirtualClock],
) -> None:
    runner, clock = auto

    async def main() -> list[tuple[str, float]]:
        loop = asyncio.get_running_loop()
        seen: list[tuple[str, float]] = []
        try:
            async with asyncio.timeout(3):
                await asyncio.sleep(50)
        except TimeoutError:
            seen.append(("fired", clock.time()))
        async with asyncio.timeout(5):  # exits at 4: its timer (at 8) is cancelled
            await asyncio.sleep(1)
        seen.append(("left early", clock.time()))
        try:
            async with asyncio.timeout(1) as scope:
                scope.reschedule(loop.time() + 2.5)
                await asyncio.sleep(50)
        except TimeoutError:
            seen.append(("rescheduled", clock.time()))
        return seen

    assert runner.run(main(), BOUND) == [("fired", 3.0), ("left early", 4.0), ("rescheduled", 6.5)]
    runner.wait_until_idle(BOUND)
    assert clock.time() == 6.5  # none of the cancelled timers (8, 5, 54) was reached


@pytest.mark.parametrize(("outer", "inner"), [(2, 5), (5, 2)])
def test_nested_asyncio_timeouts_each_fire_at_their_own_deadline(
    auto: tuple[ta.AsyncRunner, ta.VirtualClock], outer: float, inner: float
) -> None:
    runner, clock = auto

    async def main() -> tuple[str, float]:
        try:
            async with asyncio.timeout(outer):
                try:
                    async with asyncio.timeout(inner):
                        await asyncio.sleep(100)
                except TimeoutError:
                    return "inner", clock.time()
        except TimeoutError:
            return "outer", clock.time()
        return "none", clock.time()

    expected = "outer" if outer < inner else "inner"
    assert runner.run(main(), BOUND) == (expected, min(outer, inner))


# -- order and exactness -----------------------------------------------------------------
def test_timers_due_at_the_same_time_fire_first_scheduled_first_fired(
    auto: tuple[ta.AsyncRunner, ta.VirtualClock],
) -> None:
    """call_later, call_at and sleeps that fall due together, from different moments."""
    runner, clock = auto
    order: list[str] = []

    async def sleeper(name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        order.append(name)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.call_later(3, order.append, "timer 1")
        first = asyncio.create_task(sleeper("sleep from 0", 3))
        await asyncio.sleep(0)  # the task is now asleep, due at 3
        loop.call_at(3.0, order.append, "timer 2")
        await asyncio.sleep(1)
        loop.call_later(2, order.append, "timer 3")
        second = asyncio.create_task(sleeper("sleep from 1", 2))
        await asyncio.wait([first, second])

    runner.run(main(), BOUND)
    assert order == ["timer 1", "sleep from 0", "timer 2", "timer 3", "sleep from 1"]
    assert clock.time() == 3.0


def test_tasks_woken_at_the_same_time_run_in_the_order_they_went_to_sleep(
    auto: tuple[ta.AsyncRunner, ta.VirtualClock],
) -> None:
    """200 tasks, all due at 10: they go to sleep in three waves (at 1, 2 and 3), each
    wave in a shuffled order; they wake wave by wave, each wave in its own order."""
    runner, clock = auto
    names = list(range(200))
    random.Random(26).shuffle(names)
    woke: list[tuple[int, float]] = []

    async def sleeper(name: int, gate: asyncio.Event) -> None:
        await gate.wait()
        await asyncio.sleep(10 - clock.time())  # due at exactly 10.0
        woke.append((name, clock.time()))

    async def main() -> None:
        gates = {name: asyncio.Event() for name in range(200)}
        tasks = [asyncio.create_task(sleeper(name, gates[name])) for name in range(200)]
        for wave in range(3):
            await asyncio.sleep(1)
            for name in names:
                if name % 3 == wave:
                    gates[name].set()
        await asyncio.gather(*tasks)

    runner.run(main(), BOUND)
    assert woke == [(n, 10.0) for wave in range(3) for n in names if n % 3 == wave]


@pytest.mark.parametrize(
    "start", [0.0, 0.1, 2.0**24, 1_764_000_000.123, 2.0**40 + 0.5, 2.0**53, 1e300]
)
def test_a_sleep_wakes_at_exactly_its_due_time_at_any_magnitude(start: float) -> None:
    clock = ta.VirtualClock(start=start, autojump=True)
    with ta.AsyncRunner(clock=clock, call_in_loop_timeout=BOUND) as runner:

        async def main() -> list[tuple[float, float, int, int]]:
            loop = asyncio.get_running_loop()
            seen: list[tuple[float, float, int, int]] = []
            for delay in (0.1, 0.2, 1.0, 1e-9, 3.7, 1e6):
                due = ta.VirtualClock(start=loop.time() + delay)  # the due time, to the ns
                await asyncio.sleep(delay)
                seen.append((loop.time(), due.time(), clock.time_ns(), due.time_ns()))
            return seen

        for loop_time, due, ns, due_ns in runner.run(main(), BOUND):
            assert (loop_time, ns) == (due, due_ns)


def test_a_nan_timer_is_due_at_once_and_leaves_the_others_in_order(
    auto: tuple[ta.AsyncRunner, ta.VirtualClock],
) -> None:
    """As on asyncio's own loop a NaN delay is due at once (asyncio.sleep refuses it only
    from Python 3.13 on); the timers around it keep their order."""
    runner, clock = auto
    seen: list[tuple[str, float]] = []

    def setup() -> None:
        loop = asyncio.get_running_loop()
        for name, delay in (("a", 3.0), ("nan", math.nan), ("c", 1.0), ("e", 5.0), ("d", 2.0)):
            loop.call_later(delay, lambda n=name: seen.append((n, clock.time())))

    runner.call_in_loop(setup)
    runner.wait_until_idle(BOUND)
    assert seen == [("nan", 0.0), ("c", 1.0), ("d", 2.0), ("a", 3.0), ("e", 5.0)]


# -- cancellation ------------------------------------------------------------------------
def test_a_cancelled_sleep_raises_and_time_does_not_jump_to_it(
    auto: tuple[ta.AsyncRunner, ta.VirtualClock],
) -> None:
    runner, clock = auto

    async def main() -> list[float]:
        sleeper = asyncio.create_task(asyncio.sleep(100))
        await asyncio.sleep(0)  # asleep, due at 100
        sleeper.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sleeper
        seen = [clock.time()]
        await asyncio.sleep(1)
        seen.append(clock.time())  # the next live timer: 1, not the dead one at 100
        return seen

    assert runner.run(main(), BOUND) == [0.0, 1.0]
    runner.wait_until_idle(BOUND)
    assert clock.time() == 1.0


@pytest.mark.parametrize(("cancel_first", "expected"), [(True, "cancelled"), (False, "woke")])
def test_a_cancel_due_with_a_sleep_acts_in_the_order_they_were_scheduled(
    auto: tuple[ta.AsyncRunner, ta.VirtualClock], cancel_first: bool, expected: str
) -> None:
    """Timers due together act first scheduled, first served: a cancel scheduled before
    a sleep's timer cancels the sleeping task; one scheduled after it finds the task
    already woken (its wake-up was queued when its timer fired)."""
    runner, _ = auto

    async def main() -> str:
        loop = asyncio.get_running_loop()
        sleeper = asyncio.create_task(asyncio.sleep(5, "woke"))
        if cancel_first:
            loop.call_later(5, sleeper.cancel)
        await asyncio.sleep(0)  # the sleeper is asleep, due at 5
        if not cancel_first:
            loop.call_later(5, sleeper.cancel)
        try:
            return await sleeper
        except asyncio.CancelledError:
            return "cancelled"

    assert runner.run(main(), BOUND) == expected


def test_many_cancelled_sleeps_do_not_pile_up(
    auto: tuple[ta.AsyncRunner, ta.VirtualClock],
) -> None:
    runner, clock = auto

    async def main() -> int:
        loop: Any = asyncio.get_running_loop()
        for round_ in range(50):
            tasks = [
                asyncio.create_task(asyncio.sleep(1e6 + round_ * 1000 + i)) for i in range(200)
            ]
            await asyncio.sleep(0)
            for task in tasks:
                task.cancel()
            await asyncio.sleep(1)  # time goes on, the dead timers stay behind it
        return len(loop._scheduled)

    pending = runner.run(main(), BOUND)
    assert pending <= 1_000  # 10,000 cancelled sleeps were filed; swept, not kept
    runner.wait_until_idle(BOUND)
    assert clock.time() == 50.0  # and none of them is ever jumped to


async def _now(clock: ta.VirtualClock) -> float:
    await asyncio.sleep(0)
    return clock.time()


def test_cancelled_timers_at_one_time_do_not_pile_up(
    auto: tuple[ta.AsyncRunner, ta.VirtualClock],
) -> None:
    """Handles and sleeps cancelled while time stands still (all due at the same 100)."""
    runner, clock = auto

    async def main() -> int:
        loop: Any = asyncio.get_running_loop()
        for _ in range(10_000):
            loop.call_at(100.0, print).cancel()
        for _ in range(20):
            sleepers = [asyncio.create_task(asyncio.sleep(100)) for _ in range(500)]
            await asyncio.sleep(0)
            for task in sleepers:
                task.cancel()
            await asyncio.gather(*sleepers, return_exceptions=True)
        await asyncio.sleep(0)
        filed = sum(len(bucket) for bucket in loop._buckets.values())
        await asyncio.sleep(200)  # the dead timers at 100 are skipped, not run
        return filed

    assert runner.run(main(), BOUND) <= 1_000
    assert clock.time() == 200.0


# -- threads waking a sleeping loop ----------------------------------------------------------
def test_call_soon_threadsafe_wakes_a_virtual_loop_parked_with_nothing_to_jump_to(
    auto: tuple[ta.AsyncRunner, ta.VirtualClock],
) -> None:
    runner, clock = auto
    loop = _loop(runner)
    event_box: list[asyncio.Event] = []

    async def waiter() -> float:
        event = asyncio.Event()
        event_box.append(event)
        await event.wait()
        await asyncio.sleep(5)
        return clock.time()

    task = runner.create_task(waiter())
    runner.wait_until_idle(BOUND)
    wait_for(loop.is_polling, "the loop to park")
    loop.call_soon_threadsafe(event_box[0].set)
    assert task.wait(BOUND) == 5.0


def test_a_future_resolved_from_a_thread_wakes_a_parked_virtual_loop(
    auto: tuple[ta.AsyncRunner, ta.VirtualClock],
) -> None:
    runner, clock = auto
    future: ta.Future[int] = ta.Future(runner)

    async def waiter() -> tuple[int, float]:
        value = await future.result()
        await asyncio.sleep(2)
        return value, clock.time()

    task = runner.create_task(waiter())
    runner.wait_until_idle(BOUND)
    wait_for(_loop(runner).is_polling, "the loop to park")
    threading.Thread(target=future.set_result, args=(41,)).start()
    assert task.wait(BOUND) == (41, 2.0)


def test_a_batch_of_thread_wakeups_reaches_a_parked_virtual_loop(
    auto: tuple[ta.AsyncRunner, ta.VirtualClock],
) -> None:
    runner, clock = auto
    loop = _loop(runner)
    futures: list[asyncio.Future[None]] = []

    async def one(delay: float) -> float:
        fut = asyncio.get_running_loop().create_future()
        futures.append(fut)
        await fut
        await asyncio.sleep(delay)
        return clock.time()

    tasks = [runner.create_task(one(d)) for d in (3.0, 1.0)]
    runner.wait_until_idle(BOUND)
    assert len(futures) == 2
    loop.hold_wakeups()
    try:
        for fut in futures:
            loop.resolve_threadsafe(fut)
    finally:
        loop.release_wakeups()
    assert [t.wait(BOUND) for t in tasks] == [3.0, 1.0]


def test_an_executor_job_holds_virtual_time_and_its_end_wakes_the_loop(
    auto: tuple[ta.AsyncRunner, ta.VirtualClock],
) -> None:
    runner, clock = auto
    gate = threading.Event()
    in_job = threading.Event()

    def job() -> str:
        in_job.set()
        assert gate.wait(BOUND)
        return "done"

    async def worker() -> tuple[str, float]:
        result = await asyncio.get_running_loop().run_in_executor(None, job)
        await asyncio.sleep(1)
        return result, clock.time()

    async def sleeper() -> float:
        await asyncio.sleep(0.5)
        return clock.time()

    busy = runner.create_task(worker())
    assert in_job.wait(BOUND)
    other = runner.create_task(sleeper())
    for _ in range(3):  # loop iterations with a timer to jump to, while the job runs
        assert runner.run(_now(clock), BOUND) == 0.0
    assert not other.done()
    assert runner.statistics().jump_holds >= 1
    gate.set()
    assert busy.wait(BOUND) == ("done", 1.0)
    assert other.wait(BOUND) == 0.5


def test_a_clock_hold_from_a_thread_stops_autojumps_until_it_ends(
    auto: tuple[ta.AsyncRunner, ta.VirtualClock],
) -> None:
    runner, clock = auto
    with clock.hold():
        task = runner.create_task(asyncio.sleep(3, "late"))
        for _ in range(3):
            assert runner.run(_now(clock), BOUND) == 0.0
        assert not task.done()
    assert task.wait(BOUND) == "late"
    assert clock.time() == 3.0


@pytest.mark.parametrize("autojump", [False, True])
@pytest.mark.parametrize("delay", [0.0, 1e-10])
def test_a_timer_due_already_fires_while_time_is_held_and_unadvanced(
    autojump: bool, delay: float
) -> None:
    """A timer due at the current time (within the clock's 1 ns) needs no time to move:
    it fires while real work holds the clock, and on a clock nobody advances."""
    clock = ta.VirtualClock(autojump=autojump)
    with ta.AsyncRunner(clock=clock, call_in_loop_timeout=BOUND) as runner:
        fired = threading.Event()
        with clock.hold():
            runner.call_in_loop(lambda: asyncio.get_running_loop().call_later(delay, fired.set))
            assert fired.wait(BOUND)
        assert clock.time() == 0.0


# -- advance ---------------------------------------------------------------------------------
def test_advance_fires_many_timers_in_order_each_at_its_own_time() -> None:
    clock = ta.VirtualClock()
    rng = random.Random(7)
    # 2,000 timers, many sharing a due time; some sleeps among them.
    plan = [(f"t{i}", rng.choice([0.5, 1.0, 2.25]) * rng.randrange(1, 40)) for i in range(2000)]
    fired: list[tuple[str, float]] = []
    with ta.AsyncRunner(clock=clock, call_in_loop_timeout=BOUND) as runner:

        async def sleeper(name: str, delay: float) -> None:
            await asyncio.sleep(delay)
            fired.append((name, clock.time()))

        tasks: list[asyncio.Task[None]] = []

        def setup() -> None:
            loop = asyncio.get_running_loop()
            for index, (name, delay) in enumerate(plan):
                if index % 4 == 0:
                    tasks.append(loop.create_task(sleeper(name, delay)))
                else:
                    loop.call_later(delay, lambda n=name: fired.append((n, clock.time())))

        runner.call_in_loop(setup)
        runner.wait_until_idle(BOUND)
        clock.advance(30)
        assert all(when <= 30 for _, when in fired)
        clock.advance(60)
        assert clock.time() == 90.0
        assert all(task.done() for task in tasks)
    # Sorted by due time; equal times in the order they were scheduled (the tasks' sleeps
    # are scheduled when the tasks first run, after setup() scheduled its timers).
    timers = [(d, i, n) for i, (n, d) in enumerate(plan) if i % 4]
    sleeps = [(d, len(plan) + i, n) for i, (n, d) in enumerate(plan) if i % 4 == 0]
    expected = [(n, d) for d, _, n in sorted(timers + sleeps)]
    assert fired == expected


# -- debug mode, errors, cost ------------------------------------------------------------------
def test_debug_mode_keeps_asyncio_checks_on_virtual_time() -> None:
    clock = ta.VirtualClock(autojump=True)
    with ta.AsyncRunner(clock=clock, debug=True, call_in_loop_timeout=BOUND) as runner:
        loop = _loop(runner)
        assert runner.call_in_loop(loop.get_debug) is True

        async def main() -> float:
            try:
                async with asyncio.timeout(2):
                    await asyncio.sleep(5)
            except TimeoutError:
                pass
            await asyncio.sleep(1)
            return clock.time()

        assert runner.run(main(), BOUND) == 3.0
        with pytest.raises(RuntimeError, match="thread"):
            loop.call_soon(print)  # asyncio's debug check: not from another thread


def test_a_failing_callback_is_reported_as_asyncio_does_and_the_loop_goes_on(
    auto: tuple[ta.AsyncRunner, ta.VirtualClock],
) -> None:
    runner, clock = auto
    reports: list[dict[str, Any]] = []

    def fail() -> None:
        raise ValueError("boom")

    async def main() -> float:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _loop, context: reports.append(context))
        loop.call_later(1, fail)
        await asyncio.sleep(2)
        return clock.time()

    assert runner.run(main(), BOUND) == 2.0
    assert len(reports) == 1
    assert reports[0]["message"].startswith("Exception in callback ")
    assert "fail" in reports[0]["message"]
    assert isinstance(reports[0]["exception"], ValueError)
    assert isinstance(reports[0]["handle"], asyncio.TimerHandle)


def _python_calls_per_sleep(tasks: int, sleeps: int) -> float:
    clock = ta.VirtualClock(autojump=True)
    calls = 0

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal calls
        if event == "call":
            calls += 1

    async def sleeper() -> None:
        for _ in range(sleeps):
            await asyncio.sleep(1)

    async def main() -> None:
        started = [asyncio.create_task(sleeper()) for _ in range(tasks)]
        await asyncio.sleep(0)
        sys.setprofile(profile)  # this thread only: the loop's
        try:
            await asyncio.gather(*started)
        finally:
            sys.setprofile(None)

    with ta.AsyncRunner(clock=clock, call_in_loop_timeout=BOUND) as runner:
        runner.run(main(), BOUND)
    return calls / (tasks * sleeps)


@pytest.mark.parametrize(("tasks", "sleeps", "at_most"), [(1, 2000, 7), (200, 20, 6)])
def test_a_sleep_costs_a_few_python_calls(tasks: int, sleeps: int, at_most: float) -> None:
    """Counted with sys.setprofile, the sleeping coroutine and asyncio.sleep included
    (asyncio's own loop made 22 a sleep; SimPy's timeout step is about 5)."""
    per_sleep = _python_calls_per_sleep(tasks, sleeps)
    assert per_sleep <= at_most, f"{per_sleep:.1f} Python calls per sleep"
