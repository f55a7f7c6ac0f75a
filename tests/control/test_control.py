"""control_inversion 1.4 API: Client.execute, Server.process, _handle_request, lifecycle."""

from __future__ import annotations

import asyncio
import inspect
import threading
import unittest.mock
from typing import Any

import pytest

from threaded_async import RunnerClosedError, UnknownRequestError
from threaded_async.control_inversion import Client, ExecutionRequest, Server
from threaded_async.threaded_async import Future


class Calc(Client):
    async def add(self, a: int, b: int) -> int:
        return await self.execute(Calc.add, a, b)

    async def fail(self) -> None:
        return await self.execute(Calc.fail)


class CalcServer(Server):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def _handle_request(self, request: ExecutionRequest[Any], future: Future[Any]) -> None:
        self.seen.append(request.fun.__name__)
        if request.fun == Calc.add:
            a, b = request.args
            future.set_result(a + b)
        elif request.fun == Calc.fail:
            future.set_exception(PermissionError("denied"))
        else:
            raise AssertionError(request)


def test_handle_request_hook_answers_the_client() -> None:
    with CalcServer() as server:
        calc = Calc(server)
        task = server.create_background_task(calc.add(2, 3))
        assert server.process() is True
        assert task.wait() == 5
        assert server.seen == ["add"]
        assert server.process() is False


def test_set_exception_in_the_hook_raises_in_the_client() -> None:
    with CalcServer() as server:
        task = server.create_background_task(Calc(server).fail())
        assert server.process()
        with pytest.raises(PermissionError, match="denied"):
            task.wait()


def test_create_background_task_returns_with_first_request_queued() -> None:
    with CalcServer() as server:
        server.create_background_task(Calc(server).add(1, 1))
        assert len(server.pending) == 1
        assert server.pending[0].args == (1, 1)


def test_oldest_request_is_answered_first() -> None:
    order: list[int] = []
    with CalcServer() as server:
        calc = Calc(server)

        async def ask(n: int) -> None:
            order.append(await calc.add(n, 0))

        for n in range(3):
            server.create_background_task(ask(n))
        assert [server.process() for _ in range(4)] == [True, True, True, False]
    assert order == [0, 1, 2]


def test_client_reaction_has_happened_when_process_returns() -> None:
    log: list[str] = []
    with CalcServer() as server:
        calc = Calc(server)

        async def client() -> None:
            total = 0
            for i in range(3):
                total = await calc.add(total, i)
                log.append(f"total={total}")

        server.create_background_task(client())
        server.process()
        assert log == ["total=0"]
        server.process()
        assert log == ["total=0", "total=1"]


def test_pending_requests_at_exit_cancel_their_clients() -> None:
    cancelled: list[int] = []
    with CalcServer() as server:
        calc = Calc(server)

        async def client(n: int) -> None:
            try:
                await calc.add(n, n)
            except asyncio.CancelledError:
                cancelled.append(n)
                raise

        tasks = [server.create_background_task(client(n)) for n in range(3)]
    assert sorted(cancelled) == [0, 1, 2]
    for task in tasks:
        with pytest.raises(asyncio.CancelledError):
            task.wait()


def test_process_on_a_server_that_is_not_running() -> None:
    server = CalcServer()
    with pytest.raises(RunnerClosedError, match="not been started"):
        server.process()
    with server:
        pass
    with pytest.raises(RunnerClosedError):
        server.process()


def test_process_from_the_loop_thread_is_an_error() -> None:
    with CalcServer() as server:

        async def misuse() -> str:
            try:
                server.process()
            except RuntimeError as exc:
                return str(exc)
            return "no error"

        message = server.create_background_task(misuse()).wait()
        assert "process" in message


def test_event_loop_timeout_is_the_default_for_process() -> None:
    server = CalcServer()
    assert server.event_loop_timeout is None
    server.event_loop_timeout = 5.0
    assert server.runner.call_in_loop_timeout == 5.0
    server.event_loop_exit_timeout = 0.25
    assert server.runner.exit_timeout == 0.25
    with server:
        assert server.process() is False


def test_queue_size_argument_is_accepted() -> None:
    with Server(queue_size=3) as server:
        assert server.process() is False


def test_plain_server_fails_unknown_requests_clearly() -> None:
    with Server() as server:
        task = server.create_background_task(server.create_client().execute(len, "abc"))
        assert server.process()
        with pytest.raises(UnknownRequestError, match="no handler for request"):
            task.wait()


def test_execute_queues_nothing_until_awaited_and_hands_a_real_execution_request() -> None:
    seen: list[ExecutionRequest[Any]] = []

    class Recording(Server):
        def _handle_request(self, request: ExecutionRequest[Any], future: Future[Any]) -> None:
            seen.append(request)
            future.set_result(request.args[0] + request.kw_args["b"])

    with Recording() as server:
        client = server.create_client()

        async def go() -> int:
            request = client.execute(Calc.add, 1, b=2)
            await asyncio.sleep(0)
            assert server.pending == []  # created, not awaited: nothing queued yet
            return await request

        task = server.create_background_task(go())
        assert server.process()
        assert task.wait(5) == 3
    (request,) = seen
    assert type(request) is ExecutionRequest
    assert request == ExecutionRequest(Calc.add, (1,), {"b": 2})
    assert repr(request) == repr(ExecutionRequest(Calc.add, (1,), {"b": 2}))
    with pytest.raises(AttributeError):
        request.args = ()  # type: ignore[misc]


def test_execute_is_a_coroutine_function_so_autospec_mocks_can_be_awaited() -> None:
    # 1.4's execute is `async def`; code checks iscoroutinefunction, and mocks made with
    # autospec are AsyncMocks only for coroutine functions.
    assert inspect.iscoroutinefunction(Client.execute)
    assert asyncio.iscoroutinefunction(Client.execute)  # pyright: ignore[reportDeprecated]
    mock = unittest.mock.create_autospec(Client, instance=True)
    mock.execute.return_value = 7

    async def use() -> Any:
        return await mock.execute(print, 1)

    assert asyncio.run(use()) == 7


def test_requests_use_an_overridden_create_future() -> None:
    class Tagged(Future[Any]):
        __slots__ = ()

    seen: list[type[Any]] = []

    class TaggingServer(Server):
        def create_future(self) -> Future[Any]:
            return Tagged(self.runner)

        def _handle_request(self, request: ExecutionRequest[Any], future: Future[Any]) -> None:
            seen.append(type(future))
            future.set_result(request.args[0] * 2)

    with TaggingServer() as server:
        client = server.create_client()
        task = server.create_background_task(client.execute(print, 21))
        assert server.process()
        assert task.wait(5) == 42
    assert seen == [Tagged]


def test_a_client_that_gave_up_does_not_make_process_raise() -> None:
    # The client gives up while the host's handler runs: the handler's answer then has
    # nobody to go to, and process() must not raise InvalidStateError for it. (It gives
    # up once the handler has started, not after a fixed time: on a loaded machine the
    # host may take the request late.)
    release = threading.Event()
    started = threading.Event()

    def slow(n: int) -> int:
        started.set()
        release.wait(5)
        return n

    class Stub(Client):
        async def slow(self, n: int) -> int:
            return await self.execute(Stub.slow, n)

    with Server(handlers={Stub.slow: slow}) as server:
        stub = Stub(server)
        outcome: list[str] = []

        async def impatient() -> None:
            request = asyncio.ensure_future(stub.slow(1))
            await asyncio.to_thread(started.wait, 5)  # the host runs the handler now
            request.cancel()
            try:
                await request
            except asyncio.CancelledError:
                outcome.append("gave up")

        task = server.create_background_task(impatient())
        results: list[object] = []

        def answer() -> None:
            try:
                results.append(server.process(5))
            except BaseException as exc:
                results.append(exc)

        answerer = threading.Thread(target=answer)
        answerer.start()
        task.wait(5)  # the client has given up; the handler is still blocked
        release.set()
        answerer.join(5)
        assert results == [True]
        assert outcome == ["gave up"]
