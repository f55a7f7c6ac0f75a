"""Seeded schedules on the loop (SPEC §12): what may be reordered, what never is, and that
a seed (or its recorded choices) repeats a run exactly."""

from __future__ import annotations

import asyncio
import collections
import pickle
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import threaded_async as ta
from threaded_async._core import Schedule as CoreSchedule

pytestmark = pytest.mark.stdlib_loop

SEEDS = range(1, 41)


def run_on(schedule: ta.Schedule | int | None, make: Callable[[], Awaitable[Any]]) -> Any:
    """Run ``make()`` on a fresh runner whose autojump clock carries ``schedule``."""
    clock = ta.VirtualClock(autojump=True, schedule=schedule)
    with ta.AsyncRunner(clock=clock, call_in_loop_timeout=10.0) as runner:
        return runner.run(make())


async def ready_together() -> list[str]:
    """Four tasks that become ready in the same iterations (after ``sleep(0)``)."""
    log: list[str] = []

    async def worker(name: str) -> None:
        for step in range(3):
            await asyncio.sleep(0)
            log.append(f"{name}{step}")

    await asyncio.gather(*(worker(name) for name in "abcd"))
    return log


async def due_together() -> list[str]:
    """Tasks sleeping until the same virtual time, and plain timers due together."""
    log: list[str] = []
    loop = asyncio.get_running_loop()

    async def sleeper(name: str) -> None:
        await asyncio.sleep(1.0)
        log.append(name)

    for name in "xyz":
        loop.call_later(2.0, log.append, name)
    await asyncio.gather(*(sleeper(name) for name in "abc"))
    await asyncio.sleep(2.0)
    return log


def test_no_seed_and_seed_0_are_the_default_order() -> None:
    assert ta.VirtualClock(schedule=0).schedule is None
    assert ta.VirtualClock(schedule=None).schedule is None
    default = run_on(None, ready_together)
    assert default == [f"{n}{s}" for s in range(3) for n in "abcd"]  # FIFO
    assert run_on(0, ready_together) == default
    zero = ta.Schedule(0)  # a schedule object with seed 0: every choice the default
    assert run_on(zero, ready_together) == default
    assert zero.choices  # the decision points were reached...
    assert zero.deviations == ()  # ...and each took the default
    assert run_on(None, due_together) == run_on(ta.Schedule(0), due_together)


def test_a_seed_reorders_tasks_that_became_ready_together() -> None:
    default = run_on(None, ready_together)
    orders = {tuple(run_on(seed, ready_together)) for seed in SEEDS}
    assert tuple(default) in orders or len(orders) > 1
    assert len(orders) > 10  # many interleavings, not one
    for order in orders:  # each worker's own steps keep their order
        for name in "abcd":
            assert [x for x in order if x[0] == name] == [f"{name}{s}" for s in range(3)]


def test_the_same_seed_gives_the_same_order_every_run() -> None:
    for seed in (3, 17, 2**40 + 1):
        first = run_on(seed, ready_together)
        assert run_on(seed, ready_together) == first
        assert run_on(seed, due_together) == run_on(seed, due_together)


def test_timers_due_at_the_same_virtual_time_are_reordered_and_only_if_allowed() -> None:
    default = run_on(None, due_together)
    assert default == ["a", "b", "c", "x", "y", "z"]
    seen = {tuple(run_on(seed, due_together)) for seed in SEEDS}
    assert len(seen) > 5
    for order in seen:  # sleepers at t=1 always before timers at t=2
        assert set(order[:3]) == {"a", "b", "c"}
        assert set(order[3:]) == {"x", "y", "z"}
    fixed = ta.ScheduleLimits(timers=False)
    for seed in SEEDS:
        assert run_on(ta.Schedule(seed, limits=fixed), due_together) == default


async def one_callers_fifo() -> list[str]:
    """One task registers callbacks and wakes another task in between; another task
    registers its own. asyncio's promise: one caller's callbacks run in its order."""
    log: list[str] = []
    loop = asyncio.get_running_loop()
    woken = loop.create_future()
    done = loop.create_future()

    async def sleeper() -> None:
        await woken
        log.append("woken")

    def other() -> None:
        log.append("other")

    async def caller() -> None:
        await asyncio.sleep(0)
        loop.call_soon(log.append, "first")
        woken.set_result(None)  # schedules the sleeper's wake-up: a callback of this caller
        loop.call_soon(log.append, "second")
        done.add_done_callback(lambda _: log.append("done 1"))
        done.add_done_callback(lambda _: log.append("done 2"))
        done.set_result(None)  # the future's callbacks: in the order they were added

    async def bystander() -> None:
        await asyncio.sleep(0)
        loop.call_soon(other)

    await asyncio.gather(sleeper(), caller(), bystander())
    await asyncio.sleep(0)
    return log


def test_one_callers_callbacks_and_one_futures_callbacks_keep_their_order() -> None:
    default = run_on(None, one_callers_fifo)
    orders = {tuple(run_on(seed, one_callers_fifo)) for seed in SEEDS}
    assert len(orders) > 1  # the bystander's callback moves around
    for order in (tuple(default), *orders):
        mine = [x for x in order if x != "other"]
        assert mine.index("first") < mine.index("woken") < mine.index("second")
        assert mine.index("done 1") < mine.index("done 2")
        assert mine.index("second") < mine.index("done 1")


def test_tasks_false_keeps_every_callback_in_fifo_order() -> None:
    default = run_on(None, ready_together)
    only_timers = ta.ScheduleLimits(tasks=False)
    for seed in SEEDS:
        assert run_on(ta.Schedule(seed, limits=only_timers), ready_together) == default


def test_recorded_choices_replay_the_run_exactly() -> None:
    for seed in (5, 9, 23):
        schedule = ta.Schedule(seed)
        log = run_on(schedule, ready_together)
        assert schedule.deviations  # this seed changed something
        assert all(c.index == i for i, c in enumerate(schedule.choices))
        again = ta.Schedule.replaying(schedule.choices)
        assert run_on(again, ready_together) == log
        assert again.choices == schedule.choices
        sparse = schedule.replay()  # only the deviations: the rest is the default anyway
        assert run_on(sparse, ready_together) == log


def test_a_recorded_choice_that_does_not_fit_takes_the_default() -> None:
    default = run_on(None, ready_together)
    misfits = [
        ta.Choice(0, "answers", 0.0, (1, 0)),  # another kind
        ta.Choice(1, "ready", 0.0, (1, 0)),  # too few items for that point
    ]
    schedule = ta.Schedule.replaying(misfits)
    assert run_on(schedule, ready_together) == default
    assert schedule.deviations == ()


def test_a_choice_that_breaks_a_promise_is_not_replayed() -> None:
    """Replaying the reverse order at every decision point would run a worker's later
    steps first: where an order breaks asyncio's promises, the default is taken."""
    schedule = ta.Schedule(7)
    run_on(schedule, ready_together)
    reversed_all = [
        ta.Choice(c.index, "ready", c.time, tuple(reversed(range(len(c.order)))))
        for c in schedule.choices
    ]
    log = run_on(ta.Schedule.replaying(reversed_all), ready_together)
    for name in "abcd":
        assert [x for x in log if x[0] == name] == [f"{name}{s}" for s in range(3)]


def test_wakeups_from_another_thread_do_not_change_the_choices() -> None:
    """``loop.wake()`` from another thread lands at moments of that thread's choosing:
    it takes no part in a decision, so the seeded run stays the same."""
    expected = ta.Schedule(11)
    expected_log = run_on(expected, ready_together)
    clock = ta.VirtualClock(autojump=True, schedule=ta.Schedule(11))
    stop = threading.Event()
    with ta.AsyncRunner(clock=clock, call_in_loop_timeout=10.0) as runner:
        loop = runner.loop
        assert isinstance(loop, ta.SteppingEventLoop)

        def spam() -> None:
            while not stop.is_set():
                loop.wake()
                stop.wait(0.0001)

        thread = threading.Thread(target=spam)
        thread.start()
        try:
            log = runner.run(ready_together())
        finally:
            stop.set()
            thread.join()
    assert log == expected_log
    assert clock.schedule is not None
    assert clock.schedule.choices == expected.choices


def test_an_interrupted_batch_puts_back_what_it_did_not_run() -> None:
    loop = asyncio.new_event_loop()
    try:
        ran: list[str] = []

        def interrupt() -> None:
            raise KeyboardInterrupt

        handles = [
            asyncio.Handle(ran.append, ("a",), loop),
            asyncio.Handle(interrupt, (), loop),
            asyncio.Handle(ran.append, ("b",), loop),
            asyncio.Handle(ran.append, ("c",), loop),
        ]
        ready: collections.deque[asyncio.Handle] = collections.deque(handles)
        schedule = CoreSchedule(0)
        schedule.mark_timers(len(ready))
        with pytest.raises(KeyboardInterrupt):
            schedule.run_ready(ready)
        assert ran == ["a"]
        assert list(ready) == handles[2:]  # still to run, in order, as asyncio leaves them
    finally:
        loop.close()


@pytest.mark.parametrize("report", [False, True])
def test_a_callback_that_raises_is_reported_and_the_batch_goes_on(report: bool) -> None:
    # As Handle._run: an Exception (or any BaseException but Ctrl-C and SystemExit) goes
    # to the loop's exception handler and the rest of the batch runs; inline (with the
    # loop's report_error) or through Handle._run.
    loop = asyncio.new_event_loop()
    try:
        ran: list[str] = []
        seen: list[BaseException | None] = []
        loop.set_exception_handler(lambda _, context: seen.append(context.get("exception")))

        def fail() -> None:
            raise ValueError("boom")

        handles = [
            asyncio.Handle(ran.append, ("a",), loop),
            asyncio.Handle(fail, (), loop),
            asyncio.Handle(ran.append, ("b",), loop),
        ]
        ready: collections.deque[asyncio.Handle] = collections.deque(handles)
        schedule = CoreSchedule(0)
        schedule.mark_timers(len(ready))

        def report_error(handle: asyncio.Handle, exc: BaseException) -> None:
            loop.call_exception_handler({"message": "callback", "exception": exc, "handle": handle})

        schedule.run_ready(ready, None, report_error if report else None)
        assert ran == ["a", "b"]
        assert [type(e) for e in seen] == [ValueError]
        assert not ready
    finally:
        loop.close()


def test_the_clock_and_the_schedule_say_what_they_are() -> None:
    clock = ta.VirtualClock(autojump=True, schedule=3)
    assert isinstance(clock.schedule, ta.Schedule)
    assert clock.schedule.seed == 3
    assert "schedule=<Schedule seed=3" in repr(clock)
    assert ta.Schedule.replaying([]).seed is None
    with pytest.raises(TypeError, match="seed"):
        ta.Schedule("7")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    with pytest.raises(TypeError, match="schedule"):
        ta.VirtualClock(schedule=1.5)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    with pytest.raises(TypeError, match="Choice"):
        ta.Schedule.replaying([(0, "ready")])  # type: ignore[list-item]  # pyright: ignore[reportArgumentType]
    with pytest.raises(ValueError, match="two choices"):
        ta.Schedule.replaying([ta.Choice(0, "delay", 0.0), ta.Choice(0, "delay", 1.0)])


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_delay": -1.0}, ValueError),
        ({"max_delay": float("inf")}, ValueError),
        ({"max_delay": 1.0, "delay_step": 0.0}, ValueError),
        ({"max_delay": 1.0, "delay_step": 2.0}, ValueError),
        ({"delay_step": 0.5}, ValueError),  # larger than max_delay 0
        ({"late_rate": 1.5}, ValueError),
        # more than Request.answer_after takes: every late answer would fail to be given
        ({"max_delay": 1e10}, ValueError),
        # more than a million delay levels (here floor(inf): an OverflowError in Schedule)
        ({"max_delay": 100.0, "delay_step": 1e-6}, ValueError),
        ({"max_delay": 1e14, "delay_step": 1e-300}, ValueError),
        ({"tasks": 1}, TypeError),
        ({"max_delay": "1"}, TypeError),
    ],
)
def test_limits_refuse_what_makes_no_sense(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        ta.ScheduleLimits(**kwargs)


def test_limits_delay_levels() -> None:
    assert ta.ScheduleLimits().delay_levels == 0
    assert ta.ScheduleLimits(max_delay=0.5).delay_levels == 1
    assert ta.ScheduleLimits(max_delay=0.3, delay_step=0.1).delay_levels == 3
    assert ta.ScheduleLimits(max_delay=1 / 10, delay_step=1 / 30).delay_levels == 3
    assert ta.ScheduleLimits(max_delay=1.0, delay_step=1e-6).delay_levels == 1_000_000
    assert ta.ScheduleLimits(max_delay=threading.TIMEOUT_MAX).delay_levels == 1


def test_choices_describe_themselves() -> None:
    swap = ta.Choice(3, "answers", 2.0, (1, 0), labels=("knight_0's step", "archer_1's step"))
    assert swap.describe() == "at t=2: archer_1's step answered before knight_0's step"
    assert not swap.is_default
    moved = ta.Choice(4, "ready", 0.5, (2, 0, 1), labels=("a", "b", "c"))
    assert moved.describe() == "at t=0.5: c ran before a and b"
    shuffled = ta.Choice(5, "ready", 1.0, (1, 0, 3, 2), labels=("a", "b", "c", "d"))
    assert shuffled.describe() == "at t=1: ran in the order b, a, d, c (default: a, b, c, d)"
    late = ta.Choice(6, "delay", 1.5, delay=0.25, labels=("b's Env.move",))
    assert late.describe() == "at t=1.5: b's Env.move answered 0.25 s late"
    assert ta.Choice(7, "delay", 0.0).is_default
    assert ta.Choice(8, "ready", 0.0, (0, 1, 2)).is_default


def test_a_schedule_pickles_as_its_record() -> None:
    schedule = ta.Schedule(9)
    run_on(schedule, ready_together)
    copy = pickle.loads(pickle.dumps(schedule))
    assert copy.choices == schedule.choices
    assert copy.seed == 9
    assert run_on(copy.replay(), ready_together) == run_on(schedule.replay(), ready_together)


def test_schedule_seed_is_the_specs_spelling_of_a_seed() -> None:
    clock = ta.VirtualClock(schedule_seed=7)
    assert clock.schedule is not None
    assert clock.schedule.seed == 7
    assert ta.VirtualClock(schedule_seed=0).schedule is None
    with pytest.raises(TypeError, match="not both"):
        ta.VirtualClock(schedule=3, schedule_seed=7)
    with pytest.raises(TypeError, match="schedule_seed must be an int"):
        ta.VirtualClock(schedule_seed=True)
