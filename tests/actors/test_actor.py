"""Actors: one message at a time, replies from threads and loops, cadence, stop semantics."""

from __future__ import annotations

import asyncio
import threading
import traceback

import pytest

import threaded_async as ta


class Counter(ta.Actor):
    def __init__(self) -> None:
        super().__init__()
        self.value = 0
        self.stops = 0
        self.threads: set[int] = set()

    def add(self, n: int) -> int:
        self.threads.add(threading.get_ident())
        self.value += n
        return self.value

    async def slow_add(self, n: int) -> int:
        current = self.value
        await asyncio.sleep(0)
        self.value = current + n
        return self.value

    def nothing(self) -> None:
        return None

    def fail(self) -> int:
        raise ValueError("handler failed")

    async def on_stop(self) -> None:
        self.stops += 1


def test_call_wait_and_typed_call(runner: ta.AsyncRunner) -> None:
    actor = Counter().start(runner)
    reply = actor.call(actor.add, 2)
    assert reply.wait(10) == 2
    assert actor.call("add", 3).wait(10) == 5
    actor.stop()
    assert actor.stops == 1


def test_messages_run_one_at_a_time_on_the_loop_thread(runner: ta.AsyncRunner) -> None:
    actor = Counter().start(runner)
    replies: list[ta.Reply[int]] = []

    def sender() -> None:
        for _ in range(50):
            replies.append(actor.call(actor.slow_add, 1))

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(r.wait(10) for r in replies) == list(range(1, 201))
    actor.call(actor.add, 0).wait(10)
    assert actor.threads == {runner.call_in_loop(threading.get_ident)}
    actor.stop()


def test_failing_handler_does_not_kill_the_actor(runner: ta.AsyncRunner) -> None:
    actor = Counter().start(runner)
    with pytest.raises(ValueError, match="handler failed") as info:
        actor.call(actor.fail).wait(10)
    assert "def fail" in "".join(traceback.format_tb(info.value.__traceback__)) or any(
        frame.name == "fail" for frame in traceback.extract_tb(info.value.__traceback__)
    )
    assert actor.call(actor.add, 1).wait(10) == 1
    actor.stop()


def test_a_reply_of_none_is_a_reply(runner: ta.AsyncRunner) -> None:
    actor = Counter().start(runner)
    reply = actor.call(actor.nothing)
    assert reply.wait(10) is None
    assert reply.done()
    assert reply.exception() is None
    actor.stop()


def test_proxy_await_from_another_loop_and_callback(runner: ta.AsyncRunner) -> None:
    actor = Counter().start(runner)

    async def main() -> int:
        first: int = await actor.proxy.add(10)
        return first + await actor.call(actor.add, 1)

    assert asyncio.run(main()) == 21
    done = ta.Signal()
    seen: list[int] = []
    actor.call(actor.add, 1).then(lambda r: (seen.append(r.result()), done.go()))
    assert done.wait(10)
    assert seen == [12]
    with pytest.raises(AttributeError):
        _ = actor.proxy.no_such_method
    actor.stop()


def test_tell_failure_is_logged_and_actor_survives(
    runner: ta.AsyncRunner, caplog: pytest.LogCaptureFixture
) -> None:
    actor = Counter().start(runner)
    actor.tell(actor.fail)
    actor.tell("add", 5)
    assert actor.call(actor.add, 0).wait(10) == 5
    assert "handler failed" in caplog.text
    actor.stop()


def test_startup_failure_is_reraised_with_traceback(runner: ta.AsyncRunner) -> None:
    class Broken(Counter):
        async def on_start(self) -> None:
            raise ConnectionRefusedError("no database")

    actor = Broken()
    with pytest.raises(ConnectionRefusedError, match="no database") as info:
        actor.start(runner)
    assert any(f.name == "on_start" for f in traceback.extract_tb(info.value.__traceback__))
    assert actor.stopped.wait(10)
    assert actor.stops == 1
    with pytest.raises(ta.ActorStoppedError):
        actor.call(actor.add, 1)


def test_startup_failure_of_an_owned_runner_actor_stops_its_runner() -> None:
    class Broken(Counter):
        async def on_start(self) -> None:
            raise OSError("boom")

    with pytest.raises(OSError, match="boom"):
        Broken().start()


def test_messages_after_stop_are_refused_loudly(runner: ta.AsyncRunner) -> None:
    actor = Counter().start(runner)
    actor.stop()
    with pytest.raises(ta.ActorStoppedError):
        actor.call(actor.add, 1)
    with pytest.raises(ta.RunnerClosedError):
        actor.tell("add", 1)
    actor.stop()  # harmless
    assert actor.stops == 1


def test_not_started_actor_refuses_messages() -> None:
    with pytest.raises(ta.ActorStoppedError, match="start"):
        Counter().call("add", 1)


def test_pending_messages_fail_at_stop_never_stranded(runner: ta.AsyncRunner) -> None:
    gate = threading.Event()
    entered = threading.Event()

    class Blocker(Counter):
        def block(self) -> str:
            entered.set()
            gate.wait(10)
            return "unblocked"

    actor = Blocker().start(runner)
    running = actor.call(actor.block)
    assert entered.wait(10)
    queued = [actor.call(actor.add, 1) for _ in range(3)]
    actor.request_stop()
    gate.set()
    assert running.wait(10) == "unblocked"
    for reply in queued:
        with pytest.raises(ta.ActorStoppedError):
            reply.wait(10)
    assert actor.stopped.wait(10)
    assert actor.stops == 1
    assert actor.value == 0


def test_runner_exit_stops_actor_and_fails_waiters() -> None:
    with ta.AsyncRunner() as r:
        actor = Counter().start(r)
        assert actor.call(actor.add, 1).wait(10) == 1
    assert actor.stopped.is_set()
    assert actor.stops == 1
    with pytest.raises(ta.RunnerClosedError):
        actor.call(actor.add, 1)


def test_owned_runner_context_manager() -> None:
    with Counter() as actor:
        assert actor.call(actor.add, 4).wait(10) == 4
    assert actor.stopped
    assert actor.stops == 1
    with pytest.raises(RuntimeError, match="once"):
        actor.start()


def test_cadence_run_again_after_n_and_stop() -> None:
    class Ticker(ta.Actor):
        def __init__(self) -> None:
            super().__init__()
            self.loops = 0
            self.cleanups = 0

        async def on_tick(self) -> float | None:
            self.loops += 1
            if self.loops >= 5:
                return ta.Cadence.STOP
            return ta.Cadence.after(0.001) if self.loops % 2 else ta.Cadence.NOW

        async def on_stop(self) -> None:
            self.cleanups += 1

    ticker = Ticker().start()
    assert ticker.stopped.wait(10)
    ticker.stop()
    assert ticker.loops == 5
    assert ticker.cleanups == 1


def test_cadence_wait_ticks_after_each_message(runner: ta.AsyncRunner) -> None:
    class Poller(Counter):
        def __init__(self) -> None:
            super().__init__()
            self.ticks = 0

        async def on_tick(self) -> float | None:
            self.ticks += 1
            return ta.Cadence.WAIT

        def get_ticks(self) -> int:
            return self.ticks

    actor = Poller().start(runner)
    actor.call(actor.add, 1).wait(10)
    actor.call(actor.add, 1).wait(10)
    # once at start, then after each message handled before get_ticks
    assert actor.call(actor.get_ticks).wait(10) == 3
    actor.stop()


def test_release_lets_the_next_message_start(runner: ta.AsyncRunner) -> None:
    class Pipeline(ta.Actor):
        def __init__(self) -> None:
            super().__init__()
            self.log: list[str] = []
            self.second_started = asyncio.Event()

        async def first(self) -> str:
            self.log.append("first prepared")
            self.release()
            await self.second_started.wait()  # would deadlock without release()
            self.log.append("first done")
            return "first"

        async def second(self) -> str:
            self.log.append("second")
            self.second_started.set()
            return "second"

    actor = Pipeline().start(runner)
    r1, r2 = actor.call(actor.first), actor.call(actor.second)
    assert (r1.wait(10), r2.wait(10)) == ("first", "second")
    assert actor.log == ["first prepared", "second", "first done"]
    with pytest.raises(RuntimeError, match="inside an async handler"):
        actor.release()
    actor.stop()


def test_reply_wait_on_the_actor_loop_is_refused(runner: ta.AsyncRunner) -> None:
    actor = Counter().start(runner)

    def on_loop() -> None:
        actor.call(actor.add, 1).wait(1)

    with pytest.raises(RuntimeError, match="await reply"):
        runner.call_in_loop(on_loop)
    actor.stop()


def test_call_rejects_foreign_callables_and_private_names(runner: ta.AsyncRunner) -> None:
    actor = Counter().start(runner)
    with pytest.raises(TypeError):
        actor.call(print, 1)
    with pytest.raises(AttributeError):
        actor.call("_send")
    with pytest.raises(AttributeError):
        actor.call("stop")
    actor.stop()


def test_failing_on_tick_is_logged_and_actor_survives(
    runner: ta.AsyncRunner, caplog: pytest.LogCaptureFixture
) -> None:
    class Flaky(Counter):
        def __init__(self) -> None:
            super().__init__()
            self.ticks = 0

        async def on_tick(self) -> float | None:
            self.ticks += 1
            if self.ticks == 1:
                raise ValueError("tick failed")
            return ta.Cadence.WAIT

        def get_ticks(self) -> int:
            return self.ticks

    actor = Flaky().start(runner)
    assert actor.call(actor.add, 1).wait(10) == 1
    assert actor.call(actor.get_ticks).wait(10) == 2  # ticked again after the message
    assert "tick failed" in caplog.text
    actor.stop()


class Odd(ta.Actor):
    def generator_exit(self) -> None:
        raise GeneratorExit

    def custom(self) -> None:
        raise _CustomBase("custom")

    async def async_custom(self) -> None:
        await asyncio.sleep(0)
        raise _CustomBase("async custom")

    def fine(self) -> str:
        return "still serving"


class _CustomBase(BaseException):
    pass


@pytest.mark.parametrize(
    ("method", "expected"),
    [("generator_exit", GeneratorExit), ("custom", _CustomBase), ("async_custom", _CustomBase)],
)
def test_a_handler_raising_another_base_exception_answers_its_caller(
    runner: ta.AsyncRunner, method: str, expected: type[BaseException]
) -> None:
    actor = Odd().start(runner)
    with pytest.raises(expected):
        actor.call(method).wait(10)
    assert actor.call(actor.fine).wait(10) == "still serving"
    actor.stop()
