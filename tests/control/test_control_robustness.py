"""Server.process() never strands a request it took; clients on any loop are told when the
server is not running; async handlers on several host threads (issue 18)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

import threaded_async as ta


class Stub(ta.Client):
    async def act(self, n: int) -> int:
        return await self.execute(Stub.act, n)


class CustomBaseError(BaseException):
    pass


def _raising(exc: BaseException) -> Callable[[int], int]:
    def handler(n: int) -> int:
        raise exc

    return handler


def _async_raising(exc: BaseException) -> Callable[[int], object]:
    async def handler(n: int) -> int:
        raise exc

    return handler


@pytest.mark.parametrize(
    ("make_handler", "host_sees", "client_sees"),
    [
        (lambda: _raising(KeyboardInterrupt()), KeyboardInterrupt, asyncio.CancelledError),
        (lambda: _raising(SystemExit(3)), SystemExit, asyncio.CancelledError),
        (lambda: _raising(GeneratorExit()), GeneratorExit, GeneratorExit),
        (lambda: _raising(CustomBaseError()), CustomBaseError, CustomBaseError),
        (
            lambda: _async_raising(asyncio.CancelledError()),
            asyncio.CancelledError,
            asyncio.CancelledError,
        ),
    ],
    ids=["KeyboardInterrupt", "SystemExit", "GeneratorExit", "custom", "async CancelledError"],
)
def test_a_handler_raising_a_base_exception_answers_its_client(
    make_handler: Callable[[], Callable[..., object]],
    host_sees: type[BaseException],
    client_sees: type[BaseException],
) -> None:
    outcomes: list[object] = []

    async def agent(stub: Stub) -> None:
        try:
            await stub.act(1)
        except BaseException as exc:
            outcomes.append(type(exc))
        outcomes.append(await stub.act(2))

    calls = {"n": 0}
    bad = make_handler()

    def handler(n: int) -> object:
        calls["n"] += 1
        return bad(n) if n == 1 else n * 10

    with ta.Server(handlers={Stub.act: handler}) as server:
        server.event_loop_timeout = 10
        task = server.create_background_task(agent(Stub(server)))
        with pytest.raises(host_sees):
            server.process()
        while not task.done():  # the server stays usable
            server.process()
        task.wait(10)
    assert outcomes[0] is client_sees or issubclass(outcomes[0], client_sees)  # type: ignore[arg-type]
    assert outcomes[1] == 20


@pytest.mark.parametrize(
    ("exc", "client_sees"),
    [
        (KeyboardInterrupt(), asyncio.CancelledError),
        (GeneratorExit(), GeneratorExit),
        (CustomBaseError(), CustomBaseError),
    ],
    ids=["KeyboardInterrupt", "GeneratorExit", "custom"],
)
def test_process_all_answers_the_request_whose_handler_raised_a_base_exception(
    exc: BaseException, client_sees: type[BaseException]
) -> None:
    """process_all() answers what it computed up to the interrupt (the raising request
    included), leaves the rest queued for the next call, and lets the host see it."""
    outcomes: dict[int, object] = {}

    async def agent(stub: Stub, n: int) -> None:
        try:
            outcomes[n] = await stub.act(n)
        except BaseException as err:
            outcomes[n] = type(err)

    raised = {"done": False}

    def handler(n: int) -> int:
        if n == 1 and not raised["done"]:
            raised["done"] = True
            raise exc
        return n * 10

    async def agents(stubs: list[Stub]) -> None:
        async with asyncio.TaskGroup() as group:
            for n, stub in enumerate(stubs):
                group.create_task(agent(stub, n))

    with ta.Server(handlers={Stub.act: handler}) as server:
        server.event_loop_timeout = 10
        stubs = [Stub(server) for _ in range(3)]
        task = server.create_background_task(agents(stubs))
        server.runner.wait_until_idle(10)
        assert len(server.requests()) == 3
        with pytest.raises(type(exc)):
            server.process_all()
        assert len(server.requests()) == 1  # the third request waits for the next call
        assert server.process_all() == 1
        task.wait(10)
    assert outcomes[0] == 0
    assert outcomes[1] is client_sees
    assert outcomes[2] == 20


def test_a_request_for_an_unhashable_callable_fails_the_client_not_the_host() -> None:
    class Unhashable:
        __hash__ = None  # type: ignore[assignment]

        def __call__(self) -> None: ...

    async def agent(client: ta.Client) -> str:
        try:
            await client.execute(Unhashable())
        except ta.UnknownRequestError:
            return "unknown request"
        return "answered?"

    with ta.Server() as server:
        task = server.create_background_task(agent(server.create_client()))
        assert server.process()
        assert task.wait(10) == "unknown request"


def test_an_overridden_handle_request_that_raises_still_answers() -> None:
    class Host(ta.Server):
        def _handle_request(
            self, request: ta.ExecutionRequest[object], future: ta.Future[object]
        ) -> None:
            raise KeyboardInterrupt

    async def agent(stub: Stub) -> str:
        try:
            await stub.act(1)
        except asyncio.CancelledError:
            return "cancelled"
        return "answered?"

    with Host() as server:
        task = server.create_background_task(agent(Stub(server)))
        with pytest.raises(KeyboardInterrupt):
            server.process()
        assert task.wait(10) == "cancelled"


def test_async_handlers_on_several_host_threads() -> None:
    async def handler(n: int) -> int:
        await asyncio.sleep(0)
        return n + 1

    async def agent(stub: Stub, n: int) -> int:
        return await stub.act(n)

    with ta.Server(handlers={Stub.act: handler}) as server:
        server.event_loop_timeout = 10
        tasks = [server.create_background_task(agent(Stub(server), n)) for n in range(20)]
        errors: list[BaseException] = []
        start = threading.Barrier(4)

        def host() -> None:
            start.wait()
            try:
                while not all(t.done() for t in tasks):
                    server.process()
            except BaseException as exc:
                errors.append(exc)

        hosts = [threading.Thread(target=host) for _ in range(4)]
        for thread in hosts:
            thread.start()
        for thread in hosts:
            thread.join(30)
        assert errors == []
        assert sorted(t.wait(10) for t in tasks) == [n + 1 for n in range(20)]


def test_execute_on_another_loop_before_start_and_after_exit() -> None:
    server = ta.Server()
    client = Stub(server)

    async def call() -> int:
        return await asyncio.wait_for(client.act(1), 10)

    with pytest.raises(ta.RunnerClosedError, match="not been started"):
        asyncio.run(call())
    with server:
        pass
    with pytest.raises(ta.RunnerClosedError, match="closed"):
        asyncio.run(call())


def test_a_request_from_a_finally_block_during_exit_does_not_hold_the_exit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outcome: list[str] = []

    async def agent(stub: Stub) -> None:
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            try:
                await stub.act(1)
            except asyncio.CancelledError:
                outcome.append("cancelled")

    server = ta.Server()
    server.event_loop_exit_timeout = 30
    with server:
        server.create_background_task(agent(Stub(server)))
    assert outcome == ["cancelled"]
    assert "swallow" not in caplog.text
    assert server.runner.shutdown_type == ta.ShutdownType.STOPPED
