"""Each guarantee threaded_async 1.4 code relies on (SPEC §1), pinned with 1.4 import paths."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from threaded_async import threaded_async as ta14
from threaded_async.control_inversion import Client, ExecutionRequest, Server
from threaded_async.threaded_async import (
    USE_DEFAULT_TIMEOUT,
    AsyncRunner,
    EventLoopTimeoutError,
    ForcedThreadShutdown,
    Future,
    ShutdownType,
    TAExceptionGroup,
)

# -- timeouts -----------------------------------------------------------------------------


def test_use_default_timeout_is_minus_one() -> None:
    assert USE_DEFAULT_TIMEOUT == -1.0


def test_event_loop_timeout_error_is_a_timeout_error() -> None:
    assert issubclass(EventLoopTimeoutError, TimeoutError)


def test_timeout_raises_and_task_keeps_running_then_wait_returns() -> None:
    release = threading.Event()
    with AsyncRunner() as runner:

        async def slow() -> str:
            await asyncio.to_thread(release.wait, 10)
            return "done"

        task = runner.create_task(slow())
        with pytest.raises(EventLoopTimeoutError):
            task.wait(0.01)
        assert not task.done()
        release.set()
        assert task.wait(None) == "done"


def test_use_default_timeout_means_call_in_loop_timeout() -> None:
    release = threading.Event()
    with AsyncRunner(call_in_loop_timeout=0.01) as runner:

        async def slow() -> int:
            await asyncio.to_thread(release.wait, 10)
            return 1

        # create_task would wait (up to call_in_loop_timeout) for the loop to create it
        task = runner.create_task(slow(), task_creation_timeout=None)
        with pytest.raises(EventLoopTimeoutError):
            task.wait()  # USE_DEFAULT_TIMEOUT -> 0.01 s
        with pytest.raises(EventLoopTimeoutError):
            task.wait(USE_DEFAULT_TIMEOUT)
        release.set()
        assert task.wait(None) == 1  # None waits forever (here: until released)


def test_none_timeout_waits_until_done() -> None:
    release = threading.Event()
    with AsyncRunner(call_in_loop_timeout=0.0) as runner:

        async def slow() -> int:
            await asyncio.to_thread(release.wait, 10)
            return 7

        task = runner.create_task(slow(), task_creation_timeout=None)
        threading.Timer(0.02, release.set).start()
        assert task.wait(None) == 7


def test_run_timeout_keeps_the_task_running() -> None:
    release = threading.Event()
    finished = threading.Event()
    with AsyncRunner() as runner:

        async def slow() -> None:
            await asyncio.to_thread(release.wait, 10)
            finished.set()

        with pytest.raises(EventLoopTimeoutError):
            runner.run(slow(), timeout=0.01)
        release.set()
        assert finished.wait(10)


# -- BackgroundTask.wait ------------------------------------------------------------------


def test_wait_can_be_called_repeatedly() -> None:
    with AsyncRunner() as runner:

        async def answer() -> int:
            return 42

        task = runner.create_task(answer())
        assert [task.wait(), task.wait(), task.wait(0)] == [42, 42, 42]
        assert task.done()


def test_wait_reraises_the_task_exception_every_time() -> None:
    with AsyncRunner() as runner:

        async def fail() -> None:
            raise KeyError("boom")

        task = runner.create_task(fail())
        for _ in range(2):
            with pytest.raises(KeyError, match="boom"):
                task.wait()
    # retrieved: not raised again at exit (no TAExceptionGroup above)


def test_cancelled_task_wait_raises_cancelled_error() -> None:
    with AsyncRunner() as runner:
        started = threading.Event()

        async def forever() -> None:
            started.set()
            await asyncio.Event().wait()

        task = runner.create_task(forever())
        assert started.wait(10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            task.wait()
        assert task.done()


# -- exit ---------------------------------------------------------------------------------


def test_exit_cancels_tasks_and_plain_asyncio_tasks_they_spawned() -> None:
    seen: list[str] = []
    spawned = threading.Event()
    with AsyncRunner() as runner:

        async def child() -> None:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                seen.append("child cancelled")
                raise

        async def parent() -> None:
            keep = asyncio.get_running_loop().create_task(child())
            try:
                await asyncio.sleep(0)
                spawned.set()
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                seen.append("parent cancelled")
                raise
            finally:
                del keep

        task = runner.create_task(parent())
        assert spawned.wait(10)
    assert sorted(seen) == ["child cancelled", "parent cancelled"]
    with pytest.raises(asyncio.CancelledError):
        task.wait()
    assert runner.shutdown_type == ShutdownType.STOPPED


def test_exit_lets_the_loop_catch_up_first() -> None:
    ran: list[int] = []
    with AsyncRunner() as runner:

        async def quick() -> None:
            ran.append(1)

        runner.create_task(quick())
    assert ran == [1]


def _failing_runner() -> AsyncRunner:
    runner = AsyncRunner()
    runner.start()

    async def fail(n: int) -> None:
        raise ValueError(f"task {n}")

    tasks = [runner.create_task(fail(n)) for n in range(2)]
    for t in tasks:
        while not t.done():  # done() is a cheap poll; wait() would retrieve the error
            runner.wait_for_next_eventloop_iteration()
    return runner


def test_unretrieved_exceptions_raised_at_exit_as_one_group() -> None:
    runner = _failing_runner()
    with pytest.raises(TAExceptionGroup) as info:
        runner.stop()
    group = info.value
    assert isinstance(group, ExceptionGroup)
    assert sorted(str(e) for e in group.exceptions) == ["task 0", "task 1"]
    assert len(group.tracebacks) == 2
    assert all("raise ValueError" in tb for tb in group.tracebacks)
    assert [d.exception for d in group.exception_details] == list(group.exceptions)
    assert ta14.ExceptionGroup is TAExceptionGroup


def test_unretrieved_exceptions_catchable_with_except_star() -> None:
    runner = _failing_runner()
    caught: list[str] = []
    try:
        runner.stop()
    except* ValueError as group:
        caught = sorted(str(e) for e in group.exceptions)
    assert caught == ["task 0", "task 1"]


def test_retrieved_exceptions_are_not_raised_at_exit() -> None:
    with AsyncRunner() as runner:

        async def fail() -> None:
            raise ValueError("seen")

        task = runner.create_task(fail())
        with pytest.raises(ValueError, match="seen"):
            task.wait()


def test_stuck_loop_is_force_stopped(caplog: pytest.LogCaptureFixture) -> None:
    stuck = threading.Event()
    runner = AsyncRunner(exit_timeout=0.05, log_forced_shutdown_stack_trace=False)
    with caplog.at_level(logging.DEBUG), runner:

        async def block_the_loop() -> None:
            stuck.set()
            while True:  # blocking code: never yields to the loop
                time.sleep(0.001)

        runner.create_task(block_the_loop())
        assert stuck.wait(10)
    assert runner.shutdown_type == ShutdownType.FORCE_STOPPED
    assert runner.shutdown_type.force_stop_attempted()
    assert not runner.is_running
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
    assert "ForcedThreadShutdown" not in caplog.text


def test_forced_stop_logs_the_stack_when_asked(caplog: pytest.LogCaptureFixture) -> None:
    stuck = threading.Event()
    runner = AsyncRunner(exit_timeout=0.05)
    with caplog.at_level(logging.WARNING), runner:

        async def spin_in_blocking_code() -> None:
            stuck.set()
            while True:
                time.sleep(0.001)

        runner.create_task(spin_in_blocking_code())
        assert stuck.wait(10)
    assert runner.shutdown_type == ShutdownType.FORCE_STOPPED
    assert "spin_in_blocking_code" in caplog.text


def test_forced_thread_shutdown_is_a_base_exception_not_an_exception() -> None:
    assert not issubclass(ForcedThreadShutdown, Exception)


def test_shutdown_type_values_and_force_stop_attempted() -> None:
    names = [t.name for t in ShutdownType]
    assert names == ["NOT_SHUT_DOWN", "STOPPED", "FORCE_STOPPED", "FAILED_FORCE_STOPPED", "UNKNOWN"]
    attempted = {t.name for t in ShutdownType if t.force_stop_attempted()}
    assert attempted == {"FORCE_STOPPED", "FAILED_FORCE_STOPPED"}


def test_shutdown_type_lifecycle() -> None:
    runner = AsyncRunner()
    assert runner.shutdown_type == ShutdownType.NOT_SHUT_DOWN
    with runner:
        assert runner.shutdown_type == ShutdownType.NOT_SHUT_DOWN
    assert runner.shutdown_type == ShutdownType.STOPPED


# -- runner calls -------------------------------------------------------------------------


def test_entering_returns_once_the_loop_runs() -> None:
    with AsyncRunner() as runner:
        assert runner.is_running
        assert not runner.in_runner_loop
    assert not runner.is_running


def test_call_in_loop_runs_on_loop_thread_and_inline_when_already_there() -> None:
    with AsyncRunner() as runner:
        main_thread = threading.get_ident()

        def where() -> tuple[int, bool]:
            return threading.get_ident(), runner.in_runner_loop

        ident, inside = runner.call_in_loop(where)
        assert ident != main_thread
        assert inside

        async def nested() -> tuple[int, int]:
            # inline: would deadlock if it were queued and waited for
            return threading.get_ident(), runner.call_in_loop(lambda: threading.get_ident())

        outer, inner = runner.run(nested())
        assert outer == inner == ident


def test_call_in_loop_reraises() -> None:
    with AsyncRunner() as runner:

        def fail() -> None:
            raise LookupError("nope")

        with pytest.raises(LookupError, match="nope"):
            runner.call_in_loop(fail)


def test_wait_for_next_eventloop_iteration_lets_ready_callbacks_run() -> None:
    with AsyncRunner() as runner:
        ran: list[int] = []
        runner.call_in_loop(lambda: asyncio.get_running_loop().call_soon(ran.append, 1))
        runner.wait_for_next_eventloop_iteration()
        assert ran == [1]


def test_create_task_with_task_creation_timeout() -> None:
    with AsyncRunner() as runner:

        async def double(x: int) -> int:
            return 2 * x

        task = runner.create_task(double(4), task_creation_timeout=5.0)
        assert task.wait(5.0) == 8
        task2 = runner.create_task(double(5), task_creation_timeout=None)
        assert task2.wait() == 10


def test_run_returns_the_result() -> None:
    with AsyncRunner() as runner:

        async def add(a: int, b: int) -> int:
            await asyncio.sleep(0)
            return a + b

        assert runner.run(add(1, 2)) == 3


def test_constructor_keeps_1_4_signature() -> None:
    runner = AsyncRunner(1.0, None, False, True)
    assert runner.exit_timeout == 1.0
    assert runner.call_in_loop_timeout is None
    runner2 = AsyncRunner(
        exit_timeout=0.5,
        call_in_loop_timeout=2.0,
        debug=True,
        log_forced_shutdown_stack_trace=False,
    )
    with runner2:
        assert runner2.run(_get_debug()) is True


async def _get_debug() -> bool:
    return asyncio.get_running_loop().get_debug()


# -- control inversion --------------------------------------------------------------------


class Stub(Client):
    async def increment(self, number: int) -> int:
        return await self.execute(Stub.increment, number)


class IncrementServer(Server):
    def __init__(self) -> None:
        super().__init__()
        self.handled: list[ExecutionRequest[int]] = []

    def _handle_request(self, request: ExecutionRequest[int], future: Future[int]) -> None:
        self.handled.append(request)
        assert request.fun == Stub.increment
        (number,) = request.args
        future.set_result(number + 1)


def test_process_returns_false_when_nothing_is_queued() -> None:
    with IncrementServer() as server:
        assert server.process() is False


def test_process_steps_one_request_at_a_time() -> None:
    got: list[int] = []
    with IncrementServer() as server:
        client = Stub(server)

        async def client_code() -> None:
            for i in range(10):
                got.append(await client.increment(i))

        server.create_background_task(client_code())
        for step in range(1, 4):
            assert server.process() is True
            # answer seen, and the next request (issued right after) is already queued
            assert got == list(range(1, step + 1))
        assert len(server.handled) == 3
        assert server.handled[0].args == (0,)
        assert server.handled[0].kw_args == {}


def test_request_issued_after_awaiting_is_seen_by_next_process() -> None:
    got: list[int] = []
    with IncrementServer() as server:
        client = Stub(server)

        async def client_code() -> None:
            for i in range(3):
                got.append(await client.increment(i))
                await asyncio.sleep(0)  # a few loop iterations between requests
                await asyncio.sleep(0)

        server.create_background_task(client_code())
        assert [server.process() for _ in range(4)] == [True, True, True, False]
        assert got == [1, 2, 3]


def test_pending_request_at_server_exit_cancels_client() -> None:
    outcome: list[str] = []
    issued = threading.Event()
    with IncrementServer() as server:
        client = Stub(server)

        async def client_code() -> None:
            try:
                issued.set()
                await client.increment(1)
            except asyncio.CancelledError:
                outcome.append("cancelled")
                raise

        task = server.create_background_task(client_code())
        assert issued.wait(10)
    assert outcome == ["cancelled"]
    with pytest.raises(asyncio.CancelledError):
        task.wait()


def test_execution_request_is_frozen() -> None:
    request = ExecutionRequest(fun=Stub.increment, args=(1,), kw_args={"x": 2})
    assert (request.fun, request.args, request.kw_args) == (Stub.increment, (1,), {"x": 2})
    with pytest.raises(AttributeError):
        request.args = ()  # type: ignore[misc]


def test_server_timeout_properties() -> None:
    server = Server()
    server.event_loop_timeout = 3.0
    server.event_loop_exit_timeout = 0.5
    assert server.event_loop_timeout == 3.0
    assert server.event_loop_exit_timeout == 0.5
    server.event_loop_timeout = None
    assert server.event_loop_timeout is None


def test_server_create_client_future_and_task() -> None:
    with IncrementServer() as server:
        client = server.create_client()
        assert isinstance(client, Client)
        future: Future[int] = server.create_future()
        future.set_result(5)
        assert future.result_wait() == 5

        async def go() -> int:
            return 9

        assert server.create_background_task(go()).wait() == 9


def test_execute_with_keyword_arguments() -> None:
    class KwServer(Server):
        def _handle_request(self, request: ExecutionRequest[str], future: Future[str]) -> None:
            future.set_result(f"{request.args}|{sorted(request.kw_args.items())}")

    async def call(client: Client) -> str:
        return await client.execute(str.format, 1, y=2)

    with KwServer() as server:
        task = server.create_background_task(call(server.create_client()))
        assert server.process()
        assert task.wait() == "(1,)|[('y', 2)]"


def test_loop_that_cannot_be_interrupted_is_failed_force_stopped() -> None:
    stuck = threading.Event()
    release = threading.Event()
    runner = AsyncRunner(exit_timeout=0.05, log_forced_shutdown_stack_trace=False)
    with runner:

        async def block_in_c_code() -> None:
            stuck.set()
            release.wait()  # a C-level lock wait: the async exception cannot land here

        runner.create_task(block_in_c_code())
        assert stuck.wait(10)
    assert runner.shutdown_type == ShutdownType.FAILED_FORCE_STOPPED
    assert runner.shutdown_type.force_stop_attempted()
    assert not runner.is_running
    release.set()  # the pending ForcedThreadShutdown now lands and the thread ends
    runner.wait_closed(10)
