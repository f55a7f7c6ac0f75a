"""Handler dispatch: handlers dict and decorator, sync and async handlers, errors, overrides."""

from __future__ import annotations

import asyncio
import threading
from typing import TypeVar

import pytest

import threaded_async as ta


class Stub(ta.Client):
    async def increment(self, n: int) -> int:
        return await self.execute(Stub.increment, n)

    async def greet(self, name: str, *, punctuation: str = "!") -> str:
        return await self.execute(Stub.greet, name, punctuation=punctuation)

    async def unknown(self) -> None:
        await self.execute(Stub.unknown)


def _increment(n: int) -> int:
    return n + 1


T = TypeVar("T")


def _drive(server: ta.Server, task: ta.BackgroundTask[T]) -> T:
    while not task.done():
        server.process()
    return task.wait(0)


def test_handlers_dict_answers_requests_with_args_and_kwargs() -> None:
    def greet(name: str, *, punctuation: str) -> str:
        return f"hello {name}{punctuation}"

    async def client(stub: Stub) -> list[object]:
        return [await stub.increment(1), await stub.greet("ada", punctuation="?")]

    with ta.Server(handlers={Stub.increment: _increment, Stub.greet: greet}) as server:
        task = server.create_background_task(client(Stub(server)))
        assert _drive(server, task) == [2, "hello ada?"]


def test_handler_decorator_and_name_keys() -> None:
    def greet(name: str, punctuation: str) -> str:
        return f"hi {name}"

    server = ta.Server(handlers={"greet": greet})  # keyed by the method's name

    @server.handler(Stub.increment)
    def increment(n: int) -> int:
        return n * 100

    async def client(stub: Stub) -> list[object]:
        return [await stub.increment(3), await stub.greet("bob")]

    with server:
        task = server.create_background_task(client(Stub(server)))
        assert _drive(server, task) == [300, "hi bob"]
    assert increment(1) == 100  # the decorator returns the function unchanged


def test_async_handlers_run_on_the_host_thread_not_the_server_loop() -> None:
    seen: list[tuple[int, bool]] = []
    server_loop: list[asyncio.AbstractEventLoop] = []

    async def increment(n: int) -> int:
        await asyncio.sleep(0)
        running = asyncio.get_running_loop()
        seen.append((threading.get_ident(), running in server_loop))
        return n + 1

    async def client(stub: Stub) -> int:
        server_loop.append(asyncio.get_running_loop())
        return await stub.increment(1) + await stub.increment(10)

    with ta.Server(handlers={Stub.increment: increment}) as server:
        task = server.create_background_task(client(Stub(server)))
        assert _drive(server, task) == 13
    host = threading.get_ident()
    assert seen == [(host, False), (host, False)]


def test_a_handler_exception_reaches_the_client_as_that_exception() -> None:
    class OutOfFuel(Exception):
        pass

    def increment(n: int) -> int:
        raise OutOfFuel(f"cannot add to {n}")

    async def client(stub: Stub) -> str:
        try:
            await stub.increment(5)
        except OutOfFuel as exc:
            return f"client caught: {exc}"
        return "no error"

    with ta.Server(handlers={Stub.increment: increment}) as server:
        task = server.create_background_task(client(Stub(server)))
        assert server.process() is True  # the host is not disturbed by the error
        assert task.wait(10) == "client caught: cannot add to 5"


def test_an_unknown_request_fails_the_client_with_an_error_naming_the_function() -> None:
    async def client(stub: Stub) -> None:
        await stub.unknown()

    with ta.Server(handlers={Stub.increment: _increment}) as server:
        task = server.create_background_task(client(Stub(server)))
        assert server.process()
        with pytest.raises(ta.UnknownRequestError, match=r"Stub\.unknown") as info:
            task.wait(10)
    assert "Stub.increment" in str(info.value)  # and lists what is registered


def test_a_plain_server_without_handlers_rejects_requests_clearly() -> None:
    async def client(stub: Stub) -> int:
        return await stub.increment(1)

    with ta.Server() as server:
        task = server.create_background_task(client(Stub(server)))
        server.process()
        with pytest.raises(ta.UnknownRequestError, match="registered handlers: none"):
            task.wait(10)


def test_handle_request_overrides_keep_working() -> None:
    class MyServer(ta.Server):
        def _handle_request(
            self, request: ta.ExecutionRequest[int], future: ta.Future[int]
        ) -> None:
            if request.fun == Stub.increment:
                (number,) = request.args
                future.set_result(number + 1)
            else:
                raise AssertionError(f"Unknown function {request.fun}")

    printed: list[str] = []

    async def client_code(client: Stub) -> None:
        for i in range(10):
            printed.append(f"Client got: {await client.increment(i)}")

    with MyServer() as server:
        server.create_background_task(client_code(Stub(server)))
        for _ in range(3):
            server.process()
        assert printed == ["Client got: 1", "Client got: 2", "Client got: 3"]


def test_an_override_may_answer_later_from_another_thread() -> None:
    futures: list[ta.Future[int]] = []

    class LaterServer(ta.Server):
        def _handle_request(
            self, request: ta.ExecutionRequest[int], future: ta.Future[int]
        ) -> None:
            futures.append(future)

    async def client(stub: Stub) -> int:
        return await stub.increment(1)

    with LaterServer() as server:
        task = server.create_background_task(client(Stub(server)))
        assert server.process()
        assert not task.done()
        answering = threading.Thread(target=futures[0].set_result, args=(99,))
        answering.start()
        answering.join()
        assert task.wait(10) == 99


def test_process_all_answers_everything_queued_and_returns_the_count() -> None:
    async def client(stub: Stub, n: int) -> int:
        first = await stub.increment(n)
        return await stub.increment(first)

    async def clients(server: ta.Server) -> list[int]:
        return await asyncio.gather(*(client(Stub(server), n) for n in range(4)))

    with ta.Server(handlers={Stub.increment: _increment}) as server:
        task = server.create_background_task(clients(server))
        assert [r.args for r in server.pending] == [(0,), (1,), (2,), (3,)]
        assert server.process_all() == 4
        assert [r.args for r in server.pending] == [(1,), (2,), (3,), (4,)]
        assert server.process_all() == 4
        assert server.pending == []
        assert server.process_all() == 0
        assert task.wait(10) == [2, 3, 4, 5]


def test_pending_requests_are_cancelled_when_the_server_exits() -> None:
    async def client(stub: Stub) -> int:
        return await stub.increment(1)

    with ta.Server(handlers={Stub.increment: _increment}) as server:
        task = server.create_background_task(client(Stub(server)))
        assert len(server.pending) == 1
    with pytest.raises(asyncio.CancelledError):
        task.wait(0)


def test_process_on_the_loop_thread_raises() -> None:
    with ta.Server() as server, pytest.raises(RuntimeError, match="deadlock"):
        server.runner.call_in_loop(server.process)


def test_process_on_a_server_that_is_not_running_raises() -> None:
    server = ta.Server()
    with pytest.raises(ta.RunnerClosedError):
        server.process()
