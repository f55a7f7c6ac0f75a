"""Virtual time: advance(), autojump, and asyncio's timers following the host's clock."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

import threaded_async as ta


class Stub(ta.Client):
    async def now(self) -> float:
        return await self.execute(Stub.now)


@pytest.fixture
def clock() -> ta.VirtualClock:
    return ta.VirtualClock()


@pytest.fixture
def stepped(clock: ta.VirtualClock) -> Iterator[ta.AsyncRunner]:
    with ta.AsyncRunner(clock=clock, call_in_loop_timeout=10.0) as runner:
        yield runner


async def _sleep_and_report(clock: ta.VirtualClock, seconds: float) -> float:
    await asyncio.sleep(seconds)
    return clock.time()


def test_a_one_hour_sleep_finishes_only_after_advancing_3600_seconds(
    clock: ta.VirtualClock, stepped: ta.AsyncRunner
) -> None:
    task = stepped.create_task(_sleep_and_report(clock, 3600))
    stepped.wait_until_idle()
    for _ in range(59):
        clock.advance(60)
        assert not task.done()
    clock.advance(59.5)
    assert not task.done()
    clock.advance(0.5)
    assert task.done()  # advance returns once the due timer fired and the loop is idle
    assert task.wait(0) == 3600.0
    assert clock.time() == 3600.0


def test_advance_fires_due_timers_in_order_each_at_its_own_time(
    clock: ta.VirtualClock, stepped: ta.AsyncRunner
) -> None:
    fired: list[tuple[str, float]] = []

    def setup() -> None:
        loop = asyncio.get_running_loop()
        for name, delay in (("c", 3.0), ("a", 1.0), ("b", 2.0), ("late", 20.0)):
            loop.call_later(delay, lambda n=name: fired.append((n, clock.time())))

    stepped.call_in_loop(setup)
    clock.advance(10)
    assert fired == [("a", 1.0), ("b", 2.0), ("c", 3.0)]
    assert clock.time() == 10.0
    clock.advance(10)
    assert fired[-1] == ("late", 20.0)


def test_asyncio_timeout_follows_the_virtual_clock(
    clock: ta.VirtualClock, stepped: ta.AsyncRunner
) -> None:
    async def guarded() -> str:
        try:
            async with asyncio.timeout(5):
                await asyncio.Event().wait()
        except TimeoutError:
            return f"timed out at {clock.time()}"
        return "not reached"

    task = stepped.create_task(guarded())
    clock.advance(4.75)
    assert not task.done()
    clock.advance(0.25)
    assert task.wait(0) == "timed out at 5.0"


def test_wait_for_follows_the_virtual_clock(
    clock: ta.VirtualClock, stepped: ta.AsyncRunner
) -> None:
    async def waiting() -> float:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.sleep(100), timeout=2.5)
        return clock.time()

    task = stepped.create_task(waiting())
    clock.advance(2)
    assert not task.done()
    clock.advance(1)
    assert task.wait(0) == 2.5


def test_time_does_not_pass_without_the_host(
    clock: ta.VirtualClock, stepped: ta.AsyncRunner
) -> None:
    task = stepped.create_task(_sleep_and_report(clock, 0.001))
    for _ in range(20):
        stepped.wait_until_idle()
    assert not task.done()
    assert stepped.run(asyncio.sleep(0, result="loop alive")) == "loop alive"
    assert clock.time() == 0.0


def test_loop_time_is_the_clock(clock: ta.VirtualClock, stepped: ta.AsyncRunner) -> None:
    clock.advance(12.5)
    assert stepped.call_in_loop(lambda: asyncio.get_running_loop().time()) == 12.5


def test_autojump_runs_a_simulated_hour_at_once() -> None:
    clock = ta.VirtualClock(autojump=True)
    with ta.AsyncRunner(clock=clock, call_in_loop_timeout=10.0) as runner:

        async def day() -> list[float]:
            seen: list[float] = []
            for _ in range(60):
                await asyncio.sleep(60)
                seen.append(clock.time())
            return seen

        assert runner.run(day()) == [60.0 * (i + 1) for i in range(60)]
        assert clock.time() == 3600.0


def test_autojump_wait_for_times_out_in_virtual_time() -> None:
    clock = ta.VirtualClock(start=100.0, autojump=True)
    with ta.AsyncRunner(clock=clock, call_in_loop_timeout=10.0) as runner:

        async def stuck() -> float:
            try:
                await asyncio.wait_for(asyncio.Event().wait(), timeout=30)
            except TimeoutError:
                return clock.time()
            return -1.0

        assert runner.run(stuck()) == 130.0


def test_autojump_never_jumps_while_a_request_is_queued_or_being_handled() -> None:
    clock = ta.VirtualClock(autojump=True)
    held: list[ta.Future[float]] = []

    class HoldingServer(ta.Server):
        def _handle_request(
            self, request: ta.ExecutionRequest[float], future: ta.Future[float]
        ) -> None:
            held.append(future)  # answered later: the request is "being handled"

    async def client(stub: Stub) -> list[float]:
        sleeper = asyncio.create_task(asyncio.sleep(1000))  # a later timer to jump to
        await asyncio.sleep(5)
        first = await stub.now()
        second = await stub.now()
        await sleeper
        return [first, second]

    with HoldingServer(clock=clock) as server:
        server.event_loop_timeout = 10.0
        task = server.create_background_task(client(Stub(server)))
        server.runner.wait_until_idle()
        assert clock.time() == 5.0  # jumped to the client's timer, then stopped: queued
        assert [r.name for r in server.pending] == ["Stub.now"]
        assert server.process()
        server.runner.wait_until_idle()
        assert clock.time() == 5.0  # still frozen while the handler holds the future
        held[0].set_result(clock.time())
        server.runner.wait_until_idle()
        assert server.process()
        held[1].set_result(clock.time())
        assert task.wait(10) == [5.0, 5.0]  # nothing queued: free to jump to 1000 again
        assert clock.time() == 1000.0


def test_a_handler_reads_the_time_its_request_was_made_at() -> None:
    clock = ta.VirtualClock(autojump=True)
    seen: list[float] = []

    def now() -> float:
        seen.append(clock.time())
        return clock.time()

    async def client(stub: Stub, delay: float) -> float:
        await asyncio.sleep(delay)
        return await stub.now()

    async def clients(stub: Stub) -> list[float]:
        # Started together: with autojump, create_background_task() waits for idle, which
        # already jumps to the first client's timer.
        return await asyncio.gather(*(client(stub, d) for d in (3, 1, 2)))

    with ta.Server(handlers={Stub.now: now}, clock=clock) as server:
        server.event_loop_timeout = 10.0
        task = server.create_background_task(clients(Stub(server)))
        while not task.done():
            server.process()
        assert task.wait(0) == [3.0, 1.0, 2.0]
        assert seen == [1.0, 2.0, 3.0]


def test_advance_validates_its_argument(clock: ta.VirtualClock) -> None:
    with pytest.raises(ValueError, match="cannot advance"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="cannot advance"):
        clock.advance(float("nan"))
    with pytest.raises(TypeError, match="number"):
        clock.advance("1")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


def test_advance_before_the_runner_starts_just_moves_time(clock: ta.VirtualClock) -> None:
    clock.advance(7)
    assert clock.time() == 7.0
    with ta.AsyncRunner(clock=clock) as runner:
        assert runner.call_in_loop(lambda: asyncio.get_running_loop().time()) == 7.0


def test_advance_on_the_loop_thread_raises(clock: ta.VirtualClock, stepped: ta.AsyncRunner) -> None:
    with pytest.raises(RuntimeError, match="deadlock"):
        stepped.call_in_loop(lambda: clock.advance(1))


def test_a_virtual_clock_needs_the_default_loop() -> None:
    with pytest.raises(ValueError, match="default loop"):
        ta.AsyncRunner(clock=ta.VirtualClock(), loop_factory=asyncio.new_event_loop)


def test_runner_exit_cancels_tasks_sleeping_in_virtual_time(
    clock: ta.VirtualClock,
) -> None:
    with ta.AsyncRunner(clock=clock) as runner:
        task = runner.create_task(asyncio.sleep(10_000))
    with pytest.raises(asyncio.CancelledError):
        task.wait(0)


# -- exact time (SPEC §7) and timers at any magnitude --------------------------------------
def test_ten_advances_of_a_tenth_land_exactly_on_one(
    clock: ta.VirtualClock, stepped: ta.AsyncRunner
) -> None:
    for _ in range(10):
        clock.advance(0.1)
    assert clock.time() == 1.0
    assert clock.time_ns() == 1_000_000_000
    assert stepped.run(_loop_time()) == 1.0


async def _loop_time() -> float:
    return asyncio.get_running_loop().time()


@pytest.mark.parametrize("start_frame", range(6))
def test_a_sleep_of_two_frames_wakes_on_the_second_frame(
    clock: ta.VirtualClock, stepped: ta.AsyncRunner, start_frame: int
) -> None:
    """Whatever the frame it starts on, sleep(0.2) with 0.1 s frames takes two frames."""
    for _ in range(start_frame):
        clock.advance(0.1)
    woke: list[float] = []

    async def sleeper() -> None:
        await asyncio.sleep(0.2)
        woke.append(clock.time())

    task = stepped.create_task(sleeper())
    stepped.wait_until_idle()
    clock.advance(0.1)
    assert not task.done()
    clock.advance(0.1)
    assert task.done(), f"sleep(0.2) from frame {start_frame} did not wake on the 2nd frame"
    task.wait(10)
    assert woke == [round((start_frame + 2) * 0.1, 9)]


@pytest.mark.parametrize("start", [2.0**24, 2.0**24 + 0.5, 1_764_000_000.0, 2.0**40])
def test_timers_fire_at_any_magnitude(start: float) -> None:
    clock = ta.VirtualClock(start=start)
    with ta.AsyncRunner(clock=clock, call_in_loop_timeout=10.0) as runner:
        task = runner.create_task(_sleep_and_report(clock, 1.0))
        runner.wait_until_idle()
        clock.advance(0.5)
        assert not task.done()
        clock.advance(0.5)
        assert task.wait(10) >= start + 1.0 - clock.resolution


def test_autojump_past_two_to_the_24_seconds() -> None:
    clock = ta.VirtualClock(start=2.0**24 - 10, autojump=True)

    async def many_sleeps() -> float:
        for _ in range(100):
            await asyncio.sleep(1)
        return asyncio.get_running_loop().time()

    with ta.AsyncRunner(clock=clock, call_in_loop_timeout=10.0) as runner:
        assert runner.run(many_sleeps(), 10) == 2.0**24 + 90


def test_advance_to_an_absolute_time(clock: ta.VirtualClock, stepped: ta.AsyncRunner) -> None:
    task = stepped.create_task(_sleep_and_report(clock, 5))
    stepped.wait_until_idle()
    clock.advance_to(4.999999999)
    assert not task.done()
    clock.advance_to(5)
    assert task.wait(10) == 5.0
    with pytest.raises(ValueError, match="back"):
        clock.advance_to(4)
    with pytest.raises(ValueError, match="finite"):
        clock.advance_to(float("inf"))
    clock.advance_to(5)  # where it is already: a no-op
    assert clock.time() == 5.0


@pytest.mark.parametrize("inline", [False, True])
def test_advance_to_fires_what_is_due_within_the_resolution_before_it_returns(
    inline: bool,
) -> None:
    # A timer 0.8 ns after the target (1 ns in the clock's integer nanoseconds) is due
    # there by the loop's own rule (what is due within the clock's resolution fires): the
    # advance fires it, and its effects settle, before it returns, on a loop thread as
    # inline; not at some later wake-up of the loop, where it would race with what the
    # host does next (a seeded frame's late answer did, and inline differed).
    clock = ta.VirtualClock()
    with ta.AsyncRunner(clock=clock, inline=inline, call_in_loop_timeout=10.0) as runner:
        fired: list[float] = []

        async def setup() -> None:
            loop = asyncio.get_running_loop()
            loop.call_at(1.0000000008, lambda: fired.append(clock.time()))
            loop.call_at(1.000000002, lambda: fired.append(clock.time()))

        runner.run(setup(), 10)
        clock.advance_to(1.0)
        assert fired == [1.0]
        assert clock.time() == 1.0
        clock.advance_to(1.000000002)
        assert fired == [1.0, 1.000000002]


def test_an_advance_waits_while_time_is_held() -> None:
    # Real work takes no virtual time: a hold stops the host's advance as it stops an
    # autojump, until it is released.
    clock = ta.VirtualClock()
    with ta.AsyncRunner(clock=clock, call_in_loop_timeout=10.0):
        with clock.hold():
            with pytest.raises(ta.EventLoopTimeoutError):
                clock.advance(1, timeout=0.05)
            assert clock.time() == 0.0
        clock.advance(1, timeout=10)
        assert clock.time() == 1.0
