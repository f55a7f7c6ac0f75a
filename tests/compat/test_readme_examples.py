"""The three examples of threaded_async 1.4's README, verbatim, print what the README says."""

from __future__ import annotations

import asyncio
import contextlib
import io

import threaded_async
from threaded_async.control_inversion import ExecutionRequest
from threaded_async.threaded_async import Future


def _capture(fn: object) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        fn()  # type: ignore[operator]
    return out.getvalue()


def test_quick_start_task() -> None:
    async def foo() -> int:
        """Sleep and return a number."""
        await asyncio.sleep(0.1)
        return 10

    def example() -> None:
        with threaded_async.AsyncRunner() as runner:
            background_task = runner.create_task(foo())
            print(background_task.wait())

    assert _capture(example) == "10\n"


def test_queue_worker() -> None:
    async def increment_worker(
        in_queue: threaded_async.Queue[int], out_queue: threaded_async.Queue[int]
    ) -> None:
        while True:
            number = await in_queue.get()
            await out_queue.put(number + 1)

    def example() -> None:
        with threaded_async.AsyncRunner() as runner:
            in_queue = threaded_async.Queue[int](runner)
            out_queue = threaded_async.Queue[int](runner)
            background_task = runner.create_task(increment_worker(in_queue, out_queue))
            for i in range(10):
                in_queue.put_wait(i)
                print(out_queue.get_wait())
            background_task.cancel()

    assert _capture(example) == "".join(f"{i}\n" for i in range(1, 11))


class Stub(threaded_async.Client):
    """The interface between async coroutine and main thread."""

    async def increment(self, number: int) -> int:
        return await self.execute(Stub.increment, number)


async def client_code(client: Stub) -> None:
    for i in range(10):
        print(f"Client got: {await client.increment(i)}")


class MyServer(threaded_async.Server):
    """A server that processes increment requests."""

    def _handle_request(self, request: ExecutionRequest[int], future: Future[int]) -> None:
        if request.fun == Stub.increment:
            (number,) = request.args
            future.set_result(number + 1)
        else:
            raise AssertionError(f"Unknown function {request.fun}")


def test_control_inversion_three_steps() -> None:
    def example() -> None:
        server = MyServer()
        with server:
            client = Stub(server)
            server.create_background_task(client_code(client))
            for _ in range(3):
                print("Processing new client requests")
                server.process()

    expected = "".join(f"Processing new client requests\nClient got: {i}\n" for i in range(1, 4))
    for _ in range(20):  # deterministic, not lucky
        assert _capture(example) == expected
